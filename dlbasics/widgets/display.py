r"""One explorer mechanism for the live notebook and the static book.

An explorer is a list of :class:`Control` (each with a finite grid of values)
and one or more :class:`Layer` (a pure function of some of the controls'
values that returns a Matplotlib figure or an HTML string). :func:`explorer`
builds the widget:

* **Static page, no kernel.** Every layer is drawn once for every combination
  of the values it depends on, when the notebook runs. The images sit in
  nested :class:`ipywidgets.Stack` containers, one level per control, and each
  level's ``selected_index`` is linked to its control's ``index`` with
  :func:`ipywidgets.jsdlink`. The links and the images are saved in the
  notebook's widget state, so the page the book builds switches figures in the
  browser, with no Python running. Identical images are stored once.
* **Live kernel.** The same controls, the same links; in addition
  ``explorer.show(**values)`` draws the layers for *any* values (off the grid too)
  and shows them until a control moves, and ``precompute=False`` skips the
  grid and redraws on every change instead.

Layers sharing a ``cell`` are drawn on top of each other (transparent PNGs of
the same size), so a figure whose parts depend on different controls costs the
*sum* of the parts' grids instead of their product.

:func:`png` is the one figure-to-PNG helper of the explorers: colours reduced
to a palette, so that a page with a few hundred precomputed figures stays
small. Each image holds :data:`PIXEL_RATIO` pixels per CSS pixel and is shown
at its CSS size (``DPI`` CSS pixels per inch of the figure), so it stays sharp
on high-density (2x) screens.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from matplotlib.figure import Figure

from dlbasics.validation import check_choice

__all__ = ["DPI", "PIXEL_RATIO", "Control", "Explorer", "Layer", "explorer", "png", "static_view"]

#: Displayed size of explorer images: CSS pixels per inch of the figure size.
DPI = 64

#: Image pixels per CSS pixel: explorer images are drawn at ``DPI * PIXEL_RATIO``
#: dots per inch and shown at ``DPI``, sharp on a 2x (high-density) screen.
PIXEL_RATIO = 2

#: Kinds of control: a selection slider, a drop-down, or a row of toggle buttons.
KINDS = ("slider", "dropdown", "toggle")


def _shared_renderer_canvas(fig: Figure) -> Any:
    """An Agg canvas for ``fig`` that draws with one renderer per image size.

    Matplotlib gives every new figure a new renderer, and caches the layout of
    text (tick labels, mathtext such as ``$10^{-30}$``) per renderer, so a grid
    of hundreds of figures parsed and measured the same labels hundreds of
    times. Drawing them all with one renderer (it is cleared before every
    figure) gives the same pixels and reuses those caches.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg

    class SharedRendererCanvas(FigureCanvasAgg):
        def get_renderer(self) -> RendererAgg:
            w, h = self.get_width_height(physical=True)
            key = w, h, self.figure.dpi
            if key not in _RENDERERS:
                if len(_RENDERERS) >= 16:  # a few image sizes per explorer: keep the newest
                    _RENDERERS.pop(next(iter(_RENDERERS)))
                _RENDERERS[key] = RendererAgg(w, h, self.figure.dpi)
            self.renderer = _RENDERERS[key]
            return self.renderer

    return SharedRendererCanvas(fig)


_RENDERERS: dict[tuple[int, int, float], Any] = {}


