"""Allocating far more memory than allowed."""

CELLS = [
    "SOLUTION",
    "import numpy as np\nhuge = np.ones((100_000, 100_000))",
    "blocks = []\nwhile True:\n    blocks.append(bytearray(50 * 2**20))",
]
EXPECT_SCORE = 10
EXPECT_OUTPUT = ["out of memory", "MemoryError"]
