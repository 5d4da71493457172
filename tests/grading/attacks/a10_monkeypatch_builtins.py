"""Replace builtins the grader might use; the solution must still be graded right."""

CELLS = [
    "import builtins\n"
    "builtins.len = lambda *a: 0\n"
    "builtins.isinstance = lambda *a: True\n"
    "builtins.abs = lambda x: 0\n"
    "builtins.float = lambda *a: 0.0\n"
    "builtins.print = lambda *a, **k: None",
    "SOLUTION",
]
EXPECT_SCORE = 10
