"""forward and gradients return NaN."""

from . import patched

cells = patched(("    self._cache = (inputs, pre_activations)\n    return a",
                 "    self._cache = (inputs, pre_activations)\n    return a * np.nan"))

EXPECT_SCORE = 4.0  # init (2) and train (2): train runs with the grader's forward and gradients,
# so the NaN costs ex1.forward and ex1.backward only (one mistake costs once)
EXPECT_STATUS = {"ex1.forward": "failed", "ex1.backward": "failed", "ex1.train": "passed"}
EXPECT_OUTPUT = ["NaN"]
