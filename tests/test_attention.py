"""Masked dot-product attention pooling against torch.autograd and finite differences."""

import numpy as np
import pytest
import torch

from dlbasics import attention_pool_backward, attention_pool_forward, gradcheck


def _case(n, t, h, seed):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, t + 1, size=n)
    lengths[0] = t
    mask = np.arange(t)[None, :] < lengths[:, None]
    return rng.standard_normal((n, t, h)), rng.standard_normal(h), mask, rng.standard_normal((n, h))


def _torch_attention(h, q, mask):
    scores = (h @ q).masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=1)
    return (weights.unsqueeze(2) * h).sum(dim=1), weights


@pytest.mark.parametrize(("n", "t", "h"), [(1, 1, 1), (3, 5, 4), (6, 11, 8)])
@pytest.mark.parametrize("masked", [False, True])
def test_attention_pool_matches_torch_autograd(n, t, h, masked):
    x, q, mask, dcontext = _case(n, t, h, seed=n + t + h)
    if not masked:
        mask = np.ones_like(mask)
    xt, qt = torch.tensor(x, requires_grad=True), torch.tensor(q, requires_grad=True)
    context_t, weights_t = _torch_attention(xt, qt, torch.from_numpy(mask))
    context_t.backward(torch.from_numpy(dcontext))
    context, cache = attention_pool_forward(x, q, mask if masked else None)
    weights = cache.weights
    dh, dq = attention_pool_backward(dcontext, cache)
    np.testing.assert_allclose(context, context_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(weights, weights_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dh, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dq, qt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_padding_gets_exactly_zero_weight_and_cannot_change_the_context():
    x, q, mask, dcontext = _case(5, 7, 3, seed=4)
    assert (~mask).any()
    context, cache = attention_pool_forward(x, q, mask)
    weights = cache.weights
    assert np.all(weights[~mask] == 0.0)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-12)
    noisy = x.copy()
    noisy[~mask] = 1e3 * np.random.default_rng(0).standard_normal(((~mask).sum(), 3))
    context_noisy, cache_noisy = attention_pool_forward(noisy, q, mask)
    weights_noisy = cache_noisy.weights
    np.testing.assert_array_equal(weights_noisy, weights)
    np.testing.assert_allclose(context_noisy, context, rtol=1e-12)
    dh, _ = attention_pool_backward(dcontext, cache_noisy)
    assert np.all(dh[~mask] == 0.0)


def test_large_scores_do_not_overflow():
    x = np.full((1, 3, 1), 1000.0)
    x[0, 1] = 999.0
    weights = attention_pool_forward(x, np.array([1.0]))[1].weights
    np.testing.assert_allclose(weights[0], np.exp([0.0, -1.0, 0.0]) / (2 + np.exp(-1.0)), rtol=1e-12)


@pytest.mark.parametrize(("n", "t", "h"), [(2, 3, 2), (3, 6, 4), (1, 4, 5)])
def test_attention_pool_gradients_match_finite_differences(n, t, h):
    x, q, mask, dcontext = _case(n, t, h, seed=10 * n + t)
    dh, dq = attention_pool_backward(dcontext, attention_pool_forward(x, q, mask)[1])
    assert gradcheck(lambda v: attention_pool_forward(v, q, mask)[0], x, dh, dout=dcontext) < 1e-7
    assert gradcheck(lambda v: attention_pool_forward(x, v, mask)[0], q, dq, dout=dcontext) < 1e-7


def test_attention_pool_keeps_float32():
    x, q, mask, dcontext = (a.astype(np.float32) if a.dtype != bool else a for a in _case(2, 4, 3, 0))
    context, cache = attention_pool_forward(x, q, mask)
    weights = cache.weights
    dh, dq = attention_pool_backward(dcontext, cache)
    assert {a.dtype for a in (context, weights, dh, dq)} == {np.dtype(np.float32)}


def test_attention_pool_rejects_bad_input():
    x, q, mask, _ = _case(3, 4, 2, seed=1)
    bad = mask.copy()
    bad[1] = False
    with pytest.raises(ValueError, match="mask row 1 has no real position"):
        attention_pool_forward(x, q, bad)
    with pytest.raises(TypeError, match="mask has dtype int64; expected a bool array"):
        attention_pool_forward(x, q, mask.astype(np.int64))
    with pytest.raises(ValueError, match=r"mask has shape \(3, 3\); expected \(3, 4\), \(N, T\)"):
        attention_pool_forward(x, q, mask[:, :3])
    with pytest.raises(ValueError, match=r"q has shape \(3,\); expected \(H\) = \(2,\) \(H from h\)"):
        attention_pool_forward(x, np.zeros(3), mask)
    with pytest.raises(ValueError, match="h must be 3-dimensional"):
        attention_pool_forward(x[0], q)
    _, cache = attention_pool_forward(x, q, mask)
    with pytest.raises(ValueError, match=r"dcontext has shape \(3, 3\)"):
        attention_pool_backward(np.zeros((3, 3)), cache)
