"""Print 100 MB: the grader keeps a few kB and throws the rest away."""

CELLS = [
    "import sys\nchunk = 'x' * 2**20 + '\\n'\nfor _ in range(100):\n    sys.stdout.write(chunk)",
    "import os\nfor _ in range(20):\n    os.write(2, b'y' * 2**20)",
    "SOLUTION",
]
EXPECT_SCORE = 10
MAX_KEPT_OUTPUT = 200_000
