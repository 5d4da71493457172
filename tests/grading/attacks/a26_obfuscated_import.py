"""A forbidden module imported by a computed name inside forward."""


def cells(solution_cells):
    out = []
    for src in solution_cells:
        src = src.replace('    a = np.asarray(X, dtype=float)\n',
                          '    np_ = __import__("to" + "rch")\n    a = np.asarray(X, dtype=float)\n')
        out.append(src)
    return out


EXPECT_SCORE = 2
EXPECT_STATUS = {"ex1.forward": "failed", "ex1.backward": "failed", "ex1.train": "failed"}
EXPECT_OUTPUT = ["__import__ imports modules the grader cannot see"]
