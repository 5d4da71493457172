r"""Learning-rate schedules that drive an optimizer's ``lr``.

Each scheduler reproduces its :mod:`torch.optim.lr_scheduler` namesake step for
step (tested to 1e-12 against PyTorch, also far past the end of a schedule).
Call :meth:`~LRScheduler.step` once per epoch (or per batch), *after* the
optimizer's update, exactly as with PyTorch. With :math:`\eta_0` the optimizer's
learning rate when the first scheduler was attached and :math:`t` the number of
calls to ``step()`` so far:

* :class:`StepLR` -- :math:`\eta_t = \eta_0\,\gamma^{\lfloor t/s \rfloor}`;
* :class:`CosineAnnealingLR` -- :math:`\eta_t = \eta_{\min} + \tfrac12(\eta_0 -
  \eta_{\min})\bigl(1 + \cos(\pi t / T_{\max})\bigr)`, computed, like PyTorch,
  by a recursion from the previous rate; it keeps following the cosine past
  :math:`T_{\max}` (the rate climbs back to :math:`\eta_0` at :math:`2T_{\max}`)
  rather than stopping at :math:`\eta_{\min}`;
* :class:`LinearLR` -- a linear ramp of the factor from ``start_factor`` to
  ``end_factor`` over ``total_iters`` steps (a *warm-up* when the start is small);
* :class:`SequentialLR` -- one schedule after another, switching at milestones
  (for example a warm-up, then cosine decay).

Like PyTorch, the first scheduler records the optimizer's starting rate as
``optimizer.initial_lr``; later schedulers on the same optimizer start from it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from dlbasics.optim import Optimizer, attribute_repr
from dlbasics.validation import check_int, check_positive

__all__ = ["CosineAnnealingLR", "LRScheduler", "LinearLR", "SequentialLR", "StepLR"]


def _check_optimizer(optimizer: object) -> Optimizer:
    if not isinstance(optimizer, Optimizer):
        hint = ""
        if type(optimizer).__module__.startswith("torch"):
            hint = " (for a torch.optim optimizer use torch.optim.lr_scheduler)"
        raise TypeError(
            "optimizer must be a dlbasics optimizer (SGD, RMSprop, Adam), "
            f"got {type(optimizer).__name__}{hint}"
        )
    return optimizer


def _check_factor(value: float, name: str, *, allow_zero: bool) -> float:
    value = check_positive(value, name, allow_zero=allow_zero)
    if value > 1:
        low = "0 <=" if allow_zero else "0 <"
        raise ValueError(f"{name} must satisfy {low} {name} <= 1, got {value!r}")
    return value


class LRScheduler:
    """Base class: sets ``optimizer.lr`` on every :meth:`step`.

    Parameters
    ----------
    optimizer : Optimizer
        A :mod:`dlbasics.optim` optimizer; its ``lr`` is overwritten.

    Attributes
    ----------
    base_lr : float
        The starting rate :math:`\\eta_0` (``optimizer.initial_lr``).
    last_epoch : int
        The number of :meth:`step` calls so far (0 right after construction).
    """

    __repr__ = attribute_repr

    def __init__(self, optimizer: Optimizer) -> None:
        self.optimizer = _check_optimizer(optimizer)
        if not hasattr(optimizer, "initial_lr"):
            optimizer.initial_lr = optimizer.lr
        self.base_lr: float = optimizer.initial_lr
        self.last_epoch = -1
        self._initial_step()

    def _initial_step(self) -> None:
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def step(self) -> None:
        """Advance the schedule by one step and set the optimizer's rate."""
        self.last_epoch += 1
        self._set(self._next_lr())

    def get_last_lr(self) -> list[float]:
        """The rate set by the last :meth:`step`, as a one-element list like PyTorch's."""
        return [self._last_lr]

    @property
    def last_lr(self) -> float:
        """The rate set by the last :meth:`step` (a float)."""
        return self._last_lr

    def _set(self, lr: float) -> None:
        self.optimizer.lr = lr
        self._last_lr = lr

    def _restart(self) -> None:
        """Jump to step 0 of this schedule (used by :class:`SequentialLR` at a milestone)."""
        self.last_epoch = 0
        self._set(self._closed_form_lr())

    @property
    def _lr(self) -> float:
        return self.optimizer.lr

    def _next_lr(self) -> float:
        raise NotImplementedError

    def _closed_form_lr(self) -> float:
        raise NotImplementedError


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` steps.

    Parameters
    ----------
    optimizer : Optimizer
    step_size : int
        Steps between two decays (>= 1).
    gamma : float, default 0.1
        The factor applied at each decay (> 0).

    Examples
    --------
    >>> opt = SGD(0.1)                          # doctest: +SKIP
    >>> sched = StepLR(opt, step_size=30)       # 0.1 for 30 steps, then 0.01, ...  # doctest: +SKIP
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        self.step_size = check_int(step_size, "step_size", minimum=1)
        self.gamma = check_positive(gamma, "gamma")
        super().__init__(optimizer)

    def _next_lr(self) -> float:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._lr
        return self._lr * self.gamma

    def _closed_form_lr(self) -> float:
        return self.base_lr * self.gamma ** (self.last_epoch // self.step_size)


class CosineAnnealingLR(LRScheduler):
    r"""Follow half a cosine from the starting rate down to ``eta_min`` over ``T_max`` steps.

    :math:`\eta_t = \eta_{\min} + \tfrac12(\eta_0 - \eta_{\min})(1 + \cos(\pi t/T_{\max}))`,
    computed as PyTorch does, by the recursion
    :math:`\eta_t - \eta_{\min} = (\eta_{t-1} - \eta_{\min})\,
    \frac{1 + \cos(\pi t/T_{\max})}{1 + \cos(\pi (t-1)/T_{\max})}`. Past ``T_max``
    the rate rises again along the same cosine (period :math:`2T_{\max}`); stop
    stepping, or switch schedules, if you want it to stay at ``eta_min``.

    Parameters
    ----------
    optimizer : Optimizer
    T_max : int
        Steps from the starting rate to ``eta_min`` (>= 1).
    eta_min : float, default 0.0
        The lowest rate (>= 0).
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:  # noqa: N803
        self.T_max = check_int(T_max, "T_max", minimum=1)
        self.eta_min = check_positive(eta_min, "eta_min", allow_zero=True)
        super().__init__(optimizer)

    def _next_lr(self) -> float:
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._lr
        if (t - 1 - T) % (2 * T) == 0:  # leaving the minimum: the ratio below would be 0/0
            return self._lr + (self.base_lr - eta_min) * (1 - math.cos(math.pi / T)) / 2
        return (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T)) * (
            self._lr - eta_min
        ) + eta_min

    def _closed_form_lr(self) -> float:
        return self.eta_min + (self.base_lr - self.eta_min) * (
            1 + math.cos(math.pi * self.last_epoch / self.T_max)
        ) / 2


class LinearLR(LRScheduler):
    r"""Scale the rate by a factor that moves linearly from ``start_factor`` to ``end_factor``.

    After ``t`` steps the rate is
    :math:`\eta_0\,(f_s + (f_e - f_s)\min(t, T)/T)` with :math:`T` = ``total_iters``;
    it then stays at :math:`\eta_0 f_e`. With a small ``start_factor`` and
    ``end_factor=1`` this is a linear *warm-up*.

    Parameters
    ----------
    optimizer : Optimizer
    start_factor : float, default 1/3
        The factor at step 0, in (0, 1].
    end_factor : float, default 1.0
        The factor from step ``total_iters`` on, in [0, 1].
    total_iters : int, default 5
        Steps over which the factor changes (>= 1).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
    ) -> None:
        self.start_factor = _check_factor(start_factor, "start_factor", allow_zero=False)
        self.end_factor = _check_factor(end_factor, "end_factor", allow_zero=True)
        self.total_iters = check_int(total_iters, "total_iters", minimum=1)
        super().__init__(optimizer)

    def _next_lr(self) -> float:
        t, fs, fe = self.last_epoch, self.start_factor, self.end_factor
        if t == 0:
            return self._lr * fs
        if t > self.total_iters:
            return self._lr
        return self._lr * (1.0 + (fe - fs) / (self.total_iters * fs + (t - 1) * (fe - fs)))

    def _closed_form_lr(self) -> float:
        fs, fe, n = self.start_factor, self.end_factor, self.total_iters
        return self.base_lr * (fs + (fe - fs) * min(n, self.last_epoch) / n)


class SequentialLR:
    """Run schedulers one after another, switching at the given milestones.

    ``schedulers[i]`` drives the rate from step ``milestones[i-1]`` (0 for the
    first) until ``milestones[i]``; each later schedule restarts at its own step 0
    (computed from the base rate) at its milestone, as in
    :class:`torch.optim.lr_scheduler.SequentialLR`.

    Parameters
    ----------
    optimizer : Optimizer
        The optimizer every scheduler in ``schedulers`` was built on.
    schedulers : sequence of LRScheduler
        At least one; :class:`SequentialLR` itself cannot be nested.
    milestones : sequence of int
        ``len(schedulers) - 1`` strictly increasing step counts >= 1.

    Examples
    --------
    A 5-step linear warm-up, then cosine decay over 45 steps:

    >>> opt = SGD(0.1)                                               # doctest: +SKIP
    >>> warmup = LinearLR(opt, start_factor=0.1, total_iters=5)      # doctest: +SKIP
    >>> cosine = CosineAnnealingLR(opt, T_max=45)                    # doctest: +SKIP
    >>> sched = SequentialLR(opt, [warmup, cosine], milestones=[5])  # doctest: +SKIP
    """

    def __init__(
        self,
        optimizer: Optimizer,
        schedulers: Sequence[LRScheduler],
        milestones: Sequence[int],
    ) -> None:
        self.optimizer = _check_optimizer(optimizer)
        schedulers = list(schedulers)
        milestones = list(milestones)
        if not schedulers:
            raise ValueError("SequentialLR needs at least one scheduler, got none")
        for i, s in enumerate(schedulers):
            if not isinstance(s, LRScheduler):
                raise TypeError(
                    f"schedulers[{i}] must be a StepLR, CosineAnnealingLR or LinearLR, "
                    f"got {type(s).__name__}"
                )
            if s.optimizer is not optimizer:
                raise ValueError(
                    f"schedulers[{i}] ({type(s).__name__}) drives a different optimizer; "
                    "build every scheduler on the optimizer passed to SequentialLR"
                )
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"got {len(schedulers)} schedulers and {len(milestones)} milestones; "
                "expected one milestone fewer than schedulers"
            )
        milestones = [check_int(m, f"milestones[{i}]", minimum=1) for i, m in enumerate(milestones)]
        if any(b <= a for a, b in zip(milestones, milestones[1:])):
            raise ValueError(f"milestones must be strictly increasing, got {milestones}")
        self._schedulers = schedulers
        self.milestones = milestones
        self.last_epoch = 0
        # Start again from the base rate, undo the step every scheduler took when it was
        # built, and let only the first one take its step 0 (as PyTorch does).
        optimizer.lr = optimizer.initial_lr
        for s in schedulers:
            s.last_epoch -= 1
        schedulers[0]._initial_step()
        self._last_lr = schedulers[0].last_lr

    @property
    def schedulers(self) -> list[LRScheduler]:
        """The schedulers, in order."""
        return list(self._schedulers)

    def step(self) -> None:
        """Advance by one step: the scheduler whose span contains the new step sets the rate."""
        self.last_epoch += 1
        idx = sum(m <= self.last_epoch for m in self.milestones)
        scheduler = self._schedulers[idx]
        if idx > 0 and self.milestones[idx - 1] == self.last_epoch:
            scheduler._restart()
        else:
            scheduler.step()
        self._last_lr = scheduler.last_lr

    def get_last_lr(self) -> list[float]:
        """The rate set by the last :meth:`step`, as a one-element list like PyTorch's."""
        return [self._last_lr]

    @property
    def last_lr(self) -> float:
        """The rate set by the last :meth:`step` (a float)."""
        return self._last_lr

    def __repr__(self) -> str:
        inner = ", ".join(type(s).__name__ for s in self._schedulers)
        return f"SequentialLR([{inner}], milestones={self.milestones}, last_epoch={self.last_epoch})"
