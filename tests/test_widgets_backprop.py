"""The step-by-step XOR training explorer of chapter 4 and its helpers."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from dlbasics import NeuralNetworkWithBackprop
from dlbasics.widgets import backprop_explorer
from dlbasics.widgets.backprop import (
    XOR_INPUTS,
    XOR_TARGETS,
    plot_neuron_graph,
    plot_training_snapshot,
    plot_xor_surface,
    train_with_snapshots,
)


def test_snapshots_replay_exactly_what_train_does():
    run = train_with_snapshots(weight_scale=1.0, lr=0.5, epochs=300, snapshot_every=100, seed=3)
    net = NeuralNetworkWithBackprop([2, 4, 1], weight_scale=1.0, seed=3)
    losses = net.train(XOR_INPUTS, XOR_TARGETS, epochs=300, lr=0.5)
    np.testing.assert_array_equal(run.losses, losses)
    assert run.snapshot_epochs == [0, 100, 200, 300]
    for w_run, w_net in zip(run.weights[-1], net.weights):
        np.testing.assert_array_equal(w_run, w_net)
    np.testing.assert_array_equal(run.predict_at(300, XOR_INPUTS), net.predict(XOR_INPUTS))
    # the first snapshot is the initialisation
    fresh = NeuralNetworkWithBackprop([2, 4, 1], weight_scale=1.0, seed=3)
    np.testing.assert_array_equal(run.weights[0][0], fresh.weights[0])
    assert run.grad_norms.shape == (300, 2) and np.all(run.grad_norms > 0)


def test_snapshots_do_not_alias_the_training_parameters():
    run = train_with_snapshots(epochs=20, snapshot_every=10)
    assert not np.array_equal(run.weights[0][0], run.weights[-1][0])
    assert run.network_at(0).weights[0] is not run.weights[0][0]


def test_outline_recipe_stays_at_the_mean_and_fixed_recipe_learns():
    stuck = train_with_snapshots(weight_scale=0.01, lr=0.1, epochs=1000, snapshot_every=500)
    np.testing.assert_allclose(stuck.predict_at(1000, XOR_INPUTS), 0.5, atol=0.01)
    assert stuck.grad_norms[-1, 0] < 1e-4  # the hidden layer gets almost no gradient
    learned = train_with_snapshots(weight_scale=1.0, lr=0.5, epochs=2000, snapshot_every=1000)
    assert learned.losses[-1] < 1e-3


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="epochs must be an integer >= 1, got 0"):
        train_with_snapshots(epochs=0)
    with pytest.raises(ValueError, match="snapshot_every must be an integer >= 1, got -1"):
        train_with_snapshots(snapshot_every=-1)
    with pytest.raises(ValueError, match="X has 3 samples"):
        train_with_snapshots(X=np.zeros((3, 2)), y=np.zeros((4, 1)))
    run = train_with_snapshots(epochs=10, snapshot_every=5)
    with pytest.raises(ValueError, match="no snapshot after 7 epochs"):
        run.network_at(7)
    with pytest.raises(ValueError, match="not on the explorer's grid"):
        backprop_explorer(lr=0.7)


def test_surface_and_snapshot_plots_are_labelled():
    run = train_with_snapshots(epochs=50, snapshot_every=25)
    axes = plot_training_snapshot(run, 25, axes=Figure().subplots(1, 2), label="test")
    assert axes[0].get_yscale() == "log" and "test" in axes[0].get_title()
    assert axes[1].get_title() == "output ŷ after 25 epochs"
    ax = plot_xor_surface(lambda P: P[:, 0], ax=Figure().add_subplot())  # output = x1
    assert ax.get_xlabel() == "$x_1$"
    assert len(ax.collections) >= 3  # the shaded output and the two target groups


def test_neuron_graph_draws_every_value_and_gradient():
    values = dict(x=1.5, w=-0.8, u=-1.2, b=0.4, z=-0.8, a=0.31, y=1.0, e=-0.69, L=0.476)
    ax = plot_neuron_graph(values, {"w": -0.443, "L": 1.0}, ax=Figure().add_subplot())
    texts = [t.get_text() for t in ax.texts]
    assert "w = -0.800" in texts and "∂L/∂w = -0.443" in texts
    assert not any(t.startswith("∂L/∂y") for t in texts)
    with pytest.raises(ValueError, match="values is missing"):
        plot_neuron_graph({"x": 1.0}, {})


def test_explorer_trains_one_run_per_scale_and_rate():
    box = backprop_explorer(weight_scale=1.0, lr=0.5, epoch=600,
                            weight_scales=(0.01, 1.0), lrs=(0.5,), epochs=(0, 300, 600))
    assert set(box.data["runs"]) == {(0.01, 0.5, 600), (1.0, 0.5, 600)}
    run = box.data["runs"][(1.0, 0.5, 600)]
    again = train_with_snapshots(weight_scale=1.0, lr=0.5, epochs=600, snapshot_every=300)
    np.testing.assert_array_equal(run.losses, again.losses)
    assert box.controls["epoch"].options[-1] == ("600", 2)


def test_a_diverging_run_stays_on_the_loss_axis():
    run = train_with_snapshots(weight_scale=1.0, lr=1.0, epochs=5000, snapshot_every=5000)
    finite = run.losses[np.isfinite(run.losses)]
    assert finite.max() > 2.0  # this run leaves the usual [1e-8, 2] window
    ax = plot_training_snapshot(run, 5000, axes=Figure().subplots(1, 2))[0]
    assert ax.get_ylim()[1] >= finite.max()
