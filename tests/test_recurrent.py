"""Tanh RNN and LSTM over sequences against torch.nn.RNN / torch.nn.LSTM and finite differences."""

import numpy as np
import pytest
import torch

from dlbasics import gradcheck, lstm_backward, lstm_forward, rnn_backward, rnn_forward

SHAPES = [(1, 1, 1, 1), (2, 5, 3, 4), (4, 9, 6, 5)]  # (N, T, D, H)


def _torch_copy(module, Wx, Wh, b_ih, b_hh):
    with torch.no_grad():
        module.weight_ih_l0.copy_(torch.from_numpy(Wx))
        module.weight_hh_l0.copy_(torch.from_numpy(Wh))
        module.bias_ih_l0.copy_(torch.from_numpy(b_ih))
        module.bias_hh_l0.copy_(torch.from_numpy(b_hh))
    return module


def _rnn_case(n, t, d, h, seed, gates=1, scale=0.5):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, t, d)), rng.standard_normal((n, h)),
            scale * rng.standard_normal((gates * h, d)), scale * rng.standard_normal((gates * h, h)),
            scale * rng.standard_normal(gates * h), scale * rng.standard_normal(gates * h),
            rng.standard_normal((n, t, h)))


@pytest.mark.parametrize("shape", SHAPES)
def test_rnn_matches_torch_rnn_forward_and_backward(shape):
    n, t, d, hid = shape
    x, h0, Wx, Wh, b_ih, b_hh, dh = _rnn_case(*shape, seed=sum(shape))
    rnn = _torch_copy(torch.nn.RNN(d, hid, batch_first=True, nonlinearity="tanh").double(),
                      Wx, Wh, b_ih, b_hh)
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0[None], requires_grad=True)
    out_t, _ = rnn(xt, h0t)
    out_t.backward(torch.from_numpy(dh))

    h, cache = rnn_forward(x, h0, Wx, Wh, b_ih + b_hh)
    dx, dh0, dWx, dWh, db = rnn_backward(dh, cache)
    np.testing.assert_allclose(h, out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    pairs = [(dx, xt.grad), (dh0, h0t.grad[0]), (dWx, rnn.weight_ih_l0.grad),
             (dWh, rnn.weight_hh_l0.grad), (db, rnn.bias_ih_l0.grad), (db, rnn.bias_hh_l0.grad)]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
def test_lstm_matches_torch_lstm_forward_and_backward(shape):
    n, t, d, hid = shape
    x, h0, Wx, Wh, b_ih, b_hh, dh = _rnn_case(*shape, seed=sum(shape) + 7, gates=4)
    c0 = np.random.default_rng(sum(shape)).standard_normal((n, hid))
    lstm = _torch_copy(torch.nn.LSTM(d, hid, batch_first=True).double(), Wx, Wh, b_ih, b_hh)
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0[None], requires_grad=True)
    c0t = torch.tensor(c0[None], requires_grad=True)
    out_t, (hT, cT) = lstm(xt, (h0t, c0t))
    out_t.backward(torch.from_numpy(dh))

    h, cache = lstm_forward(x, h0, c0, Wx, Wh, b_ih + b_hh)
    dx, dh0, dc0, dWx, dWh, db = lstm_backward(dh, cache)
    np.testing.assert_allclose(h, out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(cache.c[:, -1], cT[0].detach().numpy(), rtol=1e-10, atol=1e-12)
    pairs = [(dx, xt.grad), (dh0, h0t.grad[0]), (dc0, c0t.grad[0]), (dWx, lstm.weight_ih_l0.grad),
             (dWh, lstm.weight_hh_l0.grad), (db, lstm.bias_ih_l0.grad), (db, lstm.bias_hh_l0.grad)]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-10, atol=1e-12)


def test_lstm_gate_order_is_input_forget_cell_output():
    """Only the forget gate is open (bias +30) and the input gate shut (-30): c stays c0."""
    hid = 3
    b = np.zeros(4 * hid)
    b[:hid], b[hid:2 * hid] = -30.0, 30.0  # i closed, f open
    x = np.ones((1, 4, 2))
    c0 = np.array([[0.5, -1.0, 2.0]])
    _, cache = lstm_forward(x, np.zeros((1, hid)), c0, np.zeros((4 * hid, 2)), np.zeros((4 * hid, hid)), b)
    np.testing.assert_allclose(cache.c[0, -1], c0[0], rtol=1e-10)


