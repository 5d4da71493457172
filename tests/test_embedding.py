"""Embedding lookup against torch.nn.Embedding and finite differences."""

import numpy as np
import pytest
import torch

from dlbasics import embedding_backward, embedding_forward, gradcheck


@pytest.mark.parametrize(("n", "t", "vocab", "dim"), [(1, 1, 2, 1), (3, 5, 7, 4), (8, 12, 20, 6)])
def test_embedding_matches_torch_including_repeated_ids(n, t, vocab, dim):
    rng = np.random.default_rng(n * 100 + t)
    W = rng.standard_normal((vocab, dim))
    ids = rng.integers(0, vocab, size=(n, t))
    ids[0, 0] = ids[-1, -1] = 1  # at least one repeated id
    dout = rng.standard_normal((n, t, dim))
    layer = torch.nn.Embedding(vocab, dim).double()
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(W))
    out_t = layer(torch.from_numpy(ids))
    out_t.backward(torch.from_numpy(dout))
    out, cache = embedding_forward(ids, W)
    dW = embedding_backward(dout, cache)
    np.testing.assert_array_equal(out, out_t.detach().numpy())
    np.testing.assert_allclose(dW, layer.weight.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_repeated_id_collects_the_sum_of_its_gradients():
    W = np.arange(6.0).reshape(3, 2)
    ids = np.array([[2, 2, 0]])
    dout = np.array([[[1.0, 2.0], [10.0, 20.0], [5.0, 5.0]]])
    dW = embedding_backward(dout, embedding_forward(ids, W)[1])
    np.testing.assert_array_equal(dW, [[5.0, 5.0], [0.0, 0.0], [11.0, 22.0]])


def test_padding_idx_gets_no_gradient_like_torch():
    rng = np.random.default_rng(1)
    W = rng.standard_normal((6, 3))
    ids = np.array([[3, 1, 0, 0], [5, 0, 0, 0]])
    dout = rng.standard_normal((2, 4, 3))
    layer = torch.nn.Embedding(6, 3, padding_idx=0).double()
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(W))
    layer(torch.from_numpy(ids)).backward(torch.from_numpy(dout))
    dW = embedding_backward(dout, embedding_forward(ids, W, padding_idx=0)[1])
    np.testing.assert_allclose(dW, layer.weight.grad.numpy(), rtol=1e-12, atol=1e-14)
    assert np.all(dW[0] == 0) and np.any(embedding_backward(dout, embedding_forward(ids, W)[1])[0] != 0)


@pytest.mark.parametrize("shape", [(2, 3), (4,), (2, 2, 3)])
def test_embedding_gradient_matches_finite_differences(shape):
    rng = np.random.default_rng(len(shape))
    W = rng.standard_normal((5, 3))
    ids = rng.integers(0, 5, size=shape)
    dout = rng.standard_normal((*shape, 3))
    out, cache = embedding_forward(ids, W)
    assert out.shape == (*shape, 3)
    dW = embedding_backward(dout, cache)
    assert gradcheck(lambda v: embedding_forward(ids, v)[0], W, dW, dout=dout) < 1e-8


def test_embedding_keeps_float32():
    W = np.ones((4, 2), dtype=np.float32)
    out, cache = embedding_forward(np.array([[1, 2]]), W)
    dW = embedding_backward(np.ones((1, 2, 2), dtype=np.float32), cache)
    assert out.dtype == np.float32 and dW.dtype == np.float32


def test_embedding_rejects_bad_input():
    W = np.zeros((4, 2))
    with pytest.raises(ValueError, match=r"outside \[0, 3\].*4 rows"):
        embedding_forward(np.array([[0, 4]]), W)
    with pytest.raises(ValueError, match="outside"):
        embedding_forward(np.array([[-1]]), W)
    with pytest.raises(TypeError, match="integer token ids"):
        embedding_forward(np.array([[0.0, 1.0]]), W)
    with pytest.raises(ValueError, match="w must be 2-dimensional"):
        embedding_forward(np.array([[0]]), np.zeros(4))
    with pytest.raises(ValueError, match=r"padding_idx must be an integer in \[0, 3\], got 7"):
        embedding_forward(np.array([[0]]), W, padding_idx=7)
    _, cache = embedding_forward(np.array([[0, 1]]), W)
    with pytest.raises(ValueError, match=r"dout has shape \(1, 3, 2\)"):
        embedding_backward(np.zeros((1, 3, 2)), cache)
