r"""Activation functions and their derivatives.

Each derivative takes the *pre-activation* ``z`` (not the activation's
output), so ``f_prime(z) * dout`` is the backward pass of ``a = f(z)``:

=============  ==============================  ==========================================
name           :math:`f(z)`                    :math:`f'(z)`
=============  ==============================  ==========================================
sigmoid        :math:`1/(1+e^{-z})`            :math:`\sigma(z)(1-\sigma(z))`
relu           :math:`\max(0, z)`              :math:`1` if :math:`z>0` else :math:`0`
tanh           :math:`\tanh z`                 :math:`1-\tanh^2 z`
leaky_relu     :math:`z` if :math:`z>0` else   :math:`1` if :math:`z>0` else :math:`\alpha`
               :math:`\alpha z`
=============  ==============================  ==========================================

At the kink ``z = 0`` the ReLU derivative is 0 and the leaky ReLU derivative is
``alpha``, the same choice PyTorch's autograd makes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dlbasics.validation import as_float_array, check_positive

__all__ = [
    "ACTIVATIONS",
    "get_activation",
    "leaky_relu",
    "leaky_relu_derivative",
    "relu",
    "relu_derivative",
    "sigmoid",
    "sigmoid_derivative",
    "softmax",
    "tanh",
    "tanh_derivative",
]

Activation = Callable[[np.ndarray], np.ndarray]


# The kernels below assume a validated float array; the public functions check first.
def _sigmoid(z: np.ndarray) -> np.ndarray:
    # exp(-|z|) is in (0, 1], so nothing overflows for any finite z.
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(z.dtype, copy=False)


def _sigmoid_derivative(z: np.ndarray) -> np.ndarray:
    s = _sigmoid(z)
    return s * (1 - s)


def _relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0)


def _relu_derivative(z: np.ndarray) -> np.ndarray:
    return (z > 0).astype(z.dtype)


def _tanh(z: np.ndarray) -> np.ndarray:
    return np.tanh(z)


def _tanh_derivative(z: np.ndarray) -> np.ndarray:
    t = np.tanh(z)
    return 1 - t * t


def _leaky_relu(z: np.ndarray, alpha: float = 0.01) -> np.ndarray:
    return np.where(z > 0, z, z * z.dtype.type(alpha))


def _leaky_relu_derivative(z: np.ndarray, alpha: float = 0.01) -> np.ndarray:
    return np.where(z > 0, z.dtype.type(1), z.dtype.type(alpha))


def sigmoid(x: np.ndarray) -> np.ndarray:
    r"""Logistic sigmoid :math:`\sigma(x) = 1 / (1 + e^{-x})`, elementwise.

    Computed as :math:`e^{x}/(1+e^{x})` for negative ``x`` so that no
    intermediate overflows: ``sigmoid(-1000.0)`` is ``0.0`` without a warning.

    Parameters
    ----------
    x : array_like, any shape
        Pre-activations. Floating dtypes are kept; integers become float64.

    Returns
    -------
    numpy.ndarray, same shape and dtype as ``x``
        Values in :math:`[0, 1]`.
    """
    return _sigmoid(as_float_array(x, "x"))


def sigmoid_derivative(x: np.ndarray) -> np.ndarray:
    r"""Derivative of the sigmoid at ``x``: :math:`\sigma(x)\,(1 - \sigma(x))`.

    Parameters
    ----------
    x : array_like, any shape
        Pre-activations (not sigmoid outputs).

    Returns
    -------
    numpy.ndarray, same shape and dtype as ``x``
        Values in :math:`(0, 0.25]`.
    """
    return _sigmoid_derivative(as_float_array(x, "x"))


def relu(x: np.ndarray) -> np.ndarray:
    """Rectified linear unit ``max(0, x)``, elementwise.

    Parameters
    ----------
    x : array_like, any shape

    Returns
    -------
    numpy.ndarray, same shape and dtype as ``x``
    """
    return _relu(as_float_array(x, "x"))


def relu_derivative(x: np.ndarray) -> np.ndarray:
    """Derivative of ReLU: 1 where ``x > 0``, else 0 (0 at the kink, as in PyTorch).

    Parameters
    ----------
    x : array_like, any shape

    Returns
    -------
    numpy.ndarray, same shape and dtype as ``x``
    """
    return _relu_derivative(as_float_array(x, "x"))


def tanh(x: np.ndarray) -> np.ndarray:
    """Hyperbolic tangent, elementwise; values in ``(-1, 1)``.

    Parameters
    ----------
    x : array_like, any shape

    Returns
    -------
    numpy.ndarray, same shape and dtype as ``x``
    """
    return _tanh(as_float_array(x, "x"))


def tanh_derivative(x: np.ndarray) -> np.ndarray:
    r"""Derivative of tanh: :math:`1 - \tanh^2(x)`.

    Parameters
    ----------
    x : array_like, any shape

    Returns
    -------
    numpy.ndarray, same shape and dtype as ``x``
    """
    return _tanh_derivative(as_float_array(x, "x"))


def leaky_relu(x: np.ndarray, alpha: float = 0.01) -> np.ndarray:
    r"""Leaky ReLU: ``x`` where ``x > 0``, else ``alpha * x``.

    Parameters
    ----------
    x : array_like, any shape
    alpha : float, default 0.01
        Slope for negative inputs (PyTorch calls it ``negative_slope``).

    Returns
    -------
    numpy.ndarray, same shape and dtype as ``x``
    """
    check_positive(alpha, "alpha", allow_zero=True)
    return _leaky_relu(as_float_array(x, "x"), alpha)


def leaky_relu_derivative(x: np.ndarray, alpha: float = 0.01) -> np.ndarray:
    """Derivative of leaky ReLU: 1 where ``x > 0``, else ``alpha`` (also at 0).

    Parameters
    ----------
    x : array_like, any shape
    alpha : float, default 0.01

    Returns
    -------
    numpy.ndarray, same shape and dtype as ``x``
    """
    check_positive(alpha, "alpha", allow_zero=True)
    return _leaky_relu_derivative(as_float_array(x, "x"), alpha)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    r"""Softmax along ``axis``: :math:`e^{x_i - \max x} / \sum_j e^{x_j - \max x}`.

    Subtracting the maximum changes nothing mathematically and keeps every
    exponent :math:`\le 0`, so logits of ``1e4`` do not overflow.

    Parameters
    ----------
    x : array_like, shape (n_samples, n_classes) or any shape
        Logits.
    axis : int, default -1
        The axis that sums to one.

    Returns
    -------
    numpy.ndarray, same shape and dtype as ``x``
        Non-negative values that sum to 1 along ``axis``.
    """
    z = as_float_array(x, "x")
    if z.ndim == 0:
        raise ValueError("x is a scalar; softmax needs at least one axis of logits")
    shifted = z - z.max(axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=axis, keepdims=True)


#: name -> (activation, derivative); what :func:`get_activation` looks up.
ACTIVATIONS: dict[str, tuple[Activation, Activation]] = {
    "sigmoid": (_sigmoid, _sigmoid_derivative),
    "relu": (_relu, _relu_derivative),
    "tanh": (_tanh, _tanh_derivative),
    "leaky_relu": (_leaky_relu, _leaky_relu_derivative),
}


def get_activation(name: str) -> tuple[Activation, Activation]:
    """Look up an activation and its derivative by name.

    Parameters
    ----------
    name : {"sigmoid", "relu", "tanh", "leaky_relu"}

    Returns
    -------
    (f, f_prime) : tuple of callables
        Unchecked kernels: they expect a finite float array and return one of
        the same shape and dtype.

    Raises
    ------
    ValueError
        If ``name`` is unknown; the message lists the valid names.
    """
    if not isinstance(name, str):
        raise TypeError(f"activation must be a name (str), got {type(name).__name__} {name!r}")
    try:
        return ACTIVATIONS[name.lower()]
    except KeyError:
        valid = ", ".join(repr(k) for k in ACTIVATIONS)
        raise ValueError(f"unknown activation {name!r}; expected one of {valid}") from None
