"""Dense, convolution and max-pooling layers against torch.autograd and finite differences."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlbasics import (
    conv2d_backward,
    conv2d_forward,
    dense_backward,
    dense_forward,
    gradcheck,
    maxpool2d_backward,
    maxpool2d_forward,
)


@pytest.mark.parametrize(("n", "n_in", "n_out"), [(1, 1, 1), (5, 3, 4), (16, 10, 7)])
def test_dense_matches_torch_linear(n, n_in, n_out):
    rng = np.random.default_rng(n + n_in + n_out)
    x, w, b = rng.standard_normal((n, n_in)), rng.standard_normal((n_out, n_in)), rng.standard_normal(n_out)
    dout = rng.standard_normal((n, n_out))
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    out_t = F.linear(xt, wt, bt)
    out_t.backward(torch.tensor(dout))
    out, cache = dense_forward(x, w, b)
    dx, dw, db = dense_backward(dout, cache)
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    for ours, theirs in ((dx, xt), (dw, wt), (db, bt)):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_dense_gradients_match_finite_differences():
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((4, 3)), rng.standard_normal((2, 3)), rng.standard_normal(2)
    dout = rng.standard_normal((4, 2))
    dx, dw, db = dense_backward(dout, dense_forward(x, w, b)[1])
    assert gradcheck(lambda v: dense_forward(v, w, b)[0], x, dx, dout=dout) < 1e-7
    assert gradcheck(lambda v: dense_forward(x, v, b)[0], w, dw, dout=dout) < 1e-7
    assert gradcheck(lambda v: dense_forward(x, w, v)[0], b, db, dout=dout) < 1e-7


CONV_CASES = [
    # (n, c, h, w, f, kh, kw, stride, padding)
    (2, 3, 5, 5, 4, 3, 3, 1, 0),
    (2, 3, 7, 6, 4, 3, 2, 2, 1),
    (1, 2, 8, 8, 3, 5, 5, 3, 2),
    (3, 1, 4, 4, 2, 1, 1, 1, 0),
    (2, 4, 6, 9, 5, 2, 3, 1, 1),
]


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_matches_torch_functional(case):
    n, c, h, w_, f, kh, kw, stride, padding = case
    rng = np.random.default_rng(sum(case))
    x = rng.standard_normal((n, c, h, w_))
    w = rng.standard_normal((f, c, kh, kw))
    b = rng.standard_normal(f)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    out_t = F.conv2d(xt, wt, bt, stride=stride, padding=padding)
    dout = rng.standard_normal(tuple(out_t.shape))
    out_t.backward(torch.tensor(dout))
    out, cache = conv2d_forward(x, w, b, stride=stride, padding=padding)
    dx, dw, db = conv2d_backward(dout, cache)
    assert out.shape == tuple(out_t.shape)
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    for ours, theirs in ((dx, xt), (dw, wt), (db, bt)):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_conv2d_gradients_match_finite_differences():
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    out, cache = conv2d_forward(x, w, b, stride=2, padding=1)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = conv2d_backward(dout, cache)
    assert gradcheck(lambda v: conv2d_forward(v, w, b, 2, 1)[0], x, dx, dout=dout) < 1e-7
    assert gradcheck(lambda v: conv2d_forward(x, v, b, 2, 1)[0], w, dw, dout=dout) < 1e-7
    assert gradcheck(lambda v: conv2d_forward(x, w, v, 2, 1)[0], b, db, dout=dout) < 1e-7


@pytest.mark.parametrize(
    ("h", "w", "kernel", "stride"), [(4, 4, 2, None), (7, 6, 2, 2), (6, 6, 3, 1), (7, 7, 3, 2)]
)
def test_maxpool_matches_torch(h, w, kernel, stride):
    rng = np.random.default_rng(h * w + kernel)
    x = rng.standard_normal((2, 3, h, w))
    xt = torch.tensor(x, requires_grad=True)
    out_t = F.max_pool2d(xt, kernel, stride)
    dout = rng.standard_normal(tuple(out_t.shape))
    out_t.backward(torch.tensor(dout))
    out, cache = maxpool2d_forward(x, kernel, stride)
    np.testing.assert_array_equal(out, out_t.detach().numpy())
    np.testing.assert_allclose(maxpool2d_backward(dout, cache), xt.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_maxpool_ties_send_the_gradient_to_one_element_like_torch():
    x = np.ones((1, 1, 4, 4))
    xt = torch.tensor(x, requires_grad=True)
    F.max_pool2d(xt, 2).sum().backward()
    out, cache = maxpool2d_forward(x)
    dx = maxpool2d_backward(np.ones_like(out), cache)
    np.testing.assert_array_equal(dx, xt.grad.numpy())
    assert dx.sum() == 4


def test_maxpool_gradient_matches_finite_differences():
    rng = np.random.default_rng(5)
    x = rng.permutation(72).reshape(2, 1, 6, 6).astype(float) / 10  # distinct values: no ties
    out, cache = maxpool2d_forward(x, 3, 2)
    dout = rng.standard_normal(out.shape)
    dx = maxpool2d_backward(dout, cache)
    assert gradcheck(lambda v: maxpool2d_forward(v, 3, 2)[0], x, dx, dout=dout, h=1e-4) < 1e-7


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layers_keep_the_callers_dtype(dtype):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 6, 6)).astype(dtype)
    w = rng.standard_normal((4, 3, 3, 3)).astype(dtype)
    b = np.zeros(4, dtype=dtype)
    out, cache = conv2d_forward(x, w, b, padding=1)
    grads = conv2d_backward(np.ones_like(out), cache)
    pooled, pcache = maxpool2d_forward(out)
    assert out.dtype == dtype and pooled.dtype == dtype
    assert all(g.dtype == dtype for g in grads)
    assert maxpool2d_backward(np.ones_like(pooled), pcache).dtype == dtype
    d_out, d_cache = dense_forward(
        x.reshape(2, -1), rng.standard_normal((5, 108)).astype(dtype), np.zeros(5, dtype)
    )
    assert d_out.dtype == dtype and all(
        g.dtype == dtype for g in dense_backward(np.ones_like(d_out), d_cache)
    )


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (
            (np.zeros((4, 3)), np.zeros((2, 2)), np.zeros(2)),
            ValueError,
            r"w has shape \(2, 2\); expected \(n_out, n_in\) = \(2, 3\) \(n_in from x\)",
        ),
        (
            (np.zeros((4, 3)), np.zeros((2, 3)), np.zeros(3)),
            ValueError,
            r"b has shape \(3,\); expected \(n_out\) = \(2,\) \(n_out from w\)",
        ),
        ((np.zeros(3), np.zeros((2, 3)), np.zeros(2)), ValueError, "x must be 2-dimensional"),
        (
            (np.zeros((4, 3), np.float32), np.zeros((2, 3)), np.zeros(2)),
            TypeError,
            "x is float32, w is float64",
        ),
        ((np.full((1, 3), np.nan), np.zeros((2, 3)), np.zeros(2)), ValueError, "x contains 3 non-finite"),
    ],
)
def test_dense_bad_input(args, error, message):
    with pytest.raises(error, match=message):
        dense_forward(*args)


def test_dense_backward_rejects_wrong_dout_shape():
    _, cache = dense_forward(np.zeros((4, 3)), np.zeros((2, 3)), np.zeros(2))
    with pytest.raises(ValueError, match=r"dout has shape \(4, 3\); expected \(4, 2\)"):
        dense_backward(np.zeros((4, 3)), cache)


def test_conv_and_pool_bad_input():
    x = np.zeros((1, 3, 5, 5))
    with pytest.raises(
            ValueError,
            match=r"w has shape \(4, 2, 3, 3\); expected \(f, c, kh, kw\) = \(4, 3, 3, 3\) \(c from x\)",
    ):
        conv2d_forward(x, np.zeros((4, 2, 3, 3)), np.zeros(4))
    with pytest.raises(ValueError, match="does not fit"):
        conv2d_forward(x, np.zeros((4, 3, 7, 7)), np.zeros(4))
    with pytest.raises(ValueError, match="stride must be an integer >= 1, got 0"):
        conv2d_forward(x, np.zeros((4, 3, 3, 3)), np.zeros(4), stride=0)
    with pytest.raises(TypeError, match="padding must be an integer"):
        conv2d_forward(x, np.zeros((4, 3, 3, 3)), np.zeros(4), padding=1.5)
    with pytest.raises(ValueError, match="x must be 4-dimensional"):
        conv2d_forward(np.zeros((3, 5, 5)), np.zeros((4, 3, 3, 3)), np.zeros(4))
    with pytest.raises(ValueError, match="pooling window does not fit"):
        maxpool2d_forward(np.zeros((1, 1, 1, 1)), 2)
    out, cache = conv2d_forward(x, np.zeros((4, 3, 3, 3)), np.zeros(4))
    with pytest.raises(ValueError, match=r"dout has shape .*; expected \(1, 4, 3, 3\)"):
        conv2d_backward(np.zeros((1, 4, 2, 2)), cache)


def test_dense_backward_skips_the_input_gradient_on_request():
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((4, 3)), rng.standard_normal((2, 3)), rng.standard_normal(2)
    out, cache = dense_forward(x, w, b)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = dense_backward(dout, cache)
    skipped, dw_only, db_only = dense_backward(dout, cache, input_grad=False)
    assert dx.shape == x.shape and skipped is None
    np.testing.assert_array_equal(dw_only, dw)
    np.testing.assert_array_equal(db_only, db)
