"""Global-norm gradient clipping against torch.nn.utils.clip_grad_norm_."""

import numpy as np
import pytest
import torch

from dlbasics import clip_grad_norm


def _grads(seed, scale):
    rng = np.random.default_rng(seed)
    return [scale * rng.standard_normal(s) for s in [(3, 4), (4,), (2, 3, 2), (1,)]]


@pytest.mark.parametrize(("scale", "max_norm"), [(10.0, 1.0), (0.01, 1.0), (1.0, 3.0), (5.0, 0.5)])
def test_clip_grad_norm_matches_torch(scale, max_norm):
    grads = _grads(int(scale * 100), scale)
    params = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, g in zip(params, grads, strict=True):
        p.grad = torch.tensor(g)
    total_t = torch.nn.utils.clip_grad_norm_(params, max_norm)
    total = clip_grad_norm(grads, max_norm)
    assert total == pytest.approx(total_t.item(), rel=1e-12)
    for g, p in zip(grads, params, strict=True):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-12, atol=0)


def test_clipping_rescales_in_place_to_max_norm_and_keeps_direction():
    grads = _grads(0, 10.0)
    before = [g.copy() for g in grads]
    ids = [id(g) for g in grads]
    total = clip_grad_norm(grads, 2.0)
    assert total == pytest.approx(np.sqrt(sum((b**2).sum() for b in before)), rel=1e-12)
    assert [id(g) for g in grads] == ids
    new_norm = np.sqrt(sum((g**2).sum() for g in grads))
    assert new_norm == pytest.approx(2.0, rel=1e-6)
    ratios = np.concatenate([(g / b).ravel() for g, b in zip(grads, before, strict=True)])
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-12)


def test_small_gradients_are_left_unchanged():
    grads = _grads(1, 0.01)
    before = [g.copy() for g in grads]
    clip_grad_norm(grads, 1.0)
    for g, b in zip(grads, before, strict=True):
        np.testing.assert_array_equal(g, b)


def test_float32_gradients_stay_float32():
    grads = [g.astype(np.float32) for g in _grads(2, 10.0)]
    clip_grad_norm(grads, 1.0)
    assert all(g.dtype == np.float32 for g in grads)
    assert np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in grads)) == pytest.approx(1.0, rel=1e-5)


def test_clip_grad_norm_rejects_bad_input():
    with pytest.raises(ValueError, match="max_norm must be a finite number > 0"):
        clip_grad_norm(_grads(0, 1.0), 0.0)
    with pytest.raises(ValueError, match="grads is empty"):
        clip_grad_norm([], 1.0)
    with pytest.raises(TypeError, match="grads must be a list"):
        clip_grad_norm(np.ones(3), 1.0)
    with pytest.raises(TypeError, match=r"grads\[1\] is list"):
        clip_grad_norm([np.ones(2), [1.0, 2.0]], 1.0)
    with pytest.raises(TypeError, match=r"grads\[0\] is ndarray int64"):
        clip_grad_norm([np.ones(2, dtype=np.int64)], 1.0)
    with pytest.raises(ValueError, match="NaN or infinity"):
        clip_grad_norm([np.array([1.0, np.inf])], 1.0)
