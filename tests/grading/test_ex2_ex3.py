"""Grading Exercises 2 (CNN) and 3 (LSTM + attention) end to end, and their scoring alone.

The end-to-end tests run real submissions through the sandbox: the solution
scores full marks, the generated student notebook scores zero, and notebooks
with some parts wrong get exactly the credit of the parts they got right. The
scoring tests feed ``score`` untrusted garbage without a sandbox.
"""

from __future__ import annotations

import math
from pathlib import Path

import nbformat
import numpy as np
import pytest

from dlbasics_grader.engine import grade, load_exercise, load_hidden_module
from dlbasics_grader.spec import ProbeResult, Submission

from ..helpers import EXERCISES, HIDDEN, SOLUTIONS, definition_cells, point_table, write_notebook
from .helpers import arrays_in

NOTEBOOKS = {"ex2": "ex2_cnn.ipynb", "ex3": "ex3_lstm_attention.ipynb"}


def scores(report) -> dict[str, float]:
    return {t.name: t.score for t in report.tests}


@pytest.fixture(scope="module")
def exercises():
    return {name: load_exercise(name, HIDDEN) for name in NOTEBOOKS}


# --------------------------------------------------------------------------
# end to end, in the sandbox
# --------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
@pytest.mark.parametrize("folder", [SOLUTIONS, EXERCISES], ids=["solution", "stubs"])
def test_solution_scores_full_marks_and_stubs_zero(name, folder, exercises):
    ex = exercises[name]
    report = grade(ex, folder / NOTEBOOKS[name], private_paths=[HIDDEN])
    assert not report.grader_error
    if folder == SOLUTIONS:
        failed = {t.name: t.output for t in report.tests if t.status != "passed"}
        assert not failed
        assert report.score == ex.max_score == 13.0
        accuracy = next(t for t in report.tests if t.name == f"{name}.accuracy")
        assert "Held-out accuracy" in accuracy.output
    else:
        assert report.score == 0.0
        assert all(t.status in ("error", "failed") for t in report.tests)
        assert all("NotImplementedError" in t.output or "Not implemented" in t.output
                   for t in report.tests)


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_the_point_table_states_every_part_and_threshold(name, exercises):
    ex = exercises[name]
    table = point_table(SOLUTIONS / NOTEBOOKS[name])
    assert table == {p.name: p.max_score for p in ex.parts}
    text = nbformat.read(SOLUTIONS / NOTEBOOKS[name], as_version=4).cells[0].source
    module = load_hidden_module(name, HIDDEN)
    for threshold, points in module.ACC_TIERS:
        assert f"{points:g} point{'s' if points != 1 else ''} from {threshold * 100:.0f} %" in text
    assert f"{module.CPU_BUDGET_S:.0f} s of CPU time" in text
    for rule in ("new order", "model.eval()", "best validation epoch restored", "`predict` with"):
        assert rule in text


def test_ex2_layer_listing_works_for_any_valid_model(capsys):
    """The notebook's shape listing needs no model.features or model.classifier."""
    import torch
    from torch import nn

    cell = next(c.source for c in nbformat.read(SOLUTIONS / NOTEBOOKS["ex2"], as_version=4).cells
                if "register_forward_hook" in c.source)
    ns = {"torch": torch, "nn": nn, "IMAGE_SIZE": 8, "NUM_CLASSES": 10,
          "X_train": torch.zeros(5, 1, 8, 8)}
    exec(EX2_PLAIN_CNN, ns)
    exec(cell, ns)
    out = capsys.readouterr().out
    assert "MaxPool2d    -> (5, 16, 4, 4)" in out and "Linear       -> (5, 10)" in out


EX2_IDENTITY_AUGMENT = '''
def augment(images, labels, max_shift=0.1, max_degrees=10.0, generator=None):
    return images.clone(), labels.clone()
'''

EX2_PLAIN_CNN = '''
def build_model(image_size=8, num_classes=10):
    side = image_size // 4
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * side * side, num_classes))
'''


