"""Batch normalization: parity with PyTorch (float64), finite differences, running statistics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlbasics import BatchNorm, batchnorm_backward, batchnorm_forward, gradcheck, rel_error

SHAPES = [(8, 5), (3, 1), (33, 17), (4, 3, 5, 6), (2, 1, 3, 3), (5, 7, 4, 2)]


def _rel(ours: np.ndarray, theirs: torch.Tensor) -> float:
    """Largest difference relative to the largest entry of the reference."""
    ref = theirs.detach().numpy()
    return float(np.abs(ours - ref).max() / max(np.abs(ref).max(), 1e-300))


def _random_case(shape, seed):
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = rng.normal(3.0, 2.5, size=shape)  # far from zero mean / unit variance on purpose
    gamma = rng.normal(1.0, 0.5, size=c)
    beta = rng.normal(0.0, 1.0, size=c)
    dout = rng.standard_normal(shape)
    return x, gamma, beta, dout


# ---------------------------------------------------------------------------
# the functions, against torch.nn.functional.batch_norm(training=True)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
def test_forward_and_backward_match_torch_batch_norm_in_float64(shape):
    x, gamma, beta, dout = _random_case(shape, seed=sum(shape))
    out, cache = batchnorm_forward(x, gamma, beta, eps=1e-5)
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)

    xt, gt, bt = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    out_t = F.batch_norm(xt, None, None, gt, bt, training=True, eps=1e-5)
    out_t.backward(torch.from_numpy(dout))

    assert out.shape == x.shape and dx.shape == x.shape
    assert dgamma.shape == dbeta.shape == (shape[1],)
    assert _rel(out, out_t) < 1e-12
    assert _rel(dx, xt.grad) < 1e-10
    assert _rel(dgamma, gt.grad) < 1e-12
    assert _rel(dbeta, bt.grad) < 1e-12


@pytest.mark.parametrize("shape", [(4, 3, 5, 6), (9, 2)])
def test_batch_statistics_are_the_mean_and_biased_variance(shape):
    x, gamma, beta, _ = _random_case(shape, seed=1)
    _, cache = batchnorm_forward(x, gamma, beta)
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    np.testing.assert_allclose(cache.mean, x.mean(axis=axes), rtol=1e-13)
    np.testing.assert_allclose(cache.var, x.var(axis=axes, ddof=0), rtol=1e-12)
    # with gamma = 1, beta = 0 each feature comes out standardized
    out, _ = batchnorm_forward(x, np.ones(shape[1]), np.zeros(shape[1]), eps=1e-12)
    np.testing.assert_allclose(out.mean(axis=axes), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=axes), 1, rtol=1e-9)


@pytest.mark.parametrize("shape", [(6, 4), (3, 2, 4, 3)])
def test_backward_passes_finite_difference_checks(shape):
    x, gamma, beta, dout = _random_case(shape, seed=7)
    _, cache = batchnorm_forward(x, gamma, beta)
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)
    assert gradcheck(lambda v: batchnorm_forward(v, gamma, beta)[0], x, dx, dout=dout) < 1e-7
    assert gradcheck(lambda g: batchnorm_forward(x, g, beta)[0], gamma, dgamma, dout=dout) < 1e-7
    assert gradcheck(lambda b: batchnorm_forward(x, gamma, b)[0], beta, dbeta, dout=dout) < 1e-7


def test_input_gradient_is_orthogonal_to_shifts_and_scalings():
    # adding a constant to a feature, or (with eps -> 0) scaling it, leaves the output
    # unchanged, so dx must sum to 0 and be orthogonal to x_hat within each feature
    x, gamma, beta, dout = _random_case((16, 3), seed=3)
    _, cache = batchnorm_forward(x, gamma, beta, eps=1e-12)
    dx, _, _ = batchnorm_backward(dout, cache)
    np.testing.assert_allclose(dx.sum(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose((dx * cache.x_hat).sum(axis=0), 0, atol=1e-11)
    # the naive "affine only" gradient would violate both
    naive = dout * gamma * cache.inv_std
    assert np.abs(naive.sum(axis=0)).max() > 1e-3


@pytest.mark.parametrize("shape", [(8, 5), (4, 3, 5, 6)])
def test_float32_in_float32_out(shape):
    x, gamma, beta, dout = (a.astype(np.float32) for a in _random_case(shape, seed=2))
    out, cache = batchnorm_forward(x, gamma, beta)
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)
    for a in (out, dx, dgamma, dbeta, cache.mean, cache.var, cache.inv_std):
        assert a.dtype == np.float32
    ref, _ = batchnorm_forward(*(a.astype(np.float64) for a in (x, gamma, beta)))
    assert rel_error(out.astype(np.float64), ref) < 1e-4


def test_forward_rejects_bad_shapes_and_dtypes_with_clear_messages():
    x = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"\(N, D\) features or \(N, C, H, W\) images"):
        batchnorm_forward(np.zeros((4, 3, 2)), np.ones(3), np.zeros(3))
    with pytest.raises(
            ValueError,
            match=r"gamma has shape \(2,\); expected \(features\) = \(3,\) \(features from x\)",
    ):
        batchnorm_forward(x, np.ones(2), np.zeros(3))
    with pytest.raises(
            ValueError,
            match=r"beta has shape \(4,\); expected \(channels\) = \(3,\) \(channels from x\)",
    ):
        batchnorm_forward(np.zeros((2, 3, 4, 4)), np.ones(3), np.zeros(4))
    with pytest.raises(ValueError, match="more than one value per feature"):
        batchnorm_forward(np.zeros((1, 3)), np.ones(3), np.zeros(3))
    with pytest.raises(TypeError, match="dtypes differ"):
        batchnorm_forward(x.astype(np.float32), np.ones(3), np.zeros(3))
    with pytest.raises(ValueError, match="eps"):
        batchnorm_forward(x, np.ones(3), np.zeros(3), eps=-1.0)
    _, cache = batchnorm_forward(np.random.default_rng(0).random((4, 3)), np.ones(3), np.zeros(3))
    with pytest.raises(ValueError, match=r"dout has shape \(4, 2\); expected \(4, 3\)"):
        batchnorm_backward(np.zeros((4, 2)), cache)


# ---------------------------------------------------------------------------
# the layer, against torch.nn.BatchNorm1d / BatchNorm2d
# ---------------------------------------------------------------------------


def _torch_layer(shape, momentum=0.1, eps=1e-5):
    cls = torch.nn.BatchNorm1d if len(shape) == 2 else torch.nn.BatchNorm2d
    return cls(shape[1], eps=eps, momentum=momentum).double()


@pytest.mark.parametrize("shape", [(10, 4), (6, 3, 4, 5)])
@pytest.mark.parametrize("momentum", [0.1, 0.3])
def test_running_statistics_follow_torch_over_several_steps_then_eval(shape, momentum):
    rng = np.random.default_rng(11)
    ours = BatchNorm(shape[1], momentum=momentum, dtype=np.float64)
    theirs = _torch_layer(shape, momentum=momentum)
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(rng.normal(1, 0.3, shape[1])))
        theirs.bias.copy_(torch.from_numpy(rng.normal(0, 0.3, shape[1])))
    ours.gamma[:] = theirs.weight.detach().numpy()
    ours.beta[:] = theirs.bias.detach().numpy()

    for step in range(6):  # batches with a drifting mean and scale
        x = rng.normal(2.0 + step, 1.0 + 0.5 * step, size=shape)
        dout = rng.standard_normal(shape)
        xt = torch.tensor(x, requires_grad=True)
        out_t = theirs(xt)
        out_t.backward(torch.from_numpy(dout))
        out = ours.forward(x)
        dx = ours.backward(dout)
        assert _rel(out, out_t) < 1e-12
        assert _rel(dx, xt.grad) < 1e-10
        assert _rel(ours.dgamma, theirs.weight.grad) < 1e-12
        assert _rel(ours.dbeta, theirs.bias.grad) < 1e-12
        theirs.zero_grad()
        np.testing.assert_allclose(ours.running_mean, theirs.running_mean.numpy(), rtol=1e-12)
        np.testing.assert_allclose(ours.running_var, theirs.running_var.numpy(), rtol=1e-12)
    assert not np.allclose(ours.running_var, 1.0)  # the statistics really moved

    ours.eval()
    theirs.eval()
    x = rng.normal(5.0, 3.0, size=shape)
    dout = rng.standard_normal(shape)
    mean_before = ours.running_mean.copy()
    xt = torch.tensor(x, requires_grad=True)
    out_t = theirs(xt)
    out_t.backward(torch.from_numpy(dout))
    out = ours(x)
    dx = ours.backward(dout)
    assert _rel(out, out_t) < 1e-12
    assert _rel(dx, xt.grad) < 1e-12
    assert _rel(ours.dgamma, theirs.weight.grad) < 1e-12
    assert _rel(ours.dbeta, theirs.bias.grad) < 1e-12
    np.testing.assert_array_equal(ours.running_mean, mean_before)  # eval changes nothing


def test_running_variance_uses_the_unbiased_batch_variance():
    x = np.array([[0.0], [2.0]])  # biased variance 1, unbiased 2
    bn = BatchNorm(1, momentum=0.5, dtype=np.float64)
    bn.forward(x)
    np.testing.assert_allclose(bn.running_mean, [0.5 * 0 + 0.5 * 1.0])
    np.testing.assert_allclose(bn.running_var, [0.5 * 1 + 0.5 * 2.0])


def test_eval_mode_gradient_passes_finite_differences():
    rng = np.random.default_rng(5)
    bn = BatchNorm(3, dtype=np.float64)
    bn.forward(rng.normal(1, 2, (8, 3, 2, 2)))
    bn.eval()
    x, dout = rng.standard_normal((2, 3, 2, 2)), rng.standard_normal((2, 3, 2, 2))
    bn.forward(x)
    dx = bn.backward(dout)
    assert gradcheck(lambda v: bn.forward(v), x, dx, dout=dout) < 1e-8


def test_layer_keeps_float32_and_modes_switch():
    bn = BatchNorm(4)
    assert bn.gamma.dtype == np.float32 and bn.training
    x = np.random.default_rng(0).random((5, 4, 3, 3)).astype(np.float32)
    out = bn(x)
    assert out.dtype == np.float32 and bn.running_var.dtype == np.float32
    assert bn.backward(np.ones_like(out)).dtype == np.float32
    assert bn.eval() is bn and not bn.training
    assert bn(x).dtype == np.float32
    assert bn.train() is bn and bn.training
    assert [p is q for p, q in zip(bn.parameters(), (bn.gamma, bn.beta))] == [True, True]
    assert [g.shape for g in bn.gradients()] == [(4,), (4,)]


def test_layer_rejects_wrong_inputs_with_clear_messages():
    bn = BatchNorm(3)
    with pytest.raises(RuntimeError, match="forward"):
        bn.backward(np.zeros((2, 3), dtype=np.float32))
    with pytest.raises(RuntimeError, match="no gradients yet"):
        bn.gradients()
    with pytest.raises(ValueError, match=r"x has 4 channels .* built for 3"):
        bn.forward(np.zeros((2, 4, 5, 5), dtype=np.float32))
    with pytest.raises(ValueError, match=r"x has 2 features"):
        bn.forward(np.zeros((2, 2), dtype=np.float32))
    with pytest.raises(TypeError, match="x is float64 but this BatchNorm holds float32"):
        bn.forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"\(N, D\) features or \(N, C, H, W\) images"):
        bn.forward(np.zeros(3, dtype=np.float32))
    with pytest.raises(ValueError, match="more than one value per feature"):
        bn.forward(np.zeros((1, 3), dtype=np.float32))
    bn.eval()
    assert bn.forward(np.zeros((1, 3), dtype=np.float32)).shape == (1, 3)  # fine in eval mode
    with pytest.raises(ValueError, match="momentum"):
        BatchNorm(3, momentum=1.5)
    with pytest.raises(ValueError, match="num_features"):
        BatchNorm(0)
    with pytest.raises(TypeError, match="dtype"):
        BatchNorm(3, dtype=np.int32)
