r"""Optimizers that update a list of NumPy parameters in place.

Each follows the update rule of its :mod:`torch.optim` namesake exactly, so the
same gradients give the same parameters (tested to 1e-10 in float64):

* :class:`SGD` -- :math:`b \leftarrow \mu b + g` (with :math:`b = g` on the
  first step), :math:`\theta \leftarrow \theta - \eta b`;
* :class:`RMSprop` -- :math:`v \leftarrow \alpha v + (1-\alpha) g^2`,
  :math:`\theta \leftarrow \theta - \eta\, g / (\sqrt{v} + \epsilon)`;
* :class:`Adam` -- :math:`m \leftarrow \beta_1 m + (1-\beta_1) g`,
  :math:`v \leftarrow \beta_2 v + (1-\beta_2) g^2`,
  :math:`\theta \leftarrow \theta - \eta\, \hat m / (\sqrt{\hat v} + \epsilon)` with
  :math:`\hat m = m/(1-\beta_1^t)`, :math:`\hat v = v/(1-\beta_2^t)`.

State (momentum buffers, moments) is kept per position in the parameter
list, so pass the parameters in the same order on every call.

:func:`clip_grad_norm` rescales the gradients before a step, the same rule as
:func:`torch.nn.utils.clip_grad_norm_`: all gradients are treated as one long
vector :math:`g`, and when its Euclidean norm exceeds ``max_norm`` every
gradient is multiplied by
:math:`\min\big(1,\ \text{max\_norm} / (\lVert g \rVert_2 + 10^{-6})\big)`,
so the step keeps its direction and only its length shrinks. Recurrent
networks use it against the rare, huge gradients of exploding dynamics.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from dlbasics.validation import check_positive, check_probability, format_shape

__all__ = ["SGD", "Adam", "Optimizer", "RMSprop", "clip_grad_norm"]


def attribute_repr(self: object) -> str:
    """``ClassName(name=value, ...)``: the public attributes in the order they were set.

    The ``__repr__`` of the optimizers here and of the learning-rate schedulers in
    :mod:`dlbasics.lr_scheduler`: what was set in ``__init__`` (and ``t`` or
    ``last_epoch``, the step count) is shown; attributes starting with ``_`` are not.
    """
    args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
    return f"{type(self).__name__}({args})"


class Optimizer:
    """Base class: checks parameters against gradients and keeps per-parameter state.

    :meth:`update` checks that the parameters and gradients pair up (counts,
    shapes, floating dtypes); the values themselves are not inspected, so a
    diverging run shows up as NaN or infinity in the parameters and the loss.

    Parameters
    ----------
    lr : float
        Step size :math:`\\eta > 0` (the learning rate).
    """

    __repr__ = attribute_repr

    def __init__(self, lr: float) -> None:
        self.lr = check_positive(lr, "lr")
        self.t = 0  # number of updates made so far
        self._shapes: list[tuple[int, ...]] | None = None

    def _check(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
        if len(params) != len(grads):
            raise ValueError(
                f"got {len(params)} parameters but {len(grads)} gradients; "
                "expected one gradient per parameter"
            )
        for i, (p, g) in enumerate(zip(params, grads)):
            if not isinstance(p, np.ndarray) or p.dtype.kind != "f":
                raise TypeError(
                    f"params[{i}] must be a floating-point NumPy array (updated in place), "
                    f"got {type(p).__name__}"
                )
            if np.shape(g) != p.shape:
                raise ValueError(
                    f"grads[{i}] has shape {format_shape(np.shape(g))} but params[{i}] has shape "
                    f"{format_shape(p.shape)}"
                )
        shapes = [p.shape for p in params]
        if self._shapes is None:
            self._shapes = shapes
        elif shapes != self._shapes:
            raise ValueError(
                "the parameters changed since the first update (shapes "
                f"{self._shapes} then {shapes}); pass the same list in the same order, "
                "or create a new optimizer"
            )

    def update(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
        """Apply one step to ``params`` in place.

        Parameters
        ----------
        params : list of numpy.ndarray
            The parameters, modified in place; their dtypes are kept.
        grads : list of numpy.ndarray
            One gradient per parameter, same shapes.
        """
        self._check(params, grads)
        self.t += 1
        for i, (p, g) in enumerate(zip(params, grads)):
            self._step(i, p, np.asarray(g, dtype=p.dtype))

    def _step(self, i: int, p: np.ndarray, g: np.ndarray) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent, with optional (heavy-ball) momentum.

    Parameters
    ----------
    lr : float, default 0.01
    momentum : float, default 0.0
        :math:`\\mu \\in [0, 1)`; 0 is plain gradient descent.
    """

    def __init__(self, lr: float = 0.01, momentum: float = 0.0) -> None:
        super().__init__(lr)
        self.momentum = check_probability(momentum, "momentum")
        self._buffers: dict[int, np.ndarray] = {}

    def _step(self, i: int, p: np.ndarray, g: np.ndarray) -> None:
        if self.momentum:
            buf = self._buffers.get(i)
            if buf is None:
                buf = self._buffers[i] = g.copy()
            else:
                buf *= self.momentum
                buf += g
            g = buf
        p -= p.dtype.type(self.lr) * g


