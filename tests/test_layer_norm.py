"""Layer normalization: parity with torch.nn.functional.layer_norm (float64), finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlbasics import LayerNorm, gradcheck, layernorm_backward, layernorm_forward

TOL = {"rtol": 1e-10, "atol": 1e-12}


def _case(shape, seed):
    rng = np.random.default_rng(seed)
    d = shape[-1]
    return (rng.normal(3.0, 2.5, size=shape), rng.normal(1.0, 0.5, size=d),
            rng.normal(0.0, 1.0, size=d), rng.standard_normal(shape))


@pytest.mark.parametrize("shape", [(5,), (8, 5), (3, 1), (2, 7, 16), (2, 3, 4, 6)])
@pytest.mark.parametrize("eps", [1e-5, 1e-2])
def test_layer_norm_matches_torch_forward_and_backward(shape, eps):
    x, gamma, beta, dout = _case(shape, seed=sum(shape))
    out, cache = layernorm_forward(x, gamma, beta, eps=eps)
    dx, dgamma, dbeta = layernorm_backward(dout, cache)
    xt, gt, bt = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    out_t = F.layer_norm(xt, (shape[-1],), gt, bt, eps)
    out_t.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(out, out_t.detach().numpy(), **TOL)
    np.testing.assert_allclose(dx, xt.grad.numpy(), **TOL)
    np.testing.assert_allclose(dgamma, gt.grad.numpy(), **TOL)
    np.testing.assert_allclose(dbeta, bt.grad.numpy(), **TOL)


def test_each_vector_is_normalized_on_its_own_with_the_biased_variance():
    x, _, _, _ = _case((4, 6, 10), seed=1)
    out, _ = layernorm_forward(x, np.ones(10), np.zeros(10), eps=0.0 + 1e-12)
    np.testing.assert_allclose(out.mean(axis=-1), 0.0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=-1), 1.0, rtol=1e-9)
    # one vector alone gives the same result as inside a batch: no batch statistics
    alone, _ = layernorm_forward(x[2, 3], np.ones(10), np.zeros(10), eps=1e-12)
    np.testing.assert_allclose(alone, out[2, 3], rtol=1e-13)


def test_layer_norm_gradients_match_finite_differences():
    x, gamma, beta, dout = _case((3, 4, 5), seed=2)
    dx, dgamma, dbeta = layernorm_backward(dout, layernorm_forward(x, gamma, beta)[1])
    assert gradcheck(lambda v: layernorm_forward(v, gamma, beta)[0], x, dx, dout=dout) < 1e-7
    assert gradcheck(lambda v: layernorm_forward(x, v, beta)[0], gamma, dgamma, dout=dout) < 1e-7
    assert gradcheck(lambda v: layernorm_forward(x, gamma, v)[0], beta, dbeta, dout=dout) < 1e-7


def test_layer_norm_keeps_float32():
    x, gamma, beta, dout = (a.astype(np.float32) for a in _case((2, 3, 4), seed=3))
    out, cache = layernorm_forward(x, gamma, beta)
    assert {a.dtype for a in (out, *layernorm_backward(dout, cache))} == {np.dtype(np.float32)}


def test_layer_norm_class_matches_torch_module_and_stores_gradients():
    x, _, _, dout = _case((2, 5, 8), seed=4)
    ln = LayerNorm(8, dtype=np.float64)
    ln.gamma[:] = np.linspace(0.5, 1.5, 8)
    ln.beta[:] = np.linspace(-1, 1, 8)
    ref = torch.nn.LayerNorm(8, dtype=torch.float64)
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(ln.gamma))
        ref.bias.copy_(torch.from_numpy(ln.beta))
    xt = torch.tensor(x, requires_grad=True)
    out_t = ref(xt)
    out_t.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(ln.forward(x), out_t.detach().numpy(), **TOL)
    np.testing.assert_allclose(ln.backward(dout), xt.grad.numpy(), **TOL)
    for ours, theirs in zip(ln.gradients(), (ref.weight.grad, ref.bias.grad), strict=True):
        np.testing.assert_allclose(ours, theirs.numpy(), **TOL)
    assert [p is q for p, q in zip(ln.parameters(), (ln.gamma, ln.beta), strict=True)] == [True, True]
    assert LayerNorm(3).gamma.dtype == np.float32 and np.all(LayerNorm(3).gamma == 1)


def test_layer_norm_rejects_bad_input():
    x, gamma, beta, dout = _case((2, 4), seed=5)
    with pytest.raises(ValueError, match=r"gamma has shape \(3,\); expected \(d\) = \(4,\) \(d from x\)"):
        layernorm_forward(x, gamma[:3], beta)
    with pytest.raises(ValueError, match=r"x has shape \(\); expected \(\.\.\., d\): at least 1 axis"):
        layernorm_forward(np.float64(1.0), gamma, beta)
    with pytest.raises(TypeError, match="dtypes differ"):
        layernorm_forward(x.astype(np.float32), gamma, beta)
    with pytest.raises(ValueError, match="eps must be a finite number > 0"):
        layernorm_forward(x, gamma, beta, eps=0.0)
    with pytest.raises(ValueError, match=r"dout has shape \(2, 3\); expected \(2, 4\)"):
        layernorm_backward(dout[:, :3], layernorm_forward(x, gamma, beta)[1])
    with pytest.raises(TypeError, match="this LayerNorm holds float32 parameters"):
        LayerNorm(4).forward(x)
    with pytest.raises(RuntimeError, match="needs a forward"):
        LayerNorm(4).backward(dout)
    with pytest.raises(ValueError, match="d must be an integer >= 1"):
        LayerNorm(0)
