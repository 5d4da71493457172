"""Losses and their gradients against torch.autograd and finite differences."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlbasics import (
    binary_cross_entropy_with_logits,
    binary_cross_entropy_with_logits_grad,
    gradcheck,
    mse_loss,
    mse_loss_grad,
    softmax_cross_entropy,
    softmax_cross_entropy_grad,
)


@pytest.mark.parametrize("shape", [(6,), (4, 3)])
def test_mse_matches_torch(shape):
    rng = np.random.default_rng(0)
    p, t = rng.standard_normal(shape), rng.standard_normal(shape)
    pt = torch.tensor(p, requires_grad=True)
    loss = F.mse_loss(pt, torch.tensor(t))
    loss.backward()
    assert mse_loss(p, t) == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(mse_loss_grad(p, t), pt.grad.numpy(), rtol=1e-10)
    assert gradcheck(lambda v: mse_loss(v, t), p, mse_loss_grad(p, t)) < 1e-7


def test_binary_cross_entropy_matches_torch():
    rng = np.random.default_rng(1)
    z = rng.standard_normal((5, 2)) * 4
    y = rng.integers(0, 2, (5, 2)).astype(float)
    zt = torch.tensor(z, requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(zt, torch.tensor(y))
    loss.backward()
    assert binary_cross_entropy_with_logits(z, y) == pytest.approx(loss.item(), rel=1e-12)
    g = binary_cross_entropy_with_logits_grad(z, y)
    np.testing.assert_allclose(g, zt.grad.numpy(), rtol=1e-10)
    assert gradcheck(lambda v: binary_cross_entropy_with_logits(v, y), z, g) < 1e-7


@pytest.mark.parametrize(("n", "c"), [(1, 2), (7, 3), (16, 10)])
def test_softmax_cross_entropy_matches_torch(n, c):
    rng = np.random.default_rng(n * c)
    # Unit-scale logits keep every probability well above the finite-difference noise floor.
    z = rng.standard_normal((n, c))
    y = rng.integers(0, c, n)
    zt = torch.tensor(z, requires_grad=True)
    loss = F.cross_entropy(zt, torch.tensor(y))
    loss.backward()
    assert softmax_cross_entropy(z, y) == pytest.approx(loss.item(), rel=1e-12)
    g = softmax_cross_entropy_grad(z, y)
    np.testing.assert_allclose(g, zt.grad.numpy(), rtol=1e-10, atol=1e-15)
    assert gradcheck(lambda v: softmax_cross_entropy(v, y), z, g) < 1e-7


def test_cross_entropies_are_stable_at_huge_logits():
    z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0]])
    y = np.array([1, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = softmax_cross_entropy(z, y)
        grad = softmax_cross_entropy_grad(z, y)
        bce = binary_cross_entropy_with_logits(z, np.ones_like(z))
    assert loss == pytest.approx(F.cross_entropy(torch.tensor(z), torch.tensor(y)).item(), rel=1e-12)
    assert np.isfinite(loss) and np.all(np.isfinite(grad)) and np.isfinite(bce)
    assert loss == pytest.approx(2e4, rel=1e-9)


def test_gradients_keep_float32():
    z = np.ones((3, 4), dtype=np.float32)
    assert softmax_cross_entropy_grad(z, np.array([0, 1, 2])).dtype == np.float32
    assert mse_loss_grad(z, np.zeros((3, 4))).dtype == np.float32
    assert binary_cross_entropy_with_logits_grad(z, np.zeros((3, 4))).dtype == np.float32


@pytest.mark.parametrize(
    ("logits", "labels", "error", "message"),
    [
        (np.zeros((3, 4)), np.array([0, 1]), ValueError, "2 labels but there are 3 samples"),
        (np.zeros((2, 4)), np.array([0, 4]), ValueError, r"labels in \[0, 4\]; expected values in \[0, 3\]"),
        (np.zeros((2, 4)), np.array([0.5, 1]), TypeError, "integer class labels"),
        (np.zeros((2, 4)), np.array(["a", "b"]), TypeError, "expected integer class labels"),
        (np.zeros(4), np.array([0]), ValueError, "logits must be 2-dimensional"),
        (np.full((2, 2), np.nan), np.array([0, 1]), ValueError, "non-finite"),
        (np.zeros((0, 3)), np.array([], dtype=int), ValueError, "empty"),
    ],
)
def test_softmax_cross_entropy_bad_input(logits, labels, error, message):
    with pytest.raises(error, match=message):
        softmax_cross_entropy(logits, labels)


def test_mse_shape_mismatch_is_reported():
    with pytest.raises(ValueError, match=r"pred has shape \(3,\) but target has shape \(4,\)"):
        mse_loss(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match=r"target must be in \[0, 1\]"):
        binary_cross_entropy_with_logits(np.zeros(2), np.array([0.0, 2.0]))
