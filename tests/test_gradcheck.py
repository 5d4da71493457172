"""Gradient checking: rel_error, numerical_gradient and gradcheck."""

import numpy as np
import pytest

from dlbasics import gradcheck, numerical_gradient, rel_error


def test_rel_error_is_zero_for_equal_arrays_and_one_for_opposite_ones():
    a = np.array([1.0, 2.0])
    assert rel_error(a, a) == 0.0
    assert rel_error(a, -a) == 1.0
    assert rel_error(np.zeros(0), np.zeros(0)) == 0.0
    # |a - b| / max(1e-8, |a| + |b|): tiny values are not blown up by the floor.
    assert rel_error(np.array([1e-12]), np.array([0.0])) == pytest.approx(1e-4)
    with pytest.raises(ValueError, match=r"a has shape \(2,\) but b has shape \(3,\)"):
        rel_error(a, np.zeros(3))


def test_numerical_gradient_of_a_scalar_function_matches_the_analytic_one():
    x = np.array([[0.3, -1.2, 2.0], [0.5, 0.0, -0.7]])
    grad = numerical_gradient(lambda v: float(np.sum(v**3)), x)
    np.testing.assert_allclose(grad, 3 * x**2, rtol=1e-8, atol=1e-9)
    np.testing.assert_array_equal(x, [[0.3, -1.2, 2.0], [0.5, 0.0, -0.7]])  # x is restored


def test_numerical_gradient_with_dout_is_the_vector_jacobian_product():
    rng = np.random.default_rng(0)
    x, w, dout = rng.standard_normal((4, 3)), rng.standard_normal((3, 2)), rng.standard_normal((4, 2))
    grad = numerical_gradient(lambda v: v @ w, x, dout=dout)
    np.testing.assert_allclose(grad, dout @ w.T, rtol=1e-8, atol=1e-10)


def test_centred_differences_are_second_order_accurate():
    # For exp at 0 the centred error is h^2/6 and the one-sided error h/2.
    x = np.zeros(1)
    err_1e2 = abs(numerical_gradient(lambda v: float(np.exp(v).sum()), x, h=1e-2)[0] - 1.0)
    err_1e3 = abs(numerical_gradient(lambda v: float(np.exp(v).sum()), x, h=1e-3)[0] - 1.0)
    assert err_1e2 == pytest.approx(1e-4 / 6, rel=1e-3)
    assert err_1e2 / err_1e3 == pytest.approx(100, rel=1e-2)


def test_numerical_gradient_refuses_float32():
    with pytest.raises(TypeError, match="x must be a float64 NumPy array"):
        numerical_gradient(lambda v: float(v.sum()), np.zeros(3, dtype=np.float32))


def test_gradcheck_passes_a_right_gradient_and_fails_a_wrong_one():
    x = np.array([0.4, -1.1, 2.3])

    def f(v):
        return float(np.sum(np.sin(v)))

    assert gradcheck(f, x, np.cos(x)) < 1e-8
    assert gradcheck(f, x, 0.5 * np.cos(x)) > 0.3  # the classic factor-of-two bug
    with pytest.raises(ValueError, match=r"analytic gradient has shape \(2,\) but x has shape \(3,\)"):
        gradcheck(f, x, np.zeros(2))
