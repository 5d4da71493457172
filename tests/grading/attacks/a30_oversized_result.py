"""predict returns 200 MB worth of numbers: refused, other parts unaffected."""


def cells(solution_cells):
    out = []
    for src in solution_cells:
        src = src.replace("    return self.forward(X).argmax(axis=1)",
                          "    return np.zeros((5000, 5000))")
        out.append(src)
    return out


EXPECT_SCORE = 8
EXPECT_STATUS = {"ex1.train": "error"}
EXPECT_OUTPUT = ["larger than the grader accepts"]
