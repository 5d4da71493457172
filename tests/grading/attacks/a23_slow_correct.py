"""A correct but very slow solution: training runs out of time, the rest is graded."""

from . import patched

cells = patched(("            total += loss * len(idx)",
                 "            total += loss * len(idx)\n            time.sleep(0.05)"),
                prefix=("import time",))

EXPECT_SCORE = 8
EXPECT_STATUS = {"ex1.train": "timeout"}
EXPECT_OUTPUT = ["the call ran longer than"]