class RMSprop(Optimizer):
    """RMSprop: divide each step by a running root-mean-square of the gradient.

    Parameters
    ----------
    lr : float, default 0.001
    alpha : float, default 0.9
        Decay of the squared-gradient average (PyTorch's default is 0.99).
    eps : float, default 1e-8
        Added to the root mean square, outside the square root.
    """

    def __init__(self, lr: float = 0.001, alpha: float = 0.9, eps: float = 1e-8) -> None:
        super().__init__(lr)
        self.alpha = check_probability(alpha, "alpha")
        self.eps = check_positive(eps, "eps")
        self._square_avg: dict[int, np.ndarray] = {}

    def _step(self, i: int, p: np.ndarray, g: np.ndarray) -> None:
        v = self._square_avg.setdefault(i, np.zeros_like(p))
        v *= self.alpha
        v += (1 - self.alpha) * g * g
        p -= p.dtype.type(self.lr) * g / (np.sqrt(v) + p.dtype.type(self.eps))


class Adam(Optimizer):
    """Adam: momentum on the gradient and on its square, with bias correction.

    Parameters
    ----------
    lr : float, default 0.001
    betas : (float, float), default (0.9, 0.999)
        :math:`(\\beta_1, \\beta_2)`: the decays of the first-moment (mean) and of the
        second-moment (uncentred variance) estimates.
    eps : float, default 1e-8
        Added to :math:`\\sqrt{\\hat v}`, outside the square root, as in PyTorch.
    """

    def __init__(
        self,
        lr: float = 0.001,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        super().__init__(lr)
        self.betas = _check_betas(betas)
        self.eps = check_positive(eps, "eps")
        self._m: dict[int, np.ndarray] = {}
        self._v: dict[int, np.ndarray] = {}

    def _step(self, i: int, p: np.ndarray, g: np.ndarray) -> None:
        m = self._m.setdefault(i, np.zeros_like(p))
        v = self._v.setdefault(i, np.zeros_like(p))
        beta1, beta2 = self.betas
        m *= beta1
        m += (1 - beta1) * g
        v *= beta2
        v += (1 - beta2) * g * g
        # The same order of operations as torch.optim.Adam.
        bias_correction1 = 1 - beta1**self.t
        bias_correction2 = 1 - beta2**self.t
        step_size = self.lr / bias_correction1
        denom = np.sqrt(v) / p.dtype.type(math.sqrt(bias_correction2)) + p.dtype.type(self.eps)
        p -= p.dtype.type(step_size) * (m / denom)


def _check_betas(betas: tuple[float, float]) -> tuple[float, float]:
    """Adam's ``betas``: a pair of decays, each in ``[0, 1)``."""
    if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
        raise TypeError(f"betas must be a pair (beta1, beta2) such as (0.9, 0.999), got {betas!r}")
    return check_probability(betas[0], "betas[0]"), check_probability(betas[1], "betas[1]")


def clip_grad_norm(grads: Sequence[np.ndarray], max_norm: float) -> float:
    """Scale a list of gradient arrays in place so that their global L2 norm is at most ``max_norm``.

    Parameters
    ----------
    grads : sequence of numpy.ndarray
        The gradients of all parameters, any shapes, floating dtypes. They
        are modified in place (like ``p.grad`` in PyTorch), so each must be a
        writable NumPy array.
    max_norm : float
        The largest norm allowed, > 0.

    Returns
    -------
    float
        The global norm *before* clipping, :math:`\\sqrt{\\sum_k \\lVert g_k \\rVert^2}`,
        as PyTorch returns it: log it to see how often clipping acts.

    Raises
    ------
    TypeError
        If ``grads`` is not a list of floating-point NumPy arrays.
    ValueError
        If ``max_norm`` is not a positive number, ``grads`` is empty, or the
        norm is not finite (a NaN or infinite gradient cannot be rescaled into
        a useful step; find where it comes from).
    """
    max_norm = check_positive(max_norm, "max_norm")
    if isinstance(grads, np.ndarray) or not isinstance(grads, Sequence):
        raise TypeError(
            "grads must be a list of gradient arrays (e.g. [dW1, db1, dW2, db2]), "
            f"got {type(grads).__name__}"
        )
    if len(grads) == 0:
        raise ValueError("grads is empty; expected at least one gradient array")
    for k, g in enumerate(grads):
        if not isinstance(g, np.ndarray) or g.dtype.kind != "f":
            raise TypeError(
                f"grads[{k}] is {type(g).__name__} {getattr(g, 'dtype', '')}; expected a "
                "floating-point NumPy array (clipping works in place)"
            )
    total = float(np.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads)))
    if not np.isfinite(total):
        raise ValueError(
            f"the total gradient norm is {total}; a gradient holds NaN or infinity, "
            "and no rescaling can turn it into a finite step"
        )
    coefficient = min(1.0, max_norm / (total + 1e-6))
    if coefficient < 1.0:
        for g in grads:
            g *= g.dtype.type(coefficient)
    return total
