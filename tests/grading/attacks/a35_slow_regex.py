"""Cells of thousands of leading spaces (a regular expression in the reader backtracked on
them for minutes) and IPython lines: read in linear time."""

CELLS = [
    (" " * 5000 + "a b\n") * 40 + "x = !ls\n" + " " * 8000 + "=" + " " * 8000 + "%\n",
    "SOLUTION",
]
EXPECT_SCORE = 10
MAX_SECONDS = 30


def after(report):
    assert report.execution_time < MAX_SECONDS, report.execution_time
