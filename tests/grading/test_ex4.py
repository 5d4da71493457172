"""Grading Exercise 4 (a tiny Transformer) end to end, and its scoring alone.

The end-to-end tests run real submissions through the sandbox: the solution
scores full marks, the generated student notebook scores zero, and each
typical mistake (no causal mask, no 1/sqrt(d) scale, a wrong split into
heads, sampling that ignores top-k, PyTorch's own attention) loses exactly
the parts it should. The scoring tests feed ``score`` untrusted data, and the
perplexity part what an exported graph's evaluation returns, without a sandbox.
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

NOTEBOOK = "ex4_transformer.ipynb"
FULL = {"ex4.attention": 3.0, "ex4.block": 2.0, "ex4.model": 2.0, "ex4.sampling": 3.0,
        "ex4.generate": 1.0, "ex4.training": 2.0, "ex4.perplexity": 3.0}


def scores(report) -> dict[str, float]:
    return {t.name: t.score for t in report.tests}


@pytest.fixture(scope="module")
def ex4():
    return load_exercise("ex4", HIDDEN)


@pytest.fixture(scope="module")
def hidden():
    return load_hidden_module("ex4", HIDDEN)


# --------------------------------------------------------------------------
# end to end, in the sandbox
# --------------------------------------------------------------------------


@pytest.mark.slow
def test_solution_notebook_scores_full_marks(ex4, hidden):
    report = grade(ex4, SOLUTIONS / NOTEBOOK, private_paths=[HIDDEN])
    assert not report.grader_error
    failed = {t.name: t.output for t in report.tests if t.status != "passed"}
    assert not failed
    assert scores(report) == FULL and report.score == ex4.max_score == 16.0
    perplexity = next(t for t in report.tests if t.name == "ex4.perplexity")
    assert "Held-out perplexity at most 2.5" in perplexity.output
    cpu = float(perplexity.output.split("the training run ")[1].split(" s")[0])
    assert cpu < hidden.CPU_BUDGET_S / 2  # the defaults leave the learner room


@pytest.mark.slow
def test_untouched_student_notebook_scores_zero(ex4):
    report = grade(ex4, EXERCISES / NOTEBOOK, private_paths=[HIDDEN])
    assert not report.grader_error
    assert report.score == 0.0
    assert all(t.status in ("error", "failed") for t in report.tests)
    assert all("NotImplementedError" in t.output or "Not implemented" in t.output
               for t in report.tests)


QUICK_TRAINING = ("steps=300, batch_size=32, lr=4e-3, eval_every=100,",
                  "steps=40, batch_size=32, lr=4e-3, eval_every=20,")
"""The mistake notebooks train for 40 steps only (fast; perplexity then earns 0, and the
tests below leave that part out)."""

MISTAKES = {
    "no causal mask": (("        if causal:\n", "        if False:\n"),
                       {"ex4.attention": 2.0, "ex4.model": 1.0}),
    "no 1/sqrt(d) scale": ((" / math.sqrt(d_head)", ""), {"ex4.attention": 2.0}),
    "features split across heads the wrong way": (
        ("t.view(batch, T, self.n_heads, d_head).transpose(1, 2)",
         "t.view(batch, T, d_head, self.n_heads).permute(0, 3, 1, 2)"),
        {"ex4.attention": 2.0}),
    "sampling ignores top-k": (("    if top_k is not None:\n", "    if False:\n"),
                               {"ex4.sampling": 2.0}),
    # the loop itself is right (the grader's probe model gets the real history), but the
    # history of the real model is made up: falling numbers, not the model's losses
    "a made-up history": (("    model.eval()\n    return history\n",
                           "    model.eval()\n    if hasattr(model, 'tok_emb'):\n"
                           "        return {'train_loss': [3.0, 2.5], 'val_loss': [3.0, 2.5]}\n"
                           "    return history\n"),
                          {"ex4.training": 1.0}),
}


@pytest.mark.slow
@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_a_typical_mistake_loses_exactly_its_parts(mistake, ex4, tmp_path):
    change, lost = MISTAKES[mistake]
    cells = definition_cells(SOLUTIONS / NOTEBOOK, drop=("def ngram_perplexity",),
                             change=(change, QUICK_TRAINING))
    report = grade(ex4, write_notebook(tmp_path / "mistake.ipynb", cells),
                   private_paths=[HIDDEN])
    got = scores(report)
    assert got.pop("ex4.perplexity") == 0.0
    assert got == {**{k: v for k, v in FULL.items() if k != "ex4.perplexity"}, **lost}
    failed = next(t for t in report.tests if t.name == next(iter(lost)))
    assert failed.status == "failed" and failed.output


FORBIDDEN_ATTENTION = {
    "named": "        return self.out(F.scaled_dot_product_attention(q, k, v, is_causal=causal)"
             ".transpose(1, 2).reshape(batch, T, d_model))\n",
    "hidden from the scan": "        sdpa = getattr(F, 'scaled_dot_product' + '_attention')\n"
                            "        return self.out(sdpa(q, k, v, is_causal=causal)"
                            ".transpose(1, 2).reshape(batch, T, d_model))\n",
    "watch blinded": "        import dlbasics.checks._transformer as watch\n"
                     "        watch.ForbiddenOps.__exit__ = lambda self, *a: "
                     "setattr(self, 'seen', []) or False\n"
                     "        sdpa = getattr(F, 'scaled_dot_product' + '_attention')\n"
                     "        return self.out(sdpa(q, k, v, is_causal=causal)"
                     ".transpose(1, 2).reshape(batch, T, d_model))\n",
    "another graph when traced": "        sdpa = getattr(F, 'scaled_dot_product' + '_attention')\n"
                                 "        if torch.jit.is_tracing():\n"
                                 "            return self.out(v.transpose(1, 2)"
                                 ".reshape(batch, T, d_model))\n"
                                 "        return self.out(sdpa(q, k, v, is_causal=causal)"
                                 ".transpose(1, 2).reshape(batch, T, d_model))\n",
}


@pytest.mark.slow
@pytest.mark.parametrize("how", list(FORBIDDEN_ATTENTION))
def test_pytorch_attention_scores_zero_where_it_is_used(how, ex4, tmp_path):
    """Found by the static scan when named; when not, from the layer's exported graph,
    evaluated where no learner code runs: its operations, and whether it computes what the
    layer returned when called. Nothing in the learner's process decides it."""
    cells = definition_cells(SOLUTIONS / NOTEBOOK, drop=("def ngram_perplexity",),
                             change=(("        scores = q @ k.transpose(-2, -1) / "
                                      "math.sqrt(d_head)        # (batch, heads, T, T)\n",
                                      FORBIDDEN_ATTENTION[how]), QUICK_TRAINING))
    report = grade(ex4, write_notebook(tmp_path / "sdpa.ipynb", cells), private_paths=[HIDDEN])
    got = scores(report)
    for part in ("ex4.attention", "ex4.block", "ex4.model", "ex4.perplexity"):
        assert got[part] == 0.0, part
    assert got["ex4.sampling"] == 3.0 and got["ex4.generate"] == 1.0
    attention = next(t for t in report.tests if t.name == "ex4.attention")
    assert ("computes something other" if how == "another graph when traced"
            else "scaled_dot_product") in attention.output, attention.output


