"""Small helpers every exercise's checks use (not an exercise module: no ``ex`` prefix)."""

from __future__ import annotations

from typing import Any

import numpy as np


def fmt(a: Any, threshold: int = 24, edgeitems: int = 3) -> str:
    """An array as a check prints it: 4 decimals, long arrays shortened."""
    with np.printoptions(precision=4, suppress=True, threshold=threshold, edgeitems=edgeitems):
        return np.array2string(np.asarray(a), prefix="          ")


def to_numpy(t: Any) -> np.ndarray:
    """A tensor or anything array-like as a NumPy array."""
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


def seeded_torch(seed: int = 0) -> Any:
    """``torch``, its global generator seeded (PyTorch is imported only by the checks that
    need it)."""
    import torch

    torch.manual_seed(seed)
    return torch
