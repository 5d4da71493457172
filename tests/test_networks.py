"""Networks: forward and backward against PyTorch, gradient checks, training behaviour."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlbasics import (
    MLP,
    SGD,
    Adam,
    EarlyStopping,
    NeuralNetworkWithBackprop,
    SimpleNeuralNetwork,
    gradcheck,
    mse_loss_grad,
)

TORCH_ACT = {
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "leaky_relu": lambda t: F.leaky_relu(t, 0.01),
}


def _torch_forward(model, X, act):
    ws = [torch.tensor(w, requires_grad=True) for w in model.weights]
    bs = [torch.tensor(b, requires_grad=True) for b in model.biases]
    a = torch.tensor(X)
    for i, (w, b) in enumerate(zip(ws, bs)):
        a = F.linear(a, w, b)
        if i < len(ws) - 1:
            a = act(a)
    return a, ws, bs


@pytest.mark.parametrize("activation", list(TORCH_ACT))
@pytest.mark.parametrize("sizes", [[3, 5, 4], [6, 8, 7, 3], [2, 2]])
def test_mlp_forward_and_backward_match_torch_autograd(activation, sizes):
    rng = np.random.default_rng(len(sizes))
    model = MLP(sizes, activation=activation, seed=1, dtype=np.float64)
    for b in model.biases:  # non-zero biases so their gradients are exercised
        b[:] = rng.standard_normal(b.shape)
    X = rng.standard_normal((9, sizes[0]))
    y = rng.integers(0, sizes[-1], 9)
    logits_t, ws, bs = _torch_forward(model, X, TORCH_ACT[activation])
    F.cross_entropy(logits_t, torch.tensor(y)).backward()
    np.testing.assert_allclose(model.forward(X), logits_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    dW, db = model.gradients(X, y)
    for ours, theirs in zip(dW + db, ws + bs):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert model.loss(X, y) == pytest.approx(F.cross_entropy(logits_t, torch.tensor(y)).item(), rel=1e-12)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_mlp_backward_matches_finite_differences(activation):
    rng = np.random.default_rng(7)
    model = MLP([4, 6, 3], activation=activation, seed=2, dtype=np.float64)
    X = rng.standard_normal((5, 4))
    y = rng.integers(0, 3, 5)
    dW, db = model.gradients(X, y)
    tol = 1e-7 if activation != "relu" else 1e-5
    for param, grad in zip(model.parameters(), dW + db):
        assert gradcheck(lambda _: model.loss(X, y), param, grad) < tol


def test_simple_network_matches_torch():
    net = SimpleNeuralNetwork([2, 3, 1], seed=0)
    X = np.array([[1.0, 2.0], [3.0, 4.0]])
    out = net.forward(X)
    assert out.shape == (2, 1)
    out_t, _, _ = _torch_forward(net, X, torch.sigmoid)
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-10)


def test_backprop_network_gradients_match_torch_mse():
    rng = np.random.default_rng(3)
    net = NeuralNetworkWithBackprop([3, 5, 4, 2], weight_scale=0.5, seed=1)
    X, y = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    out_t, ws, bs = _torch_forward(net, X, torch.sigmoid)
    F.mse_loss(out_t, torch.tensor(y)).backward()
    out, cache = net.forward_with_cache(X)
    assert [a.shape for a in cache.activations] == [(6, 3), (6, 5), (6, 4), (6, 2)]
    np.testing.assert_array_equal(net.forward(X), out)
    dW, db = net.backward(mse_loss_grad(out, y), cache)
    for ours, theirs in zip(dW + db, ws + bs):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=1e-10, atol=1e-13)
    assert net.compute_loss(out, y) == pytest.approx(F.mse_loss(out_t, torch.tensor(y)).item())
    for param, grad in zip(net.weights, dW):
        assert gradcheck(lambda _: net.compute_loss(net.forward(X), y), param, grad) < 1e-7


XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([0, 1, 1, 0], dtype=float)


def test_outline_xor_recipe_is_stuck_at_the_symmetric_saddle():
    # 0.01 initial weights, sigmoid, lr 0.1, 1000 epochs: the output stays at 0.5 for every input.
    net = NeuralNetworkWithBackprop([2, 4, 1], weight_scale=0.01, seed=0)
    losses = net.train(XOR_X, XOR_Y, epochs=1000, lr=0.1)
    assert losses[-1] == pytest.approx(0.25, abs=1e-3)
    np.testing.assert_allclose(net.predict(XOR_X).ravel(), 0.5, atol=0.01)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_larger_initial_weights_learn_xor(seed):
    net = NeuralNetworkWithBackprop([2, 4, 1], weight_scale=1.0, seed=seed)
    losses = net.train(XOR_X, XOR_Y, epochs=5000, lr=0.5)
    assert losses[-1] < 1e-3
    np.testing.assert_array_equal((net.predict(XOR_X).ravel() > 0.5).astype(int), XOR_Y)


def test_mlp_initialisation_scale_depends_on_the_activation():
    relu = MLP([400, 300, 10], "relu", seed=0)
    tanh = MLP([400, 300, 10], "tanh", seed=0)
    assert relu.weights[0].std() == pytest.approx(np.sqrt(2 / 400), rel=0.02)
    assert tanh.weights[0].std() == pytest.approx(np.sqrt(2 / 700), rel=0.02)
    assert all(np.all(b == 0) for b in relu.biases)
    assert [w.shape for w in relu.weights] == [(300, 400), (10, 300)]
    assert [b.shape for b in relu.biases] == [(300,), (10,)]
    np.testing.assert_array_equal(MLP([4, 3], seed=5).weights[0], MLP([4, 3], seed=5).weights[0])


def _blobs(n=300, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[2, 0], [-2, 0], [0, 2.5]], dtype=np.float32)
    y = rng.integers(0, 3, n)
    X = centers[y] + rng.standard_normal((n, 2)).astype(np.float32) * 0.6
    return X.astype(np.float32), y


def test_fit_learns_keeps_float32_and_records_history():
    X, y = _blobs()
    Xv, yv = _blobs(100, seed=1)
    model = MLP([2, 16, 3], seed=0)
    history = model.fit(
        X, y, epochs=15, batch_size=32, optimizer=Adam(0.01), val_data=(Xv, yv), progress=False
    )
    assert len(history) == 15 and len(history.val_accuracy) == 15
    assert history.loss[-1] < history.loss[0]
    assert history.val_accuracy[-1] > 0.9
    assert all(w.dtype == np.float32 for w in model.parameters())
    assert model.forward(X).dtype == np.float32
    assert model.predict(X).dtype == np.int64


def test_fit_is_deterministic_for_a_seed():
    X, y = _blobs()
    a, b = MLP([2, 8, 3], seed=0), MLP([2, 8, 3], seed=0)
    a.fit(X, y, epochs=3, dropout=0.2, seed=4, progress=False)
    b.fit(X, y, epochs=3, dropout=0.2, seed=4, progress=False)
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p, q)


def test_fit_gradient_with_dropout_and_l2_matches_torch():
    rng = np.random.default_rng(0)
    model = MLP([3, 5, 2], seed=0, dtype=np.float64)
    X, y = rng.standard_normal((4, 3)), rng.integers(0, 2, 4)
    before = [p.copy() for p in model.parameters()]
    model.fit(
        X,
        y,
        epochs=1,
        batch_size=4,
        optimizer=SGD(1.0),
        weight_decay=0.1,
        dropout=0.5,
        shuffle=False,
        seed=9,
        progress=False,
    )
    # Rebuild the same step in torch with the mask the fit drew from its seeded generator.
    mask_rng = np.random.default_rng(9)
    mask = (mask_rng.random((4, 5)) >= 0.5) / 0.5
    w1, w2, b1, b2 = (torch.tensor(p, requires_grad=True) for p in before)
    h = torch.relu(F.linear(torch.tensor(X), w1, b1)) * torch.tensor(mask)
    loss = F.cross_entropy(F.linear(h, w2, b2), torch.tensor(y)) + 0.05 * ((w1**2).sum() + (w2**2).sum())
    loss.backward()
    for p, t in zip(model.parameters(), (w1, w2, b1, b2)):
        np.testing.assert_allclose(p, (t - t.grad).detach().numpy(), rtol=1e-10, atol=1e-12)


def test_early_stopping_stops_and_restores_the_best_epoch():
    X, y = _blobs(200)
    Xv, yv = _blobs(60, seed=2)
    model = MLP([2, 64, 3], seed=0)
    stopper = EarlyStopping(patience=3, restore_best=True)
    history = model.fit(
        X,
        y,
        epochs=300,
        optimizer=Adam(0.05),
        val_data=(Xv, yv),
        early_stopping=stopper,
        progress=False,
    )
    assert history.stopped_epoch is not None and len(history) < 300
    assert history.best_epoch == int(np.argmin(history.val_loss))
    assert model.loss(Xv, yv) == pytest.approx(min(history.val_loss), rel=1e-5)


def test_fit_checks_the_data_once_not_every_epoch(monkeypatch):
    import dlbasics.networks

    calls = []
    check = dlbasics.networks._check_input
    monkeypatch.setattr(dlbasics.networks, "_check_input", lambda *a: calls.append(1) or check(*a))
    X, y = _blobs(60)
    MLP([2, 4, 3]).fit(X, y, epochs=4, batch_size=16, val_data=(X[:20], y[:20]), progress=False)
    assert len(calls) == 2  # X and X_val, once each


def test_callback_can_stop_training():
    X, y = _blobs(50)
    history = MLP([2, 4, 3]).fit(X, y, epochs=50, callback=lambda epoch, m, h: epoch == 4, progress=False)
    assert len(history) == 5 and history.stopped_epoch == 4


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda m: m.forward(np.zeros((4, 3))),
            ValueError,
            r"X has 3 features \(shape \(4, 3\)\) but the first layer expects 2 \(layer_sizes\[0\]\)",
        ),
        (lambda m: m.forward(np.zeros(2)), ValueError, "X must be 2-dimensional"),
        (lambda m: m.forward(np.array([[np.nan, 0]])), ValueError, "non-finite"),
        (lambda m: m.forward(np.zeros((0, 2))), ValueError, "empty"),
        (
            lambda m: m.gradients(np.zeros((4, 2)), np.array([0, 1, 2, 3])),
            ValueError,
            r"expected values in \[0, 2\]",
        ),
        (
            lambda m: m.gradients(np.zeros((4, 2)), np.array([0, 1])),
            ValueError,
            "2 labels but there are 4 samples",
        ),
        (
            lambda m: m.fit(np.zeros((4, 2)), np.zeros(4, int), epochs=0),
            ValueError,
            "epochs must be an integer >= 1",
        ),
        (lambda m: m.fit(np.zeros((4, 2)), np.zeros(4, int), dropout=1.0), ValueError, "dropout must be in"),
        (
            lambda m: m.fit(np.zeros((4, 2)), np.zeros(4, int), early_stopping=EarlyStopping()),
            ValueError,
            "early_stopping needs val_data",
        ),
        (
            lambda m: m.fit(np.zeros((4, 2)), np.zeros(4, int), optimizer=object()),
            TypeError,
            "dlbasics optimizer",
        ),
        (
            lambda m: m.fit(np.zeros((4, 2)), np.zeros(4, int), optimizer="lbfgs"),
            ValueError,
            "unknown optimizer 'lbfgs'; expected one of 'adam', 'sgd'",
        ),
        (
            lambda m: m.fit(np.zeros((4, 2)), np.zeros(4, int), val_data=np.zeros((4, 2))),
            TypeError,
            r"val_data must be a pair \(X_val, y_val\)",
        ),
    ],
)
def test_mlp_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call(MLP([2, 3, 3]))


def test_constructor_errors():
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        MLP([2, 3], activation="gelu")
    with pytest.raises(ValueError, match="at least an input and an output"):
        MLP([2])
    with pytest.raises(ValueError, match=r"layer_sizes\[1\] must be a positive int, got 0"):
        MLP([2, 0, 3])
    with pytest.raises(TypeError, match="float32 or float64"):
        MLP([2, 3], dtype=np.int32)
    with pytest.raises(ValueError, match=r"y has shape \(3,\); expected \(4, 1\)"):
        NeuralNetworkWithBackprop([2, 1]).train(np.zeros((4, 2)), np.zeros(3), 1, 0.1)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "leaky_relu"])
def test_float32_training_never_upcasts(activation):
    X, y = _blobs(64)
    model = MLP([2, 8, 3], activation=activation)
    dW, db = model.gradients(X.astype(np.float64), y)  # float64 input is cast to the model's dtype
    assert all(g.dtype == np.float32 for g in dW + db)
    logits, cache = model._forward(X, dropout=0.3, rng=np.random.default_rng(0))
    assert logits.dtype == np.float32
    assert all(a.dtype == np.float32 for a in [d.x for d in cache.dense] + cache.zs)
    assert all(m.dtype == np.float32 for m in cache.masks)
