r"""Recurrent layers over whole sequences: a tanh RNN and an LSTM, with backpropagation through time.

Shapes are batch-first and follow :class:`torch.nn.RNN` and :class:`torch.nn.LSTM`
(``batch_first=True``, one layer, one direction), so weights copy across:

* input ``x (N, T, D)``: ``N`` sequences of ``T`` steps of ``D`` features;
* hidden states ``h (N, T, H)``: the state after every step;
* tanh RNN: ``wx (H, D)``, ``wh (H, H)``, ``b (H,)`` and
  :math:`h_t = \tanh(x_t W_x^\top + h_{t-1} W_h^\top + b)`;
* LSTM: ``wx (4H, D)``, ``wh (4H, H)``, ``b (4H,)`` holding the four gates in
  PyTorch's order, input ``i``, forget ``f``, cell candidate ``g``, output ``o``:

  .. math::
      [a_i, a_f, a_g, a_o] = x_t W_x^\top + h_{t-1} W_h^\top + b,\quad
      c_t = \sigma(a_f) \odot c_{t-1} + \sigma(a_i) \odot \tanh(a_g),\quad
      h_t = \sigma(a_o) \odot \tanh(c_t).

PyTorch keeps two bias vectors (``bias_ih_l0`` and ``bias_hh_l0``); they are
only ever added, so ``b`` is their sum.

The backward functions take ``dh (N, T, H)``, the gradient of the loss with
respect to *every* hidden state (zero where a state is not used), and walk the
sequence from the last step to the first: the gradient reaching
:math:`h_{t-1}` is the upstream ``dh[:, t-1]`` plus what flows back through
step ``t``. The input projections ``x_t W_x^T`` of all steps are one matrix
product before the loop, and the weight gradients one matrix product after it;
only the recurrence itself loops over time.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from dlbasics.activations import sigmoid
from dlbasics.validation import check_shape, check_shapes

__all__ = [
    "LSTMCache",
    "RNNCache",
    "lstm_backward",
    "lstm_forward",
    "rnn_backward",
    "rnn_forward",
]


class RNNCache(NamedTuple):
    """What :func:`rnn_backward` needs from the forward pass."""

    x: np.ndarray  # (N, T, D)
    h0: np.ndarray  # (N, H)
    wx: np.ndarray  # (H, D)
    wh: np.ndarray  # (H, H)
    h: np.ndarray  # (N, T, H)


class LSTMCache(NamedTuple):
    """What :func:`lstm_backward` needs from the forward pass."""

    x: np.ndarray  # (N, T, D)
    h0: np.ndarray  # (N, H)
    c0: np.ndarray  # (N, H)
    wx: np.ndarray  # (4H, D)
    wh: np.ndarray  # (4H, H)
    gates: np.ndarray  # (N, T, 4H): sigma(a_i), sigma(a_f), tanh(a_g), sigma(a_o)
    c: np.ndarray  # (N, T, H) cell states
    tanh_c: np.ndarray  # (N, T, H)
    h: np.ndarray  # (N, T, H)


def _projection_gradients(
    da: np.ndarray, x: np.ndarray, h0: np.ndarray, h: np.ndarray, wx: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r"""Gradients through :math:`a_t = x_t W_x^\top + h_{t-1} W_h^\top + b`, all steps at once.

    Both cells feed the same affine map into their nonlinearities, so once the
    loop over time has found ``da`` (N, T, G), the gradient of the loss with
    respect to every pre-activation (G = H for the RNN, 4H for the LSTM), the
    rest is one matrix product each.

    Returns dx (N, T, D), dwx (G, D), dwh (G, H) and db (G,).
    """
    n, steps, width = da.shape
    h_prev = np.concatenate([h0[:, None], h[:, :-1]], axis=1)  # (N, T, H): h_{t-1}
    flat = da.reshape(n * steps, width)
    dx = da @ wx
    dwx = flat.T @ x.reshape(n * steps, -1)
    dwh = flat.T @ h_prev.reshape(n * steps, -1)
    return dx, dwx, dwh, flat.sum(axis=0)


def rnn_forward(
    x: np.ndarray, h0: np.ndarray, wx: np.ndarray, wh: np.ndarray, b: np.ndarray
) -> tuple[np.ndarray, RNNCache]:
    r"""Run a tanh RNN over whole sequences: :math:`h_t = \tanh(x_t W_x^\top + h_{t-1} W_h^\top + b)`.

    Parameters
    ----------
    x : numpy.ndarray, shape (N, T, D)
        Input sequences, batch-first.
    h0 : numpy.ndarray, shape (N, H)
        Initial hidden state (zeros in :class:`torch.nn.RNN` by default).
    wx : numpy.ndarray, shape (H, D)
        Input-to-hidden weights (``weight_ih_l0``).
    wh : numpy.ndarray, shape (H, H)
        Hidden-to-hidden weights (``weight_hh_l0``).
    b : numpy.ndarray, shape (H,)
        Bias (``bias_ih_l0 + bias_hh_l0``).

    Returns
    -------
    h : numpy.ndarray, shape (N, T, H)
        Hidden state after every step; ``h[:, -1]`` is the final state.
    cache : RNNCache
        For :func:`rnn_backward`.
    """
    x, wh, wx, b, h0 = check_shapes(x=(x, "N T D"), wh=(wh, "H H"), wx=(wx, "H D"), b=(b, "H"),
                                    h0=(h0, "N H"))
    n, steps, _ = x.shape
    a_in = x @ wx.T + b  # (N, T, H): every input projection in one product
    h = np.empty((n, steps, wh.shape[0]), dtype=x.dtype)
    prev = h0
    for t in range(steps):
        prev = np.tanh(a_in[:, t] + prev @ wh.T)
        h[:, t] = prev
    return h, RNNCache(x, h0, wx, wh, h)


def rnn_backward(
    dh: np.ndarray, cache: RNNCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r"""Backpropagation through time for :func:`rnn_forward`.

    Going backwards in time, the gradient of the state :math:`h_t` is the
    upstream ``dh[:, t]`` plus what step :math:`t+1` sends back; through the
    tanh it becomes :math:`\delta_t = \partial L/\partial a_t = (\ldots) \odot
    (1 - h_t^2)`, and step :math:`t` sends :math:`\delta_t W_h` on to
    :math:`h_{t-1}`.

    Parameters
    ----------
    dh : numpy.ndarray, shape (N, T, H)
        Gradient of the loss with respect to every hidden state (use zeros
        except ``dh[:, -1]`` when only the final state feeds the loss).
    cache : RNNCache
        From :func:`rnn_forward`.

    Returns
    -------
    dx : numpy.ndarray, shape (N, T, D)
    dh0 : numpy.ndarray, shape (N, H)
    dwx : numpy.ndarray, shape (H, D)
    dwh : numpy.ndarray, shape (H, H)
    db : numpy.ndarray, shape (H,)
    """
    x, h0, wx, wh, h = cache
    check_shape(dh, h.shape, "dh", "the shape of the hidden states h (N, T, H)")
    steps = h.shape[1]
    delta = np.empty_like(h)  # dL/da_t, the gradient before the tanh, for every step
    carry = np.zeros_like(h0)  # gradient flowing back into h_t from step t + 1
    for t in reversed(range(steps)):
        delta[:, t] = (dh[:, t] + carry) * (1 - h[:, t] ** 2)
        carry = delta[:, t] @ wh
    dx, dwx, dwh, db = _projection_gradients(delta, x, h0, h, wx)
    return dx, carry, dwx, dwh, db


def lstm_forward(
    x: np.ndarray,
    h0: np.ndarray,
    c0: np.ndarray,
    wx: np.ndarray,
    wh: np.ndarray,
    b: np.ndarray,
) -> tuple[np.ndarray, LSTMCache]:
    r"""Run an LSTM over whole sequences, gates in PyTorch's order (i, f, g, o).

    .. math::
        i_t = \sigma(a_i),\ f_t = \sigma(a_f),\ g_t = \tanh(a_g),\ o_t = \sigma(a_o),\quad
        c_t = f_t \odot c_{t-1} + i_t \odot g_t,\quad h_t = o_t \odot \tanh(c_t),

    where :math:`[a_i, a_f, a_g, a_o] = x_t W_x^\top + h_{t-1} W_h^\top + b`.

    Parameters
    ----------
    x : numpy.ndarray, shape (N, T, D)
        Input sequences, batch-first.
    h0, c0 : numpy.ndarray, shape (N, H)
        Initial hidden and cell states.
    wx : numpy.ndarray, shape (4H, D)
        ``weight_ih_l0``: rows ``[0, H)`` input gate, ``[H, 2H)`` forget gate,
        ``[2H, 3H)`` cell candidate, ``[3H, 4H)`` output gate.
    wh : numpy.ndarray, shape (4H, H)
        ``weight_hh_l0``, same row blocks.
    b : numpy.ndarray, shape (4H,)
        ``bias_ih_l0 + bias_hh_l0``.

    Returns
    -------
    h : numpy.ndarray, shape (N, T, H)
        Hidden state after every step (the output of :class:`torch.nn.LSTM`).
    cache : LSTMCache
        For :func:`lstm_backward`; ``cache.c`` holds the cell states ``(N, T, H)``.
    """
    x, wh, wx, b, h0, c0 = check_shapes(x=(x, "N T D"), wh=(wh, "4H H"), wx=(wx, "4H D"), b=(b, "4H"),
                                        h0=(h0, "N H"), c0=(c0, "N H"))
    n, steps, _ = x.shape
    hidden = wh.shape[1]
    a_in = x @ wx.T + b  # (N, T, 4H)
    gates = np.empty((n, steps, 4 * hidden), dtype=x.dtype)
    c = np.empty((n, steps, hidden), dtype=x.dtype)
    tanh_c = np.empty_like(c)
    h = np.empty_like(c)
    h_prev, c_prev = h0, c0
    for t in range(steps):
        a = a_in[:, t] + h_prev @ wh.T
        z = gates[:, t]
        z[:, : 2 * hidden] = sigmoid(a[:, : 2 * hidden])  # i, f
        z[:, 2 * hidden : 3 * hidden] = np.tanh(a[:, 2 * hidden : 3 * hidden])  # g
        z[:, 3 * hidden :] = sigmoid(a[:, 3 * hidden :])  # o
        i, f, g, o = np.split(z, 4, axis=1)
        c_prev = f * c_prev + i * g
        c[:, t] = c_prev
        tanh_c[:, t] = np.tanh(c_prev)
        h_prev = o * tanh_c[:, t]
        h[:, t] = h_prev
    return h, LSTMCache(x, h0, c0, wx, wh, gates, c, tanh_c, h)


def lstm_backward(
    dh: np.ndarray, cache: LSTMCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    r"""Backpropagation through time for :func:`lstm_forward`.

    Two gradients travel backwards: into the hidden state (through the
    matrix ``wh`` and the gates) and into the cell state, where
    :math:`\partial c_t / \partial c_{t-1} = f_t` is elementwise, with no
    weight matrix and no squashing derivative on the way.

    Parameters
    ----------
    dh : numpy.ndarray, shape (N, T, H)
        Gradient of the loss with respect to every hidden state.
    cache : LSTMCache
        From :func:`lstm_forward`.

    Returns
    -------
    dx : numpy.ndarray, shape (N, T, D)
    dh0, dc0 : numpy.ndarray, shape (N, H)
        Gradients for the initial hidden and cell states.
    dwx : numpy.ndarray, shape (4H, D)
    dwh : numpy.ndarray, shape (4H, H)
    db : numpy.ndarray, shape (4H,)
    """
    x, h0, c0, wx, wh, gates, c, tanh_c, h = cache
    check_shape(dh, h.shape, "dh", "the shape of the hidden states h (N, T, H)")
    _, steps, hidden = h.shape
    da = np.empty_like(gates)  # dL/d[a_i, a_f, a_g, a_o] for every step
    dh_carry = np.zeros_like(h0)
    dc_carry = np.zeros_like(c0)
    for t in reversed(range(steps)):
        i, f, g, o = np.split(gates[:, t], 4, axis=1)
        c_prev = c[:, t - 1] if t > 0 else c0
        dh_t = dh[:, t] + dh_carry
        dc = dc_carry + dh_t * o * (1 - tanh_c[:, t] ** 2)
        da[:, t, :hidden] = dc * g * i * (1 - i)
        da[:, t, hidden : 2 * hidden] = dc * c_prev * f * (1 - f)
        da[:, t, 2 * hidden : 3 * hidden] = dc * i * (1 - g**2)
        da[:, t, 3 * hidden :] = dh_t * tanh_c[:, t] * o * (1 - o)
        dc_carry = dc * f  # the additive cell path: elementwise, no matrix, no tanh'
        dh_carry = da[:, t] @ wh
    dx, dwx, dwh, db = _projection_gradients(da, x, h0, h, wx)
    return dx, dh_carry, dc_carry, dwx, dwh, db
