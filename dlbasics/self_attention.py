r"""Scaled dot-product attention and multi-head self-attention (Vaswani et al., 2017).

**Scaled dot-product attention.** Every query :math:`q_i` scores every key
:math:`k_j`, the scores of one query become weights through a softmax over the
keys it may attend to, and its output is the weighted average of the values:

.. math::
    S = \frac{Q K^\top}{\sqrt{d}}, \qquad
    A_{ij} = \frac{M_{ij}\, e^{S_{ij}}}{\sum_{j'} M_{ij'}\, e^{S_{ij'}}}, \qquad
    O = A V,

with :math:`Q` of shape ``(T_q, d)``, :math:`K` ``(T_k, d)``, :math:`V`
``(T_k, d_v)`` and the boolean mask :math:`M` ``(T_q, T_k)``: ``True`` where
query ``i`` may attend to key ``j``, the convention of
``torch.nn.functional.scaled_dot_product_attention``. A causal mask lets
query ``i`` see keys ``j <= i`` only. Dividing by :math:`\sqrt d` keeps the
scores' variance near 1 when the entries of ``q`` and ``k`` have variance 1
(a dot product of ``d`` such terms has variance ``d``).

The backward pass follows the three steps back:

.. math::
    dV = A^\top dO, \qquad dA = dO\, V^\top, \qquad
    dS_{ij} = A_{ij}\Big(dA_{ij} - \sum_{j'} A_{ij'}\, dA_{ij'}\Big), \qquad
    dQ = \frac{dS\, K}{\sqrt d}, \qquad dK = \frac{dS^\top Q}{\sqrt d}.

Masked entries have :math:`A_{ij} = 0`, so they receive no gradient.

**Multi-head self-attention.** One input ``x (batch, T, d_model)`` is
projected to queries, keys and values with one packed weight (the layout of
``torch.nn.MultiheadAttention.in_proj_weight``: rows ``[0, d)`` make queries,
``[d, 2d)`` keys, ``[2d, 3d)`` values), each is split into ``n_heads`` heads
of ``d_model / n_heads`` features, every head attends on its own, the heads'
outputs are concatenated and mixed by the output projection (``out_proj``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from dlbasics.activations import softmax
from dlbasics.validation import (
    as_float_array,
    check_bool,
    check_gradient_shape,
    check_int,
    check_same_dtype,
    format_shape,
)

__all__ = [
    "AttentionCache",
    "MultiHeadAttentionCache",
    "multi_head_attention_backward",
    "multi_head_attention_forward",
    "scaled_dot_product_attention_backward",
    "scaled_dot_product_attention_forward",
]


class AttentionCache(NamedTuple):
    """What :func:`scaled_dot_product_attention_backward` needs from the forward pass."""

    q: np.ndarray  # (..., T_q, d)
    k: np.ndarray  # (..., T_k, d)
    v: np.ndarray  # (..., T_k, d_v)
    weights: np.ndarray  # (..., T_q, T_k), zero where masked
    scale: np.floating  # 1 / sqrt(d), in the inputs' dtype


def scaled_dot_product_attention_forward(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    mask: np.ndarray | None = None,
    causal: bool = False,
) -> tuple[np.ndarray, AttentionCache]:
    """Attention of every query over the keys: ``softmax(q k^T / sqrt(d), masked) v``.

    Equals ``torch.nn.functional.scaled_dot_product_attention(q, k, v,
    attn_mask=mask, is_causal=causal)`` (PyTorch accepts only one of the two;
    here both may be given and a key must pass both).

    Parameters
    ----------
    q : numpy.ndarray, shape (..., T_q, d)
        Queries; the leading axes (batch, heads, ...) are the same for q, k, v.
    k : numpy.ndarray, shape (..., T_k, d)
        Keys.
    v : numpy.ndarray, shape (..., T_k, d_v)
        Values.
    mask : numpy.ndarray of bool, broadcastable to (..., T_q, T_k), optional
        ``True`` where query ``i`` may attend to key ``j``, ``False`` where it
        may not (e.g. a padded key). Every query needs at least one key.
    causal : bool, default False
        Also forbid every key ``j > i`` to query ``i`` (a query sees its own
        position and the earlier ones; the top-left-aligned lower triangle
        when ``T_q != T_k``, like PyTorch's ``is_causal``).

    Returns
    -------
    out : numpy.ndarray, shape (..., T_q, d_v)
    cache : AttentionCache
        For :func:`scaled_dot_product_attention_backward`; ``cache.weights``
        ``(..., T_q, T_k)`` holds the softmax probabilities: each row sums to
        1, exactly 0 where masked.

    Raises
    ------
    ValueError
        If the shapes disagree, the mask does not broadcast, or it leaves a
        query no key to attend to.
    TypeError
        If the arrays have different dtypes or the mask is not boolean.
    """
    q, k, v, allowed = _check_attention(q, k, v, mask, causal)
    scale = q.dtype.type(1 / np.sqrt(q.shape[-1]))
    scores = (q @ np.swapaxes(k, -1, -2)) * scale
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)  # exp(-inf) = 0: exactly no weight
    weights = softmax(scores, axis=-1)
    return weights @ v, AttentionCache(q, k, v, weights, scale)


def scaled_dot_product_attention_backward(
    dout: np.ndarray, cache: AttentionCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of :func:`scaled_dot_product_attention_forward` with respect to q, k and v.

    Parameters
    ----------
    dout : numpy.ndarray, shape (..., T_q, d_v)
        Gradient of the loss with respect to ``out``.
    cache : AttentionCache
        From :func:`scaled_dot_product_attention_forward`.

    Returns
    -------
    dq : numpy.ndarray, shape (..., T_q, d)
    dk : numpy.ndarray, shape (..., T_k, d)
    dv : numpy.ndarray, shape (..., T_k, d_v)
    """
    q, k, v, weights, scale = cache
    dout = check_gradient_shape(dout, weights.shape[:-1] + v.shape[-1:])
    dv = np.swapaxes(weights, -1, -2) @ dout
    dweights = dout @ np.swapaxes(v, -1, -2)
    dscores = weights * (dweights - (weights * dweights).sum(axis=-1, keepdims=True))
    dq = (dscores @ k) * scale
    dk = (np.swapaxes(dscores, -1, -2) @ q) * scale
    return dq, dk, dv


class MultiHeadAttentionCache(NamedTuple):
    """What :func:`multi_head_attention_backward` needs from the forward pass."""

    x: np.ndarray  # (batch, T, d_model)
    w_qkv: np.ndarray  # (3 d_model, d_model)
    w_out: np.ndarray  # (d_model, d_model)
    heads: np.ndarray  # concatenated head outputs before out_proj, (batch, T, d_model)
    attention: AttentionCache  # of the heads, arrays (batch, n_heads, T, d_model / n_heads)


def multi_head_attention_forward(
    x: np.ndarray,
    w_qkv: np.ndarray,
    b_qkv: np.ndarray,
    w_out: np.ndarray,
    b_out: np.ndarray,
    n_heads: int,
    causal: bool = False,
) -> tuple[np.ndarray, MultiHeadAttentionCache]:
    """Multi-head self-attention of a batch of sequences, like ``torch.nn.MultiheadAttention``.

    ``q, k, v = split(x @ w_qkv.T + b_qkv)``; each is cut into ``n_heads``
    heads of ``d_head = d_model / n_heads`` features; every head runs
    :func:`scaled_dot_product_attention_forward` (scale ``1 / sqrt(d_head)``);
    the heads are concatenated back to ``d_model`` features and
    ``out = heads @ w_out.T + b_out``. Equals
    ``torch.nn.MultiheadAttention(d_model, n_heads, batch_first=True)(x, x, x)``
    with ``in_proj_weight = w_qkv``, ``in_proj_bias = b_qkv``,
    ``out_proj.weight = w_out``, ``out_proj.bias = b_out`` (and, with
    ``causal=True``, a causal ``attn_mask``).

    Parameters
    ----------
    x : numpy.ndarray, shape (batch, T, d_model)
    w_qkv : numpy.ndarray, shape (3 * d_model, d_model)
        Query, key and value weights stacked in that order.
    b_qkv : numpy.ndarray, shape (3 * d_model,)
    w_out : numpy.ndarray, shape (d_model, d_model)
    b_out : numpy.ndarray, shape (d_model,)
    n_heads : int
        Divides ``d_model``.
    causal : bool, default False
        Position ``i`` attends to positions ``j <= i`` only.

    Returns
    -------
    out : numpy.ndarray, shape (batch, T, d_model)
    cache : MultiHeadAttentionCache
        For :func:`multi_head_attention_backward`; ``cache.attention.weights``
        holds every head's attention weights, shape (batch, n_heads, T, T).
    """
    x, w_qkv, b_qkv, w_out, b_out, n_heads = _check_mha(x, w_qkv, b_qkv, w_out, b_out, n_heads)
    batch, steps, d_model = x.shape
    qkv = x @ w_qkv.T + b_qkv  # (batch, T, 3 d_model)
    # (batch, T, 3, heads, d_head) -> three arrays (batch, heads, T, d_head)
    q, k, v = qkv.reshape(batch, steps, 3, n_heads, d_model // n_heads).transpose(2, 0, 3, 1, 4)
    out_heads, attention = scaled_dot_product_attention_forward(q, k, v, causal=causal)
    heads = out_heads.transpose(0, 2, 1, 3).reshape(batch, steps, d_model)
    out = heads @ w_out.T + b_out
    return out, MultiHeadAttentionCache(x, w_qkv, w_out, heads, attention)


def multi_head_attention_backward(
    dout: np.ndarray, cache: MultiHeadAttentionCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of :func:`multi_head_attention_forward`.

    Parameters
    ----------
    dout : numpy.ndarray, shape (batch, T, d_model)
        Gradient of the loss with respect to ``out``.
    cache : MultiHeadAttentionCache
        From :func:`multi_head_attention_forward`.

    Returns
    -------
    dx : numpy.ndarray, shape (batch, T, d_model)
        Sums the three paths through which ``x`` reaches the output (as
        query, as key, as value).
    dw_qkv : numpy.ndarray, shape (3 * d_model, d_model)
    db_qkv : numpy.ndarray, shape (3 * d_model,)
    dw_out : numpy.ndarray, shape (d_model, d_model)
    db_out : numpy.ndarray, shape (d_model,)
    """
    x, w_qkv, w_out, heads, attention = cache
    dout = check_gradient_shape(dout, heads.shape)
    batch, steps, d_model = x.shape
    n_heads = attention.q.shape[1]
    dw_out = dout.reshape(-1, d_model).T @ heads.reshape(-1, d_model)
    db_out = dout.sum(axis=(0, 1))
    dheads = (dout @ w_out).reshape(batch, steps, n_heads, -1).transpose(0, 2, 1, 3)
    dq, dk, dv = scaled_dot_product_attention_backward(dheads, attention)
    # three arrays (batch, heads, T, d_head) -> (batch, T, 3 d_model), the layout of qkv
    dqkv = np.stack([dq, dk, dv]).transpose(1, 3, 0, 2, 4).reshape(batch, steps, 3 * d_model)
    dw_qkv = dqkv.reshape(-1, 3 * d_model).T @ x.reshape(-1, d_model)
    db_qkv = dqkv.sum(axis=(0, 1))
    return dqkv @ w_qkv, dw_qkv, db_qkv, dw_out, db_out


# ---------------------------------------------------------------------------
# input checks (once, where the arrays enter)
# ---------------------------------------------------------------------------


def _check_attention(
    q: object, k: object, v: object, mask: object, causal: object
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Check q, k, v and combine ``mask`` and ``causal`` into one boolean array (or None)."""
    arrays = {}
    for name, a, axes in (("q", q, "(..., T_q, d)"), ("k", k, "(..., T_k, d)"), ("v", v, "(..., T_k, d_v)")):
        arr = as_float_array(a, name)
        if arr.ndim < 2:
            raise ValueError(
                f"{name} must have shape {axes} (at least 2 axes), got {format_shape(arr.shape)}"
            )
        arrays[name] = arr
    q, k, v = arrays["q"], arrays["k"], arrays["v"]
    check_same_dtype(q=q, k=k, v=v)
    if not (q.shape[:-2] == k.shape[:-2] == v.shape[:-2]):
        raise ValueError(
            f"q, k and v must share their leading (batch, head) axes; got q {format_shape(q.shape)}, "
            f"k {format_shape(k.shape)}, v {format_shape(v.shape)}"
        )
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"q has d = {q.shape[-1]} features but k has {k.shape[-1]} (q {format_shape(q.shape)}, "
            f"k {format_shape(k.shape)}); a query and a key need the same size to be compared"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"k has T_k = {k.shape[-2]} positions but v has {v.shape[-2]} (k {format_shape(k.shape)}, "
            f"v {format_shape(v.shape)}); every key needs its value"
        )
    check_bool(causal, "causal")
    t_q, t_k = q.shape[-2], k.shape[-2]
    scores_shape = q.shape[:-1] + (t_k,)
    allowed = None
    if mask is not None:
        allowed = np.asarray(mask)
        if allowed.dtype != np.bool_:
            raise TypeError(
                f"mask has dtype {allowed.dtype}; expected a bool array, True where a query may "
                "attend to a key (the convention of torch's scaled_dot_product_attention)"
            )
        try:
            allowed = np.broadcast_to(allowed, scores_shape)
        except ValueError:
            raise ValueError(
                f"mask has shape {format_shape(allowed.shape)}, which does not broadcast to the "
                f"scores' shape (..., T_q, T_k) = {format_shape(scores_shape)}"
            ) from None
    if causal:
        lower = np.tri(t_q, t_k, dtype=bool)  # key j <= query i
        allowed = lower if allowed is None else allowed & lower
    if allowed is not None:
        blind = ~allowed.any(axis=-1)
        if blind.any():
            first = tuple(int(i) for i in np.argwhere(blind)[0])
            raise ValueError(
                f"{int(blind.sum())} query row(s) may attend to no key (first: index {first} of the "
                f"(..., T_q) axes); a softmax over zero keys is undefined, so every query needs at "
                "least one True entry in the mask"
            )
        allowed = np.broadcast_to(allowed, scores_shape)
    return q, k, v, allowed


def _check_mha(
    x: object, w_qkv: object, b_qkv: object, w_out: object, b_out: object, n_heads: object
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    x = as_float_array(x, "x", ndim=3)
    d_model = x.shape[2]
    n_heads = check_int(n_heads, "n_heads", minimum=1)
    if d_model % n_heads:
        raise ValueError(
            f"n_heads = {n_heads} does not divide d_model = {d_model} (x has shape "
            f"{format_shape(x.shape)}); every head needs d_model / n_heads features"
        )
    expected = {"w_qkv": (3 * d_model, d_model), "b_qkv": (3 * d_model,),
                "w_out": (d_model, d_model), "b_out": (d_model,)}
    params = {}
    for name, a in (("w_qkv", w_qkv), ("b_qkv", b_qkv), ("w_out", w_out), ("b_out", b_out)):
        arr = as_float_array(a, name)
        if arr.shape != expected[name]:
            raise ValueError(
                f"{name} has shape {format_shape(arr.shape)}; expected {format_shape(expected[name])} "
                f"for d_model = {d_model} (x has shape {format_shape(x.shape)})"
            )
        params[name] = arr
    check_same_dtype(x=x, **params)
    return x, params["w_qkv"], params["b_qkv"], params["w_out"], params["b_out"], n_heads

