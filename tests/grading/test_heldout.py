"""Held-out accuracy from the exported graph, evaluated where no learner code runs.

The trained model leaves the learner's process as a TorchScript graph
(:func:`dlbasics.checks._export.export_graph`); :func:`dlbasics_grader.heldout.graph_outputs`
runs it on the held-out data in a sandbox of its own. Whatever ``predict`` does (a
nearest-neighbour search in the public digits, a private model trained in ``train_model``)
changes nothing there: the accuracy is the given model's. A table of answers baked into the
graph as constants, or a classifier whose answers do not come from its parameters (they stay
right when the parameters are shuffled), earns no accuracy points. The feedback names the band
reached, never the accuracy.
"""

from __future__ import annotations

import ast

import numpy as np
import pytest
import torch
from torch import nn

from dlbasics.checks import run
from dlbasics.checks._export import export_graph, export_problem
from dlbasics_grader.engine import grade, load_exercise
from dlbasics_grader.heldout import MAX_CONSTANT_ELEMENTS, graph_outputs, graph_problem, tier
from dlbasics_grader.spec import ProbeResult

from ..helpers import HIDDEN, SOLUTIONS, definition_cells, write_notebook
from .attacks import (
    ex2_knn_predict,
    ex2_replaced_export,
    ex2_self_recognising_forward,
    ex2_unused_layers,
    ex3_private_model_predict,
)

NOTEBOOKS = {"ex2": "ex2_cnn.ipynb", "ex3": "ex3_lstm_attention.ipynb"}
ATTACKS = {"ex2": ex2_knn_predict, "ex3": ex3_private_model_predict}


def namespace(name: str, attack: bool) -> dict:
    """The solution's imports and definitions run in this process (no demonstrations), with the
    attack's cells on top when ``attack``."""
    ns: dict = {}
    for cell in definition_cells(SOLUTIONS / NOTEBOOKS[name]):
        if "%pip" in cell:
            continue
        kept = [node for node in ast.parse(cell).body
                if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef))]
        exec(compile(ast.Module(kept, []), name, "exec"), ns)
    for cell in ATTACKS[name].CELLS if attack else []:
        exec(cell, ns)
    return ns


# --------------------------------------------------------------------------
# the graph: what it computes, what it hides
# --------------------------------------------------------------------------

X = torch.randn(40, 6, generator=torch.Generator().manual_seed(0))
Y = (X[:, 0] > 0).long()


class Answers(nn.Module):
    """Answers from a table closed over as a tensor constant, not from parameters."""

    def __init__(self, table: torch.Tensor):
        super().__init__()
        self.linear = nn.Linear(6, 2)
        self.table = table

    def forward(self, x):
        d = ((x[:, None, :] - self.table[None, :, :6]) ** 2).sum(-1)
        return self.linear(x) * 0 + nn.functional.one_hot(
            self.table[d.argmin(1), 6].long(), 2).float()