@pytest.mark.parametrize("shape", [(2, 3, 2, 3), (3, 4, 3, 2), (1, 6, 1, 4)])
def test_rnn_gradients_match_finite_differences(shape):
    x, h0, Wx, Wh, b_ih, b_hh, dh = _rnn_case(*shape, seed=sum(shape) + 1)
    b = b_ih + b_hh
    grads = rnn_backward(dh, rnn_forward(x, h0, Wx, Wh, b)[1])
    args = [x, h0, Wx, Wh, b]
    for k, analytic in enumerate(grads):
        def f(v, k=k):
            return rnn_forward(*[v if j == k else a for j, a in enumerate(args)])[0]
        assert gradcheck(f, args[k], analytic, dout=dh) < 1e-7, k


@pytest.mark.parametrize("shape", [(2, 3, 2, 3), (3, 4, 3, 2), (1, 5, 2, 1)])
def test_lstm_gradients_match_finite_differences(shape):
    n, _, _, hid = shape
    x, h0, Wx, Wh, b_ih, b_hh, dh = _rnn_case(*shape, seed=sum(shape) + 2, gates=4)
    c0 = np.random.default_rng(3).standard_normal((n, hid))
    args = [x, h0, c0, Wx, Wh, b_ih + b_hh]
    grads = lstm_backward(dh, lstm_forward(*args)[1])
    for k, analytic in enumerate(grads):
        def f(v, k=k):
            return lstm_forward(*[v if j == k else a for j, a in enumerate(args)])[0]
        assert gradcheck(f, args[k], analytic, dout=dh) < 1e-7, k


def test_only_the_last_state_feeding_the_loss_reaches_every_step():
    x, h0, Wx, Wh, b_ih, b_hh, _ = _rnn_case(2, 6, 3, 4, seed=5)
    dh = np.zeros((2, 6, 4))
    dh[:, -1] = 1.0
    dx = rnn_backward(dh, rnn_forward(x, h0, Wx, Wh, b_ih)[1])[0]
    assert np.all(np.abs(dx).sum(axis=2) > 0)  # the first input still gets gradient, through time


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_float32_stays_float32(cell):
    gates = 1 if cell == "rnn" else 4
    x, h0, Wx, Wh, b, _, dh = (a.astype(np.float32) for a in _rnn_case(2, 3, 2, 3, seed=0, gates=gates))
    if cell == "rnn":
        h, cache = rnn_forward(x, h0, Wx, Wh, b)
        grads = rnn_backward(dh, cache)
    else:
        h, cache = lstm_forward(x, h0, h0.copy(), Wx, Wh, b)
        grads = lstm_backward(dh, cache)
    assert h.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads)


def test_recurrent_layers_reject_bad_shapes_with_clear_messages():
    x, h0, Wx, Wh, b, _, dh = _rnn_case(2, 3, 2, 4, seed=0)
    with pytest.raises(ValueError, match="x must be 3-dimensional"):
        rnn_forward(x[0], h0, Wx, Wh, b)
    with pytest.raises(ValueError, match=r"wx has shape \(4, 3\); expected \(H, D\) = \(4, 2\)"):
        rnn_forward(x, h0, np.zeros((4, 3)), Wh, b)
    with pytest.raises(ValueError, match=r"wh has shape \(4, 3\); expected \(H, H\)"):
        rnn_forward(x, h0, Wx, np.zeros((4, 3)), b)
    with pytest.raises(ValueError, match=r"h0 has shape \(3, 4\); expected \(N, H\) = \(2, 4\)"):
        rnn_forward(x, np.zeros((3, 4)), Wx, Wh, b)
    with pytest.raises(ValueError, match=r"b has shape \(3,\)"):
        rnn_forward(x, h0, Wx, Wh, np.zeros(3))
    with pytest.raises(TypeError, match="dtypes differ"):
        rnn_forward(x.astype(np.float32), h0, Wx, Wh, b)
    with pytest.raises(ValueError, match=r"expected \(4H, D\) = \(16, 2\)"):
        lstm_forward(x, h0, h0, np.zeros((4, 2)), np.zeros((16, 4)), np.zeros(16))
    with pytest.raises(ValueError, match=r"c0 has shape \(2, 3\)"):
        lstm_forward(x, h0, np.zeros((2, 3)), np.zeros((16, 2)), np.zeros((16, 4)), np.zeros(16))
    _, cache = rnn_forward(x, h0, Wx, Wh, b)
    with pytest.raises(ValueError, match=r"dh has shape \(2, 3, 3\); expected \(2, 3, 4\)"):
        rnn_backward(dh[:, :, :3], cache)
