"""Public checks of Exercise 4 (a tiny Transformer).

Each check runs the learner's code on a small public case and compares with
PyTorch's own layers loaded with the same weights
(``dlbasics.checks._transformer``), or with what the exercise asks for. The
grade itself comes from other, hidden cases, and from held-out text of a
language the grader invents.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

from dlbasics.checks._common import fmt, seeded_torch
from dlbasics.checks._lm_training import (
    history_problem,
    lm_loop_inputs,
    lm_loop_probe,
    lm_loop_rule_problems,
    validation_windows,
)
from dlbasics.checks._transformer import (
    FORBIDDEN_NAMES,
    P_MIN,
    REASON,
    ForbiddenOps,
    attention_ops,
    chi_square_p,
    heldout_windows,
    perplexity_of,
    reference_attention,
    reference_block,
    reference_logits,
)
from dlbasics.checks.registry import CheckOutcome, declare_rules, register
from dlbasics.checks.static import ImportRules

IMPORT_RULES = ImportRules(forbidden_names=FORBIDDEN_NAMES, reason=REASON)
"""Exercise 4's rules, public and the same for the checks and the grader."""

PART_CODE = {
    "ex4.attention": ("MultiHeadSelfAttention",),
    "ex4.block": ("TransformerBlock",),
    "ex4.model": ("CharTransformer",),
    "ex4.sampling": ("sample_next",),
    "ex4.generate": ("generate",),
    "ex4.training": ("train_model",),
    "ex4.perplexity": ("CharTransformer", "train_model"),
}
"""Which of the learner's definitions each graded part runs."""

declare_rules("ex4", IMPORT_RULES, PART_CODE)

PERPLEXITY_TIERS = ((2.5, 3.0), (3.0, 2.0), (4.0, 1.0))
"""``(highest perplexity, points)`` of ``ex4.perplexity``, best first (the grader's, stated in
the exercise)."""

PUBLIC_TEXT_SEED = 0
PUBLIC_TRAIN_CHARS, PUBLIC_VAL_CHARS, PUBLIC_TEST_CHARS = 100_000, 10_000, 10_000
"""The notebook's text: ``make_toy_text(120_000, seed=0)``, cut into training, validation and
test characters in this order; the perplexity check scores the test part."""


def _forbidden(watch: ForbiddenOps) -> CheckOutcome | None:
    if not watch.seen:
        return None
    return CheckOutcome(False, "your code runs PyTorch's own attention, which this exercise "
                        "does not allow: the parts that use it will score 0.",
                        f"seen while it ran: {', '.join(watch.seen)}\n{REASON}.")


def _graph_problem(module: Any, example: Any, own: Any, what: str,
                   causal: bool | None = None) -> CheckOutcome | None:
    """What the grader does with ``module``: export it as a traced graph, read the graph's
    operations and run it on ``example``. None when it exports, runs no attention of
    PyTorch's and returns ``own`` (the module's output when called); else why not."""
    import io
    import warnings

    import torch

    from dlbasics.checks._export import export_graph

    class Call(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: Any) -> Any:
            return self.inner(x, causal=causal)

    try:
        data = export_graph(Call(module) if causal is not None else module, example)
    except RuntimeError as exc:
        return CheckOutcome(False, f"your {what} cannot be exported as a graph (torch.jit.trace),"
                            " which is how the grader reads the operations it runs: the part "
                            "would score 0.", str(exc))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        graph = torch.jit.load(io.BytesIO(data.tobytes()), map_location="cpu")
    inlined = graph.inlined_graph
    torch._C._jit_pass_dce(inlined)
    used = attention_ops(sorted({n.kind() for n in inlined.nodes()}))
    if used:
        return CheckOutcome(False, "your code runs PyTorch's own attention, which this exercise "
                            "does not allow: the parts that use it will score 0.",
                            f"in its exported graph: {', '.join(used)}\n{REASON}.")
    with torch.no_grad():
        got = graph(example)
    if not torch.allclose(got, own, rtol=1e-4, atol=1e-5):
        return CheckOutcome(False, f"your {what}, exported as a graph, computes something other "
                            "than what it returns when called: the grader reads the graph, so "
                            "the part would score 0.", "Compute the same thing whether or not "
                            "torch.jit is tracing.")
    return None


