"""Penalties, dropout and early stopping."""

import numpy as np
import pytest
import torch

from dlbasics import (
    EarlyStopping,
    apply_dropout,
    dropout_mask,
    gradcheck,
    l1_regularization,
    l2_regularization,
)
from dlbasics.regularization import l1_regularization_grad, l2_regularization_grad


def _weights(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((3, 4)), rng.standard_normal((2, 3))]


@pytest.mark.parametrize("lam", [0.0, 0.01, 0.3])
def test_l2_penalty_and_gradient_match_torch(lam):
    ws = _weights()
    ts = [torch.tensor(w, requires_grad=True) for w in ws]
    penalty = lam / 2 * sum((t**2).sum() for t in ts)
    penalty.backward()
    assert l2_regularization(ws, lam) == pytest.approx(penalty.item(), rel=1e-12, abs=1e-15)
    for g, t in zip(l2_regularization_grad(ws, lam), ts):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_l2_gradient_equals_torch_sgd_weight_decay():
    w = _weights()[0]
    t = torch.tensor(w.copy(), requires_grad=True)
    t.grad = torch.zeros_like(t)
    torch.optim.SGD([t], lr=0.1, weight_decay=0.05).step()
    np.testing.assert_allclose(w - 0.1 * l2_regularization_grad([w], 0.05)[0], t.detach().numpy(), rtol=1e-12)


def test_l1_penalty_and_gradient_match_torch_and_finite_differences():
    ws = _weights(1)
    ts = [torch.tensor(w, requires_grad=True) for w in ws]
    penalty = 0.02 * sum(t.abs().sum() for t in ts)
    penalty.backward()
    assert l1_regularization(ws, 0.02) == pytest.approx(penalty.item(), rel=1e-12)
    grads = l1_regularization_grad(ws, 0.02)
    for g, t in zip(grads, ts):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-12)
    w0 = ws[0]
    assert gradcheck(lambda v: l1_regularization([v], 0.02), w0, grads[0]) < 1e-7
    assert gradcheck(lambda v: l2_regularization([v], 0.02), w0, l2_regularization_grad([w0], 0.02)[0]) < 1e-7


def test_penalties_reject_a_single_array_and_bad_lambda():
    with pytest.raises(TypeError, match="list of arrays"):
        l2_regularization(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="weight_decay must be a finite number >= 0"):
        l1_regularization(_weights(), -0.1)


def test_dropout_mask_keeps_the_expectation_and_is_seeded():
    p = 0.3
    mask = dropout_mask((400, 500), p, rng=np.random.default_rng(0))
    assert set(np.unique(mask)) == {0.0, np.float32(1 / 0.7)}
    assert mask.dtype == np.float32
    assert abs(mask.mean() - 1.0) < 0.01
    assert abs((mask == 0).mean() - p) < 0.01
    np.testing.assert_array_equal(mask, dropout_mask((400, 500), p, rng=0))
    assert not np.array_equal(mask, dropout_mask((400, 500), p, rng=1))


def test_apply_dropout_training_and_inference():
    a = np.ones((1000, 100))
    out = apply_dropout(a, 0.5, rng=np.random.default_rng(3))
    assert out.dtype == a.dtype and abs(out.mean() - 1.0) < 0.02
    assert set(np.unique(out)) == {0.0, 2.0}
    assert apply_dropout(a, 0.5, training=False) is a
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\), got 1"):
        apply_dropout(a, 1)
    with pytest.raises(TypeError, match=r"rng must be a numpy.random.Generator, an int seed or None"):
        dropout_mask((2,), 0.5, rng="seed")


def test_rng_none_means_seed_0_as_in_the_datasets():
    np.testing.assert_array_equal(dropout_mask((5, 6), 0.5), dropout_mask((5, 6), 0.5, rng=0))
    assert not np.array_equal(dropout_mask((5, 6), 0.5), dropout_mask((5, 6), 0.5, rng=1))
    np.testing.assert_array_equal(
        apply_dropout(np.ones((5, 6)), 0.5), apply_dropout(np.ones((5, 6)), 0.5, rng=0)
    )


def test_early_stopping_counts_patience_and_min_delta():
    stopper = EarlyStopping(patience=2, min_delta=0.05)
    decisions = [stopper(v) for v in [1.0, 0.9, 0.88, 0.87, 0.5]]
    # 0.88 and 0.87 improve by less than min_delta, so the second of them triggers the stop.
    assert decisions == [False, False, False, True, False]
    assert stopper.best_loss == 0.5 and stopper.best_epoch == 4


def test_early_stopping_restores_the_best_weights():
    w = np.zeros(2)
    stopper = EarlyStopping(patience=1, restore_best=True)
    for epoch, loss in enumerate([3.0, 1.0, 2.0]):
        w[:] = epoch
        if stopper(loss, [w]):
            break
    assert stopper.best_epoch == 1 and w[0] == 2
    stopper.restore([w])
    np.testing.assert_array_equal(w, [1.0, 1.0])


def test_early_stopping_errors():
    with pytest.raises(ValueError, match="patience must be an integer >= 1"):
        EarlyStopping(patience=0)
    with pytest.raises(ValueError, match="needs the parameters"):
        EarlyStopping(restore_best=True)(1.0)
    with pytest.raises(RuntimeError, match="restore_best=True"):
        EarlyStopping().restore([np.zeros(1)])
    with pytest.raises(ValueError, match="val_loss must be finite"):
        EarlyStopping()(float("nan"))
