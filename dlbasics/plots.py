"""Figures shared by the chapters: labelled, consistent, and quick to draw.

Every function draws on a Matplotlib ``Axes`` (a new one when ``ax`` is None)
and returns it, so chapters can compose small multiples::

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.5))
    for ax, model in zip(axes, models):
        plot_decision_boundary(model.predict, X, y, ax=ax)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from dlbasics.validation import as_float_array, format_shape

__all__ = [
    "CLASS_COLORS",
    "plot_decision_boundary",
    "plot_function_and_derivative",
    "plot_history",
    "plot_loss_curves",
]

#: Colour-blind-safe colours (Okabe-Ito) used for classes and series.
CLASS_COLORS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]


def _axes(ax: Axes | None, figsize: tuple[float, float] = (5, 4)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_decision_boundary(
    predict: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    ax: Axes | None = None,
    resolution: int = 200,
    padding: float = 0.5,
    title: str | None = None,
) -> Axes:
    """Shade the regions a 2-D classifier assigns to each class, with the data on top.

    Parameters
    ----------
    predict : callable
        Maps ``(m, 2)`` points to ``(m,)`` integer labels (e.g. ``model.predict``).
    X : numpy.ndarray, shape (n_samples, 2)
    y : numpy.ndarray of int, shape (n_samples,)
    ax : matplotlib.axes.Axes, optional
    resolution : int, default 200
        Grid points along each axis.
    padding : float, default 0.5
        Margin around the data.
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    X = as_float_array(X, "X", ndim=2)
    if X.shape[1] != 2:
        raise ValueError(f"X must have 2 features to draw a plane, got shape {format_shape(X.shape)}")
    y = np.asarray(y)
    if y.shape != (X.shape[0],):
        raise ValueError(f"y has shape {format_shape(y.shape)}; expected ({X.shape[0]},)")
    ax = _axes(ax)
    (x0, y0), (x1, y1) = X.min(axis=0) - padding, X.max(axis=0) + padding
    gx, gy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    grid = np.column_stack([gx.ravel(), gy.ravel()]).astype(X.dtype)
    zz = np.asarray(predict(grid)).reshape(gx.shape)
    n_classes = int(max(y.max(), zz.max())) + 1
    colors = CLASS_COLORS[:n_classes]
    cmap = plt.matplotlib.colors.ListedColormap(colors)
    ax.contourf(gx, gy, zz, levels=np.arange(n_classes + 1) - 0.5, cmap=cmap, alpha=0.25)
    for k in range(n_classes):
        pts = X[y == k]
        ax.scatter(pts[:, 0], pts[:, 1], s=14, color=colors[k], edgecolor="white", linewidth=0.4,
                   label=f"class {k}")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title)
    return ax


def plot_loss_curves(
    curves: Mapping[str, Sequence[float]],
    ax: Axes | None = None,
    xlabel: str = "epoch",
    ylabel: str = "loss",
    title: str | None = None,
    log_y: bool = False,
) -> Axes:
    """Plot several named curves (loss or accuracy against epochs) on one axes.

    Parameters
    ----------
    curves : dict of str to sequence of float
        Legend label -> values.
    ax : matplotlib.axes.Axes, optional
    xlabel, ylabel : str
    title : str, optional
    log_y : bool, default False
        Logarithmic y axis (useful when losses span decades).

    Returns
    -------
    matplotlib.axes.Axes
    """
    if not curves:
        raise ValueError("curves is empty; expected at least one named series")
    ax = _axes(ax)
    for i, (label, values) in enumerate(curves.items()):
        values = np.asarray(values, dtype=float)
        color = CLASS_COLORS[i % len(CLASS_COLORS)]
        ax.plot(np.arange(len(values)), values, label=label, color=color, lw=1.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if log_y:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    return ax


def plot_history(
    history: object, axes: Sequence[Axes] | None = None, title: str | None = None
) -> Sequence[Axes]:
    """Loss and accuracy of a training run, training and validation side by side.

    Parameters
    ----------
    history : dlbasics.history.History or dict
        Anything with ``loss``, ``accuracy`` and optionally ``val_loss``,
        ``val_accuracy`` sequences (attributes or keys).
    axes : pair of matplotlib.axes.Axes, optional
    title : str, optional
        Figure title.

    Returns
    -------
    pair of matplotlib.axes.Axes
    """

    def get(name: str) -> Sequence[float]:
        if isinstance(history, Mapping):
            return history.get(name, [])
        return getattr(history, name, [])

    if not len(get("loss")):
        raise ValueError("history has no 'loss' values to plot")
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
        if title:
            fig.suptitle(title)
    loss = {"training": get("loss")}
    acc = {"training": get("accuracy")}
    if len(get("val_loss")):
        loss["validation"] = get("val_loss")
        acc["validation"] = get("val_accuracy")
    plot_loss_curves(loss, ax=axes[0], ylabel="cross-entropy loss")
    plot_loss_curves(acc, ax=axes[1], ylabel="accuracy")
    return axes


def plot_function_and_derivative(
    f: Callable[[np.ndarray], np.ndarray],
    f_prime: Callable[[np.ndarray], np.ndarray],
    name: str,
    x: np.ndarray | None = None,
    axes: Sequence[Axes] | None = None,
) -> Sequence[Axes]:
    """Draw an activation function and its derivative on two labelled panels.

    Parameters
    ----------
    f, f_prime : callable
        The function and its derivative (elementwise).
    name : str
        Used in titles and axis labels, e.g. ``"sigmoid"``.
    x : numpy.ndarray, optional
        Points to evaluate; defaults to 401 points on ``[-5, 5]``.
    axes : pair of matplotlib.axes.Axes, optional

    Returns
    -------
    pair of matplotlib.axes.Axes
    """
    x = np.linspace(-5, 5, 401) if x is None else as_float_array(x, "x", ndim=1)
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    axes[0].plot(x, f(x), color=CLASS_COLORS[0], lw=2)
    axes[0].set_title(f"{name}(x)")
    axes[0].set_ylabel(f"{name}(x)")
    axes[1].plot(x, f_prime(x), color=CLASS_COLORS[1], lw=2)
    axes[1].set_title(f"{name}'(x)")
    axes[1].set_ylabel(f"{name}'(x)")
    for ax in axes:
        ax.axhline(0, color="0.6", lw=0.8)
        ax.axvline(0, color="0.6", lw=0.8)
        ax.set_xlabel("x")
        ax.grid(alpha=0.3)
    return axes
