"""The single-neuron explorer of chapter 1 and its plotting helpers."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from dlbasics.activations import relu, sigmoid, tanh
from dlbasics.widgets.neuron import (
    GATES,
    gate_accuracy,
    neuron_explorer,
    neuron_output,
    plot_neuron,
)


def test_neuron_output_matches_the_formula_for_every_activation():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((7, 2))
    w, b = np.array([0.7, -1.3]), 0.4
    z = X @ w + b
    np.testing.assert_allclose(neuron_output(X, w, b, "sigmoid"), sigmoid(z))
    np.testing.assert_allclose(neuron_output(X, w, b, "tanh"), tanh(z))
    np.testing.assert_allclose(neuron_output(X, w, b, "relu"), relu(z))
    np.testing.assert_array_equal(neuron_output(X, w, b, "step"), (z > 0).astype(float))


@pytest.mark.parametrize(
    ("w", "b", "gate"),
    [((1, 1), -1.5, "AND"), ((1, 1), -0.5, "OR"), ((-1, -1), 1.5, "NAND")],
)
def test_textbook_weights_compute_their_gate(w, b, gate):
    assert gate_accuracy(w, b, gate) == 4


def test_no_weights_on_a_grid_compute_xor():
    values = np.linspace(-3, 3, 25)
    best = max(gate_accuracy((w1, w2), b, "XOR") for w1 in values for w2 in values for b in values)
    assert best == 3


def test_gate_accuracy_counts_wrong_rows():
    # OR's weights score 2 of 4 on AND: (0, 1) and (1, 0) come out 1 instead of 0
    assert gate_accuracy((1, 1), -0.5, "AND") == 2
    assert set(GATES) == {"AND", "OR", "NAND", "XOR"}


def test_plot_neuron_draws_line_and_gate_points():
    fig = Figure()
    ax = plot_neuron(1.0, 1.0, -1.5, "sigmoid", "AND", ax=fig.add_subplot())
    assert ax.get_xlabel() == "$x_1$"
    assert len(ax.lines) == 1  # the decision line z = 0
    assert len(ax.collections) >= 5  # the shaded output plus four gate points
    # a zero weight vector has no decision line but still draws
    ax0 = plot_neuron(0.0, 0.0, 0.5, "tanh", None, ax=Figure().add_subplot())
    assert len(ax0.lines) == 0


def test_neuron_output_checks_shapes():
    with pytest.raises(ValueError, match=r"X must have shape \(n, 2\)"):
        neuron_output(np.zeros((3, 3)), (1, 1), 0.0)
    with pytest.raises(ValueError, match="w must hold two weights"):
        neuron_output(np.zeros((3, 2)), (1, 1, 1), 0.0)


def test_explorer_offers_the_textbook_gates_and_shows_the_equation():
    from dlbasics.widgets.display import static_view

    box = neuron_explorer(w1=1.0, w2=1.0, b=-1.5, activation="sigmoid", gate="AND",
                          weights=(-1.0, 1.0), biases=(-1.5, -0.5, 1.5))
    equation = static_view(box)[0].value
    assert "z = 1·x₁ + 1·x₂ − 1.5" in equation
    # AND, OR and NAND are each reachable on the grid; the gate layer's markers are shared
    for w, b, gate in (((1, 1), -1.5, "AND"), ((1, 1), -0.5, "OR"), ((-1, -1), 1.5, "NAND")):
        assert gate_accuracy(w, b, gate) == 4
        assert all(box.controls[k].options[box.controls[k].index][0] for k in ("w1", "b"))
    assert box.n_images < 2 * 3 * 2 * 5 + 2 * 3 * 2 * 5  # gate drawings are reused


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"activation": "softplus"}, "unknown activation 'softplus'"),
        ({"gate": "XNOR"}, "unknown gate 'XNOR'"),
        ({"w1": 5.0}, "not on the explorer's grid"),
    ],
)
def test_explorer_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        neuron_explorer(**kwargs)
