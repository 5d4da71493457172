"""Hidden tests of Exercise 4: a tiny Transformer (PyTorch).

Not shipped to students. The probes below run inside the sandbox and only
call the learner's code with weights and inputs chosen here; the references
(PyTorch's own attention and layers, :mod:`dlbasics.checks._transformer`), the
held-out text and the thresholds stay in this module, in the grader.

The text is written by ``dlbasics.make_toy_text`` with a seed drawn from the
grading key: a language whose words no public seed uses. The sandbox gets its
first 110,000 characters (training and validation); the held-out characters
after them never enter it. The trained model leaves the sandbox as a traced
graph (``dlbasics.checks._export.export_graph``) that reads a window and gives
the logits of the next character from its last ``block_size`` characters; the
engine runs that graph on the held-out windows in a fresh sandbox that runs
no learner code (:class:`~dlbasics_grader.spec.Evaluation`), and the
perplexity is computed here.

A mistake costs points once: the block and the model are graded with
PyTorch's attention put in place of the learner's (``torch_attention``), and
the attention's multi-head and causal points are compared with PyTorch at the
scale the learner's one-head output shows. Causality of the whole model is its
own requirement (a language model that sees the next character is no language
model) and is measured with the learner's attention.

Whether a part runs PyTorch's own attention is read from graphs too: the
attention layer, the block and the model are traced in the sandbox
(``graph`` outputs), and the evaluation sandbox lists each graph's operations
and runs it on the part's case (:data:`GRAPH_CHECKS`). A part scores 0 when
its graph runs PyTorch's attention, cannot be exported, or computes something
other than what the learner's call returned. No watch in the learner's process
decides a point.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np

from dlbasics.checks import _transformer as shared
from dlbasics.checks._lm_training import (
    HISTORY_RULE,
    LM_LOOP_RULES,
    history_problem,
    lm_loop_inputs,
    lm_loop_probe,
    lm_loop_rule_problems,
)
from dlbasics.checks.ex4 import PART_CODE, PERPLEXITY_TIERS
from dlbasics_grader.heldout import graph_probe, graph_problem, outputs_of
from dlbasics_grader.secret import exercise_seed, public_seed, stream
from dlbasics_grader.spec import (
    Evaluation,
    Exercise,
    Part,
    Probe,
    ProbeResult,
    SandboxPolicy,
    as_array,
    compare_arrays,
)

from ._common import TORCH_LIMITS, bullets, point_unless, score_parts, verdict

SEED = exercise_seed("ex4", Path(__file__).parent)  # 256 bits from the grading key

N_TRAIN, N_VAL, N_HELD_OUT = 100_000, 10_000, 40_000
N_DRAWS = 5000  # draws from each distribution sample_next is tested on (a fixed generator seed)
N_WINDOWS = 4000  # held-out characters scored, each from the block_size characters before it
CPU_BUDGET_S = 60.0
"""CPU seconds (one thread) for everything the notebook runs: its cells and the grader's
training run, measured from outside the sandbox."""
RESET_MIN_PPL = 8.0
"""Least held-out perplexity of the trained model with its parameters' entries shuffled: a
model whose predictions come from what it learned is far worse then (near 20 or more; a
bigram model, the weakest that has learned anything, is near 6)."""
TOL = {"rtol": 1e-4, "atol": 1e-4}
WINDOW = 128
"""Length of the held-out windows; the exported model reads the last ``block_size`` characters
of each (every default and any block_size up to this sees its full context)."""
EVAL_BATCH = 200  # the trained model is traced, and evaluated, on batches of this many windows
VAL_BATCH = 16
"""Validation windows per batch that the untrained and the trained model are traced on (their
validation losses are computed from these graphs)."""
TIE_TOL = 1e-3
"""Largest difference between the trained model's two graphs (held-out and validation) on the
same windows: both are traced from one model."""

PARTS = (
    Part("ex4.attention", 3.0, "Causal multi-head self-attention equals PyTorch's",
         full_credit="Equal to nn.MultiheadAttention with one and four heads, with and without the causal "
                     "mask; later inputs never change earlier outputs."),
    Part("ex4.block", 2.0, "Pre-LN block: attention and GELU MLP sub-layers",
         full_credit="x + attn(ln1(x)) and h + mlp(ln2(h)) with the exact GELU, each on its own (graded "
                     "with PyTorch's attention in place of yours)."),
    Part("ex4.model", 2.0, "Character model: logits with learned positions; causality",
         full_credit="Logits equal the reference with learned positions, and earlier logits never depend on "
                     "later characters."),
    Part("ex4.sampling", 3.0, "Sampling: temperature 0, top-k, temperature",
         full_credit="Temperature 0 is the argmax; top-k draws stay in the k largest with the right odds; "
                     "frequencies follow softmax(logits / temperature)."),
    Part("ex4.generate", 1.0, "Generation: prompt kept, context cropped, greedy steps"),
    Part("ex4.training", 2.0, "Training loop: history, random windows, evaluation mode"),
    Part("ex4.perplexity", 3.0, "Held-out perplexity within the CPU budget"),
)

POLICY = SandboxPolicy(
    forbidden_modules=("torchvision", "torchtext"),
    forbidden_names=shared.FORBIDDEN_NAMES,
    reason=shared.REASON,
    preload=("numpy", "matplotlib.pyplot", "torch"),
    allow_processes=False,
)

LIMITS = TORCH_LIMITS

D_MODEL, T_CASE = 16, 7
MODEL_CASE = {"vocab_size": 13, "d_model": 16, "n_heads": 4, "n_layers": 2, "block_size": 8}
GEN_CASE = {"vocab_size": 11, "d_model": 16, "n_heads": 2, "n_layers": 1, "block_size": 6}


# ----------------------------------------------------------------------------
# Drivers: run in the sandbox. Self-contained; they only call the learner's code.
# ----------------------------------------------------------------------------


def attention_probe(ns, inputs):
    """The layer's outputs, and the four-head layer with causal=True as a graph: its
    operations (PyTorch's own attention or not) are read where no learner code runs."""
    import torch
    from torch import nn

    from dlbasics.checks._export import export_graph
    from dlbasics.checks._transformer import load_weights

    x = torch.from_numpy(inputs["x"])
    changed = torch.from_numpy(inputs["x_changed"])
    names = ("qkv.weight", "qkv.bias", "out.weight", "out.bias")
    out = {}
    with torch.no_grad():
        for heads in (1, 4):
            layer = ns["MultiHeadSelfAttention"](int(inputs["d_model"]), heads)
            load_weights(layer, {n: torch.from_numpy(inputs[f"h{heads}.{n}"]) for n in names})
            out[f"h{heads}_nomask"] = layer(x, causal=False).numpy()
            out[f"h{heads}_causal"] = layer(x, causal=True).numpy()
        out["h4_changed"] = layer(changed, causal=True).numpy()
        out["h4_default"] = layer(x).numpy()

    class Causal(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner(x, causal=True)

    try:
        out["graph"] = export_graph(Causal(layer), x)
    except Exception as exc:
        out["graph_error"] = f"{type(exc).__name__}: {exc}"
    return out


def block_probe(ns, inputs):
    import torch

    from dlbasics.checks._export import export_graph
    from dlbasics.checks._transformer import load_weights, torch_attention

    x = torch.from_numpy(inputs["x"])
    state = {k[len("w."):]: torch.from_numpy(v) for k, v in inputs.items() if k.startswith("w.")}
    block = ns["TransformerBlock"](int(inputs["d_model"]), int(inputs["n_heads"]))
    load_weights(block, state)
    out = {}
    with torch.no_grad():
        out["own"] = block(x).numpy()  # with the learner's own attention: its graph's reference
    try:
        out["graph"] = export_graph(block, x)
    except Exception as exc:
        out["graph_error"] = f"{type(exc).__name__}: {exc}"
    block.attn = torch_attention(block.attn)  # PyTorch's attention in place of the learner's
    with torch.no_grad():
        out["full"] = block(x).numpy()
        last = block.mlp[2]
        w, b = last.weight.clone(), last.bias.clone()
        last.weight.zero_()
        last.bias.zero_()
        out["attn_only"] = block(x).numpy()
        last.weight.copy_(w)
        last.bias.copy_(b)
        block.attn.mha.out_proj.weight.zero_()
        block.attn.mha.out_proj.bias.zero_()
        out["mlp_only"] = block(x).numpy()
    return out


def model_probe(ns, inputs):
    import torch

    from dlbasics.checks._export import export_graph
    from dlbasics.checks._transformer import model_from_inputs, torch_attention

    model = model_from_inputs(ns["CharTransformer"], inputs)
    model.eval()
    ids = torch.from_numpy(inputs["ids"])
    out = {}
    with torch.no_grad():
        out["own"] = model(ids).numpy()
        out["own_changed"] = model(torch.from_numpy(inputs["ids_changed"])).numpy()
    try:
        out["graph"] = export_graph(model, ids)
    except Exception as exc:
        out["graph_error"] = f"{type(exc).__name__}: {exc}"
    for block in model.blocks:
        block.attn = torch_attention(block.attn)
    with torch.no_grad():
        out["wired"] = model(ids).numpy()
        out["wired_short"] = model(ids[:, :5]).numpy()
    return out


def sampling_probe(ns, inputs):
    import torch

    sample = ns["sample_next"]
    gen = torch.Generator().manual_seed(0)
    logits = torch.from_numpy(inputs["logits"])
    many = torch.from_numpy(inputs["many"])  # rows 0-3 of logits, each repeated for many draws
    k = int(inputs["k"])
    out = {}
    for key, call in (
            ("greedy", lambda: sample(logits, temperature=0.0, generator=gen)),
            ("greedy_topk", lambda: sample(logits, temperature=0.0, top_k=3, generator=gen)),
            ("topk", lambda: sample(many[0], temperature=1.0, top_k=k, generator=gen)),
            ("topk_cool", lambda: sample(many[1], temperature=0.7, top_k=k, generator=gen)),
            ("cool", lambda: sample(many[2], temperature=0.6, generator=gen)),
            ("hot", lambda: sample(many[3], temperature=1.8, generator=gen))):
        try:
            ids = call()
            out[f"{key}_type"] = f"{type(ids).__module__}.{type(ids).__name__}"
            out[key] = ids.detach().numpy() if isinstance(ids, torch.Tensor) else ids
        except Exception as exc:
            out[f"{key}_error"] = f"{type(exc).__name__}: {exc}"
    return out


def generate_probe(ns, inputs):
    import torch

    from dlbasics.checks._transformer import model_from_inputs

    model = model_from_inputs(ns["CharTransformer"], inputs)
    prompt = torch.from_numpy(inputs["prompt"])
    ids = ns["generate"](model, prompt.clone(), int(inputs["n_new"]), temperature=0.0)
    out = {"ids": ids.detach().numpy() if isinstance(ids, torch.Tensor) else ids}
    size = int(inputs["block_size"])
    if isinstance(ids, torch.Tensor) and ids.ndim == 2:
        model.eval()
        with torch.no_grad():  # the model's own next-id logits at every generated position
            out["step_logits"] = torch.stack(
                [model(ids[:, max(0, t - size):t])[:, -1] for t in range(prompt.shape[1],
                                                                         ids.shape[1])]).numpy()
    return out


def training_probe(ns, inputs):
    import torch
    from torch import nn

    from dlbasics.checks._export import export_graph

    torch.manual_seed(0)
    torch.set_num_threads(1)
    train, val = torch.from_numpy(inputs["train_ids"]), torch.from_numpy(inputs["val_ids"])
    model = ns["CharTransformer"](int(inputs["vocab_size"]))
    out = {}

    def validation_graph(key):
        """The whole model (logits at every position) traced on validation windows of its
        block_size: the grader computes its validation loss where no learner code runs."""
        try:
            size = int(model.block_size)
            example = val[:int(inputs["val_batch"]) * size].view(-1, size)
            with torch.random.fork_rng():  # tracing must not change the training run
                out[key] = export_graph(model, example)
            out["block_size"] = size
        except Exception as exc:
            out[f"{key}_error"] = f"{type(exc).__name__}: {exc}"

    validation_graph("graph_init")
    history = ns["train_model"](model, train, val)
    out["history_type"] = type(history).__name__
    try:
        out["history"] = {key: [float(v) for v in history[key]]
                          for key in ("train_loss", "val_loss")}
    except Exception as exc:
        out["history_error"] = f"{type(exc).__name__}: {exc}"

    class NextCharacter(nn.Module):
        """Logits of the character after each window, from its last block_size characters."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, ids):
            return self.inner(ids[:, -int(self.inner.block_size):])[:, -1]

    # the trained model leaves as graphs; the grader evaluates them where no learner code runs
    try:
        starts = torch.arange(int(inputs["batch"]))[:, None] * 97
        out["graph"] = export_graph(NextCharacter(model),
                                    train[starts + torch.arange(int(inputs["window"]))])
    except Exception as exc:
        out["graph_error"] = f"{type(exc).__name__}: {exc}"
    validation_graph("graph_trained")
    return out


def validation_driver(ns, inputs):
    """The validation losses of the untrained and the trained model, and how far the trained
    model's validation graph is from its held-out graph on the same windows.

    Runs in the evaluation sandbox (``ns`` is empty): the graphs come from the training run,
    ``block_size`` is the learner's (checked here), the windows and the loss are the
    grader's. The loss is ``evaluate_loss``'s: consecutive windows of ``block_size`` of
    ``val_ids`` and the same shifted by one, mean cross-entropy per character.
    """
    import io
    import warnings

    import torch
    import torch.nn.functional as F

    torch.set_num_threads(1)
    size, batch = inputs["block_size"], int(inputs["val_batch"])
    if type(size) is not int or not 1 <= size <= int(inputs["window"]):
        return {"problem": f"block_size is {str(size)[:40]}; the grader reads models with a "
                           f"block_size from 1 to {int(inputs['window'])}"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        graphs = {key: torch.jit.load(io.BytesIO(inputs[key].tobytes()), map_location="cpu")
                  for key in ("graph_init", "graph_trained", "graph")}

    def logits(graph, x, rows):
        """``graph`` on ``x`` in batches of ``rows`` (the traced shape; the last batch filled
        up with the first rows, whose outputs are dropped)."""
        outs = []
        for start in range(0, len(x), rows):
            chunk = x[start:start + rows]
            n = len(chunk)
            if n < rows:
                chunk = torch.cat([chunk, x[:rows - n]])
            with torch.no_grad():
                y = graph.eval()(chunk)
            outs.append((y[0] if isinstance(y, (tuple, list)) else y)[:n].double())
        return torch.cat(outs)

    from dlbasics.checks._lm_training import validation_windows

    x, y = (torch.from_numpy(a) for a in validation_windows(inputs["val_ids"], size))
    out = {}
    for key in ("graph_init", "graph_trained"):
        z = logits(graphs[key], x, batch)
        if z.shape[:2] != x.shape or not bool(torch.isfinite(z).all()):
            return {"problem": f"the model's logits on validation windows of block_size = {size} "
                               f"have shape {tuple(z.shape)} or are not finite"}
        out[key] = float(F.cross_entropy(z.flatten(0, 1), y.flatten()))
    windows = torch.from_numpy(inputs["windows"])
    last = logits(graphs["graph"], windows, int(inputs["batch"]))
    own = logits(graphs["graph_trained"], windows[:, -size:], batch)[:, -1]
    out["tie"] = float((last - own).abs().max()) if last.shape == own.shape else float("inf")
    return out


# ----------------------------------------------------------------------------
# Grader-side data and references
# ----------------------------------------------------------------------------


@functools.lru_cache(maxsize=2)
def _text_ids(seed: int) -> np.ndarray:
    """The grader's language: training, validation, then held-out characters (read-only)."""
    from dlbasics.toy_language import encode_chars, make_toy_text

    language = int.from_bytes(stream(seed, "language").bytes(16), "big")
    ids = encode_chars(make_toy_text(N_TRAIN + N_VAL + N_HELD_OUT, seed=language))
    ids.flags.writeable = False
    return ids


def _weights(rng: np.random.Generator, names: dict[str, tuple[int, ...]], std: float = 0.3
             ) -> dict[str, np.ndarray]:
    out = {}
    for name, shape in names.items():
        parts = name.split(".")
        centre = 1.0 if len(parts) > 1 and parts[-2].startswith("ln") and parts[-1] == "weight" \
            else 0.0
        out[name] = (centre + std * rng.normal(size=shape)).astype(np.float32)
    return out


def _attention_case(seed: int) -> dict:
    from dlbasics.checks.ex4 import attention_names

    rng = stream(seed, "attention")
    x = rng.normal(size=(3, T_CASE, D_MODEL)).astype(np.float32)
    changed = x.copy()
    changed[:, 4:] = rng.normal(size=(3, T_CASE - 4, D_MODEL)).astype(np.float32)
    case = {"d_model": D_MODEL, "x": x, "x_changed": changed}
    for heads in (1, 4):
        case.update({f"h{heads}.{k}": v for k, v in _weights(rng, attention_names(D_MODEL),
                                                             std=0.5).items()})
    return case


def _block_case(seed: int) -> dict:
    from dlbasics.checks.ex4 import block_names

    rng = stream(seed, "block")
    case = {"d_model": D_MODEL, "n_heads": 4,
            "x": rng.normal(size=(3, T_CASE, D_MODEL)).astype(np.float32)}
    case.update({f"w.{k}": v for k, v in _weights(rng, block_names(D_MODEL)).items()})
    return case


def _model_weights(seed: int, purpose: str, config: dict) -> dict:
    from dlbasics.checks.ex4 import model_names

    names = model_names(config["vocab_size"], config["d_model"], config["n_layers"],
                        config["block_size"])
    return {f"w.{k}": v for k, v in _weights(stream(seed, purpose), names, std=0.5).items()}


def _model_case(seed: int) -> dict:
    c = MODEL_CASE
    rng = stream(seed, "model ids")
    ids = rng.integers(0, c["vocab_size"], size=(3, c["block_size"]))
    changed = ids.copy()
    changed[:, 5:] = (changed[:, 5:] + 1 + rng.integers(0, c["vocab_size"] - 1, size=(3, 3))) \
        % c["vocab_size"]
    return {**c, "ids": ids, "ids_changed": changed, **_model_weights(seed, "model", c)}


def _sampling_case(seed: int) -> dict:
    rng = stream(seed, "sampling")
    logits = rng.normal(0, 1.5, size=(5, 12)).astype(np.float32)
    many = np.repeat(logits[:4, None, :], N_DRAWS, axis=1)
    return {"logits": logits, "many": many, "k": 4}


def _generate_case(seed: int) -> dict:
    c = GEN_CASE
    prompt = stream(seed, "prompt").integers(0, c["vocab_size"], size=(2, c["block_size"] + 3))
    return {**c, "prompt": prompt, "n_new": 6, **_model_weights(seed, "generate", c)}


def _loop_case(seed: int) -> dict:
    """The inputs of the grader's probe of ``train_model`` (public data, not held out)."""
    from dlbasics.toy_language import TOY_ALPHABET

    return lm_loop_inputs(public_seed(seed, "loop"), len(TOY_ALPHABET))


def probes(seed: int) -> list[Probe]:
    from dlbasics.toy_language import TOY_ALPHABET

    ids = _text_ids(seed)
    return [  # the training run first: the CPU it and the cells used is the budget's
        Probe.from_function(training_probe, timeout_s=120, inputs={
            "vocab_size": len(TOY_ALPHABET), "train_ids": ids[:N_TRAIN],
            "val_ids": ids[N_TRAIN:N_TRAIN + N_VAL], "batch": EVAL_BATCH, "window": WINDOW,
            "val_batch": VAL_BATCH}),
        Probe.from_function(attention_probe, timeout_s=30, inputs=_attention_case(seed)),
        Probe.from_function(block_probe, timeout_s=30, inputs=_block_case(seed)),
        Probe.from_function(model_probe, timeout_s=30, inputs=_model_case(seed)),
        Probe.from_function(sampling_probe, timeout_s=30, inputs=_sampling_case(seed)),
        Probe.from_function(generate_probe, timeout_s=30, inputs=_generate_case(seed)),
        _loop_probe(seed),
    ]


def _loop_probe(seed: int) -> Probe:
    """:func:`dlbasics.checks._lm_training.lm_loop_probe`: ``train_model`` trains the grader's
    probe model three times; the rules are read from what the runs leave, in the grader."""
    return Probe.from_function(lm_loop_probe, name="loop_probe", timeout_s=60,
                               inputs=_loop_case(seed))


def heldout(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The held-out windows ``(N_WINDOWS, WINDOW)`` and the character after each."""
    return shared.heldout_windows(_text_ids(seed)[N_TRAIN + N_VAL:], WINDOW, N_WINDOWS)


def _validation_probe(seed: int) -> Probe:
    """The training run's validation losses, computed from its graphs: the learner's own
    validation text (not held out), with windows for tying the graphs together."""
    val = _text_ids(seed)[N_TRAIN:N_TRAIN + N_VAL]
    return Probe.from_function(validation_driver, timeout_s=60, inputs={
        "val_ids": val, "val_batch": VAL_BATCH, "batch": EVAL_BATCH, "window": WINDOW,
        "windows": shared.heldout_windows(val, WINDOW, EVAL_BATCH)[0]})


def _heldout_probe(seed: int) -> Probe:
    """Where the held-out text goes: the graph's evaluation, never the learner's sandbox."""
    return graph_probe({"windows": heldout(seed)[0]}, EVAL_BATCH,
                       reset_seed=public_seed(seed, "reset"), timeout_s=90)


def _graph_check(case: str, key: str):
    """The evaluation of a part's exported graph on its own (public) case: which operations
    it runs and what it computes, where no learner code runs."""
    cases = {"attention": _attention_case, "block": _block_case, "model": _model_case}

    def probe(seed: int) -> Probe:
        return graph_probe({key: cases[case](seed)[key]}, 3, timeout_s=30)

    return probe


GRAPH_CHECKS = {"ex4.attention": ("attention_graph", "attention_probe", "h4_causal", "x"),
                "ex4.block": ("block_graph", "block_probe", "own", "x"),
                "ex4.model": ("model_graph", "model_probe", "own", "ids")}
"""Per part: its graph's evaluation, the probe that exported it, the probe's output the graph
must reproduce, and the input set it runs on."""

EVALUATIONS = (
    Evaluation("heldout", source="training_probe", models=("graph",), probe=_heldout_probe),
    Evaluation("validation", source="training_probe",
               models=("graph_init", "graph_trained", "graph"), values=("block_size",),
               probe=_validation_probe),
    *(Evaluation(name, source=source, models=("graph",),
                 probe=_graph_check(source.removesuffix("_probe"), key))
      for name, source, _, key in GRAPH_CHECKS.values()),
)


# ----------------------------------------------------------------------------
# Scoring (grader only)
# ----------------------------------------------------------------------------

SCALES = {
    "1/sqrt(d_head)": lambda d_head, d: 1.0,
    "no scale": lambda d_head, d: math.sqrt(d_head),
    "1/d_head": lambda d_head, d: 1 / math.sqrt(d_head),
    "1/sqrt(d_model)": lambda d_head, d: math.sqrt(d_head / d),
    "1/d_model": lambda d_head, d: math.sqrt(d_head) / d,
}
"""Score scales a learner may use, as factors on PyTorch's own ``1/sqrt(d_head)``."""


def _tensor(a: np.ndarray):
    import torch

    return torch.from_numpy(np.asarray(a, dtype=np.float64))


def _state(case: dict, prefix: str) -> dict:
    return {k[len(prefix):]: _tensor(v) for k, v in case.items() if k.startswith(prefix)}


def _matches(got, want: np.ndarray) -> bool:
    return compare_arrays(got, want, name="x", **TOL) is None


def _graph_line(part: str, outputs: dict, results) -> str | None:
    """Why ``part`` scores 0 from its exported graph, evaluated where no learner code ran:
    the graph runs PyTorch's own attention, could not be exported, or computes something
    other than what the learner's code returned. None when none of these."""
    name, _, own_key, key = GRAPH_CHECKS[part]
    what = part.removeprefix("ex4.")
    result = results.get(name)
    if result is None or not result.ok:
        why = (result.error or result.describe_failure()) if result is not None else "not run"
        return (f"0 points: your {what} code could not be checked as an exported graph (how "
                f"the grader sees which operations it runs): {str(why).splitlines()[0]}")
    used = shared.attention_ops(result.outputs.get("ops"))
    if used:
        return (f"0 points: your {what} code runs PyTorch's own attention "
                f"({', '.join(map(str, used[:3]))}). {shared.REASON}.")
    got, _ = as_array(result.outputs.get(f"{key}_out"), "graph")
    own, _ = as_array(outputs.get(own_key), "own")
    if got is None or own is None or got.shape != own.shape or \
            not np.allclose(got, own, **TOL):
        return (f"0 points: your {what} code, exported as a graph (torch.jit.trace), computes "
                "something other than what it returned when called, so the grader cannot see "
                "which operations it runs. Compute the same thing whether or not torch.jit is "
                "tracing.")
    return None


def _score_attention(part: Part, o: dict, seed: int):
    case = _attention_case(seed)
    x = _tensor(case["x"])

    def ref(heads: int, causal: bool, rule: str = "1/sqrt(d_head)", inp=x) -> np.ndarray:
        factor = SCALES[rule](D_MODEL // heads, D_MODEL)
        return shared.reference_attention(inp, _state(case, f"h{heads}."), heads, causal,
                                   factor).numpy()

    score, lines = 0.0, []
    rule = "1/sqrt(d_head)"
    got1 = o.get("h1_nomask")
    if _matches(got1, ref(1, False)):
        score += 1
    else:
        rule = next((r for r in SCALES if r != rule and _matches(got1, ref(1, False, r))), "")
        lines.append(compare_arrays(got1, ref(1, False), name="one head, no mask", **TOL)
                     + (f" It matches the scores scaled by {rule} instead of 1/sqrt(d_head)."
                        if rule else " Scores q k^T / sqrt(d_head), softmax over the keys (the "
                        "last axis), then the weighted sum of v and the output projection."))
        rule = rule or "1/sqrt(d_head)"
    if _matches(o.get("h4_nomask"), ref(4, False, rule)):
        score += 1
    else:
        other = next((r for r in SCALES if _matches(o.get("h4_nomask"), ref(4, False, r))), "")
        lines.append(compare_arrays(o.get("h4_nomask"), ref(4, False, rule),
                                    name="four heads, no mask", **TOL)
                     + (f" It matches the scale {other} with four heads: the scale uses d_head "
                        "= d_model // n_heads." if other else
                        " With one head it is right: split the d_model features into n_heads "
                        "consecutive slices of d_head (view(batch, T, n_heads, d_head)"
                        ".transpose(1, 2)) and put them back in the same order."))
    causal_problems = []
    if not _matches(o.get("h1_causal"), ref(1, True, rule)):
        causal_problems.append(
            "with one head, causal=True differs from PyTorch's with a causal attn_mask"
            + (" (it equals the output without a mask)" if _matches(o.get("h1_causal"),
                                                                    ref(1, False, rule)) else ""))
    own, changed = as_array(o.get("h4_causal"), "x")[0], as_array(o.get("h4_changed"), "x")[0]
    if own is None or changed is None or own.shape != changed.shape or own.ndim != 3 or \
            not np.allclose(own[:, :4], changed[:, :4], **TOL):
        causal_problems.append("with four heads, changing the inputs at positions 4-6 changed "
                               "the outputs at positions 0-3: a query must not see later keys")
    if own is None or not _matches(o.get("h4_default"), own):
        causal_problems.append("forward(x) without causal= should be causal (the default)")
    score += point_unless(causal_problems, lines)
    return verdict(part, score, lines)


def _score_block(part: Part, o: dict, seed: int):
    case = _block_case(seed)
    x, state = _tensor(case["x"]), _state(case, "w.")
    score, lines = 0.0, []
    no_mlp = {**state, "mlp.2.weight": state["mlp.2.weight"] * 0, "mlp.2.bias":
              state["mlp.2.bias"] * 0}
    no_attn = {**state, "attn.out.weight": state["attn.out.weight"] * 0, "attn.out.bias":
               state["attn.out.bias"] * 0}
    for key, weights, what in (("attn_only", no_mlp, "the attention sub-layer (the MLP's last "
                                "layer set to zero): expected x + attn(ln1(x))"),
                               ("mlp_only", no_attn, "the MLP sub-layer (the attention's output "
                                "projection set to zero): expected x + mlp(ln2(x))")):
        want = shared.reference_block(x, weights, 4).numpy()
        if _matches(o.get(key), want):
            score += 1
            continue
        hint = next((h for kw, h in (({"post_ln": True}, "it normalizes after the residual sum "
                                      "(post-LN); normalize the sub-layer's input instead"),
                                     ({"activation": "relu"}, "the MLP uses ReLU, not GELU"),
                                     ({"activation": "tanh-gelu"}, "the MLP uses the tanh "
                                      "approximation of GELU, not the exact one"))
                     if _matches(o.get(key), shared.reference_block(x, weights, 4, **kw).numpy())), "")
        problem = compare_arrays(o.get(key), want, name="the block's output", **TOL)
        lines.append(f"{what}. {problem}" + (f" Likely cause: {hint}." if hint else ""))
    return verdict(part, score, lines)


def _score_model(part: Part, o: dict, seed: int):
    case = _model_case(seed)
    import torch

    ids = torch.from_numpy(case["ids"])
    want = shared.reference_logits(ids, _state(case, "w."), case["n_heads"]).numpy()
    score, lines = 0.0, []
    problem = compare_arrays(o.get("wired"), want, name="the logits", **TOL) or \
        compare_arrays(o.get("wired_short"), want[:, :5], name="the logits of 5 characters",
                       **TOL)
    if problem:
        lines.append(f"{problem} Expected head(ln_f(blocks(tok_emb(ids) + pos_emb(0..T-1)))), "
                     "logits (batch, T, vocab_size) (graded with PyTorch's attention in place "
                     "of yours).")
    else:
        score += 1
    own, _ = as_array(o.get("own"), "logits")
    changed, _ = as_array(o.get("own_changed"), "logits")
    if own is None or changed is None or own.shape != want.shape or \
            changed.shape != want.shape or not np.all(np.isfinite(own)):
        lines.append(f"causality could not be checked: the logits should have shape "
                     f"{want.shape}")
    elif not np.allclose(own[:, :5], changed[:, :5], **TOL):
        lines.append("changing the characters at positions 5-7 changed the logits at positions "
                     "0-4: your model sees later characters (is your attention's mask applied?)")
    else:
        score += 1
    return verdict(part, score, lines)


def _draws(o: dict, key: str, n: int) -> tuple[np.ndarray | None, str]:
    if f"{key}_error" in o:
        return None, f"sample_next raised {o[f'{key}_error']}"
    if o.get(f"{key}_type") != "torch.Tensor":
        return None, f"sample_next should return a torch.Tensor, got {o.get(f'{key}_type')}"
    arr, msg = as_array(o.get(key), "the ids")
    if arr is None:
        return None, msg
    if arr.shape != (n,) or arr.dtype.kind not in "iu":
        return None, f"sample_next should return int64 ids of shape ({n},), got {arr.dtype} " \
                     f"{arr.shape}"
    return arr.astype(np.int64), ""


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def _score_sampling(part: Part, o: dict, seed: int):
    case = _sampling_case(seed)
    logits, n, k = case["logits"].astype(np.float64), N_DRAWS, case["k"]
    score, lines = 0.0, []
    greedy, msg = _draws(o, "greedy", len(logits))
    greedy_k, msg_k = _draws(o, "greedy_topk", len(logits))
    if greedy is None or greedy_k is None:
        lines.append(msg or msg_k)
    elif not (np.array_equal(greedy, logits.argmax(1)) and np.array_equal(greedy_k,
                                                                           logits.argmax(1))):
        lines.append("temperature=0 should give the argmax of each row (also with top_k)")
    else:
        score += 1
    topk_lines = []
    for key, row, temperature in (("topk", 0, 1.0), ("topk_cool", 1, 0.7)):
        draws, msg = _draws(o, key, n)
        keep = np.argsort(logits[row])[::-1][:k]
        if draws is None:
            topk_lines.append(msg)
            continue
        outside = np.setdiff1d(np.unique(draws), keep)
        if outside.size:
            topk_lines.append(f"with top_k={k}, {int(np.isin(draws, outside).sum())} of {n} "
                              f"draws were outside the {k} largest logits")
            continue
        probs = np.zeros(len(logits[row]))
        probs[keep] = _softmax(logits[row, keep] / temperature)
        if temperature == 1.0 and shared.chi_square_p(draws, probs) < shared.P_MIN:
            topk_lines.append(f"with top_k={k}: the kept ids should keep their relative "
                              "probabilities (the softmax over the k kept logits); the "
                              "frequencies do not follow it")
    score += point_unless(topk_lines, lines)
    temp_lines = []
    for key, row, temperature in (("cool", 2, 0.6), ("hot", 3, 1.8)):
        draws, msg = _draws(o, key, n)
        if draws is None:
            temp_lines.append(msg)
        elif shared.chi_square_p(draws, _softmax(logits[row] / temperature)) < shared.P_MIN:
            plain = shared.chi_square_p(draws, _softmax(logits[row])) >= shared.P_MIN
            temp_lines.append(f"temperature={temperature}: the frequencies of {n} draws do not "
                              "follow softmax(logits / temperature)"
                              + (" (they follow softmax(logits): the temperature is ignored)"
                                 if plain else ""))
    score += point_unless(temp_lines, lines)
    return verdict(part, score, lines)


def _score_generate(part: Part, o: dict, seed: int):
    case = _generate_case(seed)
    prompt, n_new = case["prompt"], case["n_new"]
    want_shape = (prompt.shape[0], prompt.shape[1] + n_new)
    ids, msg = as_array(o.get("ids"), "generate's output")
    if ids is None:
        return part.failed(msg)
    if ids.shape != want_shape:
        return part.failed(f"generate(model, prompt, {n_new}) with a prompt of shape "
                           f"{prompt.shape} should return shape {want_shape}, got {ids.shape}.")
    if not np.array_equal(ids[:, :prompt.shape[1]], prompt):
        return part.failed("generate's output should start with the prompt, unchanged.")
    steps, msg = as_array(o.get("step_logits"), "the model's logits")
    if steps is None or steps.shape[:2] != (n_new, prompt.shape[0]):
        return part.failed(msg or "the model's logits at the generated positions could not be "
                           "computed")
    if not np.array_equal(ids[:, prompt.shape[1]:], steps.argmax(-1).T):
        return part.failed(f"with temperature=0 every new id should be the argmax of the model's "
                           f"logits at the last position, given the last block_size = "
                           f"{case['block_size']} ids (the prompt is {prompt.shape[1]} long: "
                           "crop the context).")
    return part.passed("The prompt is kept, the context cropped to block_size, and each new id "
                       "is the model's argmax at temperature 0.")


def _history_problem(o: dict, validation: ProbeResult) -> str | None:
    """Why the history breaks :data:`HISTORY_RULE` (None: it keeps it), judged against the
    validation losses the grader computed from the exported models in the evaluation sandbox
    (``validation``); the history itself is the learner's data."""
    history = o.get("history")
    if o.get("history_type") != "dict" or not isinstance(history, dict):
        return (o.get("history_error")
                or f"train_model should return a dict, got {o.get('history_type')}")
    if not validation.ok:
        why = validation.error or validation.describe_failure()
        return ("the grader could not compute the validation loss from your exported model: "
                f"{str(why).splitlines()[0]}")
    v = validation.outputs
    if isinstance(v.get("problem"), str):
        return f"the grader could not compute the validation loss: {v['problem']}"
    init, trained, tie = (v.get(k) for k in ("graph_init", "graph_trained", "tie"))
    if not all(isinstance(x, float) and math.isfinite(x) for x in (init, trained, tie)):
        return "the grader could not compute the validation loss from your exported model"
    if tie > TIE_TOL:
        return ("the model traced for the validation loss is not the model traced for the "
                "held-out text after training: forward must compute the same whenever it is "
                "called")
    return history_problem(history, init, trained)


def _score_training(part: Part, o: dict, rules: dict[str, str], validation: ProbeResult
                    ) -> object:
    problem = _history_problem(o, validation)
    rows = [f"{HISTORY_RULE} (both computed by the grader from the exported models): "
            f"{0 if problem else 1}/1" + (f"\n  - {problem}" if problem else "")]
    earned = 0.0 if problem else 1.0
    for rule, what in LM_LOOP_RULES.items():
        earned += 0.0 if rules[rule] else 0.5
        rows.append(f"{what}: {0 if rules[rule] else 0.5:g}/0.5"
                    + (f"\n  - {rules[rule]}" if rules[rule] else ""))
    text = "\n".join(rows)
    return part.passed(text) if earned == part.max_score else part.failed(text, score=earned)


def _score_perplexity(part: Part, result, cpu_s: float, seed: int, forbidden: list[str]):
    from dlbasics.toy_language import TOY_ALPHABET

    setup = (f"The grader built CharTransformer({len(TOY_ALPHABET)}) and trained it with "
             f"train_model's defaults on {N_TRAIN:,} characters of a language it invents "
             f"({N_VAL:,} for validation); the trained model, exported as a graph, predicted "
             f"{N_WINDOWS:,} held-out characters, each from the block_size characters before it.")
    if forbidden:
        return part.failed(f"{setup}\n0 points: {forbidden[0]}")
    if not isinstance(cpu_s, (int, float)) or not cpu_s <= CPU_BUDGET_S:
        return part.failed(f"{setup}\nYour notebook's cells and the training run took {cpu_s:.0f} s "
                           f"of CPU time, over the budget of {CPU_BUDGET_S:.0f} s: use fewer "
                           "steps or a smaller model.", status="timeout")
    windows, targets = heldout(seed)
    logits, problem = outputs_of(result, "windows", (N_WINDOWS, len(TOY_ALPHABET)))
    if logits is None:
        return part.failed(f"{setup}\n{problem}")
    used = shared.attention_ops(result.outputs.get("ops"))
    if used:
        return part.failed(f"{setup}\n0 points: the exported model runs PyTorch's own attention "
                           f"({', '.join(map(str, used[:3]))}). {shared.REASON}.")

    def reset_metric(reset) -> tuple[bool, str]:
        arr, _ = as_array(reset, "reset")
        if arr is None or arr.shape != logits.shape or not np.all(np.isfinite(arr)):
            return False, ""
        return shared.perplexity_of(arr, targets) < RESET_MIN_PPL, \
            f"has a held-out perplexity below {RESET_MIN_PPL:g}"

    problem = graph_problem(result, reset_metric, chance="a model that learned nothing is "
                            "near 20 or more")
    if problem:
        return part.failed(f"{setup}\nNo points: {problem}.")
    ppl = shared.perplexity_of(logits, targets)
    points = next((p for limit, p in PERPLEXITY_TIERS if ppl <= limit), 0.0)
    band = next((f"at most {limit:g}" for limit, p in PERPLEXITY_TIERS if ppl <= limit),
                f"above {PERPLEXITY_TIERS[-1][0]:g}")
    tiers = ", ".join(f"{p:g} for at most {limit:g}" for limit, p in PERPLEXITY_TIERS)
    msg = (f"{setup}\nHeld-out perplexity {band}; CPU time of the cells and the training run "
           f"{cpu_s:.1f} s of {CPU_BUDGET_S:.0f} s.")
    if points == part.max_score:
        return part.passed(msg)
    return part.failed(f"{msg}\nPoints by perplexity: {tiers}. Train longer or with another "
                       "learning rate, and check the targets (the next character: the window "
                       "shifted by one).", score=points)


NAMES = ("MultiHeadSelfAttention", "TransformerBlock", "CharTransformer", "sample_next",
         "generate", "train_model")


def _static_zero(part: Part, submission) -> object | None:
    reached = submission.static.reached_violations(*PART_CODE[part.name])
    if not reached:
        return None
    return part.failed("0 points: the code this part runs uses what Exercise 4 does not allow.\n"
                       + bullets([v.describe() for v in dict.fromkeys(reached)][:4]))


def score(results, submission):
    seed = submission.seed
    # each part's graph may zero it before its outputs are scored; the perplexity's model is
    # built from the same code, so what zeroes a part zeroes it too
    graph_lines = {part: _graph_line(part, results[source].outputs, results)
                   for part, (_, source, _, _) in GRAPH_CHECKS.items() if results[source].ok}
    runtime = [line.removeprefix("0 points: ") for line in graph_lines.values() if line]
    loop = results["loop_probe"]
    loop_rules = lm_loop_rule_problems(loop.outputs, _loop_case(seed)) if loop.ok else \
        dict.fromkeys(LM_LOOP_RULES, "the grader's probe model could not be trained: "
                      + loop.describe_failure().splitlines()[0])
    cpu_s = submission.cells_cpu_s() + results["training_probe"].cpu_s
    heldout_result, validation = (results.get(name) or ProbeResult(
        name, "not run", error="the trained model was not evaluated")
        for name in ("heldout", "validation"))

    def graph_first(fn):
        return lambda p, o: p.failed(graph_lines[p.name]) if graph_lines.get(p.name) \
            else fn(p, o, seed)

    tests = score_parts(PARTS, results, submission, names=NAMES, simple={
        "ex4.attention": ("attention_probe", graph_first(_score_attention)),
        "ex4.block": ("block_probe", graph_first(_score_block)),
        "ex4.model": ("model_probe", graph_first(_score_model)),
        "ex4.sampling": ("sampling_probe", lambda p, o: _score_sampling(p, o, seed)),
        "ex4.generate": ("generate_probe", lambda p, o: _score_generate(p, o, seed)),
    }, joint={("ex4.training", "ex4.perplexity"): ("training_probe", lambda t, a, o: (
        _score_training(t, o, loop_rules, validation),
        _score_perplexity(a, heldout_result, cpu_s, seed, runtime)))})
    return [_static_zero(next(p for p in PARTS if p.name == t.name), submission) or t
            for t in tests]


EXERCISE = Exercise(name="ex4", title="A tiny Transformer (PyTorch)",
                    notebook="ex4_transformer.ipynb", parts=PARTS, probes=probes, score=score,
                    limits=LIMITS, policy=POLICY, seed=SEED, evaluations=EVALUATIONS)
