"""The explorer mechanism shared by every chapter: precomputed grids, browser links, live redraws.

For each explorer of the book (on small grids, to stay quick) the static view
is followed through the saved links the way the browser follows them:

* every value a control offers has a precomputed figure (no control is dead);
* moving any one control from the start changes what is shown;
* ``show`` redraws in a live kernel for a value off the grid.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib.figure import Figure

from dlbasics.widgets.display import DPI, PIXEL_RATIO, Control, Layer, explorer, png, static_view


def _png2x(fig: Figure) -> bytes:
    """The PNG an explorer stores for ``fig``: twice the pixels it is shown at."""
    return png(fig, DPI * PIXEL_RATIO)


def _shown(box, **indices) -> list[bytes | str]:
    return [leaf.value for leaf in static_view(box, **indices)]


def assert_every_control_works(box) -> None:
    """Every option of every control has a figure, and each control changes the display."""
    start = _shown(box)
    for name, control in box.controls.items():
        if not any(link.source[0] is control for link in box.links):
            continue  # not linked (e.g. a play button driving a slider)
        views = [_shown(box, **{name: i}) for i in range(len(control.options))]
        for view in views:
            assert all(v for v in view), f"{name}: an option without a figure"
        changed = [view != start for i, view in enumerate(views) if i != control.index]
        assert changed and all(changed), f"moving {name!r} leaves the display as it was"


def _curve(a: float, kind: str) -> Figure:
    fig = Figure(figsize=(2, 1.5))
    x = np.linspace(0, 6, 50)
    fig.add_subplot().plot(x, np.sin(a * x) if kind == "sin" else np.cos(a * x))
    return fig


def _toy(precompute: bool = True):
    return explorer(
        [Control("a", (1.0, 2.0, 3.0), 1.0, "a"),
         Control("kind", ("sin", "cos"), "sin", "kind", kind="dropdown")],
        [Layer(_curve, ("a", "kind")), Layer(lambda a: f"a = {a:g}", ("a",), cell=(1, 0))],
        precompute=precompute,
    )


def test_every_grid_point_has_its_own_figure_and_links_select_it():
    box = _toy()
    assert box.n_images == 6
    for i, a in enumerate((1.0, 2.0, 3.0)):
        for j, kind in enumerate(("sin", "cos")):
            image, text = static_view(box, a=i, kind=j)
            assert image.value == _png2x(_curve(a, kind))
            assert text.value == f"a = {a:g}"
    # one directional link per Stack, from the control's index to the stack's selection
    assert all(type(link).__name__ == "DirectionalLink" for link in box.links)
    assert {link.source[1] for link in box.links} == {"index"}
    assert {link.target[1] for link in box.links} == {"selected_index"}
    assert len(box.links) == 1 + 3 + 1  # a, then kind under each a; the text layer: a
    assert_every_control_works(box)


def test_identical_figures_are_stored_once():
    box = explorer([Control("a", (1, 2, 3), 1, "a")], [Layer(lambda a: _curve(1.0, "sin"), ("a",))])
    assert box.n_images == 1


def test_live_show_redraws_off_the_grid_and_a_control_restores_the_grid():
    box = _toy()
    display = box.display
    box.show(a=2.5)
    assert box.live[0].value == _png2x(_curve(2.5, "sin"))
    assert display.children == tuple(box.live)
    box.controls["kind"].index = 1
    assert display.children == tuple(box.roots)
    with pytest.raises(ValueError, match="unknown control 'b'; expected one of 'a', 'kind'"):
        box.show(b=1)


def test_without_precompute_the_kernel_redraws_on_every_change():
    box = _toy(precompute=False)
    assert box.n_images == 0
    first = box.live[0].value
    box.controls["a"].index = 2
    assert box.live[0].value == _png2x(_curve(3.0, "sin")) != first


def test_controls_reject_values_off_their_grid():
    with pytest.raises(ValueError, match="not on the explorer's grid"):
        Control("a", (1, 2), 3, "a")
    with pytest.raises(ValueError, match="unknown kind 'knob'; expected one of 'slider'"):
        Control("a", (1, 2), 1, "a", kind="knob")


def test_images_hold_twice_the_pixels_they_are_shown_at():
    """Sharp on a 2x screen: each image is shown ``DPI`` CSS px per inch and holds twice that."""
    from PIL import Image

    assert PIXEL_RATIO == 2
    for box in (_toy(), _toy(precompute=False)):
        image = static_view(box)[0] if box.roots and box.n_images else box.live[0]
        shown = int(image.width)
        assert shown == round(2 * DPI)  # the 2-inch wide figure of _curve
        pixels = Image.open(io.BytesIO(image.value)).size
        assert pixels[0] == PIXEL_RATIO * shown, (pixels, shown)


def test_png_is_palette_compressed():
    fig = _curve(1.0, "sin")
    small, full = png(fig), png(fig, colors=0)
    assert small.startswith(b"\x89PNG") and len(small) < len(full)


@pytest.mark.parametrize("transparent", [False, True])
@pytest.mark.parametrize("figsize", [(2.0, 1.5), (3.3, 2.7), (4.55, 3.75)])
def test_png_quantizes_the_pixels_the_figure_saves_as_png(figsize, transparent):
    """png() reads the rendered pixels directly: the same image as decoding the figure's PNG."""
    from PIL import Image

    fig = Figure(figsize=figsize)
    ax = fig.add_subplot()
    x = np.linspace(0, 6, 200)
    ax.plot(x, np.sin(x), label="sin")
    ax.imshow(np.outer(x, x), extent=(0, 6, -1, 1), aspect="auto", cmap="viridis", alpha=0.7)
    ax.set_title("$z = w x + b$")
    dpi = DPI * PIXEL_RATIO
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, transparent=transparent)
    buf.seek(0)
    with Image.open(buf) as full:
        if transparent:
            expected = full.convert("RGBA").quantize(64, method=Image.Quantize.FASTOCTREE)
        else:
            expected = full.convert("RGB").quantize(64, method=Image.Quantize.MEDIANCUT)
        size = full.size
    with Image.open(io.BytesIO(png(fig, dpi, transparent=transparent))) as got:
        assert got.size == size
        assert got.mode == "P"
        assert np.array_equal(np.asarray(got.convert("RGBA")), np.asarray(expected.convert("RGBA")))


