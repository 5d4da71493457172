"""What a convolutional network sees: filters and feature maps of :class:`~dlbasics.SimpleCNN`.

:func:`conv_feature_maps` computes the maps of one convolution layer,
:func:`plot_feature_maps` draws filters and maps as small multiples (the static
figure of chapter 7), and :func:`feature_map_explorer` lets a reader pick an
image, a layer and a filter and see the map that filter produces.

The functions work with any model that has ``conv1``, ``conv2`` (both
:class:`torch.nn.Conv2d`) and ``pool`` attributes used the way
:class:`dlbasics.SimpleCNN` uses them: ``conv2`` reads
``pool(relu(conv1(x)))``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Image
from matplotlib.figure import Figure
from torch import nn

from dlbasics.validation import format_shape

__all__ = [
    "FeatureMapExplorer",
    "conv_feature_maps",
    "feature_map_explorer",
    "plot_feature_maps",
]

LAYERS = ("conv1", "conv2")


def _check_model(model: Any) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be a torch.nn.Module such as dlbasics.SimpleCNN, got {type(model).__name__}"
        )
    for name in LAYERS:
        if not isinstance(getattr(model, name, None), nn.Conv2d):
            raise TypeError(
                f"model needs a torch.nn.Conv2d attribute {name!r} (like dlbasics.SimpleCNN); "
                f"{type(model).__name__} has none"
            )
    if not isinstance(getattr(model, "pool", None), nn.Module):
        raise TypeError("model needs a pooling module attribute 'pool' (like dlbasics.SimpleCNN)")
    return model


def _check_layer(layer: str) -> str:
    if layer not in LAYERS:
        raise ValueError(f"layer must be one of {', '.join(map(repr, LAYERS))}, got {layer!r}")
    return layer


def _as_images(model: nn.Module, images: Any) -> torch.Tensor:
    """``(n, c, s, s)`` float tensor in the model's dtype from flat rows, images or a tensor."""
    c = model.conv1.in_channels
    p = next(model.parameters())
    x = images.detach() if isinstance(images, torch.Tensor) else torch.from_numpy(np.asarray(images))
    if not (x.is_floating_point() or x.dtype in (torch.uint8, torch.int64, torch.int32)):
        raise TypeError(f"images must be numbers, got dtype {x.dtype}")
    x = x.to(dtype=p.dtype, device=p.device)
    if x.ndim == 2:  # flat rows (n, c * s * s), e.g. from dlbasics.load_digits
        side = int(round((x.shape[1] / c) ** 0.5))
        if c * side * side != x.shape[1]:
            raise ValueError(
                f"images of shape {format_shape(x.shape)} are not flat square images "
                f"with {c} channel(s); expected (n, {c} * side * side)"
            )
        x = x.reshape(-1, c, side, side)
    elif x.ndim == 3 and c == 1:
        x = x.unsqueeze(1)
    if x.ndim != 4 or x.shape[1] != c or x.shape[2] != x.shape[3]:
        raise ValueError(
            f"images must have shape (n, {c}, s, s)" + (", (n, s, s)" if c == 1 else "")
            + f" or flat rows (n, {c} * s * s), got {format_shape(tuple(x.shape))}"
        )
    if x.shape[0] == 0:
        raise ValueError("images is empty; expected at least one image")
    return x


def conv_feature_maps(
    model: nn.Module, images: Any, layer: str = "conv1", after_relu: bool = True
) -> np.ndarray:
    """Feature maps of one convolution layer of a SimpleCNN-like model.

    Parameters
    ----------
    model : torch.nn.Module
        Has ``conv1``, ``conv2`` and ``pool`` like :class:`dlbasics.SimpleCNN`.
    images : array_like or Tensor
        ``(n, c, s, s)``, ``(n, s, s)`` (one channel) or flat rows ``(n, c*s*s)``.
    layer : {"conv1", "conv2"}, default "conv1"
        ``conv1`` reads the image; ``conv2`` reads ``pool(relu(conv1(image)))``.
    after_relu : bool, default True
        Return ``relu(conv(x))`` (what the next layer sees) instead of ``conv(x)``.

    Returns
    -------
    numpy.ndarray, shape (n, filters, h, w)
        ``h = w = s`` for ``conv1`` and ``s // 2`` for ``conv2`` (the convolutions pad by 1).
    """
    model = _check_model(model)
    layer = _check_layer(layer)
    x = _as_images(model, images)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            z = model.conv1(x)
            if layer == "conv2":
                z = model.conv2(model.pool(torch.relu(z)))
            if after_relu:
                z = torch.relu(z)
    finally:
        model.train(was_training)
    return z.cpu().numpy()


