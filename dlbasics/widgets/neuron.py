r"""One artificial neuron on a plane of two inputs (chapter 1).

The neuron computes :math:`z = w_1 x_1 + w_2 x_2 + b` and :math:`a = f(z)`.
Its decision line :math:`z = 0` splits the plane in two; :func:`plot_neuron`
shades the output :math:`a` over the plane, draws that line and the weight
vector (which is perpendicular to it), and scores the neuron on the four
corners of a logic gate (AND, OR, XOR) with the rule "predict 1 when z > 0".

:func:`neuron_explorer` puts sliders for :math:`w_1, w_2, b` and drop-downs
for the activation and the logic gate in front of the same picture.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from dlbasics.activations import get_activation
from dlbasics.validation import check_choice
from dlbasics.widgets.display import Explorer

__all__ = [
    "BIAS_GRID",
    "GATES",
    "NEURON_ACTIVATIONS",
    "WEIGHT_GRID",
    "gate_accuracy",
    "neuron_explorer",
    "neuron_output",
    "plot_neuron",
]

#: The four corners of the unit square, in the order (0,0), (0,1), (1,0), (1,1).
GATE_INPUTS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])

#: Truth tables of the logic gates the explorer can show, in the order of ``GATE_INPUTS``.
GATES: dict[str, np.ndarray] = {
    "AND": np.array([0, 0, 0, 1]),
    "OR": np.array([0, 1, 1, 1]),
    "NAND": np.array([1, 1, 1, 0]),
    "XOR": np.array([0, 1, 1, 0]),
}


def _step(z: np.ndarray) -> np.ndarray:
    """Heaviside step: 1 where z > 0, else 0 (the threshold unit of McCulloch, Pitts and Rosenblatt)."""
    return (z > 0).astype(z.dtype)


def _activation(name: str) -> Callable[[np.ndarray], np.ndarray]:
    if name == "step":
        return _step
    return get_activation(name)[0]


#: Activations the explorer offers: the step of the early threshold units plus the package's four.
NEURON_ACTIVATIONS = ("step", "sigmoid", "tanh", "relu", "leaky_relu")

# value range of each activation over the plotted plane, for a fixed colour scale
_RANGES = {"step": (0.0, 1.0), "sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}


def _check_activation(activation: str) -> str:
    return check_choice(activation, "activation", NEURON_ACTIVATIONS)


def _check_gate(gate: str | None) -> str | None:
    return check_choice(gate, "gate", (None, *GATES))


def neuron_output(
    X: np.ndarray, w: tuple[float, float] | np.ndarray, b: float, activation: str = "sigmoid"
) -> np.ndarray:
    """Output of one neuron, :math:`a = f(X w + b)`, for a batch of 2-D inputs.

    Parameters
    ----------
    X : numpy.ndarray, shape (n, 2)
    w : pair of float, shape (2,)
    b : float
    activation : {"step", "sigmoid", "tanh", "relu", "leaky_relu"}

    Returns
    -------
    numpy.ndarray, shape (n,)
    """
    X = np.asarray(X, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (n, 2), got {X.shape}")
    if w.shape != (2,):
        raise ValueError(f"w must hold two weights (w1, w2), got shape {w.shape}")
    return _activation(_check_activation(activation))(X @ w + float(b))


def gate_accuracy(w: tuple[float, float] | np.ndarray, b: float, gate: str) -> int:
    """How many of the gate's four rows the rule "output 1 when z > 0" gets right.

    Parameters
    ----------
    w : pair of float
    b : float
    gate : {"AND", "OR", "NAND", "XOR"}

    Returns
    -------
    int
        Between 0 and 4.
    """
    check_choice(gate, "gate", tuple(GATES))
    pred = (GATE_INPUTS @ np.asarray(w, dtype=np.float64) + float(b) > 0).astype(int)
    return int((pred == GATES[gate]).sum())


def _gate_points(ax: Axes, w1: float, w2: float, b: float, gate: str,
                 lim: tuple[float, float]) -> None:
    """The gate's four rows (filled: target 1), rings on wrong rows, and the score."""
    lo, hi = lim
    target = GATES[gate]
    pred = (GATE_INPUTS @ np.array([w1, w2]) + b > 0).astype(int)
    for (x1, x2), t, p in zip(GATE_INPUTS, target, pred):
        ax.scatter(x1, x2, s=90, marker="o", facecolor="#E69F00" if t else "white",
                   edgecolor="black", linewidth=1.2, zorder=3)
        if p != t:
            ax.scatter(x1, x2, s=300, marker="o", facecolor="none", edgecolor="crimson",
                       linewidth=2.5, zorder=4)
    correct = int((pred == target).sum())
    ax.text(lo + 0.04 * (hi - lo), hi - 0.06 * (hi - lo), f"{gate}: {correct}/4 correct",
            color="black", fontsize=9, va="top",
            bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.85})



