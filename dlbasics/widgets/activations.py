r"""Activation functions, their derivatives, and what depth does to them (chapter 3).

Backpropagation multiplies one derivative :math:`f'(z)` per layer. The simplest
chain that shows what this does is the activation composed with itself,
:math:`g_d = f \circ f \circ \dots \circ f` (``depth`` times, every weight 1,
every bias 0), whose derivative by the chain rule is

.. math::

    g_d'(x) = \prod_{k=1}^{d} f'(z_k), \qquad z_1 = x,\; z_{k+1} = f(z_k).

:func:`composed_derivative` computes it, :func:`plot_activation_panels` draws
:math:`f`, :math:`f'` and :math:`|g_d'|` side by side,
:func:`plot_depth_sweep` draws :math:`|g_d'|` for several depths (the static
figure) and :func:`activation_explorer` puts controls in front of the panels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator, NullLocator

from dlbasics.activations import get_activation
from dlbasics.plots import CLASS_COLORS
from dlbasics.validation import as_float_array, check_choice, check_int, check_positive
from dlbasics.widgets.display import Explorer

__all__ = [
    "DEPTH_GRID",
    "EXPLORER_ACTIVATIONS",
    "activation_explorer",
    "composed_derivative",
    "plot_activation_panels",
    "plot_depth_sweep",
    "WEIGHT_GRID",
]

#: The activations the explorer offers, in the order chapter 3 introduces them.
EXPLORER_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu")

# Where |g_d'| is exactly 0 (ReLU for x <= 0) a log axis has no place for it:
# such points, and any smaller than the floor, are drawn on it; the panels say so.
_FLOOR = 1e-30


def _check_name(activation: str) -> str:
    return check_choice(activation, "activation", EXPLORER_ACTIVATIONS)


def _check_depth(depth: int) -> int:
    return check_int(depth, "depth", minimum=1)


def _check_alpha(alpha: float) -> float:
    alpha = check_positive(alpha, "alpha", allow_zero=True)
    if alpha >= 1:
        raise ValueError(f"alpha (the leaky ReLU slope for x < 0) must be in [0, 1), got {alpha!r}")
    return alpha


def _functions(activation: str, alpha: float) -> tuple[Any, Any]:
    f, f_prime = get_activation(_check_name(activation))
    if activation == "leaky_relu":
        return (lambda z: f(z, alpha)), (lambda z: f_prime(z, alpha))
    return f, f_prime


def composed_derivative(
    activation: str, x: np.ndarray, depth: int, alpha: float = 0.01, weight: float = 1.0
) -> np.ndarray:
    r"""Derivative of a chain of ``depth`` one-unit layers with weight ``w`` and no bias.

    :math:`g_d'(x) = \prod_{k=1}^{d} w\,f'(z_k)` with :math:`z_1 = w x` and
    :math:`z_{k+1} = w f(z_k)`: the gradient factor such a chain applies on the
    way back. With ``weight=1`` it is the activation composed with itself.

    Parameters
    ----------
    activation : {"sigmoid", "tanh", "relu", "leaky_relu"}
    x : array_like, any shape
        Inputs of the first layer.
    depth : int
        Number of layers, at least 1 (``depth=1`` gives :math:`f'(x)`).
    alpha : float, default 0.01
        Leaky ReLU slope for negative inputs (ignored by the others).
    weight : float, default 1.0
        The weight :math:`w` of every layer.

    Returns
    -------
    numpy.ndarray, same shape as ``x`` (float64)
    """
    depth = _check_depth(depth)
    f, f_prime = _functions(activation, _check_alpha(alpha))
    w = float(weight)
    if not np.isfinite(w):
        raise ValueError(f"weight must be a finite number, got {weight!r}")
    z = w * as_float_array(x, "x").astype(np.float64)
    grad = np.ones_like(z)
    for _ in range(depth):
        grad = grad * (w * f_prime(z))
        z = w * f(z)
    return grad


def plot_activation_panels(
    activation: str = "sigmoid",
    alpha: float = 0.1,
    x_range: tuple[float, float] = (-5.0, 5.0),
    depth: int = 5,
    axes: Sequence[Axes] | None = None,
) -> Sequence[Axes]:
    r"""Three panels: :math:`f(x)`, :math:`f'(x)` and :math:`|g_d'(x)|` on a log axis.

    Parameters
    ----------
    activation : {"sigmoid", "tanh", "relu", "leaky_relu"}
    alpha : float, default 0.1
        Leaky ReLU slope for ``x < 0``, in ``[0, 1)``.
    x_range : (float, float)
        The interval of ``x`` to draw, ``lo < hi``.
    depth : int, default 5
        Layers in the chain of the third panel.
    axes : three matplotlib.axes.Axes, optional
        Drawn on a new figure when None.

    Returns
    -------
    list of three matplotlib.axes.Axes
    """
    lo, hi = (float(v) for v in x_range)
    if not lo < hi:
        raise ValueError(f"x_range must be (lo, hi) with lo < hi, got {x_range!r}")
    depth = _check_depth(depth)
    f, f_prime = _functions(activation, _check_alpha(alpha))
    if axes is None:
        fig = Figure(figsize=(11, 3.2))
        axes = fig.subplots(1, 3)
    label = activation if activation != "leaky_relu" else f"leaky_relu (α={alpha:g})"
    x = np.linspace(lo, hi, 801)
    axes[0].plot(x, f(x), color=CLASS_COLORS[0], lw=2)
    axes[0].set_title(f"{label}: f(x)", fontsize=10)
    axes[0].set_ylabel("f(x)")
    axes[1].plot(x, f_prime(x), color=CLASS_COLORS[1], lw=2)
    axes[1].set_title("derivative f'(x)", fontsize=10)
    axes[1].set_ylabel("f'(x)")
    g = np.maximum(np.abs(composed_derivative(activation, x, depth, alpha)), _FLOOR)
    axes[2].set_yscale("log")
    axes[2].set_ylim(_FLOOR / 3, 10)  # before plotting: a constant curve cannot autoscale a log axis
    axes[2].plot(x, g, color=CLASS_COLORS[2], lw=2)
    axes[2].set_title(f"product of {depth} derivatives (0 drawn at 1e-30)", fontsize=10)
    axes[2].set_ylabel("|d/dx f∘…∘f(x)|")
    for ax in axes:
        ax.axvline(0, color="0.6", lw=0.8)
        ax.set_xlabel("x")
        ax.set_xlim(lo, hi)
        ax.grid(alpha=0.3)
    axes[0].axhline(0, color="0.6", lw=0.8)
    axes[1].axhline(0, color="0.6", lw=0.8)
    axes[2].axhline(1, color="0.6", lw=0.8)
    return axes


def plot_depth_sweep(
    depths: Sequence[int] = (1, 3, 10, 20),
    alpha: float = 0.1,
    x_range: tuple[float, float] = (-5.0, 5.0),
    axes: Sequence[Axes] | None = None,
) -> Sequence[Axes]:
    r"""Small multiples: :math:`|g_d'(x)|` of every activation for several depths.

    Parameters
    ----------
    depths : sequence of int
        One curve per depth in each panel.
    alpha : float, default 0.1
        Leaky ReLU slope.
    x_range : (float, float)
    axes : four matplotlib.axes.Axes, optional
        One per activation of :data:`EXPLORER_ACTIVATIONS`.

    Returns
    -------
    list of four matplotlib.axes.Axes
    """
    if len(depths) == 0:
        raise ValueError("depths is empty; expected at least one depth")
    depths = [_check_depth(d) for d in depths]
    lo, hi = (float(v) for v in x_range)
    if not lo < hi:
        raise ValueError(f"x_range must be (lo, hi) with lo < hi, got {x_range!r}")
    if axes is None:
        fig = Figure(figsize=(12, 3.2))
        axes = fig.subplots(1, len(EXPLORER_ACTIVATIONS), sharey=True)
    x = np.linspace(lo, hi, 801)
    colors = colormaps["viridis"](np.linspace(0.85, 0.1, len(depths)))
    for ax, name in zip(axes, EXPLORER_ACTIVATIONS):
        ax.set_yscale("log")
        ax.set_ylim(_FLOOR / 3, 10)
        for d, color in zip(depths, colors):
            g = np.maximum(np.abs(composed_derivative(name, x, d, alpha)), _FLOOR)
            ax.plot(x, g, color=color, lw=1.8, label=f"depth {d}")
        title = name if name != "leaky_relu" else f"leaky_relu (α={alpha:g})"
        ax.set_title(title, fontsize=10)
        ax.set_xlim(lo, hi)
        ax.set_xlabel("input x of the first layer")
        ax.axhline(1, color="0.6", lw=0.8)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("|product of derivatives|\n(0 drawn at 1e-30)")
    axes[-1].legend(fontsize=8, frameon=False, loc="lower right")
    return axes


#: Depths and weights the explorer offers (each combination is precomputed for the static page).
DEPTH_GRID = (1, 2, 3, 5, 10, 20, 30)
#: The weights (every layer's) the explorer's slider offers.
WEIGHT_GRID = (0.5, 1.0, 2.0, 4.0)


def _name(activation: tuple[str, float]) -> str:
    name, alpha = activation
    return name if name != "leaky_relu" else f"leaky_relu (α={alpha:g})"


def _draw_function(activation: tuple[str, float], x_range: tuple[float, float]) -> Figure:
    name, alpha = activation
    f, f_prime = _functions(name, alpha)
    fig = Figure(figsize=(3.4, 3.0))
    ax = fig.add_axes((0.14, 0.15, 0.8, 0.75))
    x = np.linspace(*x_range, 801)
    ax.plot(x, f(x), color=CLASS_COLORS[0], lw=2, label="f(x)")
    ax.plot(x, f_prime(x), color=CLASS_COLORS[1], lw=2, ls="--", label="f'(x)")
    ax.axhline(0, color="0.6", lw=0.8)
    ax.axvline(0, color="0.6", lw=0.8)
    ax.set_xlim(*x_range)
    ax.set_xlabel("x")
    ax.set_title(_name(activation), fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    return fig


def _draw_chain(activation: tuple[str, float], weight: float, depth: int,
                x_range: tuple[float, float]) -> Figure:
    name, alpha = activation
    fig = Figure(figsize=(4.6, 3.0))
    ax = fig.add_axes((0.17, 0.15, 0.78, 0.75))
    x = np.linspace(*x_range, 801)
    g = np.maximum(np.abs(composed_derivative(name, x, depth, alpha, weight)), _FLOOR)
    ax.set_yscale("log")
    ax.set_ylim(_FLOOR / 3, 1e12)
    ax.yaxis.set_major_locator(LogLocator(numticks=8))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.plot(x, g, color=CLASS_COLORS[2], lw=2)
    ax.axhline(1, color="0.6", lw=0.8)
    ax.set_xlim(*x_range)
    ax.set_xlabel("input x of the first layer")
    ax.set_ylabel("|d output / d x| (0 drawn at 1e-30)")
    ax.set_title(f"{depth} layer{'s' if depth > 1 else ''}, every weight w = {weight:g}", fontsize=10)
    ax.grid(alpha=0.3)
    return fig


def _readout(activation: tuple[str, float], weight: float, depth: int,
             x_range: tuple[float, float]) -> str:
    name, alpha = activation
    _, f_prime = _functions(name, alpha)
    x = np.linspace(*x_range, 801)
    g = np.abs(composed_derivative(name, x, depth, alpha, weight))
    return (f"largest w·f'(z) of one layer: <b>{weight * float(np.max(f_prime(x))):.4g}</b>"
            f" &nbsp; largest product over {depth} layer{'s' if depth > 1 else ''}: "
            f"<b>{float(g.max()):.3g}</b>")


def activation_explorer(
    activation: str = "sigmoid",
    alpha: float = 0.1,
    x_range: tuple[float, float] = (-5.0, 5.0),
    depth: int = 5,
    weight: float = 1.0,
    *,
    depths: tuple[int, ...] = DEPTH_GRID,
    weights: tuple[float, ...] = WEIGHT_GRID,
    precompute: bool = True,
) -> Explorer:
    """Pick the activation, the weight of every layer and the depth; see the chain's gradient.

    Left: :math:`f` and :math:`f'`. Right: :math:`|g_d'(x)|` of
    :func:`composed_derivative` on a log axis, for a chain of ``depth`` layers
    whose weights all equal ``weight``: the product of ``depth`` factors
    :math:`w f'(z_k)` vanishes when they are below 1 and explodes above.

    Parameters
    ----------
    activation : {"sigmoid", "tanh", "relu", "leaky_relu"}
    alpha : float, default 0.1
        The leaky ReLU slope of the drop-down's second leaky option (the
        first is 0.01), in ``[0, 1)``.
    x_range : (float, float), default (-5, 5)
        Input range drawn, inside ``[-10, 10]``.
    depth : int, default 5
        Initial depth, one of ``depths``.
    weight : float, default 1.0
        Initial weight, one of ``weights``.
    depths, weights : tuple
        The values the sliders offer.
    precompute : bool, default True
        See :func:`dlbasics.widgets.display.explorer`.

    Returns
    -------
    Explorer
    """
    from dlbasics.widgets.display import Control, Layer, explorer

    _check_name(activation)
    alpha = _check_alpha(alpha)
    depth = _check_depth(depth)
    lo, hi = (float(v) for v in x_range)
    if not -10.0 <= lo < hi <= 10.0:
        raise ValueError(f"x_range must be (lo, hi) with -10 <= lo < hi <= 10, got {x_range!r}")
    options = [(name, 0.0) for name in EXPLORER_ACTIVATIONS if name != "leaky_relu"]
    options += [("leaky_relu", a) for a in dict.fromkeys((0.01, alpha))]
    first = (activation, alpha if activation == "leaky_relu" else 0.0)
    controls = [
        Control("activation", options, first, "activation", kind="dropdown",
                labels=[_name(o) for o in options]),
        Control("weight", weights, weight, "weight w"),
        Control("depth", depths, depth, "depth"),
    ]
    span = (lo, hi)
    layers = [
        Layer(lambda activation, weight, depth: _readout(activation, weight, depth, span),
              ("activation", "weight", "depth"), cell=(0, 0)),
        Layer(lambda activation: _draw_function(activation, span), ("activation",), cell=(1, 0)),
        Layer(lambda activation, weight, depth: _draw_chain(activation, weight, depth, span),
              ("activation", "weight", "depth"), cell=(1, 1)),
    ]
    return explorer(controls, layers, precompute=precompute,
                    rows=[["activation"], ["weight", "depth"]])
