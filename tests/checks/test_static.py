"""The static scan (``dlbasics.checks.static``) the public checks and the grader share: which
forbidden uses each part's code reaches, and how a violation is described."""

from __future__ import annotations

import pytest

from dlbasics.checks.static import ImportRules, StaticReport, Violation, scan

POLICY = ImportRules(forbidden_modules=("torch", "dlbasics"), allowed_modules=("numpy", "math"),
                     dynamic_code_is_violation=True, reason="from scratch")

SOURCE = '''
import numpy as np
import torch as T
from dlbasics import MLP
import socket
s = socket.socket()

def add_to_class(cls):
    def attach(f):
        setattr(cls, f.__name__, f)
        return f
    return attach

class Net:
    def __init__(self, n):
        self.w = np.zeros(n)
    def forward(self, X):
        s = X.sum()          # a local 's', not the socket
        return helper(X) + s

def helper(x):
    return T.relu(x)

@add_to_class(Net)
def backward(self, X, y):
    return self.forward(X)

@add_to_class(Net)
def train(self, X):
    return eval("1")

Net.predict = lambda self, X: MLP
Alias = MLP
class Child(Net):
    pass
'''


@pytest.fixture(scope="module")
def report() -> StaticReport:
    return scan([(3, SOURCE)], POLICY)


@pytest.mark.parametrize(("qualname", "expected"), [
    ("Net.__init__", set()),
    ("Net.forward", {"import torch as T"}),
    ("Net.backward", {"import torch as T"}),
    ("Net.train", {'return eval("1")'}),
    ("Net.predict", {"from dlbasics import MLP"}),
    ("Alias.forward", {"from dlbasics import MLP"}),
    ("Child.forward", {"import torch as T"}),
])
def test_reached_violations_follow_the_code_each_part_runs(report, qualname, expected):
    assert {v.what for v in report.reached_violations(qualname)} == expected


def test_every_violation_is_recorded_with_its_cell_and_reason(report):
    whats = {v.what: v for v in report.violations}
    assert whats["import torch as T"].reason == "from scratch"
    assert whats["import torch as T"].cell == 3
    assert "socket is not on this exercise's list" in whats["import socket"].reason
    assert whats["import torch as T"].describe().startswith("cell 4, line 3:")


def test_syntax_errors_are_reported_not_raised():
    rep = scan([(0, "def f(:\n  pass"), (1, "x = 1")], POLICY)
    assert rep.syntax_errors and rep.syntax_errors[0][0] == 0
    assert "x" in rep.names


def test_a_long_forbidden_line_is_cut_at_a_word():
    from dlbasics.checks.ex1 import IMPORT_RULES

    code = "from dlbasics import softmax_cross_entropy, softmax_cross_entropy_grad, relu, MLP"
    (v,) = scan([(0, code)], IMPORT_RULES, where={0: 'cell [3] "from dlbasics import…"'}
                ).violations[:1]
    assert v.what.endswith("…") and len(v.what) <= 80
    assert v.what[:-1] == code[:len(v.what) - 1].rstrip() and code[len(v.what) - 1] in " ,"


def test_violation_description_counts_cells_from_one():
    v = Violation(cell=0, line=2, what="import torch", reason="no")
    assert v.describe() == "cell 1, line 2: import torch (no)"


# --------------------------------------------------------------------------
# forbidden names inside an allowed module (Exercise 4: PyTorch's own attention)
# --------------------------------------------------------------------------

NAMES = ImportRules(forbidden_names=("torch.nn.MultiheadAttention",
                                     "torch.nn.functional.scaled_dot_product_attention"),
                    reason="attention is written by hand")

NAMES_SOURCE = [
    (0, "import torch\nfrom torch import nn\nimport torch.nn.functional as F\n"
        "from torch.nn import MultiheadAttention as MHA"),
    (1, "class Attn(nn.Module):\n"
        "    def forward(self, x):\n"
        "        return F.scaled_dot_product_attention(x, x, x)\n"
        "    def local(self, F):\n"
        "        return F.scaled_dot_product_attention\n"
        "    def linear(self, x):\n"
        "        return nn.Linear(2, 2)(x)\n"),
    (2, "def full_path():\n    return torch.nn.MultiheadAttention.forward\n"),
]


@pytest.fixture(scope="module")
def names_report() -> StaticReport:
    return scan(NAMES_SOURCE, NAMES)


@pytest.mark.parametrize("qualname, expected", [
    ("Attn.forward", ["return F.scaled_dot_product_attention(x, x, x)"]),
    ("Attn.local", []),  # F is the method's argument there, not the module
    ("Attn.linear", []),  # an allowed name of the same module
    ("full_path", ["return torch.nn.MultiheadAttention.forward"]),  # once, not per attribute
    ("MHA", ["from torch.nn import MultiheadAttention as MHA"]),
])
def test_forbidden_names_are_found_however_the_module_was_imported(names_report, qualname,
                                                                   expected):
    assert [v.what for v in names_report.reached_violations(qualname)] == expected


def test_a_forbidden_name_violation_gives_the_reason(names_report):
    assert {v.reason for v in names_report.violations} == {"attention is written by hand"}
    assert len(names_report.violations) == 3
