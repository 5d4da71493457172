"""raise SystemExit inside a class body."""

CELLS = ["class Sneaky:\n    raise SystemExit(0)", "SOLUTION"]
EXPECT_SCORE = 10
EXPECT_OUTPUT = ["SystemExit"]
