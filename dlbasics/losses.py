r"""Loss functions and their gradients with respect to the predictions.

All losses are *means* over the batch, like PyTorch's default
``reduction="mean"``, so their gradients carry the matching ``1/n``:

* mean squared error :math:`\frac{1}{N}\sum (\hat y - y)^2`, gradient
  :math:`\frac{2}{N}(\hat y - y)` where :math:`N` counts every element;
* binary cross-entropy from logits
  :math:`\frac{1}{N}\sum \max(z,0) - z y + \log(1 + e^{-|z|})`,
  gradient :math:`\frac{1}{N}(\sigma(z) - y)`;
* softmax cross-entropy from logits with integer labels
  :math:`\frac{1}{n}\sum_i \left(\log\sum_j e^{z_{ij}} - z_{i y_i}\right)`,
  gradient :math:`\frac{1}{n}(\mathrm{softmax}(z) - \mathrm{onehot}(y))`.

The cross-entropies work on logits through the log-sum-exp trick, so no
probability is ever rounded to 0 and then passed to ``log``.
"""

from __future__ import annotations

import numpy as np

from dlbasics.activations import sigmoid, softmax
from dlbasics.validation import as_float_array, check_labels, format_shape

__all__ = [
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_grad",
    "mse_loss",
    "mse_loss_grad",
    "softmax_cross_entropy",
    "softmax_cross_entropy_grad",
]


def _check_pair(pred: np.ndarray, target: np.ndarray, pred_name: str) -> tuple[np.ndarray, np.ndarray]:
    """``pred`` and ``target`` as float arrays of one shape (the target in ``pred``'s dtype)."""
    p = as_float_array(pred, pred_name)
    t = as_float_array(target, "target")
    if p.shape != t.shape:
        raise ValueError(
            f"{pred_name} has shape {format_shape(p.shape)} but target has shape "
            f"{format_shape(t.shape)}; they must match"
        )
    return p, t.astype(p.dtype, copy=False)


def mse_loss(pred: np.ndarray, target: np.ndarray) -> float:
    r"""Mean squared error :math:`\frac{1}{N}\sum (\text{pred} - \text{target})^2`.

    Parameters
    ----------
    pred, target : array_like, same shape
        Predictions and targets; the mean runs over every element.

    Returns
    -------
    float
    """
    p, t = _check_pair(pred, target, "pred")
    return float(np.mean((p - t) ** 2))


def mse_loss_grad(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    r"""Gradient of :func:`mse_loss` with respect to ``pred``: :math:`2(\text{pred}-\text{target})/N`.

    Returns
    -------
    numpy.ndarray, same shape and dtype as ``pred``
    """
    p, t = _check_pair(pred, target, "pred")
    return (2 / p.size) * (p - t)


def binary_cross_entropy_with_logits(logits: np.ndarray, target: np.ndarray) -> float:
    r"""Mean binary cross-entropy of ``sigmoid(logits)`` against 0/1 targets.

    Uses :math:`\max(z,0) - z y + \log(1+e^{-|z|})`, which equals
    :math:`-y\log\sigma(z) - (1-y)\log(1-\sigma(z))` but never overflows.

    Parameters
    ----------
    logits : array_like, any shape
    target : array_like, same shape
        Targets in :math:`[0, 1]`.

    Returns
    -------
    float
    """
    z, y = _check_pair(logits, target, "logits")
    if y.min() < 0 or y.max() > 1:
        raise ValueError(f"target must be in [0, 1], got values in [{y.min()}, {y.max()}]")
    return float(np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))))


def binary_cross_entropy_with_logits_grad(logits: np.ndarray, target: np.ndarray) -> np.ndarray:
    r"""Gradient of :func:`binary_cross_entropy_with_logits`: :math:`(\sigma(z) - y)/N`.

    Returns
    -------
    numpy.ndarray, same shape and dtype as ``logits``
    """
    z, y = _check_pair(logits, target, "logits")
    return (sigmoid(z) - y) / z.size


def _check_logits_and_labels(logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``logits`` (n, n_classes) as floats and ``labels`` as int64 class indices in range."""
    z = as_float_array(logits, "logits", ndim=2)
    y = check_labels(labels, z.shape[0], z.shape[1], "labels")
    return z, y


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    r"""Mean softmax cross-entropy of integer labels, from logits.

    :math:`\frac{1}{n}\sum_i \left(\operatorname{logsumexp}(z_i) - z_{i,y_i}\right)`,
    the same value as ``torch.nn.functional.cross_entropy(logits, labels)``.

    Parameters
    ----------
    logits : array_like, shape (n_samples, n_classes)
    labels : array_like of int, shape (n_samples,)
        Class indices in ``[0, n_classes)``.

    Returns
    -------
    float
    """
    z, y = _check_logits_and_labels(logits, labels)
    m = z.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(z - m).sum(axis=1))
    return float(np.mean(lse - z[np.arange(z.shape[0]), y]))


def softmax_cross_entropy_grad(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    r"""Gradient of :func:`softmax_cross_entropy`: :math:`(\mathrm{softmax}(z) - \mathrm{onehot}(y))/n`.

    Parameters
    ----------
    logits : array_like, shape (n_samples, n_classes)
    labels : array_like of int, shape (n_samples,)

    Returns
    -------
    numpy.ndarray, shape (n_samples, n_classes), dtype of ``logits``
    """
    z, y = _check_logits_and_labels(logits, labels)
    grad = softmax(z, axis=1)
    grad[np.arange(z.shape[0]), y] -= 1
    grad /= z.shape[0]
    return grad
