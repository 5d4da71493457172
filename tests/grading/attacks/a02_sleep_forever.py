"""A cell that sleeps forever."""

CELLS = ["import time\ntime.sleep(10**6)", "SOLUTION"]
EXPECT_SCORE = 10
EXPECT_OUTPUT = ["ran longer than"]
