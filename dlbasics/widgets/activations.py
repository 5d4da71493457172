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

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from dlbasics.activations import get_activation
from dlbasics.plots import CLASS_COLORS
from dlbasics.validation import as_float_array, check_positive

__all__ = [
    "EXPLORER_ACTIVATIONS",
    "activation_explorer",
    "composed_derivative",
    "plot_activation_panels",
    "plot_depth_sweep",
]

#: The activations the explorer offers, in the order chapter 3 introduces them.
EXPLORER_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu")

# Where |g_d'| is exactly 0 (ReLU for x <= 0) a log axis has no place for it:
# such points, and any smaller than the floor, are drawn on it; the panels say so.
_FLOOR = 1e-30


def _check_name(activation: str) -> str:
    if activation not in EXPLORER_ACTIVATIONS:
        valid = ", ".join(repr(a) for a in EXPLORER_ACTIVATIONS)
        raise ValueError(f"unknown activation {activation!r}; expected one of {valid}")
    return activation


def _check_depth(depth: int) -> int:
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise ValueError(f"depth must be a positive int, got {depth!r}")
    return int(depth)


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
    activation: str, x: np.ndarray, depth: int, alpha: float = 0.01
) -> np.ndarray:
    r"""Derivative of the activation composed with itself ``depth`` times.

    :math:`g_d'(x) = \prod_{k=1}^{d} f'(z_k)` with :math:`z_1 = x` and
    :math:`z_{k+1} = f(z_k)`: the gradient factor a chain of ``depth`` layers
    with unit weights and zero biases applies on the way back.

    Parameters
    ----------
    activation : {"sigmoid", "tanh", "relu", "leaky_relu"}
    x : array_like, any shape
        Inputs of the first layer.
    depth : int
        Number of layers, at least 1 (``depth=1`` gives :math:`f'(x)`).
    alpha : float, default 0.01
        Leaky ReLU slope for negative inputs (ignored by the others).

    Returns
    -------
    numpy.ndarray, same shape as ``x`` (float64)
    """
    depth = _check_depth(depth)
    f, f_prime = _functions(activation, _check_alpha(alpha))
    z = as_float_array(x, "x").astype(np.float64)
    grad = np.ones_like(z)
    for _ in range(depth):
        grad = grad * f_prime(z)
        z = f(z)
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


def _png(fig: Figure, dpi: int = 80) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def activation_explorer(
    activation: str = "sigmoid",
    alpha: float = 0.1,
    x_range: tuple[float, float] = (-5.0, 5.0),
    depth: int = 5,
) -> Any:
    """Controls for the activation, the leaky slope, the input range and the depth.

    Moving a control redraws
    :func:`~dlbasics.widgets.activations.plot_activation_panels` and updates a
    read-out of the largest derivative and the largest product over the range.

    Parameters
    ----------
    activation : {"sigmoid", "tanh", "relu", "leaky_relu"}
    alpha : float, default 0.1
        Initial leaky ReLU slope, in ``[0, 0.5]``.
    x_range : (float, float), default (-5, 5)
        Initial input range, inside ``[-10, 10]``.
    depth : int, default 5
        Initial depth, in ``[1, 30]``.

    Returns
    -------
    ipywidgets.VBox
        Children: the controls, an ``HTML`` read-out and an ``Output`` with the plot.
        The controls are also reachable as ``box.controls`` (a dict by name).
    """
    import ipywidgets as widgets
    from IPython.display import Image

    _check_name(activation)
    alpha = _check_alpha(alpha)
    if alpha > 0.5:
        raise ValueError(f"alpha must be in [0, 0.5] for the explorer, got {alpha!r}")
    depth = _check_depth(depth)
    if depth > 30:
        raise ValueError(f"depth must be in [1, 30] for the explorer, got {depth!r}")
    lo, hi = (float(v) for v in x_range)
    if not -10.0 <= lo < hi <= 10.0:
        raise ValueError(f"x_range must be (lo, hi) with -10 <= lo < hi <= 10, got {x_range!r}")

    style = {"description_width": "70px"}
    layout = widgets.Layout(width="320px")
    act = widgets.Dropdown(options=list(EXPLORER_ACTIVATIONS), value=activation,
                           description="activation", style=style, layout=layout)
    alpha_s = widgets.FloatSlider(value=alpha, min=0.0, max=0.5, step=0.01, description="leaky α",
                                  continuous_update=False, style=style, layout=layout,
                                  disabled=activation != "leaky_relu")
    range_s = widgets.FloatRangeSlider(value=(lo, hi), min=-10.0, max=10.0, step=0.5,
                                       description="x range", continuous_update=False,
                                       style=style, layout=layout)
    depth_s = widgets.IntSlider(value=depth, min=1, max=30, description="depth",
                                continuous_update=False, style=style, layout=layout)
    readout = widgets.HTML()
    out = widgets.Output()

    def update(_change: Any = None) -> None:
        alpha_s.disabled = act.value != "leaky_relu"
        r_lo, r_hi = range_s.value
        if not r_lo < r_hi:  # a range slider may collapse to one point
            r_hi = r_lo + 0.5
        x = np.linspace(r_lo, r_hi, 801)
        _, f_prime = _functions(act.value, alpha_s.value)
        g = np.abs(composed_derivative(act.value, x, depth_s.value, alpha_s.value))
        readout.value = (
            f"largest f'(x) on [{r_lo:g}, {r_hi:g}]: <b>{float(np.max(f_prime(x))):.4g}</b>"
            f" &nbsp; largest product of {depth_s.value} derivatives: <b>{float(g.max()):.3g}</b>"
        )
        fig = Figure(figsize=(11, 3.2))
        plot_activation_panels(act.value, alpha_s.value, (r_lo, r_hi), depth_s.value,
                               axes=fig.subplots(1, 3))
        fig.tight_layout()
        out.outputs = ()
        out.append_display_data(Image(data=_png(fig), format="png"))

    for control in (act, alpha_s, range_s, depth_s):
        control.observe(update, names="value")
    update()
    controls = widgets.HBox([widgets.VBox([act, alpha_s]), widgets.VBox([range_s, depth_s])])
    box = widgets.VBox([controls, readout, out])
    box.controls = {"activation": act, "alpha": alpha_s, "x_range": range_s, "depth": depth_s}
    return box
