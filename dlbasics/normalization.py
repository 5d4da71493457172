r"""Normalization layers: batch normalization and layer normalization.

Both standardize values with a mean and a (biased) variance, then apply a
learned per-feature scale and shift:

.. math::

    \mu = \frac1m \sum_i x_i, \qquad
    \sigma^2 = \frac1m \sum_i (x_i - \mu)^2, \qquad
    \hat x_i = \frac{x_i - \mu}{\sqrt{\sigma^2 + \epsilon}}, \qquad
    y_i = \gamma \hat x_i + \beta .

They differ in *which* ``m`` values share one statistic.

**Batch normalization** (Ioffe and Szegedy, 2015) takes the statistics down
the batch: the ``N`` samples of a feature for ``x`` of shape ``(N, D)``, or
the ``N * H * W`` positions of a channel for ``x`` of shape ``(N, C, H, W)``,
as ``torch.nn.functional.batch_norm(training=True)`` does. A sample's output
therefore depends on the other samples of its batch, and evaluation needs
running estimates: :class:`BatchNorm` keeps them, updated like
:class:`torch.nn.BatchNorm1d`/``2d`` (``momentum=0.1``, running variance from
the *unbiased* batch variance, ``m / (m - 1)`` times the biased one).

**Layer normalization** (Ba, Kiros and Hinton, 2016) takes them across the
``d`` features of one vector, the last axis of ``x`` of shape ``(..., d)``, as
``torch.nn.functional.layer_norm(x, (d,))`` does. Every vector (a sample, a
token) is normalized on its own: no batch statistics, the same computation in
training and evaluation, any batch size including one.

Both backward passes use the compact form of the gradient,

.. math::

    \frac{\partial L}{\partial x_i} = \frac{1}{m\sqrt{\sigma^2 + \epsilon}}
    \Big( m\, g_i - \sum_j g_j - \hat x_i \sum_j g_j \hat x_j \Big),
    \qquad g = \gamma \odot \frac{\partial L}{\partial y},

with the sums over the ``m`` values of one statistic, which needs only
``x_hat`` and ``1 / sqrt(var + eps)`` from the forward pass.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import DTypeLike

from dlbasics.validation import (
    check_bool,
    check_dtype,
    check_gradient_shape,
    check_int,
    check_layer_input,
    check_positive,
    check_probability,
    check_ready,
    check_shapes,
    format_shape,
)

__all__ = [
    "AffineNorm",
    "BatchNorm",
    "BatchNormCache",
    "LayerNorm",
    "LayerNormCache",
    "batchnorm_backward",
    "batchnorm_forward",
    "layernorm_backward",
    "layernorm_forward",
]


class BatchNormCache(NamedTuple):
    """What :func:`batchnorm_backward` needs from the forward pass."""

    x_hat: np.ndarray  # normalized input, same shape as x
    gamma: np.ndarray  # (D,) or (C,)
    inv_std: np.ndarray  # 1 / sqrt(var + eps), (D,) or (C,)
    mean: np.ndarray  # statistics used for the normalization, (D,) or (C,)
    var: np.ndarray  # biased variance (batch) or running variance (eval)
    batch_statistics: bool  # True: mean and var were computed from x itself


def _reduce_axes(x: np.ndarray) -> tuple[int, ...]:
    """The axes one statistic is taken over: (0,) for (N, D), (0, 2, 3) for (N, C, H, W)."""
    return (0,) if x.ndim == 2 else (0, 2, 3)


def _per_feature(v: np.ndarray, ndim: int) -> np.ndarray:
    """Reshape a (D,) or (C,) vector so it broadcasts against (N, D) or (N, C, H, W)."""
    return v if ndim == 2 else v[:, None, None]


def _check_input(x: object, **affine: np.ndarray) -> list[np.ndarray]:
    """``x`` (N, D) or (N, C, H, W) and its per-feature ``affine`` vectors, checked together."""
    ndim = np.ndim(x)
    if ndim not in (2, 4):
        raise ValueError(f"x must be (N, D) features or (N, C, H, W) images, got shape "
                         f"{format_shape(np.shape(x))} ({ndim} dimensions)")
    dims = "N features" if ndim == 2 else "N channels H W"
    return check_shapes(x=(x, dims), **{k: (v, dims.split()[1]) for k, v in affine.items()})


def _values_per_statistic(x: np.ndarray) -> int:
    m = x.shape[0] if x.ndim == 2 else x.shape[0] * x.shape[2] * x.shape[3]
    if m < 2:
        raise ValueError(f"batch normalization in training mode needs more than one value per "
                         f"{'feature' if x.ndim == 2 else 'channel'}, but x has shape "
                         f"{format_shape(x.shape)} ({m} value); use a batch of at least 2 "
                         "(or evaluation mode, which uses the running statistics)")
    return m


def batchnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5
) -> tuple[np.ndarray, BatchNormCache]:
    """Batch normalization in training mode (statistics of the batch itself).

    The same computation as ``torch.nn.functional.batch_norm(x, None, None,
    gamma, beta, training=True, eps=eps)``.

    Parameters
    ----------
    x : numpy.ndarray, shape (N, D) or (N, C, H, W)
        A batch of feature vectors (normalized per feature, over the ``N``
        samples) or of images (normalized per channel, over ``N * H * W``
        values).
    gamma : numpy.ndarray, shape (D,) or (C,)
        Scale applied after normalizing.
    beta : numpy.ndarray, shape (D,) or (C,)
        Shift applied after scaling.
    eps : float, default 1e-5
        Added to the variance before the square root.

    Returns
    -------
    out : numpy.ndarray, same shape and dtype as ``x``
        ``gamma * (x - mean) / sqrt(var + eps) + beta``.
    cache : BatchNormCache
        For :func:`batchnorm_backward`; ``cache.mean`` and ``cache.var``
        hold the batch mean and *biased* variance, shape (D,) or (C,).
    """
    x, gamma, beta = _check_input(x, gamma=gamma, beta=beta)
    eps = check_positive(eps, "eps")
    _values_per_statistic(x)
    axes = _reduce_axes(x)
    mean = x.mean(axis=axes)
    centered = x - _per_feature(mean, x.ndim)
    var = np.mean(centered * centered, axis=axes)
    inv_std = 1 / np.sqrt(var + x.dtype.type(eps))
    x_hat = centered * _per_feature(inv_std, x.ndim)
    out = _per_feature(gamma, x.ndim) * x_hat + _per_feature(beta, x.ndim)
    return out, BatchNormCache(x_hat, gamma, inv_std, mean, var, True)


def batchnorm_backward(
    dout: np.ndarray, cache: BatchNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of batch normalization.

    With batch statistics (training mode) every output depends on every input
    of its feature through the mean and variance, and the compact formula is

    ``dx = gamma * inv_std / m * (m * dout - sum(dout) - x_hat * sum(dout * x_hat))``

    with sums over the ``m`` values of each feature (or channel). With fixed
    statistics (a cache from :class:`BatchNorm` in evaluation mode) the layer
    is an elementwise affine map and ``dx = dout * gamma * inv_std``.

    Parameters
    ----------
    dout : numpy.ndarray, shape (N, D) or (N, C, H, W)
        Gradient of the loss with respect to the output.
    cache : BatchNormCache
        From :func:`batchnorm_forward` (or :meth:`BatchNorm.forward`).

    Returns
    -------
    dx : numpy.ndarray, same shape as ``dout``
    dgamma : numpy.ndarray, shape (D,) or (C,)
    dbeta : numpy.ndarray, shape (D,) or (C,)
    """
    x_hat, gamma, inv_std, _, _, batch_statistics = cache
    dout = check_gradient_shape(dout, x_hat.shape)
    axes = _reduce_axes(dout)
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * x_hat).sum(axis=axes)
    scale = _per_feature(gamma * inv_std, dout.ndim)
    if not batch_statistics:
        return dout * scale, dgamma, dbeta
    m = dout.size // dbeta.size
    dx = (scale / m) * (
        m * dout - _per_feature(dbeta, dout.ndim) - x_hat * _per_feature(dgamma, dout.ndim)
    )
    return dx, dgamma, dbeta


