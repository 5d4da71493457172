"""Expressions nested too deeply for the parser (RecursionError / MemoryError in ast.parse)."""

CELLS = [
    "x = " + "-" * 100_000 + "1",
    "y = " + "[" * 3000 + "]" * 3000,
    "z = " + "(" * 1000 + "1" + ")" * 1000,
    "SOLUTION",
]
EXPECT_SCORE = 10
EXPECT_OUTPUT = ["nested too deeply"]
