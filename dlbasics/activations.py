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
gelu           :math:`z\,\Phi(z)`              :math:`\Phi(z) + z\,\varphi(z)`
=============  ==============================  ==========================================

with :math:`\Phi` and :math:`\varphi` the standard normal distribution
function and density. GELU is the exact (erf) form, PyTorch's
``approximate='none'``.

At the kink ``z = 0`` the ReLU derivative is 0 and the leaky ReLU derivative is
``alpha``, the same choice PyTorch's autograd makes.

These are the bare formulas: every function keeps a floating ``x``'s dtype,
turns integers into float64, and checks nothing else (NaN in, NaN out). Inputs
are checked where a learner's data enters a model (``MLP.fit``, ``forward``,
the layer forwards), once.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dlbasics.validation import check_choice

__all__ = [
    "ACTIVATIONS",
    "gelu",
    "gelu_derivative",
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


_SQRT_HALF = 0.7071067811865476  # 1 / sqrt(2)
_INV_SQRT_2PI = 0.3989422804014327  # 1 / sqrt(2 pi)


def _floats(x: np.ndarray) -> np.ndarray:
    """``x`` as an array: integers and booleans become float64, every other dtype is kept."""
    x = np.asarray(x)
    return x.astype(np.float64) if x.dtype.kind in "biu" else x


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
    x = _floats(x)
    e = np.exp(-np.abs(x))  # in (0, 1]: nothing overflows
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


def sigmoid_derivative(x: np.ndarray) -> np.ndarray:
    r"""Derivative of the sigmoid: :math:`\sigma(x)\,(1 - \sigma(x))`, values in :math:`(0, 0.25]`.

    ``x`` is the pre-activation, not the sigmoid's output.
    """
    s = sigmoid(x)
    return s * (1 - s)


def relu(x: np.ndarray) -> np.ndarray:
    """Rectified linear unit ``max(0, x)``, elementwise."""
    return np.maximum(_floats(x), 0)


def relu_derivative(x: np.ndarray) -> np.ndarray:
    """Derivative of ReLU: 1 where ``x > 0``, else 0 (0 at the kink, as in PyTorch)."""
    x = _floats(x)
    return (x > 0).astype(x.dtype)


def tanh(x: np.ndarray) -> np.ndarray:
    """Hyperbolic tangent, elementwise; values in ``(-1, 1)``."""
    return np.tanh(_floats(x))


def tanh_derivative(x: np.ndarray) -> np.ndarray:
    r"""Derivative of tanh: :math:`1 - \tanh^2(x)`."""
    t = tanh(x)
    return 1 - t * t


def leaky_relu(x: np.ndarray, alpha: float = 0.01) -> np.ndarray:
    """Leaky ReLU: ``x`` where ``x > 0``, else ``alpha * x`` (``alpha`` is PyTorch's ``negative_slope``)."""
    x = _floats(x)
    return np.where(x > 0, x, x * x.dtype.type(alpha))


def leaky_relu_derivative(x: np.ndarray, alpha: float = 0.01) -> np.ndarray:
    """Derivative of leaky ReLU: 1 where ``x > 0``, else ``alpha`` (also at 0)."""
    x = _floats(x)
    return np.where(x > 0, x.dtype.type(1), x.dtype.type(alpha))


def gelu(x: np.ndarray) -> np.ndarray:
    r"""Gaussian error linear unit :math:`x\,\Phi(x) = \tfrac{x}{2}(1 + \operatorname{erf}(x/\sqrt2))`.

    The exact form of Hendrycks and Gimpel (2016), equal to
    ``torch.nn.functional.gelu(x)`` (``approximate='none'``), not the tanh
    approximation. It weighs its input by the probability that a standard
    normal variable lies below it: close to ReLU for large ``|x|``, smooth at
    0, and slightly negative (minimum about -0.17 at ``x`` about -0.75).
    ``x`` is any array of pre-activations, as for :func:`sigmoid`; the result
    has its shape and (floating) dtype.
    """
    from scipy.special import erf  # scipy comes with scikit-learn; imported on first use

    x = _floats(x)
    return x * ((1 + erf(x * x.dtype.type(_SQRT_HALF))) / 2)


def gelu_derivative(x: np.ndarray) -> np.ndarray:
    r"""Derivative of the exact GELU: :math:`\Phi(x) + x\,\varphi(x)`.

    :math:`\varphi(x) = e^{-x^2/2}/\sqrt{2\pi}` is the standard normal density.
    Equals what ``torch.autograd`` computes for ``torch.nn.functional.gelu``.
    ``x`` is the pre-activation.
    """
    from scipy.special import erf

    x = _floats(x)
    cdf = (1 + erf(x * x.dtype.type(_SQRT_HALF))) / 2
    pdf = np.exp(-x * x / 2) * x.dtype.type(_INV_SQRT_2PI)
    return cdf + x * pdf


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
    x = _floats(x)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


#: name -> (activation, derivative); what :func:`get_activation` looks up (the hidden-layer
#: activations of :class:`~dlbasics.networks.MLP`; GELU, used in Transformer blocks, is not one).
ACTIVATIONS: dict[str, tuple[Activation, Activation]] = {
    "sigmoid": (sigmoid, sigmoid_derivative),
    "relu": (relu, relu_derivative),
    "tanh": (tanh, tanh_derivative),
    "leaky_relu": (leaky_relu, leaky_relu_derivative),
}


def get_activation(name: str) -> tuple[Activation, Activation]:
    """Look up an activation and its derivative by name.

    Parameters
    ----------
    name : {"sigmoid", "relu", "tanh", "leaky_relu"}

    Returns
    -------
    (f, f_prime) : tuple of callables
        The functions of this module, e.g. ``(relu, relu_derivative)``.

    Raises
    ------
    ValueError
        If ``name`` is unknown; the message lists the valid names.
    """
    if not isinstance(name, str):
        raise TypeError(f"activation must be a name (str), got {type(name).__name__} {name!r}")
    if name.lower() not in ACTIVATIONS:
        check_choice(name, "activation", tuple(ACTIVATIONS))
    return ACTIVATIONS[name.lower()]
