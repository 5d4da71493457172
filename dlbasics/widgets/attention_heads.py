"""What the heads of a Transformer look at: attention maps over real inputs.

The functions take attention weights that a model has already computed, so
they work with any model (NumPy or PyTorch): for each text a list of tokens
(characters, for a character-level model) and an array of weights of shape
``(n_layers, n_heads, T, T)``, where row ``i`` of a head's map holds the
weights that query position ``i`` puts on the keys ``j`` (each row sums to 1;
a causal model leaves ``j > i`` at 0).

:func:`plot_attention_heads` draws every head of one layer side by side (the
static figure for the printed page); :func:`attention_head_explorer` lets a
reader choose the text, the layer and the head. Every combination is drawn
ahead, so the explorer works on the static site without a kernel.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from dlbasics.validation import as_float_array, format_shape
from dlbasics.widgets.display import Explorer

__all__ = ["attention_head_explorer", "plot_attention_head", "plot_attention_heads", "token_label"]

#: How invisible characters are shown on the axes.
_VISIBLE = {" ": "\u2423", "\n": "\u21b5", "\t": "\u21e5"}


def token_label(token: str) -> str:
    """A printable label for a token: a space shows as ``␣`` and a newline as ``↵``."""
    return "".join(_VISIBLE.get(c, c) for c in token)


def plot_attention_head(
    tokens: Sequence[str], weights: np.ndarray, ax: Axes | None = None, title: str | None = None
) -> Figure:
    """Heat map of one head's attention: queries down, keys across.

    Parameters
    ----------
    tokens : sequence of str, length T
        The input, one entry per position.
    weights : numpy.ndarray, shape (T, T)
        ``weights[i, j]``: how much query position ``i`` attends to key ``j``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    tokens = list(tokens)
    weights = _check_maps(tokens, weights, ndim=2)
    if ax is None:
        fig = Figure(figsize=(6.4, 6.0), layout="constrained")
        ax = fig.subplots()
    else:
        fig = ax.figure
    image = ax.imshow(weights, cmap="Blues", vmin=0.0, vmax=1.0)
    labels = [token_label(t) for t in tokens]
    steps = len(tokens)
    ax.set_xticks(range(steps), labels, fontsize=8, family="monospace")
    ax.set_yticks(range(steps), labels, fontsize=8, family="monospace")
    ax.tick_params(length=0)
    ax.set_xlabel("key position j (the token attended to)")
    ax.set_ylabel("query position i (the token attending)")
    if title:
        ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.04, label="attention weight")
    return fig


def plot_attention_heads(tokens: Sequence[str], weights: np.ndarray, layer: int = 0) -> Figure:
    """Every head of one layer side by side, for the printed page.

    Parameters
    ----------
    tokens : sequence of str, length T
    weights : numpy.ndarray, shape (n_layers, n_heads, T, T)
    layer : int, default 0

    Returns
    -------
    matplotlib.figure.Figure
        One heat map per head, titled ``layer L, head H`` (counted from 1).
    """
    tokens = list(tokens)
    weights = _check_maps(tokens, weights, ndim=4)
    if not 0 <= layer < weights.shape[0]:
        raise ValueError(f"layer must be in [0, {weights.shape[0] - 1}], got {layer!r}")
    n_heads = weights.shape[1]
    fig = Figure(figsize=(3.3 * n_heads, 3.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, n_heads))
    labels = [token_label(t) for t in tokens]
    for h, ax in enumerate(axes):
        ax.imshow(weights[layer, h], cmap="Blues", vmin=0.0, vmax=1.0)
        ax.set_xticks(range(len(tokens)), labels, fontsize=6, family="monospace")
        ax.set_yticks(range(len(tokens)), labels, fontsize=6, family="monospace")
        ax.tick_params(length=0)
        ax.set_title(f"layer {layer + 1}, head {h + 1}", fontsize=9)
        ax.set_xlabel("key j", fontsize=8)
    axes[0].set_ylabel("query i", fontsize=8)
    return fig


def attention_head_explorer(
    texts: Sequence[Sequence[str]],
    weights: Sequence[np.ndarray],
    *,
    names: Sequence[str] | None = None,
    precompute: bool = True,
) -> Explorer:
    """Choose a text, a layer and a head; see that head's attention map over the text.

    Parameters
    ----------
    texts : sequence of sequences of str
        The inputs, each a sequence of tokens (a str is a sequence of characters).
    weights : sequence of numpy.ndarray
        For each text, its weights ``(n_layers, n_heads, T, T)`` with ``T``
        its length; every text has the same numbers of layers and heads.
    names : sequence of str, optional
        What the text drop-down shows (default: the texts, shortened).
    precompute : bool, default True
        See :func:`dlbasics.widgets.display.explorer`.

    Returns
    -------
    Explorer
        A drop-down for the text, toggle buttons for the layer and the head,
        and the heat map; see :func:`dlbasics.widgets.display.explorer`.
    """
    texts = [list(t) for t in texts]
    weights = list(weights)
    if not texts or len(texts) != len(weights):
        raise ValueError(
            f"texts and weights must be non-empty and of one length, got {len(texts)} texts and "
            f"{len(weights)} weight arrays"
        )
    maps = [_check_maps(t, w, ndim=4) for t, w in zip(texts, weights, strict=True)]
    shapes = {m.shape[:2] for m in maps}
    if len(shapes) != 1:
        raise ValueError(f"every text needs the same (n_layers, n_heads), got {sorted(shapes)}")
    n_layers, n_heads = maps[0].shape[:2]
    if names is None:
        names = [_short("".join(token_label(tok) for tok in t)) for t in texts]
    if len(names) != len(texts) or len(set(names)) != len(names):
        raise ValueError("names must give each text its own, distinct name")
    from dlbasics.widgets.display import Control, Layer, explorer

    controls = [
        Control("text", tuple(range(len(texts))), 0, "text", kind="dropdown",
                labels=list(names), width="520px"),
        Control("layer", tuple(range(n_layers)), 0, "layer", kind="toggle",
                labels=[str(i + 1) for i in range(n_layers)]),
        Control("head", tuple(range(n_heads)), 0, "head", kind="toggle",
                labels=[str(i + 1) for i in range(n_heads)]),
    ]

    def draw(text: int, layer: int, head: int) -> Figure:
        return plot_attention_head(texts[text], maps[text][layer, head],
                                   title=f"layer {layer + 1}, head {head + 1}")

    return explorer(controls, [Layer(draw, ("text", "layer", "head"))], precompute=precompute,
                    rows=[["text"], ["layer", "head"]])


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def _check_maps(tokens: list[Any], weights: object, ndim: int) -> np.ndarray:
    """Weights of shape (..., T, T) for T tokens, non-negative, rows summing to 1."""
    if not tokens or not all(isinstance(t, str) for t in tokens):
        raise TypeError("tokens must be a non-empty sequence of str")
    arr = as_float_array(weights, "weights", ndim=ndim)
    steps = len(tokens)
    if arr.shape[-2:] != (steps, steps):
        lead = "(n_layers, n_heads, T, T)" if ndim == 4 else "(T, T)"
        raise ValueError(
            f"weights have shape {format_shape(arr.shape)}; expected {lead} with T = {steps}, "
            "the number of tokens"
        )
    if arr.min() < 0 or not np.allclose(arr.sum(axis=-1), 1.0, atol=1e-4):
        raise ValueError("weights must be attention probabilities: non-negative, each row summing to 1")
    return arr