def _randomize(module: Any, std: float = 0.5, seed: int = 0) -> None:
    """Every parameter of ``module`` drawn from N(0, std²) (layer norms around 1)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            parts = name.split(".")
            centre = 1.0 if len(parts) > 1 and parts[-2].startswith("ln") and \
                parts[-1] == "weight" else 0.0
            p.copy_(centre + std * torch.randn(p.shape, generator=gen))


def _state(module: Any) -> dict:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _missing(module: Any, names: dict[str, tuple[int, ...]], cls: str) -> CheckOutcome | None:
    """A failed outcome when ``module`` lacks a parameter of the expected name and shape."""
    state = module.state_dict()
    for name, shape in names.items():
        if name not in state or tuple(state[name].shape) != shape:
            given = tuple(state[name].shape) if name in state else "missing"
            return CheckOutcome(False, f"{cls} should have a parameter {name} of shape {shape}.",
                                f"given: {given}. Keep the attribute names of the exercise: the "
                                "grader loads its own weights by these names.")
    return None


def attention_names(d: int) -> dict[str, tuple[int, ...]]:
    """Parameter names and shapes of ``MultiHeadSelfAttention(d, n_heads)``."""
    return {"qkv.weight": (3 * d, d), "qkv.bias": (3 * d,), "out.weight": (d, d),
            "out.bias": (d,)}


def block_names(d: int) -> dict[str, tuple[int, ...]]:
    """Parameter names and shapes of ``TransformerBlock(d, n_heads)``."""
    return {"ln1.weight": (d,), "ln1.bias": (d,), **{f"attn.{k}": v for k, v in
                                                     attention_names(d).items()},
            "ln2.weight": (d,), "ln2.bias": (d,), "mlp.0.weight": (4 * d, d),
            "mlp.0.bias": (4 * d,), "mlp.2.weight": (d, 4 * d), "mlp.2.bias": (d,)}


def model_names(vocab: int, d: int, n_layers: int, block_size: int) -> dict[str, tuple[int, ...]]:
    """Parameter names and shapes of ``CharTransformer(vocab, d, n_heads, n_layers, block_size)``."""
    names = {"tok_emb.weight": (vocab, d), "pos_emb.weight": (block_size, d)}
    for i in range(n_layers):
        names.update({f"blocks.{i}.{k}": v for k, v in block_names(d).items()})
    names.update({"ln_f.weight": (d,), "ln_f.bias": (d,), "head.weight": (vocab, d),
                  "head.bias": (vocab,)})
    return names


def scale_hint(got: Any, x: Any, state: dict, n_heads: int, causal: bool) -> str:
    """Which common scale ``got`` matches, said as a hint (empty when none)."""
    import torch

    d_head = x.shape[-1] // n_heads
    for factor, what in ((math.sqrt(d_head), "the scores are not divided by sqrt(d_head)"),
                         (math.sqrt(d_head) / x.shape[-1], "the scores are divided by d_model"),
                         (math.sqrt(d_head / x.shape[-1]), "the scores are divided by "
                          "sqrt(d_model) instead of sqrt(d_head)"),
                         (1 / math.sqrt(d_head), "the scores are divided by d_head instead of "
                          "sqrt(d_head)")):
        if torch.allclose(got, reference_attention(x, state, n_heads, causal, factor),
                          rtol=1e-4, atol=1e-5):
            return what
    return ""


@register("ex4.attention", uses=PART_CODE["ex4.attention"])
def check_attention(MultiHeadSelfAttention) -> CheckOutcome:
    """Equal to ``nn.MultiheadAttention`` with and without the causal mask, 1 to 3 heads."""
    torch = seeded_torch()
    x = torch.randn(2, 6, 12)
    runs = []
    with ForbiddenOps() as watch:
        for n_heads in (1, 2, 3):
            layer = MultiHeadSelfAttention(12, n_heads)
            problem = _missing(layer, attention_names(12), "MultiHeadSelfAttention")
            if problem:
                return problem
            _randomize(layer, seed=n_heads)
            with torch.no_grad():
                runs += [(n_heads, causal, _state(layer), layer(x, causal=causal))
                         for causal in (False, True)]
        x2 = x.clone()
        x2[:, 3:] = torch.randn(2, 3, 12)
        with torch.no_grad():
            same = torch.allclose(layer(x2)[:, :3], layer(x)[:, :3], rtol=1e-5, atol=1e-6)
    forbidden = _forbidden(watch)
    if forbidden:
        return forbidden
    for n_heads, causal, state, got in runs:
        call = f"MultiHeadSelfAttention(12, n_heads={n_heads})(x, causal={causal})"
        if tuple(got.shape) != (2, 6, 12):
            return CheckOutcome(False, "the output should have the shape of x.",
                                f"{call} with x of shape (2, 6, 12) gave {tuple(got.shape)}")
        want = reference_attention(x, state, n_heads, causal)
        if torch.allclose(got, want, rtol=1e-4, atol=1e-5):
            continue
        hint = scale_hint(got, x, state, n_heads, causal)
        if not hint and causal and torch.allclose(
                got, reference_attention(x, state, n_heads, False), rtol=1e-4, atol=1e-5):
            hint = "causal=True gives the output without the mask"
        if not hint and n_heads > 1:
            hint = ("it is right with one head but not with several: split d_model into "
                    "n_heads slices of d_head = d_model // n_heads features "
                    "(view(batch, T, n_heads, d_head).transpose(1, 2)) and put them back the "
                    "same way before `out`")
        return CheckOutcome(False, f"{call} differs from nn.MultiheadAttention with the same "
                            "weights.",
                            f"largest difference {float((got - want).abs().max()):.3g}"
                            + (f"\nLikely cause: {hint}." if hint else
                               "\nexpected (first row):\n" + fmt(want[0, :2]) + "\n  given:\n"
                               + fmt(got[0, :2])))
    if not same:
        return CheckOutcome(False, "with causal=True (the default) changing positions 3-5 "
                            "changed the outputs at positions 0-2.")
    problem = _graph_problem(layer, x, runs[-1][3], "MultiHeadSelfAttention", causal=True)
    if problem:
        return problem
    return CheckOutcome(True, "equal to nn.MultiheadAttention with 1, 2 and 3 heads, with and "
                        "without the causal mask; the default is causal.")


@register("ex4.block", uses=PART_CODE["ex4.block"])
def check_block(TransformerBlock) -> CheckOutcome:
    """The pre-LN block with a GELU MLP, on random weights."""
    torch = seeded_torch()
    block = TransformerBlock(8, 2)
    problem = _missing(block, block_names(8), "TransformerBlock")
    if problem:
        return problem
    _randomize(block)
    state = _state(block)
    x = torch.randn(3, 5, 8)
    with ForbiddenOps() as watch, torch.no_grad():
        got = block(x)
    forbidden = _forbidden(watch)
    if forbidden:
        return forbidden
    if tuple(got.shape) != (3, 5, 8):
        return CheckOutcome(False, "the output should have the shape of x.",
                            f"x: (3, 5, 8), given {tuple(got.shape)}")
    want = reference_block(x, state, 2)
    if torch.allclose(got, want, rtol=1e-4, atol=1e-4):
        return _graph_problem(block, x, got, "TransformerBlock") or CheckOutcome(
            True, "x + attn(ln1(x)), then + mlp(ln2(.)), with GELU and the causal mask.")
    for kwargs, what in (({"post_ln": True}, "it normalizes after each residual sum (post-LN); "
                          "this block normalizes the input of each sub-layer: x + attn(ln1(x))"),
                         ({"activation": "relu"}, "the MLP uses ReLU instead of GELU"),
                         ({"activation": "tanh-gelu"}, "the MLP uses the tanh approximation of "
                          "GELU; use nn.GELU() (the exact, erf form)")):
        if torch.allclose(got, reference_block(x, state, 2, **kwargs), rtol=1e-4, atol=1e-4):
            return CheckOutcome(False, "the block is not the pre-LN block.", f"Likely cause: {what}.")
    return CheckOutcome(False, "the block's output is wrong.",
                        f"largest difference {float((got - want).abs().max()):.3g}. It should be "
                        "h = x + attn(ln1(x)); out = h + mlp(ln2(h)), with mlp = Linear(d, 4d), "
                        "GELU, Linear(4d, d) and causal attention.")


@register("ex4.model", uses=PART_CODE["ex4.model"])
def check_model(CharTransformer) -> CheckOutcome:
    """Logits with learned positions on random weights; causality; the length limit."""
    torch = seeded_torch()
    model = CharTransformer(11, d_model=16, n_heads=2, n_layers=2, block_size=8)
    problem = _missing(model, model_names(11, 16, 2, 8), "CharTransformer")
    if problem:
        return problem
    _randomize(model)
    model.eval()
    ids = torch.randint(0, 11, (3, 8))
    with ForbiddenOps() as watch, torch.no_grad():
        got = model(ids)
        short = model(ids[:, :5])
    forbidden = _forbidden(watch)
    if forbidden:
        return forbidden
    if tuple(got.shape) != (3, 8, 11) or tuple(short.shape) != (3, 5, 11):
        return CheckOutcome(False, "logits should have shape (batch, T, vocab_size).",
                            f"ids (3, 8) gave {tuple(got.shape)}, ids (3, 5) gave "
                            f"{tuple(short.shape)}; expected (3, 8, 11) and (3, 5, 11)")
    want = reference_logits(ids, _state(model), 2)
    if not torch.allclose(got, want, rtol=1e-4, atol=1e-4):
        return CheckOutcome(False, "the logits differ from tok_emb + pos_emb -> blocks -> ln_f "
                            "-> head with the same weights.",
                            f"largest difference {float((got - want).abs().max()):.3g}")
    changed = ids.clone()
    changed[:, 5:] = (changed[:, 5:] + 1) % 11
    with torch.no_grad():
        if not torch.allclose(model(changed)[:, :5], got[:, :5], rtol=1e-5, atol=1e-5):
            return CheckOutcome(False, "changing the characters at positions 5-7 changed the "
                                "logits at positions 0-4: the model sees the future.")
    try:
        model(torch.zeros(1, 9, dtype=torch.int64))
    except ValueError:
        pass
    except Exception as exc:  # noqa: BLE001 - the learner's code may raise anything
        return CheckOutcome(False, "a sequence longer than block_size should raise ValueError.",
                            f"given: {type(exc).__name__}: {exc}")
    else:
        return CheckOutcome(False, "a sequence longer than block_size should raise ValueError "
                            "(there is no learned position for it).")
    problem = _graph_problem(model, ids, got, "CharTransformer")
    if problem:
        return problem
    return CheckOutcome(True, "logits (batch, T, vocab_size) equal the reference with learned "
                        "positions; earlier logits ignore later characters; T > block_size "
                        "raises ValueError.")


def _sampling_problem(sample_next: Any) -> str:
    import torch

    logits = torch.tensor([[2.0, 1.0, 0.5, 0.0, -1.0, 1.5], [0.0, 3.0, -2.0, 1.0, 2.5, 0.2]])
    gen = torch.Generator().manual_seed(0)
    greedy = sample_next(logits, temperature=0.0, generator=gen)
    if not isinstance(greedy, torch.Tensor) or tuple(greedy.shape) != (2,) or \
            greedy.dtype != torch.int64:
        return ("sample_next should return an int64 tensor of shape (batch,): logits (2, 6) gave "
                f"{type(greedy).__name__} {tuple(getattr(greedy, 'shape', ()))} "
                f"{getattr(greedy, 'dtype', '')}")
    if greedy.tolist() != [0, 1]:
        return f"temperature=0 should give the argmax of each row [0, 1], got {greedy.tolist()}"
    many = logits[1].repeat(4000, 1)
    top = sample_next(many, temperature=1.0, top_k=2, generator=gen)
    outside = sorted(set(top.tolist()) - {1, 4})
    if outside:
        return (f"top_k=2 should only draw ids 1 and 4 (the two largest logits), but drew "
                f"{outside}")
    draws = sample_next(many, temperature=1.0, top_k=3, generator=gen).numpy()
    probs = np.zeros(6)
    probs[[1, 3, 4]] = torch.softmax(logits[1, [1, 3, 4]], dim=0).double().numpy()
    if chi_square_p(draws, probs) < P_MIN:
        return ("with top_k=3 the 3 kept ids should keep their relative odds (the softmax over "
                f"the kept logits); frequencies of 4000 draws: {_freq(draws)}, expected "
                f"{_freq(probs)}")
    for temperature in (0.5, 2.0):
        draws = sample_next(many, temperature=temperature, generator=gen).numpy()
        probs = torch.softmax(logits[1] / temperature, dim=0).double().numpy()
        if chi_square_p(draws, probs) < P_MIN:
            return (f"temperature={temperature}: frequencies of 4000 draws {_freq(draws)} do not "
                    f"follow softmax(logits / temperature) = {_freq(probs)}")
    return ""


def _freq(a: np.ndarray) -> str:
    """Frequencies of ids 0-5 (draws) or probabilities, 3 decimals."""
    p = np.bincount(a, minlength=6) / len(a) if a.dtype.kind in "iu" else a
    return fmt(p)


@register("ex4.sampling", uses=PART_CODE["ex4.sampling"])
def check_sampling(sample_next) -> CheckOutcome:
    """Argmax at temperature 0; top-k stays in the k; frequencies follow softmax(z / T)."""
    problem = _sampling_problem(sample_next)
    if problem:
        return CheckOutcome(False, "sample_next does not sample as asked.", problem)
    return CheckOutcome(True, "temperature 0 is the argmax, top_k never leaves the k largest, "
                        "and 4000 draws follow softmax(logits / temperature).")


@register("ex4.generate", uses=PART_CODE["ex4.generate"])
def check_generate(generate, CharTransformer) -> CheckOutcome:
    """Greedy generation: the prompt kept, n_new argmax characters, the context cropped."""
    torch = seeded_torch()
    model = CharTransformer(11, d_model=16, n_heads=2, n_layers=1, block_size=6)
    _randomize(model, std=1.0)
    model.eval()
    prompt = torch.randint(0, 11, (2, 9))  # longer than block_size
    out = generate(model, prompt, 5, temperature=0.0)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, 14):
        return CheckOutcome(False, "generate should return the prompt and n_new new ids, "
                            "(batch, T + n_new).",
                            f"prompt (2, 9), n_new=5: given {tuple(getattr(out, 'shape', ()))}")
    if not torch.equal(out[:, :9], prompt):
        return CheckOutcome(False, "the output should start with the prompt, unchanged.")
    with torch.no_grad():
        for t in range(9, 14):
            want = model(out[:, t - 6:t])[:, -1].argmax(dim=-1)
            if not torch.equal(out[:, t], want):
                return CheckOutcome(False, f"with temperature=0, the id at position {t} should "
                                    "be the argmax of the model's last logits given the "
                                    "previous block_size ids.",
                                    f"expected {want.tolist()}, given {out[:, t].tolist()}")
    return CheckOutcome(True, "generate keeps the prompt, crops the context to block_size, and "
                        "at temperature 0 appends the argmax.")


@register("ex4.training", uses=PART_CODE["ex4.training"])
def check_training(train_model, CharTransformer) -> CheckOutcome:
    """Sixty steps on a small text: the history against the model's own validation losses,
    then the loop's rules."""
    torch = seeded_torch()
    from dlbasics.toy_language import TOY_ALPHABET, encode_chars, make_toy_text

    ids = torch.from_numpy(encode_chars(make_toy_text(12_000, seed=1)))
    train_ids, val_ids = ids[:10_000], ids[10_000:]
    model = CharTransformer(len(TOY_ALPHABET), d_model=32, n_heads=2, n_layers=1, block_size=16)
    x, y = (torch.from_numpy(a) for a in validation_windows(val_ids.numpy(), 16))

    def val_loss(m) -> float:  # evaluate_loss's definition, computed here
        m.eval()
        with torch.no_grad():
            return float(torch.nn.functional.cross_entropy(m(x).flatten(0, 1), y.flatten()))

    untrained = val_loss(copy.deepcopy(model))
    history = train_model(model, train_ids, val_ids, steps=60, eval_every=20)
    trained = val_loss(model)
    problem = history_problem(history, untrained, trained)
    if problem:
        return CheckOutcome(False, f"the history breaks its rule: {problem}.",
                            f"given: {history!r:.300}")
    train, val = (np.asarray(history[k], dtype=np.float64) for k in ("train_loss", "val_loss"))
    if train.shape != (3,):
        return CheckOutcome(False, "the history should hold one value per evaluation.",
                            f"steps=60, eval_every=20: expected 3 values each; got "
                            f"{train.shape[0]}")
    inputs = lm_loop_inputs(PUBLIC_TEXT_SEED, len(TOY_ALPHABET))
    problems = [p for p in lm_loop_rule_problems(lm_loop_probe({"train_model": train_model},
                                                               inputs), inputs).values() if p]
    if problems:
        return CheckOutcome(False, "the training loop breaks a rule of Part 5 (seen by training "
                            "a small model of the grader's three times: seed 0 twice, seed 1).",
                            "\n".join(f"- {p}" for p in problems))
    return CheckOutcome(True, f"60 steps: training loss {train[0]:.2f} -> {train[-1]:.2f}, "
                        f"validation loss {untrained:.2f} (untrained) -> {val[-1]:.2f}, the "
                        f"trained model's (nats per character; uniform guessing is "
                        f"ln {len(TOY_ALPHABET)} = {math.log(len(TOY_ALPHABET)):.2f}).")


