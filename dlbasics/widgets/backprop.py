r"""Training a small network on XOR, one snapshot at a time (chapter 4).

:func:`train_with_snapshots` runs full-batch gradient descent with
:class:`~dlbasics.networks.NeuralNetworkWithBackprop` (sigmoid hidden layer,
linear output, mean squared error) and keeps a copy of the parameters every
``snapshot_every`` epochs, the loss of every epoch and the norm of every
layer's weight gradient. Everything the explorer shows is computed up front,
so moving its slider only redraws, and the saved notebook holds a real
picture.

:func:`plot_xor_surface` shades the network's output over :math:`[0, 1]^2`,
:func:`plot_training_snapshot` adds the loss curve up to an epoch, and
:func:`backprop_explorer` trains one run per initial weight scale and learning
rate and puts those two controls and an epoch slider in front of both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from dlbasics.losses import mse_loss, mse_loss_grad
from dlbasics.networks import NeuralNetworkWithBackprop
from dlbasics.plots import CLASS_COLORS
from dlbasics.validation import as_float_array, check_int, check_positive, format_shape
from dlbasics.widgets.display import Explorer

__all__ = [
    "EPOCHS",
    "LEARNING_RATES",
    "WEIGHT_SCALES",
    "XOR_INPUTS",
    "XOR_TARGETS",
    "TrainingRun",
    "backprop_explorer",
    "plot_neuron_graph",
    "plot_training_snapshot",
    "plot_xor_surface",
    "train_with_snapshots",
]

# Losses below this are drawn at it: a fitted XOR net reaches ~1e-30, which would squash the plot.
_LOSS_FLOOR = 1e-8

#: The XOR truth table, rows (0,0), (0,1), (1,0), (1,1).
XOR_INPUTS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
#: XOR targets as a column, shape (4, 1), for the mean-squared-error network.
XOR_TARGETS = np.array([[0.0], [1.0], [1.0], [0.0]])


@dataclass
class TrainingRun:
    """What :func:`train_with_snapshots` records.

    Attributes
    ----------
    layer_sizes : list of int
    weight_scale, lr : float
    seed : int
    losses : numpy.ndarray, shape (epochs,)
        Loss before each epoch's update (as ``NeuralNetworkWithBackprop.train`` returns).
    grad_norms : numpy.ndarray, shape (epochs, n_layers)
        Frobenius norm of :math:`\\partial J/\\partial W^{(l)}` at each epoch.
    snapshot_epochs : list of int
        Number of updates applied before each snapshot (0 is the initialisation,
        the last one is ``epochs``).
    weights, biases : list of list of numpy.ndarray
        The parameters at each snapshot.
    """

    layer_sizes: list[int]
    weight_scale: float
    lr: float
    seed: int
    losses: np.ndarray
    grad_norms: np.ndarray
    snapshot_epochs: list[int] = field(default_factory=list)
    weights: list[list[np.ndarray]] = field(default_factory=list)
    biases: list[list[np.ndarray]] = field(default_factory=list)

    def network_at(self, epoch: int) -> NeuralNetworkWithBackprop:
        """A network holding the parameters of the snapshot taken after ``epoch`` updates."""
        if epoch not in self.snapshot_epochs:
            raise ValueError(
                f"no snapshot after {epoch!r} epochs; snapshots were taken after "
                f"{self.snapshot_epochs[0]}..{self.snapshot_epochs[-1]} epochs "
                f"({len(self.snapshot_epochs)} of them)"
            )
        i = self.snapshot_epochs.index(epoch)
        net = NeuralNetworkWithBackprop(self.layer_sizes, weight_scale=1.0, seed=0)
        net.weights = [w.copy() for w in self.weights[i]]
        net.biases = [b.copy() for b in self.biases[i]]
        return net

    def predict_at(self, epoch: int, X: np.ndarray) -> np.ndarray:
        """Network output for ``X`` (n, n_in) at a snapshot, shape (n, n_out)."""
        return self.network_at(epoch).predict(X)


def train_with_snapshots(
    layer_sizes: Sequence[int] = (2, 4, 1),
    weight_scale: float = 1.0,
    lr: float = 0.5,
    epochs: int = 5000,
    snapshot_every: int = 100,
    seed: int = 0,
    X: np.ndarray | None = None,
    y: np.ndarray | None = None,
) -> TrainingRun:
    """Full-batch gradient descent on ``X, y`` (XOR by default), keeping snapshots.

    Each epoch is exactly one step of ``NeuralNetworkWithBackprop.train``:
    forward, loss, backward, update.

    Parameters
    ----------
    layer_sizes : sequence of int, default (2, 4, 1)
    weight_scale : float, default 1.0
        Standard deviation of the initial weights.
    lr : float, default 0.5
    epochs : int, default 5000
    snapshot_every : int, default 100
        A snapshot is kept after every this many epochs (and at 0 and ``epochs``).
    seed : int, default 0
    X : numpy.ndarray, shape (n, layer_sizes[0]), optional
        Defaults to :data:`XOR_INPUTS`.
    y : numpy.ndarray, shape (n, layer_sizes[-1]), optional
        Defaults to :data:`XOR_TARGETS`.

    Returns
    -------
    TrainingRun
    """
    epochs = check_int(epochs, "epochs", minimum=1)
    snapshot_every = check_int(snapshot_every, "snapshot_every", minimum=1)
    lr = check_positive(lr, "lr")
    X = XOR_INPUTS if X is None else as_float_array(X, "X", ndim=2)
    y = XOR_TARGETS if y is None else as_float_array(y, "y", ndim=2)
    if X.shape[0] != y.shape[0]:
        raise ValueError(
            f"X has {X.shape[0]} samples (shape {format_shape(X.shape)}) but y has "
            f"{y.shape[0]} (shape {format_shape(y.shape)})"
        )
    net = NeuralNetworkWithBackprop(list(layer_sizes), weight_scale=weight_scale, seed=seed)
    losses = np.empty(epochs)
    grad_norms = np.empty((epochs, len(net.weights)))
    run = TrainingRun(net.layer_sizes, float(weight_scale), lr, seed, losses, grad_norms)

    def snapshot(epoch: int) -> None:
        run.snapshot_epochs.append(epoch)
        run.weights.append([w.copy() for w in net.weights])
        run.biases.append([b.copy() for b in net.biases])

    for epoch in range(epochs):
        if epoch % snapshot_every == 0:
            snapshot(epoch)
        out, cache = net.forward_with_cache(X)
        losses[epoch] = mse_loss(out, y)
        dW, db = net.backward(mse_loss_grad(out, y), cache)
        grad_norms[epoch] = [np.linalg.norm(g) for g in dW]
        net.update_parameters(dW, db, lr)
    snapshot(epochs)
    return run


def plot_xor_surface(
    predict: Callable[[np.ndarray], np.ndarray],
    ax: Axes | None = None,
    resolution: int = 81,
    colorbar: bool = False,
    title: str | None = None,
    cax: Axes | None = None,
) -> Axes:
    """Shade a network's output over the unit square, with the 0.5 contour and the XOR points.

    Parameters
    ----------
    predict : callable
        Maps ``(m, 2)`` points to ``(m,)`` or ``(m, 1)`` real outputs.
    ax : matplotlib.axes.Axes, optional
    resolution : int, default 81
        Grid points per axis.
    colorbar : bool, default False
    title : str, optional
    cax : matplotlib.axes.Axes, optional
        Where to draw the colour bar (default: space taken from ``ax``).

    Returns
    -------
    matplotlib.axes.Axes
    """
    if ax is None:
        fig = Figure(figsize=(4, 3.5))
        ax = fig.add_subplot()
    g = np.linspace(-0.1, 1.1, resolution)
    gx, gy = np.meshgrid(g, g)
    out = np.asarray(predict(np.column_stack([gx.ravel(), gy.ravel()]))).reshape(gx.shape)
    mesh = ax.pcolormesh(gx, gy, np.clip(out, 0, 1), cmap="RdBu_r", vmin=0, vmax=1, shading="auto")
    # The 0.5 contour is the decision boundary; skip it when the output is flat (a stuck
    # network's boundary would sit wherever rounding puts it, which means nothing).
    if out.min() < 0.5 < out.max() and out.max() - out.min() > 0.05:
        ax.contour(gx, gy, out, levels=[0.5], colors="black", linewidths=1.2)
    for t in (0, 1):
        pts = XOR_INPUTS[XOR_TARGETS[:, 0] == t]
        ax.scatter(pts[:, 0], pts[:, 1], s=70, color=CLASS_COLORS[t], edgecolor="black",
                   linewidth=1, zorder=3, label=f"target {t}")
    if colorbar:
        ax.figure.colorbar(mesh, ax=None if cax is not None else ax, cax=cax,
                           label="network output ŷ (clipped to [0, 1])")
    ax.set_xlim(-0.1, 1.1)
    ax.set_ylim(-0.1, 1.1)
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_training_snapshot(
    run: TrainingRun,
    epoch: int,
    axes: Sequence[Axes] | None = None,
    label: str | None = None,
    cax: Axes | None = None,
) -> Sequence[Axes]:
    """Loss curve up to ``epoch`` (log scale) and the output surface at that epoch.

    Parameters
    ----------
    run : TrainingRun
    epoch : int
        One of ``run.snapshot_epochs``.
    axes : two matplotlib.axes.Axes, optional
    label : str, optional
        Names the run in the titles.
    cax : matplotlib.axes.Axes, optional
        Where to draw the colour bar of the output surface (default: space
        taken from ``axes[1]``).

    Returns
    -------
    list of two matplotlib.axes.Axes
    """
    net = run.network_at(epoch)
    if axes is None:
        fig = Figure(figsize=(9, 3.4))
        axes = fig.subplots(1, 2)
    ax = axes[0]
    n = len(run.losses)
    # about 600 points per curve: a line plot of every epoch looks the same and draws slowly
    keep = np.unique(np.concatenate([np.linspace(0, n - 1, 300), np.geomspace(1, n, 300) - 1]).astype(int))
    ax.semilogy(keep, run.losses[keep], color="0.8", lw=1.2)
    shown = min(epoch, n - 1)
    part = keep[keep <= shown]
    ax.semilogy(part, run.losses[part], color=CLASS_COLORS[0], lw=1.8)
    loss_now = float(np.mean((net.predict(XOR_INPUTS) - XOR_TARGETS) ** 2))
    ax.scatter([epoch], [max(loss_now, _LOSS_FLOOR)], color=CLASS_COLORS[5], zorder=3,
               label=f"epoch {epoch}: loss {loss_now:.3g}")
    ax.axhline(0.25, color="0.5", ls=":", lw=1, label="0.25: always predict 0.5")
    # a run that diverges stays in view: the axis grows past 2 to hold its largest loss
    finite = run.losses[np.isfinite(run.losses)]
    ax.set_ylim(_LOSS_FLOOR, max(2.0, 2.0 * float(finite.max())) if finite.size else 2.0)
    ax.yaxis.set_minor_locator(NullLocator())  # dozens of minor ticks: slow to draw, no help
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"mean squared error (axis cut at {_LOSS_FLOOR:g})")
    ax.set_title("loss" + (f" ({label})" if label else ""), fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False, loc="lower left")
    plot_xor_surface(lambda P: net.predict(P)[:, 0], ax=axes[1], colorbar=True,
                     title=f"output ŷ after {epoch} epochs", cax=cax)
    return axes


#: Layout of :func:`plot_neuron_graph`: node name -> (x, y, kind) with kind "var" or "op".
_GRAPH_NODES: dict[str, tuple[float, float, str]] = {
    "x": (0.0, 1.2, "var"), "w": (0.0, -0.2, "var"), "mul": (1.5, 0.5, "op"),
    "u": (3.0, 0.5, "var"), "b": (3.0, -0.9, "var"), "add": (4.5, 0.5, "op"),
    "z": (6.0, 0.5, "var"), "sigma": (7.5, 0.5, "op"), "a": (9.0, 0.5, "var"),
    "y": (9.0, -0.9, "var"), "sub": (10.5, 0.5, "op"), "e": (12.0, 0.5, "var"),
    "square": (13.5, 0.5, "op"), "L": (15.0, 0.5, "var"),
}
_GRAPH_EDGES = [("x", "mul"), ("w", "mul"), ("mul", "u"), ("u", "add"), ("b", "add"),
                ("add", "z"), ("z", "sigma"), ("sigma", "a"), ("a", "sub"), ("y", "sub"),
                ("sub", "e"), ("e", "square"), ("square", "L")]
_GRAPH_OPS = {"mul": "×", "add": "+", "sigma": "σ", "sub": "−", "square": "( )²"}


def plot_neuron_graph(
    values: Mapping[str, float], grads: Mapping[str, float], ax: Axes | None = None
) -> Axes:
    r"""Draw the computational graph of one sigmoid neuron with a squared error.

    The graph is :math:`u = w x`, :math:`z = u + b`, :math:`a = \sigma(z)`,
    :math:`e = a - y`, :math:`L = e^2`. Each variable shows its forward value
    (black) and, in orange, the gradient :math:`\partial L/\partial \cdot`
    that the backward pass delivers to it.

    Parameters
    ----------
    values : dict
        Forward values for ``x, w, u, b, z, a, y, e, L``.
    grads : dict
        Gradients of ``L`` for any of those names (missing ones are not drawn,
        e.g. the target ``y``).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    missing = [k for k, (_, _, kind) in _GRAPH_NODES.items() if kind == "var" and k not in values]
    if missing:
        raise ValueError(f"values is missing {missing}; expected x, w, u, b, z, a, y, e, L")
    if ax is None:
        fig = Figure(figsize=(12, 3.2))
        ax = fig.add_subplot()
    for src, dst in _GRAPH_EDGES:
        (x0, y0, _), (x1, y1, _) = _GRAPH_NODES[src], _GRAPH_NODES[dst]
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops={"arrowstyle": "-|>", "color": "0.45", "lw": 1.2,
                                "shrinkA": 24, "shrinkB": 20})
    for name, (x, y, kind) in _GRAPH_NODES.items():
        if kind == "op":
            ax.text(x, y, _GRAPH_OPS[name], ha="center", va="center", fontsize=12,
                    bbox={"boxstyle": "circle", "facecolor": "#F0F0F0", "edgecolor": "0.4"})
            continue
        ax.text(x, y, f"{name} = {values[name]:.3f}", ha="center", va="center", fontsize=10,
                bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": CLASS_COLORS[0]})
        if name in grads:
            ax.text(x, y - 0.42, f"∂L/∂{name} = {grads[name]:.3f}", ha="center", va="center",
                    fontsize=9, color="#B35900")
    ax.set_xlim(-1.0, 16.0)
    ax.set_ylim(-1.6, 1.7)
    ax.axis("off")
    return ax


# The explorer's figure, 9.6 x 3.5 inches: the loss axes, the output surface (kept square, at
# the right of its box) and its colour bar, where Matplotlib's constrained layout puts them.
# Fixed, because that layout measured every label of every one of the 72 figures again and
# drew each figure twice: it was half of the explorer's time.
_FIGSIZE = (9.6, 3.5)
_LOSS_RECT = (0.0693, 0.136, 0.4142, 0.797)
_SURFACE_RECT = (0.4935, 0.136, 0.4142, 0.797)
_COLORBAR_RECT = (0.9284, 0.136, 0.0145, 0.797)

#: The explorer's grid: initial weight scales (standard deviation of the weights), learning
#: rates and the epochs it shows. Scale 0.01 with rate 0.1 is the recipe that stays stuck near
#: the symmetric start; scale 1 with rate 0.5 learns XOR; rate 1 overshoots and never settles.
WEIGHT_SCALES = (0.01, 0.1, 1.0, 3.0)
#: Learning rates the explorer offers.
LEARNING_RATES = (0.1, 0.5, 1.0)
#: Epochs the explorer's slider offers.
EPOCHS = (0, 100, 300, 1000, 2000, 5000)


def backprop_explorer(
    weight_scale: float = 1.0,
    lr: float = 0.5,
    epoch: int = 5000,
    *,
    weight_scales: Sequence[float] = WEIGHT_SCALES,
    lrs: Sequence[float] = LEARNING_RATES,
    epochs: Sequence[int] = EPOCHS,
    seed: int = 0,
    precompute: bool = True,
) -> Explorer:
    """Train XOR with the chosen initial weight scale and learning rate; scrub through the epochs.

    One run of :func:`train_with_snapshots` per (scale, rate) pair, from the
    same seed; the figure is :func:`plot_training_snapshot` (loss so far, output
    surface at that epoch).

    Parameters
    ----------
    weight_scale, lr : float
        Selected at the start; each on its grid.
    epoch : int, default 5000
        Selected at the start; one of ``epochs``.
    weight_scales, lrs : sequence of float
        The values the sliders offer.
    epochs : sequence of int
        The epochs the slider offers (runs last ``max(epochs)`` epochs).
    seed : int, default 0
        Seeds the initial weights of every run.
    precompute : bool, default True
        See :func:`dlbasics.widgets.display.explorer`; in a live kernel
        ``box.show(weight_scale=0.3, lr=0.8, epoch=700)`` trains and
        draws any other recipe.

    Returns
    -------
    Explorer
        See :func:`dlbasics.widgets.display.explorer`; ``data["runs"]`` holds the
        training runs by ``(weight_scale, lr, epochs)``.
    """
    from dlbasics.widgets.display import Control, Layer, explorer

    epochs = sorted({int(e) for e in epochs})
    if epochs[0] < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    runs: dict[tuple[float, float, int], TrainingRun] = {}

    def draw(weight_scale: float, lr: float, epoch: int) -> Figure:
        epoch = int(epoch)
        last = max(epochs[-1], epoch, 1)
        key = (float(weight_scale), float(lr), last)
        fig = Figure(figsize=_FIGSIZE)
        if key not in runs:
            every = int(np.gcd.reduce([e for e in (*epochs, epoch, last) if e > 0]))
            try:
                runs[key] = train_with_snapshots(weight_scale=weight_scale, lr=lr,
                                                 epochs=last, snapshot_every=every, seed=seed)
            except ValueError as err:  # the outputs overflowed: the run diverged
                fig.text(0.5, 0.5, f"scale {weight_scale:g}, lr {lr:g}: the run "
                         f"diverged ({err})", ha="center", wrap=True)
                return fig
        axes = [fig.add_axes(_LOSS_RECT), fig.add_axes(_SURFACE_RECT, anchor=(1.0, 0.5))]
        plot_training_snapshot(runs[key], epoch, axes=axes, label=f"scale {weight_scale:g}, lr {lr:g}",
                               cax=fig.add_axes(_COLORBAR_RECT))
        return fig

    controls = [
        Control("weight_scale", tuple(weight_scales), weight_scale, "initial weight scale"),
        Control("lr", tuple(lrs), lr, "learning rate"),
        Control("epoch", tuple(epochs), epoch, "epoch", width="420px"),
    ]
    box = explorer(controls, [Layer(draw, ("weight_scale", "lr", "epoch"))],
                   precompute=precompute, rows=[["weight_scale", "lr"], ["epoch"]])
    box.data["runs"] = runs
    return box
