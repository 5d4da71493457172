"""Scoring a training run in the grader: its history, predictions and held-out accuracy.

The PyTorch exercises (``hidden_exercises/ex2.py``, ``ex3.py``) grade the same
``train_model``/``predict`` contract in the same way. In the learner's sandbox,
one probe trains the learner's model on the grader's (already preprocessed)
training data and returns the history, ``predict``'s labels for the validation
data and the trained model as a graph (:mod:`dlbasics.checks._export`); another
trains the grader's own small model with ``train_model`` and returns its weights
(:func:`dlbasics.checks._training.training_loop_probe`), from which the rules of
the loop are judged here. The graph is evaluated on the held-out data in a sandbox
that runs no learner code (:mod:`dlbasics_grader.heldout`).
:func:`score_training_run` turns all of that into two results, the form of the
history and predictions with the loop's rules (``exN.training``) and the
held-out accuracy within the CPU budget (``exN.accuracy``).

Like every ``score`` helper, these run in the grader only and treat every
output as untrusted data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from dlbasics.checks._training import LOOP_RULES, MIN_AGREEMENT, agreement
from dlbasics_grader.heldout import graph_problem, outputs_of, tier
from dlbasics_grader.spec import Part, ProbeResult, TestResult, as_array

__all__ = ["history_problems", "labels_problem", "score_training_run"]


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


def labels_problem(pred: Any, graph_labels: np.ndarray | None, *, name: str, item: str
                   ) -> str | None:
    """Why ``predict``'s labels are not the exported model's (``None``: they are).

    Parameters
    ----------
    pred : Any
        What ``predict`` returned on the validation data (untrusted).
    graph_labels : np.ndarray or None
        The class of the largest output of the exported graph on the same data
        (``None`` when there is no graph: then only the form is checked).
    name, item : str
        How messages call the call and one sample.
    """
    arr, msg = as_array(pred, name)
    if arr is None:
        return msg
    if arr.ndim != 1 or (graph_labels is not None and arr.shape != graph_labels.shape):
        return f"{name} should return one label per {item}, got shape {arr.shape}"
    if arr.dtype.kind not in "iu" and not np.array_equal(arr, np.round(arr)):
        return f"{name} should return integer labels, got dtype {arr.dtype}"
    if graph_labels is not None:
        share = agreement(arr, graph_labels)
        if share < MIN_AGREEMENT:
            return (f"{name} gave the class of the model's largest output for only {share:.0%} "
                    f"of the {item}s (at least {MIN_AGREEMENT:.0%} needed): return "
                    "model(X).argmax(dim=1) in evaluation mode")
    return None


def _val_accuracy_problem(history: Any, val_out: np.ndarray, y_val: np.ndarray) -> list[str]:
    """Why no epoch of ``history`` (``val_accuracy``, already of the right form) has the
    exported model's validation accuracy (empty: one has)."""
    acc = float(np.mean(val_out.argmax(axis=1) == y_val))
    values = np.asarray(history, dtype=np.float64)
    if np.any(np.abs(values - acc) <= 1.5 / len(y_val)):
        return []
    return [f"history['val_accuracy'] holds no epoch with the returned model's validation "
            f"accuracy ({acc:.1%}, as the grader measures it on the exported model): compute "
            "it on the validation data with the model in evaluation mode"]


