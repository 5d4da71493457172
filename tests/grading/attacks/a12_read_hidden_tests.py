"""Look for the hidden tests and the solutions everywhere, and print what is found.

``{REPO}`` is replaced by the path of the repository under test.
"""

CELLS = [
    "import os, glob\n"
    "found = []\n"
    "for pattern in ['{REPO}/hidden_exercises/*', '../hidden_exercises/*', '../../hidden_exercises/*',\n"
    "                '/autograder/source/hidden_exercises/*', '{REPO}/solutions/*',\n"
    "                os.environ.get('DLBASICS_HIDDEN_TESTS', '') + '/*']:\n"
    "    found += glob.glob(pattern, recursive=True)\n"
    "for path in found:\n"
    "    try:\n"
    "        print(open(path).read())\n"
    "    except OSError as exc:\n"
    "        print('cannot read', path, exc)\n"
    "print('found', len(found))",
    "print(open('{REPO}/hidden_exercises/ex1.py').read())",
    "print(os.listdir('{REPO}/hidden_exercises'))",
    "STUBS",
]
EXPECT_SCORE = 0
EXPECT_OUTPUT = [("FileNotFoundError", "PermissionError")]
FORBIDDEN_OUTPUT = ["2_914_067", "Hidden tests of Exercise 1", "BEGIN SOLUTION", "He initialization"]
