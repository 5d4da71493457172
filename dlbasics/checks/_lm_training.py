"""The training-loop rules of the language-model exercise, judged from behaviour.

Not an exercise module (the leading underscore keeps :func:`dlbasics.checks.available`
from loading it). Exercise 4's public check and its grader share it, as
``_training.py`` serves Exercises 2 and 3.

The learner's ``train_model`` trains a small model of the grader's making, a
*probe*, three times (:func:`lm_loop_probe`): under ``seed=0``, again under
``seed=0`` and under ``seed=1``. The probe answers differently in each mode:

* in training mode its logits are a bigram table ``table[ids]`` that starts at
  zero, so only the rows of characters that were inputs of a training batch move
  (positions past ``block_size`` also use an ``overflow`` table, which moves only if
  a window is too long);
* in evaluation mode under ``torch.no_grad()`` its logits are a fixed table that
  gives every character of the validation text the same loss, so a validation loss
  computed the right way is a number the grader knows exactly; with gradients on
  it gives another number, and a learnable ``eval_shift`` (zero at the start) moves
  only if a training step runs in evaluation mode.

The rules follow from the weights and losses that come back
(:func:`lm_loop_rule_problems`), in the grader's process: a run that repeats under
the same seed and changes under another drew its windows at random from the seed;
rows of characters that the training text lacks (the validation text has every
character) stay zero unless batches came from elsewhere; and the validation losses
are the fixed table's. Nothing the learner's process says is taken as a verdict.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

LM_LOOP_RULES = {
    "windows": "Training batches are random windows of at most block_size characters of "
               "train_ids, in training mode",
    "validation": "The validation loss is computed in evaluation mode under torch.no_grad()",
}
"""The rules of ``train_model`` that training the probe shows, each worth the same."""

LM_LOOP_RUNS = (("first", 0), ("again", 0), ("other", 1))
"""``(run, seed)``: the probe is trained once per run, from the same (zero) weights."""

PEAK = 2.0
"""The fixed evaluation table's logit for the character that follows in the validation text."""


