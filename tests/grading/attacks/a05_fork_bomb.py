"""A fork bomb, and a subprocess: Exercise 1 may not start processes."""

CELLS = [
    "import os\nwhile True:\n    os.fork()",
    "import subprocess\nsubprocess.run(['sh', '-c', ':(){ :|:& };:'])",
    "import multiprocessing\nmultiprocessing.Process(target=print).start()",
    "SOLUTION",
]
EXPECT_SCORE = 10
EXPECT_OUTPUT = ["starting processes (os.fork) is disabled while grading"]
