"""Image augmentation: exact shifts and rotations, seeding, shapes, dtypes and errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from dlbasics import (
    augment_images,
    load_digits,
    random_flip,
    random_rotation,
    random_shift,
    rotate_images,
    shift_images,
)


@pytest.fixture(scope="module")
def digits28() -> np.ndarray:
    return load_digits(return_images=True, image_size=28)[0][:40]


def test_shift_moves_content_and_fills_the_border_with_zeros():
    x = np.arange(1, 2 * 3 * 5 * 4 + 1, dtype=np.float64).reshape(2, 3, 5, 4)
    out = shift_images(x, dy=[2, -1], dx=[0, 3])
    # image 0: down by 2
    np.testing.assert_array_equal(out[0, :, 2:], x[0, :, :-2])
    assert np.all(out[0, :, :2] == 0)
    # image 1: up by 1, right by 3
    np.testing.assert_array_equal(out[1, :, :-1, 3:], x[1, :, 1:, :-3])
    assert np.all(out[1, :, -1] == 0) and np.all(out[1, :, :, :3] == 0)
    # one shift for all images, and the (N, H, W) layout
    np.testing.assert_array_equal(shift_images(x[:, 0], 1, 1)[:, 1:, 1:], x[:, 0, :-1, :-1])


def test_shift_by_more_than_the_image_leaves_nothing():
    x = np.ones((1, 4, 4))
    assert np.all(shift_images(x, 4, 0) == 0) and np.all(shift_images(x, 0, -9) == 0)


def test_random_shift_draws_each_offset_from_the_range(digits28):
    out = random_shift(digits28, max_shift=2, rng=np.random.default_rng(3))
    gen = np.random.default_rng(3)  # the same draws, to recover the offsets
    dy = gen.integers(-2, 3, size=len(digits28))
    dx = gen.integers(-2, 3, size=len(digits28))
    np.testing.assert_array_equal(out, shift_images(digits28, dy, dx))
    assert set(dy) == set(dx) == {-2, -1, 0, 1, 2}
    # the 4-pixel margin of the digits means a 2-pixel shift never cuts ink
    np.testing.assert_allclose(out.sum(axis=(1, 2)), digits28.sum(axis=(1, 2)), rtol=1e-5)


def test_rotation_by_90_degrees_is_rot90_and_0_is_identity():
    x = np.random.default_rng(0).random((3, 2, 7, 7))
    np.testing.assert_allclose(rotate_images(x, 90.0), np.rot90(x, 1, axes=(2, 3)), atol=1e-13)
    np.testing.assert_allclose(rotate_images(x, -90.0), np.rot90(x, -1, axes=(2, 3)), atol=1e-13)
    np.testing.assert_array_equal(rotate_images(x, 0.0), x)


@pytest.mark.parametrize("angle", [-23.0, 7.5, 41.0])
def test_rotation_equals_scipy_bilinear_rotation(angle):
    x = np.random.default_rng(1).random((2, 9, 12))
    ours = rotate_images(x, [angle, -angle])
    for k, a in enumerate((angle, -angle)):
        ref = ndimage.rotate(x[k], a, reshape=False, order=1, mode="grid-constant", cval=0.0)
        np.testing.assert_allclose(ours[k], ref, atol=1e-12)


def test_random_rotation_uses_angles_within_the_bound(digits28):
    out = random_rotation(digits28[:5], max_degrees=15.0, rng=np.random.default_rng(4))
    angles = np.random.default_rng(4).uniform(-15.0, 15.0, size=5)
    np.testing.assert_allclose(out, rotate_images(digits28[:5], angles), rtol=1e-6, atol=1e-7)
    assert np.all(np.abs(angles) <= 15.0) and not np.allclose(out, digits28[:5])


def test_flip_mirrors_exactly_the_chosen_images():
    x = np.random.default_rng(2).random((50, 3, 4, 5)).astype(np.float32)
    out = random_flip(x, p=0.5, rng=np.random.default_rng(9))
    flipped = np.random.default_rng(9).random(50) < 0.5
    np.testing.assert_array_equal(out[flipped], x[flipped][..., ::-1])
    np.testing.assert_array_equal(out[~flipped], x[~flipped])
    assert 10 < flipped.sum() < 40
    np.testing.assert_array_equal(random_flip(x, p=0.0, rng=0), x)
    np.testing.assert_array_equal(random_flip(x[:, 0], p=1.0, rng=0), x[:, 0, :, ::-1])


def test_augment_is_seeded_and_new_for_every_call_of_one_generator(digits28):
    a = augment_images(digits28, rng=5)
    b = augment_images(digits28, rng=5)
    np.testing.assert_array_equal(a, b)
    # None is seed 0, the package's one meaning of rng
    np.testing.assert_array_equal(augment_images(digits28, rng=None), augment_images(digits28, 0))
    gen = np.random.default_rng(5)
    first, second = augment_images(digits28, gen), augment_images(digits28, gen)
    np.testing.assert_array_equal(first, a)
    assert not np.allclose(first, second)
    # nothing random when both are switched off, and the input is never modified
    before = digits28.copy()
    out = augment_images(digits28, rng=1, max_shift=0, max_degrees=0.0)
    np.testing.assert_array_equal(out, digits28)
    assert out is not digits28
    np.testing.assert_array_equal(digits28, before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(6, 10, 10), (6, 3, 10, 10)])
def test_every_function_keeps_shape_and_dtype(dtype, shape):
    x = np.random.default_rng(0).random(shape).astype(dtype)
    outputs = [
        shift_images(x, 1, -1),
        rotate_images(x, 12.0),
        random_shift(x, 2, 0),
        random_rotation(x, 10.0, 0),
        random_flip(x, 0.5, 0),
        augment_images(x, 0),
    ]
    for out in outputs:
        assert out.shape == shape and out.dtype == dtype


def test_bad_arguments_give_clear_errors():
    x = np.zeros((2, 5, 5))
    with pytest.raises(ValueError, match=r"\(N, H, W\) or \(N, C, H, W\).*reshape"):
        random_shift(np.zeros((2, 25)), 1, 0)
    with pytest.raises(ValueError, match=r"\(N, H, W\) or \(N, C, H, W\)"):
        rotate_images(np.zeros((5, 5, 2, 2, 1)), 3.0)
    with pytest.raises(ValueError, match=r"dy must be one number or one per image, shape \(2,\)"):
        shift_images(x, [1, 2, 3], 0)
    with pytest.raises(TypeError, match="whole pixels"):
        shift_images(x, 0.5, 0)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator, an int seed"):
        random_shift(x, 1, rng="3")
    with pytest.raises(ValueError, match="max_shift"):
        random_shift(x, -1, 0)
    with pytest.raises(ValueError, match="max_degrees"):
        random_rotation(x, -5.0, 0)
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\], got"):
        random_flip(x, 1.5, 0)
    with pytest.raises(TypeError, match="dtype"):
        rotate_images(np.array([["a"]]), 1.0)