class Rule(nn.Module):
    """A fixed rule dressed up with an unused parameter: shuffling parameters changes nothing."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(6, 2)

    def forward(self, x):
        return self.linear(x) * 0 + torch.stack([-x[:, 0], x[:, 0]], dim=1)


def _evaluate(model: nn.Module) -> ProbeResult:
    graph = export_graph(model, X[:10])
    out = graph_outputs({}, {"graph": graph, "sets": ["X"], "X": X.numpy(), "batch": 10,
                             "reset": True, "reset_seed": 3})
    return ProbeResult("heldout", "ok", out)


def _too_good(reset):
    acc = float(np.mean(np.asarray(reset).argmax(axis=1) == Y.numpy()))
    return acc >= 0.9, f"gets {acc:.0%} right"


def test_a_trained_model_passes_and_hidden_answers_do_not():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 2))
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(100):
        opt.zero_grad()
        nn.functional.cross_entropy(model(X), Y).backward()
        opt.step()
    result = _evaluate(model)
    assert np.mean(result.outputs["X_out"].argmax(1) == Y.numpy()) == 1.0
    assert result.outputs["constants"] == 0
    assert graph_problem(result, _too_good, chance="chance") is None

    table = torch.cat([X, Y[:, None].float()], dim=1).repeat(20, 1)  # 40 x 20 rows of 7
    hidden = _evaluate(Answers(table))
    assert hidden.outputs["constants"] > MAX_CONSTANT_ELEMENTS
    assert "as constants" in graph_problem(hidden, _too_good, chance="chance")

    rule = _evaluate(Rule())
    assert np.mean(rule.outputs["X_out"].argmax(1) == Y.numpy()) == 1.0
    assert "with its parameters shuffled" in graph_problem(rule, _too_good, chance="chance")


def test_layers_registered_but_unused_are_not_in_the_graph():
    class Unused(nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.unused = nn.Linear(6, 2), nn.Dropout(0.5)

        def forward(self, x):
            return self.used(x)

    out = _evaluate(Unused()).outputs
    assert "aten::linear" in out["ops"] and "aten::dropout" not in out["ops"]


def test_a_model_that_cannot_be_traced_is_named_plainly():
    class Numpy(nn.Module):  # the values go through NumPy: tracing records them as constants
        def forward(self, x):
            return torch.from_numpy(x.numpy() * 2)

    class Dict(nn.Linear):  # not a tensor or a tuple of tensors
        def forward(self, x):
            return {"logits": super().forward(x)}

    assert export_problem(nn.Linear(6, 2), X[:10]) is None
    assert "computes something else than forward" in export_problem(Numpy(), X[:10])
    assert "torch.jit.trace could not record forward" in export_problem(Dict(6, 2), X[:10])


def test_feedback_names_the_band_not_the_value():
    tiers = ((0.90, 3.0), (0.85, 2.0), (0.70, 1.0))
    assert tier(0.934, tiers) == (3.0, "at least 90%")
    assert tier(0.871, tiers) == (2.0, "at least 85%")
    assert tier(0.42, tiers) == (0.0, "below 70%")
    assert tier(2.5, ((3.0, 2.0), (6.0, 1.0)), higher_is_better=False) == (2.0, "at most 3")


# --------------------------------------------------------------------------
# the public check, and end to end
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_public_check_says_predict_must_use_the_model(name):
    good = namespace(name, attack=False)
    bad = namespace(name, attack=True)
    outcome = run(f"{name}.training", good["train_model"], good["predict"])
    assert outcome.ok, outcome
    outcome = run(f"{name}.training", bad["train_model"], bad["predict"])
    assert not outcome.ok
    assert outcome.message == "predict's labels do not come from the model it is given."


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_a_predict_that_ignores_the_model_gains_nothing(name, tmp_path):
    """The accuracy is the exported model's own; ``predict``'s other labels cost the form of the
    training part."""
    ex = load_exercise(name, HIDDEN)
    cells = definition_cells(SOLUTIONS / NOTEBOOKS[name]) + ATTACKS[name].CELLS
    report = grade(ex, write_notebook(tmp_path / "attack.ipynb", cells), private_paths=[HIDDEN])
    assert not report.grader_error
    tests = {t.name: t for t in report.tests}
    assert report.score < ex.max_score
    assert "gave the class of the model's largest output for only" in \
        tests[f"{name}.training"].output
    if name == "ex3":  # the given model was never trained: its graph is near chance
        assert tests["ex3.accuracy"].score == 0.0, tests["ex3.accuracy"].output


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ex2_self_recognising_forward", "ex2_replaced_export",
                                  "ex2_unused_layers"])
def test_verdict_attacks_score_below_full_marks(name, tmp_path):
    """Each attack on a verdict once made in the learner's process now loses what it aimed at."""
    attack = {"ex2_self_recognising_forward": ex2_self_recognising_forward,
              "ex2_replaced_export": ex2_replaced_export,
              "ex2_unused_layers": ex2_unused_layers}[name]
    ex = load_exercise("ex2", HIDDEN)
    cells = definition_cells(SOLUTIONS / NOTEBOOKS["ex2"]) + attack.CELLS
    report = grade(ex, write_notebook(tmp_path / "attack.ipynb", cells), private_paths=[HIDDEN])
    assert not report.grader_error
    tests = {t.name: t for t in report.tests}
    assert report.score < ex.max_score
    if name == "ex2_unused_layers":
        assert tests["ex2.layers"].score == 1.0, tests["ex2.layers"].output
        assert "no batch normalization in what forward computes" in tests["ex2.layers"].output
    else:
        assert tests["ex2.accuracy"].score == 0.0, tests["ex2.accuracy"].output
    if name == "ex2_self_recognising_forward":
        assert "as constants" in tests["ex2.accuracy"].output


def test_results_md_escapes_bidirectional_overrides_as_the_terminal_does():
    from dlbasics_grader.report import md_code, md_inline

    text = "score \u202e01/0\u202c and \u2066x\u2069\x1b[31m"
    for out in (md_code(text), md_inline(text)):
        assert not any(c in out for c in "\u202e\u202c\u2066\u2069\x1b")
        assert "\\u202e" in out and "\\x1b" in out
