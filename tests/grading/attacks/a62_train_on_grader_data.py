"""Look through the sandbox's memory for the grader's data and train on what is found.

A cell walks ``gc.get_objects()`` and every probe input the runner holds (found through the
garbage collector) for NumPy arrays of points, and announces any array of the held-out
set's size (300 spirals). The held-out spirals never enter the sandbox (the grader predicts
them itself from the trained weights), so there is nothing to find: the learner's own
correct solution earns its 10 points and not one more, and the marker never appears.
"""

CELLS = ["SOLUTION", '''
import gc

import numpy as np

_found = []
for _obj in gc.get_objects():
    _values = []
    if isinstance(_obj, dict):
        _values = list(_obj.values())
    elif hasattr(_obj, "probes") and hasattr(_obj, "cells"):
        _values = [p.inputs for p in _obj.probes]
    for _v in _values:
        if isinstance(_v, np.ndarray) and _v.ndim == 2 and _v.shape[1] == 2:
            _found.append(_v.shape)
        elif isinstance(_v, dict) and "__ndarray__" in str(_v)[:200]:
            _found.append("encoded")
if any(shape == (300, 2) for shape in _found):
    print("HELD-OUT FOUND IN THE SANDBOX")
print(f"arrays of points found: {len(_found)}")
''']
EXPECT_SCORE = 10
FORBIDDEN_OUTPUT = ["HELD-OUT FOUND IN THE SANDBOX"]