def lm_loop_inputs(seed: int, vocab_size: int, block_size: int = 16, steps: int = 30,
                   eval_every: int = 10) -> dict:
    """Inputs of :func:`lm_loop_probe`: a training text, a validation text and the tables.

    The training text is the toy language (``make_toy_text``), which never uses some
    characters; the validation text cycles through every character in an order drawn
    from ``seed``, and the evaluation table peaks on that order, so each validation
    character has the same loss in evaluation mode.
    """
    from dlbasics.toy_language import encode_chars, make_toy_text

    train = encode_chars(make_toy_text(5000, seed=seed)).astype(np.int64)
    absent = np.flatnonzero(np.bincount(train, minlength=vocab_size) == 0)
    if absent.size == 0:
        raise ValueError(f"the training text of seed {seed} uses every character: the probe "
                         "needs characters it lacks")
    order = np.random.default_rng(seed).permutation(vocab_size)
    val = np.tile(order, 1000 // vocab_size + 1)[:1000].astype(np.int64)
    table = np.zeros((vocab_size, vocab_size), dtype=np.float32)
    table[order, np.roll(order, -1)] = PEAK
    return {"vocab_size": vocab_size, "block_size": block_size, "steps": steps,
            "eval_every": eval_every, "train_ids": train, "val_ids": val, "eval_table": table,
            "absent": absent}


def lm_loop_probe(ns: dict, inputs: dict) -> dict:
    """Train the probe with the learner's ``ns["train_model"]`` once per :data:`LM_LOOP_RUNS`.

    Self-contained (the grader sends its source into the sandbox). Returns plain data
    per run: the learnable tables after training (``{run}_table``, ``{run}_eval_shift``,
    ``{run}_overflow``), the history's ``val_loss`` (``{run}_val_loss``), or the
    error ``train_model`` raised (``{run}_error``).
    """
    import torch
    from torch import nn

    vocab, block = int(inputs["vocab_size"]), int(inputs["block_size"])

    class ProbeLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.block_size = block
            self.table = nn.Parameter(torch.zeros(vocab, vocab))
            self.eval_shift = nn.Parameter(torch.zeros(vocab, vocab))
            self.overflow = nn.Parameter(torch.zeros(vocab, vocab))
            self.register_buffer("fixed", torch.as_tensor(inputs["eval_table"]))

        def forward(self, ids):
            if not isinstance(ids, torch.Tensor) or ids.ndim != 2:
                got = (f"shape {tuple(ids.shape)}" if isinstance(ids, torch.Tensor)
                       else type(ids).__name__)
                raise ValueError(f"the model takes ids of shape (batch, T); got {got}")
            if self.training:  # positions past block_size leave a trace in `overflow`
                past = torch.zeros(ids.shape[1], 1)
                past[block:] = 1.0
                return self.table[ids] + past * self.overflow[ids]
            sign = -1.0 if torch.is_grad_enabled() else 1.0
            return sign * self.fixed[ids] + self.eval_shift[ids]

    train, val = (torch.from_numpy(inputs[k]) for k in ("train_ids", "val_ids"))
    out = {}
    for run, seed in (("first", 0), ("again", 0), ("other", 1)):
        model = ProbeLM()
        try:
            history = ns["train_model"](model, train.clone(), val.clone(),
                                        steps=int(inputs["steps"]),
                                        eval_every=int(inputs["eval_every"]), seed=seed)
        except Exception as exc:
            out[f"{run}_error"] = f"{type(exc).__name__}: {exc}"[:300]
            continue
        out[f"{run}_table"] = model.table.detach().tolist()
        out[f"{run}_eval_shift"] = model.eval_shift.detach().tolist()
        out[f"{run}_overflow"] = model.overflow.detach().tolist()
        losses = history.get("val_loss") if isinstance(history, dict) else None
        out[f"{run}_val_loss"] = [float(v) for v in losses] if isinstance(losses, (list, tuple)) \
            else None
    return out


HISTORY_RULE = ("History: its last validation loss is the trained model's, and training lowered "
                "it below the untrained model's")
"""The history's rule. The judge computes both losses itself (the grader from the exported
models, where no learner code runs); the history only has to agree with them."""

HISTORY_RTOL = 0.02
"""How close the history's last validation loss must be to the judge's: a windowing that differs
by a window, or a record a step before the end, stays well within it; a number not computed
from the model does not."""


def validation_windows(ids: np.ndarray, block_size: int) -> tuple[np.ndarray, np.ndarray]:
    """``evaluate_loss``'s windows of ``ids`` (int ``(n,)``): consecutive inputs of
    ``block_size`` characters and the same shifted by one, both ``((n - 1) // block_size,
    block_size)``."""
    ids = np.asarray(ids, dtype=np.int64)
    count = (len(ids) - 1) // block_size
    return (ids[:count * block_size].reshape(count, block_size),
            ids[1:count * block_size + 1].reshape(count, block_size))


def history_problem(history: Any, untrained: float, trained: float) -> str | None:
    """Why ``history`` (what ``train_model`` returned; untrusted) breaks :data:`HISTORY_RULE`
    (``None``: it keeps it), given the validation losses of the untrained and the trained
    model that the judge computed itself."""
    if not isinstance(history, dict):
        return f"train_model should return a dict, got {type(history).__name__}"
    try:
        train = np.asarray(history.get("train_loss"), dtype=np.float64)
        val = np.asarray(history.get("val_loss"), dtype=np.float64)
    except (TypeError, ValueError):
        return "history['train_loss'] and history['val_loss'] should be lists of numbers"
    if train.ndim != 1 or train.shape != val.shape or len(train) < 2:
        return (f"history['train_loss'] and history['val_loss'] should hold one value per "
                f"record, at least two (got shapes {train.shape} and {val.shape})")
    if not (np.all(np.isfinite(train)) and np.all(np.isfinite(val))):
        return "the history contains NaN or inf: the training diverged"
    if not abs(val[-1] - trained) <= HISTORY_RTOL * trained:
        return (f"the last validation loss of the history ({val[-1]:.3f}) is not the trained "
                f"model's loss on val_ids ({trained:.3f}, as evaluate_loss defines it): record "
                "evaluate_loss(model, val_ids) after the last step")
    if not trained < untrained:
        return (f"training did not lower the validation loss (untrained model {untrained:.3f}, "
                f"trained {trained:.3f})")
    return None


def _table(value: Any, vocab: int) -> np.ndarray | None:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return arr if arr.shape == (vocab, vocab) and np.all(np.isfinite(arr)) else None


def validation_losses(inputs: dict) -> tuple[float, float]:
    """The loss of every validation character in evaluation mode: under ``torch.no_grad()``
    (the right way) and with gradients on."""
    vocab = int(inputs["vocab_size"])

    def loss(peak: float) -> float:  # one logit `peak`, vocab - 1 logits 0; the target peaks
        return math.log(math.exp(peak) + vocab - 1) - peak

    return loss(PEAK), loss(-PEAK)


def lm_loop_rule_problems(outputs: dict, inputs: dict) -> dict[str, str]:
    """For each of :data:`LM_LOOP_RULES`, what the runs of :func:`lm_loop_probe` show breaking it
    (``""``: kept). ``outputs`` is untrusted: anything malformed breaks the rule it is needed
    for."""
    vocab, block = int(inputs["vocab_size"]), int(inputs["block_size"])
    out = dict.fromkeys(LM_LOOP_RULES, "")
    for run, seed in LM_LOOP_RUNS:
        error = outputs.get(f"{run}_error")
        if error is not None:
            why = (f"train_model(..., seed={seed}) raised on the grader's model (a bigram table "
                   f"with block_size = {block}): {str(error)[:300]}")
            return dict.fromkeys(LM_LOOP_RULES, why)
    tables = {run: _table(outputs.get(f"{run}_table"), vocab) for run, _ in LM_LOOP_RUNS}
    shifts = [_table(outputs.get(f"{run}_eval_shift"), vocab) for run, _ in LM_LOOP_RUNS]
    overflows = [_table(outputs.get(f"{run}_overflow"), vocab) for run, _ in LM_LOOP_RUNS]
    if any(t is None for t in [*tables.values(), *shifts, *overflows]):
        return dict.fromkeys(LM_LOOP_RULES, "the grader's model came back unreadable")
    first = tables["first"]
    if any(np.any(o != 0) for o in overflows):
        out["windows"] = (f"a training batch had more than block_size = {block} positions: "
                          "cut windows of block_size characters (and the targets one further)")
    elif any(np.any(s != 0) for s in shifts):
        out["windows"] = ("a training step ran in evaluation mode: call model.train() before "
                          "the training steps (evaluate_loss leaves the model in evaluation mode)")
    elif not np.any(first != 0):
        out["windows"] = "train_model left the model's weights as they were: no training step"
    elif np.any(first[inputs["absent"]] != 0):
        out["windows"] = ("the model was trained on characters that train_ids does not hold: "
                          "draw every training window from train_ids")
    elif not np.array_equal(first, tables["again"]):
        out["windows"] = ("two runs with seed=0 ended with different weights: draw the window "
                          "starts from a torch.Generator seeded with seed")
    elif np.array_equal(first, tables["other"]):
        out["windows"] = ("runs with seed=0 and seed=1 ended with the same weights: draw every "
                          "batch's window starts at random (torch.randint with a generator "
                          "seeded with seed)")
    right, with_grad = validation_losses(inputs)
    records = -(-int(inputs["steps"]) // int(inputs["eval_every"]))
    losses = outputs.get("first_val_loss")
    if not isinstance(losses, list) or len(losses) != records or not all(
            isinstance(v, float) and math.isfinite(v) for v in losses):
        out["validation"] = (f"with steps={inputs['steps']} and eval_every="
                             f"{inputs['eval_every']}, history['val_loss'] should hold "
                             f"{records} finite values")
    elif all(abs(v - with_grad) < abs(v - right) for v in losses):  # nearer the gradients-on loss
        out["validation"] = ("the validation loss was computed with gradients on: compute it "
                             "under torch.no_grad()")
    elif not all(abs(v - right) < 1e-3 for v in losses):
        out["validation"] = ("the validation losses are not the model's losses in evaluation "
                             "mode (the grader's model answers differently in training mode): "
                             "call model.eval() before evaluating, under torch.no_grad(), "
                             f"and model.train() after (expected {right:.4f} at every record, "
                             f"got {', '.join(f'{v:.4f}' for v in losses[:4])})")
    return out
