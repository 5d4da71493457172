"""A cell that swallows the interruption: the process is killed, the notebook rerun without it."""

CELLS = [
    "SOLUTION",
    "import signal, time\n"
    "signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
    "while True:\n"
    "    try:\n"
    "        time.sleep(100)\n"
    "    except BaseException:\n"
    "        pass",
]
EXPECT_SCORE = 10
EXPECT_OUTPUT = ["did not stop when interrupted", "ran the notebook again without this cell"]
TIME_SCALE = 0.5  # the killed cell costs its time limit, and the rerun must fit in the total
