"""A correct but very slow solution: training runs out of time, the rest is graded."""


def cells(solution_cells):
    out = ["import time"]
    for src in solution_cells:
        src = src.replace("            total += loss * len(idx)",
                          "            total += loss * len(idx)\n"
                          "            time.sleep(0.05)")
        out.append(src)
    return out


EXPECT_SCORE = 8
EXPECT_STATUS = {"ex1.train": "timeout"}
EXPECT_OUTPUT = ["the call ran longer than"]
