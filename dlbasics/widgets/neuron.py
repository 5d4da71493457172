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

import io
from collections.abc import Callable
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from dlbasics.activations import get_activation

__all__ = [
    "GATES",
    "NEURON_ACTIVATIONS",
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
    if activation not in NEURON_ACTIVATIONS:
        valid = ", ".join(repr(a) for a in NEURON_ACTIVATIONS)
        raise ValueError(f"unknown activation {activation!r}; expected one of {valid}")
    return activation


def _check_gate(gate: str | None) -> str | None:
    if gate is not None and gate not in GATES:
        valid = ", ".join(repr(g) for g in GATES)
        raise ValueError(f"unknown gate {gate!r}; expected None or one of {valid}")
    return gate


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
    if _check_gate(gate) is None:
        raise ValueError("gate must be one of " + ", ".join(GATES))
    pred = (GATE_INPUTS @ np.asarray(w, dtype=np.float64) + float(b) > 0).astype(int)
    return int((pred == GATES[gate]).sum())


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

    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title is None:
        title = f"{activation}: $z = {w1:.1f}x_1 {w2:+.1f}x_2 {b:+.1f}$"
    ax.set_title(title, fontsize=10)
    return ax


def _png(fig: Figure, dpi: int = 80) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def neuron_explorer(
    w1: float = 1.0,
    w2: float = 1.0,
    b: float = -1.5,
    activation: str = "sigmoid",
    gate: str | None = "AND",
) -> Any:
    """Sliders for :math:`w_1, w_2, b` and drop-downs for the activation and a logic gate.

    Moving a control redraws the neuron's output over the plane (see
    :func:`plot_neuron`) and updates the equation and the gate score above it.

    Parameters
    ----------
    w1, w2, b : float
        Initial weights and bias, each in ``[-3, 3]``.
    activation : {"step", "sigmoid", "tanh", "relu", "leaky_relu"}
    gate : {"AND", "OR", "NAND", "XOR"} or None

    Returns
    -------
    ipywidgets.VBox
        Children: the controls, an ``HTML`` read-out and an ``Output`` with the plot.
        The controls are also reachable as ``box.controls`` (a dict by name).
    """
    import ipywidgets as widgets
    from IPython.display import Image

    _check_activation(activation)
    _check_gate(gate)
    for name, value in (("w1", w1), ("w2", w2), ("b", b)):
        if not -3.0 <= float(value) <= 3.0:
            raise ValueError(f"{name} must be in [-3, 3], got {value!r}")

    style = {"description_width": "30px"}
    layout = widgets.Layout(width="260px")
    sliders = {
        name: widgets.FloatSlider(value=float(v), min=-3.0, max=3.0, step=0.1, description=name,
                                  continuous_update=False, style=style, layout=layout)
        for name, v in (("w1", w1), ("w2", w2), ("b", b))
    }
    act = widgets.Dropdown(options=list(NEURON_ACTIVATIONS), value=activation, description="f",
                           style=style, layout=widgets.Layout(width="180px"))
    gate_dd = widgets.Dropdown(options=[("none", None)] + [(g, g) for g in GATES], value=gate,
                               description="gate", style={"description_width": "40px"},
                               layout=widgets.Layout(width="160px"))
    readout = widgets.HTML()
    out = widgets.Output()

    def update(_change: Any = None) -> None:
        v1, v2, vb = (sliders[k].value for k in ("w1", "w2", "b"))
        text = (f"<code>z = {v1:.1f}·x1 {'+' if v2 >= 0 else '−'} {abs(v2):.1f}·x2 "
                f"{'+' if vb >= 0 else '−'} {abs(vb):.1f}</code>, "
                f"<code>a = {act.value}(z)</code>")
        if gate_dd.value is not None:
            text += f" &nbsp; {gate_dd.value}: {gate_accuracy((v1, v2), vb, gate_dd.value)} of 4 rows right"
        readout.value = text
        fig = Figure(figsize=(4.6, 3.8))
        plot_neuron(v1, v2, vb, act.value, gate_dd.value, ax=fig.add_subplot(), colorbar=True)
        out.outputs = ()
        out.append_display_data(Image(data=_png(fig), format="png"))

    for control in (*sliders.values(), act, gate_dd):
        control.observe(update, names="value")
    update()
    controls = widgets.HBox([widgets.VBox(list(sliders.values())), widgets.VBox([act, gate_dd])])
    box = widgets.VBox([controls, readout, out])
    box.controls = {**sliders, "activation": act, "gate": gate_dd}
    return box