# ------------------------------------------------------------- every explorer
def test_neuron_explorer_static_grid():
    from dlbasics.widgets.neuron import GATES, neuron_explorer

    box = neuron_explorer(weights=(0.0, 1.0), biases=(-1.5, -0.5), gate="AND")
    assert_every_control_works(box)
    assert box.controls["gate"].options[1:] == tuple((g, i + 1) for i, g in enumerate(GATES))
    box.show(w1=0.37)  # a live kernel draws off the grid
    assert "0.37" in box.live[0].value


def test_architecture_explorer_static_grid():
    from dlbasics.widgets.architecture import architecture_explorer

    box = architecture_explorer(presets=["2, 4, 1"], batch_sizes=(1, 8))
    assert_every_control_works(box)
    box.show(layer_sizes="5, 7, 3")
    assert "5·7 + 7" in box.live[1].value


def test_activation_explorer_static_grid():
    from dlbasics.widgets.activations import activation_explorer

    box = activation_explorer(depths=(1, 5), weights=(1.0, 4.0))
    assert len(box.controls["activation"].options) == 5  # two leaky slopes
    assert_every_control_works(box)
    box.show(weight=4.5)
    assert "<b>1.125</b>" in box.live[0].value  # 4.5 · max sigmoid' = 4.5 · 0.25


def test_backprop_explorer_static_grid():
    from dlbasics.widgets.backprop import backprop_explorer

    box = backprop_explorer(weight_scales=(0.01, 1.0), lrs=(0.1, 0.5), epochs=(0, 200),
                            epoch=200)
    assert_every_control_works(box)
    box.show(lr=0.3, epoch=100)
    assert (1.0, 0.3, 200) in box.data["runs"]


def test_optimizer_race_static_grid():
    from dlbasics.widgets.optimizers import optimizer_race

    box = optimizer_race(lrs=(0.1, 1.1), step_counts=(20, 60), steps=20, momenta=(0.5, 0.9),
                         alphas=(0.9, 0.99), beta1s=(0.0, 0.9))
    assert_every_control_works(box)
    box.show(lr=0.37)
    assert len(box.live) == 5


def test_regularization_explorer_static_grid():
    from dlbasics import make_moons
    from dlbasics.widgets.regularization import regularization_explorer, train_regularization_grid

    X, y = make_moons(60, noise=0.3, seed=0)
    grid = train_regularization_grid(X[:40], y[:40], X[40:], y[40:], weight_decay_values=(0.0, 0.1),
                                     dropout_values=(0.0, 0.5), hidden=(8,), epochs=20, resolution=20)
    assert_every_control_works(regularization_explorer(grid))


def test_a_control_with_one_option_is_not_shown():
    box = explorer([Control("a", (1.0,), 1.0, "a"), Control("kind", ("sin", "cos"), "sin", "kind")],
                   [Layer(_curve, ("a", "kind"))])
    shown = [w for row in box.widget.children[0].children for w in row.children]
    assert shown == [box.controls["kind"]]
