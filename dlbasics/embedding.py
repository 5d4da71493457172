r"""Token embeddings: a lookup table of learned vectors, as a forward/backward pair.

An embedding layer holds a matrix ``w`` of shape ``(vocab_size, embed_dim)``,
one row per token id, like :class:`torch.nn.Embedding`. The forward pass picks
rows, :math:`\text{out}_{n,t} = W_{\text{ids}_{n,t}}`, which is the same as
multiplying a one-hot vector by ``w`` without building the one-hot vector.
The backward pass sends each upstream gradient back to the row it came from;
a token that occurs several times in a batch collects the *sum* of its
gradients:

.. math::
    \frac{\partial L}{\partial W_v} = \sum_{(n,t) \,:\, \text{ids}_{n,t} = v}
    \frac{\partial L}{\partial \text{out}_{n,t}} .
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from dlbasics.validation import as_float_array, check_indices, check_int, check_shape

__all__ = ["EmbeddingCache", "embedding_backward", "embedding_forward"]


class EmbeddingCache(NamedTuple):
    """What :func:`embedding_backward` needs from the forward pass."""

    ids: np.ndarray
    vocab_size: int
    dtype: np.dtype
    padding_idx: int | None


def embedding_forward(
    ids: np.ndarray, w: np.ndarray, padding_idx: int | None = None
) -> tuple[np.ndarray, EmbeddingCache]:
    """Look up the embedding vector of every token id.

    Parameters
    ----------
    ids : numpy.ndarray of int, shape (N, T) or any shape ``S``
        Token ids in ``[0, vocab_size)``.
    w : numpy.ndarray, shape (vocab_size, embed_dim)
        The embedding table, one row per token.
    padding_idx : int, optional
        As in :class:`torch.nn.Embedding`: the row of this id receives no
        gradient in :func:`embedding_backward` (the forward pass still reads
        it; initialize it to zeros to make padding embed to zero).

    Returns
    -------
    out : numpy.ndarray, shape (N, T, embed_dim) (``S + (embed_dim,)``), dtype of ``w``
        ``out[n, t] = w[ids[n, t]]``.
    cache : EmbeddingCache
        For :func:`embedding_backward`.

    Raises
    ------
    TypeError
        If ``ids`` are not integers or ``w`` is not a float array.
    ValueError
        If ``w`` is not 2-D or an id is outside ``[0, vocab_size)``.
    """
    w = as_float_array(w, "w", ndim=2)
    ids = check_indices(ids, w.shape[0], "ids", f"w has {w.shape[0]} rows, one per token of the vocabulary")
    if padding_idx is not None:
        padding_idx = check_int(padding_idx, "padding_idx", minimum=0, maximum=w.shape[0] - 1)
    return w[ids], EmbeddingCache(ids, w.shape[0], w.dtype, padding_idx)


def embedding_backward(dout: np.ndarray, cache: EmbeddingCache) -> np.ndarray:
    """Gradient of the lookup with respect to the table: scatter-add ``dout`` into rows.

    Parameters
    ----------
    dout : numpy.ndarray, shape (N, T, embed_dim) (``S + (embed_dim,)``)
        Gradient of the loss with respect to the forward output.
    cache : EmbeddingCache
        From :func:`embedding_forward`.

    Returns
    -------
    dw : numpy.ndarray, shape (vocab_size, embed_dim), dtype of ``w``
        Row ``v`` is the sum of ``dout[n, t]`` over every position where
        ``ids[n, t] == v``; zero for tokens absent from the batch and for
        ``padding_idx``.
    """
    ids, vocab_size, dtype, padding_idx = cache
    check_shape(dout, ids.shape + np.shape(dout)[-1:], "dout", "the shape of the forward output")
    dw = np.zeros((vocab_size, dout.shape[-1]), dtype=dtype)
    # np.add.at adds once per occurrence; dw[ids] += dout would keep only one of repeated ids.
    np.add.at(dw, ids.ravel(), dout.reshape(-1, dout.shape[-1]))
    if padding_idx is not None:
        dw[padding_idx] = 0
    return dw
