"""sys.exit() in a cell, as in a script."""

CELLS = ["import sys\nsys.exit('done')", "SOLUTION"]
EXPECT_SCORE = 10
EXPECT_OUTPUT = ["SystemExit"]
