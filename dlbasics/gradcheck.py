r"""Numerical gradient checking with centred differences.

The centred difference :math:`\frac{f(x + h) - f(x - h)}{2h}` has error
:math:`O(h^2)`, against :math:`O(h)` for the one-sided one. In float64 with
:math:`h \approx 10^{-5}` a correct analytic gradient agrees to a relative error
(:func:`rel_error`) around :math:`10^{-8}` or better; :math:`10^{-2}` or worse
means a bug. Always check in float64: float32 rounding alone is ~1e-4.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dlbasics.validation import as_float_array, format_shape

__all__ = ["gradcheck", "numerical_gradient", "rel_error"]


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    r"""Largest elementwise relative error :math:`\max |a-b| / \max(10^{-8}, |a|+|b|)`.

    Parameters
    ----------
    a, b : array_like, same shape

    Returns
    -------
    float
    """
    a = as_float_array(a, "a", allow_empty=True, finite=False)
    b = as_float_array(b, "b", allow_empty=True, finite=False)
    if a.shape != b.shape:
        raise ValueError(f"a has shape {format_shape(a.shape)} but b has shape {format_shape(b.shape)}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def numerical_gradient(
    f: Callable[[np.ndarray], float | np.ndarray],
    x: np.ndarray,
    h: float = 1e-5,
    dout: np.ndarray | None = None,
) -> np.ndarray:
    r"""Centred-difference gradient of ``f`` at ``x``.

    Each element of ``x`` is nudged by :math:`\pm h` in place (and restored),
    so ``f`` may read ``x`` through a closure.

    Parameters
    ----------
    f : callable
        ``f(x)`` returns a scalar, or an array when ``dout`` is given.
    x : numpy.ndarray of float64
        The point; modified during the call and restored afterwards.
    h : float, default 1e-5
        Step size.
    dout : numpy.ndarray, optional
        For array-valued ``f``: the upstream gradient; the result is then the
        gradient of :math:`\sum f(x) \odot \text{dout}`.

    Returns
    -------
    numpy.ndarray, same shape as ``x``
    """
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        raise TypeError(
            "x must be a float64 NumPy array (float32 rounding swamps finite differences), "
            f"got {type(x).__name__} {getattr(x, 'dtype', '')}"
        )
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    for _ in it:
        idx = it.multi_index
        old = x[idx]
        x[idx] = old + h
        plus = f(x)
        x[idx] = old - h
        minus = f(x)
        x[idx] = old
        if dout is None:
            grad[idx] = (float(plus) - float(minus)) / (2 * h)
        else:
            grad[idx] = np.sum((np.asarray(plus) - np.asarray(minus)) * dout) / (2 * h)
    return grad


def gradcheck(
    f: Callable[[np.ndarray], float | np.ndarray],
    x: np.ndarray,
    analytic: np.ndarray,
    h: float = 1e-5,
    dout: np.ndarray | None = None,
) -> float:
    """Relative error between an analytic gradient and the centred difference.

    Parameters
    ----------
    f, x, h, dout
        As in :func:`numerical_gradient`.
    analytic : numpy.ndarray, same shape as ``x``
        The gradient to check.

    Returns
    -------
    float
        :func:`rel_error` of the two; below 1e-7 is a pass for smooth
        functions (1e-5 near kinks such as ReLU's).
    """
    analytic = np.asarray(analytic)
    if analytic.shape != x.shape:
        raise ValueError(
            f"analytic gradient has shape {format_shape(analytic.shape)} but x has shape "
            f"{format_shape(x.shape)}"
        )
    return rel_error(analytic, numerical_gradient(f, x, h, dout))
