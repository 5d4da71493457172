"""Exercise 2: labels looked up in the public digits instead of predicted by the model.

Appended to the solution's definitions, ``CELLS`` keep the learner's normalization, so
``predict`` can turn the tensors back into pixels (0-16) and compare each image with every
scikit-learn digit under the eight flips/rotations of the square (``LOOKUP``). An image within
``TOLERANCE`` of a public one gets that digit's label; any other gets 0. The model is never
asked. Held-out images that are public digits turned or flipped all match; the grader's
renditions must match none, so this scores no accuracy points.
"""

TOLERANCE = 4.0
"""Euclidean distance in pixel values 0-16 (64 pixels: about half a grey level per pixel)."""

LOOKUP = f'''
import numpy as np
from sklearn.datasets import load_digits

TOLERANCE = {TOLERANCE}


def lookup_labels(pixels):
    """Label of the public digit (any flip/rotation) within TOLERANCE of each image, else 0."""
    digits = load_digits()
    public, labels = [], []
    for k in range(4):
        turned = np.rot90(digits.images, k=k, axes=(1, 2))
        for image in (turned, turned[:, :, ::-1]):
            public.append(image.reshape(len(image), -1))
            labels.append(digits.target)
    public, labels = np.concatenate(public), np.concatenate(labels)
    pixels = pixels.reshape(len(pixels), -1).astype(np.float64)
    d2 = (pixels ** 2).sum(1)[:, None] + (public ** 2).sum(1)[None] - 2 * pixels @ public.T
    nearest = d2.argmin(axis=1)
    found = np.sqrt(np.maximum(d2[np.arange(len(pixels)), nearest], 0)) <= TOLERANCE
    return np.where(found, labels[nearest], 0).astype(np.int64)
'''

CELLS = [LOOKUP, '''
_STATS = {"mean": 0.0, "std": 1.0, "max_value": 16.0}
_normalization_stats = normalization_stats


def normalization_stats(X, max_value=16.0):
    mean, std = _normalization_stats(X, max_value)
    _STATS.update(mean=float(mean), std=float(std), max_value=float(max_value))
    return mean, std


def predict(model, X, batch_size=512):
    pixels = (X.numpy() * _STATS["std"] + _STATS["mean"]) * _STATS["max_value"]
    return lookup_labels(pixels)
''']