# --------------------------------------------------------------------------
# what the exercise states, and what the sandbox is given
# --------------------------------------------------------------------------


def test_the_point_table_states_every_part_and_threshold(ex4, hidden):
    assert point_table(SOLUTIONS / NOTEBOOK) == {p.name: p.max_score for p in ex4.parts}
    text = nbformat.read(SOLUTIONS / NOTEBOOK, as_version=4).cells[0].source
    for limit, points in hidden.PERPLEXITY_TIERS:
        pts = f"{points:g} point{'s' if points != 1 else ''}"
        assert f"{pts} for a perplexity of at most {limit:.1f}" in text or \
            f"{pts} for at most {limit:.1f}" in text
    assert f"{hidden.CPU_BUDGET_S:.0f} s of CPU time" in text
    assert f"{hidden.N_TRAIN:,} training and {hidden.N_VAL:,} validation" in text


def test_the_sandbox_never_gets_the_held_out_text(ex4, hidden):
    ids = hidden._text_ids(ex4.seed)
    held_out = ids[hidden.N_TRAIN + hidden.N_VAL:]
    probes = ex4.probes(ex4.seed)
    training = next(p for p in probes if p.name == "training_probe")
    assert np.array_equal(training.inputs["train_ids"], ids[:hidden.N_TRAIN])
    given = np.concatenate([np.ravel(v) for p in probes for v in p.inputs.values()
                            if isinstance(v, np.ndarray) and v.dtype.kind in "iu"])
    assert given.size < hidden.N_TRAIN + hidden.N_VAL + 8000  # + the small cases
    needle = held_out[1000:1040].tobytes()  # 40 held-out characters in a row
    assert all(needle not in np.ascontiguousarray(v).tobytes() for p in probes
               for v in p.inputs.values() if isinstance(v, np.ndarray))
    evaluation = ex4.evaluations[0].probe(ex4.seed)  # only the graph's evaluation gets them
    assert needle in np.ascontiguousarray(evaluation.inputs["windows"]).tobytes()


