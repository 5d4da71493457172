r"""Data augmentation for images: random shifts, small rotations and mirror flips.

Augmentation trains a network on transformed copies of its training images,
new every epoch, so that it cannot memorize the exact pixels and must learn
what stays the same under the transformation. A transformation is only
useful if it keeps the label: a digit shifted by two pixels or tilted by ten
degrees is still the same digit, so :func:`random_shift` and
:func:`random_rotation` suit handwriting.

Mirror flips (:func:`random_flip`) do *not* suit digits: a mirrored 2, 3, 4, 5,
6, 7 or 9 is not a digit at all (or looks like a different symbol: a mirrored
"S"-like 5 becomes a 2-like stroke), and an upside-down 6 is a 9. A network
trained on flipped digits would be taught that these shapes share a label.
Flips are for images whose class does not depend on handedness, such as
photographs of animals or objects; the function is here for those.

Conventions
-----------
* Images are batch-first: ``(N, H, W)`` or ``(N, C, H, W)``; the output has
  the input's shape and floating dtype (integer images become float64).
* Pixels that come from outside the image are 0 (the background of the
  digits and of MNIST).
* Every random choice comes from the ``rng`` argument, a
  :class:`numpy.random.Generator` (or an int seed for one, ``None`` for seed 0,
  as :func:`dlbasics.validation.as_generator` reads it); pass one generator
  created once to get new transformations every epoch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbasics.validation import (
    as_float_array,
    as_generator,
    check_int,
    check_positive,
    check_probability,
    format_shape,
)

__all__ = [
    "augment_images",
    "random_flip",
    "random_rotation",
    "random_shift",
    "rotate_images",
    "shift_images",
]


def _as_images(images: Any) -> tuple[np.ndarray, bool]:
    """``(N, C, H, W)`` view of the input, and whether it had no channel axis."""
    x = as_float_array(images, "images")
    if x.ndim == 3:
        return x[:, None], True
    if x.ndim == 4:
        return x, False
    hint = " (flat rows: reshape to (N, H, W) first)" if x.ndim == 2 else ""
    raise ValueError(
        f"images must be (N, H, W) or (N, C, H, W), got shape {format_shape(x.shape)}{hint}"
    )


def _per_image(values: Any, n: int, name: str, integer: bool) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim == 0:
        arr = np.full(n, arr)
    if arr.shape != (n,):
        raise ValueError(
            f"{name} must be one number or one per image, shape ({n},); got shape "
            f"{format_shape(arr.shape)}"
        )
    if integer:
        if arr.dtype.kind not in "iu":
            raise TypeError(f"{name} must hold integers (whole pixels), got dtype {arr.dtype}")
        return arr.astype(np.int64)
    return as_float_array(arr, name)


def shift_images(images: Any, dy: Any, dx: Any) -> np.ndarray:
    """Translate each image by whole pixels, filling the uncovered border with 0.

    Parameters
    ----------
    images : array_like, shape (N, H, W) or (N, C, H, W)
    dy, dx : int or array_like of int, shape (N,)
        Shift of each image: ``dy > 0`` moves the content down, ``dx > 0``
        to the right. Content shifted out of the frame is lost.

    Returns
    -------
    numpy.ndarray, same shape and dtype as ``images``
        ``out[..., i, j] = images[..., i - dy, j - dx]`` where that index is
        inside the image, else 0.
    """
    x, squeeze = _as_images(images)
    n, c, h, w = x.shape
    dy = _per_image(dy, n, "dy", integer=True)
    dx = _per_image(dx, n, "dx", integer=True)
    pad = int(max(np.abs(dy).max(), np.abs(dx).max(), 0))
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    rows = np.clip(pad - dy[:, None] + np.arange(h), 0, h + 2 * pad - 1)  # (N, H)
    cols = np.clip(pad - dx[:, None] + np.arange(w), 0, w + 2 * pad - 1)  # (N, W)
    out = padded[
        np.arange(n)[:, None, None, None],
        np.arange(c)[None, :, None, None],
        rows[:, None, :, None],
        cols[:, None, None, :],
    ]
    return out[:, 0] if squeeze else out


def random_shift(images: Any, max_shift: int = 2, rng: Any = None) -> np.ndarray:
    """Shift each image by a random whole number of pixels along each axis.

    Parameters
    ----------
    images : array_like, shape (N, H, W) or (N, C, H, W)
    max_shift : int, default 2
        ``dy`` and ``dx`` are drawn independently and uniformly from
        ``{-max_shift, ..., max_shift}`` for every image.
    rng : numpy.random.Generator, int or None, default None (seed 0)
        Source of the shifts.

    Returns
    -------
    numpy.ndarray, same shape and dtype as ``images``
    """
    max_shift = check_int(max_shift, "max_shift", minimum=0)
    gen = as_generator(rng)
    x, _ = _as_images(images)
    dy = gen.integers(-max_shift, max_shift + 1, size=len(x))
    dx = gen.integers(-max_shift, max_shift + 1, size=len(x))
    return shift_images(images, dy, dx)


def rotate_images(images: Any, degrees: Any) -> np.ndarray:
    """Rotate each image about its centre by bilinear interpolation.

    Parameters
    ----------
    images : array_like, shape (N, H, W) or (N, C, H, W)
    degrees : float or array_like, shape (N,)
        Angle of each image; positive turns the content counter-clockwise as
        displayed (row 0 at the top), like :func:`numpy.rot90`, which
        ``degrees=90`` reproduces exactly on square images.

    Returns
    -------
    numpy.ndarray, same shape and dtype as ``images``
        Output pixel ``(i, j)`` reads the input at the rotated position
        (between pixels: bilinear interpolation of the four neighbours;
        outside the image: 0).
    """
    x, squeeze = _as_images(images)
    n, c, h, w = x.shape
    theta = np.deg2rad(_per_image(degrees, n, "degrees", integer=False).astype(np.float64))
    cy, cx = (h - 1) / 2, (w - 1) / 2
    ii, jj = np.meshgrid(np.arange(h) - cy, np.arange(w) - cx, indexing="ij")  # (H, W)
    cos, sin = np.cos(theta)[:, None, None], np.sin(theta)[:, None, None]
    src_i = np.clip(cy + cos * ii + sin * jj, -1.0, float(h))  # (N, H, W)
    src_j = np.clip(cx - sin * ii + cos * jj, -1.0, float(w))
    i0, j0 = np.floor(src_i).astype(np.int64), np.floor(src_j).astype(np.int64)
    fi, fj = (src_i - i0).astype(x.dtype), (src_j - j0).astype(x.dtype)
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))  # zeros around: reads outside give 0
    batch = np.arange(n)[:, None, None, None]
    chan = np.arange(c)[None, :, None, None]

    def at(r: np.ndarray, q: np.ndarray) -> np.ndarray:
        return padded[batch, chan, (r + 2)[:, None], (q + 2)[:, None]]

    one = x.dtype.type(1)
    fi, fj = fi[:, None], fj[:, None]
    out = (
        at(i0, j0) * (one - fi) * (one - fj)
        + at(i0, j0 + 1) * (one - fi) * fj
        + at(i0 + 1, j0) * fi * (one - fj)
        + at(i0 + 1, j0 + 1) * fi * fj
    )
    return out[:, 0] if squeeze else out


def random_rotation(images: Any, max_degrees: float = 10.0, rng: Any = None) -> np.ndarray:
    """Rotate each image by an angle drawn uniformly from ``[-max_degrees, max_degrees]``.

    Parameters
    ----------
    images : array_like, shape (N, H, W) or (N, C, H, W)
    max_degrees : float, default 10.0
        Small angles keep digits recognizable; beyond about 30 degrees a 6
        and a 9, or a 1 and a 7, start to meet.
    rng : numpy.random.Generator, int or None, default None (seed 0)

    Returns
    -------
    numpy.ndarray, same shape and dtype as ``images``
    """
    max_degrees = check_positive(max_degrees, "max_degrees", allow_zero=True)
    gen = as_generator(rng)
    x, _ = _as_images(images)
    return rotate_images(images, gen.uniform(-max_degrees, max_degrees, size=len(x)))


def random_flip(images: Any, p: float = 0.5, rng: Any = None) -> np.ndarray:
    """Mirror each image left-right with probability ``p``.

    Not for digits or text: mirroring changes what a character is (see the
    module notes). Use it for images whose label does not depend on
    handedness.

    Parameters
    ----------
    images : array_like, shape (N, H, W) or (N, C, H, W)
    p : float, default 0.5
        Probability of flipping each image, in ``[0, 1]``.
    rng : numpy.random.Generator, int or None, default None (seed 0)

    Returns
    -------
    numpy.ndarray, same shape and dtype as ``images``
    """
    p = check_probability(p, "p", allow_one=True)
    gen = as_generator(rng)
    x, squeeze = _as_images(images)
    flip = gen.random(len(x)) < p
    out = x.copy()
    out[flip] = out[flip][..., ::-1]
    return out[:, 0] if squeeze else out


def augment_images(
    images: Any, rng: Any = None, max_shift: int = 2, max_degrees: float = 10.0
) -> np.ndarray:
    """A random small rotation followed by a random shift, for each image.

    The augmentation the course uses for digits: label-preserving, cheap, and
    new for every call when ``rng`` is one generator reused across epochs.

    Parameters
    ----------
    images : array_like, shape (N, H, W) or (N, C, H, W)
    rng : numpy.random.Generator, int or None, default None (seed 0)
    max_shift : int, default 2
        See :func:`random_shift`; 0 disables shifting.
    max_degrees : float, default 10.0
        See :func:`random_rotation`; 0 disables rotating.

    Returns
    -------
    numpy.ndarray, same shape and dtype as ``images``

    Examples
    --------
    >>> from dlbasics.datasets import load_digits
    >>> X, y = load_digits(return_images=True, image_size=28)
    >>> rng = np.random.default_rng(0)
    >>> X_aug = augment_images(X[:32], rng)   # a fresh variant of the batch
    >>> X_aug.shape, X_aug.dtype
    ((32, 28, 28), dtype('float32'))
    """
    max_shift = check_int(max_shift, "max_shift", minimum=0)
    max_degrees = check_positive(max_degrees, "max_degrees", allow_zero=True)
    gen = as_generator(rng)
    x, squeeze = _as_images(images)
    x = x[:, 0] if squeeze else x
    out = random_rotation(x, max_degrees, gen) if max_degrees > 0 else x.copy()
    return random_shift(out, max_shift, gen) if max_shift > 0 else out
