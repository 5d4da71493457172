"""Activations and their derivatives against torch.autograd and finite differences."""

import warnings

import numpy as np
import pytest
import torch

import dlbasics
from dlbasics import gradcheck

TORCH_FUNCS = {
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "tanh": torch.tanh,
    "leaky_relu": lambda t: torch.nn.functional.leaky_relu(t, 0.01),
    "gelu": torch.nn.functional.gelu,
}


def _away_from_kink(x: np.ndarray) -> np.ndarray:
    # Finite differences straddling 0 are meaningless for ReLU-like functions.
    return np.where(np.abs(x) < 1e-3, 0.5, x)


@pytest.mark.parametrize("name", list(TORCH_FUNCS))
@pytest.mark.parametrize("shape", [(7,), (5, 3), (2, 3, 4)])
def test_activation_and_derivative_match_torch_autograd(name, shape):
    rng = np.random.default_rng(hash((name, shape)) % 2**32)
    x = rng.standard_normal(shape) * 3
    f = getattr(dlbasics, name)
    df = getattr(dlbasics, f"{name}_derivative")
    xt = torch.tensor(x, requires_grad=True)
    yt = TORCH_FUNCS[name](xt)
    yt.sum().backward()
    np.testing.assert_allclose(f(x), yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(df(x), xt.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", list(TORCH_FUNCS))
def test_derivative_matches_centred_differences(name):
    rng = np.random.default_rng(1)
    x = _away_from_kink(rng.standard_normal(20) * 2)
    f = getattr(dlbasics, name)
    df = getattr(dlbasics, f"{name}_derivative")
    tol = 1e-7 if name in ("sigmoid", "tanh", "gelu") else 1e-5
    assert gradcheck(lambda v: f(v).sum(), x, df(x)) < tol


def test_derivatives_at_the_kink_follow_torch():
    x = np.zeros(3)
    xt = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    torch.relu(xt).sum().backward()
    np.testing.assert_array_equal(dlbasics.relu_derivative(x), xt.grad.numpy())
    xt.grad = None
    torch.nn.functional.leaky_relu(xt, 0.01).sum().backward()
    np.testing.assert_array_equal(dlbasics.leaky_relu_derivative(x), xt.grad.numpy())


def test_sigmoid_is_stable_at_large_magnitudes():
    x = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = dlbasics.sigmoid(x)
        ds = dlbasics.sigmoid_derivative(x)
    np.testing.assert_allclose(s, torch.sigmoid(torch.tensor(x)).numpy(), rtol=1e-12, atol=0)
    assert s[0] == 0.0 and s[-1] == 1.0 and s[2] == 0.5
    assert np.all(np.isfinite(ds)) and ds[0] == 0.0


@pytest.mark.parametrize("alpha", [0.0, 0.01, 0.2])
def test_leaky_relu_alpha_matches_torch(alpha):
    x = np.linspace(-3, 3, 13)
    xt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.leaky_relu(xt, alpha).sum().backward()
    np.testing.assert_allclose(
        dlbasics.leaky_relu(x, alpha),
        torch.nn.functional.leaky_relu(torch.tensor(x), alpha).numpy(),
        rtol=1e-12,
    )
    np.testing.assert_allclose(dlbasics.leaky_relu_derivative(x, alpha), xt.grad.numpy(), rtol=1e-12)


def test_softmax_matches_torch_and_survives_huge_logits():
    rng = np.random.default_rng(2)
    z = rng.standard_normal((4, 5))
    np.testing.assert_allclose(dlbasics.softmax(z), torch.softmax(torch.tensor(z), -1).numpy(), rtol=1e-12)
    np.testing.assert_allclose(
        dlbasics.softmax(z, axis=0), torch.softmax(torch.tensor(z), 0).numpy(), rtol=1e-12
    )
    p = dlbasics.softmax(np.array([[1e4, 0.0, -1e4]]))
    assert np.all(np.isfinite(p)) and p[0, 0] == 1.0


@pytest.mark.parametrize("name", ["sigmoid", "relu", "tanh", "leaky_relu", "gelu", "softmax"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activations_keep_the_callers_dtype(name, dtype):
    x = np.linspace(-2, 2, 10, dtype=dtype).reshape(2, 5)
    assert getattr(dlbasics, name)(x).dtype == dtype
    if name != "softmax":
        assert getattr(dlbasics, f"{name}_derivative")(x).dtype == dtype


def test_get_activation_lists_valid_names_for_unknown_ones():
    f, df = dlbasics.get_activation("tanh")
    np.testing.assert_allclose(f(np.array([0.5])), np.tanh([0.5]))
    with pytest.raises(ValueError, match="unknown activation 'swish'.*'sigmoid'.*'relu'.*'tanh'"):
        dlbasics.get_activation("swish")
    with pytest.raises(TypeError, match="must be a name"):
        dlbasics.get_activation(3)


@pytest.mark.parametrize("name", list(dlbasics.ACTIVATIONS))
def test_get_activation_hands_out_the_public_functions(name):
    f, df = dlbasics.get_activation(name)
    assert f is getattr(dlbasics, name)
    assert df is getattr(dlbasics, f"{name}_derivative")


@pytest.mark.parametrize("name", list(dlbasics.ACTIVATIONS))
def test_lists_and_integer_arrays_give_the_same_float64_result(name):
    for fn in dlbasics.get_activation(name):
        from_list = fn([1.0, -2.0, 0.0])
        from_ints = fn(np.array([1, -2, 0]))
        assert from_list.dtype == from_ints.dtype == np.float64
        np.testing.assert_array_equal(from_list, from_ints)


def test_activations_are_bare_maths_so_nan_passes_through():
    out = dlbasics.relu(np.array([1.0, np.nan, -1.0]))
    assert out[0] == 1.0 and np.isnan(out[1]) and out[2] == 0.0


def test_integer_input_becomes_float64():
    assert dlbasics.sigmoid(np.array([0, 1])).dtype == np.float64


def test_gelu_is_the_exact_erf_form_not_the_tanh_approximation():
    x = np.linspace(-6, 6, 241)
    xt = torch.tensor(x)
    exact = torch.nn.functional.gelu(xt, approximate="none").numpy()
    approx = torch.nn.functional.gelu(xt, approximate="tanh").numpy()
    np.testing.assert_allclose(dlbasics.gelu(x), exact, rtol=1e-12, atol=1e-15)
    assert np.abs(dlbasics.gelu(x) - approx).max() > 1e-4
    # x * Phi(x): -0.17 at its minimum near x = -0.75, ReLU far from zero
    assert dlbasics.gelu(np.array([-0.7518])) == pytest.approx(-0.16997, abs=1e-5)
    np.testing.assert_allclose(dlbasics.gelu(np.array([-40.0, 40.0])), [0.0, 40.0], atol=1e-300)
