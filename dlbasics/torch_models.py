"""PyTorch counterparts of the NumPy networks, and a small training loop.

:class:`SimpleNN` and :class:`SimpleCNN` are the course's first PyTorch models;
:func:`fit`, :func:`evaluate` and :func:`predict` train and measure them on
NumPy arrays or tensors, and :func:`seed_everything` makes a run repeatable.

This module imports :mod:`torch`; ``import dlbasics`` does not, so the NumPy
parts of the package work without it.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dlbasics.history import History
from dlbasics.validation import (
    check_choice,
    check_int,
    check_labels,
    check_pair,
    check_positive,
    check_probability,
    format_shape,
)

__all__ = ["LOSSES", "SimpleCNN", "SimpleNN", "evaluate", "fit", "predict", "seed_everything"]

#: Loss names accepted by :func:`fit` and :func:`evaluate`.
LOSSES = ("cross_entropy", "mse", "bce_with_logits")
_OPTIMIZERS = ("adam", "sgd")


# ---------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------


class SimpleNN(nn.Module):
    """Two-layer perceptron: ``fc1 -> ReLU -> dropout -> fc2``.

    Parameters
    ----------
    input_size : int
        Features per sample.
    hidden_size : int
        Units in the hidden layer.
    output_size : int
        Outputs per sample (classes for cross-entropy, 1 for a regression).
    dropout : float, default 0.2
        Probability of zeroing a hidden unit during training.

    Shapes
    ------
    ``forward``: ``(n, input_size) -> (n, output_size)`` (raw outputs / logits).
    """

    def __init__(
        self, input_size: int, hidden_size: int, output_size: int, dropout: float = 0.2
    ) -> None:
        super().__init__()
        self.input_size = check_int(input_size, "input_size", minimum=1)
        hidden_size = check_int(hidden_size, "hidden_size", minimum=1)
        output_size = check_int(output_size, "output_size", minimum=1)
        dropout = check_probability(dropout, "dropout")
        self.fc1 = nn.Linear(self.input_size, hidden_size)
        self.fc2 = nn.Linear(hidden_size, output_size)
        self.dropout = nn.Dropout(float(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.input_size:
            raise ValueError(
                f"SimpleNN expects input of shape (n, {self.input_size}), "
                f"got {format_shape(x.shape)}"
            )
        x = F.relu(self.fc1(x))
        x = self.dropout(x)
        return self.fc2(x)


class SimpleCNN(nn.Module):
    """Two conv blocks and two dense layers, for square single- or multi-channel images.

    ``conv(3×3, 32) -> ReLU -> maxpool 2 -> conv(3×3, 64) -> ReLU -> maxpool 2
    -> flatten -> fc 128 -> ReLU -> dropout 0.25 -> fc num_classes``. The
    convolutions pad by 1, so each pooling halves the side: 28 → 14 → 7 for
    MNIST (``fc1`` takes ``64·7·7``), 8 → 4 → 2 for the 8×8 digits
    (``64·2·2``).

    Parameters
    ----------
    num_classes : int, default 10
        Number of outputs (logits).
    in_channels : int, default 1
        Channels per image (1 for grey-scale).
    image_size : int, default 28
        Height and width of the (square) images; a multiple of 4.
    dropout : float, default 0.25
        Dropout before the last layer.

    Shapes
    ------
    ``forward``: ``(n, in_channels, image_size, image_size) -> (n, num_classes)``.
    Also accepted: ``(n, image_size, image_size)`` when ``in_channels == 1``,
    and flat rows ``(n, in_channels * image_size**2)`` such as
    :func:`dlbasics.load_digits` returns.
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        image_size: int = 28,
        dropout: float = 0.25,
    ) -> None:
        super().__init__()
        num_classes = check_int(num_classes, "num_classes", minimum=1)
        self.in_channels = check_int(in_channels, "in_channels", minimum=1)
        self.image_size = check_int(image_size, "image_size", minimum=4)
        if self.image_size % 4:
            raise ValueError(
                f"image_size must be a multiple of 4 (two 2×2 poolings halve it twice), "
                f"got {image_size}; pad or crop the images, e.g. to {self.image_size // 4 * 4}"
            )
        dropout = check_probability(dropout, "dropout")
        side = self.image_size // 4
        self.conv1 = nn.Conv2d(self.in_channels, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(64 * side * side, 128)
        self.fc2 = nn.Linear(128, num_classes)
        self.dropout = nn.Dropout(float(dropout))

    def _as_images(self, x: torch.Tensor) -> torch.Tensor:
        c, s = self.in_channels, self.image_size
        if x.ndim == 4 and tuple(x.shape[1:]) == (c, s, s):
            return x
        if x.ndim == 3 and c == 1 and tuple(x.shape[1:]) == (s, s):
            return x.unsqueeze(1)
        if x.ndim == 2 and x.shape[1] == c * s * s:
            return x.reshape(-1, c, s, s)
        raise ValueError(
            f"SimpleCNN expects images of shape (n, {c}, {s}, {s})"
            + (f" or (n, {s}, {s})" if c == 1 else "")
            + f" or flat rows (n, {c * s * s}), got {format_shape(x.shape)}"
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._as_images(x)
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.dropout(x)
        return self.fc2(x)


# ---------------------------------------------------------------------------
# reproducibility
# ---------------------------------------------------------------------------


def seed_everything(seed: int, deterministic_algorithms: bool = False) -> None:
    """Seed Python's ``random``, NumPy's global generator and PyTorch (CPU and GPU).

    Also asks cuDNN for deterministic kernels (no effect on the CPU). The
    package itself never draws from NumPy's global generator; this is for
    code that does.

    Parameters
    ----------
    seed : int
        A seed in ``[0, 2**32)``.
    deterministic_algorithms : bool, default False
        Also call ``torch.use_deterministic_algorithms(True, warn_only=True)``,
        which makes PyTorch warn about operations that have no deterministic
        implementation (on GPUs; it can slow them down).
    """
    seed = check_int(seed, "seed", minimum=0)
    if seed >= 2**32:
        raise ValueError(f"seed must be below 2**32, got {seed}")
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - seeding the global state is the point here
    torch.manual_seed(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    if deterministic_algorithms:
        torch.use_deterministic_algorithms(True, warn_only=True)


# ---------------------------------------------------------------------------
# data handling
# ---------------------------------------------------------------------------


def _model_dtype_device(model: nn.Module) -> tuple[torch.dtype, torch.device]:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    for p in model.parameters():
        return p.dtype, p.device
    return torch.get_default_dtype(), torch.device("cpu")


def _as_tensor(x: Any, name: str) -> torch.Tensor:
    """A tensor from a tensor or array_like, checked to be numeric and finite."""
    if isinstance(x, torch.Tensor):
        t = x.detach()
    else:
        arr = np.asarray(x)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{name} has dtype {arr.dtype}; expected an array of numbers")
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.ndim == 0:
        raise ValueError(f"{name} must have a first (sample) axis, got a scalar")
    if t.numel() == 0:
        raise ValueError(f"{name} is empty (shape {format_shape(t.shape)}); expected samples")
    if t.is_complex():
        raise TypeError(f"{name} has dtype {t.dtype}; expected real numbers")
    if t.is_floating_point() and not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains NaN or infinity; expected finite numbers")
    return t


def _output_width(model: nn.Module, X: torch.Tensor, device: torch.device) -> int:
    """Run one sample through ``model`` (eval mode) to learn the output width."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(X[:1].to(device))
    except (RuntimeError, ValueError) as err:
        raise ValueError(f"the model cannot take X of shape {format_shape(X.shape)}: {err}") from err
    finally:
        model.train(was_training)
    if out.ndim != 2:
        raise ValueError(
            f"the model returns outputs of shape {format_shape(out.shape)}; expected (n, n_outputs)"
        )
    return int(out.shape[1])


def _prepare(
    model: nn.Module, X: Any, y: Any, loss: str, names: tuple[str, str] = ("X", "y")
) -> tuple[torch.Tensor, torch.Tensor]:
    """Check ``(X, y)`` against ``model`` and ``loss`` and convert them to tensors."""
    dtype, device = _model_dtype_device(model)
    x_name, y_name = names
    Xt = _as_tensor(X, x_name).to(dtype)
    yt = _as_tensor(y, y_name)
    if len(Xt) != len(yt):
        raise ValueError(
            f"{x_name} has {len(Xt)} samples (shape {format_shape(Xt.shape)}) but {y_name} has "
            f"{len(yt)} (shape {format_shape(yt.shape)})"
        )
    width = _output_width(model, Xt, device)
    if loss == "cross_entropy":
        labels = check_labels(yt.cpu().numpy(), len(Xt), width, name=y_name)
        return Xt, torch.from_numpy(labels)
    yt = yt.to(dtype)
    if yt.ndim == 1 and width == 1:
        yt = yt.unsqueeze(1)
    if tuple(yt.shape) != (len(Xt), width):
        raise ValueError(
            f"loss={loss!r} needs targets {y_name} of shape ({len(Xt)}, {width}) like the model's "
            f"outputs, got {format_shape(yt.shape)}"
        )
    if loss == "bce_with_logits" and bool(((yt < 0) | (yt > 1)).any()):
        raise ValueError(f"loss='bce_with_logits' needs targets {y_name} in [0, 1]")
    return Xt, yt


_LOSS_FUNCTIONS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "cross_entropy": F.cross_entropy,
    "mse": F.mse_loss,
    "bce_with_logits": F.binary_cross_entropy_with_logits,
}


def _n_correct(out: torch.Tensor, target: torch.Tensor, loss: str) -> int:
    """How many predictions in a batch are right (class = argmax, or a threshold)."""
    if loss == "cross_entropy":
        return int((out.argmax(dim=1) == target).sum())
    if out.shape[1] > 1:  # one-hot targets
        return int((out.argmax(dim=1) == target.argmax(dim=1)).sum())
    threshold = 0.0 if loss == "bce_with_logits" else 0.5
    return int(((out > threshold) == (target > 0.5)).sum())


def _evaluate_tensors(
    model: nn.Module, X: torch.Tensor, y: torch.Tensor, loss: str, batch_size: int
) -> dict[str, float]:
    _, device = _model_dtype_device(model)
    loss_fn = _LOSS_FUNCTIONS[loss]
    was_training = model.training
    model.eval()
    total, correct = 0.0, 0
    try:
        with torch.no_grad():
            for start in range(0, len(X), batch_size):
                xb = X[start : start + batch_size].to(device)
                yb = y[start : start + batch_size].to(device)
                out = model(xb)
                total += float(loss_fn(out, yb, reduction="sum"))
                correct += _n_correct(out, yb, loss)
    finally:
        model.train(was_training)
    n = len(X)
    per_element = 1 if loss == "cross_entropy" else y.shape[1]
    return {"loss": total / (n * per_element), "accuracy": correct / n}


# ---------------------------------------------------------------------------
# training and evaluation
# ---------------------------------------------------------------------------


def evaluate(
    model: nn.Module,
    X: Any,
    y: Any,
    loss: str = "cross_entropy",
    batch_size: int = 256,
) -> dict[str, float]:
    """Mean loss and accuracy of ``model`` on ``(X, y)``, in eval mode, without gradients.

    Parameters
    ----------
    model : torch.nn.Module
        Returns ``(n, n_outputs)`` for inputs ``X``.
    X : array_like or Tensor, shape (n, ...)
        Inputs; converted to the model's dtype.
    y : array_like or Tensor
        Integer labels ``(n,)`` for ``"cross_entropy"``; targets shaped like
        the outputs (or ``(n,)`` for one output) for ``"mse"`` and
        ``"bce_with_logits"``.
    loss : {"cross_entropy", "mse", "bce_with_logits"}, default "cross_entropy"
        The loss to report (mean over samples, and over outputs for MSE/BCE).
    batch_size : int, default 256
        Samples per forward pass.

    Returns
    -------
    dict
        ``{"loss": float, "accuracy": float}``. Accuracy compares the argmax
        with the label, or for a single output thresholds it at 0.5 (MSE) or
        0 (logits) against targets thresholded at 0.5.
    """
    loss = check_choice(loss, "loss", LOSSES)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    Xt, yt = _prepare(model, X, y, loss)
    return _evaluate_tensors(model, Xt, yt, loss, batch_size)


def predict(model: nn.Module, X: Any, batch_size: int = 256, threshold: float = 0.5) -> np.ndarray:
    """Predicted classes for ``X``, in eval mode, without gradients.

    Parameters
    ----------
    model, X, batch_size
        As in :func:`evaluate`.
    threshold : float, default 0.5
        For a model with a single output: outputs above it are class 1
        (0.5 for outputs trained with MSE on 0/1 targets, 0.0 for logits).

    Returns
    -------
    ndarray of int64, shape (n,)
        ``argmax`` of the outputs, or ``output > threshold`` for one output.
    """
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    dtype, device = _model_dtype_device(model)
    Xt = _as_tensor(X, "X").to(dtype)
    width = _output_width(model, Xt, device)
    was_training = model.training
    model.eval()
    chunks = []
    try:
        with torch.no_grad():
            for start in range(0, len(Xt), batch_size):
                out = model(Xt[start : start + batch_size].to(device))
                pred = out.argmax(dim=1) if width > 1 else (out[:, 0] > threshold).long()
                chunks.append(pred.cpu())
    finally:
        model.train(was_training)
    return torch.cat(chunks).numpy().astype(np.int64)


def fit(
    model: nn.Module,
    train_data: tuple[Any, Any],
    val_data: tuple[Any, Any] | None = None,
    *,
    epochs: int = 10,
    lr: float = 1e-3,
    batch_size: int = 32,
    optimizer: str | torch.optim.Optimizer = "adam",
    loss: str = "cross_entropy",
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    seed: int | None = 0,
    progress: bool = True,
) -> History:
    """Train ``model`` with mini-batches and return its per-epoch history.

    Each epoch visits the training samples once in a new random order, one
    optimizer step per batch, then evaluates on the training data and on
    ``val_data`` (eval mode, no dropout). The arguments and the
    :class:`~dlbasics.history.History` are those of :meth:`dlbasics.MLP.fit`.

    Parameters
    ----------
    model : torch.nn.Module
        Trained in place; its parameters' dtype and device are used for the data.
    train_data : (X, y)
        Arrays or tensors; see :func:`evaluate` for the target shapes.
    val_data : (X, y), optional
        Held-out data measured after every epoch.
    epochs : int, default 10
    lr : float, default 1e-3
        Learning rate (ignored when ``optimizer`` is an optimizer object).
    batch_size : int, default 32
    optimizer : {"adam", "sgd"} or torch.optim.Optimizer, default "adam"
        A name builds ``torch.optim.Adam``/``SGD`` over ``model.parameters()``
        with ``lr``, ``weight_decay`` (and ``momentum`` for SGD); an
        optimizer object is used as it is (with its own weight decay).
    loss : {"cross_entropy", "mse", "bce_with_logits"}, default "cross_entropy"
    momentum : float, default 0.0
        SGD momentum.
    weight_decay : float, default 0.0
        L2 strength :math:`\\lambda`, as in :meth:`dlbasics.MLP.fit`: the optimizer adds
        :math:`\\lambda W` to the gradient of every weight matrix or kernel (parameters
        with more than one axis), not to biases or normalization parameters.
    seed : int or None, default 0
        Seeds the shuffling and dropout for this call only (PyTorch's global
        random state is restored afterwards). ``None`` draws from the global
        state instead. Seed the model's initial weights separately, e.g. with
        :func:`seed_everything` before building it.
    progress : bool, default True
        Show a tqdm progress bar over the epochs.

    Returns
    -------
    History
        The same record :meth:`dlbasics.MLP.fit` returns: ``loss`` and
        ``accuracy`` on the training data after each epoch, in eval mode (no
        dropout), and, when ``val_data`` is given, ``val_loss`` and
        ``val_accuracy``; one float per epoch.

    Examples
    --------
    >>> from dlbasics.datasets import load_digits, train_val_test_split
    >>> (X_tr, y_tr), (X_val, y_val), _ = train_val_test_split(*load_digits())
    >>> seed_everything(0)
    >>> model = SimpleNN(64, 32, 10)
    >>> history = fit(model, (X_tr, y_tr), (X_val, y_val), epochs=5, lr=1e-2, progress=False)
    >>> history.val_accuracy[-1] > 0.9
    True
    """
    from tqdm.auto import tqdm

    loss = check_choice(loss, "loss", LOSSES)
    epochs = check_int(epochs, "epochs", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    lr = check_positive(lr, "lr")
    momentum = check_positive(momentum, "momentum", allow_zero=True)
    weight_decay = check_positive(weight_decay, "weight_decay", allow_zero=True)
    if seed is not None:
        seed = check_int(seed, "seed", minimum=0)
    pair = "(X, y) of arrays or tensors"
    X_train, y_train = _prepare(model, *check_pair(train_data, "train_data", pair), loss)
    val = None
    if val_data is not None:
        val = _prepare(model, *check_pair(val_data, "val_data", pair), loss, ("X_val", "y_val"))

    # weight decay on the weights only, not on biases or normalization parameters (as MLP.fit)
    groups = [{"params": [p for p in model.parameters() if p.ndim > 1], "weight_decay": weight_decay},
              {"params": [p for p in model.parameters() if p.ndim <= 1], "weight_decay": 0.0}]
    if isinstance(optimizer, torch.optim.Optimizer):
        opt = optimizer
    elif check_choice(optimizer, "optimizer", ("adam", "sgd")) == "adam":
        opt = torch.optim.Adam(groups, lr=lr)
    else:
        opt = torch.optim.SGD(groups, lr=lr, momentum=momentum)

    _, device = _model_dtype_device(model)
    loss_fn = _LOSS_FUNCTIONS[loss]
    n = len(X_train)
    history = History()

    if seed is None:
        rng_scope: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
        generator = None
    else:
        devices = [device] if device.type == "cuda" else []
        rng_scope = torch.random.fork_rng(devices=devices)
        generator = torch.Generator().manual_seed(seed)
    with rng_scope:
        if seed is not None:
            torch.manual_seed(seed)
        bar = tqdm(range(epochs), desc="epochs", disable=not progress, leave=False)
        for _ in bar:
            model.train()
            order = torch.randperm(n, generator=generator)
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                xb, yb = X_train[idx].to(device), y_train[idx].to(device)
                opt.zero_grad(set_to_none=True)
                loss_fn(model(xb), yb).backward()
                opt.step()
            scores = _evaluate_tensors(model, X_train, y_train, loss, 256)
            history.loss.append(scores["loss"])
            history.accuracy.append(scores["accuracy"])
            postfix = {"loss": f"{scores['loss']:.4f}", "acc": f"{scores['accuracy']:.3f}"}
            if val is not None:
                scores = _evaluate_tensors(model, val[0], val[1], loss, 256)
                history.val_loss.append(scores["loss"])
                history.val_accuracy.append(scores["accuracy"])
                postfix.update(val_loss=f"{scores['loss']:.4f}", val_acc=f"{scores['accuracy']:.3f}")
            bar.set_postfix(postfix)
        bar.close()
    return history
