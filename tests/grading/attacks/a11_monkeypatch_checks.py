"""Override the public checks and the grader's helpers, then submit the stubs."""

CELLS = [
    "def check(*args, **kwargs):\n    return True",
    "import dlbasics.grading.spec as spec\n"
    "spec.compare_arrays = lambda *a, **k: None\n"
    "import dlbasics.grading.checks as checks\n"
    "checks.check = check",
    "STUBS",
    "check('ex1.forward', CompleteNeuralNetwork)",
]
EXPECT_SCORE = 0
EXPECT_OUTPUT = ["import dlbasics.grading.spec as spec (Exercise 1 is written from scratch",
                 "NotImplementedError"]
