"""The sinusoidal positional encoding of Vaswani et al. (2017)."""

from __future__ import annotations

import numpy as np
import pytest

from dlbasics import sinusoidal_positional_encoding


@pytest.mark.parametrize(("n", "d"), [(1, 1), (5, 4), (50, 16), (7, 9)])
def test_table_follows_the_formula_entry_by_entry(n, d):
    pe = sinusoidal_positional_encoding(n, d)
    assert pe.shape == (n, d) and pe.dtype == np.float64
    for p in range(n):
        for j in range(d):
            angle = p / 10000 ** (2 * (j // 2) / d)
            assert pe[p, j] == pytest.approx(np.sin(angle) if j % 2 == 0 else np.cos(angle), abs=1e-14)


def test_position_zero_is_sin_zero_cos_one_and_every_value_is_bounded():
    pe = sinusoidal_positional_encoding(100, 32)
    np.testing.assert_array_equal(pe[0, 0::2], 0.0)
    np.testing.assert_array_equal(pe[0, 1::2], 1.0)
    assert np.abs(pe).max() <= 1.0


def test_a_fixed_offset_is_the_same_rotation_at_every_position():
    pe = sinusoidal_positional_encoding(60, 8)
    k = 5
    for i in range(4):  # frequency i: the pair (sin, cos) at p + k is a rotation of the pair at p
        w = 1 / 10000 ** (2 * i / 8)
        rot = np.array([[np.cos(k * w), -np.sin(k * w)], [np.sin(k * w), np.cos(k * w)]])
        pairs = pe[:, 2 * i: 2 * i + 2]
        np.testing.assert_allclose(pairs[:-k] @ rot, pairs[k:], atol=1e-12)


def test_bad_sizes_are_rejected():
    with pytest.raises(ValueError, match="n_positions must be an integer >= 1"):
        sinusoidal_positional_encoding(0, 4)
    with pytest.raises(TypeError, match="d_model must be an integer"):
        sinusoidal_positional_encoding(4, 2.0)
