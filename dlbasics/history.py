"""The record of a training run that both ``fit`` functions return.

:meth:`dlbasics.MLP.fit` (NumPy) and :func:`dlbasics.torch_models.fit` (PyTorch)
fill the same :class:`History`, with the same meaning: one value per epoch,
measured *after* the epoch's updates, on the whole data set, in evaluation mode
(no dropout).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["History"]


@dataclass
class History:
    """Per-epoch metrics of a training run.

    Attributes
    ----------
    loss, accuracy : list of float
        On the training data, after each epoch, in evaluation mode (no dropout);
        the loss is the data loss alone, without a weight penalty.
    val_loss, val_accuracy : list of float
        The same on the validation data, when ``val_data`` is given.
    best_epoch : int or None
        The epoch whose weights early stopping restored (NumPy ``fit`` only).
    stopped_epoch : int or None
        The epoch after which training stopped early, by early stopping or a callback.
    """

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_epoch: int | None = None

    def __len__(self) -> int:
        return len(self.loss)
