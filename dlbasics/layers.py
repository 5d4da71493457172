"""Layers as pairs of pure functions: ``forward -> (out, cache)``, ``backward(dout, cache)``.

Shapes follow PyTorch so weights copy across unchanged:

* dense: ``x (n, n_in)``, ``w (n_out, n_in)``, ``b (n_out,)``, like :class:`torch.nn.Linear`;
* conv2d: ``x (n, c, h, w)``, ``w (f, c, kh, kw)``, ``b (f,)``, like
  :func:`torch.nn.functional.conv2d` (cross-correlation, no kernel flip);
* max pooling: ``x (n, c, h, w)``, like :func:`torch.nn.functional.max_pool2d`.

Convolution is computed as one matrix product over a channels-last copy of
the input's sliding windows (``im2col``), never with Python loops over pixels.
The backward pass reuses those windows for the weight gradient and computes the
input gradient with one matrix product and one strided add per kernel offset
(``kh * kw`` of each). Outputs keep the channels-last memory order of the
matrix products (like ``torch.channels_last``): the shapes are NCHW, and
``np.ascontiguousarray`` gives a C-ordered copy when one is needed.

Each forward checks its inputs once, at the top (shapes, dtypes, a finite
``x``), so a mistake reads as a sentence rather than a broadcasting error; the
maths below the check and the backward passes run bare.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from dlbasics.validation import as_float_array, check_int, check_shape, check_shapes

__all__ = [
    "Conv2dCache",
    "DenseCache",
    "MaxPool2dCache",
    "conv2d_backward",
    "conv2d_forward",
    "conv_output_size",
    "dense_backward",
    "dense_forward",
    "maxpool2d_backward",
    "maxpool2d_forward",
]


class DenseCache(NamedTuple):
    """What :func:`dense_backward` needs from the forward pass."""

    x: np.ndarray
    w: np.ndarray


def dense_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, DenseCache]:
    """Affine layer ``out = x @ w.T + b``.

    Parameters
    ----------
    x : numpy.ndarray, shape (n, n_in)
    w : numpy.ndarray, shape (n_out, n_in)
    b : numpy.ndarray, shape (n_out,)

    Returns
    -------
    out : numpy.ndarray, shape (n, n_out)
    cache : DenseCache
        ``(x, w)`` for :func:`dense_backward`.
    """
    x, w, b = check_shapes(x=(x, "n n_in"), w=(w, "n_out n_in", False), b=(b, "n_out", False))
    out = x @ w.T
    out += b
    return out, DenseCache(x, w)


def dense_backward(
    dout: np.ndarray, cache: DenseCache, input_grad: bool = True
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Gradients of ``out = x @ w.T + b``.

    Parameters
    ----------
    dout : numpy.ndarray, shape (n, n_out)
        Gradient of the loss with respect to ``out``.
    cache : DenseCache
        From :func:`dense_forward`.
    input_grad : bool, default True
        Compute ``dx``; a network's first layer does not need it (its input
        is the data), which saves the largest matrix product.

    Returns
    -------
    dx : numpy.ndarray, shape (n, n_in), or None when ``input_grad`` is False
    dw : numpy.ndarray, shape (n_out, n_in)
    db : numpy.ndarray, shape (n_out,)
    """
    x, w = cache
    check_shape(dout, (x.shape[0], w.shape[0]), "dout", DOUT_HINT)
    dx = dout @ w if input_grad else None
    return dx, dout.T @ x, dout.sum(axis=0)


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output length along one axis: ``(size + 2 * padding - kernel) // stride + 1``."""
    return (size + 2 * padding - kernel) // stride + 1


class Conv2dCache(NamedTuple):
    """What :func:`conv2d_backward` needs from the forward pass."""

    x_shape: tuple[int, int, int, int]
    cols: np.ndarray  # (n * oh * ow, kh * kw * c), channels-last windows
    w: np.ndarray
    stride: int
    padding: int


def conv2d_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int = 1, padding: int = 0
) -> tuple[np.ndarray, Conv2dCache]:
    """2-D convolution (cross-correlation), the same as ``torch.nn.functional.conv2d``.

    Parameters
    ----------
    x : numpy.ndarray, shape (n, c, h, w)
        Input images.
    w : numpy.ndarray, shape (f, c, kh, kw)
        ``f`` filters.
    b : numpy.ndarray, shape (f,)
    stride : int, default 1
    padding : int, default 0
        Zeros added on every side of each image.

    Returns
    -------
    out : numpy.ndarray, shape (n, f, oh, ow)
        ``oh = (h + 2 * padding - kh) // stride + 1``, likewise ``ow``.
    cache : Conv2dCache
    """
    x, w, b = check_shapes(x=(x, "n c ih iw"), w=(w, "f c kh kw", False), b=(b, "f", False))
    stride, padding = check_int(stride, "stride", minimum=1), check_int(padding, "padding", minimum=0)
    _check_fits(x.shape[2:], w.shape[2:], padding, "kernel")
    n, c, ih, iw = x.shape
    f, _, kh, kw = w.shape
    oh, ow = conv_output_size(ih, kh, stride, padding), conv_output_size(iw, kw, stride, padding)
    # Channels-last, padded copy: (n, ih + 2p, iw + 2p, c).
    xp = np.zeros((n, ih + 2 * padding, iw + 2 * padding, c), dtype=x.dtype)
    xp[:, padding : padding + ih, padding : padding + iw, :] = x.transpose(0, 2, 3, 1)
    windows = sliding_window_view(xp, (kh, kw), axis=(1, 2))[:, ::stride, ::stride]
    # windows: (n, oh, ow, c, kh, kw) -> (n, oh, ow, kh, kw, c), copied once into rows.
    cols = windows.transpose(0, 1, 2, 4, 5, 3).reshape(n * oh * ow, kh * kw * c)
    w_rows = w.transpose(0, 2, 3, 1).reshape(f, kh * kw * c)
    out = cols @ w_rows.T  # (n * oh * ow, f)
    out += b
    out = out.reshape(n, oh, ow, f).transpose(0, 3, 1, 2)  # NCHW shape, channels-last memory
    return out, Conv2dCache((n, c, ih, iw), cols, w, stride, padding)


