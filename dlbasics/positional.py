r"""Positional encodings: telling attention where each token stands.

Attention treats its input as a set: permuting the tokens permutes the
outputs and changes nothing else. A model that must know order adds a vector
that depends on the position to every token's embedding. The sinusoidal
encoding of Vaswani et al. (2017) is a fixed one:

.. math::
    PE_{p,\,2i} = \sin\!\big(p / 10000^{2i/d}\big), \qquad
    PE_{p,\,2i+1} = \cos\!\big(p / 10000^{2i/d}\big),

one sine/cosine pair per frequency, the wavelengths growing geometrically from
:math:`2\pi` to :math:`10000 \cdot 2\pi`. For every offset ``k`` the pair at
position ``p + k`` is a rotation of the pair at ``p`` (by the angle
``k / 10000^(2i/d)``), the same rotation for every ``p``. Learned positions
(a trainable ``(n_positions, d)`` table, an embedding of the index) are the
other common choice.
"""

from __future__ import annotations

import numpy as np

from dlbasics.validation import check_int

__all__ = ["sinusoidal_positional_encoding"]


def sinusoidal_positional_encoding(n_positions: int, d_model: int) -> np.ndarray:
    """The sinusoidal position table of Vaswani et al. (2017).

    ``PE[p, 2i] = sin(p / 10000**(2i / d_model))`` and
    ``PE[p, 2i + 1] = cos(p / 10000**(2i / d_model))``.

    Parameters
    ----------
    n_positions : int
        Number of positions ``p = 0, 1, ..., n_positions - 1``.
    d_model : int
        Width of the encoding (an odd width ends with a sine column).

    Returns
    -------
    numpy.ndarray of float64, shape (n_positions, d_model)
        Values in ``[-1, 1]``; row ``p`` is added to the embedding of the
        token at position ``p``.
    """
    n_positions = check_int(n_positions, "n_positions", minimum=1)
    d_model = check_int(d_model, "d_model", minimum=1)
    positions = np.arange(n_positions, dtype=np.float64)[:, None]
    frequencies = 10000.0 ** (-np.arange(0, d_model, 2, dtype=np.float64) / d_model)  # (ceil(d/2),)
    angles = positions * frequencies
    pe = np.empty((n_positions, d_model), dtype=np.float64)
    pe[:, 0::2] = np.sin(angles)
    pe[:, 1::2] = np.cos(angles[:, : d_model // 2])
    return pe