def test_the_grader_language_is_not_the_public_one(ex4, hidden):
    from dlbasics.toy_language import decode_chars, make_toy_text

    public = set(make_toy_text(20_000, seed=0).lower().split())
    grader = set(decode_chars(hidden._text_ids(ex4.seed)[:20_000]).lower().split())
    assert len(public & grader) < 0.1 * len(grader)


# --------------------------------------------------------------------------
# scoring alone: untrusted outputs never crash the grader
# --------------------------------------------------------------------------

GARBAGE = [
    {},
    {"h1_nomask": "right", "forbidden": "nothing", "full": [[1, 2], [3]], "greedy": None,
     "ids": {"a": 1}, "history_type": "dict", "history": {"train_loss": "low"}, "first_table": 7,
     "n_heads": "4", "graph_init": "x", "graph_trained": [1.0], "tie": None, "problem": 3,
     "block_size": 10 ** 9, "w.tok_emb.weight": np.zeros((2, 2))},
    {"h1_nomask": np.full((3, 7, 16), np.nan), "h4_causal": np.zeros((1,)),
     "own": np.ones((3, 8, 13)) * 1e300, "greedy_type": "torch.Tensor", "greedy": np.zeros(5),
     "topk_type": "torch.Tensor", "topk": np.full(5000, -1), "step_logits": np.zeros((1, 1)),
     "history_type": "dict", "history": {"train_loss": [3.0, float("nan")],
                                         "val_loss": [3.0, 2.0]},
     "graph_init": float("nan"), "graph_trained": 1.0, "tie": float("inf"),
     "first_table": [[0.5]], "first_val_loss": [1.0, "x"], "block_size": 32, "n_heads": 0,
     "w.pos_emb.weight": np.full((32, 4), np.inf)},
]


@pytest.mark.parametrize("outputs", GARBAGE, ids=["empty", "wrong-types", "nan-and-shapes"])
def test_score_survives_untrusted_outputs(outputs, ex4):
    probes = ex4.probes(ex4.seed)
    results = {p.name: ProbeResult(p.name, "ok", dict(outputs), cpu_s=1.0)
               for p in [*probes, *ex4.evaluations]}
    tests = ex4.score(results, Submission(path=Path("x.ipynb"), seed=ex4.seed))
    assert [t.name for t in tests] == [p.name for p in ex4.parts]
    for t in tests:
        assert t.status in ("failed", "error", "timeout")
        assert math.isfinite(t.score) and t.output
        assert t.score <= 0.5 or t.name == "ex4.training"  # garbage earns (almost) nothing


def _validation(init=2.6, trained=1.9, tie=0.0) -> ProbeResult:
    """What the evaluation sandbox computes from the training run's graphs (built here)."""
    return ProbeResult("validation", "ok", {"graph_init": init, "graph_trained": trained,
                                            "tie": tie})


HISTORY = {"train_loss": [2.5, 2.0, 1.95], "val_loss": [2.4, 2.0, 1.91]}


@pytest.mark.parametrize("history, validation, says", [
    (HISTORY, _validation(), None),
    ({"train_loss": [2.4, 2.0], "val_loss": [2.3, 1.5]}, _validation(), "is not the trained"),
    ({"train_loss": [2.4, 2.0], "val_loss": [2.3, 2.5]}, _validation(), "is not the trained"),
    (HISTORY, _validation(init=1.8), "did not lower"),
    (HISTORY, _validation(tie=0.5), "is not the model traced"),
    (HISTORY, ProbeResult("validation", "error", error="the graph failed"), "the graph failed"),
    (HISTORY, ProbeResult("validation", "ok", {"problem": "block_size is 999"}),
     "block_size is 999"),
    ({"train_loss": [2.0], "val_loss": [1.91]}, _validation(), "at least two"),
    ([1.0, 2.0], _validation(), "should return a dict"),
])
def test_the_history_point_is_judged_against_the_losses_the_grader_computed(
        hidden, history, validation, says):
    """The history's last validation loss must be the trained model's, and below the untrained
    model's, both from the evaluation sandbox: falling numbers alone earn nothing."""
    o = {"history_type": type(history).__name__, "history": history}
    problem = hidden._history_problem(o, validation)
    if says is None:
        assert problem is None
    else:
        assert problem is not None and says in problem, problem


def test_failed_probes_give_zero_with_their_status(ex4):
    probes = ex4.probes(ex4.seed)
    for status in ("timeout", "out of memory", "crashed", "error"):
        results = {p.name: ProbeResult(p.name, status, error="it went wrong")
                   for p in [*probes, *ex4.evaluations]}
        tests = ex4.score(results, Submission(path=Path("x.ipynb"), seed=ex4.seed))
        assert {t.status for t in tests} == {status}
        assert sum(t.score for t in tests) == 0.0


