"""predict returns 200 MB worth of numbers: refused, other parts unaffected."""

from . import patched

cells = patched(("    return self.forward(X).argmax(axis=1)", "    return np.zeros((5000, 5000))"))

EXPECT_SCORE = 8
EXPECT_STATUS = {"ex1.train": "error"}
EXPECT_OUTPUT = ["larger than the grader accepts"]
