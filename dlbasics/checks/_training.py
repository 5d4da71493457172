"""The public check of a ``train_model``/``predict`` pair, shared by the PyTorch exercises.

Not an exercise module (the leading underscore keeps :func:`available` from
loading it); ``checks/ex2.py`` and ``checks/ex3.py`` train their own small
model and hand the result here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dlbasics.checks import CheckOutcome


def check_history_and_predict(
    history: Any,
    predict: Callable[[], Any],
    *,
    epochs: int,
    n_labels: int,
    fmt: Callable[[Any], str],
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
    fmt : callable
        Formats an array for the details of a failed check.
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