@pytest.mark.slow
def test_ex2_partly_right_submission_gets_partial_credit(exercises, tmp_path):
    """No batch norm or dropout, an augmentation that changes nothing, no confusion matrix."""
    cells = definition_cells(SOLUTIONS / NOTEBOOKS["ex2"], drop=("def confusion_matrix",),
                             change=(("    model.load_state_dict(best_state)\n", ""),))
    cells += [EX2_IDENTITY_AUGMENT, EX2_PLAIN_CNN]
    report = grade(exercises["ex2"], write_notebook(tmp_path / "partial.ipynb", cells),
                   private_paths=[HIDDEN])
    got = scores(report)
    assert got["ex2.preprocess"] == 1.0
    assert got["ex2.model"] == 2.0
    assert got["ex2.layers"] == 1.0  # convolution and pooling, no dropout, no batch norm
    assert got["ex2.augment"] == 1.0  # shapes and labels kept, but nothing changes
    assert got["ex2.confusion"] == 0.0
    assert got["ex2.training"] == 1.75  # the best epoch's weights are not restored
    tests = _partly_right(report)
    assert "The weights of the best validation epoch restored at the end: 0/0.25" in \
        tests["ex2.training"].output
    assert "no dropout in what forward computes" in tests["ex2.layers"].output
    assert "no batch normalization in what forward computes" in tests["ex2.layers"].output
    assert "images changed" in tests["ex2.augment"].output
    assert tests["ex2.confusion"].status == "error"
    assert "No function called confusion_matrix" in tests["ex2.confusion"].output


def _partly_right(report) -> dict:
    """The tests of a report that earned some points but not all, by part name."""
    assert 0 < report.score < report.max_score, report.score
    return {t.name: t for t in report.tests}


EX3_UNMASKED_ATTENTION = '''
class AdditiveAttention(nn.Module):
    def __init__(self, hidden_dim, attn_dim=32):
        super().__init__()
        self.proj = nn.Linear(hidden_dim, attn_dim)
        self.score = nn.Linear(attn_dim, 1, bias=False)

    def forward(self, h, mask):
        weights = torch.softmax(self.score(torch.tanh(self.proj(h))).squeeze(-1), dim=-1)
        return (weights.unsqueeze(-1) * h).sum(dim=1), weights
'''

EX3_DETACHED_LSTM = '''
class SentimentClassifier(nn.Module):
    def __init__(self, vocab_size, embed_dim=32, hidden_dim=64, num_classes=2, pad_index=0):
        super().__init__()
        self.pad_index = pad_index
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_index)
        self.lstm = nn.LSTM(embed_dim, hidden_dim, batch_first=True)
        self.attention = AdditiveAttention(hidden_dim)
        self.out = nn.Linear(hidden_dim, num_classes)

    def forward(self, ids):
        h, _ = self.lstm(self.embedding(ids))
        context, weights = self.attention(h.detach(), ids != self.pad_index)
        return self.out(context), weights
'''


@pytest.mark.slow
def test_ex3_partly_right_submission_gets_partial_credit(exercises, tmp_path):
    """Attention that ignores the mask, and a classifier that detaches the LSTM's output."""
    cells = definition_cells(SOLUTIONS / NOTEBOOKS["ex3"], change=(
        ("order = torch.randperm(n, generator=generator)", "order = torch.arange(n)"),))
    cells += [EX3_UNMASKED_ATTENTION, EX3_DETACHED_LSTM]
    report = grade(exercises["ex3"], write_notebook(tmp_path / "partial.ipynb", cells),
                   private_paths=[HIDDEN])
    got = scores(report)
    assert got["ex3.encode"] == 1.0
    assert got["ex3.attention"] == 2.0  # sums to 1, weighted sum; but weight on padding
    assert got["ex3.model"] == 1.0  # shapes right; padding changes the logits
    assert got["ex3.gradients"] == 0.0
    assert got["ex3.training"] == 1.75  # the same order in every epoch
    tests = _partly_right(report)
    assert "runs with seed=1 and seed=2 ended with the same weights" in \
        tests["ex3.training"].output
    assert "exactly 0 weight" in tests["ex3.attention"].output
    assert "got no gradient" in tests["ex3.gradients"].output


# --------------------------------------------------------------------------
# scoring alone: untrusted outputs never crash the grader
# --------------------------------------------------------------------------

