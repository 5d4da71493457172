"""Accuracy points only for labels that come from the trained model.

A ``predict`` that ignores the model it is given (a nearest-neighbour search in the public
digits, a private model that ``train_model`` trained instead) can reach high held-out
accuracy without a working network. The grader's probe also runs ``predict`` with an untrained
model and with untrained parameters loaded into the trained one, and computes the model's own
labels; the accuracy part scores 0 unless ``predict`` agrees with the model and falls near chance
without its training. The solutions pass the same rules (their full marks are tested in
``test_ex2_ex3.py``); the public checks say the same to the learner.
"""

from __future__ import annotations

import ast

import numpy as np
import pytest

from dlbasics.checks import run
from dlbasics_grader.engine import grade, load_exercise, load_hidden_module
from dlbasics_grader.scoring import model_use_problem

from ..helpers import HIDDEN, SOLUTIONS, definition_cells, write_notebook
from .attacks import ex2_knn_predict, ex3_private_model_predict

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
# the rule, on plain outputs
# --------------------------------------------------------------------------


def _outputs(y: np.ndarray, rng: np.random.Generator, **changes) -> dict:
    """Outputs of a predict that uses its model: trained labels 95 % right, untrained ones
    random, predict equal to the model's own labels."""
    trained = np.where(rng.random(len(y)) < 0.95, y, (y + 1) % 10)
    untrained = rng.integers(0, 10, len(y))
    out = {"pred": trained, "forward_pred": trained.copy(), "untrained_pred": untrained,
           "untrained_forward": untrained.copy(), "reset_pred": untrained.copy()}
    return {**out, **changes}


def test_predictions_from_the_model_pass_and_others_fail():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 500)
    kw = {"item": "image", "untrained": "build_model(8, 10)", "chance_max": 0.5}
    assert model_use_problem(_outputs(y, rng), y, **kw) is None
    knn = np.where(rng.random(len(y)) < 0.9, y, (y + 3) % 10)
    # predict ignores the model: its labels are the same whatever the model
    problem = model_use_problem(_outputs(y, rng, pred=knn, untrained_pred=knn, reset_pred=knn),
                                y, **kw)
    assert problem.startswith("predict does not use the model it is given: with the trained "
                              "model, its labels are the class of the model's largest output")
    # the model's forward itself ignores its parameters: agreement everywhere, but it still
    # gets 90 % right without training
    problem = model_use_problem(_outputs(y, rng, pred=knn, forward_pred=knn, untrained_pred=knn,
                                         untrained_forward=knn, reset_pred=knn), y, **kw)
    assert problem == ("predict does not use the model it is given: with an untrained model "
                       f"(build_model(8, 10)) it still gets {np.mean(knn == y):.0%} of the "
                       "held-out images right (at most 50% allowed; a model that has not "
                       "learned is near chance)")
    # a trained-model flag that only parameters cannot reset
    problem = model_use_problem(_outputs(y, rng, pred=knn, forward_pred=knn, reset_pred=knn),
                                y, **kw)
    assert "with the trained model's parameters replaced by untrained ones it still gets" in \
        problem
    # missing or malformed outputs decide against the submission
    out = _outputs(y, rng)
    del out["reset_pred"]
    out["reset_pred_error"] = "RuntimeError: size mismatch"
    assert "could not check" in model_use_problem(out, y, **kw)
    assert "could not check" in model_use_problem(_outputs(y, rng, forward_pred=y[:5]), y, **kw)


# --------------------------------------------------------------------------
# the attacks in this process (the probe and the scoring), and the public checks
# --------------------------------------------------------------------------


def _probe_outputs(name: str, attack: bool) -> tuple:
    mod = load_hidden_module(name, HIDDEN)
    ex = mod.EXERCISE
    probe = next(p for p in ex.probes(ex.seed) if p.name == "training_probe")
    out = mod.training_probe(namespace(name, attack), probe.inputs)
    y_test = (mod._digits if name == "ex2" else mod._corpus)(ex.seed)[2][1]
    return mod, out, y_test


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_model_ignoring_predict_is_caught_and_the_solution_is_not(name):
    mod, out, y_test = _probe_outputs(name, attack=True)
    untrained = "the untrained model"
    acc = float(np.mean(out["pred"] == y_test))
    assert acc >= mod.ACC_TIERS[-1][0]  # the attack would earn points without the rule
    problem = model_use_problem(out, y_test, item="x", untrained=untrained,
                                chance_max=mod.CHANCE_MAX)
    assert problem and problem.startswith("predict does not use the model it is given"), problem
    assert np.mean(out["untrained_pred"] == y_test) >= mod.CHANCE_MAX
    mod, out, y_test = _probe_outputs(name, attack=False)
    assert model_use_problem(out, y_test, item="x", untrained=untrained,
                             chance_max=mod.CHANCE_MAX) is None
    assert np.array_equal(out["pred"], out["forward_pred"])
    assert np.mean(out["untrained_pred"] == y_test) < mod.CHANCE_MAX
    assert np.mean(out["reset_pred"] == y_test) < mod.CHANCE_MAX


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_public_check_says_predict_must_use_the_model(name):
    good = namespace(name, attack=False)
    bad = namespace(name, attack=True)
    outcome = run(f"{name}.training", good["train_model"], good["predict"])
    assert outcome.ok, outcome
    outcome = run(f"{name}.training", bad["train_model"], bad["predict"])
    assert not outcome.ok
    assert outcome.message == "predict's labels do not come from the model it is given."


# --------------------------------------------------------------------------
# end to end, in the sandbox
# --------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_model_ignoring_predict_scores_no_accuracy_points(name, tmp_path):
    ex = load_exercise(name, HIDDEN)
    cells = definition_cells(SOLUTIONS / NOTEBOOKS[name]) + ATTACKS[name].CELLS
    report = grade(ex, write_notebook(tmp_path / "attack.ipynb", cells), private_paths=[HIDDEN])
    assert not report.grader_error
    accuracy = next(t for t in report.tests if t.name == f"{name}.accuracy")
    assert accuracy.score == 0.0, accuracy.output
    assert "No accuracy points: predict does not use the model it is given" in accuracy.output
