r"""Regularization: weight penalties, dropout and early stopping.

Conventions (stated once, tested against PyTorch):

* L2: penalty :math:`\frac{\lambda}{2}\sum_l \lVert W_l \rVert^2`, gradient
  :math:`\lambda W_l` -- the same update as ``weight_decay=lambda`` in
  :class:`torch.optim.SGD`;
* L1: penalty :math:`\lambda \sum_l \lVert W_l \rVert_1`, (sub)gradient
  :math:`\lambda\,\mathrm{sign}(W_l)` (0 at 0, like PyTorch's ``abs``);
* dropout is *inverted*: kept units are scaled by :math:`1/(1-p)` during
  training so the expected activation is unchanged and nothing is rescaled at
  test time.

Penalties apply to weight matrices, not biases.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np

from dlbasics.validation import as_float_array, as_generator, check_int, check_positive, check_probability

__all__ = [
    "EarlyStopping",
    "apply_dropout",
    "dropout_mask",
    "l1_regularization",
    "l1_regularization_grad",
    "l2_regularization",
    "l2_regularization_grad",
]


def _check_penalty(weights: Sequence[np.ndarray], weight_decay: float) -> float:
    """Check a penalty's arguments; return ``weight_decay`` as a float."""
    if isinstance(weights, np.ndarray):
        raise TypeError("weights must be a list of arrays (one per layer), got a single array")
    return check_positive(weight_decay, "weight_decay", allow_zero=True)


def l2_regularization(weights: Sequence[np.ndarray], weight_decay: float = 0.01) -> float:
    r"""L2 penalty :math:`\frac{\lambda}{2}\sum_l \lVert W_l\rVert_F^2`.

    Parameters
    ----------
    weights : list of numpy.ndarray
        Weight matrices, e.g. ``model.weights``.
    weight_decay : float, default 0.01

    Returns
    -------
    float
    """
    lam = _check_penalty(weights, weight_decay)
    return lam / 2 * float(sum(np.sum(w * w) for w in weights))


def l2_regularization_grad(
    weights: Sequence[np.ndarray], weight_decay: float = 0.01
) -> list[np.ndarray]:
    r"""Gradient of :func:`l2_regularization`: :math:`\lambda W_l` for each layer.

    Returns
    -------
    list of numpy.ndarray
        Same shapes and dtypes as ``weights``.
    """
    lam = _check_penalty(weights, weight_decay)
    return [w.dtype.type(lam) * w for w in weights]


def l1_regularization(weights: Sequence[np.ndarray], weight_decay: float = 0.01) -> float:
    r"""L1 penalty :math:`\lambda\sum_l \lVert W_l\rVert_1`.

    Parameters
    ----------
    weights : list of numpy.ndarray
    weight_decay : float, default 0.01

    Returns
    -------
    float
    """
    lam = _check_penalty(weights, weight_decay)
    return lam * float(sum(np.sum(np.abs(w)) for w in weights))


def l1_regularization_grad(
    weights: Sequence[np.ndarray], weight_decay: float = 0.01
) -> list[np.ndarray]:
    r"""Subgradient of :func:`l1_regularization`: :math:`\lambda\,\mathrm{sign}(W_l)`.

    Returns
    -------
    list of numpy.ndarray
        Same shapes and dtypes as ``weights``; 0 where a weight is exactly 0.
    """
    lam = _check_penalty(weights, weight_decay)
    return [w.dtype.type(lam) * np.sign(w) for w in weights]


def dropout_mask(
    shape: tuple[int, ...],
    dropout: float = 0.5,
    rng: np.random.Generator | int | None = None,
    dtype: np.dtype | type = np.float32,
) -> np.ndarray:
    """Inverted-dropout mask: 0 with probability ``dropout``, else ``1 / (1 - dropout)``.

    Parameters
    ----------
    shape : tuple of int
        Shape of the activations to mask.
    dropout : float, default 0.5
        Probability :math:`p \\in [0, 1)` of dropping a unit.
    rng : numpy.random.Generator, int or None, default None
        Source of randomness: a generator continues its stream (a new mask on
        every call), an int seeds a new one, ``None`` means seed 0.
    dtype : dtype, default float32
        Match the activations' dtype.

    Returns
    -------
    numpy.ndarray of ``shape``
        Its expectation is 1 everywhere.
    """
    p = check_probability(dropout, "dropout")
    keep = as_generator(rng).random(shape) >= p
    return keep.astype(dtype) / np.dtype(dtype).type(1 - p)


