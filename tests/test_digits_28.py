"""load_digits(image_size=28): scikit-learn's 8×8 digits in MNIST's 28×28 format."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlbasics.datasets import load_digits


def test_28x28_digits_are_bilinear_upsampling_inside_a_4_pixel_margin():
    X8, y8 = load_digits(return_images=True, dtype=np.float64)
    X28, y28 = load_digits(return_images=True, dtype=np.float64, image_size=28)
    assert X28.shape == (1797, 28, 28)
    np.testing.assert_array_equal(y28, y8)
    expected = torch.nn.functional.interpolate(
        torch.from_numpy(X8[:, None]), size=(20, 20), mode="bilinear", align_corners=False
    )[:, 0].numpy()
    np.testing.assert_allclose(X28[:, 4:24, 4:24], expected, rtol=0, atol=1e-12)
    border = np.ones((28, 28), dtype=bool)
    border[4:24, 4:24] = False
    assert np.all(X28[:, border] == 0)
    assert X28.min() >= 0 and X28.max() <= 1


def test_28x28_digits_flat_rows_dtype_and_determinism():
    X, y = load_digits(image_size=28)
    assert X.shape == (1797, 784) and X.dtype == np.float32 and y.dtype == np.int64
    images, _ = load_digits(return_images=True, image_size=28)
    np.testing.assert_array_equal(X.reshape(-1, 28, 28), images)
    again, _ = load_digits(image_size=28)
    np.testing.assert_array_equal(X, again)
    # every image keeps its ink: the mean intensity is close to the 8×8 original's
    X8, _ = load_digits()
    inner = images[:, 4:24, 4:24].reshape(1797, -1).mean(axis=1)
    np.testing.assert_allclose(inner, X8.mean(axis=1), atol=0.05)


def test_image_size_8_is_the_original_and_other_sizes_keep_a_seventh_margin():
    np.testing.assert_array_equal(load_digits(image_size=8)[0], load_digits()[0])
    X16, _ = load_digits(return_images=True, image_size=16)
    assert X16.shape == (1797, 16, 16)
    assert np.all(X16[:, :2] == 0) and np.all(X16[:, -2:] == 0)
    assert X16[:, 2:14, 2:14].max() > 0.9


@pytest.mark.parametrize("bad", [7, 0, -28])
def test_image_size_below_8_is_rejected(bad):
    with pytest.raises(ValueError, match="image_size"):
        load_digits(image_size=bad)


def test_image_size_must_be_an_int():
    with pytest.raises(TypeError, match="image_size"):
        load_digits(image_size=28.5)
