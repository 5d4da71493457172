"""The argument checks of ``dlbasics.validation``: what they accept and the errors they raise."""

from __future__ import annotations

import numpy as np
import pytest

from dlbasics.validation import check_bool, check_choice, check_layer_input, check_ready, check_shapes


@pytest.mark.parametrize("value", [True, False, np.bool_(True)])
def test_check_bool_accepts_booleans(value):
    assert check_bool(value, "flag") is bool(value)


@pytest.mark.parametrize("value", [1, 0, "yes", None, np.array([True])])
def test_check_bool_refuses_anything_else(value):
    with pytest.raises(TypeError, match="flag must be True or False, got"):
        check_bool(value, "flag")


def test_check_ready_passes_a_value_and_refuses_none():
    assert check_ready(3, "unused") == 3
    with pytest.raises(RuntimeError, match="^call forward first$"):
        check_ready(None, "call forward first")


def test_check_choice_lists_the_choices():
    assert check_choice("sgd", "optimizer", ("sgd", "adam")) == "sgd"
    with pytest.raises(ValueError, match="unknown optimizer 'adma'; expected one of 'sgd', 'adam'"):
        check_choice("adma", "optimizer", ("sgd", "adam"))
    with pytest.raises(ValueError, match=r"unknown optimizer \[1\]"):
        check_choice([1], "optimizer", {"sgd": 1})


def test_check_layer_input_checks_dtype_and_size():
    x = np.zeros((2, 3), np.float32)
    assert check_layer_input(x, np.dtype(np.float32), "Layer", 3) is x
    with pytest.raises(ValueError, match=r"x has 3 features \(shape \(2, 3\)\) but this Layer was built "):
        check_layer_input(x, np.dtype(np.float32), "Layer", 4)
    with pytest.raises(ValueError, match=r"x has 3 channels"):
        check_layer_input(np.zeros((1, 3, 2, 2), np.float32), np.dtype(np.float32), "Layer", 4)
    with pytest.raises(TypeError, match="x is float32 but this Layer holds float64 parameters"):
        check_layer_input(x, np.dtype(np.float64), "Layer")


def test_check_shapes_with_leading_axes():
    x, g = check_shapes(x=(np.zeros((2, 5, 4)), "... d"), g=(np.ones(4), "d"))
    assert x.shape == (2, 5, 4) and g.shape == (4,)
    check_shapes(x=(np.zeros(4), "... d"), g=(np.ones(4), "d"))  # no leading axis at all
    with pytest.raises(ValueError, match=r"g has shape \(3,\); expected \(d\) = \(4,\) \(d from x\)"):
        check_shapes(x=(np.zeros((2, 4)), "... d"), g=(np.ones(3), "d"))
    with pytest.raises(ValueError, match=r"x has shape \(\); expected \(\.\.\., d\): at least 1 axis"):
        check_shapes(x=(np.float64(1.0), "... d"))
