"""A cell that loops forever: it is interrupted, the rest of the notebook is graded."""

CELLS = ["SOLUTION", "while True:\n    pass"]
EXPECT_SCORE = 10
EXPECT_OUTPUT = ["ran longer than"]