def plot_neuron(
    w1: float,
    w2: float,
    b: float,
    activation: str = "sigmoid",
    gate: str | None = "AND",
    ax: Axes | None = None,
    lim: tuple[float, float] = (-0.75, 1.75),
    resolution: int = 121,
    colorbar: bool = False,
    title: str | None = None,
) -> Axes:
    """Shade a neuron's output over the plane, with its decision line and weight vector.

    Parameters
    ----------
    w1, w2, b : float
        Weights and bias of :math:`z = w_1 x_1 + w_2 x_2 + b`.
    activation : {"step", "sigmoid", "tanh", "relu", "leaky_relu"}
    gate : {"AND", "OR", "NAND", "XOR"} or None
        Logic gate whose four rows are drawn (filled: target 1, open: target 0;
        a crimson ring marks a row the rule "1 when z > 0" gets wrong).
    ax : matplotlib.axes.Axes, optional
        Drawn on a new figure when None.
    lim : (float, float)
        Range of both axes.
    resolution : int
        Grid points per axis.
    colorbar : bool
        Add a colour bar for the output :math:`a`.
    title : str, optional
        Defaults to the neuron's equation.

    Returns
    -------
    matplotlib.axes.Axes
    """
    _check_activation(activation)
    _check_gate(gate)
    if ax is None:
        fig = Figure(figsize=(4.2, 3.6))
        ax = fig.add_subplot()
    lo, hi = lim
    g = np.linspace(lo, hi, resolution)
    gx, gy = np.meshgrid(g, g)
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    a = neuron_output(grid, (w1, w2), b, activation).reshape(gx.shape)
    vmin, vmax = _RANGES.get(activation, (float(a.min()), float(max(a.max(), a.min() + 1e-9))))
    mesh = ax.pcolormesh(gx, gy, a, cmap="viridis", vmin=vmin, vmax=vmax, shading="auto")
    if colorbar:
        ax.figure.colorbar(mesh, ax=ax, label=f"output $a = f(z)$ ({activation})")

    # decision line z = 0: w1 x1 + w2 x2 + b = 0
    if abs(w1) > 1e-12 or abs(w2) > 1e-12:
        if abs(w2) >= abs(w1):
            xs = np.array([lo, hi])
            ys = -(w1 * xs + b) / w2
        else:
            ys = np.array([lo, hi])
            xs = -(w2 * ys + b) / w1
        ax.plot(xs, ys, color="white", lw=2, ls="--", label="$z = 0$")
        # the weight vector, drawn from the point of the line nearest the centre
        c = np.array([(lo + hi) / 2, (lo + hi) / 2])
        w = np.array([w1, w2])
        foot = c - (w @ c + b) / (w @ w) * w
        arrow = 0.45 * (hi - lo) / 2 * w / np.linalg.norm(w)
        ax.annotate("", xy=foot + arrow, xytext=foot,
                    arrowprops={"arrowstyle": "->", "color": "white", "lw": 1.8})
        ax.text(*(foot + 1.15 * arrow), "$\\mathbf{w}$", color="white", fontsize=11,
                ha="center", va="center")

    if gate is not None:
        _gate_points(ax, w1, w2, b, gate, lim)

    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(f"{activation}: $z = {w1:.1f}x_1 {w2:+.1f}x_2 {b:+.1f}$" if title is None else title,
                 fontsize=10)
    return ax


#: The explorer's grid: every combination gets a precomputed figure on the static page.
WEIGHT_GRID = (-1.0, 0.0, 1.0, 2.0)
#: The biases the explorer's slider offers.
BIAS_GRID = (-1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5)

_FIGSIZE = (4.5, 3.75)
_AXES = (0.14, 0.13, 0.6, 0.72)       # the plane, in figure coordinates
_COLORBAR = (0.80, 0.13, 0.035, 0.72)
_LIM = (-0.75, 1.75)


def _frame() -> tuple[Figure, Axes]:
    fig = Figure(figsize=_FIGSIZE)
    ax = fig.add_axes(_AXES)
    ax.set_xlim(*_LIM)
    ax.set_ylim(*_LIM)
    ax.set_aspect("equal")
    return fig, ax


