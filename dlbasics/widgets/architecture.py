r"""Layer sizes, array shapes and parameter counts of a fully connected network (chapter 2).

A network with ``layer_sizes = [n_0, n_1, ..., n_L]`` has, for each layer
:math:`l = 1, \dots, L`, a weight matrix :math:`W^{(l)}` of shape
``(n_l, n_{l-1})`` and a bias :math:`b^{(l)}` of shape ``(n_l,)``. On a batch
``X`` of shape ``(n, n_0)`` (one sample per row) layer ``l`` computes
:math:`Z^{(l)} = A^{(l-1)} W^{(l)\top} + b^{(l)}` of shape ``(n, n_l)``.

* :func:`count_parameters` and :func:`layer_shapes` give the numbers;
* :func:`draw_network` draws the network with every array's shape on it;
* :func:`draw_layer_product` draws one layer's matrix product as rectangles,
  batch-first (``X @ W.T``) or in the column layout (``W @ X``);
* :func:`architecture_explorer` is the widget: type layer sizes, see all three.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Rectangle

from dlbasics.validation import check_choice, check_int, check_layer_sizes
from dlbasics.widgets.display import Explorer

__all__ = [
    "BATCH_SIZES",
    "PRESETS",
    "architecture_explorer",
    "count_parameters",
    "draw_layer_product",
    "draw_network",
    "layer_shapes",
    "parse_layer_sizes",
]

_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
_MAX_LAYERS = 8
_MAX_WIDTH = 100_000


def _sup(i: int) -> str:
    return str(i).translate(_SUPERSCRIPTS)


def parse_layer_sizes(text: str) -> list[int]:
    """Read layer sizes typed as text, e.g. ``"2, 4, 3, 1"`` or ``"784 128 10"``.

    Parameters
    ----------
    text : str
        Positive integers separated by commas and/or spaces.

    Returns
    -------
    list of int
        At least two sizes (input and output).

    Raises
    ------
    ValueError
        If a part is not a positive integer, or fewer than two sizes are given.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str such as '2, 4, 1', got {type(text).__name__}")
    parts = [p for p in text.replace(",", " ").split() if p]
    sizes = []
    for p in parts:
        if not p.isdigit() or int(p) < 1:
            raise ValueError(f"layer sizes must be positive integers separated by commas; {p!r} is not")
        sizes.append(int(p))
    if len(sizes) < 2:
        raise ValueError(f"give at least an input and an output size (e.g. '2, 4, 1'), got {text!r}")
    return sizes


def count_parameters(layer_sizes: Sequence[int]) -> int:
    r"""Number of weights and biases: :math:`\sum_l (n_{l-1} n_l + n_l)`.

    Parameters
    ----------
    layer_sizes : list of int
        ``[n_0, n_1, ..., n_L]``.

    Returns
    -------
    int
    """
    sizes = check_layer_sizes(layer_sizes)
    return sum(n_in * n_out + n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))


def layer_shapes(layer_sizes: Sequence[int], n_samples: int = 1) -> list[tuple[str, tuple[int, ...]]]:
    """Every array of a batch-first forward pass, in the order it is used.

    Layer ``l`` computes ``Z = A @ W.T + b`` and, on hidden layers, ``A = f(Z)``;
    the output layer is linear (as in :class:`dlbasics.SimpleNeuralNetwork`).
    The shapes follow from ``layer_sizes`` alone, so nothing is allocated:
    chapter 2 checks them against the arrays of a real forward pass.

    Parameters
    ----------
    layer_sizes : list of int
        ``[n_0, ..., n_L]``.
    n_samples : int, default 1
        Batch size ``n``.

    Returns
    -------
    list of (name, shape)
        ``X (n, n_0)``, then for each layer ``W (n_l, n_{l-1})``, ``b (n_l,)``,
        ``Z (n, n_l)`` and (hidden layers only) ``A (n, n_l)``; the last ``Z``
        is the network's output.
    """
    sizes = check_layer_sizes(layer_sizes)
    n = check_int(n_samples, "n_samples", minimum=1)
    rows: list[tuple[str, tuple[int, ...]]] = [("X", (n, sizes[0]))]
    L = len(sizes) - 1
    for layer in range(1, L + 1):
        n_in, n_out = sizes[layer - 1], sizes[layer]
        rows += [(f"W{_sup(layer)}", (n_out, n_in)), (f"b{_sup(layer)}", (n_out,)),
                 (f"Z{_sup(layer)}", (n, n_out))]
        if layer < L:
            rows.append((f"A{_sup(layer)}", (n, n_out)))
    return rows