class AffineNorm:
    """What :class:`BatchNorm` and :class:`LayerNorm` share: ``gamma``, ``beta``, their gradients."""

    _backward: staticmethod  # the subclass's layer function, x_backward(dout, cache)

    def __init__(self, size: int, eps: float, dtype: DTypeLike) -> None:
        self.eps = check_positive(eps, "eps")
        self.dtype = check_dtype(dtype)
        self.gamma = np.ones(size, dtype=self.dtype)
        self.beta = np.zeros(size, dtype=self.dtype)
        self.dgamma: np.ndarray | None = None
        self.dbeta: np.ndarray | None = None
        self._cache: BatchNormCache | LayerNormCache | None = None

    def parameters(self) -> list[np.ndarray]:
        """``[gamma, beta]``, the arrays an optimizer updates in place."""
        return [self.gamma, self.beta]

    def gradients(self) -> list[np.ndarray]:
        """``[dgamma, dbeta]`` from the last :meth:`backward`, in the order of :meth:`parameters`."""
        check_ready(self.dgamma, "no gradients yet: call backward(dout) after forward(x)")
        return [self.dgamma, self.dbeta]

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """Gradient with respect to the input of the last ``forward``.

        Stores ``dgamma`` and ``dbeta`` on the layer and returns ``dx``, same
        shape as ``dout``.
        """
        cache = check_ready(self._cache, "backward(dout) needs a forward(x) first")
        dx, self.dgamma, self.dbeta = self._backward(dout, cache)
        return dx


