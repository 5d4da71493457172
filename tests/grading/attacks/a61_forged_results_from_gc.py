"""Forge every probe's result with the runner's channel, found through the garbage collector.

As ``a60``, but the runner is found among ``gc.get_objects()`` (the object with the channel
and the job), the way code that never sees the runner's frame reaches it. The grade is the
same: a forged result is data the grader judges, never a verdict it accepts.
"""

from . import every_part
from .a60_forged_results_from_frames import EXPECT_OUTPUT, FORBIDDEN_OUTPUT, FORGE

FIND_RUNNER = '''
def _find_runner():
    import gc
    for obj in gc.get_objects():
        if type(obj).__name__ == "Runner" and hasattr(obj, "chan"):
            return obj
    return None
'''

CELLS = ["STUBS", FIND_RUNNER + FORGE]
EXPECT_SCORE = 0
EXPECT_STATUS = every_part("failed")
__all__ = ["CELLS", "EXPECT_OUTPUT", "EXPECT_SCORE", "EXPECT_STATUS", "FORBIDDEN_OUTPUT"]
