"""gradients, train and predict were deleted: init and forward still earn their points."""


def cells(solution_cells):
    keep = []
    for src in solution_cells:
        if "def gradients(" in src or "def train(" in src:
            continue
        keep.append(src)
    return keep


EXPECT_SCORE = 5
EXPECT_STATUS = {"ex1.backward": "error", "ex1.train": "error"}
EXPECT_OUTPUT = ["'CompleteNeuralNetwork' object has no attribute 'gradients'"]