GARBAGE = [
    {},
    {"pred": "all right", "train_loss": None, "classes": 3, "x8_aug": [[1, 2], [3]]},
    {"pred": np.full(3, np.nan), "clean_weights": np.full((5, 9), np.nan), "stats": [np.inf, 1],
     "loss": float("nan"), "history_type": "dict", "train_loss": [1.0, float("nan")],
     "cpu_s": "fast", "logits": np.zeros((1, 1, 1)), "a": np.ones((10, 10)) * 1e300},
]


def _results(ex, status: str, outputs: dict | None = None, error: str = "") -> dict:
    """One result per probe and per held-out evaluation, as the engine hands them to score."""
    names = [p.name for p in ex.probes(ex.seed)] + [e.name for e in ex.evaluations]
    return {n: ProbeResult(n, status, dict(outputs or {}), error=error) for n in names}


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
@pytest.mark.parametrize("outputs", GARBAGE, ids=["empty", "wrong-types", "nan-and-shapes"])
def test_score_survives_untrusted_outputs(name, outputs, exercises):
    ex = exercises[name]
    tests = ex.score(_results(ex, "ok", outputs), Submission(path=Path("x.ipynb"), seed=ex.seed))
    assert [t.name for t in tests] == [p.name for p in ex.parts]
    for t in tests:
        assert t.status in ("failed", "error", "timeout")
        assert math.isfinite(t.score) and t.score == 0.0
        assert t.output


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_failed_probes_give_zero_with_their_status(name, exercises):
    ex = exercises[name]
    for status, test_status in (("timeout", "timeout"), ("out of memory", "out of memory"),
                                ("crashed", "crashed"), ("error", "error")):
        tests = ex.score(_results(ex, status, error="it went wrong"),
                         Submission(path=Path("x.ipynb"), seed=ex.seed))
        assert {t.status for t in tests} == {test_status}
        assert sum(t.score for t in tests) == 0.0


def _held_out(name: str, ex) -> tuple[np.ndarray, np.ndarray]:
    """The held-out inputs and labels, as the grader makes them."""
    mod = load_hidden_module(name, HIDDEN)
    if name == "ex2":
        (X, y), = mod.prepared_digits(ex.seed)[2:]
    else:
        (X, y), = mod.encoded_corpus(ex.seed)[1][2:]
    return X, y


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_held_out_inputs_never_enter_the_learners_sandbox(name, exercises):
    """The held-out inputs go to the evaluation of the exported graph only; no probe that runs
    next to the learner's code holds them (short reviews recur by chance in a grammar's output,
    so some rows may match), and nothing anywhere holds their labels."""
    ex = exercises[name]
    X_test, y_test = _held_out(name, ex)
    rows = {x.tobytes() for x in X_test}
    for probe in ex.probes(ex.seed):
        for arr in arrays_in(dict(probe.inputs)):
            if arr.ndim >= 2 and arr.shape[1:] == X_test.shape[1:]:
                shared = rows & {x.tobytes() for x in arr}
                assert len(shared) < 0.2 * len(rows), (probe.name, len(shared))
    heldout = next(e for e in ex.evaluations if e.name == "heldout").probe(ex.seed)
    assert np.array_equal(heldout.inputs["X_test"], X_test)
    assert not any(np.array_equal(a, y_test) for e in ex.evaluations
                   for a in arrays_in(dict(e.probe(ex.seed).inputs)))
    assert len(X_test) > 400


def test_ex3_held_out_reviews_use_made_up_words(exercises):
    """The public labelling rule cannot read the grader's reviews."""
    from dlbasics.text import sentiment_label

    mod = load_hidden_module("ex3", HIDDEN)
    texts = mod._corpus(exercises["ex3"].seed)[2][0]
    words = {w for t in texts for w in t.split()}
    assert not words & {"good", "bad", "not", "but", "although", "the"}
    with pytest.raises(ValueError):
        sentiment_label(texts[0])


def test_ex2_held_out_digits_are_transformed(exercises):
    """The grader's digits are flipped/rotated, so they are not the public images."""
    from sklearn.datasets import load_digits

    mod = load_hidden_module("ex2", HIDDEN)
    public = {img.tobytes() for img in load_digits().images.astype(np.float64)}
    held_out = mod._digits(exercises["ex2"].seed)[2][0]
    assert held_out.shape[1:] == (8, 8)
    matches = sum(img.tobytes() in public for img in held_out)
    assert matches < 0.05 * len(held_out)  # only symmetric digits can match