class BatchNorm(AffineNorm):
    """A batch-normalization layer with learned scale/shift and running statistics.

    Behaves like :class:`torch.nn.BatchNorm1d` (input ``(N, D)``) and
    :class:`torch.nn.BatchNorm2d` (input ``(N, C, H, W)``) with their
    defaults: in training mode it normalizes with the batch statistics and
    updates

    ``running_mean = (1 - momentum) * running_mean + momentum * mean``,
    ``running_var = (1 - momentum) * running_var + momentum * var * m / (m - 1)``

    (the unbiased batch variance); in evaluation mode it normalizes with the
    running statistics and changes nothing.

    Parameters
    ----------
    num_features : int
        ``D`` (features) or ``C`` (channels).
    eps : float, default 1e-5
    momentum : float, default 0.1
        Weight of the newest batch in the running averages, in ``[0, 1)``.
    dtype : float32 or float64, default float32
        dtype of the parameters and statistics; inputs must have the same.

    Attributes
    ----------
    gamma, beta : numpy.ndarray, shape (num_features,)
        Learned scale (initially 1) and shift (initially 0).
    running_mean, running_var : numpy.ndarray, shape (num_features,)
        Initially 0 and 1.
    dgamma, dbeta : numpy.ndarray or None
        Gradients from the last ``backward``.
    training : bool
        The mode; switch with :meth:`train` and :meth:`eval`.

    Examples
    --------
    >>> bn = BatchNorm(3, dtype=np.float64)
    >>> x = np.random.default_rng(0).normal(5.0, 2.0, size=(64, 3))
    >>> y = bn.forward(x)
    >>> bool(np.allclose(y.mean(axis=0), 0) and np.allclose(y.std(axis=0), 1, atol=1e-4))
    True
    >>> dx = bn.backward(np.ones_like(y))   # also sets bn.dgamma and bn.dbeta
    """

    _backward = staticmethod(batchnorm_backward)

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        dtype: DTypeLike = np.float32,
    ) -> None:
        self.num_features = check_int(num_features, "num_features", minimum=1)
        self.momentum = check_probability(momentum, "momentum")
        super().__init__(self.num_features, eps, dtype)
        self.running_mean = np.zeros(self.num_features, dtype=self.dtype)
        self.running_var = np.ones(self.num_features, dtype=self.dtype)
        self.training = True

    def __repr__(self) -> str:
        mode = "train" if self.training else "eval"
        return (
            f"BatchNorm({self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"dtype={self.dtype}, mode={mode!r})"
        )

    def train(self, mode: bool = True) -> BatchNorm:
        """Switch to training mode (``mode=False``: evaluation mode); returns ``self``."""
        self.training = check_bool(mode, "mode")
        return self

    def eval(self) -> BatchNorm:
        """Switch to evaluation mode (running statistics); returns ``self``."""
        return self.train(False)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Normalize ``x`` of shape (N, D) or (N, C, H, W); the output has the same shape.

        In training mode this also updates the running statistics.
        """
        (x,) = _check_input(x)
        x = check_layer_input(x, self.dtype, "BatchNorm", self.num_features)
        if self.training:
            out, cache = batchnorm_forward(x, self.gamma, self.beta, self.eps)
            m = _values_per_statistic(x)
            mom = self.dtype.type(self.momentum)
            self.running_mean *= 1 - mom
            self.running_mean += mom * cache.mean
            self.running_var *= 1 - mom
            self.running_var += mom * cache.var * self.dtype.type(m / (m - 1))
        else:
            inv_std = 1 / np.sqrt(self.running_var + self.dtype.type(self.eps))
            x_hat = (x - _per_feature(self.running_mean, x.ndim)) * _per_feature(inv_std, x.ndim)
            out = _per_feature(self.gamma, x.ndim) * x_hat + _per_feature(self.beta, x.ndim)
            cache = BatchNormCache(
                x_hat, self.gamma.copy(), inv_std, self.running_mean.copy(),
                self.running_var.copy(), False,
            )
        self._cache = cache
        return out

    __call__ = forward


# ---------------------------------------------------------------------------
# layer normalization
# ---------------------------------------------------------------------------


class LayerNormCache(NamedTuple):
    """What :func:`layernorm_backward` needs from the forward pass."""

    x_hat: np.ndarray  # normalized input, (..., d)
    gamma: np.ndarray  # (d,)
    inv_std: np.ndarray  # 1 / sqrt(var + eps), (..., 1)


def layernorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5
) -> tuple[np.ndarray, LayerNormCache]:
    """Layer normalization over the last axis: each vector with its own mean and variance.

    ``gamma * (x - mean) / sqrt(var + eps) + beta``, with the mean and the
    *biased* variance of each vector ``x[..., :]``; the same computation as
    ``torch.nn.functional.layer_norm(x, (d,), gamma, beta, eps)``.

    Parameters
    ----------
    x : numpy.ndarray, shape (..., d)
        Any number of leading axes, e.g. ``(N, d)`` samples or
        ``(batch, T, d)`` tokens; each length-``d`` vector is normalized.
    gamma, beta : numpy.ndarray, shape (d,)
        The scale and the shift applied after normalizing.
    eps : float, default 1e-5
        Added to the variance before the square root.

    Returns
    -------
    out : numpy.ndarray, same shape and dtype as ``x``
    cache : LayerNormCache
        For :func:`layernorm_backward`.
    """
    x, gamma, beta = check_shapes(x=(x, "... d"), gamma=(gamma, "d"), beta=(beta, "d"))
    eps = check_positive(eps, "eps")
    mean = x.mean(axis=-1, keepdims=True)
    centered = x - mean
    var = np.mean(centered * centered, axis=-1, keepdims=True)
    inv_std = 1 / np.sqrt(var + x.dtype.type(eps))
    x_hat = centered * inv_std
    return gamma * x_hat + beta, LayerNormCache(x_hat, gamma, inv_std)


def layernorm_backward(
    dout: np.ndarray, cache: LayerNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of layer normalization.

    Every output of a vector depends on every input of the same vector
    through its mean and variance:

    ``dx = inv_std / d * (d * g - sum(g) - x_hat * sum(g * x_hat))``,
    ``g = gamma * dout``, sums over the last axis. ``dgamma`` and ``dbeta``
    sum over every leading axis.

    Parameters
    ----------
    dout : numpy.ndarray, shape (..., d)
        Gradient of the loss with respect to the output.
    cache : LayerNormCache
        From :func:`layernorm_forward`.

    Returns
    -------
    dx : numpy.ndarray, shape (..., d)
    dgamma : numpy.ndarray, shape (d,)
    dbeta : numpy.ndarray, shape (d,)
    """
    x_hat, gamma, inv_std = cache
    dout = check_gradient_shape(dout, x_hat.shape)
    leading = tuple(range(dout.ndim - 1))
    dbeta = dout.sum(axis=leading)
    dgamma = (dout * x_hat).sum(axis=leading)
    g = dout * gamma
    d = x_hat.shape[-1]
    dx = (inv_std / d) * (
        d * g - g.sum(axis=-1, keepdims=True) - x_hat * (g * x_hat).sum(axis=-1, keepdims=True)
    )
    return dx, dgamma, dbeta


