"""A forbidden module imported by a computed name inside forward."""

from . import patched

cells = patched(('    a = np.asarray(X, dtype=float)\n',
                 '    np_ = __import__("to" + "rch")\n    a = np.asarray(X, dtype=float)\n'))

EXPECT_SCORE = 2
EXPECT_STATUS = {"ex1.forward": "failed", "ex1.backward": "failed", "ex1.train": "failed"}
EXPECT_OUTPUT = ["__import__ imports modules the grader cannot see"]
