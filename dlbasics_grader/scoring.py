"""Scoring a training run in the grader: its history, predictions and accuracy.

The PyTorch exercises (``hidden_exercises/ex2.py``, ``ex3.py``) grade the same
``train_model``/``predict`` contract in the same way: one probe trains the
learner's model on the grader's data and returns ``history_type``,
``train_loss``, ``val_accuracy`` (or ``<key>_error``), ``pred`` and ``cpu_s``;
another trains a spy model (:func:`dlbasics.checks._training.training_loop_probe`)
that sees whether the loop shuffles, validates in evaluation mode and restores
the best weights. :func:`score_training_run` turns those outputs into two
results, the form of the history and predictions with the loop's rules
(``exN.training``) and the held-out accuracy within the CPU budget
(``exN.accuracy``). What differs between exercises
(the data, the wording of the setup, thresholds) comes in as arguments.

Like every ``score`` helper, these run in the grader only and treat the
outputs as untrusted data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from dlbasics.checks._training import LOOP_RULES, MIN_AGREEMENT, agreement
from dlbasics_grader.spec import Part, TestResult, as_array

__all__ = ["history_problems", "model_use_problem", "prediction_accuracy", "score_training_run"]


def history_problems(outputs: Mapping[str, Any]) -> list[str]:
    """What is wrong with the history ``train_model`` returned (first problem only).

    Parameters
    ----------
    outputs : mapping
        A training probe's outputs: ``history_type`` (the type's name),
        ``train_loss`` and ``val_accuracy`` (lists of floats, one per epoch) or
        ``train_loss_error``/``val_accuracy_error`` when they could not be read.

    Returns
    -------
    list of str
        Empty when the history is a dict of two finite per-epoch lists of the
        same length, the loss falls from the first epoch to the last and the
        accuracies lie in ``[0, 1]``; else one message for the learner.
    """
    losses, msg = as_array(outputs.get("train_loss"), "history['train_loss']")
    val_acc, msg_v = as_array(outputs.get("val_accuracy"), "history['val_accuracy']")
    if outputs.get("history_type") != "dict":
        return [f"train_model should return a dict, got {outputs.get('history_type')}"]
    if losses is None or val_acc is None:
        return [outputs.get("train_loss_error") or outputs.get("val_accuracy_error") or msg
                or msg_v]
    if losses.ndim != 1 or len(losses) == 0 or val_acc.shape != losses.shape:
        return ["history['train_loss'] and history['val_accuracy'] should be lists with one "
                f"value per epoch (got {losses.shape} and {val_acc.shape})"]
    if not (np.all(np.isfinite(losses)) and np.all(np.isfinite(val_acc))):
        return ["the history contains NaN or inf: the training diverged"]
    if len(losses) > 1 and not losses[-1] < losses[0]:
        return [f"the training loss did not fall ({losses[0]:.3f} in the first epoch, "
                f"{losses[-1]:.3f} in the last)"]
    if not np.all((val_acc >= 0) & (val_acc <= 1)):
        return ["validation accuracies should be fractions in [0, 1]"]
    return []


def prediction_accuracy(
    pred: Any, y_true: np.ndarray, *, name: str, item: str
) -> tuple[float | None, list[str]]:
    """Accuracy of untrusted predicted labels, or why they cannot be scored.

    Parameters
    ----------
    pred : Any
        What ``predict`` returned, expected to be labels of shape ``(n,)``.
    y_true : np.ndarray, shape (n,)
        The held-out labels (integers).
    name : str
        How messages call the call that made ``pred`` (``"predict(model, X_test)"``).
    item : str
        What one sample is, for messages (``"image"``, ``"review"``).

    Returns
    -------
    accuracy : float or None
        Fraction of ``pred == y_true``; ``None`` when ``pred`` is not a numeric
        array of integer labels of shape ``(n,)``.
    problems : list of str
        Empty when ``accuracy`` is a number, else one message.
    """
    arr, msg = as_array(pred, name)
    if arr is None:
        return None, [msg]
    if arr.shape != y_true.shape:
        return None, [f"predict should return one label per {item}, shape {y_true.shape}; got "
                      f"{arr.shape}"]
    if arr.dtype.kind not in "iu" and not np.array_equal(arr, np.round(arr)):
        return None, [f"predict should return integer labels, got dtype {arr.dtype}"]
    return float(np.mean(arr == y_true)), []


def model_use_problem(
    outputs: Mapping[str, Any], y_true: np.ndarray, *, item: str, untrained: str,
    chance_max: float,
) -> str | None:
    """Why the held-out predictions do not come from the trained model (None: they do).

    The probe, after ``pred = predict(model, X_test)``, returns what
    :func:`dlbasics.checks._training.model_use_outputs` computes: the labels of
    the model's own outputs (``forward_pred``), ``predict`` with an untrained
    model (``untrained_pred``) and that model's own labels
    (``untrained_forward``), and ``predict`` with the trained model holding the
    untrained parameters (``reset_pred``). A ``predict`` that uses the model
    it is given agrees with the model's labels on (almost) every sample and is
    near chance with untrained parameters; one that ignores the model (a
    nearest-neighbour search, a rule, labels kept from elsewhere) fails one of
    the four rules below.

    Parameters
    ----------
    outputs : mapping
        The probe's outputs (untrusted).
    y_true : np.ndarray, shape (n,)
        The held-out labels.
    item : str
        What one sample is, for messages (``"image"``, ``"review"``).
    untrained : str
        How the untrained model was made, for messages.
    chance_max : float
        Highest held-out accuracy ``predict`` may reach with untrained
        parameters (far above chance: 10 % for 10 classes, about 50 % for 2).
    """
    for key in ("forward_pred", "untrained_pred", "untrained_forward", "reset_pred"):
        arr, _ = as_array(outputs.get(key), key)
        if arr is None or arr.shape != y_true.shape:
            error = outputs.get(f"{key}_error")
            return ("the grader could not check that predict uses the model it is given ("
                    f"{error if isinstance(error, str) else f'{key} is missing or malformed'})")
    lead = "predict does not use the model it is given:"
    for key, reference, what in (
            ("pred", "forward_pred", "the trained model"),
            ("untrained_pred", "untrained_forward", f"an untrained model ({untrained})")):
        share = agreement(outputs.get(key), np.asarray(outputs[reference]))
        if share < MIN_AGREEMENT:
            return (f"{lead} with {what}, its labels are the class of the model's largest output "
                    f"for only {share:.0%} of the held-out {item}s (at least {MIN_AGREEMENT:.0%} "
                    "needed)")
    for key, what in (("untrained_pred", f"an untrained model ({untrained})"),
                      ("reset_pred", "the trained model's parameters replaced by untrained ones")):
        acc = agreement(outputs.get(key), y_true)
        if acc >= chance_max:
            return (f"{lead} with {what} it still gets {acc:.0%} of the held-out {item}s right "
                    f"(at most {chance_max:.0%} allowed; a model that has not learned is near "
                    "chance)")
    return None


def score_training_run(
    train_part: Part,
    acc_part: Part,
    outputs: Mapping[str, Any],
    y_true: np.ndarray,
    *,
    predict_name: str,
    item: str,
    setup: str,
    acc_full: float,
    acc_tiers: Sequence[tuple[float, float]],
    cpu_budget_s: float,
    loop: Mapping[str, str],
    note: str = "",
    hint: str = "",
    untrained: str = "",
    chance_max: float | None = None,
) -> tuple[TestResult, TestResult]:
    """Score a training probe: the form of its results, then the held-out accuracy.

    Parameters
    ----------
    train_part, acc_part : Part
        The parts for the history/prediction form and for the accuracy.
    outputs : mapping
        The probe's outputs (see :func:`history_problems`), with ``pred`` (the
        predicted labels) and ``cpu_s`` (CPU seconds the run took).
    y_true : np.ndarray, shape (n,)
        The held-out labels.
    predict_name, item
        Passed to :func:`prediction_accuracy`.
    setup : str
        What the grader did, opening every accuracy message.
    acc_full : float
        The accuracy that earns full marks, quoted as the target.
    acc_tiers : sequence of (float, float)
        ``(threshold, points)`` from the highest threshold down; the first
        threshold the accuracy reaches gives its points (else 0).
    cpu_budget_s : float
        Most CPU seconds training and prediction may take; over it, the
        accuracy part gets 0 with status ``timeout``.
    loop : mapping
        What broke each rule of the training loop
        (:data:`dlbasics.checks._training.LOOP_RULES`; ``""``: kept), as
        :func:`dlbasics.checks._training.loop_rule_problems` finds it.
    note : str
        Appended to every accuracy message (e.g. that the grader's own
        preprocessing was used).
    hint : str
        Appended to the accuracy message when the accuracy earns partial credit.
    untrained, chance_max
        When ``chance_max`` is given, the accuracy part gets 0 unless the
        predictions come from the trained model (:func:`model_use_problem`,
        which gets both).

    Returns
    -------
    tuple of TestResult
        ``(training result, accuracy result)``. The training result gives
        half its points to the form of the history and predictions and the
        other half, in equal shares, to the rules of the loop.
    """
    lines = history_problems(outputs)
    acc, problems = prediction_accuracy(outputs.get("pred"), y_true, name=predict_name, item=item)
    lines += problems
    half = train_part.max_score / 2
    share = half / len(LOOP_RULES)
    form = 0.0 if lines else half
    rows = [f"History and predictions of the right form: {form:g}/{half:g}"
            + "".join(f"\n  - {x}" for x in lines)]
    for rule, what in LOOP_RULES.items():
        problem = loop.get(rule, "not checked")
        rows.append(f"{what[:1].upper()}{what[1:]}: {0 if problem else share:g}/{share:g}"
                    + (f"\n  - {problem}" if problem else ""))
    earned_loop = share * sum(not loop.get(rule, "not checked") for rule in LOOP_RULES)
    text = "\n".join(rows)
    train = train_part.passed(text) if form + earned_loop == train_part.max_score else \
        train_part.failed(text, score=form + earned_loop)
    cpu = outputs.get("cpu_s")
    if acc is None:
        return train, acc_part.failed(setup + " No usable predictions:\n"
                                      + "\n".join(f"- {x}" for x in lines) + note)
    if not isinstance(cpu, (int, float)) or not cpu <= cpu_budget_s:
        return train, acc_part.failed(
            f"{setup}\nTraining and prediction took {cpu} s of CPU time, over the budget of "
            f"{cpu_budget_s:.0f} s: use fewer epochs or a smaller model." + note,
            status="timeout")
    earned = next((pts for threshold, pts in acc_tiers if acc >= threshold), 0.0)
    msg = f"{setup}\nHeld-out accuracy {acc:.1%} (target {acc_full:.0%}), CPU time {cpu:.1f} s."
    problem = None if chance_max is None else model_use_problem(
        outputs, y_true, item=item, untrained=untrained, chance_max=chance_max)
    if problem:
        return train, acc_part.failed(f"{msg}\nNo accuracy points: {problem}. The labels must "
                                      "be the model's: model(X).argmax(dim=1)." + note)
    if earned == acc_part.max_score:
        return train, acc_part.passed(msg + note)
    tiers = ", ".join(f"{t:.0%}: {p:g}" for t, p in acc_tiers)
    return train, acc_part.failed(f"{msg}\nPoints by accuracy: {tiers}." + hint + note,
                                  score=earned)
