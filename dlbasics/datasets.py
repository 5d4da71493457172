"""Small datasets that need no network, and the plumbing around them.

Toy problems (XOR, spirals, moons, circles) are generated from a seed, so the
same call gives the same points on every machine. :func:`load_digits` reads the
8×8 handwritten digits that ship inside scikit-learn. The helpers split data
into train/validation/test sets, standardize features with statistics from the
training set only, one-hot encode labels and iterate over mini-batches.

Conventions
-----------
* Features ``X`` are batch-first, ``(n_samples, n_features)``, and ``float32``
  unless a ``dtype`` is given; labels ``y`` are ``int64`` class indices
  ``(n_samples,)``.
* Every random choice comes from ``numpy.random.default_rng(seed)``; the global
  NumPy random state is never touched. An ``rng`` argument takes a generator,
  an int seed, or ``None`` for seed 0, as everywhere in the package
  (:func:`dlbasics.validation.as_generator`).
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from dlbasics.validation import (
    as_float_array,
    as_generator,
    check_bool,
    check_int,
    check_labels,
    check_positive,
    format_shape,
)

__all__ = [
    "iterate_minibatches",
    "load_digits",
    "make_circles",
    "make_moons",
    "make_spirals",
    "make_xor",
    "one_hot",
    "standardize",
    "train_val_test_split",
]

Split = tuple[np.ndarray, np.ndarray]


# ---------------------------------------------------------------------------
# argument checks used only here
# ---------------------------------------------------------------------------


def _float_dtype(dtype: DTypeLike) -> np.dtype:
    """Return ``dtype`` as a NumPy floating dtype, or raise ``TypeError``."""
    try:
        dt = np.dtype(dtype)
    except TypeError as err:
        raise TypeError(f"dtype must be a floating-point dtype, got {dtype!r}: {err}") from None
    if dt.kind != "f":
        raise TypeError(f"dtype must be a floating-point dtype (float32, float64), got {dt}")
    return dt


def _check_same_length(X: np.ndarray, y: np.ndarray, x_name: str = "X", y_name: str = "y") -> None:
    if X.ndim == 0:
        raise ValueError(f"{x_name} must have a first (sample) axis, got a scalar")
    if y.ndim == 0:
        raise ValueError(f"{y_name} must have a first (sample) axis, got a scalar")
    if len(X) != len(y):
        raise ValueError(
            f"{x_name} has {len(X)} samples (shape {format_shape(X.shape)}) but {y_name} has "
            f"{len(y)} (shape {format_shape(y.shape)}); they must match along the first axis"
        )


def _shuffle(X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    order = rng.permutation(len(X))
    return X[order], y[order]


# ---------------------------------------------------------------------------
# toy problems
# ---------------------------------------------------------------------------

_XOR_CORNERS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
_XOR_LABELS = np.array([0, 1, 1, 0], dtype=np.int64)


def make_xor(
    n_samples: int = 4,
    noise: float = 0.0,
    seed: int = 0,
    dtype: DTypeLike = np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """The XOR problem: label 1 when exactly one of the two inputs is 1.

    With the defaults this is the classic four-point truth table, in the order
    ``(0, 0), (0, 1), (1, 0), (1, 1)`` with labels ``0, 1, 1, 0``. A larger
    ``n_samples`` repeats the four corners in that order (balanced when
    ``n_samples`` is a multiple of 4) and ``noise`` jitters every point.

    Parameters
    ----------
    n_samples : int, default 4
        Number of points, at least 4.
    noise : float, default 0.0
        Standard deviation of Gaussian noise added to each coordinate.
    seed : int, default 0
        Seed for the noise.
    dtype : floating dtype, default float32
        dtype of ``X``.

    Returns
    -------
    X : ndarray, shape (n_samples, 2)
        The points.
    y : ndarray of int64, shape (n_samples,)
        ``x1 XOR x2`` of the (noise-free) corner each point came from. For a
        regression target such as the outline's MSE network use
        ``y[:, None].astype(X.dtype)``.
    """
    n_samples = check_int(n_samples, "n_samples", minimum=4)
    noise = check_positive(noise, "noise", allow_zero=True)
    dt = _float_dtype(dtype)
    corner = np.arange(n_samples) % 4
    X = _XOR_CORNERS[corner]
    if noise > 0:
        X = X + noise * np.random.default_rng(seed).standard_normal(X.shape)
    return X.astype(dt), _XOR_LABELS[corner].copy()


def make_spirals(
    n_samples: int = 300,
    n_classes: int = 2,
    noise: float = 0.05,
    seed: int = 0,
    turns: float = 1.25,
    dtype: DTypeLike = np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one per class; no straight line separates them.

    Arm ``k`` holds the points ``r * (cos θ, sin θ)`` with the radius ``r``
    evenly spaced in ``[0.05, 1]`` and ``θ = 2πk / n_classes + 2π · turns · r``,
    plus Gaussian noise on each coordinate. The samples are shuffled.

    Parameters
    ----------
    n_samples : int, default 300
        Total number of points; split as evenly as possible between the
        classes (the first ``n_samples % n_classes`` arms get one more).
    n_classes : int, default 2
        Number of arms (classes), at least 2.
    noise : float, default 0.05
        Standard deviation of the Gaussian noise added to each coordinate.
        Neighbouring arms are ``1 / (turns * n_classes)`` apart along a radius.
    seed : int, default 0
        Seed for the noise and the shuffle.
    turns : float, default 1.25
        How many times each arm winds around the origin.
    dtype : floating dtype, default float32
        dtype of ``X``.

    Returns
    -------
    X : ndarray, shape (n_samples, 2)
    y : ndarray of int64, shape (n_samples,)
        Arm index in ``[0, n_classes)``.
    """
    n_classes = check_int(n_classes, "n_classes", minimum=2)
    n_samples = check_int(n_samples, "n_samples", minimum=n_classes)
    noise = check_positive(noise, "noise", allow_zero=True)
    turns = check_positive(turns, "turns")
    dt = _float_dtype(dtype)
    rng = np.random.default_rng(seed)
    counts = np.full(n_classes, n_samples // n_classes)
    counts[: n_samples % n_classes] += 1
    points, labels = [], []
    for k, m in enumerate(counts):
        r = np.linspace(0.05, 1.0, m)
        theta = 2 * np.pi * k / n_classes + 2 * np.pi * turns * r
        points.append(np.column_stack([r * np.cos(theta), r * np.sin(theta)]))
        labels.append(np.full(m, k, dtype=np.int64))
    X = np.concatenate(points)
    X = X + noise * rng.standard_normal(X.shape)
    X, y = _shuffle(X, np.concatenate(labels), rng)
    return X.astype(dt), y


def _two_classes(
    class0: np.ndarray, class1: np.ndarray, noise: float, seed: int, dtype: np.dtype
) -> tuple[np.ndarray, np.ndarray]:
    """Stack two classes' points, add Gaussian ``noise`` to each coordinate, shuffle."""
    rng = np.random.default_rng(seed)
    X = np.concatenate([class0, class1])
    y = np.concatenate([np.zeros(len(class0), dtype=np.int64), np.ones(len(class1), dtype=np.int64)])
    X = X + noise * rng.standard_normal(X.shape)
    X, y = _shuffle(X, y, rng)
    return X.astype(dtype), y


def make_moons(
    n_samples: int = 200, noise: float = 0.1, seed: int = 0, dtype: DTypeLike = np.float32
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (the shape of scikit-learn's ``make_moons``).

    Class 0 is the upper arc ``(cos t, sin t)``, class 1 the lower arc
    ``(1 - cos t, 0.5 - sin t)``, ``t`` evenly spaced in ``[0, π]``; Gaussian
    noise is added to each coordinate and the samples are shuffled.

    Parameters
    ----------
    n_samples : int, default 200
        Total number of points (at least 2); class 0 gets ``n_samples // 2``.
    noise : float, default 0.1
        Standard deviation of the Gaussian noise on each coordinate.
    seed : int, default 0
        One generator, seeded with it, draws the noise and then the order.
    dtype : floating dtype, default float32
        The dtype of ``X`` (the labels are always int64).

    Returns
    -------
    X : ndarray, shape (n_samples, 2)
        The points.
    y : ndarray of int64, shape (n_samples,)
        0 on the upper moon, 1 on the lower one.
    """
    n_samples = check_int(n_samples, "n_samples", minimum=2)
    noise = check_positive(noise, "noise", allow_zero=True)
    t_upper = np.linspace(0.0, np.pi, n_samples // 2)
    t_lower = np.linspace(0.0, np.pi, n_samples - n_samples // 2)
    upper = np.column_stack([np.cos(t_upper), np.sin(t_upper)])
    lower = np.column_stack([1.0 - np.cos(t_lower), 0.5 - np.sin(t_lower)])
    return _two_classes(upper, lower, noise, seed, _float_dtype(dtype))


def make_circles(
    n_samples: int = 200, noise: float = 0.05, factor: float = 0.5, seed: int = 0,
    dtype: DTypeLike = np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """A small circle inside a large one (the shape of scikit-learn's ``make_circles``).

    Class 0 lies on the unit circle, class 1 on a circle of radius ``factor``;
    the angles are evenly spaced, Gaussian noise is added to each coordinate and
    the samples are shuffled.

    Parameters
    ----------
    n_samples : int, default 200
        Total number of points (at least 2); the outer circle gets
        ``n_samples // 2``.
    noise : float, default 0.05
        Standard deviation of the Gaussian noise on each coordinate.
    factor : float, default 0.5
        Radius of the inner circle relative to the outer one, in ``(0, 1)``.
    seed, dtype
        As in :func:`make_moons`.

    Returns
    -------
    X, y
        As in :func:`make_moons`; ``y`` is 0 on the outer circle and 1 on the inner one.
    """
    factor = check_positive(factor, "factor")
    if not factor < 1:
        raise ValueError(f"factor must be in (0, 1) (inner radius / outer radius), got {factor!r}")
    n_samples = check_int(n_samples, "n_samples", minimum=2)
    noise = check_positive(noise, "noise", allow_zero=True)
    t_outer = np.linspace(0.0, 2 * np.pi, n_samples // 2, endpoint=False)
    t_inner = np.linspace(0.0, 2 * np.pi, n_samples - n_samples // 2, endpoint=False)
    outer = np.column_stack([np.cos(t_outer), np.sin(t_outer)])
    inner = factor * np.column_stack([np.cos(t_inner), np.sin(t_inner)])
    return _two_classes(outer, inner, noise, seed, _float_dtype(dtype))


# ---------------------------------------------------------------------------
# handwritten digits
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _digits_raw() -> tuple[np.ndarray, np.ndarray]:
    """The 1797 digits as read from scikit-learn's bundled file (read once).

    The file (``sklearn/datasets/data/digits.csv.gz``: 64 intensities and the
    label per row) is read directly, as ``sklearn.datasets.load_digits`` reads
    it: importing scikit-learn takes a second, reading the file 20 ms. Where
    the file is not at that place, scikit-learn's loader reads it.
    """
    import gzip
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("sklearn")  # finds the package without importing it
    path = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz" if spec and spec.origin else None
    if path is not None and path.is_file():
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            data = np.loadtxt(handle, delimiter=",")
        images, labels = data[:, :-1].reshape(-1, 8, 8).astype(np.uint8), data[:, -1].astype(np.int64)
    else:  # pragma: no cover - another layout of scikit-learn
        from sklearn.datasets import load_digits as sklearn_load_digits

        bunch = sklearn_load_digits()
        images = bunch.images.astype(np.uint8)  # integer intensities 0..16
        labels = bunch.target.astype(np.int64)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def _bilinear_matrix(n_in: int, n_out: int) -> np.ndarray:
    """``(n_out, n_in)`` weights that resample a line of ``n_in`` pixels to ``n_out``.

    Bilinear interpolation with pixel centres at half-integers (what
    ``torch.nn.functional.interpolate(mode="bilinear", align_corners=False)``
    computes, without antialiasing): output pixel ``i`` reads the input at
    ``(i + 0.5) * n_in / n_out - 0.5``, clamped to the first and last pixel.
    Every row is a convex combination, so intensities stay in their range.
    """
    pos = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0, n_in - 1)
    left = np.floor(pos).astype(np.int64)
    right = np.minimum(left + 1, n_in - 1)
    frac = pos - left
    weights = np.zeros((n_out, n_in))
    np.add.at(weights, (np.arange(n_out), left), 1.0 - frac)
    np.add.at(weights, (np.arange(n_out), right), frac)
    return weights


def _digits_box(image_size: int) -> tuple[int, int]:
    """Where :func:`load_digits` puts the 8×8 digit inside an ``image_size`` square.

    MNIST draws each digit inside a 20×20 box centred in a 28×28 image, a
    margin of 4 pixels (one seventh of the side). The same proportion is used
    for every size: ``margin = round(image_size / 7)``; ``image_size=8`` keeps
    the original images (no margin).

    Returns
    -------
    margin : int
        Empty pixels above and to the left of the box.
    box : int
        Side of the box the 8×8 digit is interpolated to.
    """
    margin = 0 if image_size == 8 else round(image_size / 7)
    return margin, image_size - 2 * margin


def load_digits(
    return_images: bool = False,
    dtype: DTypeLike = np.float32,
    image_size: int = 8,
) -> tuple[np.ndarray, np.ndarray]:
    """The 8×8 handwritten digits (UCI) that ship inside scikit-learn.

    1797 grey-scale images of the digits 0-9 (about 180 per class), with pixel
    intensities 0..16 scaled to ``[0, 1]``. Nothing is downloaded.

    With ``image_size=28`` the digits come in MNIST's format: each 8×8 image
    is enlarged by bilinear interpolation to a 20×20 box and centred in a
    28×28 image with a 4-pixel empty margin, as MNIST places its digits. The
    result is smooth but carries no more detail than the 8×8 original; it is
    deterministic and computed on the fly.

    Parameters
    ----------
    return_images : bool, default False
        Return images ``(1797, S, S)`` instead of flat feature vectors
        ``(1797, S * S)`` (row-major, so ``X.reshape(-1, S, S)`` gives the
        images), where ``S = image_size``.
    dtype : floating dtype, default float32
        dtype of the pixel values.
    image_size : int, default 8
        Side ``S`` of the returned images: 8 gives the original pixels, 28 the
        MNIST format; any size from 8 up is allowed, with the digit in a
        centred box of side ``S - 2 * round(S / 7)`` (the same 1/7 margin).

    Returns
    -------
    X : ndarray, shape (1797, S * S) or (1797, S, S)
        Pixel values in ``[0, 1]``.
    y : ndarray of int64, shape (1797,)
        The digit shown, 0-9.

    Examples
    --------
    >>> X, y = load_digits()
    >>> X.shape, X.dtype, y[:5]
    ((1797, 64), dtype('float32'), array([0, 1, 2, 3, 4]))
    >>> load_digits(return_images=True, image_size=28)[0].shape
    (1797, 28, 28)
    """
    check_bool(return_images, "return_images")
    dt = _float_dtype(dtype)
    image_size = check_int(image_size, "image_size", minimum=8)
    images, labels = _digits_raw()
    if image_size == 8:
        X = images.astype(dt) / dt.type(16)
    else:
        margin, box = _digits_box(image_size)
        resample = _bilinear_matrix(8, box)
        inner = np.einsum("ij,njk,lk->nil", resample, images / 16.0, resample)
        X = np.zeros((len(images), image_size, image_size), dtype=dt)
        X[:, margin : margin + box, margin : margin + box] = inner
    if not return_images:
        X = X.reshape(len(X), -1)
    return X, labels.copy()


# ---------------------------------------------------------------------------
# splitting, scaling, encoding, batching
# ---------------------------------------------------------------------------


def _split_count(size: Any, n: int, name: str) -> int:
    """Turn a fraction in [0, 1) or a count into a number of samples."""
    if isinstance(size, bool) or not isinstance(size, numbers.Real):
        raise TypeError(
            f"{name} must be a fraction in [0, 1) or a number of samples, "
            f"got {type(size).__name__} {size!r}"
        )
    if isinstance(size, numbers.Integral):
        if size < 0:
            raise ValueError(f"{name} must be >= 0 samples, got {size}")
        return int(size)
    if not (np.isfinite(size) and 0 <= size < 1):
        raise ValueError(
            f"{name} as a fraction must be in [0, 1), got {size!r} "
            "(pass an int for a number of samples)"
        )
    return int(np.floor(size * n + 0.5))


def _stratified_take(
    groups: np.ndarray, pool: np.ndarray, k: int, rng: np.random.Generator
) -> np.ndarray:
    """Pick ``k`` of the indices ``pool`` with each group's share kept.

    Each group gets ``floor(k * n_group / n)`` samples; the few left over go to
    the groups with the largest remainders (largest-remainder rounding), so the
    total is exactly ``k`` and no group gives more than it has.
    """
    classes, inverse, counts = np.unique(groups[pool], return_inverse=True, return_counts=True)
    n = len(pool)
    base, remainder = np.divmod(k * counts, n)
    extra = int(k - base.sum())
    base[np.argsort(-remainder, kind="stable")[:extra]] += 1
    chosen = []
    for c in range(len(classes)):
        members = pool[inverse == c]
        chosen.append(rng.permutation(members)[: base[c]])
    return np.concatenate(chosen) if chosen else pool[:0]


def train_val_test_split(
    X: Any,
    y: Any,
    val_size: float | int = 0.15,
    test_size: float | int = 0.15,
    seed: int = 0,
    stratify: bool = True,
) -> tuple[Split, Split, Split]:
    """Shuffle and split ``(X, y)`` into training, validation and test sets.

    Parameters
    ----------
    X : array_like, shape (n_samples, ...)
        Features (any trailing shape, e.g. images).
    y : array_like, shape (n_samples, ...)
        Targets; with ``stratify=True`` they must be 1-D class labels.
    val_size, test_size : float or int, default 0.15
        A float in ``[0, 1)`` is a fraction of ``n_samples`` (rounded to the
        nearest count); an int is a number of samples. Zero gives an empty set.
        At least one sample must be left for training.
    seed : int, default 0
        Seed for the shuffle.
    stratify : bool, default True
        Keep each class's share (nearly) the same in all three sets.

    Returns
    -------
    (X_train, y_train), (X_val, y_val), (X_test, y_test) : pairs of ndarrays
        Disjoint, shuffled subsets that together hold every sample once; dtypes
        are kept.

    Examples
    --------
    >>> X, y = load_digits()
    >>> (X_tr, y_tr), (X_val, y_val), (X_te, y_te) = train_val_test_split(X, y)
    >>> len(X_tr), len(X_val), len(X_te)
    (1257, 270, 270)
    """
    X = np.asarray(X)
    y = np.asarray(y)
    _check_same_length(X, y)
    n = len(X)
    n_val = _split_count(val_size, n, "val_size")
    n_test = _split_count(test_size, n, "test_size")
    if n_val + n_test >= n:
        raise ValueError(
            f"val_size={val_size!r} and test_size={test_size!r} take {n_val} + {n_test} of the "
            f"{n} samples, leaving none for training; expected val + test < {n}"
        )
    check_bool(stratify, "stratify")
    rng = np.random.default_rng(seed)
    everything = np.arange(n)
    if stratify:
        if y.ndim != 1:
            raise ValueError(
                f"stratify=True needs 1-D class labels y, got shape {format_shape(y.shape)} "
                "(pass y.argmax(axis=1) for one-hot targets, or stratify=False)"
            )
        test_idx = _stratified_take(y, everything, n_test, rng)
        rest = np.setdiff1d(everything, test_idx, assume_unique=True)
        val_idx = _stratified_take(y, rest, n_val, rng)
    else:
        order = rng.permutation(n)
        test_idx, val_idx = order[:n_test], order[n_test : n_test + n_val]
    held_out = np.concatenate([test_idx, val_idx])
    train_idx = np.setdiff1d(everything, held_out, assume_unique=True)
    splits = []
    for idx in (train_idx, val_idx, test_idx):
        idx = rng.permutation(idx)
        splits.append((X[idx], y[idx]))
    return splits[0], splits[1], splits[2]


def standardize(
    X_train: Any, *others: Any, eps: float = 1e-12
) -> tuple[np.ndarray, ...]:
    """Scale features to zero mean and unit variance using the training set only.

    The mean and (population) standard deviation are computed per feature
    over the first axis of ``X_train``; the same shift and scale are then
    applied to every array in ``others`` (validation, test, new inputs), so no
    information leaks from them into the preprocessing. Features whose
    standard deviation is below ``eps`` (constant pixels) get ``std = 1``:
    they are only centred.

    Parameters
    ----------
    X_train : array_like, shape (n_samples, ...)
        Training features; statistics are taken over axis 0.
    *others : array_like, shape (m, ...)
        More arrays with the same trailing shape as ``X_train``.
    eps : float, default 1e-12
        Standard deviations below this count as zero.

    Returns
    -------
    mean : ndarray, shape X_train.shape[1:]
        Per-feature mean of ``X_train``.
    std : ndarray, shape X_train.shape[1:]
        Per-feature standard deviation of ``X_train`` (1 where constant).
    X_train_std, *others_std : ndarrays
        ``(X - mean) / std`` for ``X_train`` and then each of ``others``, in
        order. Floating dtypes are kept; integer input becomes float64.

    Examples
    --------
    >>> X, y = load_digits()
    >>> (X_tr, y_tr), (X_val, y_val), (X_te, y_te) = train_val_test_split(X, y)
    >>> mean, std, X_tr, X_val, X_te = standardize(X_tr, X_val, X_te)
    >>> x_new = (X[:1] - mean) / std          # a later input gets the same scaling
    """
    X_train = as_float_array(X_train, "X_train")
    if X_train.ndim < 2:
        raise ValueError(
            f"X_train must be (n_samples, n_features) or higher, got shape "
            f"{format_shape(X_train.shape)}"
        )
    eps = check_positive(eps, "eps", allow_zero=True)
    dt = X_train.dtype
    mean64 = X_train.mean(axis=0, dtype=np.float64)
    std64 = X_train.std(axis=0, dtype=np.float64)
    std64 = np.where(std64 > eps, std64, 1.0)
    mean, std = mean64.astype(dt), std64.astype(dt)
    out = [mean, std]
    for i, arr in enumerate((X_train, *others)):
        name = "X_train" if i == 0 else f"others[{i - 1}]"
        arr = as_float_array(arr, name, allow_empty=i > 0)
        if arr.shape[1:] != X_train.shape[1:]:
            raise ValueError(
                f"{name} has shape {format_shape(arr.shape)}; expected (m, "
                f"{', '.join(str(s) for s in X_train.shape[1:])}) like X_train"
            )
        out.append(((arr - mean64) / std64).astype(arr.dtype, copy=False))
    return tuple(out)


def one_hot(
    labels: Any, num_classes: int | None = None, dtype: DTypeLike = np.float32
) -> np.ndarray:
    """Encode integer class labels as one-hot rows.

    Parameters
    ----------
    labels : array_like of int, shape (n_samples,)
        Class indices in ``[0, num_classes)``.
    num_classes : int, optional
        Number of columns; defaults to ``labels.max() + 1``.
    dtype : dtype, default float32
        dtype of the result.

    Returns
    -------
    ndarray, shape (n_samples, num_classes)
        Row ``i`` is 1 in column ``labels[i]`` and 0 elsewhere, so
        ``one_hot(y).argmax(axis=1)`` gives ``y`` back.
    """
    arr = np.asarray(labels)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"labels has dtype {arr.dtype}; expected integer class labels")
    if num_classes is None:
        if arr.size == 0:
            raise ValueError("labels is empty; pass num_classes to encode an empty array")
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            raise ValueError("labels contains NaN or infinity; expected integer class labels")
        num_classes = int(arr.max()) + 1 if arr.max() >= 0 else 1
    num_classes = check_int(num_classes, "num_classes", minimum=1)
    arr = check_labels(arr, arr.shape[0] if arr.ndim else 1, num_classes, name="labels")
    out = np.zeros((arr.shape[0], num_classes), dtype=dtype)
    out[np.arange(arr.shape[0]), arr] = 1
    return out


def iterate_minibatches(
    X: Any,
    y: Any = None,
    batch_size: int = 32,
    shuffle: bool = True,
    rng: np.random.Generator | int | None = None,
    drop_last: bool = False,
) -> Iterator[Any]:
    """Yield mini-batches that cover every sample exactly once (one epoch).

    Parameters
    ----------
    X : array_like, shape (n_samples, ...)
        Features.
    y : array_like, shape (n_samples, ...), optional
        Targets, batched alongside ``X``. If ``None`` only ``X`` batches are
        yielded.
    batch_size : int, default 32
        Samples per batch; the last batch is smaller when ``batch_size`` does
        not divide ``n_samples`` (unless ``drop_last``).
    shuffle : bool, default True
        Visit the samples in a random order.
    rng : numpy.random.Generator, int or None, default None
        Source of the order. A ``Generator`` created once and passed every
        epoch gives a new order each epoch; an int (or ``None``, meaning seed
        0) gives the same order on every call.
    drop_last : bool, default False
        Skip the last batch if it is smaller than ``batch_size``.

    Yields
    ------
    (X_batch, y_batch), or X_batch when ``y`` is None
        ``X_batch`` has shape ``(b, ...)`` with ``b <= batch_size``.

    Examples
    --------
    >>> X, y = make_moons(200)
    >>> rng = np.random.default_rng(0)
    >>> for epoch in range(3):
    ...     for xb, yb in iterate_minibatches(X, y, batch_size=64, rng=rng):
    ...         pass
    """
    X = np.asarray(X)
    if X.ndim == 0:
        raise ValueError("X must have a first (sample) axis, got a scalar")
    if y is not None:
        y = np.asarray(y)
        _check_same_length(X, y)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    check_bool(shuffle, "shuffle")
    order = as_generator(rng).permutation(len(X)) if shuffle else None
    # checks above run at call time; the batches are produced lazily
    return _batches(X, y, batch_size, order, drop_last)


def _batches(
    X: np.ndarray,
    y: np.ndarray | None,
    batch_size: int,
    order: np.ndarray | None,
    drop_last: bool,
) -> Iterator[Any]:
    n = len(X)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        end = start + batch_size
        sel: Any = slice(start, end) if order is None else order[start:end]
        if y is None:
            yield X[sel]
        else:
            yield X[sel], y[sel]
