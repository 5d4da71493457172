r"""How L2 strength and dropout rate change a small network's decision boundary.

Training is the slow part, so it happens once: :func:`train_regularization_grid`
fits one :class:`~dlbasics.networks.MLP` per pair (:math:`\lambda`, :math:`p`)
on a 2-D dataset and keeps its predictions on a grid of points. The explorer
(:func:`regularization_explorer`) and the static small multiples
(:func:`plot_regularization_grid`) only draw what was stored, so moving a
slider is instant and the figure saved with the notebook shows real models.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from dlbasics.networks import MLP
from dlbasics.optim import Adam, Optimizer
from dlbasics.plots import CLASS_COLORS
from dlbasics.validation import as_float_array, check_int, check_labels, format_shape
from dlbasics.widgets.display import Explorer

__all__ = [
    "RegularizationGrid",
    "plot_regularization_grid",
    "regularization_explorer",
    "train_regularization_grid",
]


@dataclass
class RegularizationGrid:
    """Models trained for every (L2 strength, dropout rate) pair, as drawable results.

    Attributes
    ----------
    weight_decay_values : tuple of float
        The L2 strengths :math:`\\lambda` (columns).
    dropout_values : tuple of float
        The dropout rates :math:`p` (rows).
    X_train, y_train, X_val, y_val : numpy.ndarray
        The data, ``X`` of shape ``(n, 2)``.
    xx, yy : numpy.ndarray, shape (resolution, resolution)
        The points where the models were evaluated.
    predictions : numpy.ndarray of int8, shape (n_dropout, n_l2, resolution, resolution)
        The predicted class at each point, for each model.
    train_accuracy, val_accuracy, train_loss, val_loss : numpy.ndarray, shape (n_dropout, n_l2)
        Final metrics of each model (losses without the penalty term).
    epochs : int
        Epochs each model was trained for.
    """

    weight_decay_values: tuple[float, ...]
    dropout_values: tuple[float, ...]
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    xx: np.ndarray
    yy: np.ndarray
    predictions: np.ndarray
    train_accuracy: np.ndarray
    val_accuracy: np.ndarray
    train_loss: np.ndarray
    val_loss: np.ndarray
    epochs: int

    def index(self, weight_decay: float, dropout: float) -> tuple[int, int]:
        """``(row, column)`` of the model trained with ``dropout`` and ``weight_decay``."""
        try:
            return self.dropout_values.index(dropout), self.weight_decay_values.index(weight_decay)
        except ValueError:
            raise ValueError(
                f"no model for weight_decay={weight_decay!r}, dropout={dropout!r}; the grid has "
                f"weight_decay in "
                f"{list(self.weight_decay_values)} and dropout in {list(self.dropout_values)}"
            ) from None


def _values(values: Sequence[float], name: str, upper: float | None = None) -> tuple[float, ...]:
    vals = tuple(float(v) for v in values)
    if not vals:
        raise ValueError(f"{name} must hold at least one value")
    for v in vals:
        if not np.isfinite(v) or v < 0 or (upper is not None and v >= upper):
            bound = f"[0, {upper})" if upper is not None else ">= 0"
            raise ValueError(f"every value of {name} must be {bound}, got {v!r}")
    if len(set(vals)) != len(vals):
        raise ValueError(f"{name} has repeated values: {list(vals)}")
    return vals


def train_regularization_grid(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_val: np.ndarray,
    y_val: np.ndarray,
    weight_decay_values: Sequence[float] = (0.0, 1e-3, 1e-2, 3e-2, 1e-1),
    dropout_values: Sequence[float] = (0.0, 0.25, 0.5),
    hidden: Sequence[int] = (64, 64),
    epochs: int = 300,
    lr: float = 0.01,
    optimizer: Callable[[], Optimizer] | None = None,
    seed: int = 0,
    resolution: int = 100,
    padding: float = 0.5,
) -> RegularizationGrid:
    """Train one MLP per (L2 strength, dropout rate) pair and store its decision regions.

    Every model starts from the same initial weights (``seed``) and is trained
    full-batch (one update per epoch) with the same optimizer settings for the
    same number of epochs.

    Parameters
    ----------
    X_train : numpy.ndarray, shape (n, 2)
    y_train : numpy.ndarray of int, shape (n,)
    X_val : numpy.ndarray, shape (m, 2)
    y_val : numpy.ndarray of int, shape (m,)
    weight_decay_values : sequence of float, default (0, 0.001, 0.01, 0.03, 0.1)
    dropout_values : sequence of float in [0, 1), default (0, 0.25, 0.5)
    hidden : sequence of int, default (64, 64)
        Hidden layer widths.
    epochs : int, default 300
    lr : float, default 0.01
        Adam's learning rate when ``optimizer`` is not given.
    optimizer : callable, optional
        Returns a fresh optimizer for each model, e.g.
        ``lambda: SGD(0.1, momentum=0.9)``; defaults to ``Adam(lr)``.
    seed : int, default 0
        Seeds the initial weights and the dropout masks.
    resolution : int, default 100
        Grid points along each axis.
    padding : float, default 0.5
        Margin around the data (training and validation).

    Returns
    -------
    RegularizationGrid
    """
    X_train = as_float_array(X_train, "X_train", ndim=2)
    X_val = as_float_array(X_val, "X_val", ndim=2)
    for name, X in (("X_train", X_train), ("X_val", X_val)):
        if X.shape[1] != 2:
            raise ValueError(
                f"{name} must have 2 features (a plane to draw), got shape {format_shape(X.shape)}"
            )
    n_classes = int(max(np.max(y_train), np.max(y_val))) + 1
    y_train = check_labels(y_train, len(X_train), n_classes, "y_train")
    y_val = check_labels(y_val, len(X_val), n_classes, "y_val")
    l2s = _values(weight_decay_values, "weight_decay_values")
    ps = _values(dropout_values, "dropout_values", upper=1.0)
    resolution = check_int(resolution, "resolution", minimum=2)

    both = np.concatenate([X_train, X_val])
    (x0, y0), (x1, y1) = both.min(axis=0) - padding, both.max(axis=0) + padding
    xx, yy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    points = np.column_stack([xx.ravel(), yy.ravel()]).astype(X_train.dtype)

    if optimizer is None:
        def optimizer() -> Optimizer:
            return Adam(lr)
    elif not callable(optimizer):
        raise TypeError(f"optimizer must be a function returning a fresh optimizer, got {optimizer!r}")

    shape = (len(ps), len(l2s))
    predictions = np.empty(shape + xx.shape, dtype=np.int8)
    metrics = {k: np.empty(shape) for k in ("train_accuracy", "val_accuracy", "train_loss", "val_loss")}
    sizes = [2, *hidden, n_classes]
    for i, p in enumerate(ps):
        for j, lam in enumerate(l2s):
            model = MLP(sizes, seed=seed, dtype=X_train.dtype.type)
            model.fit(X_train, y_train, epochs=epochs, batch_size=len(X_train),
                      optimizer=optimizer(), weight_decay=lam, dropout=p, seed=seed, progress=False)
            predictions[i, j] = model.predict(points).reshape(xx.shape)
            metrics["train_accuracy"][i, j] = model.accuracy(X_train, y_train)
            metrics["val_accuracy"][i, j] = model.accuracy(X_val, y_val)
            metrics["train_loss"][i, j] = model.loss(X_train, y_train)
            metrics["val_loss"][i, j] = model.loss(X_val, y_val)
    return RegularizationGrid(l2s, ps, X_train, y_train, X_val, y_val, xx, yy, predictions,
                              epochs=epochs, **metrics)


def _draw_regions(ax: Axes, grid: RegularizationGrid, row: int, col: int, show_val: bool = False) -> None:
    n_classes = int(max(grid.y_train.max(), grid.predictions.max())) + 1
    colors = CLASS_COLORS[:n_classes]
    ax.contourf(grid.xx, grid.yy, grid.predictions[row, col], levels=np.arange(n_classes + 1) - 0.5,
                cmap=ListedColormap(colors), alpha=0.25)
    for k in range(n_classes):
        pts = grid.X_train[grid.y_train == k]
        ax.scatter(pts[:, 0], pts[:, 1], s=12, color=colors[k], edgecolor="white", linewidth=0.4,
                   label=f"class {k} (train)")
        if show_val:
            pts = grid.X_val[grid.y_val == k]
            ax.scatter(pts[:, 0], pts[:, 1], s=14, facecolor="none", edgecolor=colors[k], linewidth=0.8,
                       label=f"class {k} (validation)")
    ax.set_xlim(grid.xx.min(), grid.xx.max())
    ax.set_ylim(grid.yy.min(), grid.yy.max())


def _title(grid: RegularizationGrid, row: int, col: int) -> str:
    return (f"λ = {grid.weight_decay_values[col]:g}, p = {grid.dropout_values[row]:g}\n"
            f"train {grid.train_accuracy[row, col]:.2f} · val {grid.val_accuracy[row, col]:.2f}")


def plot_regularization_grid(grid: RegularizationGrid, figsize: tuple[float, float] | None = None) -> Figure:
    """Small multiples of the stored decision regions: rows are dropout rates, columns L2 strengths.

    Each title gives the training and validation accuracy.

    Parameters
    ----------
    grid : RegularizationGrid
    figsize : (float, float), optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    rows, cols = len(grid.dropout_values), len(grid.weight_decay_values)
    fig = Figure(figsize=figsize or (2.6 * cols, 2.5 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
    for i in range(rows):
        for j in range(cols):
            ax = axes[i, j]
            _draw_regions(ax, grid, i, j)
            ax.set_title(_title(grid, i, j), fontsize=9)
            if i == rows - 1:
                ax.set_xlabel("$x_1$")
            if j == 0:
                ax.set_ylabel("$x_2$")
    fig.suptitle(f"Decision regions after {grid.epochs} epochs: "
                 "L2 strength λ grows to the right, dropout rate p downwards", fontsize=11)
    return fig


def _draw_model(grid: RegularizationGrid, i: int, j: int) -> Figure:
    """Decision regions of model ``(i, j)`` and the validation-accuracy map with it outlined."""
    fig = Figure(figsize=(9.5, 3.8))
    ax_b, ax_h = fig.add_axes((0.07, 0.13, 0.4, 0.74)), fig.add_axes((0.58, 0.13, 0.3, 0.74))
    _draw_regions(ax_b, grid, i, j, show_val=True)
    gap = grid.train_accuracy[i, j] - grid.val_accuracy[i, j]
    ax_b.set_title(_title(grid, i, j) + f" · gap {gap:+.2f}", fontsize=10)
    ax_b.set_xlabel("$x_1$")
    ax_b.set_ylabel("$x_2$")
    ax_b.legend(fontsize=7, loc="lower left", framealpha=0.85)
    im = ax_h.imshow(grid.val_accuracy, cmap="viridis", aspect="auto", origin="upper")
    for (r, c), v in np.ndenumerate(grid.val_accuracy):
        ax_h.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=7,
                  color="white" if v < grid.val_accuracy.mean() else "black")
    ax_h.add_patch(_cell_outline(i, j))
    ax_h.set_xticks(range(len(grid.weight_decay_values)), [f"{v:g}" for v in grid.weight_decay_values])
    ax_h.set_yticks(range(len(grid.dropout_values)), [f"{v:g}" for v in grid.dropout_values])
    ax_h.set_xlabel("L2 strength λ")
    ax_h.set_ylabel("dropout rate p")
    ax_h.set_title("validation accuracy of every model")
    fig.colorbar(im, cax=fig.add_axes((0.9, 0.13, 0.015, 0.74)))
    return fig


def regularization_explorer(
    grid: RegularizationGrid,
    weight_decay: float | None = None,
    dropout: float | None = None,
    *,
    precompute: bool = True,
) -> Explorer:
    """Explorer: pick an L2 strength and a dropout rate, see that model's decision regions.

    Nothing is trained here: the sliders select among the models stored in
    ``grid`` (train a finer grid with :func:`train_regularization_grid` for
    finer steps). The right panel maps validation accuracy over the whole
    grid, with the selected model outlined.

    Parameters
    ----------
    grid : RegularizationGrid
        From :func:`train_regularization_grid`.
    weight_decay, dropout : float, optional
        The values selected at the start (defaults: the first of each).
    precompute : bool, default True
        See :func:`dlbasics.widgets.display.explorer`.

    Returns
    -------
    Explorer
    """
    from dlbasics.widgets.display import Control, Layer, explorer

    if not isinstance(grid, RegularizationGrid):
        raise TypeError(f"grid must be a RegularizationGrid (from train_regularization_grid), got {grid!r}")
    weight_decay = grid.weight_decay_values[0] if weight_decay is None else weight_decay
    dropout = grid.dropout_values[0] if dropout is None else dropout
    grid.index(weight_decay, dropout)  # raises a helpful error for values not in the grid

    def draw(weight_decay: float, dropout: float) -> Figure:
        return _draw_model(grid, *grid.index(weight_decay, dropout))

    controls = [
        Control("weight_decay", grid.weight_decay_values, weight_decay, "L2 strength λ", width="420px"),
        Control("dropout", grid.dropout_values, dropout, "dropout rate p", width="420px"),
    ]
    return explorer(controls, [Layer(draw, ("weight_decay", "dropout"))], precompute=precompute)


def _cell_outline(row: int, col: int) -> Rectangle:
    """An outline around heat-map cell ``(row, col)``."""
    return Rectangle((col - 0.5, row - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2.5)
