"""The attention-head explorer and its static figures (Transformers chapter)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from dlbasics import scaled_dot_product_attention_forward  # noqa: E402
from dlbasics.widgets import (  # noqa: E402
    attention_head_explorer,
    plot_attention_head,
    plot_attention_heads,
)
from dlbasics.widgets.attention_heads import token_label  # noqa: E402
from dlbasics.widgets.display import static_view  # noqa: E402


def _maps(text, n_layers=2, n_heads=3, seed=0):
    """Real causal attention weights (n_layers, n_heads, T, T) from random queries and keys."""
    rng = np.random.default_rng(seed)
    q, k = rng.standard_normal((2, n_layers, n_heads, len(text), 4))
    return scaled_dot_product_attention_forward(q, k, k, causal=True)[1].weights


TEXTS = ["It is a truth", "My dear\nMr. Bennet"]


def test_explorer_draws_one_distinct_map_for_every_text_layer_and_head():
    weights = [_maps(t, seed=i) for i, t in enumerate(TEXTS)]
    box = attention_head_explorer(TEXTS, weights)
    views = {static_view(box, text=t, layer=layer, head=h)[0].value
             for t in range(2) for layer in range(2) for h in range(3)}
    assert len(views) == 12
    assert box.n_images == 12


def test_the_explorer_shows_the_chosen_heads_weights():
    weights = [_maps(t, seed=i) for i, t in enumerate(TEXTS)]
    box = attention_head_explorer(TEXTS, weights)
    shown = static_view(box, text=1, layer=1, head=2)[0].value
    from dlbasics.widgets.display import DPI, PIXEL_RATIO, png

    expected = png(plot_attention_head(TEXTS[1], weights[1][1, 2], title="layer 2, head 3"),
                   DPI * PIXEL_RATIO)
    assert shown == expected


def test_heat_map_labels_every_character_and_shows_the_weights():
    weights = _maps(TEXTS[1])[0, 0]
    ax = plot_attention_head(TEXTS[1], weights).axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == [token_label(c) for c in TEXTS[1]]
    assert "\u2423" in labels and "\u21b5" in labels  # space and newline are visible
    np.testing.assert_array_equal(ax.images[0].get_array(), weights)
    fig = plot_attention_heads(TEXTS[0], _maps(TEXTS[0]), layer=1)
    assert [a.get_title() for a in fig.axes] == ["layer 2, head 1", "layer 2, head 2", "layer 2, head 3"]


def test_bad_arguments_are_rejected():
    good = _maps(TEXTS[0])
    with pytest.raises(ValueError, match=r"expected \(n_layers, n_heads, T, T\) with T = 13"):
        attention_head_explorer([TEXTS[0]], [good[..., :5, :5]])
    with pytest.raises(ValueError, match="non-negative, each row summing to 1"):
        attention_head_explorer([TEXTS[0]], [good * 2])
    with pytest.raises(ValueError, match="1 texts and 2 weight arrays"):
        attention_head_explorer([TEXTS[0]], [good, good])
    with pytest.raises(ValueError, match="same \\(n_layers, n_heads\\)"):
        attention_head_explorer(TEXTS, [good, _maps(TEXTS[1], n_heads=2)])
    with pytest.raises(ValueError, match="layer must be in"):
        plot_attention_heads(TEXTS[0], good, layer=2)
