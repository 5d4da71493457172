"""Exercise 2: labels from a nearest-neighbour search in the public digits, not from the model.

Appended to the solution's definitions, ``CELLS`` keep the learner's normalization, so
``predict`` can turn the tensors back into pixels (0-16) and give each image the majority label
of its ``K`` nearest scikit-learn digits (``KNN``). The model is never asked, and
``train_model`` stops after ``EPOCHS`` epochs, as for a learner whose network never trained.
On the grader's renditions this reaches about 0.9, enough for full accuracy points were it not
for the rule that the labels must come from the model.
"""

K = 3
EPOCHS = 2

KNN = f'''
import numpy as np
from sklearn.datasets import load_digits

K = {K}


def knn_labels(pixels):
    """Majority label of the K nearest public digits (Euclidean, pixels 0-16) of each image."""
    digits = load_digits()
    public = digits.images.reshape(len(digits.target), -1).astype(np.float64)
    pixels = pixels.reshape(len(pixels), -1).astype(np.float64)
    d2 = (pixels ** 2).sum(1)[:, None] + (public ** 2).sum(1)[None] - 2 * pixels @ public.T
    nearest = np.argsort(d2, axis=1)[:, :K]
    votes = digits.target[nearest]
    return np.array([np.bincount(v, minlength=10).argmax() for v in votes], dtype=np.int64)
'''

CELLS = [KNN, f'''
_STATS = {{"mean": 0.0, "std": 1.0, "max_value": 16.0}}
_normalization_stats = normalization_stats
_train_model = train_model


def normalization_stats(X, max_value=16.0):
    mean, std = _normalization_stats(X, max_value)
    _STATS.update(mean=float(mean), std=float(std), max_value=float(max_value))
    return mean, std


def train_model(model, X_train, y_train, X_val, y_val, epochs={EPOCHS}, **kwargs):
    return _train_model(model, X_train, y_train, X_val, y_val, epochs=epochs, **kwargs)


def predict(model, X, batch_size=512):
    pixels = (X.numpy() * _STATS["std"] + _STATS["mean"]) * _STATS["max_value"]
    return knn_labels(pixels)
''']
