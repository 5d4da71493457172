"""The optimizer race explorer and its 2-D loss surfaces."""

import numpy as np
import pytest

from dlbasics import SGD, Adam, RMSprop
from dlbasics.gradcheck import rel_error
from dlbasics.widgets.optimizers import (
    LOSS_SURFACES,
    OPTIMIZER_NAMES,
    make_optimizer,
    optimizer_path,
    optimizer_race,
    plot_learning_rate_grid,
)


@pytest.mark.parametrize("name", sorted(LOSS_SURFACES))
def test_surface_gradients_match_central_differences(name):
    surface = LOSS_SURFACES[name]
    rng = np.random.default_rng(0)
    x0, x1, y0, y1 = surface.extent
    h = 1e-6
    for _ in range(5):
        p = np.array([rng.uniform(x0, x1), rng.uniform(y0, y1)])
        numeric = np.array([
            (surface(p + h * e) - surface(p - h * e)) / (2 * h) for e in np.eye(2)
        ])
        assert rel_error(surface.gradient(p), numeric) < 1e-6


@pytest.mark.parametrize("name", sorted(LOSS_SURFACES))
def test_surface_minimizers_have_the_minimum_and_zero_gradient(name):
    surface = LOSS_SURFACES[name]
    for point in surface.minimizers:
        p = np.array(point)
        assert surface(p) == pytest.approx(surface.minimum, abs=1e-12)
        np.testing.assert_allclose(surface.gradient(p), 0.0, atol=1e-12)
    # the minimum is a lower bound on the drawn region
    x0, x1, y0, y1 = surface.extent
    gx, gy = np.meshgrid(np.linspace(x0, x1, 101), np.linspace(y0, y1, 101))
    assert surface.f(gx, gy).min() >= surface.minimum - 1e-12


def test_sgd_path_on_the_valley_follows_the_closed_form():
    lr, steps = 0.3, 25
    path, losses = optimizer_path("valley", SGD(lr), steps)
    x0, y0 = LOSS_SURFACES["valley"].start
    t = np.arange(steps + 1)
    np.testing.assert_allclose(path[:, 0], x0 * (1 - 0.04 * lr) ** t, rtol=1e-12)
    np.testing.assert_allclose(path[:, 1], y0 * (1 - 2 * lr) ** t, rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(losses, 0.02 * path[:, 0] ** 2 + path[:, 1] ** 2)


def test_optimizer_path_stops_when_the_run_diverges():
    path, losses = optimizer_path("valley", SGD(1.5), steps=500)
    assert len(path) == len(losses) < 501
    assert np.isfinite(path).all() and np.isfinite(losses).all()
    stable, _ = optimizer_path("valley", SGD(0.5), steps=500)
    assert len(stable) == 501


def test_optimizer_path_accepts_any_object_with_update():
    class Plain:
        def update(self, params, grads):
            for p, g in zip(params, grads):
                p -= 0.1 * g

    ours, _ = optimizer_path("saddle", Plain(), 30)
    theirs, _ = optimizer_path("saddle", SGD(0.1), 30)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_optimizer_path_uses_the_given_start():
    path, _ = optimizer_path("rosenbrock", Adam(0.01), 3, start=(0.5, -0.5))
    np.testing.assert_array_equal(path[0], [0.5, -0.5])


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"surface": "himmelblau"}, ValueError),
        ({"steps": -1}, ValueError),
        ({"steps": 2.5}, TypeError),
        ({"optimizer": "adam"}, TypeError),
        ({"start": (1.0, 2.0, 3.0)}, ValueError),
    ],
)
def test_optimizer_path_rejects_bad_input(kwargs, error):
    args = {"surface": "valley", "optimizer": SGD(0.1), "steps": 5, **kwargs}
    with pytest.raises(error):
        optimizer_path(**args)


def test_make_optimizer_builds_each_named_optimizer():
    built = {name: make_optimizer(name, 0.05) for name in OPTIMIZER_NAMES}
    assert type(built["SGD"]) is SGD and built["SGD"].momentum == 0.0
    assert type(built["SGD + momentum"]) is SGD and built["SGD + momentum"].momentum == 0.9
    assert type(built["RMSprop"]) is RMSprop and type(built["Adam"]) is Adam
    assert all(opt.lr == 0.05 for opt in built.values())
    with pytest.raises(ValueError, match="unknown optimizer"):
        make_optimizer("Adagrad", 0.1)


def test_learning_rate_grid_has_one_panel_per_pair_and_marks_divergence():
    fig = plot_learning_rate_grid("valley", [0.01, 1.5], optimizers=("SGD", "Adam"), steps=40)
    axes = fig.get_axes()
    assert len(axes) == 4
    titles = [ax.get_title() for ax in axes]
    assert "diverged" in titles[1]  # SGD at 1.5 > 2 / 2
    assert not any("diverged" in t for t in (titles[0], titles[2], titles[3]))
    with pytest.raises(ValueError):
        plot_learning_rate_grid("valley", [])


def test_race_grid_covers_stable_oscillating_and_diverging_sgd():
    from dlbasics.widgets.optimizers import LEARNING_RATES, STEPS

    final = {}
    for lr in LEARNING_RATES:
        path, _ = optimizer_path("valley", make_optimizer("SGD", lr), max(STEPS))
        final[lr] = path
    assert len(final[1.1]) < max(STEPS) + 1                      # diverges
    ys = final[0.9][:, 1]
    assert np.all(np.sign(ys[1:6]) != np.sign(ys[:5]))           # oscillates across the valley
    assert abs(final[0.1][-1, 1]) < 1e-6                          # settles


def test_race_hyperparameters_reach_the_optimizers():
    rms = make_optimizer("RMSprop", 0.1, alpha=0.99)
    adam = make_optimizer("Adam", 0.1, beta1=0.0)
    assert rms.alpha == 0.99 and adam.betas == (0.0, 0.999)


@pytest.mark.parametrize("kwargs", [{"surface": "bowl"}, {"lr": 10.0}, {"steps": 1000}])
def test_race_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        optimizer_race(**kwargs)


def test_the_race_offers_one_step_count_and_shows_no_steps_control():
    """One step count keeps chapter 5's page within its weight: no control, half the grid."""
    from dlbasics.widgets.optimizers import STEPS

    box = optimizer_race(lrs=(0.1,), momenta=(0.9,), alphas=(0.9,), beta1s=(0.9,))
    shown = [w for row in box.widget.children[0].children for w in row.children]
    assert STEPS == (150,) and box.controls["steps"] not in shown
