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

from dlbasics.checks import CheckOutcome
from dlbasics.checks._common import fmt


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


def model_use_outputs(predict: Callable, model: Any, fresh: Any, X: Any) -> dict:
    """What shows whether ``predict``'s labels come from the model it is given.

    Run after ``predict(model, X)`` gave the labels under test (in the grader's
    sandbox too: self-contained). ``fresh`` is an untrained model of the same
    architecture (built again under another torch seed). Returns plain arrays,
    each ``(n,)`` int64, or ``"<key>_error"`` with the exception:
    ``forward_pred``, the labels of the trained model's own outputs
    (:func:`model_labels`); ``untrained_pred`` and ``untrained_forward``,
    ``predict(fresh, X)`` and ``fresh``'s own labels; ``reset_pred``,
    ``predict(model, X)`` once ``model`` holds ``fresh``'s parameters (so
    ``model`` is untrained afterwards).
    """
    import numpy as np

    def labels(pred):
        return np.asarray(pred.detach().numpy() if hasattr(pred, "detach") else pred)

    calls = (("forward_pred", lambda: model_labels(model, X)),
             ("untrained_pred", lambda: labels(predict(fresh, X))),
             ("untrained_forward", lambda: model_labels(fresh, X)),
             ("reset_pred", lambda: (model.load_state_dict(fresh.state_dict()),
                                     labels(predict(model, X)))[1]))
    out: dict = {}
    for key, call in calls:
        try:
            out[key] = call()
        except Exception as exc:
            out[f"{key}_error"] = f"{type(exc).__name__}: {exc}"
    return out


def training_run_outputs(build: Callable[[], Any], train_model: Callable, predict: Callable,
                         data: tuple, y_train: Any, y_val: Any) -> dict:
    """Train a model built by ``build()`` and report, as plain data, what the grade is read from.

    Runs in the grader's sandbox too (self-contained). ``data`` is ``(X_train, X_val,
    X_test)`` as the learner's functions take them; ``y_train``, ``y_val`` are label tensors.
    Returns ``pred`` (``predict(model, X_test)`` as an array), the :func:`model_use_outputs`
    of the trained model against one built again under ``torch.manual_seed(1)``, the history's
    type and its ``train_loss`` / ``val_accuracy`` lists (or ``"<key>_error"`` entries).
    """
    import numpy as np
    import torch

    X_train, X_val, X_test = data
    model = build()
    history = train_model(model, X_train, y_train, X_val, y_val)
    pred = predict(model, X_test)
    out: dict = {"pred": pred.detach().numpy() if isinstance(pred, torch.Tensor) else np.asarray(pred)}
    torch.manual_seed(1)
    try:
        fresh = build()
    except Exception as exc:
        out["untrained_pred_error"] = f"{type(exc).__name__}: {exc}"
    else:
        out.update(model_use_outputs(predict, model, fresh, X_test))
    out["history_type"] = type(history).__name__
    if isinstance(history, dict):
        for key in ("train_loss", "val_accuracy"):
            try:
                out[key] = [float(v) for v in history[key]]
            except Exception as exc:
                out[f"{key}_error"] = f"{type(exc).__name__}: {exc}"
    return out


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
    of ``model`` made before training as the untrained one).

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
    return with_loop_rules(outcome, train_model, predict, kind, **train_kwargs)


# ----------------------------------------------------------------------------
# The training loop's rules: shuffling, evaluation mode, best weights restored.
# ----------------------------------------------------------------------------

LOOP_RULES = {
    "shuffle": "a new order of the training samples every epoch (from a seeded generator)",
    "validation": "validation after every epoch in evaluation mode (model.eval()) under "
                  "torch.no_grad()",
    "restore": "the weights of the best validation epoch restored at the end",
    "predict": "predict in evaluation mode under torch.no_grad()",
}
"""The rules of ``train_model``/``predict`` that a spy model can see, each worth the same."""

TRAIN_ID, VAL_ID, TEST_ID = 100, 10_000, 20_000  # offsets that number the samples


def loop_inputs(kind: str, n_train: int = 96, n_val: int = 20, n_test: int = 10,
                n_classes: int = 3, epochs: int = 4, best_epoch: int = 2,
                **train_kwargs: Any) -> dict:
    """Inputs of :func:`training_loop_probe` for ``kind`` ``"images"`` (constant 8x8 images whose
    value numbers the sample) or ``"ids"`` (token ids whose first column numbers it)."""
    rng = np.random.default_rng(epochs + n_train)
    out: dict[str, Any] = {"kind": kind, "n_classes": n_classes, "best_epoch": best_epoch,
                           "kwargs": {"epochs": epochs, **train_kwargs}}
    for split, n, offset in (("train", n_train, TRAIN_ID), ("val", n_val, VAL_ID),
                             ("test", n_test, TEST_ID)):
        number = offset + np.arange(n)
        if kind == "images":
            x = np.broadcast_to(number[:, None, None, None], (n, 1, 8, 8)).astype(np.float32)
        else:
            x = np.c_[number, rng.integers(2, 50, (n, 4))].astype(np.int64)
        out[f"X_{split}"] = np.ascontiguousarray(x)
        out[f"y_{split}"] = rng.integers(0, n_classes, n).astype(np.int64)
    return out