def public_test_ids() -> np.ndarray:
    """The notebook's test characters: the last 10,000 of ``make_toy_text(120_000, seed=0)``."""
    from dlbasics.toy_language import encode_chars, make_toy_text

    n = PUBLIC_TRAIN_CHARS + PUBLIC_VAL_CHARS + PUBLIC_TEST_CHARS
    return encode_chars(make_toy_text(n, seed=PUBLIC_TEXT_SEED))[-PUBLIC_TEST_CHARS:]


@register("ex4.perplexity", uses=PART_CODE["ex4.perplexity"])
def check_perplexity(model) -> CheckOutcome:
    """The trained model's perplexity on the notebook's test text, measured as the grader does."""
    torch = seeded_torch()
    windows, targets = heldout_windows(public_test_ids(), model.block_size, 2000)
    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(torch.from_numpy(windows[i:i + 500]))[:, -1]
                            for i in range(0, len(windows), 500)])
    ppl = perplexity_of(logits.double().numpy(), targets)
    points = next((p for limit, p in PERPLEXITY_TIERS if ppl <= limit), 0.0)
    tiers = ", ".join(f"{p:g} at most {limit:g}" for limit, p in PERPLEXITY_TIERS)
    msg = (f"perplexity {ppl:.2f} on the notebook's test text, predicting each of 2000 "
           f"characters from the {model.block_size} before it")
    if points == PERPLEXITY_TIERS[0][1]:
        return CheckOutcome(True, msg + ".",
                            f"The grader trains your model on a language of its own with your "
                            f"defaults and gives points by perplexity ({tiers}).")
    return CheckOutcome(False, msg + f": {points:g} of {PERPLEXITY_TIERS[0][1]:g} points at "
                        f"this level ({tiers}).",
                        "Train longer or with a higher learning rate, or check the targets "
                        "(the next character: ids shifted by one).")
