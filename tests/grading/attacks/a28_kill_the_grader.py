"""Signal the grader's process and every process the sandbox user may signal."""

CELLS = [
    "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
    "import os, signal\nos.kill(1, signal.SIGKILL)",
    "SOLUTION",
    "import os, signal\nos.kill(-1, signal.SIGKILL)",
]
EXPECT_SCORE = 10
EXPECT_OUTPUT = ["Operation not permitted"]