def score_training_run(
    train_part: Part,
    acc_part: Part,
    outputs: Mapping[str, Any],
    heldout: ProbeResult,
    y_test: np.ndarray,
    *,
    n_val: int,
    n_classes: int,
    predict_name: str,
    item: str,
    setup: str,
    acc_full: float,
    acc_tiers: Sequence[tuple[float, float]],
    cpu_s: float,
    cpu_budget_s: float,
    loop: Mapping[str, str],
    chance_max: float,
    hint: str = "",
    y_val: np.ndarray | None = None,
) -> tuple[TestResult, TestResult]:
    """Score a training run: the form of its results and the loop, then the held-out accuracy.

    Parameters
    ----------
    train_part, acc_part : Part
        The parts for the history/prediction form with the loop's rules, and for the accuracy.
    outputs : mapping
        The training probe's outputs (see :func:`history_problems`), with ``pred_val``
        (``predict`` on the validation data).
    heldout : ProbeResult
        The evaluation of the exported graph (:func:`dlbasics_grader.heldout.graph_outputs`
        on ``X_test`` and ``X_val``, with the reset run).
    y_test : np.ndarray, shape (n,)
        The held-out labels.
    n_val, n_classes : int
        Validation samples and classes (the shapes of the graph's outputs).
    predict_name, item
        How messages call ``predict``'s call and one sample.
    setup : str
        What the grader did, opening every accuracy message.
    acc_full : float
        The accuracy that earns full marks, quoted as the target.
    acc_tiers : sequence of (float, float)
        ``(threshold, points)`` from the highest threshold down.
    cpu_s : float
        CPU seconds the learner's sandbox used in the notebook's cells and the training
        run, measured by the grader from outside.
    cpu_budget_s : float
        Most CPU seconds those may take; over it, the accuracy part gets 0 (``timeout``).
    loop : mapping
        What broke each rule of :data:`dlbasics.checks._training.LOOP_RULES` (``""``: kept).
    chance_max : float
        Highest accuracy the graph may reach with its parameters shuffled.
    hint : str
        Appended to the accuracy message when the accuracy earns partial credit.
    y_val : np.ndarray, shape (n_val,), optional
        The validation labels: one of ``history['val_accuracy']`` must then be the exported
        model's validation accuracy, as the grader measures it (unless the validation rule is
        already broken), so the history is checked against what the grader computed.

    Returns
    -------
    tuple of TestResult
        ``(training result, accuracy result)``. The training result gives half its points
        to the form of the history and predictions and the other half, in equal shares, to
        the rules of the loop. The accuracy message names the band reached, not the
        accuracy itself, so that repeated submissions cannot read the held-out set.
    """
    val_out, _ = outputs_of(heldout, "X_val", (n_val, n_classes))
    lines = history_problems(outputs)
    problem = labels_problem(outputs.get("pred_val"), None if val_out is None
                             else val_out.argmax(axis=1), name=predict_name, item=item)
    lines += [problem] if problem else []
    if not lines and y_val is not None and val_out is not None and not loop.get("validation"):
        lines += _val_accuracy_problem(outputs.get("val_accuracy"), val_out, y_val)
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

    test_out, problem = outputs_of(heldout, "X_test", (len(y_test), n_classes))
    if test_out is None:
        status = heldout.test_status() if not heldout.ok else "failed"
        return train, acc_part.failed(f"{setup}\nNo held-out accuracy: {problem}", status=status)
    if not cpu_s <= cpu_budget_s:
        return train, acc_part.failed(
            f"{setup}\nYour notebook's cells and the training run took {cpu_s:.0f} s of CPU "
            f"time, over the budget of {cpu_budget_s:.0f} s: use fewer epochs or a smaller "
            "model, and train nothing heavy in the notebook's own cells.", status="timeout")

    def reset_metric(reset: Any) -> tuple[bool, str]:
        arr, _ = as_array(reset, "reset")
        if arr is None or arr.shape != test_out.shape or not np.all(np.isfinite(arr)):
            return False, ""
        acc_reset = float(np.mean(arr.argmax(axis=1) == y_test))
        return acc_reset >= chance_max, f"gets {tier(acc_reset, [(chance_max, 0.0)])[1]} right"

    problem = graph_problem(heldout, reset_metric, chance="a model that has not learned is "
                            "near chance")
    acc = float(np.mean(test_out.argmax(axis=1) == y_test))
    earned, band = tier(acc, acc_tiers)
    msg = (f"{setup}\nHeld-out accuracy: {band} (target {acc_full:.0%}); CPU time of the cells "
           f"and the training run: {cpu_s:.0f} s of {cpu_budget_s:.0f} s.")
    if problem:
        return train, acc_part.failed(f"{msg}\nNo accuracy points: {problem}.")
    if earned == acc_part.max_score:
        return train, acc_part.passed(msg)
    tiers = ", ".join(f"{t:.0%}: {p:g}" for t, p in acc_tiers)
    return train, acc_part.failed(f"{msg}\nPoints by accuracy: {tiers}." + hint, score=earned)
