"""What Exercise 4's public checks and its grader share: references, rules, the watch.

Not an exercise module (the leading underscore keeps :func:`dlbasics.checks.available`
from loading it). Everything here is public: the references are PyTorch's own
layers loaded with given weights, and the rules are those the exercise states.

* :data:`FORBIDDEN_NAMES` and :class:`ForbiddenOps`: what the exercise may not
  use, found by reading the code (the static scan) and by watching what runs.
* :func:`reference_attention`, :func:`reference_block`, :func:`reference_logits`:
  ``torch.nn.MultiheadAttention``, ``F.layer_norm`` and ``F.gelu`` with the
  weights of the learner's modules, named as the exercise asks
  (``qkv``/``out``; ``ln1``/``attn``/``ln2``/``mlp``; ``tok_emb``/``pos_emb``/
  ``blocks``/``ln_f``/``head``).
* :func:`heldout_windows` and :func:`perplexity_of`: how held-out perplexity is
  measured, one prediction per window from the characters before it only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

FORBIDDEN_NAMES = (
    "torch.nn.MultiheadAttention",
    "torch.nn.Transformer",
    "torch.nn.TransformerEncoder",
    "torch.nn.TransformerDecoder",
    "torch.nn.TransformerEncoderLayer",
    "torch.nn.TransformerDecoderLayer",
    "torch.nn.modules.activation.MultiheadAttention",
    "torch.nn.modules.transformer",
    "torch.nn.functional.scaled_dot_product_attention",
    "torch.nn.functional.multi_head_attention_forward",
    "torch._C._nn.scaled_dot_product_attention",
    "torch._native_multi_head_attention",
    "torch._transformer_encoder_layer_fwd",
    "torch.ops.aten.scaled_dot_product_attention",
    "dlbasics.self_attention",
    "dlbasics.scaled_dot_product_attention_forward",
    "dlbasics.scaled_dot_product_attention_backward",
    "dlbasics.multi_head_attention_forward",
    "dlbasics.multi_head_attention_backward",
)
"""What Exercise 4 may not use: PyTorch's own attention and Transformer layers, and the course
package's reference attention (the book's, which the exercise asks you to write yourself)."""

FORBIDDEN_OPS = ("scaled_dot_product", "multi_head_attention", "transformer_encoder_layer",
                 "transformer_decoder", "flash_attention", "efficient_attention")
"""Pieces of the names of PyTorch functions and operators that compute attention for you."""


def attention_ops(names: Any) -> list[str]:
    """The names among ``names`` (functions, operators, graph node kinds) that are PyTorch's
    own attention (:data:`FORBIDDEN_OPS`), in order, each once; a ``names`` that is not a list
    of names (an exported graph's untrusted record) counts as one that could not be read."""
    if not isinstance(names, (list, tuple, set)):
        return ["(the graph's operations could not be read)"]
    found = [str(n) for n in names if any(piece in str(n).lower() for piece in FORBIDDEN_OPS)]
    return list(dict.fromkeys(found))

REASON = ("Exercise 4 builds attention from matrix products and a softmax: nn.MultiheadAttention, "
          "F.scaled_dot_product_attention, nn.Transformer* and dlbasics' attention functions are "
          "not allowed")


class ForbiddenOps:
    """Record every forbidden attention function or operator that runs inside ``with``.

    Watches both the Python functions (``F.scaled_dot_product_attention``,
    ``F.multi_head_attention_forward``, through a ``TorchFunctionMode``) and
    the operators they dispatch to (``aten::_scaled_dot_product_flash_attention_for_cpu``,
    ``aten::_native_multi_head_attention``, through a ``TorchDispatchMode``), so
    a reference kept from before, ``torch.ops.aten`` or ``getattr`` are seen
    as well. ``seen`` lists their names, in the order they first ran.
    """

    def __init__(self) -> None:
        self.seen: list[str] = []
        self._modes: list[Any] = []

    def _note(self, name: str) -> None:
        if attention_ops([name]) and name not in self.seen:
            self.seen.append(name)

    def __enter__(self) -> ForbiddenOps:
        from torch.overrides import TorchFunctionMode
        from torch.utils._python_dispatch import TorchDispatchMode

        note = self._note

        class Functions(TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):
                note(getattr(func, "__name__", "") or str(func))
                return func(*args, **(kwargs or {}))

        class Operators(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                note(str(func))
                return func(*args, **(kwargs or {}))

        self._modes = [Functions(), Operators()]
        for mode in self._modes:
            mode.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        for mode in reversed(self._modes):
            mode.__exit__(*exc)
        self._modes = []


# ----------------------------------------------------------------------------
# References: PyTorch's layers with the learner's weights
# ----------------------------------------------------------------------------


def causal_mask(T: int) -> Any:
    """``(T, T)`` bool, ``True`` above the diagonal: the keys a query may **not** see
    (``torch.nn.MultiheadAttention``'s ``attn_mask`` convention)."""
    import torch

    return torch.ones(T, T, dtype=torch.bool).triu(1)


def reference_attention(x: Any, state: Mapping[str, Any], n_heads: int, causal: bool,
                        q_scale: float = 1.0) -> Any:
    """``torch.nn.MultiheadAttention(d_model, n_heads, batch_first=True)`` self-attention.

    Parameters
    ----------
    x : torch.Tensor, shape (batch, T, d_model)
    state : mapping
        ``qkv.weight`` ``(3 d_model, d_model)`` and ``qkv.bias`` ``(3 d_model,)``,
        rows in the order q, k, v (``in_proj_weight``/``in_proj_bias``);
        ``out.weight`` ``(d_model, d_model)`` and ``out.bias`` (``out_proj``).
    n_heads : int
    causal : bool
        Query ``i`` sees keys ``j <= i`` only.
    q_scale : float
        Multiplies the query projection: the reference with scores scaled by
        ``q_scale / sqrt(d_head)`` (1: PyTorch's own; ``sqrt(d_head)``: no scale),
        used to say which scale a wrong answer used.

    Returns
    -------
    torch.Tensor, shape (batch, T, d_model), in ``x``'s dtype.
    """
    import torch
    from torch import nn

    d_model = x.shape[-1]
    mha = nn.MultiheadAttention(d_model, n_heads, batch_first=True, dtype=x.dtype)
    w, b = state["qkv.weight"].to(x.dtype).clone(), state["qkv.bias"].to(x.dtype).clone()
    w[:d_model] *= q_scale
    b[:d_model] *= q_scale
    with torch.no_grad():
        mha.in_proj_weight.copy_(w)
        mha.in_proj_bias.copy_(b)
        mha.out_proj.weight.copy_(state["out.weight"])
        mha.out_proj.bias.copy_(state["out.bias"])
        mask = causal_mask(x.shape[1]) if causal else None
        out, _ = mha(x, x, x, attn_mask=mask, need_weights=False)
    return out


def load_weights(module: Any, state: Mapping[str, Any]) -> None:
    """Copy ``state`` (name -> tensor or array) into ``module``'s parameters of those names.

    Other parameters and buffers of ``module`` (a causal mask kept as a buffer, say) are
    left alone. Raises ``ValueError`` naming the first parameter that is missing or has
    another shape, since the grader's weights are loaded by these names.
    """
    import torch

    own = dict(module.named_parameters())
    with torch.no_grad():
        for name, value in state.items():
            value = torch.as_tensor(value)
            if name not in own:
                raise ValueError(f"{type(module).__name__} has no parameter {name} (keep the "
                                 "attribute names of the exercise)")
            if tuple(own[name].shape) != tuple(value.shape):
                raise ValueError(f"{type(module).__name__}.{name} has shape "
                                 f"{tuple(own[name].shape)}, expected {tuple(value.shape)}")
            own[name].copy_(value)


def model_from_inputs(CharTransformer: Any, inputs: Mapping[str, Any]) -> Any:
    """``CharTransformer(vocab_size, d_model=, n_heads=, n_layers=, block_size=)`` with the
    sizes in ``inputs`` and the weights ``inputs["w.<parameter name>"]`` (a probe's inputs)."""
    import torch

    sizes = {k: int(inputs[k]) for k in ("d_model", "n_heads", "n_layers", "block_size")}
    model = CharTransformer(int(inputs["vocab_size"]), **sizes)
    load_weights(model, {k[len("w."):]: torch.from_numpy(v) for k, v in inputs.items()
                         if k.startswith("w.")})
    return model


def torch_attention(layer: Any) -> Any:
    """PyTorch's ``nn.MultiheadAttention`` holding the weights of the learner's ``layer``.

    ``layer`` is a ``MultiHeadSelfAttention`` (``qkv``, ``out``, ``n_heads``); the
    returned module has the same ``forward(x, causal=True)``. The grader puts it in
    place of the learner's attention to grade the block and the model on their own,
    so that a mistake in the attention costs points once, in ``ex4.attention``.
    """
    import torch
    from torch import nn

    class TorchAttention(nn.Module):
        def __init__(self):
            super().__init__()
            d = layer.qkv.in_features
            self.n_heads = layer.n_heads
            self.mha = nn.MultiheadAttention(d, layer.n_heads, batch_first=True)
            with torch.no_grad():
                self.mha.in_proj_weight.copy_(layer.qkv.weight)
                self.mha.in_proj_bias.copy_(layer.qkv.bias)
                self.mha.out_proj.weight.copy_(layer.out.weight)
                self.mha.out_proj.bias.copy_(layer.out.bias)

        def forward(self, x, causal=True):
            mask = causal_mask(x.shape[1]) if causal else None
            return self.mha(x, x, x, attn_mask=mask, need_weights=False)[0]

    return TorchAttention()


def _sub(state: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def reference_block(x: Any, state: Mapping[str, Any], n_heads: int, *, post_ln: bool = False,
                    activation: str = "gelu") -> Any:
    """The pre-LN Transformer block with causal attention and a GELU MLP.

    ``h = x + attn(ln1(x))``, ``out = h + mlp(ln2(h))`` with
    ``mlp = Linear(d, 4d) -> GELU -> Linear(4d, d)``; ``state`` holds ``ln1.weight``,
    ``ln1.bias``, ``attn.qkv.*``, ``attn.out.*``, ``ln2.*``, ``mlp.0.*``, ``mlp.2.*``.
    ``post_ln`` (normalize after each residual sum) and ``activation`` (``"relu"``,
    ``"tanh-gelu"``) give the wrong variants a learner may have written, to name them.
    """
    import torch.nn.functional as F

    d = x.shape[-1]

    def ln(name, t):
        return F.layer_norm(t, (d,), state[f"{name}.weight"].to(x.dtype),
                            state[f"{name}.bias"].to(x.dtype))

    def mlp(t):
        h = F.linear(t, state["mlp.0.weight"].to(x.dtype), state["mlp.0.bias"].to(x.dtype))
        h = {"gelu": F.gelu, "relu": F.relu,
             "tanh-gelu": lambda z: F.gelu(z, approximate="tanh")}[activation](h)
        return F.linear(h, state["mlp.2.weight"].to(x.dtype), state["mlp.2.bias"].to(x.dtype))

    attn = _sub(state, "attn.")
    if post_ln:
        h = ln("ln1", x + reference_attention(x, attn, n_heads, causal=True))
        return ln("ln2", h + mlp(h))
    h = x + reference_attention(ln("ln1", x), attn, n_heads, causal=True)
    return h + mlp(ln("ln2", h))


def reference_logits(ids: Any, state: Mapping[str, Any], n_heads: int) -> Any:
    """Logits ``(batch, T, vocab_size)`` of the character model with the weights ``state``.

    ``tok_emb(ids) + pos_emb(0..T-1)``, then ``blocks.0``, ``blocks.1``, ... (each
    :func:`reference_block`), then ``ln_f`` and ``head``; computed in the dtype of
    ``tok_emb.weight``.
    """
    import torch
    import torch.nn.functional as F

    x = state["tok_emb.weight"][ids] + state["pos_emb.weight"][torch.arange(ids.shape[1])]
    n_layers = len({k.split(".")[1] for k in state if k.startswith("blocks.")})
    for i in range(n_layers):
        x = reference_block(x, _sub(state, f"blocks.{i}."), n_heads)
    d = x.shape[-1]
    x = F.layer_norm(x, (d,), state["ln_f.weight"], state["ln_f.bias"])
    return F.linear(x, state["head.weight"], state["head.bias"])


# ----------------------------------------------------------------------------
# Held-out perplexity
# ----------------------------------------------------------------------------


def heldout_windows(ids: np.ndarray, block_size: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` windows of ``block_size`` characters and the character after each.

    The windows start at evenly spaced positions of ``ids`` (int64 ``(len,)``);
    a model is scored on its prediction at the **last** position of each window,
    from the characters before the target only, so a model that peeks at later
    characters gains nothing.

    Returns
    -------
    windows : np.ndarray, int64 (n, block_size)
    targets : np.ndarray, int64 (n,)
    """
    ids = np.asarray(ids, dtype=np.int64)
    if ids.ndim != 1 or len(ids) <= block_size:
        raise ValueError(f"ids must be 1-d and longer than block_size={block_size}, got shape "
                         f"{ids.shape}")
    starts = np.linspace(0, len(ids) - block_size - 1, n).round().astype(np.int64)
    windows = ids[starts[:, None] + np.arange(block_size)]
    return windows, ids[starts + block_size]


def perplexity_of(last_logits: np.ndarray, targets: np.ndarray) -> float:
    """``exp`` of the mean cross-entropy (nats per character) of logits ``(n, vocab)``."""
    z = np.asarray(last_logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(math.exp(-log_p[np.arange(len(targets)), targets].mean()))


# ----------------------------------------------------------------------------
# Sampling
# ----------------------------------------------------------------------------

P_MIN = 1e-6
"""Least p-value of a chi-square test for sampled frequencies to pass: with thousands of draws a
wrong temperature gives far less, and a right sampler fails one test in a million."""


def chi_square_p(draws: np.ndarray, probs: np.ndarray) -> float:
    """p-value of Pearson's test that the ids ``draws`` follow ``probs`` (categories with an
    expected count under 5 pooled into one); 0 when an id is out of range or has probability 0."""
    from scipy.stats import chi2

    draws = np.asarray(draws)
    if draws.size == 0 or draws.min() < 0 or draws.max() >= len(probs):
        return 0.0
    counts = np.bincount(draws, minlength=len(probs)).astype(np.float64)
    if counts[probs == 0].sum() > 0:
        return 0.0
    expected = len(draws) * probs
    big = expected >= 5
    obs = np.append(counts[big], counts[~big].sum())
    exp = np.append(expected[big], expected[~big].sum())
    keep = exp > 0
    stat = float(((obs[keep] - exp[keep]) ** 2 / exp[keep]).sum())
    return float(chi2.sf(stat, max(1, int(keep.sum()) - 1)))