def _kernel_image(model: nn.Module, layer: str, f: int) -> tuple[np.ndarray, str]:
    """The weights of filter ``f`` as one 2-D image, and a title for it.

    A ``conv1`` filter of a grey-scale model is one 3×3 kernel. A ``conv2``
    filter has one kernel per input channel: they are tiled in a grid (with
    blank gaps) so all of them are visible at once.
    """
    w = getattr(model, layer).weight.detach().cpu().numpy()[f]  # (c, kh, kw)
    c, kh, kw = w.shape
    if c == 1:
        return w[0], f"{layer} filter {f}: {kh}×{kw} weights"
    cols = int(np.ceil(np.sqrt(c * 2)))  # a wide grid: 32 channels -> 8 columns
    rows = int(np.ceil(c / cols))
    tiled = np.full((rows * (kh + 1) - 1, cols * (kw + 1) - 1), np.nan)
    for ch in range(c):
        r, q = divmod(ch, cols)
        tiled[r * (kh + 1) : r * (kh + 1) + kh, q * (kw + 1) : q * (kw + 1) + kw] = w[ch]
    return tiled, f"{layer} filter {f}: {kh}×{kw} weights on each of {c} channels"


def _png(fig: Figure, dpi: int = 80) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def _symmetric_limit(a: np.ndarray) -> float:
    m = float(np.nanmax(np.abs(a))) if np.isfinite(a).any() else 1.0
    return m if m > 0 else 1.0