def _node_positions(size: int, max_nodes: int) -> tuple[list[float], bool]:
    """y positions of the drawn nodes, and whether some are elided."""
    shown = min(size, max_nodes)
    ys = list(np.linspace(1, -1, shown) * (shown - 1) / (max_nodes - 1)) if shown > 1 else [0.0]
    return ys, size > max_nodes


def draw_network(
    layer_sizes: Sequence[int],
    ax: Axes | None = None,
    n_samples: int | str = "n",
    max_nodes: int = 7,
    title: str | None = None,
    show_shapes: bool = True,
) -> Axes:
    """Draw a fully connected network with the shape of every array on it.

    Each layer is a column of nodes (at most ``max_nodes`` drawn; a wider layer
    shows a gap marked with its size). Under each column: the shape of the
    activations it holds; between two columns: the shapes of ``W`` and ``b``
    and the layer's parameter count.

    Parameters
    ----------
    layer_sizes : list of int
        ``[n_0, ..., n_L]``.
    ax : matplotlib.axes.Axes, optional
    n_samples : int or str, default "n"
        What to write for the batch dimension.
    max_nodes : int, default 7
    title : str, optional
        Defaults to the sizes and the total parameter count.
    show_shapes : bool, default True

    Returns
    -------
    matplotlib.axes.Axes
    """
    sizes = check_layer_sizes(layer_sizes)
    if max_nodes < 3:
        raise ValueError(f"max_nodes must be at least 3, got {max_nodes!r}")
    if ax is None:
        fig = Figure(figsize=(1.6 * len(sizes) + 1, 3.6))
        ax = fig.add_subplot()
    n = str(n_samples)
    L = len(sizes) - 1
    radius = 0.1
    dx = 1.8  # horizontal distance between layers
    positions = []
    for size in sizes:
        ys, elided = _node_positions(size, max_nodes)
        if elided:  # keep the first max_nodes-1 and the last node, gap before the last
            ys = ys[:-2] + [ys[-1]]
        positions.append((ys, elided))
    # edges
    for li in range(L):
        for y0 in positions[li][0]:
            for y1 in positions[li + 1][0]:
                ax.plot([li * dx, (li + 1) * dx], [y0, y1], color="0.6", lw=0.6, alpha=0.6, zorder=1)
    colours = {"input": "#56B4E9", "hidden": "#009E73", "output": "#E69F00"}
    for li, (ys, elided) in enumerate(positions):
        kind = "input" if li == 0 else "output" if li == L else "hidden"
        for y in ys:
            ax.add_patch(Circle((li * dx, y), radius, facecolor=colours[kind], edgecolor="black", lw=0.8,
                                zorder=3))
        if elided:
            gap = (ys[-2] + ys[-1]) / 2
            ax.text(li * dx, gap, "⋮", ha="center", va="center", fontsize=14, zorder=4)
        label = {"input": "input", "output": "output"}.get(kind, f"hidden {li}")
        ax.text(li * dx, 1.22, f"{label}\n{sizes[li]} unit{'s' if sizes[li] > 1 else ''}",
                ha="center", va="bottom", fontsize=9)
        if show_shapes:
            name = "X" if li == 0 else ("Ŷ = Z" + _sup(li)) if li == L else "A" + _sup(li)
            ax.text(li * dx, -1.25, f"{name}\n({n}, {sizes[li]})", ha="center", va="top", fontsize=9,
                    family="monospace", color="#0072B2")
    if show_shapes:
        for li in range(L):
            n_in, n_out = sizes[li], sizes[li + 1]
            ax.text((li + 0.5) * dx, -1.75, f"W{_sup(li + 1)} ({n_out}, {n_in})\nb{_sup(li + 1)} ({n_out},)\n"
                    f"{n_in * n_out + n_out:,} params", ha="center", va="top", fontsize=8.5,
                    family="monospace", color="#D55E00")
    ax.set_aspect("equal")
    ax.set_xlim(-0.6 * dx, (L + 0.6) * dx)
    ax.set_ylim(-2.5 if show_shapes else -1.3, 1.7)
    ax.axis("off")
    ax.set_title(f"{sizes}: {count_parameters(sizes):,} parameters" if title is None else title, fontsize=10)
    return ax