def _sampling_outputs(hidden, seed, *, temperature_used: bool, top_k_used: bool) -> dict:
    """What sample_next returns for the grader's logits, drawn here with NumPy."""
    case = hidden._sampling_case(seed)
    logits, n, k = case["logits"].astype(np.float64), hidden.N_DRAWS, case["k"]
    rng = np.random.default_rng(0)

    def draws(row, temperature, top):
        z = logits[row] / (temperature if temperature_used else 1.0)
        if top and top_k_used:
            z = np.where(z >= np.sort(z)[-k], z, -np.inf)
        p = np.exp(z - z.max())
        return rng.choice(len(z), size=n, p=p / p.sum()).astype(np.int64)

    out = {"greedy": logits.argmax(1), "greedy_topk": logits.argmax(1),
           "topk": draws(0, 1.0, True), "topk_cool": draws(1, 0.7, True),
           "cool": draws(2, 0.6, False), "hot": draws(3, 1.8, False)}
    out.update({f"{key}_type": "torch.Tensor" for key in list(out)})
    return out


@pytest.mark.parametrize("temperature_used, top_k_used, expected", [
    (True, True, 3.0), (False, True, 2.0), (True, False, 2.0), (False, False, 1.0)])
def test_sampling_points_follow_what_the_sampler_gets_right(hidden, ex4, temperature_used,
                                                             top_k_used, expected):
    part = ex4.part("ex4.sampling")
    outputs = _sampling_outputs(hidden, ex4.seed, temperature_used=temperature_used,
                                top_k_used=top_k_used)
    result = hidden._score_sampling(part, outputs, ex4.seed)
    assert result.score == expected, result.output
    if not temperature_used:
        assert "the temperature is ignored" in result.output


def _graph_result(hidden, seed, *, logits=None, reset=None, ops=("aten::linear",), constants=3):
    """What the evaluation sandbox returns for an exported graph (built here, no sandbox)."""
    from dlbasics.toy_language import TOY_ALPHABET

    windows, targets = hidden.heldout(seed)
    sharp = np.full((len(targets), len(TOY_ALPHABET)), -3.0)
    sharp[np.arange(len(targets)), targets] = 3.0  # perplexity about 1.8
    flat = np.zeros_like(sharp)
    return ProbeResult("heldout", "ok", {
        "windows_out": sharp if logits is None else logits,
        "reset_out": flat if reset is None else reset, "ops": list(ops), "constants": constants})


@pytest.mark.parametrize("change, points, says", [
    ({}, 3.0, "at most 2.5"),
    ({"reset": "same"}, 0.0, "parameters shuffled"),
    ({"ops": ("aten::linear", "aten::scaled_dot_product_attention")}, 0.0, "own attention"),
    ({"constants": 10 ** 6}, 0.0, "constants"),
    ({"logits": np.zeros((3, 3))}, 0.0, "shape"),
])
def test_perplexity_is_scored_from_the_exported_graph_alone(hidden, ex4, change, points, says):
    result = _graph_result(hidden, ex4.seed)
    if change.get("reset") == "same":
        result.outputs["reset_out"] = result.outputs["windows_out"]
    else:
        result = _graph_result(hidden, ex4.seed, **change)
    scored = hidden._score_perplexity(ex4.part("ex4.perplexity"), result, 5.0, ex4.seed, [])
    assert scored.score == points and says in scored.output, scored.output


def test_perplexity_over_the_cpu_budget_scores_zero(hidden, ex4):
    scored = hidden._score_perplexity(ex4.part("ex4.perplexity"), _graph_result(hidden, ex4.seed),
                                      hidden.CPU_BUDGET_S + 1, ex4.seed, [])
    assert scored.score == 0.0 and scored.status == "timeout"


@pytest.mark.parametrize("code", [
    "from dlbasics import multi_head_attention_forward\n"
    "def attend(x):\n    return multi_head_attention_forward(x, 0, 0, 0, 0, 1)\n",
    "import dlbasics\ndef attend(x):\n    return dlbasics.scaled_dot_product_attention_forward(x, x, x)\n",
    "from torch import nn\ndef attend(x):\n    return nn.MultiheadAttention(4, 1)(x, x, x)\n",
    "import torch.nn.functional as F\ndef attend(x):\n"
    "    return F.scaled_dot_product_attention(x, x, x)\n",
])
def test_the_scan_finds_every_ready_made_attention(ex4, code):
    from dlbasics.checks.static import scan

    assert scan([(0, code)], ex4.policy).reached_violations("attend")
