"""Optimizers against torch.optim on identical gradient sequences."""

import numpy as np
import pytest
import torch

from dlbasics import SGD, Adam, RMSprop

SHAPES = [(3, 4), (4,), (2, 3, 2)]


def _run_both(ours, make_torch, steps=20, seed=0):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s) for s in SHAPES]
    tparams = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    topt = make_torch(tparams)
    for _ in range(steps):
        grads = [rng.standard_normal(s) for s in SHAPES]
        ours.update(params, grads)
        for tp, g in zip(tparams, grads):
            tp.grad = torch.tensor(g)
        topt.step()
    return params, [tp.detach().numpy() for tp in tparams]


@pytest.mark.parametrize(("lr", "momentum"), [(0.01, 0.0), (0.1, 0.9), (0.05, 0.5)])
def test_sgd_matches_torch_after_20_steps(lr, momentum):
    ours, theirs = _run_both(SGD(lr, momentum), lambda p: torch.optim.SGD(p, lr=lr, momentum=momentum))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("lr", "betas", "eps"), [(0.001, (0.9, 0.999), 1e-8), (0.1, (0.8, 0.9), 1e-3)])
def test_adam_matches_torch_after_20_steps(lr, betas, eps):
    ours, theirs = _run_both(
        Adam(lr, betas, eps), lambda p: torch.optim.Adam(p, lr=lr, betas=betas, eps=eps)
    )
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("lr", "alpha", "eps"), [(0.001, 0.9, 1e-8), (0.01, 0.99, 1e-6)])
def test_rmsprop_matches_torch_after_20_steps(lr, alpha, eps):
    ours, theirs = _run_both(
        RMSprop(lr, alpha, eps), lambda p: torch.optim.RMSprop(p, lr=lr, alpha=alpha, eps=eps)
    )
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_defaults_are_the_documented_ones():
    assert (SGD().lr, SGD().momentum) == (0.01, 0.0)
    adam = Adam()
    assert (adam.lr, adam.betas, adam.eps) == (0.001, (0.9, 0.999), 1e-8)
    rms = RMSprop()
    assert (rms.lr, rms.alpha, rms.eps) == (0.001, 0.9, 1e-8)


@pytest.mark.parametrize("opt", [SGD(0.1, 0.9), Adam(0.01), RMSprop(0.01)])
def test_updates_are_in_place_and_keep_float32(opt):
    p = np.ones((3, 2), dtype=np.float32)
    before = p.copy()
    ref = p
    opt.update([p], [np.full((3, 2), 0.5, dtype=np.float64)])
    assert ref is p and p.dtype == np.float32
    assert np.all(p < before)


def test_gradient_values_are_not_inspected_so_nan_shows_in_the_parameter():
    p = [np.zeros(3)]
    Adam().update(p, [np.array([0.0, np.nan, 0.0])])
    assert np.isnan(p[0][1]) and np.isfinite(p[0][[0, 2]]).all()


def test_optimizer_errors_are_explicit():
    p = [np.zeros(3)]
    with pytest.raises(ValueError, match="got 1 parameters but 2 gradients"):
        SGD().update(p, [np.zeros(3), np.zeros(3)])
    with pytest.raises(ValueError, match=r"grads\[0\] has shape \(4,\) but params\[0\] has shape \(3,\)"):
        SGD().update(p, [np.zeros(4)])
    with pytest.raises(TypeError, match="floating-point NumPy array"):
        SGD().update([[1.0, 2.0]], [np.zeros(2)])
    with pytest.raises(ValueError, match="lr must be a finite number > 0, got -1"):
        SGD(lr=-1)
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\), got 1.5"):
        SGD(momentum=1.5)
    opt = Adam()
    opt.update(p, [np.ones(3)])
    with pytest.raises(ValueError, match="the parameters changed since the first update"):
        opt.update([np.zeros(2)], [np.ones(2)])
