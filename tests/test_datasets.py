"""Datasets and data plumbing: shapes, dtypes, determinism, splits, scaling, batching."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from dlbasics.datasets import (
    iterate_minibatches,
    load_digits,
    make_circles,
    make_moons,
    make_spirals,
    make_xor,
    one_hot,
    standardize,
    train_val_test_split,
)

GENERATORS = [make_xor, make_spirals, make_moons, make_circles]


# ---------------------------------------------------------------------------
# toy problems
# ---------------------------------------------------------------------------


def test_make_xor_default_is_the_truth_table():
    X, y = make_xor()
    np.testing.assert_array_equal(X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(y, [0, 1, 1, 0])
    assert X.dtype == np.float32 and y.dtype == np.int64


def test_make_xor_noisy_points_stay_near_their_corner():
    X, y = make_xor(n_samples=400, noise=0.1, seed=3)
    assert X.shape == (400, 2)
    np.testing.assert_array_equal(np.bincount(y), [200, 200])
    corners = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])[np.arange(400) % 4]
    assert 0.07 < np.std(X - corners) < 0.13
    assert not np.array_equal(X, corners)
    np.testing.assert_array_equal(y, corners[:, 0] ^ corners[:, 1])


@pytest.mark.parametrize("make", GENERATORS)
def test_generators_are_deterministic_and_respect_dtype(make):
    kwargs = {"n_samples": 40, "noise": 0.1}
    X1, y1 = make(seed=5, **kwargs)
    X2, y2 = make(seed=5, **kwargs)
    X3, _ = make(seed=6, **kwargs)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)
    assert X1.shape == (40, 2) and X1.dtype == np.float32 and y1.dtype == np.int64
    X64, _ = make(seed=5, dtype=np.float64, **kwargs)
    assert X64.dtype == np.float64
    np.testing.assert_allclose(X64, X1, rtol=1e-6, atol=1e-6)


def test_make_spirals_balance_and_geometry_without_noise():
    X, y = make_spirals(n_samples=301, n_classes=3, noise=0.0, turns=1.0, seed=1)
    np.testing.assert_array_equal(np.bincount(y), [101, 100, 100])
    r = np.hypot(X[:, 0], X[:, 1])
    assert np.all((r > 0.049) & (r < 1.0 + 1e-6))
    # on arm k the angle is 2πk/3 + 2π·r (mod 2π)
    theta = np.arctan2(X[:, 1], X[:, 0]).astype(np.float64)
    offset = np.angle(np.exp(1j * (theta - 2 * np.pi * r - 2 * np.pi * y / 3)))
    np.testing.assert_allclose(offset, 0.0, atol=1e-5)
    # shuffled: the labels are not in blocks
    assert np.any(np.diff(y[:101]) != 0)


def test_make_moons_points_lie_on_the_two_arcs_without_noise():
    X, y = make_moons(n_samples=101, noise=0.0)
    np.testing.assert_array_equal(np.bincount(y), [50, 51])
    upper, lower = X[y == 0].astype(np.float64), X[y == 1].astype(np.float64)
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0, atol=1e-6)
    assert upper[:, 1].min() >= -1e-6 and lower[:, 1].max() <= 0.5 + 1e-6


def test_make_circles_radii_without_noise():
    X, y = make_circles(n_samples=60, noise=0.0, factor=0.3)
    r = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(r[y == 0], 1.0, atol=1e-6)
    np.testing.assert_allclose(r[y == 1], 0.3, atol=1e-6)
    np.testing.assert_array_equal(np.bincount(y), [30, 30])


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: make_xor(n_samples=3), ValueError, "n_samples must be an integer >= 4"),
        (lambda: make_xor(n_samples=4.0), TypeError, "n_samples must be an integer"),
        (lambda: make_xor(noise=-0.1), ValueError, "noise must be a finite number >= 0, got -0.1"),
        (lambda: make_spirals(n_classes=1), ValueError, "n_classes must be an integer >= 2, got 1"),
        (
            lambda: make_spirals(n_samples=2, n_classes=3),
            ValueError,
            "n_samples must be an integer >= 3, got 2",
        ),
        (lambda: make_moons(n_samples=-5), ValueError, "n_samples must be an integer >= 2, got -5"),
        (lambda: make_moons(dtype=np.int32), TypeError, "floating-point dtype"),
        (lambda: make_circles(factor=1.0), ValueError, r"factor must be in \(0, 1\)"),
        (lambda: make_circles(n_samples=True), TypeError, "n_samples must be an integer, got bool True"),
    ],
)
def test_generators_reject_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ---------------------------------------------------------------------------
# digits
# ---------------------------------------------------------------------------


def test_load_digits_flat_and_images():
    from sklearn.datasets import load_digits as sklearn_digits

    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    np.testing.assert_array_equal(np.unique(y), np.arange(10))
    reference = sklearn_digits()
    np.testing.assert_allclose(X, reference.data / 16.0, rtol=1e-7)
    np.testing.assert_array_equal(y, reference.target)
    images, y2 = load_digits(return_images=True, dtype=np.float64)
    assert images.shape == (1797, 8, 8) and images.dtype == np.float64
    np.testing.assert_array_equal(images.reshape(1797, 64), X.astype(np.float64))
    np.testing.assert_array_equal(y, y2)


def test_load_digits_returns_independent_writable_arrays():
    X, y = load_digits()
    X[:] = -1
    y[:] = -1
    X2, y2 = load_digits()
    assert X2.min() == 0.0 and y2.min() == 0


def test_load_digits_rejects_bad_arguments():
    with pytest.raises(TypeError, match="return_images"):
        load_digits(return_images="yes")
    with pytest.raises(TypeError, match="floating-point"):
        load_digits(dtype=np.uint8)


# ---------------------------------------------------------------------------
# splitting
# ---------------------------------------------------------------------------


def _indexed(n: int = 1000, n_classes: int = 4, seed: int = 0):
    """Features whose first column is the row index, and unbalanced labels."""
    rng = np.random.default_rng(seed)
    y = rng.choice(n_classes, size=n, p=np.linspace(1, 2, n_classes) / np.linspace(1, 2, n_classes).sum())
    X = np.column_stack([np.arange(n), rng.standard_normal(n)]).astype(np.float32)
    return X, y


def test_split_sizes_disjoint_and_complete():
    X, y = _indexed()
    (Xtr, ytr), (Xva, yva), (Xte, yte) = train_val_test_split(X, y, val_size=0.2, test_size=0.1)
    assert (len(Xtr), len(Xva), len(Xte)) == (700, 200, 100)
    ids = [s[:, 0].astype(int) for s in (Xtr, Xva, Xte)]
    everything = np.concatenate(ids)
    np.testing.assert_array_equal(np.sort(everything), np.arange(1000))  # each row exactly once
    for ids_part, y_part in zip(ids, (ytr, yva, yte)):
        np.testing.assert_array_equal(y[ids_part], y_part)  # rows keep their labels
    assert Xtr.dtype == np.float32 and ytr.dtype == y.dtype


def test_split_is_stratified():
    X, y = _indexed(n=997, n_classes=5)
    (_, ytr), (_, yva), (_, yte) = train_val_test_split(X, y, val_size=0.15, test_size=0.25)
    counts = np.bincount(y, minlength=5)
    for part, frac in ((yva, 0.15), (yte, 0.25)):
        got = np.bincount(part, minlength=5)
        # each class gets its share of the part, within one sample
        assert np.all(np.abs(got - counts * len(part) / len(y)) <= 1), (got, counts)
        assert abs(len(part) - frac * len(y)) <= 0.5
    assert len(ytr) + len(yva) + len(yte) == 997


def test_split_without_stratify_is_plain_shuffle():
    X, y = _indexed(n=200)
    (Xtr, _), (Xva, _), (Xte, _) = train_val_test_split(
        X, y, val_size=20, test_size=30, stratify=False, seed=1
    )
    assert (len(Xtr), len(Xva), len(Xte)) == (150, 20, 30)
    assert not np.array_equal(Xtr[:, 0], np.sort(Xtr[:, 0]))  # shuffled


def test_split_is_deterministic_per_seed():
    X, y = _indexed()
    a = train_val_test_split(X, y, seed=4)
    b = train_val_test_split(X, y, seed=4)
    c = train_val_test_split(X, y, seed=5)
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(a[2][0], c[2][0])


def test_split_allows_an_empty_validation_set_and_images():
    images = np.zeros((50, 8, 8), dtype=np.float32)
    y = np.arange(50) % 2
    (Xtr, _), (Xva, yva), (Xte, _) = train_val_test_split(images, y, val_size=0, test_size=10)
    assert Xtr.shape == (40, 8, 8) and Xva.shape == (0, 8, 8) and yva.shape == (0,)
    assert Xte.shape == (10, 8, 8)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"val_size": 0.5, "test_size": 0.5}, ValueError, "leaving none for training"),
        ({"val_size": -1}, ValueError, "val_size must be >= 0"),
        ({"test_size": 1.5}, ValueError, r"test_size as a fraction must be in \[0, 1\)"),
        ({"test_size": "10%"}, TypeError, "test_size must be a fraction"),
        ({"stratify": "yes"}, TypeError, "stratify"),
    ],
)
def test_split_rejects_bad_sizes(kwargs, error, match):
    X, y = _indexed(n=20)
    with pytest.raises(error, match=match):
        train_val_test_split(X, y, **kwargs)


def test_split_rejects_mismatched_or_one_hot_targets():
    X, y = _indexed(n=20)
    with pytest.raises(ValueError, match="X has 20 samples .* but y has 19"):
        train_val_test_split(X, y[:19])
    with pytest.raises(ValueError, match="stratify=True needs 1-D class labels"):
        train_val_test_split(X, np.eye(4)[y])
    (_, yt), _, _ = train_val_test_split(X, np.eye(4)[y], stratify=False)
    assert yt.shape[1] == 4


# ---------------------------------------------------------------------------
# standardize
# ---------------------------------------------------------------------------


def test_standardize_uses_training_statistics_only():
    rng = np.random.default_rng(0)
    X_train = (rng.standard_normal((500, 3)) * [1, 5, 0.1] + [10, -3, 2]).astype(np.float32)
    X_test = (rng.standard_normal((200, 3)) * 2 + 7).astype(np.float32)
    mean, std, Xtr, Xte = standardize(X_train, X_test)
    np.testing.assert_allclose(Xtr.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(Xtr.std(axis=0), 1.0, rtol=1e-5)
    np.testing.assert_allclose(mean, X_train.astype(np.float64).mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(std, X_train.astype(np.float64).std(axis=0), rtol=1e-6)
    # the test set is shifted and scaled with the training numbers, not its own
    np.testing.assert_allclose(Xte, (X_test - mean) / std, rtol=1e-5, atol=1e-5)
    assert np.abs(Xte.mean(axis=0)).max() > 0.5
    assert Xtr.dtype == Xte.dtype == mean.dtype == std.dtype == np.float32


def test_standardize_leaves_constant_features_centred_not_nan():
    X, _ = load_digits()  # the corner pixels are always 0
    mean, std, Xs = standardize(X)
    assert np.isfinite(Xs).all()
    assert std[0] == 1.0 and np.all(Xs[:, 0] == 0.0)


def test_standardize_works_on_images_and_keeps_float64():
    images = np.random.default_rng(1).random((30, 4, 4))
    mean, std, out = standardize(images)
    assert mean.shape == (4, 4) and out.dtype == np.float64
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-12)


def test_standardize_rejects_bad_input():
    X = np.ones((10, 3), dtype=np.float32)
    with pytest.raises(ValueError, match=r"others\[0\] has shape \(5, 4\); expected \(m, 3\)"):
        standardize(X, np.ones((5, 4)))
    with pytest.raises(ValueError, match="X_train must be .n_samples, n_features."):
        standardize(np.ones(5))
    bad = X.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        standardize(bad)
    with pytest.raises(ValueError, match=r"X_train is empty \(shape \(0, 3\)\)"):
        standardize(np.ones((0, 3)))


# ---------------------------------------------------------------------------
# one-hot
# ---------------------------------------------------------------------------


def test_one_hot_round_trip():
    y = np.array([3, 0, 2, 2, 1])
    Y = one_hot(y)
    assert Y.shape == (5, 4) and Y.dtype == np.float32
    np.testing.assert_array_equal(Y.sum(axis=1), 1)
    np.testing.assert_array_equal(Y.argmax(axis=1), y)
    Y10 = one_hot(y, num_classes=10, dtype=np.float64)
    assert Y10.shape == (5, 10) and Y10.dtype == np.float64
    np.testing.assert_array_equal(Y10.argmax(axis=1), y)
    assert one_hot(np.array([], dtype=int), num_classes=3).shape == (0, 3)


@pytest.mark.parametrize(
    ("labels", "num_classes", "error", "match"),
    [
        ([0, 3], 3, ValueError, r"labels in \[0, 3\]; expected values in \[0, 2\]"),
        ([0, -1], 3, ValueError, "expected values in"),
        ([0.5, 1.0], 3, TypeError, "integer class labels"),
        ([[0, 1]], 3, ValueError, "1-dimensional"),
        (["a", "b"], 3, TypeError, "integer class labels"),
        ([0, 1], 0, ValueError, "num_classes must be an integer >= 1, got 0"),
        ([], None, ValueError, "labels is empty; pass num_classes"),
    ],
)
def test_one_hot_rejects_bad_labels(labels, num_classes, error, match):
    with pytest.raises(error, match=match):
        one_hot(labels, num_classes)


# ---------------------------------------------------------------------------
# mini-batches
# ---------------------------------------------------------------------------


def test_minibatches_cover_every_sample_once_per_epoch():
    X = np.arange(103, dtype=np.float32).reshape(-1, 1)
    y = np.arange(103)
    rng = np.random.default_rng(0)
    orders = []
    for _ in range(2):
        batches = list(iterate_minibatches(X, y, batch_size=10, rng=rng))
        assert [len(b[0]) for b in batches] == [10] * 10 + [3]
        seen = np.concatenate([xb[:, 0] for xb, _ in batches]).astype(int)
        np.testing.assert_array_equal(np.sort(seen), np.arange(103))
        for xb, yb in batches:
            np.testing.assert_array_equal(xb[:, 0].astype(int), yb)  # pairs stay together
        orders.append(seen)
    assert not np.array_equal(orders[0], orders[1])  # one Generator: a new order each epoch
    assert not np.array_equal(orders[0], np.arange(103))


def test_minibatches_seed_gives_the_same_order_and_no_shuffle_keeps_it():
    X = np.arange(20)
    a = np.concatenate(list(iterate_minibatches(X, batch_size=6, rng=7)))
    b = np.concatenate(list(iterate_minibatches(X, batch_size=6, rng=7)))
    np.testing.assert_array_equal(a, b)
    unseeded = np.concatenate(list(iterate_minibatches(X, batch_size=6)))  # rng=None means seed 0
    np.testing.assert_array_equal(unseeded, np.concatenate(list(iterate_minibatches(X, batch_size=6, rng=0))))
    plain = list(iterate_minibatches(X, batch_size=6, shuffle=False))
    np.testing.assert_array_equal(np.concatenate(plain), X)
    dropped = list(iterate_minibatches(X, batch_size=6, shuffle=False, drop_last=True))
    assert [len(b) for b in dropped] == [6, 6, 6]


def test_minibatches_check_arguments_when_called():
    X = np.zeros((10, 2))
    with pytest.raises(ValueError, match="X has 10 samples .* but y has 9"):
        iterate_minibatches(X, np.zeros(9))
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        iterate_minibatches(X, batch_size=0)
    expected = r"rng must be a numpy.random.Generator, an int seed or None \(seed 0\), got str 'seed'"
    with pytest.raises(TypeError, match=expected):
        iterate_minibatches(X, rng="seed")


def test_import_dlbasics_does_not_import_torch():
    code = (
        "import sys, dlbasics\n"
        "dlbasics.make_spirals(); dlbasics.load_mnist; dlbasics.one_hot([1])\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_bundled_digits_are_scikit_learns_without_importing_it(monkeypatch):
    """Read from the file scikit-learn ships, equal to ``sklearn.datasets.load_digits``, and
    through it where the file is not where it was."""
    import importlib.util
    import subprocess
    import sys

    from sklearn.datasets import load_digits as sklearn_digits

    from dlbasics.datasets import bundled_digits

    reference = sklearn_digits()
    for read in ("file", "fallback"):
        bundled_digits.cache_clear()
        if read == "fallback":
            monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
        images, labels = bundled_digits()
        assert images.dtype == np.uint8 and labels.dtype == np.int64, read
        np.testing.assert_array_equal(images, reference.images)
        np.testing.assert_array_equal(labels, reference.target)
        assert not images.flags.writeable and not labels.flags.writeable
    bundled_digits.cache_clear()
    code = ("import sys; from dlbasics.datasets import bundled_digits; bundled_digits(); "
            "print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
