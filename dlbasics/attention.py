r"""Attention pooling: one vector per sequence as a learned, masked weighted average over time.

Given hidden states ``h (N, T, H)`` (one per position, e.g. from an RNN) and a
learned query vector ``q (H,)``, each position gets a score, the scores become
weights through a softmax over the real (unmasked) positions, and the context
is the weighted sum of the states:

.. math::
    s_{nt} = h_{nt} \cdot q,\qquad
    \alpha_{nt} = \frac{m_{nt}\, e^{s_{nt}}}{\sum_{u} m_{nu}\, e^{s_{nu}}},\qquad
    c_n = \sum_t \alpha_{nt}\, h_{nt},

with the mask :math:`m_{nt} \in \{0, 1\}` (``True`` on real tokens). Padded
positions get exactly zero weight, so padding never changes the context.

The backward pass uses the softmax Jacobian,
:math:`\partial L/\partial s_{nt} = \alpha_{nt}\,(g_{nt} - \sum_u \alpha_{nu} g_{nu})`
with :math:`g_{nt} = \partial L/\partial \alpha_{nt} = h_{nt} \cdot \partial L/\partial c_n`,
and the state receives gradient along both of its roles: as a value in the sum
and as an input of its own score.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from dlbasics.activations import softmax
from dlbasics.validation import check_mask, check_shape, check_shapes

__all__ = ["AttentionPoolCache", "attention_pool_backward", "attention_pool_forward"]


_MASK_MEANING = "True on real tokens and False on padding (e.g. ids != pad_index)"


class AttentionPoolCache(NamedTuple):
    """What :func:`attention_pool_backward` needs from the forward pass."""

    h: np.ndarray  # (N, T, H)
    q: np.ndarray  # (H,)
    weights: np.ndarray  # (N, T)


def attention_pool_forward(
    h: np.ndarray, q: np.ndarray, mask: np.ndarray | None = None
) -> tuple[np.ndarray, AttentionPoolCache]:
    """Pool hidden states over time with dot-product scores and a masked softmax.

    Parameters
    ----------
    h : numpy.ndarray, shape (N, T, H)
        Hidden states, batch-first.
    q : numpy.ndarray, shape (H,)
        Query vector; the score of position ``t`` is ``h[:, t] @ q``.
    mask : numpy.ndarray of bool, shape (N, T), optional
        ``True`` on real tokens, ``False`` on padding. Every row needs at
        least one ``True``. By default every position is real.

    Returns
    -------
    context : numpy.ndarray, shape (N, H)
        ``sum_t weights[:, t, None] * h[:, t]``.
    cache : AttentionPoolCache
        For :func:`attention_pool_backward`; ``cache.weights`` ``(N, T)`` holds
        the attention weights: non-negative, each row sums to 1, exactly 0
        where ``mask`` is False.

    Raises
    ------
    ValueError
        If shapes disagree or a mask row has no real position.
    TypeError
        If ``mask`` is not boolean or ``h`` and ``q`` have different dtypes.
    """
    h, q = check_shapes(h=(h, "N T H"), q=(q, "H"))
    scores = h @ q  # (N, T)
    if mask is not None:
        mask = check_mask(mask, h.shape[:2], _MASK_MEANING, "(N, T): one flag per position of h")
        scores = np.where(mask, scores, -np.inf)
    weights = softmax(scores, axis=1)  # exp(-inf) = 0 exactly on padding
    context = np.einsum("nt,nth->nh", weights, h)
    return context, AttentionPoolCache(h, q, weights)


def attention_pool_backward(
    dcontext: np.ndarray, cache: AttentionPoolCache
) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of :func:`attention_pool_forward` with respect to the states and the query.

    Parameters
    ----------
    dcontext : numpy.ndarray, shape (N, H)
        Gradient of the loss with respect to the context.
    cache : AttentionPoolCache
        From :func:`attention_pool_forward`.

    Returns
    -------
    dh : numpy.ndarray, shape (N, T, H)
        Zero at padded positions: they have zero weight and their scores
        never reach the softmax.
    dq : numpy.ndarray, shape (H,)
    """
    h, q, weights = cache
    check_shape(dcontext, (h.shape[0], h.shape[2]), "dcontext", "(N, H), the shape of the context")
    dweights = np.einsum("nth,nh->nt", h, dcontext)
    dscores = weights * (dweights - (weights * dweights).sum(axis=1, keepdims=True))
    dh = weights[:, :, None] * dcontext[:, None, :] + dscores[:, :, None] * q
    dq = np.einsum("nt,nth->h", dscores, h)
    return dh, dq
