"""The process that runs learner code returns data only: no driver the grader sends into the
learner's sandbox computes a verdict.

Every probe of every exercise (``EXERCISE.probes(seed)``, the drivers that run where the
learner's cells ran) is read as a syntax tree: outside the tests of ``if``/``while``/
conditional expressions and comprehension filters (which only choose what to measure), no
comparison, ``and``/``or``/``not``, or predicate call (other than one of the grader's own
``inputs`` alone) (``bool``, ``all``, ``allclose``,
``array_equal``, ``torch.equal``, ...) may appear, so no boolean made from the learner's
results can travel back as an output. The evaluation probes (``EXERCISE.evaluations``) run
in a fresh sandbox that never ran learner Python and may compare what they like.
"""

from __future__ import annotations

import ast

import numpy as np
import pytest

from dlbasics_grader.engine import available_exercises, load_exercise, load_hidden_module

from ..helpers import HIDDEN
from .helpers import arrays_in

PREDICATES = {"bool", "all", "any", "allclose", "array_equal", "array_equiv", "isclose",
              "equal", "isfinite", "isnan", "issubset", "startswith", "endswith"}


def _called(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def verdicts_in(source: str, entry: str) -> list[str]:
    """The expressions of driver ``entry`` in ``source`` that compute a verdict."""
    tree = ast.parse(source)
    fn = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == entry)
    choosing: set[int] = set()
    for node in ast.walk(fn):
        tests = []
        if isinstance(node, (ast.If, ast.While, ast.IfExp)):
            tests = [node.test]
        elif isinstance(node, ast.comprehension):
            tests = list(node.ifs)
        choosing |= {id(n) for t in tests for n in ast.walk(t)}
    found: list[tuple[int, int, str]] = []
    for node in ast.walk(fn):
        if id(node) in choosing or {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} \
                == {"inputs"}:  # a choice made from the grader's own inputs
            continue
        if isinstance(node, (ast.Compare, ast.BoolOp)) or (
                isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)) or (
                isinstance(node, ast.Call) and _called(node) in PREDICATES):
            found.append((node.lineno, node.col_offset, ast.unparse(node)))
    return [f"line {line}: {text}" for line, _, text in sorted(found)]


def test_a_verdict_in_a_driver_is_found():
    source = '''
def drive(ns, inputs):
    out = {}
    if inputs["x"] > 0:  # choosing what to measure is fine
        out["y"] = ns["f"](inputs["x"])
    out["same"] = bool(torch.equal(a, b))
    out["big"] = out["y"] > 3
    return {"ok": not out, **out}
'''
    assert [f.split(":")[0] for f in verdicts_in(source, "drive")] == [
        "line 6", "line 6", "line 7", "line 8"]


@pytest.mark.parametrize("name", available_exercises(HIDDEN))
def test_no_driver_in_the_learners_sandbox_computes_a_verdict(name):
    exercise = load_exercise(name, HIDDEN)
    found = {probe.name: verdicts_in(probe.source, probe.entry)
             for probe in exercise.probes(exercise.seed)}
    assert {k: v for k, v in found.items() if v} == {}


def _held_out_inputs(name: str, exercise) -> list[np.ndarray]:
    """The held-out inputs of an exercise, as the grader makes them."""
    if name == "ex1":
        mod = load_hidden_module("ex1", HIDDEN)
        return [mod._train_data(exercise.seed)[2]]
    inputs = [dict(e.probe(exercise.seed).inputs) for e in exercise.evaluations
              if e.name == "heldout"]  # the validation data there is the learner's too
    return [i[k] for i in inputs for k in ("X_test", "windows") if k in i]


@pytest.mark.parametrize("name", available_exercises(HIDDEN))
def test_no_held_out_input_is_in_the_learners_sandbox(name):
    """What the sandbox holds while the cells run is the job: the cells and the probes' inputs.
    No held-out array is among those inputs, nor more than a few of its rows (short token
    sequences recur by chance)."""
    exercise = load_exercise(name, HIDDEN)
    held_out = _held_out_inputs(name, exercise)
    assert held_out and all(len(h) >= 300 for h in held_out)
    for h in held_out:
        rows = {x.tobytes() for x in h}
        for probe in exercise.probes(exercise.seed):
            for arr in arrays_in(dict(probe.inputs)):
                if arr.ndim == h.ndim and arr.shape[1:] == h.shape[1:] and arr.dtype == h.dtype:
                    shared = rows & {x.tobytes() for x in arr}
                    assert len(shared) < 0.2 * len(rows), (probe.name, len(shared))


def test_a_history_is_checked_against_the_exported_models_validation_accuracy():
    """``history['val_accuracy']`` must hold the exported model's own validation accuracy (the
    grader's measurement), so numbers made up in the learner's process lose the form points."""
    from dlbasics_grader.scoring import score_training_run
    from dlbasics_grader.spec import Part, ProbeResult

    rng = np.random.default_rng(0)
    y_val, y_test = rng.integers(0, 2, 50), rng.integers(0, 2, 60)
    val_out = np.eye(2)[y_val] * 5.0
    val_out[:10] = val_out[:10, ::-1]  # 80 % right
    heldout = ProbeResult("heldout", "ok", {"X_val_out": val_out, "X_test_out": np.eye(2)[y_test],
                                            "reset_out": np.zeros((60, 2)), "constants": 0})
    pred = val_out.argmax(axis=1)

    def form(history):
        outputs = {"history_type": "dict", "train_loss": [1.0, 0.5], "val_accuracy": history,
                   "pred_val": pred}
        train, _ = score_training_run(
            Part("t", 2.0, "t"), Part("a", 2.0, "a"), outputs, heldout, y_test, n_val=50,
            n_classes=2, predict_name="predict", item="sample", setup="", acc_full=0.9,
            acc_tiers=[(0.9, 2.0)], cpu_s=1.0, cpu_budget_s=10.0, loop={}, chance_max=0.6,
            y_val=y_val)
        return train.output

    assert "right form: 1/1" in form([0.7, 0.8])
    made_up = form([0.97, 0.99])
    assert "right form: 0/1" in made_up and "no epoch with the returned model's" in made_up


DATA_HELPERS = {("dlbasics.checks._export", "export_graph"),
                ("dlbasics.checks._transformer", "model_from_inputs"),
                ("dlbasics.checks._transformer", "load_weights"),
                ("dlbasics.checks._transformer", "torch_attention"),
                ("dlbasics.text", "Vocabulary")}
"""What a driver may import from ``dlbasics`` in the learner's sandbox, where a cell can
replace it: helpers whose result is data the grader judges (a graph it runs elsewhere, a
model or vocabulary whose outputs it compares with its own references), never a record or a
rule."""

@pytest.mark.parametrize("name", available_exercises(HIDDEN))
def test_drivers_import_only_data_helpers_from_the_learners_process(name):
    """No in-process watch decides a point: Exercise 4's use of PyTorch's own attention is
    read from exported graphs, evaluated where no learner code runs."""
    exercise = load_exercise(name, HIDDEN)
    imported = {(node.module, alias.name) for probe in exercise.probes(exercise.seed)
                for node in ast.walk(ast.parse(probe.source))
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dlbasics")
                for alias in node.names}
    assert imported <= DATA_HELPERS, imported - DATA_HELPERS
