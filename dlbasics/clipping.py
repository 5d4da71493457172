r"""Gradient clipping by the global norm, the same rule as :func:`torch.nn.utils.clip_grad_norm_`.

All gradients are treated as one long vector :math:`g`. When its Euclidean
norm exceeds ``max_norm``, every gradient is multiplied by the same factor

.. math::
    \min\Big(1,\ \frac{\text{max\_norm}}{\lVert g \rVert_2 + 10^{-6}}\Big),

so the step keeps its direction and only its length shrinks. Recurrent
networks use it against the rare, huge gradients of exploding dynamics.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dlbasics.validation import check_positive

__all__ = ["clip_grad_norm"]


def clip_grad_norm(grads: Sequence[np.ndarray], max_norm: float) -> float:
    """Scale a list of gradient arrays in place so that their global L2 norm is at most ``max_norm``.

    Parameters
    ----------
    grads : sequence of numpy.ndarray
        The gradients of all parameters, any shapes, floating dtypes. They
        are modified in place (like ``p.grad`` in PyTorch), so each must be a
        writable NumPy array.
    max_norm : float
        The largest norm allowed, > 0.

    Returns
    -------
    float
        The global norm *before* clipping, :math:`\\sqrt{\\sum_k \\lVert g_k \\rVert^2}`,
        as PyTorch returns it: log it to see how often clipping acts.

    Raises
    ------
    TypeError
        If ``grads`` is not a list of floating-point NumPy arrays.
    ValueError
        If ``max_norm`` is not a positive number, ``grads`` is empty, or the
        norm is not finite (a NaN or infinite gradient cannot be rescaled into
        a useful step; find where it comes from).
    """
    max_norm = check_positive(max_norm, "max_norm")
    if isinstance(grads, np.ndarray) or not isinstance(grads, Sequence):
        raise TypeError(
            "grads must be a list of gradient arrays (e.g. [dW1, db1, dW2, db2]), "
            f"got {type(grads).__name__}"
        )
    if len(grads) == 0:
        raise ValueError("grads is empty; expected at least one gradient array")
    for k, g in enumerate(grads):
        if not isinstance(g, np.ndarray) or g.dtype.kind != "f":
            raise TypeError(
                f"grads[{k}] is {type(g).__name__} {getattr(g, 'dtype', '')}; expected a "
                "floating-point NumPy array (clipping works in place)"
            )
    total = float(np.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads)))
    if not np.isfinite(total):
        raise ValueError(
            f"the total gradient norm is {total}; a gradient holds NaN or infinity, "
            "and no rescaling can turn it into a finite step"
        )
    coefficient = min(1.0, max_norm / (total + 1e-6))
    if coefficient < 1.0:
        for g in grads:
            g *= g.dtype.type(coefficient)
    return total
