"""Layer shapes, parameter counts and the architecture explorer of chapter 2."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from dlbasics.networks import MLP, NeuralNetworkWithBackprop, SimpleNeuralNetwork
from dlbasics.widgets.architecture import (
    architecture_explorer,
    count_parameters,
    draw_layer_product,
    draw_network,
    layer_shapes,
    parse_layer_sizes,
)


@pytest.mark.parametrize("sizes", [[2, 3, 1], [3, 5, 4, 2], [784, 128, 64, 10], [7, 1]])
def test_count_parameters_matches_the_arrays_of_a_network(sizes):
    mlp = MLP(sizes, seed=0) if sizes[-1] > 1 else None
    net = SimpleNeuralNetwork(sizes, seed=0)
    expected = sum(w.size + b.size for w, b in zip(net.weights, net.biases))
    assert count_parameters(sizes) == expected
    if mlp is not None:
        assert count_parameters(sizes) == sum(p.size for p in mlp.parameters())


def test_count_parameters_of_the_digit_classifier():
    assert count_parameters([784, 128, 64, 10]) == 128 * 785 + 64 * 129 + 10 * 65


def test_layer_shapes_match_a_real_forward_pass():
    sizes, n = [3, 5, 4, 2], 6
    net = NeuralNetworkWithBackprop(sizes, seed=0)
    X = np.random.default_rng(0).standard_normal((n, sizes[0]))
    activations = net.forward_with_cache(X)[1].activations
    shapes = dict(layer_shapes(sizes, n))
    assert shapes["X"] == X.shape
    assert [shapes[k] for k in ("W¹", "W²", "W³")] == [w.shape for w in net.weights]
    assert [shapes[k] for k in ("b¹", "b²", "b³")] == [b.shape for b in net.biases]
    assert [shapes["A¹"], shapes["A²"], shapes["Z³"]] == [a.shape for a in activations[1:]]
    assert "A³" not in shapes  # the output layer is linear


@pytest.mark.parametrize(
    ("text", "sizes"), [("2, 4, 1", [2, 4, 1]), ("784 128 10", [784, 128, 10]), (" 3,2 ", [3, 2])]
)
def test_parse_layer_sizes(text, sizes):
    assert parse_layer_sizes(text) == sizes


@pytest.mark.parametrize(
    ("text", "message"),
    [("3, 0, 2", "'0' is not"), ("3, x", "'x' is not"), ("5", "at least an input and an output"),
     ("2, -1", "'-1' is not")],
)
def test_parse_layer_sizes_rejects_bad_text(text, message):
    with pytest.raises(ValueError, match=message):
        parse_layer_sizes(text)


def test_bad_layer_sizes_raise():
    with pytest.raises(ValueError, match="at least an input and an output"):
        count_parameters([4])
    with pytest.raises(ValueError, match=r"layer_sizes\[1\] must be a positive int"):
        count_parameters([4, 0, 2])
    with pytest.raises(TypeError, match="list of ints"):
        count_parameters("2, 3")
    with pytest.raises(ValueError, match="n_samples must be an integer >= 1, got 0"):
        layer_shapes([2, 3], n_samples=0)


def test_draw_network_labels_every_shape():
    ax = draw_network([3, 5, 2], ax=Figure().add_subplot(), n_samples=6)
    texts = [t.get_text() for t in ax.texts]
    assert "X\n(6, 3)" in texts
    assert any(t.startswith("W¹ (5, 3)") and "20 params" in t for t in texts)
    assert "[3, 5, 2]: 32 parameters" == ax.get_title()
    # a wide layer is elided with a vertical ellipsis
    wide = draw_network([784, 10], ax=Figure().add_subplot(), max_nodes=5)
    assert "⋮" in [t.get_text() for t in wide.texts]


def test_draw_layer_product_layouts():
    batch = draw_layer_product(5, 3, 2, "batch", ax=Figure().add_subplot())
    column = draw_layer_product(5, 3, 2, "column", ax=Figure().add_subplot())
    assert "X  (5, 3)" in [t.get_text() for t in batch.texts]
    assert "Xᵀ  (3, 5)" in [t.get_text() for t in column.texts]
    with pytest.raises(ValueError, match="unknown layout 'rows'; expected one of 'batch', 'column'"):
        draw_layer_product(layout="rows")
    with pytest.raises(ValueError, match=r"n_in must be an integer in \[1, 12\], got 20"):
        draw_layer_product(n_in=20)


def test_explorer_summary_counts_parameters_for_every_preset():
    from dlbasics.widgets.display import static_view

    box = architecture_explorer("2, 4, 3, 1", n_samples=8, presets=["784, 128, 64, 10"],
                                batch_sizes=(8, 32))
    assert box.controls["layer_sizes"].options[0][0] == "2, 4, 3, 1"
    assert "31 parameters" in static_view(box)[1].value
    assert "109,386 parameters" in static_view(box, layer_sizes=1)[1].value
    assert "(32, 128)" in static_view(box, layer_sizes=1, n_samples=1)[1].value


def test_explorer_rejects_bad_initial_values():
    with pytest.raises(ValueError, match="not"):
        architecture_explorer("2, y")
    with pytest.raises(ValueError, match="n_samples"):
        architecture_explorer("2, 3", n_samples=0)
    with pytest.raises(ValueError, match="at most 8 layer sizes"):
        architecture_explorer(", ".join(["4"] * 9))