def plot_feature_maps(
    model: nn.Module,
    images: Any,
    filters: Sequence[int] | None = None,
    layer: str = "conv1",
    labels: Sequence[Any] | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Small multiples: each filter's weights (top row) and its map for each image (one row each).

    Parameters
    ----------
    model : torch.nn.Module
        SimpleCNN-like (``conv1``, ``conv2``, ``pool``).
    images : array_like or Tensor
        A few images, ``(n, ...)`` as for :func:`conv_feature_maps`.
    filters : sequence of int, optional
        Which filters of ``layer`` to show (default: the first 8).
    layer : {"conv1", "conv2"}, default "conv1"
    labels : sequence, optional
        One label per image, shown next to it.
    figsize : (float, float), optional

    Returns
    -------
    matplotlib.figure.Figure
        ``(1 + n)`` rows and ``1 + len(filters)`` columns; the first column
        shows the input images.
    """
    model = _check_model(model)
    layer = _check_layer(layer)
    x = _as_images(model, images)
    n_filters = getattr(model, layer).out_channels
    filters = list(range(min(8, n_filters))) if filters is None else [int(f) for f in filters]
    if not filters:
        raise ValueError("filters is empty; expected at least one filter index")
    bad = [f for f in filters if not 0 <= f < n_filters]
    if bad:
        raise ValueError(f"{layer} has filters 0..{n_filters - 1}; got {bad}")
    if labels is not None and len(labels) != len(x):
        raise ValueError(f"got {len(labels)} labels for {len(x)} images")
    maps = conv_feature_maps(model, x, layer)[:, filters]  # (n, k, h, w)
    n, k = len(x), len(filters)
    if figsize is None:
        figsize = (1.15 * (k + 1), 1.2 * (n + 1) + 0.5)
    fig, axes = plt.subplots(n + 1, k + 1, figsize=figsize, squeeze=False)
    axes[0, 0].axis("off")
    axes[0, 0].text(0.5, 0.5, "filter\nweights", ha="center", va="center", fontsize=9)
    for j, f in enumerate(filters, start=1):
        kimg, _ = _kernel_image(model, layer, f)
        lim = _symmetric_limit(kimg)
        axes[0, j].imshow(kimg, cmap="RdBu_r", vmin=-lim, vmax=lim)
        axes[0, j].set_title(f"filter {f}", fontsize=9)
    vmax = float(maps.max()) if maps.max() > 0 else 1.0
    for i in range(n):
        axes[i + 1, 0].imshow(x[i, 0].cpu().numpy(), cmap="gray_r")
        name = f"label {labels[i]}" if labels is not None else f"image {i}"
        axes[i + 1, 0].set_title(name, fontsize=9)
        for j in range(k):
            axes[i + 1, j + 1].imshow(maps[i, j], cmap="magma", vmin=0, vmax=vmax)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(
        f"{layer}: filters (red > 0, blue < 0) and their ReLU feature maps (bright = strong)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


class FeatureMapExplorer(widgets.VBox):
    """The widget :func:`feature_map_explorer` returns.

    Attributes
    ----------
    image_slider, filter_slider : ipywidgets.IntSlider
    layer_dropdown : ipywidgets.Dropdown
    output : ipywidgets.Output
        Holds the current figure.
    feature_map : numpy.ndarray
        The map on display, shape ``(h, w)`` (after ReLU).
    prediction : int
        The model's class for the image on display.
    """

    def __init__(self, model: nn.Module, images: torch.Tensor, labels: Sequence[Any] | None) -> None:
        self._model = model
        self._images = images
        self._labels = labels
        style = {"description_width": "initial"}
        self.image_slider = widgets.IntSlider(
            value=0, min=0, max=len(images) - 1, description="image", continuous_update=False,
            style=style,
        )
        self.layer_dropdown = widgets.Dropdown(options=list(LAYERS), value="conv1", description="layer")
        self.filter_slider = widgets.IntSlider(
            value=0, min=0, max=model.conv1.out_channels - 1, description="filter",
            continuous_update=False, style=style,
        )
        self.output = widgets.Output(layout=widgets.Layout(min_height="250px"))
        self.feature_map = np.zeros((0, 0))
        self.prediction = -1
        controls = widgets.HBox([self.image_slider, self.layer_dropdown, self.filter_slider])
        super().__init__([controls, self.output])
        self.image_slider.observe(self._redraw, names="value")
        self.filter_slider.observe(self._redraw, names="value")
        self.layer_dropdown.observe(self._change_layer, names="value")
        self._redraw()

    def _change_layer(self, change: Any = None) -> None:
        n_filters = getattr(self._model, self.layer_dropdown.value).out_channels
        self.filter_slider.max = n_filters - 1  # clamps the value when it is too large
        self._redraw()

    def _redraw(self, change: Any = None) -> None:
        i, f, layer = self.image_slider.value, self.filter_slider.value, self.layer_dropdown.value
        x = self._images[i : i + 1]
        self.feature_map = conv_feature_maps(self._model, x, layer)[0, f]
        pre = conv_feature_maps(self._model, x, layer, after_relu=False)[0, f]
        was_training = self._model.training
        self._model.eval()
        with torch.no_grad():
            self.prediction = int(self._model(x).argmax(dim=1)[0])
        self._model.train(was_training)
        kimg, ktitle = _kernel_image(self._model, layer, f)

        fig = Figure(figsize=(11, 2.9))
        axes = fig.subplots(1, 4)
        truth = f", label {self._labels[i]}" if self._labels is not None else ""
        axes[0].imshow(x[0, 0].cpu().numpy(), cmap="gray_r")
        axes[0].set_title(f"image {i}{truth}\npredicted {self.prediction}", fontsize=9)
        lim = _symmetric_limit(kimg)
        im = axes[1].imshow(kimg, cmap="RdBu_r", vmin=-lim, vmax=lim)
        axes[1].set_title(ktitle.replace(": ", ":\n"), fontsize=9)
        fig.colorbar(im, ax=axes[1], fraction=0.046)
        lim = _symmetric_limit(pre)
        im = axes[2].imshow(pre, cmap="RdBu_r", vmin=-lim, vmax=lim)
        axes[2].set_title(f"{layer} output, filter {f}\n(before ReLU)", fontsize=9)
        fig.colorbar(im, ax=axes[2], fraction=0.046)
        im = axes[3].imshow(self.feature_map, cmap="magma", vmin=0)
        axes[3].set_title(f"feature map after ReLU\n{pre.shape[0]}×{pre.shape[1]}", fontsize=9)
        fig.colorbar(im, ax=axes[3], fraction=0.046)
        for ax in axes:
            ax.set_xticks([])
            ax.set_yticks([])
        fig.tight_layout()
        self.output.outputs = ()
        self.output.append_display_data(Image(data=_png(fig), format="png"))


def feature_map_explorer(
    model: nn.Module, images: Any, labels: Sequence[Any] | None = None
) -> FeatureMapExplorer:
    """Pick an image, a convolution layer and a filter; see the filter and its feature map.

    Parameters
    ----------
    model : torch.nn.Module
        A trained SimpleCNN-like model (``conv1``, ``conv2``, ``pool``).
    images : array_like or Tensor
        The images to choose from, ``(n, ...)`` as for :func:`conv_feature_maps`.
    labels : sequence, optional
        True labels, shown in the image's title.

    Returns
    -------
    FeatureMapExplorer
        A :class:`ipywidgets.VBox`: sliders for the image and filter, a
        dropdown for the layer, and the figure (image, filter weights,
        convolution output, feature map after ReLU).
    """
    model = _check_model(model)
    x = _as_images(model, images)
    if labels is not None and len(labels) != len(x):
        raise ValueError(f"got {len(labels)} labels for {len(x)} images")
    return FeatureMapExplorer(model, x, None if labels is None else list(labels))
