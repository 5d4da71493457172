"""Exercise 4's public checks read what the grader reads: the exported graph.

The grader decides whether a part runs PyTorch's own attention from the part's traced graph,
evaluated where no learner code runs (``hidden_exercises/ex4.py``); the public checks export
the same graph and say so first, whether the attention is named, hidden from the scan, or
swapped for another computation while ``torch.jit`` traces.
"""

from __future__ import annotations

import pytest

from ..grading.test_ex4 import FORBIDDEN_ATTENTION
from ..helpers import SOLUTIONS, definition_cells, namespace_of

NOTEBOOK = "ex4_transformer.ipynb"
SCORES_LINE = ("        scores = q @ k.transpose(-2, -1) / math.sqrt(d_head)        "
               "# (batch, heads, T, T)\n")
CHECKS = {"ex4.attention": "MultiHeadSelfAttention", "ex4.block": "TransformerBlock",
          "ex4.model": "CharTransformer"}


def _namespace(change: str | None = None) -> dict:
    cells = definition_cells(SOLUTIONS / NOTEBOOK, drop=("def ngram_perplexity",),
                             change=((SCORES_LINE, change),) if change else ())
    return namespace_of(cells)


@pytest.mark.parametrize("name", list(CHECKS))
def test_the_solution_passes_with_its_exported_graph(name):
    from dlbasics.checks import run

    outcome = run(name, _namespace()[CHECKS[name]])
    assert outcome.ok, outcome


TRACED_OTHERWISE = ("        if torch.jit.is_tracing():\n"
                    "            return self.out(v.transpose(1, 2).reshape(batch, T, d_model))\n"
                    + SCORES_LINE)
"""Right attention when called, another computation when traced."""


@pytest.mark.parametrize("name", list(CHECKS))
def test_pytorch_attention_hidden_from_the_scan_is_found(name):
    from dlbasics.checks import run

    outcome = run(name, _namespace(FORBIDDEN_ATTENTION["hidden from the scan"])[CHECKS[name]])
    assert not outcome.ok and "PyTorch's own attention" in outcome.message, outcome


@pytest.mark.parametrize("name", list(CHECKS))
def test_a_graph_other_than_the_call_is_found(name):
    from dlbasics.checks import run

    outcome = run(name, _namespace(TRACED_OTHERWISE)[CHECKS[name]])
    assert not outcome.ok and "computes something other" in outcome.message, outcome


# --------------------------------------------------------------------------
# the training loop's rules, read from the grader's probe model (no record of calls)
# --------------------------------------------------------------------------

LOOP_MISTAKES = {
    "no model.train() after validating": (("        model.train()\n", ""), "windows",
                                           "ran in evaluation mode"),
    "the same windows whatever the seed": (
        ("    starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator)\n",
         "    starts = torch.arange(batch_size) * 3\n"), "windows", "the same weights"),
    "a generator not seeded with seed": (
        ("generator = torch.Generator().manual_seed(seed)", "generator = torch.Generator()"
         ".manual_seed(int(torch.randint(10**6, (1,))))"), "windows", "different weights"),
    "windows one character too long": (
        ("x, y = get_batch(train_ids, batch_size, model.block_size, generator)",
         "x, y = get_batch(train_ids, batch_size, model.block_size + 1, generator)"),
        "windows", "more than block_size"),
    "training on the validation text": (
        ("x, y = get_batch(train_ids, batch_size,", "x, y = get_batch(val_ids, batch_size,"),
        "windows", "does not hold"),
    "validation in training mode": (("    model.eval()\n    T = model.block_size\n",
                                     "    T = model.block_size\n"), "validation",
                                    "not the model's losses in evaluation mode"),
    "validation with gradients on": (("@torch.no_grad()\ndef evaluate_loss",
                                      "def evaluate_loss"), "validation", "gradients on"),
}


def _loop_problems(change: tuple[str, str] | None = None) -> dict[str, str]:
    from dlbasics.checks._lm_training import lm_loop_inputs, lm_loop_probe, lm_loop_rule_problems
    from dlbasics.toy_language import TOY_ALPHABET

    cells = definition_cells(SOLUTIONS / NOTEBOOK, drop=("def ngram_perplexity",),
                             change=(change,) if change else ())
    inputs = lm_loop_inputs(5, len(TOY_ALPHABET))
    return lm_loop_rule_problems(lm_loop_probe(namespace_of(cells), inputs), inputs)


def test_the_solution_keeps_every_loop_rule():
    assert _loop_problems() == {"windows": "", "validation": ""}


@pytest.mark.parametrize("mistake", list(LOOP_MISTAKES))
def test_each_loop_mistake_breaks_its_rule_only(mistake):
    change, rule, words = LOOP_MISTAKES[mistake]
    problems = _loop_problems(change)
    assert words in problems[rule], problems
    assert not problems["validation" if rule == "windows" else "windows"], problems


def test_a_forged_history_of_validation_losses_earns_nothing():
    """The old rule read a record of calls that code could write; now a made-up history
    (here: the real history of training mode) does not match the model's evaluation."""
    forged = ("            history[\"val_loss\"].append(evaluate_loss(model, val_ids))\n",
              "            history[\"val_loss\"].append(history[\"train_loss\"][-1])\n")
    assert "not the model's losses" in _loop_problems(forged)["validation"]


def test_the_public_check_reports_a_broken_loop():
    from dlbasics.checks import run

    ns = namespace_of(definition_cells(SOLUTIONS / NOTEBOOK, drop=("def ngram_perplexity",),
                                       change=(LOOP_MISTAKES["validation with gradients on"][0],)))
    outcome = run("ex4.training", ns["train_model"], ns["CharTransformer"])
    assert not outcome.ok and "gradients on" in outcome.details, outcome
    ok = run("ex4.training", *(namespace_of(definition_cells(
        SOLUTIONS / NOTEBOOK, drop=("def ngram_perplexity",)))[k]
        for k in ("train_model", "CharTransformer")))
    assert ok.ok, ok


def test_the_public_check_agrees_with_the_grader_on_a_made_up_history():
    """The grader's history rule, run here on the model itself: falling numbers that are not
    the model's validation losses fail the public check as they fail the grade
    (``tests/grading/test_ex4.py``, "a made-up history")."""
    from dlbasics.checks import run

    from ..grading.test_ex4 import MISTAKES

    ns = namespace_of(definition_cells(SOLUTIONS / NOTEBOOK, drop=("def ngram_perplexity",),
                                       change=(MISTAKES["a made-up history"][0],)))
    outcome = run("ex4.training", ns["train_model"], ns["CharTransformer"])
    assert not outcome.ok and "is not the trained model's loss" in outcome.message, outcome


@pytest.mark.parametrize("garbage", [["x", 1.0, 2.0], [float("nan")] * 3, "low", None, [1.0]])
def test_untrusted_validation_losses_break_the_rule_without_a_crash(garbage):
    from dlbasics.checks._lm_training import LM_LOOP_RUNS, lm_loop_inputs, lm_loop_rule_problems

    inputs = lm_loop_inputs(5, 42)
    tables = {f"{run}_{name}": [[0.0] * 42] * 42 for run, _ in LM_LOOP_RUNS
              for name in ("table", "eval_shift", "overflow")}
    problems = lm_loop_rule_problems({**tables, "first_val_loss": garbage}, inputs)
    assert "history['val_loss'] should hold 3 finite values" in problems["validation"]
    assert "no training step" in problems["windows"]