def training_loop_probe(ns: dict, inputs: dict) -> dict:
    """Train a spy model with the learner's ``train_model``, then call ``predict`` on it.

    Self-contained (the grader sends its source into the sandbox). The spy
    numbers every sample it sees, records the mode it was called in, and
    scores best on validation after epoch ``best_epoch``; it returns
    ``(logits, None)`` for token ids (like the LSTM exercise's models).
    """
    import torch
    from torch import nn

    images = inputs["kind"] == "images"
    n_classes, best = int(inputs["n_classes"]), int(inputs["best_epoch"])
    y_val = torch.from_numpy(inputs["y_val"])

    class Spy(nn.Module):
        def __init__(self):
            super().__init__()
            self.pad_index = 0
            self.linear = nn.Linear(1, n_classes)
            self.calls, self.snapshots, self.epoch, self.last = [], {}, 0, ""

        def forward(self, x):
            number = (x.detach().float().flatten(1).mean(dim=1) if images
                      else x[:, 0].detach().float()).round().long()
            kind = "test" if number[0] >= 20_000 else "val" if number[0] >= 10_000 else "train"
            if kind == "val" and self.last == "train":
                self.epoch += 1
                self.snapshots[self.epoch] = [p.detach().clone() for p in self.parameters()]
            self.last = kind
            self.calls.append((kind, number.tolist(), self.training, torch.is_grad_enabled(),
                               self.epoch))
            logits = self.linear((number % 7).float()[:, None] / 7)
            if kind == "val":
                right = y_val[number - 10_000]
                target = right if self.epoch == best else (right + 1) % n_classes
                logits = logits * 0 + 10 * nn.functional.one_hot(target, n_classes).float()
            return logits if images else (logits, None)

    torch.manual_seed(0)
    model = Spy()
    ns["train_model"](model, torch.from_numpy(inputs["X_train"]),
                      torch.from_numpy(inputs["y_train"]), torch.from_numpy(inputs["X_val"]),
                      torch.from_numpy(inputs["y_val"]), **inputs["kwargs"])
    final = [p.detach().clone() for p in model.parameters()]
    model.train()
    ns["predict"](model, torch.from_numpy(inputs["X_test"]))
    kept = model.snapshots.get(best)
    last = model.snapshots.get(max(model.snapshots, default=0))
    epochs = max(model.epoch, 1 + max((c[4] for c in model.calls if c[0] == "train"), default=-1))
    return {
        "train_orders": [[i - 100 for c in model.calls if c[0] == "train" and c[4] == e
                          for i in c[1]] for e in range(epochs)],
        "val_modes": [[c[2], c[3]] for c in model.calls if c[0] == "val"],
        "val_epochs": model.epoch,
        "predict_modes": [[c[2], c[3]] for c in model.calls if c[0] == "test"],
        "restored": kept is not None and all(torch.equal(a, b) for a, b in zip(final, kept)),
        "changed": kept is not None and last is not None and not all(
            torch.equal(a, b) for a, b in zip(kept, last)),
    }


def loop_rule_problems(outputs: dict, inputs: dict) -> dict[str, str]:
    """For each of :data:`LOOP_RULES`, what :func:`training_loop_probe` saw break it
    (``""``: kept). ``outputs`` is untrusted: anything malformed breaks the rule."""
    n, epochs = len(inputs["y_train"]), inputs["kwargs"]["epochs"]
    best = inputs["best_epoch"]
    orders, val, preds = (outputs.get(k) for k in ("train_orders", "val_modes", "predict_modes"))
    out = dict.fromkeys(LOOP_RULES, "")
    try:
        perms = [sorted(o) == list(range(n)) for o in orders]
        if len(orders) != epochs or not all(perms):
            out["shuffle"] = (f"with epochs={epochs}, every epoch should visit each of the {n} "
                              "training samples once")
        elif orders[0] == list(range(n)) or any(o == orders[0] for o in orders[1:]):
            out["shuffle"] = ("the training samples came in the same order in two epochs (or in "
                              "their stored order): shuffle at the start of every epoch")
    except TypeError:
        out["shuffle"] = "the order of the training samples could not be read"
    try:
        if outputs.get("val_epochs") != epochs:
            out["validation"] = (f"the model saw the validation data after {outputs.get('val_epochs')}"
                                 f" of {epochs} epochs; measure it after every epoch")
        elif not all(t is False and g is False for t, g in val):
            out["validation"] = ("the validation data reached the model in training mode or with "
                                 "gradients on: call model.eval() and use torch.no_grad()")
    except (TypeError, ValueError):
        out["validation"] = "the validation calls could not be read"
    if outputs.get("restored") is not True or outputs.get("changed") is not True:
        out["restore"] = (f"the spy model was best on validation after epoch {best} of {epochs}, "
                          "but train_model returned it with other weights: keep a copy "
                          "(copy.deepcopy(model.state_dict())) of the best epoch and load it at "
                          "the end")
    try:
        if not preds or not all(t is False and g is False for t, g in preds):
            out["predict"] = ("predict ran the model in training mode or with gradients on: "
                              "call model.eval() and use torch.no_grad() inside predict")
    except (TypeError, ValueError):
        out["predict"] = "the calls of predict could not be read"
    return out


def with_loop_rules(outcome: CheckOutcome, train_model: Callable, predict: Callable, kind: str,
                    **train_kwargs: Any) -> CheckOutcome:
    """``outcome`` of the history check, failed when the loop breaks one of :data:`LOOP_RULES`
    (seen by training a spy model with :func:`training_loop_probe`)."""
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
                        "evaluation mode without gradients and restores the best epoch's "
                        "weights; predict runs in evaluation mode.")
