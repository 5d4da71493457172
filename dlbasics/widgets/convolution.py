r"""One convolution on one image: kernel, stride, padding and the output size (chapter 8).

:func:`convolve_image` slides a single :math:`k\times k` kernel over a
grey-scale image with :func:`dlbasics.conv2d_forward`;
:func:`plot_convolution` draws the padded input (with the first window
outlined), the kernel's weights and the feature map, and states the output
size :math:`\lfloor (n + 2p - k)/s \rfloor + 1`; :func:`plot_convolution_grid`
is the static small-multiples version (one row per kernel, one column per
setting). :func:`convolution_explorer` puts a few discrete controls (image,
kernel, stride, padding) in front of :func:`plot_convolution`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from dlbasics.layers import conv2d_forward, conv_output_size
from dlbasics.validation import as_float_array, check_choice, check_int, format_shape
from dlbasics.widgets.display import Explorer

__all__ = [
    "KERNELS",
    "PADDINGS",
    "STRIDES",
    "convolution_explorer",
    "convolve_image",
    "plot_convolution",
    "plot_convolution_grid",
]

#: Hand-made kernels the explorer offers, each a (k, k) array of weights.
KERNELS: dict[str, np.ndarray] = {
    "identity 3x3": np.array([[0.0, 0, 0], [0, 1, 0], [0, 0, 0]]),
    "vertical edge (Sobel)": np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]),
    "horizontal edge (Sobel)": np.array([[-1.0, -2, -1], [0, 0, 0], [1, 2, 1]]),
    "diagonal edge": np.array([[0.0, 1, 2], [-1, 0, 1], [-2, -1, 0]]),
    "blur 3x3": np.full((3, 3), 1 / 9),
    "blur 5x5": np.full((5, 5), 1 / 25),
    "sharpen": np.array([[0.0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
    "outline (Laplacian)": np.array([[-1.0, -1, -1], [-1, 8, -1], [-1, -1, -1]]),
}

#: Strides and paddings the explorer offers (few values, so every setting can be precomputed).
STRIDES = (1, 2, 3)
PADDINGS = (0, 1, 2)


def _kernel(kernel: str | np.ndarray) -> tuple[str, np.ndarray]:
    if isinstance(kernel, str):
        return kernel, KERNELS[check_choice(kernel, "kernel", tuple(KERNELS))]
    arr = as_float_array(kernel, "kernel", ndim=2)
    if arr.shape[0] != arr.shape[1]:
        raise ValueError(f"kernel must be square (k, k), got shape {format_shape(arr.shape)}")
    return f"custom {arr.shape[0]}x{arr.shape[1]}", arr


def _image(image: Any) -> np.ndarray:
    arr = as_float_array(image, "image")
    if arr.ndim == 1:
        side = int(round(np.sqrt(arr.size)))
        if side * side != arr.size:
            raise ValueError(f"a flat image must have a square number of pixels, got {arr.size}")
        arr = arr.reshape(side, side)
    if arr.ndim != 2:
        raise ValueError(
            f"image must be one grey-scale image (H, W) or a flat square row, got shape "
            f"{format_shape(arr.shape)}"
        )
    return arr


def convolve_image(
    image: Any, kernel: str | np.ndarray, stride: int = 1, padding: int = 0
) -> np.ndarray:
    """Cross-correlate one grey-scale image with one kernel (no bias).

    Parameters
    ----------
    image : array_like, shape (H, W) or (H * W,)
    kernel : str or array_like, shape (k, k)
        A name from :data:`KERNELS` or the weights themselves.
    stride : int, default 1
    padding : int, default 0
        Zeros added on every side.

    Returns
    -------
    numpy.ndarray, shape (oh, ow)
        ``oh = (H + 2 * padding - k) // stride + 1``, likewise ``ow``; the
        image's dtype.
    """
    img = _image(image)
    _, w = _kernel(kernel)
    stride = check_int(stride, "stride", minimum=1)
    padding = check_int(padding, "padding", minimum=0)
    w = w.astype(img.dtype)
    out, _ = conv2d_forward(
        img[None, None], w[None, None], np.zeros(1, dtype=img.dtype), stride=stride, padding=padding
    )
    return out[0, 0]


def _size_formula(n: int, k: int, s: int, p: int) -> str:
    return f"⌊({n} + 2·{p} − {k}) / {s}⌋ + 1 = {conv_output_size(n, k, s, p)}"


def plot_convolution(
    image: Any,
    kernel: str | np.ndarray = "vertical edge (Sobel)",
    stride: int = 1,
    padding: int = 0,
    axes: Sequence[Axes] | None = None,
    title: str | None = None,
) -> Figure:
    """Three panels: the padded input with the first window, the kernel, the feature map.

    Parameters
    ----------
    image : array_like, shape (H, W) or (H * W,)
    kernel : str or array_like, shape (k, k)
        A name from :data:`KERNELS` or the weights.
    stride, padding : int
    axes : sequence of three matplotlib Axes, optional
        Where to draw; a new figure is made when omitted.
    title : str, optional
        Title of the input panel (default: its size).

    Returns
    -------
    matplotlib.figure.Figure
    """
    img = _image(image)
    name, w = _kernel(kernel)
    out = convolve_image(img, w, stride, padding)
    k, (h, wd) = w.shape[0], img.shape
    if axes is None:
        fig = Figure(figsize=(10.5, 3.4))
        axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.15, 0.8, 1.0]})
    else:
        fig = axes[0].figure
    ax_in, ax_k, ax_out = axes

    padded = np.pad(img, padding)
    ax_in.imshow(padded, cmap="gray_r", vmin=0, vmax=max(float(img.max()), 1e-12))
    if padding:
        ax_in.add_patch(Rectangle((padding - 0.5, padding - 0.5), wd, h, fill=False, ec="tab:blue",
                                  lw=1.2, ls="--"))
    for r, q, color in ((0, 0, "tab:red"), (0, stride, "tab:orange")):
        if q + k <= padded.shape[1]:
            ax_in.add_patch(Rectangle((q - 0.5, r - 0.5), k, k, fill=False, ec=color, lw=2))
    ax_in.set_title(title or f"input {h}×{wd}, padding {padding}\n(red, orange: first two windows)",
                    fontsize=9)

    lim = float(np.abs(w).max()) or 1.0
    ax_k.imshow(w, cmap="RdBu_r", vmin=-lim, vmax=lim)
    if k <= 5:
        for (r, q), v in np.ndenumerate(w):
            ax_k.text(q, r, f"{v:.2g}", ha="center", va="center", fontsize=8,
                      color="white" if abs(v) > 0.6 * lim else "black")
    ax_k.set_title(f"kernel: {name}\n{k}×{k}, stride {stride}", fontsize=9)

    lim = float(np.abs(out).max()) or 1.0
    ax_out.imshow(out, cmap="RdBu_r", vmin=-lim, vmax=lim)
    ax_out.set_title(
        f"feature map {out.shape[0]}×{out.shape[1]}\n{_size_formula(h, k, stride, padding)}",
        fontsize=9,
    )
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


def plot_convolution_grid(
    image: Any,
    kernels: Sequence[str] = ("vertical edge (Sobel)", "horizontal edge (Sobel)", "blur 5x5"),
    settings: Sequence[tuple[int, int]] = ((1, 0), (1, 2), (2, 1), (3, 0)),
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Small multiples: one row per kernel, one column per ``(stride, padding)`` setting.

    Every panel is drawn on the same pixel scale, so the change of output
    size with stride and padding is visible directly.

    Parameters
    ----------
    image : array_like, shape (H, W) or (H * W,)
    kernels : sequence of str
        Names from :data:`KERNELS`.
    settings : sequence of (stride, padding)
    figsize : (float, float), optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    img = _image(image)
    if not kernels or not settings:
        raise ValueError("kernels and settings must each name at least one entry")
    maps = {(kn, st): convolve_image(img, kn, *st) for kn in kernels for st in settings}
    big = max(max(m.shape) for m in maps.values())
    if figsize is None:
        figsize = (1.9 * len(settings) + 1.6, 1.9 * len(kernels) + 0.6)
    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(len(kernels), len(settings) + 1, squeeze=False)
    for row, kn in zip(axes, kernels):
        w = KERNELS[kn]
        lim = float(np.abs(w).max()) or 1.0
        row[0].imshow(w, cmap="RdBu_r", vmin=-lim, vmax=lim)
        row[0].set_title(kn, fontsize=8)
        for ax, st in zip(row[1:], settings):
            m = maps[kn, st]
            lim = float(np.abs(m).max()) or 1.0
            ax.imshow(m, cmap="RdBu_r", vmin=-lim, vmax=lim, extent=(0, m.shape[1], m.shape[0], 0))
            ax.set_xlim(0, big)
            ax.set_ylim(big, 0)
            ax.set_title(f"s={st[0]}, p={st[1]}: {m.shape[0]}×{m.shape[1]}", fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"One {img.shape[0]}×{img.shape[1]} image, each kernel at several strides (s) "
                 "and paddings (p)", fontsize=10)
    return fig


def _readout(img: np.ndarray, kernel: str, stride: int, padding: int) -> str:
    k = KERNELS[kernel].shape[0]
    out = convolve_image(img, kernel, stride, padding)
    n_in = img.shape[0] * img.shape[1]
    return (f"output side {_size_formula(img.shape[0], k, stride, padding)}; "
            f"{out.size} outputs from {n_in} pixels, {k * k} weights shared by all of them")


# Where Matplotlib's tight layout puts the three panels of the explorer's 10.5 x 3.4 inch figure
# (the same for every kernel, stride and padding: two-line titles of the same size). Fixed,
# because the tight layout drew each of the 72 figures twice to measure them.
_EXPLORER_MARGINS = {"left": 0.15 / 10.5, "right": 1 - 0.15 / 10.5, "bottom": 0.15 / 3.4,
                     "top": 0.8556351007199756, "wspace": 1 / 22}


def convolution_explorer(
    images: Any, labels: Sequence[Any] | None = None, *, precompute: bool = True
) -> Explorer:
    """Choose an image, a kernel, a stride and a padding; see the feature map and its size.

    Parameters
    ----------
    images : array_like, shape (n, H, W) or (n, H * W)
        A few grey-scale images to choose from (e.g. 28×28 digits).
    labels : sequence, optional
        One label per image, shown in the image menu.
    precompute : bool, default True
        See :func:`dlbasics.widgets.display.explorer`: every setting is drawn
        ahead for the static page.

    Returns
    -------
    Explorer
        Four drop-downs (image, kernel from ``KERNELS``, stride from
        ``STRIDES``, padding from ``PADDINGS``), a read-out of the
        output-size formula and the figure of :func:`plot_convolution`; see
        :func:`dlbasics.widgets.display.explorer`.
    """
    arr = as_float_array(images, "images")
    if arr.ndim not in (2, 3):
        raise ValueError(
            f"images must be (n, H, W) or flat square rows (n, H * W), got shape "
            f"{format_shape(arr.shape)}"
        )
    imgs = [_image(a) for a in arr]
    if labels is not None and len(labels) != len(imgs):
        raise ValueError(f"got {len(labels)} labels for {len(imgs)} images")
    from dlbasics.widgets.display import Control, Layer, explorer

    names = [f"image {i}" + (f" (label {labels[i]})" if labels is not None else "")
             for i in range(len(imgs))]
    controls = [
        Control("image", tuple(range(len(imgs))), 0, "image", kind="dropdown", labels=names,
                width="220px"),
        Control("kernel", tuple(KERNELS), "vertical edge (Sobel)", "kernel", kind="dropdown",
                width="300px"),
        Control("stride", STRIDES, 1, "stride", kind="dropdown", width="130px"),
        Control("padding", PADDINGS, 0, "padding", kind="dropdown", width="140px"),
    ]

    def readout(image: int, kernel: str, stride: int, padding: int) -> str:
        return _readout(imgs[image], kernel, stride, padding)

    def draw(image: int, kernel: str, stride: int, padding: int) -> Figure:
        fig = plot_convolution(imgs[image], kernel, stride, padding)
        fig.subplots_adjust(**_EXPLORER_MARGINS)
        return fig

    depends = ("image", "kernel", "stride", "padding")
    return explorer(controls, [Layer(readout, depends), Layer(draw, depends, cell=(1, 0))],
                    precompute=precompute, rows=[list(depends)])
