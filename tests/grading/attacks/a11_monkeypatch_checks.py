"""Override the public checks and the grader's helpers, then submit the stubs."""

CELLS = [
    "def check(*args, **kwargs):\n    return True",
    "import dlbasics_grader.spec as spec\n"
    "spec.compare_arrays = lambda *a, **k: None\n"
    "import dlbasics.checks as checks\n"
    "checks.check = check",
    "STUBS",
    "check('ex1.forward', CompleteNeuralNetwork)",
]
EXPECT_SCORE = 0
# the grader's own package is not importable (masked, or refused by Landlock)
EXPECT_OUTPUT = [("No module named 'dlbasics_grader'", "Permission denied"), "NotImplementedError"]
