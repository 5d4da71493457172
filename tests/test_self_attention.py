"""Scaled dot-product and multi-head self-attention against PyTorch (float64) and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlbasics import (
    gradcheck,
    multi_head_attention_backward,
    multi_head_attention_forward,
    numerical_gradient,
    rel_error,
    scaled_dot_product_attention_backward,
    scaled_dot_product_attention_forward,
)

TOL = {"rtol": 1e-10, "atol": 1e-12}


def _qkv(lead, t_q, t_k, d, d_v, seed):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((*lead, t_q, d)), rng.standard_normal((*lead, t_k, d)),
            rng.standard_normal((*lead, t_k, d_v)), rng.standard_normal((*lead, t_q, d_v)))


def _padding_mask(batch, t_q, t_k, seed):
    """(batch, 1, 1, T_k)-style key-padding mask with at least one real key per row."""
    lengths = np.random.default_rng(seed).integers(1, t_k + 1, size=batch)
    return (np.arange(t_k)[None, :] < lengths[:, None])[:, None, None, :]


def _torch_sdpa(q, k, v, dout, mask=None, causal=False):
    qt, kt, vt = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    out = F.scaled_dot_product_attention(
        qt, kt, vt, attn_mask=None if mask is None else torch.from_numpy(np.ascontiguousarray(mask)),
        is_causal=causal)
    out.backward(torch.from_numpy(dout))
    return out.detach().numpy(), qt.grad.numpy(), kt.grad.numpy(), vt.grad.numpy()


# (leading axes, T_q, T_k, d, d_v)
SHAPES = [((), 1, 1, 1, 1), ((3,), 5, 5, 4, 3), ((2, 3), 6, 4, 8, 5), ((2, 2), 4, 7, 3, 6),
          ((1, 4), 9, 9, 16, 16)]


@pytest.mark.parametrize(("lead", "t_q", "t_k", "d", "d_v"), SHAPES)
@pytest.mark.parametrize("kind", ["none", "padding", "causal", "random"])
def test_attention_forward_and_backward_match_torch_in_float64(lead, t_q, t_k, d, d_v, kind):
    seed = hash((lead, t_q, t_k, d, kind)) % 2**32
    q, k, v, dout = _qkv(lead, t_q, t_k, d, d_v, seed)
    mask, causal = None, kind == "causal"
    if kind == "padding" and lead:
        mask = _padding_mask(lead[0], t_q, t_k, seed).reshape(lead[0], *([1] * len(lead)), t_k)
    elif kind == "random":
        mask = np.random.default_rng(seed).random((*lead, t_q, t_k)) < 0.6
        mask[..., 0] = True  # every query keeps a key
    out, cache = scaled_dot_product_attention_forward(q, k, v, mask=mask, causal=causal)
    weights = cache.weights
    dq, dk, dv = scaled_dot_product_attention_backward(dout, cache)
    out_t, dq_t, dk_t, dv_t = _torch_sdpa(q, k, v, dout, mask, causal)
    for ours, theirs in ((out, out_t), (dq, dq_t), (dk, dk_t), (dv, dv_t)):
        np.testing.assert_allclose(ours, theirs, **TOL)
    assert weights.shape == (*lead, t_q, t_k)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-13)


def test_weights_are_the_softmax_of_scaled_scores_and_exactly_zero_where_masked():
    q, k, v, _ = _qkv((2,), 5, 5, 4, 3, seed=1)
    weights = scaled_dot_product_attention_forward(q, k, v, causal=True)[1].weights
    assert np.all(weights[:, np.triu_indices(5, 1)[0], np.triu_indices(5, 1)[1]] == 0.0)
    scores = q @ k.transpose(0, 2, 1) / 2.0  # sqrt(d) = 2
    lower = np.tril(np.ones((5, 5), bool))
    expected = np.where(lower, np.exp(scores - scores.max(-1, keepdims=True)), 0.0)
    np.testing.assert_allclose(weights, expected / expected.sum(-1, keepdims=True), rtol=1e-12)


def test_mask_and_causal_together_mean_a_key_must_pass_both():
    q, k, v, dout = _qkv((2,), 6, 6, 3, 2, seed=2)
    pad = np.array([[True] * 6, [True] * 4 + [False] * 2])[:, None, :]  # (2, 1, 6)
    out, cache = scaled_dot_product_attention_forward(q, k, v, mask=pad, causal=True)
    both = pad & np.tril(np.ones((6, 6), bool))
    out_t, dq_t, dk_t, dv_t = _torch_sdpa(q, k, v, dout, mask=both)
    np.testing.assert_allclose(out, out_t, **TOL)
    for ours, theirs in zip(scaled_dot_product_attention_backward(dout, cache), (dq_t, dk_t, dv_t)):
        np.testing.assert_allclose(ours, theirs, **TOL)


def test_causal_output_does_not_depend_on_later_positions():
    q, k, v, _ = _qkv((1,), 7, 7, 4, 4, seed=3)
    out, _ = scaled_dot_product_attention_forward(q, k, v, causal=True)
    k2, v2, q2 = k.copy(), v.copy(), q.copy()
    k2[:, 4:], v2[:, 4:], q2[:, 4:] = 100.0, -50.0, 3.0
    out2, _ = scaled_dot_product_attention_forward(q2, k2, v2, causal=True)
    np.testing.assert_array_equal(out2[:, :4], out[:, :4])
    assert not np.allclose(out2[:, 4:], out[:, 4:])


def test_masked_keys_get_no_gradient_and_cannot_change_the_output():
    q, k, v, dout = _qkv((3,), 4, 6, 5, 2, seed=4)
    mask = _padding_mask(3, 4, 6, seed=4)[:, 0]  # (3, 1, 6)
    out, cache = scaled_dot_product_attention_forward(q, k, v, mask=mask)
    noisy_k, noisy_v = k.copy(), v.copy()
    hidden = ~np.broadcast_to(mask[:, 0, :], (3, 6))
    noisy_k[hidden], noisy_v[hidden] = 1e3, -1e3
    out2, _ = scaled_dot_product_attention_forward(q, noisy_k, noisy_v, mask=mask)
    np.testing.assert_allclose(out2, out, rtol=1e-12)
    _, dk, dv = scaled_dot_product_attention_backward(dout, cache)
    assert np.all(dk[hidden] == 0.0) and np.all(dv[hidden] == 0.0)


@pytest.mark.parametrize("causal", [False, True])
def test_attention_gradients_match_finite_differences(causal):
    q, k, v, dout = _qkv((2,), 4, 4, 3, 2, seed=5)
    mask = np.ones((2, 1, 4), bool)
    mask[1, 0, 3] = False
    dq, dk, dv = scaled_dot_product_attention_backward(
        dout, scaled_dot_product_attention_forward(q, k, v, mask, causal)[1])

    def f_q(x):
        return scaled_dot_product_attention_forward(x, k, v, mask, causal)[0]

    def f_k(x):
        return scaled_dot_product_attention_forward(q, x, v, mask, causal)[0]

    def f_v(x):
        return scaled_dot_product_attention_forward(q, k, x, mask, causal)[0]

    for f, x, analytic in ((f_q, q, dq), (f_k, k, dk), (f_v, v, dv)):
        assert gradcheck(f, x, analytic, dout=dout) < 1e-7


def test_attention_keeps_float32_and_does_not_overflow_on_large_scores():
    q, k, v, dout = (a.astype(np.float32) for a in _qkv((2,), 3, 3, 2, 2, seed=6))
    out, cache = scaled_dot_product_attention_forward(q * 1e3, k * 1e3, v, causal=True)
    weights = cache.weights
    grads = scaled_dot_product_attention_backward(dout, cache)
    assert {a.dtype for a in (out, weights, *grads)} == {np.dtype(np.float32)}
    assert np.isfinite(out).all() and np.isfinite(weights).all()


def test_attention_rejects_bad_shapes_masks_and_dtypes():
    q, k, v, dout = _qkv((2,), 3, 4, 5, 6, seed=7)
    with pytest.raises(ValueError, match="q has d = 5 features but k has 4"):
        scaled_dot_product_attention_forward(q, k[..., :4], v)
    with pytest.raises(ValueError, match="k has T_k = 4 positions but v has 3"):
        scaled_dot_product_attention_forward(q, k, v[:, :3])
    with pytest.raises(ValueError, match="share their leading"):
        scaled_dot_product_attention_forward(q, k[:1], v[:1])
    with pytest.raises(ValueError, match="at least 2 axes"):
        scaled_dot_product_attention_forward(q[0, 0], k, v)
    with pytest.raises(TypeError, match="expected a bool array, True where a query may attend"):
        scaled_dot_product_attention_forward(q, k, v, mask=np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"does not broadcast to the scores' shape .* \(2, 3, 4\)"):
        scaled_dot_product_attention_forward(q, k, v, mask=np.ones((3, 3), bool))
    blind = np.ones((2, 3, 4), bool)
    blind[1, 2] = False
    with pytest.raises(ValueError, match=r"1 query row\(s\) may attend to no key \(first: index \(1, 2\)"):
        scaled_dot_product_attention_forward(q, k, v, mask=blind)
    with pytest.raises(TypeError, match="dtypes differ"):
        scaled_dot_product_attention_forward(q.astype(np.float32), k, v)
    with pytest.raises(TypeError, match="causal must be True or False"):
        scaled_dot_product_attention_forward(q, k, v, causal="yes")
    _, cache = scaled_dot_product_attention_forward(q, k, v)
    with pytest.raises(ValueError, match=r"dout has shape \(2, 3, 5\); expected \(2, 3, 6\)"):
        scaled_dot_product_attention_backward(dout[..., :5], cache)


# ---------------------------------------------------------------------------
# multi-head self-attention against torch.nn.MultiheadAttention
# ---------------------------------------------------------------------------


def _mha_case(batch, steps, d_model, seed):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((batch, steps, d_model)),
            rng.standard_normal((3 * d_model, d_model)) / np.sqrt(d_model),
            rng.standard_normal(3 * d_model) * 0.1,
            rng.standard_normal((d_model, d_model)) / np.sqrt(d_model),
            rng.standard_normal(d_model) * 0.1,
            rng.standard_normal((batch, steps, d_model)))


def _torch_mha(x, w_qkv, b_qkv, w_out, b_out, n_heads, causal, dout):
    batch, steps, d_model = x.shape
    mha = torch.nn.MultiheadAttention(d_model, n_heads, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.from_numpy(w_qkv))
        mha.in_proj_bias.copy_(torch.from_numpy(b_qkv))
        mha.out_proj.weight.copy_(torch.from_numpy(w_out))
        mha.out_proj.bias.copy_(torch.from_numpy(b_out))
    xt = torch.tensor(x, requires_grad=True)
    # nn.MultiheadAttention's boolean attn_mask is True where attention is NOT allowed
    attn_mask = torch.triu(torch.ones(steps, steps, dtype=torch.bool), 1) if causal else None
    out, weights = mha(xt, xt, xt, attn_mask=attn_mask, need_weights=True, average_attn_weights=False)
    out.backward(torch.from_numpy(dout))
    return (out.detach().numpy(), weights.detach().numpy(), xt.grad.numpy(), mha.in_proj_weight.grad.numpy(),
            mha.in_proj_bias.grad.numpy(), mha.out_proj.weight.grad.numpy(), mha.out_proj.bias.grad.numpy())


@pytest.mark.parametrize(("batch", "steps", "d_model", "n_heads"),
                         [(1, 1, 1, 1), (2, 5, 8, 2), (3, 7, 12, 4), (2, 4, 6, 6), (1, 9, 16, 1)])
@pytest.mark.parametrize("causal", [False, True])
def test_multi_head_attention_matches_torch_multihead_attention(batch, steps, d_model, n_heads, causal):
    x, w_qkv, b_qkv, w_out, b_out, dout = _mha_case(batch, steps, d_model, seed=batch * steps + d_model)
    out, cache = multi_head_attention_forward(x, w_qkv, b_qkv, w_out, b_out, n_heads, causal=causal)
    grads = multi_head_attention_backward(dout, cache)
    out_t, weights_t, *grads_t = _torch_mha(x, w_qkv, b_qkv, w_out, b_out, n_heads, causal, dout)
    np.testing.assert_allclose(out, out_t, **TOL)
    np.testing.assert_allclose(cache.attention.weights, weights_t, **TOL)
    for ours, theirs in zip(grads, grads_t, strict=True):
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, **TOL)


def test_multi_head_attention_gradients_match_finite_differences():
    x, w_qkv, b_qkv, w_out, b_out, dout = _mha_case(2, 4, 6, seed=11)
    args = [x, w_qkv, b_qkv, w_out, b_out]
    grads = multi_head_attention_backward(dout, multi_head_attention_forward(*args, 3, causal=True)[1])
    for i, analytic in enumerate(grads):
        def f(value, i=i):
            return multi_head_attention_forward(*args[:i], value, *args[i + 1:], 3, causal=True)[0]

        if i != 2:
            assert gradcheck(f, args[i], analytic, dout=dout) < 1e-7
            continue
        # the key bias adds q . b_k to every score of a query: a shift the softmax ignores, so its
        # gradient is exactly zero (relative errors of zeros are noise; compare the rest)
        numeric = numerical_gradient(f, args[2], dout=dout)
        assert np.abs(analytic[6:12]).max() < 1e-12 and np.abs(numeric[6:12]).max() < 1e-8
        keep = np.r_[0:6, 12:18]
        assert rel_error(analytic[keep], numeric[keep]) < 1e-7


def test_multi_head_attention_keeps_float32():
    case = [a.astype(np.float32) for a in _mha_case(2, 3, 4, seed=12)]
    out, cache = multi_head_attention_forward(*case[:5], 2)
    grads = multi_head_attention_backward(case[5], cache)
    assert {a.dtype for a in (out, *grads)} == {np.dtype(np.float32)}


def test_multi_head_attention_rejects_bad_shapes():
    x, w_qkv, b_qkv, w_out, b_out, _ = _mha_case(2, 3, 6, seed=13)
    with pytest.raises(ValueError, match="n_heads = 4 does not divide d_model = 6"):
        multi_head_attention_forward(x, w_qkv, b_qkv, w_out, b_out, 4)
    with pytest.raises(ValueError, match=r"w_qkv has shape \(6, 6\); expected \(18, 6\)"):
        multi_head_attention_forward(x, w_qkv[:6], b_qkv, w_out, b_out, 2)
    with pytest.raises(ValueError, match=r"b_out has shape \(5,\); expected \(6,\)"):
        multi_head_attention_forward(x, w_qkv, b_qkv, w_out, b_out[:5], 2)
    with pytest.raises(ValueError, match="x must be 3-dimensional"):
        multi_head_attention_forward(x[0], w_qkv, b_qkv, w_out, b_out, 2)
    with pytest.raises(ValueError, match="n_heads must be an integer >= 1"):
        multi_head_attention_forward(x, w_qkv, b_qkv, w_out, b_out, 0)
    with pytest.raises(TypeError, match="dtypes differ"):
        multi_head_attention_forward(x.astype(np.float32), w_qkv, b_qkv, w_out, b_out, 2)
