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

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure

from dlbasics.validation import check_choice, format_shape
from dlbasics.widgets.display import Explorer

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = [
    "conv_feature_maps",
    "feature_map_explorer",
    "plot_feature_maps",
]

LAYERS = ("conv1", "conv2")


def _check_model(model: Any) -> nn.Module:
    from torch import nn

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
    return check_choice(layer, "layer", LAYERS)


def _as_images(model: nn.Module, images: Any) -> torch.Tensor:
    """``(n, c, s, s)`` float tensor in the model's dtype from flat rows, images or a tensor."""
    import torch

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
    import torch

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
    fig = Figure(figsize=figsize)
    axes = fig.subplots(n + 1, k + 1, squeeze=False)
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


def _image_panel(image: np.ndarray, title: str) -> Figure:
    fig = Figure(figsize=(2.3, 2.6))
    ax = fig.add_axes((0.05, 0.03, 0.9, 0.75))
    ax.imshow(image, cmap="gray_r")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


def _map_panels(kernel: np.ndarray, ktitle: str, pre: np.ndarray, post: np.ndarray,
                title: str) -> Figure:
    """Filter weights, the convolution's output before ReLU, and the feature map after it."""
    fig = Figure(figsize=(7.6, 2.6))
    panels = [(kernel, "RdBu_r", _symmetric_limit(kernel), ktitle.replace(": ", ":\n")),
              (pre, "RdBu_r", _symmetric_limit(pre), f"{title}\n(before ReLU)"),
              (post, "magma", None, f"feature map after ReLU\n{post.shape[0]}×{post.shape[1]}")]
    for k, (data, cmap, lim, text) in enumerate(panels):
        ax = fig.add_axes((0.02 + 0.33 * k, 0.03, 0.24, 0.72))
        if lim is None:
            im = ax.imshow(data, cmap=cmap, vmin=0)
        else:
            im = ax.imshow(data, cmap=cmap, vmin=-lim, vmax=lim)
        fig.colorbar(im, cax=fig.add_axes((0.27 + 0.33 * k, 0.03, 0.012, 0.72)))
        ax.set_title(text, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


def feature_map_explorer(
    model: nn.Module,
    images: Any,
    labels: Sequence[Any] | None = None,
    *,
    filters: int = 8,
    precompute: bool = True,
) -> Explorer:
    """Pick an image, a convolution layer and a filter; see the filter and its feature map.

    The model runs once, on every image, when the explorer is built; the
    controls only choose among its results.

    Parameters
    ----------
    model : torch.nn.Module
        A trained SimpleCNN-like model (``conv1``, ``conv2``, ``pool``).
    images : array_like or Tensor
        The images to choose from, ``(n, ...)`` as for :func:`conv_feature_maps`
        (each one is precomputed for the static page: a handful is plenty).
    labels : sequence, optional
        True labels, shown in the image's title.
    filters : int, default 8
        How many filters of each layer the filter slider offers (the first ones).
    precompute : bool, default True
        See :func:`dlbasics.widgets.display.explorer`.

    Returns
    -------
    Explorer
        See :func:`dlbasics.widgets.display.explorer`; ``data["predictions"]``
        holds the model's class for each image.
    """
    import torch

    from dlbasics.widgets.display import Control, Layer, explorer

    model = _check_model(model)
    x = _as_images(model, images)
    if labels is not None and len(labels) != len(x):
        raise ValueError(f"got {len(labels)} labels for {len(x)} images")
    n_filters = min(int(filters), *(getattr(model, name).out_channels for name in LAYERS))
    if n_filters < 1:
        raise ValueError(f"filters must be at least 1, got {filters!r}")
    # the model, once: every map of every image, before and after ReLU, and the predictions
    pre = {name: conv_feature_maps(model, x, name, after_relu=False) for name in LAYERS}
    was_training = model.training
    model.eval()
    with torch.no_grad():
        predictions = model(x).argmax(dim=1).cpu().numpy()
    model.train(was_training)
    pictures = x[:, 0].cpu().numpy()

    def image_panel(image: int) -> Figure:
        truth = f", label {labels[image]}" if labels is not None else ""
        return _image_panel(pictures[image], f"image {image}{truth}\npredicted {predictions[image]}")

    def map_panels(image: int, layer: str, filter: int) -> Figure:
        kimg, ktitle = _kernel_image(model, layer, filter)
        z = pre[layer][image, filter]
        return _map_panels(kimg, ktitle, z, np.maximum(z, 0), f"{layer} output, filter {filter}")

    controls = [
        Control("image", tuple(range(len(x))), 0, "image"),
        Control("layer", LAYERS, "conv1", "layer", kind="toggle"),
        Control("filter", tuple(range(n_filters)), 0, "filter"),
    ]
    layers = [Layer(image_panel, ("image",)),
              Layer(map_panels, ("image", "layer", "filter"), cell=(0, 1))]
    box = explorer(controls, layers, precompute=precompute, rows=[["image", "layer", "filter"]])
    box.data["predictions"] = predictions
    return box
