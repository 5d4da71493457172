"""A truncated .ipynb file."""

RAW = b'{"cells": [{"cell_type": "code", "source": ["import numpy as np\\n"'
EXPECT_SCORE = 0
EXPECT_STATUS = {"ex1.init": "error", "ex1.forward": "error", "ex1.backward": "error",
                 "ex1.train": "error"}
EXPECT_OUTPUT = ["not valid notebook JSON", "line 1"]