class LayerNorm(AffineNorm):
    """A layer-normalization layer: :func:`layernorm_forward` with learned ``gamma``, ``beta``.

    Behaves like :class:`torch.nn.LayerNorm` ``(d, eps)``. There are no
    running statistics and no training/evaluation modes: each vector is
    normalized with its own mean and variance, always.

    Parameters
    ----------
    d : int
        Size of the last axis of the inputs (``normalized_shape``).
    eps : float, default 1e-5
    dtype : float32 or float64, default float32
        dtype of the parameters; inputs must have the same.

    Attributes
    ----------
    gamma, beta : numpy.ndarray, shape (d,)
        Learned scale (initially 1) and shift (initially 0).
    dgamma, dbeta : numpy.ndarray or None
        Gradients from the last ``backward``.

    Examples
    --------
    >>> ln = LayerNorm(4, dtype=np.float64)
    >>> y = ln.forward(np.array([[1.0, 2.0, 3.0, 4.0]]))
    >>> bool(np.allclose(y.mean(axis=-1), 0) and np.allclose(y.var(axis=-1), 1, atol=1e-4))
    True
    """

    _backward = staticmethod(layernorm_backward)

    def __init__(self, d: int, eps: float = 1e-5, dtype: DTypeLike = np.float32) -> None:
        self.d = check_int(d, "d", minimum=1)
        super().__init__(self.d, eps, dtype)

    def __repr__(self) -> str:
        return f"LayerNorm({self.d}, eps={self.eps}, dtype={self.dtype})"

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Normalize ``x`` of shape (..., d); the output has the same shape."""
        x = check_layer_input(x, self.dtype, "LayerNorm")
        out, self._cache = layernorm_forward(x, self.gamma, self.beta, self.eps)
        return out

    __call__ = forward
