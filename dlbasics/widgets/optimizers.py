r"""Optimizers on 2-D loss surfaces: trajectories, loss curves and a learning-rate race.

A loss surface here is a function of two parameters :math:`(x, y)` with a
known gradient, small enough to draw as a contour map. Chapter 5 runs
:class:`~dlbasics.optim.SGD`, SGD with momentum, :class:`~dlbasics.optim.RMSprop`
and :class:`~dlbasics.optim.Adam` on them from the same start for the same
number of steps:

* ``"valley"`` -- an elongated quadratic bowl :math:`0.02x^2 + y^2`
  (curvatures 0.04 and 2, condition number 50), aligned with the axes;
* ``"rotated valley"`` -- the same bowl turned by 30 degrees, so no single
  coordinate points along it;
* ``"saddle"`` -- :math:`\tfrac12 x^2 + \tfrac14 y^4 - \tfrac12 y^2`: a saddle
  point at the origin between two minima at :math:`(0, \pm 1)`;
* ``"rosenbrock"`` -- :math:`(1-x)^2 + 100(y-x^2)^2`, a curved, flat-bottomed
  valley with its minimum at :math:`(1, 1)`.

:func:`optimizer_race` is the interactive explorer; :func:`plot_learning_rate_grid`
draws its static counterpart (rows: optimizers, columns: learning rates).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from dlbasics.optim import SGD, Adam, Optimizer, RMSprop
from dlbasics.plots import CLASS_COLORS
from dlbasics.validation import check_choice, check_int
from dlbasics.widgets.display import Explorer

__all__ = [
    "LOSS_SURFACES",
    "BETA1S",
    "LEARNING_RATES",
    "MOMENTA",
    "OPTIMIZER_NAMES",
    "ALPHAS",
    "STEPS",
    "LossSurface",
    "make_optimizer",
    "optimizer_path",
    "optimizer_race",
    "plot_learning_rate_grid",
    "plot_optimizer_losses",
    "plot_optimizer_paths",
]

#: Where a run counts as diverged: a coordinate beyond this size.
_DIVERGED = 1e6




@dataclass(frozen=True)
class LossSurface:
    """A 2-D loss :math:`f(x, y)` with its gradient, a start point and a view.

    Attributes
    ----------
    name : str
    formula : str
        LaTeX for titles, e.g. ``"$0.02x^2 + y^2$"``.
    f : callable
        ``f(x, y)``, elementwise on arrays of any (matching) shape.
    grad : callable
        ``grad(x, y) -> (df/dx, df/dy)``, elementwise.
    start : (float, float)
        The default starting point.
    extent : (xmin, xmax, ymin, ymax)
        The region drawn.
    minimum : float
        The smallest value of ``f``; loss curves show ``f - minimum``.
    minimizers : tuple of (float, float)
        Where ``f`` reaches ``minimum`` (drawn as stars).
    """

    name: str
    formula: str
    f: Callable[[np.ndarray, np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
    start: tuple[float, float]
    extent: tuple[float, float, float, float]
    minimum: float
    minimizers: tuple[tuple[float, float], ...]

    def __call__(self, point: np.ndarray) -> float:
        """The loss at ``point``, shape ``(2,)``."""
        return float(self.f(point[0], point[1]))

    def gradient(self, point: np.ndarray) -> np.ndarray:
        """The gradient at ``point``, shape ``(2,)``, dtype of ``point``."""
        gx, gy = self.grad(point[0], point[1])
        return np.array([gx, gy], dtype=point.dtype)


_COS, _SIN = np.cos(np.pi / 6), np.sin(np.pi / 6)


def _rotated(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates along and across the rotated valley."""
    return _COS * x + _SIN * y, -_SIN * x + _COS * y


