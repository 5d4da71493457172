"""The activation/derivative explorer of chapter 3 and its plotting helpers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from dlbasics.activations import sigmoid, sigmoid_derivative, tanh_derivative
from dlbasics.widgets import activation_explorer
from dlbasics.widgets.activations import (
    EXPLORER_ACTIVATIONS,
    composed_derivative,
    plot_activation_panels,
    plot_depth_sweep,
)

TORCH_F = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky_relu": lambda t: torch.nn.functional.leaky_relu(t, 0.2),
}


@pytest.mark.parametrize("name", EXPLORER_ACTIVATIONS)
@pytest.mark.parametrize("depth", [1, 4])
def test_composed_derivative_matches_autograd_of_the_composition(name, depth):
    x = np.linspace(-3, 3, 40)  # even count: never exactly on the kink at 0
    xt = torch.tensor(x, requires_grad=True)
    out = xt
    for _ in range(depth):
        out = TORCH_F[name](out)
    out.sum().backward()
    np.testing.assert_allclose(composed_derivative(name, x, depth, alpha=0.2), xt.grad.numpy(),
                               rtol=1e-12, atol=1e-15)


def test_composed_derivative_depth_one_is_the_derivative():
    x = np.linspace(-4, 4, 9)
    np.testing.assert_allclose(composed_derivative("sigmoid", x, 1), sigmoid_derivative(x))
    np.testing.assert_allclose(composed_derivative("tanh", x, 1), tanh_derivative(x))


def test_sigmoid_chain_shrinks_at_least_fourfold_per_layer():
    x = np.linspace(-6, 6, 101)
    for d in (1, 5, 10):
        assert composed_derivative("sigmoid", x, d).max() <= 0.25 ** d
    # the chain's slope at x is the product of sigma' along the path, exactly
    z1 = 0.3
    expected = sigmoid_derivative(z1) * sigmoid_derivative(sigmoid(z1))
    assert composed_derivative("sigmoid", np.array([z1]), 2)[0] == pytest.approx(expected, rel=1e-14)


def test_relu_chain_is_exactly_zero_or_one_and_leaky_is_alpha_to_the_depth():
    x = np.array([-2.0, -0.5, 0.5, 2.0])
    np.testing.assert_array_equal(composed_derivative("relu", x, 7), [0, 0, 1, 1])
    np.testing.assert_allclose(composed_derivative("leaky_relu", x, 3, alpha=0.1), [1e-3, 1e-3, 1, 1])


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"activation": "softplus", "x": [0.0], "depth": 1}, ValueError, "unknown activation 'softplus'"),
        ({"activation": "relu", "x": [0.0], "depth": 0}, ValueError, "depth must be an integer >= 1, got 0"),
        ({"activation": "relu", "x": [0.0], "depth": 2.5}, TypeError, "depth must be an integer, got float"),
        ({"activation": "leaky_relu", "x": [0.0], "depth": 1, "alpha": 1.5}, ValueError,
         r"alpha .* \[0, 1\)"),
        ({"activation": "tanh", "x": [np.nan], "depth": 1}, ValueError, "x contains 1 non-finite value"),
    ],
)
def test_composed_derivative_rejects_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        composed_derivative(**kwargs)


def test_panels_and_sweep_draw_labelled_axes():
    fig = Figure()
    axes = plot_activation_panels("tanh", depth=3, axes=fig.subplots(1, 3))
    assert [len(ax.lines) >= 1 for ax in axes] == [True, True, True]
    assert axes[2].get_yscale() == "log"
    assert "3 derivatives" in axes[2].get_title()
    sweep = plot_depth_sweep(depths=(1, 2), axes=Figure().subplots(1, 4))
    assert [ax.get_title() for ax in sweep][:3] == ["sigmoid", "tanh", "relu"]
    assert all(len(ax.lines) >= 2 for ax in sweep)
    with pytest.raises(ValueError, match="lo < hi"):
        plot_activation_panels("relu", x_range=(2, 1))
    with pytest.raises(ValueError, match="depths is empty"):
        plot_depth_sweep(depths=())


def test_weight_scale_compensates_the_sigmoid_derivative():
    x = np.array([0.0])
    # one layer at z = 0, where sigmoid' = 1/4: the weight 4 makes the factor exactly 1
    assert composed_derivative("sigmoid", x, 1, weight=4.0)[0] == pytest.approx(1.0)
    # ten layers: w = 2 keeps more of the gradient than w = 1, but w = 4 pushes z into the
    # flat tails of the sigmoid, where f' is tiny: the product shrinks again
    g = {w: composed_derivative("sigmoid", x, 10, weight=w)[0] for w in (1.0, 2.0, 4.0)}
    assert g[1.0] <= 0.25 ** 10
    assert g[2.0] > 10 * g[1.0]
    assert g[4.0] < g[1.0]


def test_weighted_chain_matches_autograd():
    torch = pytest.importorskip("torch")
    x = np.linspace(-3, 3, 11)
    xt = torch.tensor(x, requires_grad=True)
    z = xt
    for _ in range(4):
        z = torch.tanh(2.5 * z)
    z.sum().backward()
    np.testing.assert_allclose(composed_derivative("tanh", x, 4, weight=2.5), xt.grad.numpy(),
                               rtol=1e-9)


def test_explorer_readout_follows_weight_and_depth():
    from dlbasics.widgets.display import static_view

    box = activation_explorer(activation="sigmoid", depth=5, depths=(1, 5), weights=(1.0, 4.0))
    readout = static_view(box)[0].value
    assert "<b>0.25</b>" in readout
    assert "<b>1</b>" in static_view(box, weight=1)[0].value


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"activation": "gelu"}, "unknown activation 'gelu'"),
        ({"depth": 31}, "not on the explorer's grid"),
        ({"x_range": (-20, 5)}, "x_range must be"),
    ],
)
def test_explorer_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        activation_explorer(**kwargs)