def conv2d_backward(
    dout: np.ndarray, cache: Conv2dCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of :func:`conv2d_forward`.

    Parameters
    ----------
    dout : numpy.ndarray, shape (n, f, oh, ow)
    cache : Conv2dCache

    Returns
    -------
    dx : numpy.ndarray, shape (n, c, h, w)
    dw : numpy.ndarray, shape (f, c, kh, kw)
    db : numpy.ndarray, shape (f,)
    """
    (n, c, ih, iw), cols, w, stride, padding = cache
    f, _, kh, kw = w.shape
    oh, ow = conv_output_size(ih, kh, stride, padding), conv_output_size(iw, kw, stride, padding)
    check_shape(dout, (n, f, oh, ow), "dout", DOUT_HINT)
    dout_rows = dout.transpose(0, 2, 3, 1).reshape(n * oh * ow, f)
    db = dout_rows.sum(axis=0)
    dw = (dout_rows.T @ cols).reshape(f, kh, kw, c).transpose(0, 3, 1, 2)
    # dx: one matrix product per kernel offset, each added into its shifted
    # window of the padded, channels-last gradient.
    w_offsets = w.transpose(2, 3, 0, 1)  # (kh, kw, f, c)
    dxp = np.zeros((n, ih + 2 * padding, iw + 2 * padding, c), dtype=dout_rows.dtype)
    for i in range(kh):
        for j in range(kw):
            dxp[:, i : i + stride * oh : stride, j : j + stride * ow : stride, :] += (
                dout_rows @ w_offsets[i, j]
            ).reshape(n, oh, ow, c)
    dx = dxp[:, padding : padding + ih, padding : padding + iw, :].transpose(0, 3, 1, 2)
    return dx, np.ascontiguousarray(dw), db


class MaxPool2dCache(NamedTuple):
    """What :func:`maxpool2d_backward` needs from the forward pass."""

    x_shape: tuple[int, int, int, int]
    argmax: np.ndarray  # (n, c, oh, ow): index of the max inside each window
    kernel_size: int
    stride: int


def maxpool2d_forward(
    x: np.ndarray, kernel_size: int = 2, stride: int | None = None
) -> tuple[np.ndarray, MaxPool2dCache]:
    """Max pooling over ``kernel_size`` x ``kernel_size`` windows, like ``F.max_pool2d``.

    Rows and columns that do not fill a whole window are dropped (PyTorch's
    default ``ceil_mode=False``). When a window holds several equal maxima
    the first one (in row-major order) receives the gradient, as in PyTorch.

    Parameters
    ----------
    x : numpy.ndarray, shape (n, c, h, w)
    kernel_size : int, default 2
    stride : int, optional
        Defaults to ``kernel_size`` (non-overlapping windows).

    Returns
    -------
    out : numpy.ndarray, shape (n, c, oh, ow)
        ``oh = (h - kernel_size) // stride + 1``, likewise ``ow``.
    cache : MaxPool2dCache
    """
    x = as_float_array(x, "x", ndim=4)
    k = check_int(kernel_size, "kernel_size", minimum=1)
    s = k if stride is None else check_int(stride, "stride", minimum=1)
    _check_fits(x.shape[2:], (k, k), 0, "pooling window")
    n, c, ih, iw = x.shape
    windows = sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::s, ::s]
    oh, ow = windows.shape[2], windows.shape[3]
    flat = windows.reshape(n, c, oh, ow, k * k)
    argmax = flat.argmax(axis=-1)
    out = np.take_along_axis(flat, argmax[..., None], axis=-1)[..., 0]
    return out, MaxPool2dCache((n, c, ih, iw), argmax, k, s)


def maxpool2d_backward(dout: np.ndarray, cache: MaxPool2dCache) -> np.ndarray:
    """Gradient of :func:`maxpool2d_forward`: each window's ``dout`` goes to its maximum.

    ``dout`` has the forward output's shape ``(n, c, oh, ow)``; the returned
    ``dx`` has the input's shape ``(n, c, h, w)`` and is zero wherever no
    window took its maximum.
    """
    (n, c, ih, iw), argmax, k, s = cache
    check_shape(dout, argmax.shape, "dout", DOUT_HINT)
    oh, ow = argmax.shape[2], argmax.shape[3]
    dx = np.zeros((n, c, ih, iw), dtype=dout.dtype)
    zero = dout.dtype.type(0)
    for i in range(k):  # one strided add per window offset
        for j in range(k):
            routed = np.where(argmax == i * k + j, dout, zero)
            dx[:, :, i : i + s * oh : s, j : j + s * ow : s] += routed
    return dx


DOUT_HINT = "the shape of the forward output"


def _check_fits(image: tuple[int, ...], window: tuple[int, ...], padding: int, what: str) -> None:
    """Raise unless a ``window`` (kh, kw) fits in an ``image`` (ih, iw) padded on every side."""
    (ih, iw), (kh, kw) = image, window
    if ih + 2 * padding < kh or iw + 2 * padding < kw:
        raise ValueError(f"a {kh}x{kw} {what} does not fit in a {ih}x{iw} input with padding {padding}")
