"""A truncated .ipynb file."""

from . import every_part

RAW = b'{"cells": [{"cell_type": "code", "source": ["import numpy as np\\n"'
EXPECT_SCORE = 0
EXPECT_STATUS = every_part("error")
EXPECT_OUTPUT = ["not valid notebook JSON", "line 1"]