def _draw_axes(activation: str) -> Figure:
    """Axes, labels and the colour bar of one activation: the bottom layer."""
    import matplotlib as mpl

    fig, ax = _frame()
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    lo, hi = _RANGES.get(activation, (-1.0, 1.0))
    if activation not in _RANGES:  # unbounded: the scale the plane's values reach
        lo, hi = (-0.1, 2.0) if activation == "leaky_relu" else (0.0, 2.0)
    sm = mpl.cm.ScalarMappable(norm=mpl.colors.Normalize(lo, hi), cmap="viridis")
    fig.colorbar(sm, cax=fig.add_axes(_COLORBAR), label=f"output a = {activation}(z)")
    return fig


def _draw_output(w1: float, w2: float, b: float, activation: str) -> Figure:
    """The shaded output, decision line and weight vector, without axes (transparent)."""
    fig, ax = _frame()
    plot_neuron(w1, w2, b, activation, None, ax=ax, lim=_LIM, resolution=81, title="")
    lo, hi = _RANGES.get(activation, (None, None))
    if lo is None:
        ax.collections[0].set_clim(-0.1 if activation == "leaky_relu" else 0.0, 2.0)
    ax.set_axis_off()
    return fig


def _draw_gate(w1: float, w2: float, b: float, gate: str | None) -> Figure:
    """The gate's rows and score alone, on a transparent figure that lines up with the plane."""
    fig, ax = _frame()
    ax.set_axis_off()
    if gate is not None:
        _gate_points(ax, w1, w2, b, gate, _LIM)
    return fig


def _gate_key(w1: float, w2: float, b: float, gate: str | None) -> tuple:
    """What the gate layer shows depends only on which rows come out 1."""
    return gate, tuple(GATE_INPUTS @ np.array([w1, w2]) + b > 0)


def _equation(w1: float, w2: float, b: float) -> str:
    return (f"<code>z = {w1:g}·x₁ {'+' if w2 >= 0 else '−'} {abs(w2):g}·x₂ "
            f"{'+' if b >= 0 else '−'} {abs(b):g}</code>; the dashed line is z = 0")


def neuron_explorer(
    w1: float = 1.0,
    w2: float = 1.0,
    b: float = -1.5,
    activation: str = "sigmoid",
    gate: str | None = "AND",
    *,
    weights: tuple[float, ...] = WEIGHT_GRID,
    biases: tuple[float, ...] = BIAS_GRID,
    precompute: bool = True,
) -> Explorer:
    """Sliders for :math:`w_1, w_2, b` and drop-downs for the activation and a logic gate.

    The figure is :func:`plot_neuron`: the output shaded over the plane, the
    decision line, the weight vector, and the gate's rows with its score. On
    the static page every combination of the grid is precomputed (see
    :func:`dlbasics.widgets.display.explorer`); in a live kernel
    ``box.show(w1=0.3, b=-0.2)`` draws any other values.

    Parameters
    ----------
    w1, w2, b : float
        Initial weights and bias, on the grid.
    activation : {"step", "sigmoid", "tanh", "relu", "leaky_relu"}
    gate : {"AND", "OR", "NAND", "XOR"} or None
    weights, biases : tuple of float
        The values the sliders offer (default :data:`WEIGHT_GRID`, :data:`BIAS_GRID`:
        enough for AND, OR and NAND, and for every miss of XOR).
    precompute : bool, default True

    Returns
    -------
    Explorer
    """
    from dlbasics.widgets.display import Control, Layer, explorer

    _check_activation(activation)
    _check_gate(gate)
    controls = [
        Control("w1", weights, w1, "w₁"),
        Control("w2", weights, w2, "w₂"),
        Control("b", biases, b, "b"),
        Control("activation", NEURON_ACTIVATIONS, activation, "activation f", kind="dropdown",
                width="260px"),
        Control("gate", (None, *GATES), gate, "gate", kind="dropdown",
                labels=("none", *GATES), width="260px"),
    ]
    layers = [
        Layer(_equation, ("w1", "w2", "b")),
        Layer(_draw_axes, ("activation",), cell=(1, 0)),
        Layer(_draw_output, ("w1", "w2", "b", "activation"), cell=(1, 0), transparent=True),
        Layer(_draw_gate, ("w1", "w2", "b", "gate"), key=_gate_key, cell=(1, 0), transparent=True),
    ]
    return explorer(controls, layers, precompute=precompute,
                    rows=[["w1", "activation"], ["w2", "gate"], ["b"]])