def apply_dropout(
    activations: np.ndarray,
    dropout: float = 0.5,
    training: bool = True,
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """Apply inverted dropout during training; return ``activations`` unchanged otherwise.

    Parameters
    ----------
    activations : numpy.ndarray, any shape
    dropout : float, default 0.5
    training : bool, default True
    rng : numpy.random.Generator, int or None, default None
        As in :func:`dropout_mask`.

    Returns
    -------
    numpy.ndarray, same shape and dtype as ``activations``
    """
    a = as_float_array(activations, "activations")
    p = check_probability(dropout, "dropout")
    if not training or p == 0:
        return a
    return a * dropout_mask(a.shape, p, rng, a.dtype)


class EarlyStopping:
    """Stop training when the validation loss stops improving.

    Call it once per epoch with the validation loss; it returns ``True`` when
    ``patience`` epochs in a row have failed to improve on the best loss by
    more than ``min_delta``.

    Parameters
    ----------
    patience : int, default 10
        Epochs without improvement to tolerate.
    min_delta : float, default 0.0
        The smallest decrease that counts as an improvement.
    restore_best : bool, default False
        Keep a copy of the parameters at the best epoch, for :meth:`restore`.

    Examples
    --------
    >>> stopper = EarlyStopping(patience=2)
    >>> [stopper(loss) for loss in [1.0, 0.8, 0.9, 0.85]]
    [False, False, False, True]
    >>> stopper.best_loss, stopper.best_epoch
    (0.8, 1)
    """

    def __init__(self, patience: int = 10, min_delta: float = 0.0, restore_best: bool = False) -> None:
        self.patience = check_int(patience, "patience", minimum=1)
        self.min_delta = check_positive(min_delta, "min_delta", allow_zero=True)
        self.restore_best = restore_best
        self.reset()

    def reset(self) -> None:
        """Forget the history, to reuse the object for another run."""
        self.best_loss = float("inf")
        self.best_epoch = -1
        self.counter = 0
        self.epoch = -1
        self.stopped = False
        self.best_params: list[np.ndarray] | None = None

    def __call__(self, val_loss: float, params: Sequence[np.ndarray] | None = None) -> bool:
        """Record one epoch's validation loss; return whether to stop.

        Parameters
        ----------
        val_loss : float
        params : list of numpy.ndarray, optional
            The current parameters; copied when this is the best epoch so far
            and ``restore_best`` is set.
        """
        val_loss = float(val_loss)
        if not np.isfinite(val_loss):
            raise ValueError(f"val_loss must be finite, got {val_loss}")
        self.epoch += 1
        if val_loss < self.best_loss - self.min_delta:
            self.best_loss = val_loss
            self.best_epoch = self.epoch
            self.counter = 0
            if self.restore_best:
                if params is None:
                    raise ValueError("restore_best=True needs the parameters: call stopper(loss, params)")
                self.best_params = copy.deepcopy([np.array(p) for p in params])
        else:
            self.counter += 1
        self.stopped = self.counter >= self.patience
        return self.stopped

    def restore(self, params: Sequence[np.ndarray]) -> None:
        """Copy the best parameters seen back into ``params``, in place."""
        if self.best_params is None:
            raise RuntimeError("no parameters were saved: create EarlyStopping(restore_best=True)")
        if len(params) != len(self.best_params):
            raise ValueError(f"expected {len(self.best_params)} parameters, got {len(params)}")
        for p, best in zip(params, self.best_params):
            p[...] = best

    def __repr__(self) -> str:
        return (
            f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta}, "
            f"restore_best={self.restore_best})"
        )
