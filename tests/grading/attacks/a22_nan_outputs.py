"""forward and backward return NaN."""

from . import patched

cells = patched(("    self._cache = (inputs, pre_activations)\n    return a",
                 "    self._cache = (inputs, pre_activations)\n    return a * np.nan"))

EXPECT_SCORE = 2.5  # init (2) and the shuffling half point of train: NaN changes neither
EXPECT_STATUS = {"ex1.forward": "failed", "ex1.backward": "failed", "ex1.train": "failed"}
EXPECT_OUTPUT = ["NaN"]