def _matrix(ax: Axes, x: float, rows: int, cols: int, label: str, unit: float,
            highlight: tuple[str, int] | None = None, colour: str = "#F0F0F0") -> float:
    """Draw a rows x cols grid with its top-left corner at (x, 0); return its right edge."""
    ax.add_patch(Rectangle((x, -rows * unit), cols * unit, rows * unit, facecolor=colour,
                           edgecolor="black", lw=1.2))
    for r in range(1, rows):
        ax.plot([x, x + cols * unit], [-r * unit] * 2, color="0.7", lw=0.5)
    for c in range(1, cols):
        ax.plot([x + c * unit] * 2, [0, -rows * unit], color="0.7", lw=0.5)
    if highlight is not None:
        kind, i = highlight
        if kind == "row":
            ax.add_patch(Rectangle((x, -(i + 1) * unit), cols * unit, unit, facecolor="#E69F00",
                                   alpha=0.6, edgecolor="none"))
        else:
            ax.add_patch(Rectangle((x + i * unit, -rows * unit), unit, rows * unit, facecolor="#E69F00",
                                   alpha=0.6, edgecolor="none"))
    ax.text(x + cols * unit / 2, 0.25 * unit, label, ha="center", va="bottom", fontsize=9)
    return x + cols * unit


def draw_layer_product(
    n: int = 5, n_in: int = 3, n_out: int = 2, layout: str = "batch", ax: Axes | None = None
) -> Axes:
    """Draw one dense layer's product as grids of cells, one cell per number.

    ``layout="batch"`` draws ``Z = X Wᵀ + b`` with ``X`` of shape ``(n, n_in)``
    (our layout, PyTorch's); ``layout="column"`` draws ``Z = W X + b`` with one
    sample per column. Sample 0 is highlighted in ``X`` and in ``Z``.

    Parameters
    ----------
    n, n_in, n_out : int
        Batch size, inputs and outputs of the layer (each 1 to 12).
    layout : {"batch", "column"}
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    for name, v in (("n", n), ("n_in", n_in), ("n_out", n_out)):
        check_int(v, name, minimum=1, maximum=12)
    check_choice(layout, "layout", ("batch", "column"))
    if ax is None:
        fig = Figure(figsize=(7, 2.6))
        ax = fig.add_subplot()
    u = 1.0
    gap = 1.6
    x = 0.0
    op_y = -1.0
    if layout == "batch":
        x = _matrix(ax, x, n, n_in, f"X  ({n}, {n_in})", u, ("row", 0), "#DCEBF7")
        ax.text(x + gap / 2, op_y, "·", ha="center", va="center", fontsize=20)
        x = _matrix(ax, x + gap, n_in, n_out, f"Wᵀ  ({n_in}, {n_out})", u, None, "#F7E3D5")
        ax.text(x + gap / 2, op_y, "+", ha="center", va="center", fontsize=16)
        x = _matrix(ax, x + gap, 1, n_out, f"b  ({n_out},)", u, None, "#F7E3D5")
        ax.text(x + gap / 2, op_y, "=", ha="center", va="center", fontsize=16)
        x = _matrix(ax, x + gap, n, n_out, f"Z  ({n}, {n_out})", u, ("row", 0), "#DDF0E6")
        height = max(n, n_in)
        title = "batch-first (ours, PyTorch): Z = X Wᵀ + b, one sample per ROW"
    else:
        x = _matrix(ax, x, n_out, n_in, f"W  ({n_out}, {n_in})", u, None, "#F7E3D5")
        ax.text(x + gap / 2, op_y, "·", ha="center", va="center", fontsize=20)
        x = _matrix(ax, x + gap, n_in, n, f"Xᵀ  ({n_in}, {n})", u, ("col", 0), "#DCEBF7")
        ax.text(x + gap / 2, op_y, "+", ha="center", va="center", fontsize=16)
        x = _matrix(ax, x + gap, n_out, 1, f"b  ({n_out}, 1)", u, None, "#F7E3D5")
        ax.text(x + gap / 2, op_y, "=", ha="center", va="center", fontsize=16)
        x = _matrix(ax, x + gap, n_out, n, f"Zᵀ  ({n_out}, {n})", u, ("col", 0), "#DDF0E6")
        height = max(n_out, n_in)
        title = "column layout (many texts): Zᵀ = W Xᵀ + b, one sample per COLUMN"
    ax.set_xlim(-0.3, x + 0.3)
    ax.set_ylim(-height - 0.4, 1.4)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=10)
    return ax


def _shape_table(sizes: list[int], n_samples: int) -> str:
    rows = layer_shapes(sizes, n_samples)
    params = {f"W{_sup(i + 1)}": sizes[i] * sizes[i + 1] for i in range(len(sizes) - 1)}
    params.update({f"b{_sup(i + 1)}": sizes[i + 1] for i in range(len(sizes) - 1)})
    cells = []
    for name, shape in rows:
        role = ("input batch" if name == "X" else "weights" if name[0] == "W" else "bias"
                if name[0] == "b" else "pre-activation" if name[0] == "Z" else "activation")
        if name == rows[-1][0]:
            role = "output (linear)"
        p = f"{params[name]:,}" if name in params else ""
        cells.append(f"<tr><td><code>{name}</code></td><td><code>{shape}</code></td>"
                     f"<td style='white-space:nowrap'>{role}</td><td style='text-align:right'>{p}</td></tr>")
    head = "<tr><th>array</th><th>shape</th><th>role</th><th>parameters</th></tr>"
    total = (f"<tr><td colspan='3'><b>total</b></td>"
             f"<td style='text-align:right'><b>{count_parameters(sizes):,}</b></td></tr>")
    return f"<table>{head}{''.join(cells)}{total}</table>"


#: Architectures the explorer offers (the static page has a figure for each, at every batch size).
PRESETS = ("2, 4, 3, 1", "2, 4, 1", "2, 8, 8, 1", "3, 5, 4, 2", "4, 16, 16, 16, 3",
           "784, 10", "784, 128, 64, 10")
#: Batch sizes the explorer offers.
BATCH_SIZES = (1, 8, 32, 128, 256)


def _summary(layer_sizes: str, n_samples: int) -> str:
    sizes = parse_layer_sizes(layer_sizes)
    total = count_parameters(sizes)
    per_layer = " + ".join(f"({a}·{b} + {b})" for a, b in zip(sizes[:-1], sizes[1:]))
    hidden = len(sizes) - 2
    return (f"<b>{total:,} parameters</b> = {per_layer}; {hidden} hidden layer"
            f"{'s' if hidden != 1 else ''}<br>{_shape_table(sizes, n_samples)}")


def _diagram(layer_sizes: str, n_samples: int) -> Figure:
    sizes = parse_layer_sizes(layer_sizes)
    fig = Figure(figsize=(1.5 * len(sizes) + 1, 3.6), layout="constrained")
    draw_network(sizes, ax=fig.add_subplot(), n_samples=n_samples)
    return fig


def _normalise(layer_sizes: str | Sequence[int]) -> str:
    if isinstance(layer_sizes, str):
        sizes = parse_layer_sizes(layer_sizes)
    else:
        sizes = check_layer_sizes(layer_sizes)
    if len(sizes) > _MAX_LAYERS:
        raise ValueError(f"at most {_MAX_LAYERS} layer sizes, got {len(sizes)}")
    if max(sizes) > _MAX_WIDTH:
        raise ValueError(f"each layer at most {_MAX_WIDTH:,} units, got {max(sizes):,}")
    return ", ".join(str(s) for s in sizes)


def architecture_explorer(
    layer_sizes: str | Sequence[int] = "2, 4, 3, 1",
    n_samples: int = 8,
    *,
    presets: Sequence[str | Sequence[int]] = PRESETS,
    batch_sizes: Sequence[int] = BATCH_SIZES,
    precompute: bool = True,
) -> Explorer:
    """Pick an architecture and a batch size; see the diagram, the parameter count and every shape.

    Parameters
    ----------
    layer_sizes : str or list of int, default "2, 4, 3, 1"
        The architecture selected at the start; added to ``presets`` when it is
        not one of them (at most 8 layers, each at most 100,000 units).
    n_samples : int, default 8
        Initial batch size; added to ``batch_sizes`` when missing.
    presets : sequence of str or list of int, default :data:`PRESETS`
        The architectures the drop-down offers (in a live kernel, pass your own).
    batch_sizes : sequence of int, default :data:`BATCH_SIZES`
    precompute : bool, default True
        See :func:`dlbasics.widgets.display.explorer`.

    Returns
    -------
    Explorer
        See :func:`dlbasics.widgets.display.explorer`; ``show(layer_sizes="5, 3, 2")``
        draws any architecture in a live kernel.
    """
    from dlbasics.widgets.display import Control, Layer, explorer

    first = _normalise(layer_sizes)
    options = list(dict.fromkeys([first, *(_normalise(p) for p in presets)]))
    check_int(n_samples, "n_samples", minimum=1, maximum=256)
    batches = sorted({int(n_samples), *(int(n) for n in batch_sizes)})
    controls = [
        Control("layer_sizes", options, first, "layer sizes", kind="dropdown"),
        Control("n_samples", batches, int(n_samples), "batch n"),
    ]
    layers = [Layer(_diagram, ("layer_sizes", "n_samples")),
              Layer(_summary, ("layer_sizes", "n_samples"), cell=(0, 1))]
    return explorer(controls, layers, precompute=precompute, rows=[["layer_sizes", "n_samples"]])
