"""The regularization explorer: a precomputed grid of trained models and its views."""

import numpy as np
import pytest

from dlbasics import MLP, SGD, Adam, make_moons
from dlbasics.widgets.regularization import (
    RegularizationGrid,
    plot_regularization_grid,
    regularization_explorer,
    train_regularization_grid,
)

SETTINGS = dict(weight_decay_values=(0.0, 0.1), dropout_values=(0.0, 0.5), hidden=(8,), epochs=40,
                lr=0.05, seed=3, resolution=12)


@pytest.fixture(scope="module")
def data():
    X, y = make_moons(80, noise=0.25, seed=1)
    return X[:50], y[:50], X[50:], y[50:]


@pytest.fixture(scope="module")
def grid(data):
    return train_regularization_grid(*data, **SETTINGS)


def test_grid_holds_one_result_per_pair(grid, data):
    assert isinstance(grid, RegularizationGrid)
    assert grid.predictions.shape == (2, 2, 12, 12)
    assert set(np.unique(grid.predictions)) <= {0, 1}
    for name in ("train_accuracy", "val_accuracy", "train_loss", "val_loss"):
        values = getattr(grid, name)
        assert values.shape == (2, 2) and np.isfinite(values).all()
    assert ((grid.train_accuracy >= 0) & (grid.train_accuracy <= 1)).all()
    # the evaluation grid covers the training and validation points
    X = np.concatenate([data[0], data[2]])
    assert grid.xx.min() < X[:, 0].min() and grid.xx.max() > X[:, 0].max()
    assert grid.yy.min() < X[:, 1].min() and grid.yy.max() > X[:, 1].max()


def test_grid_models_are_the_ones_fit_would_train(grid, data):
    X_train, y_train, X_val, y_val = data
    model = MLP([2, 8, 2], seed=3)
    model.fit(X_train, y_train, epochs=40, batch_size=len(X_train), optimizer=Adam(0.05),
              weight_decay=0.1, dropout=0.5, seed=3, progress=False)
    i, j = grid.index(0.1, 0.5)
    assert grid.val_accuracy[i, j] == model.accuracy(X_val, y_val)
    assert grid.train_loss[i, j] == pytest.approx(model.loss(X_train, y_train), rel=1e-6)
    points = np.column_stack([grid.xx.ravel(), grid.yy.ravel()]).astype(X_train.dtype)
    np.testing.assert_array_equal(grid.predictions[i, j].ravel(), model.predict(points))


def test_strong_l2_fits_the_training_data_less_closely(data):
    g = train_regularization_grid(*data, weight_decay_values=(0.0, 1.0), dropout_values=(0.0,), hidden=(16,),
                                  epochs=150, lr=0.05, resolution=4)
    assert g.train_loss[0, 1] > g.train_loss[0, 0]


def test_custom_optimizer_factory_is_used(data):
    calls = []

    def make():
        calls.append(1)
        return SGD(0.1, momentum=0.9)

    train_regularization_grid(*data, weight_decay_values=(0.0,), dropout_values=(0.0, 0.2), hidden=(4,),
                              epochs=3, optimizer=make, resolution=4)
    assert len(calls) == 2


def test_small_multiples_have_one_panel_per_model(grid):
    fig = plot_regularization_grid(grid)
    axes = fig.get_axes()
    assert len(axes) == 4
    assert axes[1].get_title().startswith("λ = 0.1, p = 0")


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"weight_decay_values": (0.0, -0.1)}, ValueError),
        ({"weight_decay_values": ()}, ValueError),
        ({"dropout_values": (0.0, 1.0)}, ValueError),
        ({"dropout_values": (0.2, 0.2)}, ValueError),
        ({"resolution": 1}, ValueError),
        ({"optimizer": SGD(0.1)}, TypeError),
    ],
)
def test_grid_rejects_bad_settings(data, kwargs, error):
    with pytest.raises(error):
        train_regularization_grid(*data, **{**SETTINGS, "epochs": 1, **kwargs})


def test_grid_rejects_data_that_is_not_two_dimensional(data):
    X_train, y_train, X_val, y_val = data
    with pytest.raises(ValueError, match="2 features"):
        train_regularization_grid(np.hstack([X_train, X_train]), y_train, X_val, y_val, epochs=1)
    with pytest.raises(ValueError):
        train_regularization_grid(X_train, y_train[:-1], X_val, y_val, epochs=1)


def test_explorer_rejects_unknown_values(grid):
    with pytest.raises(ValueError, match="no model for"):
        regularization_explorer(grid, weight_decay=0.5)
    with pytest.raises(ValueError, match="no model for"):
        grid.index(0.0, 0.3)
    with pytest.raises(TypeError):
        regularization_explorer({"weight_decay": 0.0})


def test_explorer_starts_at_the_requested_model_and_shows_each_one(grid):
    from dlbasics.widgets.display import static_view

    box = regularization_explorer(grid, weight_decay=0.1, dropout=0.5)
    assert box.controls["weight_decay"].index == 1 and box.controls["dropout"].index == 1
    shown = {static_view(box, weight_decay=i, dropout=j)[0].value for i in range(2) for j in range(2)}
    assert len(shown) == 4
