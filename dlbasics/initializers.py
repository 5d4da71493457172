r"""Weight initializations: the standard deviation of a Gaussian layer ``W`` ``(n_out, n_in)``.

The book names three rules (chapter 4), each keeping the variance of the
signal from one layer to the next for a kind of activation:

* LeCun, :math:`\sigma = \sqrt{1 / n_{in}}` -- the plain fan-in rule;
* Glorot (Xavier), :math:`\sigma = \sqrt{2 / (n_{in} + n_{out})}` -- sigmoid, tanh;
* He (Kaiming), :math:`\sigma = \sqrt{2 / n_{in}}` -- ReLU and its kin.

The networks (:mod:`dlbasics.networks`) draw their weights with
:func:`init_weights`, and the public checks of Exercise 1 compare a learner's
weights with :data:`INIT_RULES`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["INIT_RULES", "glorot_std", "he_std", "init_rule", "init_weights", "lecun_std"]


def lecun_std(n_in: int, n_out: int) -> float:
    """:math:`\\sqrt{1 / n_{in}}`."""
    return float(np.sqrt(1.0 / n_in))


def glorot_std(n_in: int, n_out: int) -> float:
    """:math:`\\sqrt{2 / (n_{in} + n_{out})}` (Glorot, also called Xavier)."""
    return float(np.sqrt(2.0 / (n_in + n_out)))


def he_std(n_in: int, n_out: int) -> float:
    """:math:`\\sqrt{2 / n_{in}}` (He, also called Kaiming)."""
    return float(np.sqrt(2.0 / n_in))


INIT_RULES: dict[str, tuple[str, Callable[[int, int], float]]] = {
    "LeCun": ("sqrt(1 / n_in)", lecun_std),
    "Glorot": ("sqrt(2 / (n_in + n_out))", glorot_std),
    "He": ("sqrt(2 / n_in)", he_std),
}
"""Each rule's formula, as the book writes it, and its standard deviation ``std(n_in, n_out)``."""


def init_rule(activation: str) -> str:
    """The rule for a hidden activation: He for ReLU-like ones, Glorot for sigmoid and tanh."""
    return "He" if activation.lower() in ("relu", "leaky_relu") else "Glorot"


def init_weights(
    layer_sizes: Sequence[int], std: Callable[[int, int], float], seed: int, dtype: np.dtype
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Gaussian weights ``(n_out, n_in)`` with standard deviation ``std(n_in, n_out)``, zero biases."""
    rng = np.random.default_rng(seed)
    weights = [
        (rng.standard_normal((n_out, n_in)) * std(n_in, n_out)).astype(dtype)
        for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:])
    ]
    return weights, [np.zeros(n, dtype=dtype) for n in layer_sizes[1:]]