def _rotated_grad(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    u, v = _rotated(x, y)
    du, dv = 0.04 * u, 2.0 * v  # gradient in (u, v); rotate it back
    return _COS * du - _SIN * dv, _SIN * du + _COS * dv


#: The surfaces by name.
LOSS_SURFACES: dict[str, LossSurface] = {
    "valley": LossSurface(
        name="valley",
        formula="$0.02x^2 + y^2$",
        f=lambda x, y: 0.02 * x**2 + y**2,
        grad=lambda x, y: (0.04 * x, 2.0 * y),
        start=(-9.0, 2.5),
        extent=(-10.0, 10.0, -3.5, 3.5),
        minimum=0.0,
        minimizers=((0.0, 0.0),),
    ),
    "rotated valley": LossSurface(
        name="rotated valley",
        formula="$0.02u^2 + v^2$, axes turned 30°",
        f=lambda x, y: 0.02 * _rotated(x, y)[0] ** 2 + _rotated(x, y)[1] ** 2,
        grad=_rotated_grad,
        start=(-9.0, -1.5),
        extent=(-10.0, 10.0, -6.5, 6.5),
        minimum=0.0,
        minimizers=((0.0, 0.0),),
    ),
    "saddle": LossSurface(
        name="saddle",
        formula=r"$\frac{1}{2}x^2 + \frac{1}{4}y^4 - \frac{1}{2}y^2$",
        f=lambda x, y: 0.5 * x**2 + 0.25 * y**4 - 0.5 * y**2,
        grad=lambda x, y: (x, y**3 - y),
        start=(-2.0, 1e-3),
        extent=(-2.5, 2.5, -1.8, 1.8),
        minimum=-0.25,
        minimizers=((0.0, 1.0), (0.0, -1.0)),
    ),
    "rosenbrock": LossSurface(
        name="rosenbrock",
        formula="$(1-x)^2 + 100(y-x^2)^2$",
        f=lambda x, y: (1 - x) ** 2 + 100 * (y - x**2) ** 2,
        grad=lambda x, y: (-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)),
        start=(-1.5, 2.0),
        extent=(-2.0, 2.0, -1.0, 3.0),
        minimum=0.0,
        minimizers=((1.0, 1.0),),
    ),
}

#: The optimizers the explorer offers, in legend order.
OPTIMIZER_NAMES: tuple[str, ...] = ("SGD", "SGD + momentum", "RMSprop", "Adam")


def make_optimizer(
    name: str, lr: float, momentum: float = 0.9, alpha: float | None = None,
    beta1: float | None = None,
) -> Optimizer:
    """A fresh optimizer by its name in :data:`OPTIMIZER_NAMES`.

    Parameters
    ----------
    name : {"SGD", "SGD + momentum", "RMSprop", "Adam"}
    lr : float
    momentum : float, default 0.9
        Used by ``"SGD + momentum"`` only.
    alpha : float, optional
        RMSprop's decay of the squared-gradient average (default: the
        :class:`~dlbasics.optim.RMSprop` default).
    beta1 : float, optional
        Adam's decay of the gradient average (default: the
        :class:`~dlbasics.optim.Adam` default).

    Returns
    -------
    dlbasics.optim.Optimizer
        Every other hyperparameter at the :mod:`dlbasics.optim` default.
    """
    check_choice(name, "optimizer", OPTIMIZER_NAMES)
    if name == "SGD":
        return SGD(lr)
    if name == "SGD + momentum":
        return SGD(lr, momentum=momentum)
    if name == "RMSprop":
        return RMSprop(lr) if alpha is None else RMSprop(lr, alpha=alpha)
    return Adam(lr) if beta1 is None else Adam(lr, betas=(beta1, 0.999))


def _surface(surface: LossSurface | str) -> LossSurface:
    if isinstance(surface, LossSurface):
        return surface
    return LOSS_SURFACES[check_choice(surface, "loss surface", tuple(LOSS_SURFACES))]


def _axes(ax: Axes | None) -> Axes:
    """``ax``, or the axes of a new 5 x 4 inch figure (not registered with pyplot)."""
    return Figure(figsize=(5, 4)).add_subplot() if ax is None else ax


