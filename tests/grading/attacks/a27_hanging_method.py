"""forward hangs and ignores interruptions: each call is killed, later calls still run."""


def cells(solution_cells):
    out = ["import time"]
    for src in solution_cells:
        src = src.replace(
            '    a = np.asarray(X, dtype=float)\n',
            '    if len(X) == 11:\n'
            '        while True:\n'
            '            try:\n'
            '                time.sleep(100)\n'
            '            except BaseException:\n'
            '                pass\n'
            '    a = np.asarray(X, dtype=float)\n')
        out.append(src)
    return out


TIME_SCALE = 0.5  # two killed calls cost their time limit plus a fixed grace each
EXPECT_SCORE = 4
EXPECT_STATUS = {"ex1.forward": "timeout", "ex1.backward": "timeout"}
EXPECT_OUTPUT = ["did not stop when interrupted"]
