"""The public check of a ``train_model``/``predict`` pair, shared by the PyTorch exercises.

Not an exercise module (the leading underscore keeps :func:`available` from
loading it); ``checks/ex2.py`` and ``checks/ex3.py`` build their own small
model and data and hand them to :func:`train_and_check`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from dlbasics.checks._common import fmt
from dlbasics.checks.registry import CheckOutcome


def check_history_and_predict(
    history: Any,
    predict: Callable[[], Any],
    *,
    epochs: int,
    n_labels: int,
    summary: Callable[[np.ndarray, np.ndarray], str],
) -> CheckOutcome:
    """Check what ``train_model`` returned, then what ``predict`` returns.

    Parameters
    ----------
    history : Any
        ``train_model``'s return value, expected to be a dict with
        ``"train_loss"`` and ``"val_accuracy"``, one value per epoch each.
    predict : callable
        ``predict()`` calls the learner's ``predict`` on the validation data;
        it is called only once the history is right.
    epochs : int
        The number of epochs ``train_model`` was asked for.
    n_labels : int
        How many labels ``predict`` should return.
    summary : callable
        ``summary(losses, val_accuracy)`` -> the message of a passed check
        (both arrays of shape ``(epochs,)``).

    Returns
    -------
    CheckOutcome
        The first problem found, or ``summary``'s message.
    """
    if not isinstance(history, dict) or not {"train_loss", "val_accuracy"} <= set(history):
        return CheckOutcome(False, "train_model should return a dict with 'train_loss' and "
                            "'val_accuracy'.", f"given: {history!r:.200}")
    losses = np.asarray(history["train_loss"], dtype=np.float64)
    acc = np.asarray(history["val_accuracy"], dtype=np.float64)
    if losses.shape != (epochs,) or acc.shape != (epochs,):
        return CheckOutcome(False, "the history should hold one value per epoch.",
                            f"with epochs={epochs}: train_loss has shape {losses.shape}, "
                            f"val_accuracy {acc.shape}")
    if not (np.all(np.isfinite(losses)) and losses[-1] < losses[0]):
        return CheckOutcome(False, "the training loss did not fall.",
                            f"train_loss per epoch: {fmt(losses)}")
    if not np.all((acc >= 0) & (acc <= 1)):
        return CheckOutcome(False, "validation accuracies should be fractions in [0, 1].",
                            f"given: {fmt(acc)}")
    pred = predict()
    if not isinstance(pred, np.ndarray) or pred.shape != (n_labels,) or pred.dtype != np.int64:
        return CheckOutcome(False, "predict should return a NumPy int64 array of labels.",
                            f"given: {type(pred).__name__} {getattr(pred, 'shape', '')} "
                            f"{getattr(pred, 'dtype', '')}")
    return CheckOutcome(True, summary(losses, acc))


MIN_AGREEMENT = 0.9
"""Least fraction of samples on which ``predict(model, X)`` must give the class of the largest
output of ``model(X)`` (in evaluation mode), for a trained model and for an untrained one: the
labels must come from the model ``predict`` is given."""


def model_labels(model: Any, X: Any) -> np.ndarray:
    """The class of each sample's largest output, ``model(X)`` in evaluation mode without
    gradients (the first element when the model returns a tuple, like ``(logits, weights)``).

    Self-contained, so that it runs in the grader's sandbox too.

    Returns
    -------
    np.ndarray, shape (n,)
        int64 labels.
    """
    import numpy as np
    import torch

    model.eval()
    with torch.no_grad():
        out = model(X)
    if isinstance(out, (tuple, list)):
        out = out[0]
    return np.asarray(out.argmax(dim=1).numpy(), dtype=np.int64)


def agreement(pred: Any, reference: np.ndarray) -> float:
    """Fraction of samples where the labels ``pred`` equal ``reference`` (0 when ``pred`` is not
    an array of ``reference``'s shape)."""
    arr = np.asarray(pred) if isinstance(pred, (np.ndarray, list)) else None
    if arr is None or arr.shape != reference.shape or arr.dtype.kind not in "iuf":
        return 0.0
    return float(np.mean(arr == reference))


def check_predict_uses_model(predict: Callable, model: Any, untrained: Any, X: Any
                             ) -> CheckOutcome | None:
    """``None`` when ``predict`` gives the model's own labels (:func:`model_labels`) on at least
    :data:`MIN_AGREEMENT` of ``X``, for the trained ``model`` and for ``untrained`` (a copy made
    before training); else why not."""
    for what, m in (("the trained model", model), ("an untrained copy of it", untrained)):
        share = agreement(predict(m, X), model_labels(m, X))
        if share < MIN_AGREEMENT:
            return CheckOutcome(
                False, "predict's labels do not come from the model it is given.",
                f"with {what}, predict(model, X) gave the class of the model's largest output "
                f"for {share:.0%} of the samples (at least {MIN_AGREEMENT:.0%} needed): return "
                "model(X).argmax(dim=1) in evaluation mode")
    return None


def train_and_check(train_model: Callable, predict: Callable, model: Any, X: Any, y: Any, *,
                    n_train: int, epochs: int, kind: str,
                    summary: Callable[[np.ndarray, np.ndarray], str],
                    **train_kwargs: Any) -> CheckOutcome:
    """The whole public check of a ``train_model``/``predict`` pair on one small model.

    Trains ``model`` on the first ``n_train`` samples of ``X, y`` (the rest is
    the validation data ``predict`` is then called on), checks the history and
    predictions with :func:`check_history_and_predict`, then the loop's rules
    with :func:`with_loop_rules` (``kind`` and ``train_kwargs`` go there); in between,
    that ``predict``'s labels come from the model (:func:`check_predict_uses_model`, with a copy
    of ``model`` made before training as the untrained one) and that the trained model can be
    exported as a graph (:func:`check_exportable`).

    Parameters
    ----------
    X, y : torch.Tensor
        Inputs (n, ...) and int64 labels (n,) of the check's data set.
    summary : callable
        ``summary(losses, val_accuracy)`` -> the message of a passed history check.
    """
    untrained = copy.deepcopy(model)
    history = train_model(model, X[:n_train], y[:n_train], X[n_train:], y[n_train:],
                          epochs=epochs)
    outcome = check_history_and_predict(
        history, lambda: predict(model, X[n_train:]), epochs=epochs, n_labels=len(y) - n_train,
        summary=summary)
    if outcome.ok:
        outcome = check_predict_uses_model(predict, model, untrained, X[n_train:]) or outcome
    if outcome.ok:
        outcome = check_exportable(model, X[n_train:]) or outcome
    return with_loop_rules(outcome, train_model, predict, kind, **train_kwargs)


def check_exportable(model: Any, X: Any) -> CheckOutcome | None:
    """``None`` when the trained ``model`` can leave as a graph (:mod:`dlbasics.checks._export`),
    the form in which the grader measures its held-out accuracy; else why not."""
    from dlbasics.checks._export import export_problem

    problem = export_problem(model, X)
    if problem is None:
        return None
    return CheckOutcome(False, "the trained model cannot be exported as a graph, so the grader "
                        "could not measure its held-out accuracy (0 accuracy points).", problem)


# ----------------------------------------------------------------------------
# The training loop's rules, judged from what training leaves in a model
# ----------------------------------------------------------------------------

LOOP_RULES = {
    "shuffle": "a new order of the training samples drawn from the seed (the same seed "
               "repeats a run exactly, another seed changes it)",
    "validation": "validation after every epoch in evaluation mode (model.eval())",
    "restore": "the weights of the best validation epoch restored at the end",
    "predict": "predict in evaluation mode (model.eval())",
}
"""The rules of ``train_model``/``predict`` that training the grader's probe model shows, each
worth the same. Whether validation and ``predict`` run under ``torch.no_grad()`` changes no
output, so no point depends on it."""

RULE_FEATURES = 48  # features the label depends on; 8 more mark validation, 8 test samples
VAL_MARK, TEST_MARK = slice(48, 56), slice(56, 64)
VAL_TOKEN, TEST_TOKEN, NEUTRAL_TOKEN, N_TOKENS = 60, 61, 62, 64
BN_EPS = 1e-5


def loop_inputs(kind: str, n_train: int = 96, epochs: int = 4, batch_size: int = 16,
                **train_kwargs: Any) -> dict:
    """Inputs of :func:`training_loop_probe` for ``kind`` ``"images"`` ((n, 1, 8, 8) floats) or
    ``"ids"`` ((n, 9) token ids: 7 words, a marker, one padding).

    Two classes given by a linear rule of the first :data:`RULE_FEATURES` features (images)
    or by which half of the words 2-47 is in the majority (ids). The validation samples are
    the training samples with the opposite labels, so the better the model learns, the worse
    it validates: the best validation epoch is an early one, and a loop that keeps the last
    weights keeps worse ones. Validation and test samples carry a marker (features
    :data:`VAL_MARK`/:data:`TEST_MARK`, tokens :data:`VAL_TOKEN`/:data:`TEST_TOKEN`) that the
    probe model's batch normalization records only if they reach it in training mode
    (training samples carry :data:`NEUTRAL_TOKEN` there).
    """
    rng = np.random.default_rng(epochs + n_train)
    out: dict[str, Any] = {"kind": kind, "n_classes": 2,
                           "kwargs": {"epochs": epochs, "batch_size": batch_size, **train_kwargs}}
    if kind == "images":
        x = np.zeros((n_train, 64), dtype=np.float32)
        x[:, :RULE_FEATURES] = rng.normal(0, 1, (n_train, RULE_FEATURES))
        rule = rng.normal(0, 1, RULE_FEATURES)
        y = (x[:, :RULE_FEATURES] @ rule > 0).astype(np.int64)
        val, test = x.copy(), x[:16].copy()
        val[:, VAL_MARK], test[:, TEST_MARK] = 1.0, 1.0
        sets = {"train": x, "val": val, "test": test}
        out.update({f"X_{k}": v.reshape(-1, 1, 8, 8) for k, v in sets.items()})
    else:
        words = rng.integers(2, RULE_FEATURES, (n_train, 7))
        y = ((words < 25).sum(axis=1) > 3).astype(np.int64)
        x = np.c_[words, np.full(n_train, NEUTRAL_TOKEN), np.zeros(n_train, dtype=np.int64)]
        val, test = x.copy(), x[:16].copy()
        val[:, 7], test[:, 7] = VAL_TOKEN, TEST_TOKEN
        out.update({"X_train": x, "X_val": val, "X_test": test})
    out.update({"y_train": y, "y_val": 1 - y})
    return out


def training_loop_probe(ns: dict, inputs: dict) -> dict:
    """Train the grader's probe model three times with the learner's ``train_model``.

    Self-contained (the grader sends its source into the sandbox). The probe
    model is a batch normalization without learned parameters (its running
    statistics accumulate every batch it sees in training mode, ``momentum=None``)
    followed by a linear layer on the rule's features; for token ids it first
    counts the tokens (padding not counted, so cutting padding off changes nothing).
    Returns plain data only: the weights after training
    under seed 1 (``state``), after ``predict`` on the test samples
    (``state_after_predict``), after training again under seed 1 (``state_again``)
    and under seed 2 (``state_other``), the history and ``predict``'s labels.
    The grader judges the rules from these (:func:`loop_rule_problems`).
    """
    import torch
    from torch import nn

    images = inputs["kind"] == "images"

    class ProbeModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.pad_index = 0
            self.norm = nn.BatchNorm1d(64, affine=False, momentum=None)
            self.linear = nn.Linear(48, int(inputs["n_classes"]))

        def forward(self, x):
            if images:
                features = x.flatten(1)
            else:
                counts = nn.functional.one_hot(x, 64).sum(dim=1).float()
                features = torch.cat([torch.zeros_like(counts[:, :1]), counts[:, 1:]], dim=1)
            logits = self.linear(self.norm(features)[:, :48])
            return logits if images else (logits, None)

    def state(model):
        return {k: v.detach().tolist() for k, v in model.state_dict().items()
                if v.is_floating_point()}

    data = [torch.from_numpy(inputs[k]) for k in ("X_train", "y_train", "X_val", "y_val")]
    out = {}
    for key, seed in (("state", 1), ("state_again", 1), ("state_other", 2)):
        torch.manual_seed(0)
        model = ProbeModel()
        torch.manual_seed(seed - 1)
        history = ns["train_model"](model, *data, seed=seed, **inputs["kwargs"])
        out[key] = state(model)
        if key == "state":
            out["val_accuracy"] = [float(v) for v in history["val_accuracy"]]
            pred = ns["predict"](model, torch.from_numpy(inputs["X_test"]))
            out["pred_test"] = [int(v) for v in pred]
            out["state_after_predict"] = state(model)
    return out


def probe_model_logits(state: Any, X: np.ndarray, kind: str) -> np.ndarray | None:
    """The probe model's logits in evaluation mode from its weights (``None``: unreadable)."""
    try:
        w = np.asarray(state["linear.weight"], dtype=np.float64)
        b = np.asarray(state["linear.bias"], dtype=np.float64)
        mean = np.asarray(state["norm.running_mean"], dtype=np.float64)
        var = np.asarray(state["norm.running_var"], dtype=np.float64)
    except (KeyError, TypeError, ValueError):
        return None
    if kind == "images":
        features = X.reshape(len(X), -1).astype(np.float64)
    else:
        features = np.zeros((len(X), N_TOKENS))
        np.add.at(features, (np.repeat(np.arange(len(X)), X.shape[1]), X.ravel()), 1.0)
        features[:, 0] = 0.0  # padding, however much of it a batch keeps, counts for nothing
    if w.shape != (2, RULE_FEATURES) or b.shape != (2,) or mean.shape != (64,) \
            or var.shape != (64,) or np.any(var < 0):
        return None
    z = (features - mean) / np.sqrt(var + BN_EPS)
    return z[:, :RULE_FEATURES] @ w.T + b


def _marks(state: Any, kind: str) -> tuple[float, float] | None:
    """How much of the validation and test markers the batch normalization recorded."""
    try:
        mean = np.asarray(state["norm.running_mean"], dtype=np.float64)
    except (KeyError, TypeError, ValueError):
        return None
    if mean.shape != (64,):
        return None
    if kind == "images":
        return float(np.abs(mean[VAL_MARK]).max()), float(np.abs(mean[TEST_MARK]).max())
    return float(abs(mean[VAL_TOKEN])), float(abs(mean[TEST_TOKEN]))


def _same(a: Any, b: Any) -> bool:
    try:
        return set(a) == set(b) and all(np.array_equal(np.asarray(a[k]), np.asarray(b[k]))
                                        for k in a)
    except (TypeError, ValueError):
        return False


def loop_rule_problems(outputs: dict, inputs: dict) -> dict[str, str]:
    """For each of :data:`LOOP_RULES`, what the weights :func:`training_loop_probe` returned
    show breaking it (``""``: kept). ``outputs`` is untrusted: anything malformed breaks the
    rule it is needed for."""
    kind, epochs = inputs["kind"], inputs["kwargs"]["epochs"]
    out = dict.fromkeys(LOOP_RULES, "")
    st = outputs.get("state")
    if not isinstance(st, dict):
        return dict.fromkeys(LOOP_RULES, "the probe model's weights could not be read")
    if not _same(st, outputs.get("state_again")):
        out["shuffle"] = ("two runs with the same seed ended with different weights: draw the "
                          "order from a torch.Generator seeded with seed")
    elif _same(st, outputs.get("state_other")):
        out["shuffle"] = ("runs with seed=1 and seed=2 ended with the same weights: shuffle the "
                          "training samples at the start of every epoch with a generator seeded "
                          "with seed")
    marks = _marks(st, kind)
    after = _marks(outputs.get("state_after_predict"), kind)
    history = outputs.get("val_accuracy")
    if not isinstance(history, list) or len(history) != epochs or not all(
            isinstance(v, float) and 0 <= v <= 1 for v in history):
        out["validation"] = (f"with epochs={epochs}, history['val_accuracy'] should hold one "
                             "accuracy per epoch")
    elif marks is None or marks[0] > 1e-6:
        out["validation"] = ("the validation samples reached the model in training mode (its "
                             "batch normalization recorded them): call model.eval() before "
                             "validating")
    logits = probe_model_logits(st, inputs["X_val"], kind)
    if logits is None or out["validation"]:
        out["restore"] = out["restore"] or ("the best epoch could not be checked: "
                                            "the validation history is not usable")
    else:
        acc = float(np.mean(logits.argmax(axis=1) == inputs["y_val"]))
        if acc < max(history) - 1e-6:
            out["restore"] = (f"the probe model validated best after epoch "
                              f"{int(np.argmax(history)) + 1} of {epochs}, but train_model "
                              "returned it with other weights: keep a copy "
                              "(copy.deepcopy(model.state_dict())) of the best epoch and load "
                              "it at the end")
    test_logits = probe_model_logits(st, inputs["X_test"], kind)
    pred = outputs.get("pred_test")
    if after is None or after[1] > 1e-6:
        out["predict"] = ("predict ran the model in training mode (its batch normalization "
                          "recorded the test samples): call model.eval() inside predict")
    elif test_logits is None or not isinstance(pred, list) or agreement(
            np.asarray(pred), test_logits.argmax(axis=1)) < 1.0:
        out["predict"] = "predict's labels are not the class of the model's largest output"
    return out


def with_loop_rules(outcome: CheckOutcome, train_model: Callable, predict: Callable, kind: str,
                    **train_kwargs: Any) -> CheckOutcome:
    """``outcome`` of the history check, failed when the loop breaks one of :data:`LOOP_RULES`
    (seen by training the probe model with :func:`training_loop_probe`)."""
    if not outcome.ok:
        return outcome
    inputs = loop_inputs(kind, **train_kwargs)
    outputs = training_loop_probe({"train_model": train_model, "predict": predict}, inputs)
    broken = [problem for problem in loop_rule_problems(outputs, inputs).values() if problem]
    if broken:
        return CheckOutcome(False, f"the training loop breaks {len(broken)} of the "
                            f"{len(LOOP_RULES)} rules of this part.",
                            "\n".join(f"- {p}" for p in broken))
    return CheckOutcome(True, outcome.message + " The loop shuffles every epoch, validates in "
                        "evaluation mode and restores the best epoch's weights; predict runs in "
                        "evaluation mode.")
