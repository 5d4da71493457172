"""forward and backward return NaN."""


def cells(solution_cells):
    out = []
    for src in solution_cells:
        src = src.replace("    self._cache = (inputs, pre_activations)\n    return a",
                          "    self._cache = (inputs, pre_activations)\n    return a * np.nan")
        out.append(src)
    return out


EXPECT_SCORE = 2.5  # init (2) and the shuffling half point of train: NaN changes neither
EXPECT_STATUS = {"ex1.forward": "failed", "ex1.backward": "failed", "ex1.train": "failed"}
EXPECT_OUTPUT = ["NaN"]