def png(fig: Figure, dpi: int = DPI, colors: int = 64, transparent: bool = False) -> bytes:
    """The figure as a compact PNG: ``dpi`` dots per inch, at most ``colors`` colours.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        Saved at its own size (no tight bounding box), so that layers drawn
        on figures of one size line up pixel for pixel.
    dpi : int, default :data:`DPI`
    colors : int, default 64
        Size of the palette (Pillow's quantizer); 0 keeps full colour.
    transparent : bool, default False
        Transparent background, for a layer drawn over another.

    Returns
    -------
    bytes
    """
    buf = io.BytesIO()
    if not colors:
        fig.savefig(buf, format="png", dpi=dpi, transparent=transparent)
        return buf.getvalue()
    from PIL import Image  # Pillow comes with Matplotlib

    # The rendered pixels themselves (what the PNG would hold), not a PNG to decode again:
    # a third of the time of an explorer's grid went into that round trip.
    _shared_renderer_canvas(fig)
    fig.savefig(buf, format="rgba", dpi=dpi, transparent=transparent)
    size = int(fig.get_figwidth() * dpi), int(fig.get_figheight() * dpi)  # as Agg sizes it
    if len(buf.getbuffer()) == 4 * size[0] * size[1]:
        image = Image.frombuffer("RGBA", size, buf.getbuffer(), "raw", "RGBA", 0, 1)
    else:  # pragma: no cover - a canvas that sizes itself otherwise: decode its PNG
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, transparent=transparent)
        buf.seek(0)
        image = Image.open(buf)
    if transparent:
        small = image.convert("RGBA").quantize(colors, method=Image.Quantize.FASTOCTREE)
    else:
        small = image.convert("RGB").quantize(colors, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    small.save(out, format="png", optimize=True)
    return out.getvalue()


@dataclass(frozen=True)
class Control:
    """One control of an explorer and the grid of values it offers.

    Attributes
    ----------
    name : str
        The keyword the layers' draw functions receive its value as.
    options : sequence
        The values, in display order; every one of them gets a precomputed figure.
    value : object
        The value selected at the start; one of ``options``.
    label : str
        Shown before the control.
    kind : {"slider", "dropdown", "toggle"}
    labels : sequence of str, optional
        Text for each option (default ``f"{option:g}"`` for numbers, else ``str``).
    width : str
        CSS width of the control.
    """

    name: str
    options: Sequence[Any]
    value: Any
    label: str
    kind: str = "slider"
    labels: Sequence[str] | None = None
    width: str = "330px"

    def __post_init__(self) -> None:
        check_choice(self.kind, "kind", KINDS)
        if len(self.options) == 0:
            raise ValueError(f"control {self.name!r} has no options; expected at least one")
        if self.labels is not None and len(self.labels) != len(self.options):
            raise ValueError(
                f"control {self.name!r} has {len(self.options)} options but {len(self.labels)} labels"
            )
        if self.index(self.value) < 0:
            raise ValueError(
                f"{self.name}={self.value!r} is not on the explorer's grid; expected one of "
                f"{list(self.options)}"
            )

    def index(self, value: Any) -> int:
        """Position of ``value`` in ``options``, or -1."""
        for i, option in enumerate(self.options):
            if option == value or (isinstance(option, float) and isinstance(value, (int, float))
                                   and abs(option - value) <= 1e-12 * max(1.0, abs(option))):
                return i
        return -1

    def texts(self) -> list[str]:
        if self.labels is not None:
            return [str(t) for t in self.labels]
        return [f"{o:g}" if isinstance(o, (int, float)) and not isinstance(o, bool) else str(o)
                for o in self.options]

    def widget(self) -> Any:
        """A new ipywidgets control over ``options`` (its ``index`` is what the links read)."""
        import ipywidgets as widgets

        pairs = list(zip(self.texts(), range(len(self.options))))
        common = {"description": self.label, "style": {"description_width": "initial"}}
        index = self.index(self.value)
        if self.kind == "slider":
            w = widgets.SelectionSlider(options=pairs, index=index, continuous_update=False,
                                        layout=widgets.Layout(width=self.width), **common)
        elif self.kind == "dropdown":
            w = widgets.Dropdown(options=pairs, index=index,
                                 layout=widgets.Layout(width=self.width), **common)
        else:
            w = widgets.ToggleButtons(options=pairs, index=index, **common)
            w.style.button_width = "auto"
        return w


@dataclass(frozen=True)
class Layer:
    """One part of an explorer's display: a function of some of the controls.

    Attributes
    ----------
    draw : callable
        ``draw(**values)`` with the values of the controls named in
        ``depends``; returns a :class:`~matplotlib.figure.Figure`, or a str
        of HTML.
    depends : tuple of str
        The controls it reads, by name; it is precomputed for every
        combination of their values (and no others).
    key : callable, optional
        ``key(**values)`` -> a hashable; values with equal keys share one
        drawing (e.g. a gate's markers depend only on which rows are right).
    cell : (int, int)
        (row, column) of the display grid; layers in one cell are drawn on top
        of each other in list order (all but the first with ``transparent``).
    transparent : bool
        Save the figure with a transparent background (a layer over another).
    """

    draw: Callable[..., Figure | str]
    depends: tuple[str, ...]
    key: Callable[..., Any] | None = None
    cell: tuple[int, int] = (0, 0)
    transparent: bool = False


@dataclass
class _Builder:
    """Draws every layer over its grid, storing each distinct image once."""

    controls: dict[str, Control]
    widgets_by_name: dict[str, Any]
    dpi: int
    cache: dict[Any, Any] = field(default_factory=dict)
    links: list[Any] = field(default_factory=list)
    images: int = 0

    def leaf(self, layer: Layer, values: Mapping[str, Any]) -> Any:
        import ipywidgets as widgets

        args = {k: values[k] for k in layer.depends}
        if layer.key is not None:
            memo = (id(layer), layer.key(**args))
            if memo not in self.cache:
                self.cache[memo] = self.leaf(Layer(layer.draw, layer.depends, None, layer.cell,
                                                   layer.transparent), values)
            return self.cache[memo]
        result = layer.draw(**args)
        if isinstance(result, str):
            key = "html:" + hashlib.sha1(result.encode()).hexdigest()
            if key not in self.cache:
                self.cache[key] = widgets.HTML(result)
            return self.cache[key]
        image = _image(result, self.dpi, layer.transparent)
        key = "png:" + hashlib.sha1(image.value).hexdigest() + image.width
        if key not in self.cache:
            self.cache[key] = image
            self.images += 1
        return self.cache[key]

    def tree(self, layer: Layer, level: int, values: dict[str, Any]) -> Any:
        import ipywidgets as widgets

        if level == len(layer.depends):
            return self.leaf(layer, values)
        control = self.controls[layer.depends[level]]
        children = [self.tree(layer, level + 1, {**values, control.name: option})
                    for option in control.options]
        stack = widgets.Stack(children, selected_index=control.index(control.value))
        link = widgets.jsdlink((self.widgets_by_name[control.name], "index"),
                               (stack, "selected_index"))
        self.links.append(link)
        return stack


def _image(fig: Figure, dpi: int, transparent: bool) -> Any:
    """An Image widget of ``fig``: ``dpi * PIXEL_RATIO`` dots per inch, shown ``dpi`` per inch wide."""
    import ipywidgets as widgets

    width = round(fig.get_figwidth() * dpi)
    data = png(fig, dpi * PIXEL_RATIO, transparent=transparent)
    return widgets.Image(value=data, format="png", width=str(width))


class Explorer:
    """What :func:`explorer` returns: the widget a notebook shows, and a handle on it.

    A notebook displays it as its ``widget`` (an ``ipywidgets.VBox``: the
    controls above the display), so the page the book builds saves the same
    widget state as for the bare widget.

    Attributes
    ----------
    widget : ipywidgets.VBox
        Controls, the optional note, then the display.
    controls : dict of str to ipywidgets widget
        The control of each name; its ``index`` selects an option.
    display : ipywidgets.GridBox
        Shows the precomputed grid (``roots``) or, after :meth:`show`, ``live``.
    roots : list of ipywidgets widget
        One per layer: its precomputed tree of images (or, without
        precompute, its current drawing).
    links : list
        The browser-side links from each control's ``index`` to the stacks it selects in.
    n_images : int
        Distinct precomputed images.
    live : list of ipywidgets widget
        What the last :meth:`show` drew, one per layer.
    data : dict
        What an explorer computed its figures from (e.g. ``"runs"``), for a reader or a test.
    """

    def __init__(self, widget: Any, controls: dict[str, Any], display: Any, roots: list[Any],
                 links: list[Any], n_images: int, show: Callable[..., list[Any]],
                 values: Callable[[], dict[str, Any]]) -> None:
        self.widget, self.controls, self.display = widget, controls, display
        self.roots, self.links, self.n_images = roots, links, n_images
        self.live: list[Any] = []
        self.data: dict[str, Any] = {}
        self._draw, self._values = show, values

    def __repr__(self) -> str:
        return f"Explorer(controls={list(self.controls)}, n_images={self.n_images})"

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def values(self) -> dict[str, Any]:
        """The value each control selects now, by name."""
        return self._values()

    def show(self, **values: Any) -> None:
        """Draw the layers for ``values`` (missing names: the controls' values) and display
        them until a control moves; any values, on the grid or off it (needs a kernel)."""
        self.live = self._draw(**values)
        self.display.children = self.live


def _cell_layout(cell: tuple[int, int]) -> Any:
    import ipywidgets as widgets

    row, col = cell
    return widgets.Layout(grid_area=f"{row + 1} / {col + 1} / {row + 2} / {col + 2}")


def explorer(
    controls: Sequence[Control],
    layers: Sequence[Layer] | Callable[..., Figure | str],
    *,
    precompute: bool = True,
    dpi: int = DPI,
    note: str | None = None,
    rows: Sequence[Sequence[str]] | None = None,
) -> Explorer:
    """Build an explorer: controls above a display the controls switch.

    Parameters
    ----------
    controls : sequence of Control
    layers : sequence of Layer, or a callable
        A callable is one layer that depends on every control.
    precompute : bool, default True
        Draw every layer over its grid now and link the controls to the
        images in the browser (the page works without a kernel). When False,
        nothing is drawn ahead: a kernel redraws the current values on every
        change (the grid may then be as fine as wanted).
    dpi : int, default :data:`DPI`
        CSS pixels per inch of the figures' size; the images hold
        :data:`PIXEL_RATIO` times as many pixels.
    note : str, optional
        One line of HTML under the controls (e.g. what the static page leaves out).
    rows : sequence of sequence of str, optional
        Control names per row of controls (default: one row each).

    Returns
    -------
    Explorer
        Displayed as its widget; ``values()``, ``show(**values)`` and the
        parts a test follows (``controls``, ``links``, ``roots``, ``live``).
    """
    import ipywidgets as widgets

    if callable(layers):
        layers = [Layer(layers, tuple(c.name for c in controls))]
    layers = list(layers)
    by_name = {c.name: c for c in controls}
    if len(by_name) != len(controls):
        raise ValueError("two controls share a name")
    for name in (d for layer in layers for d in layer.depends):
        check_choice(name, "control", tuple(by_name))
    # a layer's tree follows the order of the controls
    layers = [Layer(layer.draw, tuple(c.name for c in controls if c.name in layer.depends),
                    layer.key, layer.cell, layer.transparent) for layer in layers]

    control_widgets = {c.name: c.widget() for c in controls}
    builder = _Builder(by_name, control_widgets, dpi)
    cells = sorted({layer.cell for layer in layers})
    cell_layouts = {cell: _cell_layout(cell) for cell in cells}

    def current() -> dict[str, Any]:
        return {c.name: c.options[control_widgets[c.name].index] for c in controls}

    def draw_live(values: Mapping[str, Any]) -> list[Any]:
        out = []
        for layer in layers:
            result = layer.draw(**{k: values[k] for k in layer.depends})
            if isinstance(result, str):
                out.append(widgets.HTML(result, layout=cell_layouts[layer.cell]))
            else:
                image = _image(result, dpi, layer.transparent)
                image.layout = cell_layouts[layer.cell]
                out.append(image)
        return out

    if precompute:
        roots = []
        for layer in layers:
            root = builder.tree(layer, 0, {})
            if not layer.depends:  # a fixed part: wrap it so it can take the cell's layout
                root = widgets.Box([root])
            root.layout = cell_layouts[layer.cell]
            roots.append(root)
    else:
        roots = draw_live(current())
    display = widgets.GridBox(roots, layout=widgets.Layout(grid_template_columns="auto " * (
        max(c for _, c in cells) + 1), justify_items="flex-start", align_items="flex-start"))

    rows = rows or [[c.name] for c in controls]
    # a control with one option could change nothing: it is not shown (its value is fixed)
    movable = {c.name for c in controls if len(c.options) > 1}
    control_box = widgets.VBox([widgets.HBox([control_widgets[n] for n in row if n in movable])
                                for row in rows])
    children = [control_box]
    if note:
        children.append(widgets.HTML(f"<small>{note}</small>"))
    children.append(display)
    box = widgets.VBox(children)
    box.add_class("dlbasics-explorer")

    def draw(**values: Any) -> list[Any]:
        for name in values:
            check_choice(name, "control", tuple(by_name))
        return draw_live({**current(), **values})

    result = Explorer(box, control_widgets, display, roots, builder.links, builder.images, draw, current)
    result.live = [] if precompute else roots

    def back_to_grid(_change: Any = None) -> None:
        if precompute:
            display.children = roots
        else:
            result.show()

    for w in control_widgets.values():
        w.observe(back_to_grid, names="index")
    return result


def static_view(box: Explorer, **indices: int) -> list[Any]:
    """What the static page shows when each control sits at the given option index.

    Follows the explorer's saved links the way the browser does: from each
    layer's root, every :class:`ipywidgets.Stack` shows the child its linked
    control's ``index`` selects.

    Parameters
    ----------
    box : Explorer
        From :func:`explorer` (with ``precompute=True``).
    **indices : int
        Option index per control name; missing names keep the control's index.

    Returns
    -------
    list of ipywidgets.Widget
        The leaf shown for each layer (an ``Image`` or an ``HTML``).
    """
    import ipywidgets as widgets

    chosen = {name: w.index for name, w in box.controls.items() if hasattr(w, "index")}
    chosen.update(indices)
    source = {}
    for link in box.links:
        control, _ = link.source
        name = next(n for n, w in box.controls.items() if w is control)
        source[link.target[0].model_id] = name
    shown = []
    for node in box.roots:
        while isinstance(node, (widgets.Stack, widgets.Box)) and not isinstance(node, widgets.GridBox):
            if isinstance(node, widgets.Stack):
                node = node.children[chosen[source[node.model_id]]]
            else:
                node = node.children[0]
        shown.append(node)
    return shown