def optimizer_path(
    surface: LossSurface | str,
    optimizer: Optimizer,
    steps: int,
    start: Sequence[float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Run ``optimizer`` on a 2-D loss surface and record where it goes.

    Parameters
    ----------
    surface : LossSurface or str
        A surface or its name in :data:`LOSS_SURFACES`.
    optimizer : dlbasics.optim.Optimizer
        A fresh optimizer (its state is used and changed); any object with an
        ``update(params, grads)`` method that changes ``params`` in place works.
    steps : int
        The number of updates.
    start : (float, float), optional
        Defaults to ``surface.start``.

    Returns
    -------
    path : numpy.ndarray, shape (k + 1, 2)
        The parameters before the first update and after each of the ``k``
        updates; ``k == steps`` unless the run diverged (a coordinate grew past
        1e6 or became non-finite), in which case it stops there.
    losses : numpy.ndarray, shape (k + 1,)
        ``f`` at each point of ``path``.
    """
    surface = _surface(surface)
    steps = check_int(steps, "steps", minimum=0)
    if not callable(getattr(optimizer, "update", None)):
        raise TypeError(
            f"optimizer must have an update(params, grads) method like dlbasics.SGD, got {optimizer!r}"
        )
    point = np.array(surface.start if start is None else start, dtype=np.float64)
    if point.shape != (2,):
        raise ValueError(f"start must be a pair (x, y), got {start!r}")
    path, losses = [point.copy()], [surface(point)]
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            grad = surface.gradient(point)
            if not np.isfinite(grad).all():
                break
            optimizer.update([point], [grad])
            if not np.isfinite(point).all() or np.abs(point).max() > _DIVERGED:
                break
            path.append(point.copy())
            losses.append(surface(point))
    return np.array(path), np.array(losses)


def _levels(surface: LossSurface, z: np.ndarray) -> np.ndarray:
    """Contour levels spaced evenly in log(f - minimum)."""
    gap = z - surface.minimum
    top = np.percentile(gap, 90)
    return surface.minimum + np.geomspace(max(top * 1e-4, 1e-6), top, 14)


def plot_optimizer_paths(
    surface: LossSurface | str,
    paths: Mapping[str, np.ndarray],
    ax: Axes | None = None,
    title: str | None = None,
    legend: bool = True,
) -> Axes:
    """Contour map of ``surface`` with one trajectory per optimizer.

    Parameters
    ----------
    surface : LossSurface or str
    paths : dict of str to numpy.ndarray, shape (k + 1, 2)
        Label -> trajectory (e.g. from :func:`optimizer_path`). Colours follow
        the position in :data:`OPTIMIZER_NAMES` when the label is one of them.
        A path that runs far out of view (more than the view's size beyond its
        edge) is drawn only up to that point.
    ax : matplotlib.axes.Axes, optional
    title : str, optional
        Defaults to the surface's formula.
    legend : bool, default True

    Returns
    -------
    matplotlib.axes.Axes
    """
    surface, ax = _surface(surface), _axes(ax)
    x0, x1, y0, y1 = surface.extent
    gx, gy = np.meshgrid(np.linspace(x0, x1, 120), np.linspace(y0, y1, 120))
    z = surface.f(gx, gy)
    ax.contour(gx, gy, z, levels=_levels(surface, z), colors="0.6", linewidths=0.6)
    for i, (label, path) in enumerate(paths.items()):
        color = _color(label, i)
        path = _visible_part(np.asarray(path), surface.extent)
        ax.plot(path[:, 0], path[:, 1], "-", color=color, lw=1.6, label=label)
        ax.plot(path[:, 0], path[:, 1], "o", color=color, ms=2.2)
        ax.plot(*path[-1], "o", color=color, ms=6, mec="black", mew=0.6)
    ax.plot(*surface.start, "s", color="black", ms=5, label="start")
    for mx, my in surface.minimizers:
        ax.plot(mx, my, "*", color="black", ms=11, mfc="white")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("$x$")
    ax.set_ylabel("$y$")
    ax.set_title(surface.formula if title is None else title)
    if legend:
        ax.legend(fontsize=8, loc="best", framealpha=0.85)
    return ax


def _visible_part(path: np.ndarray, extent: tuple[float, float, float, float]) -> np.ndarray:
    """``path`` up to and including its first point far outside the view (a run escaping)."""
    x0, x1, y0, y1 = extent
    wx, wy = x1 - x0, y1 - y0
    outside = ((path[:, 0] < x0 - wx) | (path[:, 0] > x1 + wx)
               | (path[:, 1] < y0 - wy) | (path[:, 1] > y1 + wy))
    if outside.any():
        return path[: int(np.argmax(outside)) + 1]
    return path


def plot_optimizer_losses(
    surface: LossSurface | str,
    losses: Mapping[str, np.ndarray],
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Loss above the minimum, :math:`f - f^*`, against the step, on a log scale.

    Runs that diverged end early and are marked with a cross.

    Parameters
    ----------
    surface : LossSurface or str
    losses : dict of str to numpy.ndarray
        Label -> losses (e.g. from :func:`optimizer_path`).
    ax : matplotlib.axes.Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    surface, ax = _surface(surface), _axes(ax)
    floor = 1e-12
    for i, (label, values) in enumerate(losses.items()):
        gap = np.maximum(np.asarray(values, dtype=float) - surface.minimum, floor)
        ax.plot(np.arange(len(gap)), gap, color=_color(label, i), lw=1.8, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(r"$f(x, y) - f^\ast$")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    if title:
        ax.set_title(title)
    return ax


def _color(label: str, i: int) -> str:
    if label in OPTIMIZER_NAMES:
        i = OPTIMIZER_NAMES.index(label)
    return CLASS_COLORS[i % len(CLASS_COLORS)]


def plot_learning_rate_grid(
    surface: LossSurface | str,
    lrs: Sequence[float],
    optimizers: Sequence[str] = OPTIMIZER_NAMES,
    steps: int = 60,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Small multiples: one row per optimizer, one column per learning rate.

    Each panel shows the trajectory on the contour map and, in its title, the
    final loss above the minimum (or "diverged").

    Parameters
    ----------
    surface : LossSurface or str
    lrs : sequence of float
    optimizers : sequence of str, default all of :data:`OPTIMIZER_NAMES`
    steps : int, default 60
    figsize : (float, float), optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    surface = _surface(surface)
    if not len(lrs) or not len(optimizers):
        raise ValueError("lrs and optimizers must each hold at least one value")
    rows, cols = len(optimizers), len(lrs)
    fig = Figure(figsize=figsize or (3.1 * cols, 2.3 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
    for r, name in enumerate(optimizers):
        for c, lr in enumerate(lrs):
            path, losses = optimizer_path(surface, make_optimizer(name, lr), steps)
            ax = axes[r, c]
            plot_optimizer_paths(surface, {name: path}, ax=ax, legend=False, title="")
            verdict = "diverged" if len(path) < steps + 1 else f"$f-f^*$ = {losses[-1] - surface.minimum:.2g}"
            ax.set_title(f"{name}, η = {lr:g}\n{verdict}", fontsize=9)
            ax.set_xlabel("$x$" if r == rows - 1 else "")
            ax.set_ylabel("$y$" if c == 0 else "")
    fig.suptitle(f"{steps} steps on {surface.formula}", fontsize=11)
    return fig


#: The race's grid (every combination is precomputed for the static page). On the valley,
#: whose steepest curvature is 2, plain SGD is stable below η = 1, oscillates near it and
#: diverges above it; the Rosenbrock valley needs the small rates.
LEARNING_RATES = (0.001, 0.01, 0.1, 0.9, 1.1)
#: Step counts the race offers: one, so no control is shown (each value would double the
#: figures the static page embeds); the loss curve shows the early phase as well.
STEPS = (150,)
#: SGD momentum values the race offers: the usual one and a long memory (effective windows of
#: 10 and 100 steps); each value adds a figure per surface and learning rate to the page.
MOMENTA = (0.9, 0.99)
#: RMSprop decay rates ρ the race offers.
ALPHAS = (0.9, 0.99)
#: Adam β₁ values the race offers (0: no average of the gradient).
BETA1S = (0.0, 0.9)

_RACE_SIZE = (9.6, 3.7)
_PATH_AXES = (0.07, 0.14, 0.46, 0.74)
_LOSS_AXES = (0.62, 0.14, 0.36, 0.74)
_LOSS_FLOOR = 1e-12


def _race_axes(surface: LossSurface, steps: int) -> tuple[Figure, Axes, Axes]:
    fig = Figure(figsize=_RACE_SIZE)
    ax_path, ax_loss = fig.add_axes(_PATH_AXES), fig.add_axes(_LOSS_AXES)
    x0, x1, y0, y1 = surface.extent
    ax_path.set_xlim(x0, x1)
    ax_path.set_ylim(y0, y1)
    ax_loss.set_yscale("log")
    top = 10 * (surface(np.array(surface.start)) - surface.minimum)
    ax_loss.set_ylim(_LOSS_FLOOR, max(top, 1.0))
    ax_loss.set_xlim(0, steps)
    return fig, ax_path, ax_loss


def _draw_race_background(surface: str, steps: int) -> Figure:
    """Contours, start, minima, axes and legend: everything that no optimizer setting changes."""
    surf = _surface(surface)
    fig, ax_path, ax_loss = _race_axes(surf, steps)
    plot_optimizer_paths(surf, {}, ax=ax_path, legend=False)
    ax_path.set_xlim(*surf.extent[:2])
    ax_path.set_ylim(*surf.extent[2:])
    for i, name in enumerate(OPTIMIZER_NAMES):
        ax_loss.plot([], [], color=_color(name, i), lw=1.8, label=name)
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel(r"$f(x, y) - f^\ast$")
    ax_loss.yaxis.set_minor_locator(NullLocator())
    ax_loss.grid(alpha=0.3)
    ax_loss.legend(fontsize=8, frameon=False, loc="lower left")
    ax_loss.set_title("loss above the minimum (crossed out: diverged)", fontsize=9)
    return fig


def _draw_race_run(name: str, surface: str, lr: float, steps: int,
                   **hyper: float) -> Figure:
    """One optimizer's path and loss curve, transparent, to lie over the background."""
    surf = _surface(surface)
    fig, ax_path, ax_loss = _race_axes(surf, steps)
    path, losses = optimizer_path(surf, make_optimizer(name, lr, **hyper), steps)
    color = _color(name, 0)
    shown = _visible_part(path, surf.extent)
    ax_path.plot(shown[:, 0], shown[:, 1], "-o", color=color, lw=1.6, ms=2.2)
    ax_path.plot(*shown[-1], "o", color=color, ms=6, mec="black", mew=0.6)
    gap = np.maximum(losses - surf.minimum, _LOSS_FLOOR)
    ax_loss.plot(np.arange(len(gap)), gap, color=color, lw=1.8)
    if len(path) < steps + 1:
        ax_loss.plot(len(gap) - 1, min(gap[-1], ax_loss.get_ylim()[1]), "x", color=color,
                     ms=10, mew=2.5)
    for ax in (ax_path, ax_loss):
        ax.set_axis_off()
    return fig


def optimizer_race(
    surface: str = "valley",
    lr: float = 0.1,
    steps: int = 150,
    momentum: float = 0.9,
    alpha: float = 0.9,
    beta1: float = 0.9,
    *,
    lrs: Sequence[float] = LEARNING_RATES,
    step_counts: Sequence[int] = STEPS,
    momenta: Sequence[float] = MOMENTA,
    alphas: Sequence[float] = ALPHAS,
    beta1s: Sequence[float] = BETA1S,
    precompute: bool = True,
) -> Explorer:
    """Explorer: race the four optimizers on a 2-D loss surface at one shared learning rate.

    Controls: the surface, the learning rate, the number of steps, SGD's
    momentum, RMSprop's ρ and Adam's β₁. Left: the
    trajectories on the contour map; right: :math:`f - f^*` per step. Each
    optimizer is its own layer, so a control that only one optimizer reads
    costs only that optimizer's figures.

    Parameters
    ----------
    surface : str, default "valley"
        A name in :data:`LOSS_SURFACES`.
    lr, steps, momentum, alpha, beta1
        Selected at the start; each one of its grid's values.
    lrs, step_counts, momenta, alphas, beta1s : sequence
        The values the controls offer (defaults :data:`LEARNING_RATES`,
        :data:`STEPS`, :data:`MOMENTA`, :data:`ALPHAS`, :data:`BETA1S`).
    precompute : bool, default True
        See :func:`dlbasics.widgets.display.explorer`; in a live kernel
        ``box.show(lr=0.37)`` races at any other setting.

    Returns
    -------
    Explorer
    """
    from dlbasics.widgets.display import Control, Layer, explorer

    _surface(surface)
    controls = [
        Control("surface", tuple(LOSS_SURFACES), surface, "surface", kind="dropdown", width="240px"),
        Control("lr", tuple(lrs), lr, "learning rate η"),
        Control("steps", tuple(step_counts), steps, "steps", width="240px"),
        Control("momentum", tuple(momenta), momentum, "SGD momentum"),
        Control("alpha", tuple(alphas), alpha, "RMSprop α"),
        Control("beta1", tuple(beta1s), beta1, "Adam β₁"),
    ]
    base = ("surface", "lr", "steps")
    layers = [
        Layer(_draw_race_background, ("surface", "steps")),
        Layer(lambda **v: _draw_race_run("SGD", **v), base, transparent=True),
        Layer(lambda **v: _draw_race_run("SGD + momentum", **v), (*base, "momentum"),
              transparent=True),
        Layer(lambda **v: _draw_race_run("RMSprop", **v), (*base, "alpha"), transparent=True),
        Layer(lambda **v: _draw_race_run("Adam", **v), (*base, "beta1"), transparent=True),
    ]
    return explorer(controls, layers, precompute=precompute,
                    rows=[["surface", "steps"], ["lr"], ["momentum", "alpha", "beta1"]])
