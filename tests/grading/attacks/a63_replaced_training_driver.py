"""Replace the training-run driver of the public checks before the probes run.

The grader's training probe is :func:`dlbasics.checks.ex1.sgd_probe`; a cell installs, in
``sys.modules``, a ``dlbasics.checks.ex1`` (and ``dlbasics.checks``) whose ``sgd_probe`` and
``sgd_problems`` report a perfectly shuffled run and no broken rule, on top of a solution
that never shuffles. The grader sends the driver's own source into the sandbox and judges
the rules in its own process, so nothing the cell installs is used: the unshuffled training
still costs its half point.
"""

from . import patched

REPLACE = '''
import sys
import types

def _sgd_probe(ns, inputs):
    return {"passed": True}

def _sgd_problems(outputs, inputs):
    return {"sgd": [], "order": [], "losses": []}

for _name in ("dlbasics", "dlbasics.checks", "dlbasics.checks.ex1"):
    _mod = types.ModuleType(_name)
    _mod.sgd_probe, _mod.sgd_problems = _sgd_probe, _sgd_problems
    sys.modules[_name] = _mod
'''

cells = patched(("order = self.rng.permutation(n)", "order = np.arange(n)"), prefix=(REPLACE,))
EXPECT_SCORE = 9.5
EXPECT_STATUS = {"ex1.train": "failed"}
EXPECT_OUTPUT = ["the order of the samples should be new in every epoch"]
