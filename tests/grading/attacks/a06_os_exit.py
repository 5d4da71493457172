"""os._exit in the middle of the notebook."""

CELLS = ["SOLUTION", "import os\nos._exit(0)"]
EXPECT_SCORE = 10
EXPECT_OUTPUT = ["exited with code 0", "ran the notebook again without this cell"]
