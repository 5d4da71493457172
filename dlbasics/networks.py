r"""Fully connected networks in NumPy, from the forward pass to mini-batch training.

Three classes, in the order the book builds them:

* :class:`SimpleNeuralNetwork` -- the forward pass only (chapter 2);
* :class:`NeuralNetworkWithBackprop` -- sigmoid hidden layers, a linear output
  and mean squared error, trained by full-batch gradient descent (chapter 4);
* :class:`MLP` -- any activation, softmax cross-entropy on logits, mini-batch
  training with an optimizer, L2, dropout and early stopping (chapters 5-7).

All of them are batch-first: ``X`` is ``(n_samples, n_features)`` and layer
``l`` computes :math:`Z^{(l)} = A^{(l-1)} W^{(l)\top} + b^{(l)}` with
``W[l]`` of shape ``(n_out, n_in)``. Many texts store one sample per *column*
and write :math:`z = W x + b`; the two are the same computation transposed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from dlbasics.activations import _sigmoid, _sigmoid_derivative, get_activation
from dlbasics.losses import _softmax_cross_entropy_grad
from dlbasics.optim import SGD, Optimizer
from dlbasics.regularization import EarlyStopping
from dlbasics.validation import (
    as_float_array,
    check_int,
    check_labels,
    check_positive,
    check_probability,
    format_shape,
)

__all__ = ["MLP", "History", "NeuralNetworkWithBackprop", "SimpleNeuralNetwork"]


def _check_layer_sizes(layer_sizes: Sequence[int]) -> list[int]:
    if isinstance(layer_sizes, (str, bytes)) or not isinstance(layer_sizes, Sequence):
        raise TypeError(
            f"layer_sizes must be a list of ints such as [2, 4, 1], got {layer_sizes!r}"
        )
    sizes = list(layer_sizes)
    if len(sizes) < 2:
        raise ValueError(
            f"layer_sizes needs at least an input and an output size, got {sizes!r}"
        )
    for i, s in enumerate(sizes):
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1:
            raise ValueError(f"layer_sizes[{i}] must be a positive int, got {s!r}")
    return [int(s) for s in sizes]


def _check_dtype(dtype: np.dtype | type) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    return dt


def _check_input(X: np.ndarray, n_features: int, dtype: np.dtype) -> np.ndarray:
    X = as_float_array(X, "X", ndim=2)
    if X.shape[1] != n_features:
        raise ValueError(
            f"X has {X.shape[1]} features (shape {format_shape(X.shape)}) but the first "
            f"layer expects {n_features} (layer_sizes[0])"
        )
    return X.astype(dtype, copy=False)


class SimpleNeuralNetwork:
    """A network that only runs forward: sigmoid hidden layers, a linear output.

    Weights use He initialisation, :math:`W \\sim \\mathcal N(0, 2/n_{in})`; biases start at 0.

    Parameters
    ----------
    layer_sizes : list of int
        ``[n_inputs, hidden_1, ..., n_outputs]``.
    seed : int, default 0
    dtype : float32 or float64, default float64

    Attributes
    ----------
    weights : list of numpy.ndarray, shapes ``(layer_sizes[l+1], layer_sizes[l])``
    biases : list of numpy.ndarray, shapes ``(layer_sizes[l+1],)``
    """

    def __init__(self, layer_sizes: Sequence[int], seed: int = 0, dtype: type = np.float64) -> None:
        self.layer_sizes = _check_layer_sizes(layer_sizes)
        self.dtype = _check_dtype(dtype)
        rng = np.random.default_rng(seed)
        self.weights = [
            (rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in)).astype(self.dtype)
            for n_in, n_out in zip(self.layer_sizes[:-1], self.layer_sizes[1:])
        ]
        self.biases = [np.zeros(n, dtype=self.dtype) for n in self.layer_sizes[1:]]

    def forward(self, X: np.ndarray) -> list[np.ndarray]:
        """Run the network on a batch.

        Parameters
        ----------
        X : numpy.ndarray, shape (n_samples, layer_sizes[0])

        Returns
        -------
        list of numpy.ndarray
            The activations of every layer, ``X`` first and the output
            ``(n_samples, layer_sizes[-1])`` last.
        """
        a = _check_input(X, self.layer_sizes[0], self.dtype)
        activations = [a]
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            z = a @ w.T + b
            a = z if i == last else _sigmoid(z)
            activations.append(a)
        return activations


class NeuralNetworkWithBackprop:
    """Sigmoid hidden layers, a linear output, mean squared error, full-batch gradient descent.

    The loss is :math:`J = \\frac{1}{N}\\sum (\\hat Y - Y)^2` over all
    :math:`N = n \\cdot n_{out}` outputs, so the output error is
    :math:`\\delta^{(L)} = \\frac{2}{N}(\\hat Y - Y)`, and for hidden layers
    :math:`\\delta^{(l)} = (\\delta^{(l+1)} W^{(l+1)}) \\odot \\sigma'(Z^{(l)})`,
    :math:`\\partial J/\\partial W^{(l)} = \\delta^{(l)\\top} A^{(l-1)}`,
    :math:`\\partial J/\\partial b^{(l)} = \\sum_i \\delta^{(l)}_i`.

    Parameters
    ----------
    layer_sizes : list of int
        ``[n_inputs, hidden_1, ..., n_outputs]``.
    weight_scale : float or None, default 0.01
        Standard deviation of the initial weights. ``None`` scales by the
        fan-in, :math:`\\sqrt{1/n_{in}}` (LeCun initialisation), which lets XOR train.
    seed : int, default 0
    dtype : float32 or float64, default float64
    """

    def __init__(
        self,
        layer_sizes: Sequence[int],
        weight_scale: float | None = 0.01,
        seed: int = 0,
        dtype: type = np.float64,
    ) -> None:
        self.layer_sizes = _check_layer_sizes(layer_sizes)
        self.dtype = _check_dtype(dtype)
        if weight_scale is not None:
            check_positive(weight_scale, "weight_scale")
        self.weight_scale = weight_scale
        rng = np.random.default_rng(seed)
        self.weights = []
        for n_in, n_out in zip(self.layer_sizes[:-1], self.layer_sizes[1:]):
            scale = np.sqrt(1.0 / n_in) if weight_scale is None else weight_scale
            self.weights.append((rng.standard_normal((n_out, n_in)) * scale).astype(self.dtype))
        self.biases = [np.zeros(n, dtype=self.dtype) for n in self.layer_sizes[1:]]

    def _targets(self, y: np.ndarray, n: int) -> np.ndarray:
        y = as_float_array(y, "y").astype(self.dtype, copy=False)
        given = y.shape
        if y.ndim == 1 and self.layer_sizes[-1] == 1:
            y = y[:, None]
        expected = (n, self.layer_sizes[-1])
        if y.shape != expected:
            raise ValueError(f"y has shape {format_shape(given)}; expected {format_shape(expected)}")
        return y

    def forward(self, X: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Forward pass, keeping what backpropagation needs.

        Parameters
        ----------
        X : numpy.ndarray, shape (n_samples, layer_sizes[0])

        Returns
        -------
        activations : list of numpy.ndarray
            ``[X, A1, ..., output]``; the output has shape ``(n_samples, layer_sizes[-1])``.
        z_values : list of numpy.ndarray
            Pre-activations ``[Z1, ..., Z_L]``.
        """
        return self._forward(_check_input(X, self.layer_sizes[0], self.dtype))

    def _forward(self, a: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        activations, z_values = [a], []
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            z = a @ w.T + b
            a = z if i == last else _sigmoid(z)
            z_values.append(z)
            activations.append(a)
        return activations, z_values

    def compute_loss(self, y_pred: np.ndarray, y_true: np.ndarray) -> float:
        """Mean squared error over every output of every sample."""
        y_true = self._targets(y_true, np.shape(y_pred)[0])
        return float(np.mean((y_pred - y_true) ** 2))

    def backward(
        self,
        X: np.ndarray,
        y: np.ndarray,
        activations: list[np.ndarray],
        z_values: list[np.ndarray],
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Backpropagation of the mean squared error.

        Parameters
        ----------
        X : numpy.ndarray, shape (n_samples, layer_sizes[0])
        y : numpy.ndarray, shape (n_samples, layer_sizes[-1])
        activations, z_values
            From :meth:`forward` on the same ``X``.

        Returns
        -------
        dW : list of numpy.ndarray, shapes like ``weights``
        db : list of numpy.ndarray, shapes like ``biases``
        """
        return self._backward(self._targets(y, activations[0].shape[0]), activations, z_values)

    def _backward(
        self, y: np.ndarray, activations: list[np.ndarray], z_values: list[np.ndarray]
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        delta = 2.0 * (activations[-1] - y) / y.size
        dW: list[np.ndarray] = [np.empty(0)] * len(self.weights)
        db: list[np.ndarray] = [np.empty(0)] * len(self.biases)
        for layer in range(len(self.weights) - 1, -1, -1):
            dW[layer] = delta.T @ activations[layer]
            db[layer] = delta.sum(axis=0)
            if layer > 0:
                delta = (delta @ self.weights[layer]) * _sigmoid_derivative(z_values[layer - 1])
        return dW, db

    def update_parameters(
        self, dW: list[np.ndarray], db: list[np.ndarray], learning_rate: float
    ) -> None:
        """One gradient-descent step, in place: :math:`\\theta \\leftarrow \\theta - \\eta\\,\\nabla J`."""
        for w, b, gw, gb in zip(self.weights, self.biases, dW, db):
            w -= learning_rate * gw
            b -= learning_rate * gb

    def train(
        self,
        X: np.ndarray,
        y: np.ndarray,
        epochs: int,
        learning_rate: float,
        verbose: int = 0,
    ) -> list[float]:
        """Full-batch gradient descent.

        Parameters
        ----------
        X : numpy.ndarray, shape (n_samples, layer_sizes[0])
        y : numpy.ndarray, shape (n_samples, layer_sizes[-1]) or (n_samples,)
        epochs : int
        learning_rate : float
        verbose : int, default 0
            Print the loss every ``verbose`` epochs (0: never).

        Returns
        -------
        list of float
            The loss before each epoch's update.
        """
        epochs = check_int(epochs, "epochs", minimum=1)
        learning_rate = check_positive(learning_rate, "learning_rate")
        X = _check_input(X, self.layer_sizes[0], self.dtype)
        y = self._targets(y, X.shape[0])
        losses = []
        for epoch in range(epochs):
            activations, z_values = self._forward(X)
            loss = float(np.mean((activations[-1] - y) ** 2))
            losses.append(loss)
            dW, db = self._backward(y, activations, z_values)
            self.update_parameters(dW, db, learning_rate)
            if verbose and epoch % verbose == 0:
                print(f"epoch {epoch:5d}  loss {loss:.4f}")
        return losses

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The network's output, shape ``(n_samples, layer_sizes[-1])``."""
        return self.forward(X)[0][-1]


@dataclass
class _Cache:
    """Per-layer values from :meth:`MLP._forward` that backpropagation reuses."""

    inputs: list[np.ndarray]  # input of every layer (after dropout)
    zs: list[np.ndarray]  # hidden pre-activations
    masks: list[np.ndarray | None]  # inverted-dropout masks, None without dropout


@dataclass
class History:
    """Per-epoch metrics recorded by :meth:`MLP.fit`.

    Attributes
    ----------
    loss, accuracy : list of float
        On the training data (the loss includes no penalty term).
    val_loss, val_accuracy : list of float
        On the validation data, when given.
    best_epoch : int or None
        The epoch whose weights were restored by early stopping.
    stopped_epoch : int or None
        The epoch after which early stopping ended training.
    """

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_epoch: int | None = None

    def __len__(self) -> int:
        return len(self.loss)


class MLP:
    """Multi-layer perceptron classifier: any hidden activation, softmax cross-entropy.

    Parameters
    ----------
    layer_sizes : list of int
        ``[n_features, hidden_1, ..., n_classes]``.
    activation : {"relu", "sigmoid", "tanh", "leaky_relu"}, default "relu"
        The hidden layers' activation; the output layer is linear (logits).
    seed : int, default 0
        Seeds the initial weights.
    dtype : float32 or float64, default float32
        Parameter dtype; inputs are cast to it. Use float64 for gradient checks.

    Attributes
    ----------
    weights : list of numpy.ndarray, shapes ``(layer_sizes[l+1], layer_sizes[l])``
        Initialised :math:`\\mathcal N(0, 2/n_{in})` (He) for ReLU-like
        activations and :math:`\\mathcal N(0, 2/(n_{in}+n_{out}))` (Glorot) for
        sigmoid and tanh.
    biases : list of numpy.ndarray, shapes ``(layer_sizes[l+1],)``, zeros

    Examples
    --------
    >>> X, y = make_spirals(300, seed=0)                       # doctest: +SKIP
    >>> model = MLP([2, 32, 2], seed=0)                       # doctest: +SKIP
    >>> history = model.fit(X, y, epochs=200, optimizer=Adam(0.01), progress=False)  # doctest: +SKIP
    """

    def __init__(
        self,
        layer_sizes: Sequence[int],
        activation: str = "relu",
        seed: int = 0,
        dtype: type = np.float32,
    ) -> None:
        self.layer_sizes = _check_layer_sizes(layer_sizes)
        self.activation = activation
        self._f, self._f_prime = get_activation(activation)
        self.dtype = _check_dtype(dtype)
        rng = np.random.default_rng(seed)
        relu_like = activation.lower() in ("relu", "leaky_relu")
        self.weights = []
        for n_in, n_out in zip(self.layer_sizes[:-1], self.layer_sizes[1:]):
            std = np.sqrt(2.0 / n_in) if relu_like else np.sqrt(2.0 / (n_in + n_out))
            self.weights.append((rng.standard_normal((n_out, n_in)) * std).astype(self.dtype))
        self.biases = [np.zeros(n, dtype=self.dtype) for n in self.layer_sizes[1:]]

    def __repr__(self) -> str:
        return f"MLP({self.layer_sizes}, activation={self.activation!r}, dtype={self.dtype.name})"

    @property
    def n_classes(self) -> int:
        """The number of outputs (classes)."""
        return self.layer_sizes[-1]

    def parameters(self) -> list[np.ndarray]:
        """``weights + biases``: the list an optimizer updates in place."""
        return [*self.weights, *self.biases]

    # -- the maths, on checked arrays ---------------------------------------------
    def _forward(
        self, X: np.ndarray, dropout: float = 0.0, rng: np.random.Generator | None = None
    ) -> tuple[np.ndarray, _Cache]:
        """Logits and what :meth:`_backward` needs, on an already-checked ``X``."""
        a = X
        cache = _Cache([], [], [])
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            cache.inputs.append(a)
            z = a @ w.T
            z += b
            if i == last:
                return z, cache
            cache.zs.append(z)
            a = self._f(z)
            mask = None
            if dropout:
                mask = (rng.random(a.shape) >= dropout).astype(a.dtype) / a.dtype.type(1 - dropout)
                a = a * mask
            cache.masks.append(mask)
        raise AssertionError("unreachable: a network has at least one layer")

    def _backward(
        self, dlogits: np.ndarray, cache: _Cache
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Backpropagate ``dlogits`` (n, n_classes) to every weight and bias."""
        n_layers = len(self.weights)
        dW: list[np.ndarray] = [np.empty(0)] * n_layers
        db: list[np.ndarray] = [np.empty(0)] * n_layers
        delta = dlogits
        for layer in range(n_layers - 1, -1, -1):
            dW[layer] = delta.T @ cache.inputs[layer]
            db[layer] = delta.sum(axis=0)
            if layer > 0:
                da = delta @ self.weights[layer]  # gradient of this layer's input
                mask = cache.masks[layer - 1]
                if mask is not None:
                    da = da * mask
                delta = da * self._f_prime(cache.zs[layer - 1])
        return dW, db

    # -- public API -----------------------------------------------------------------
    def forward(self, X: np.ndarray) -> np.ndarray:
        """Logits for a batch.

        Parameters
        ----------
        X : numpy.ndarray, shape (n_samples, layer_sizes[0])

        Returns
        -------
        numpy.ndarray, shape (n_samples, n_classes), dtype of the model
        """
        X = _check_input(X, self.layer_sizes[0], self.dtype)
        return self._forward(X)[0]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities ``softmax(forward(X))``, shape ``(n_samples, n_classes)``."""
        z = self.forward(X)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted class labels, ``int64`` of shape ``(n_samples,)``."""
        return self.forward(X).argmax(axis=1).astype(np.int64)

    def loss(self, X: np.ndarray, y: np.ndarray) -> float:
        """Mean softmax cross-entropy of integer labels ``y`` on ``X``."""
        X = _check_input(X, self.layer_sizes[0], self.dtype)
        y = check_labels(y, X.shape[0], self.n_classes)
        z = self._forward(X)[0]
        m = z.max(axis=1, keepdims=True)
        lse = m[:, 0] + np.log(np.exp(z - m).sum(axis=1))
        return float(np.mean(lse - z[np.arange(len(y)), y]))

    def accuracy(self, X: np.ndarray, y: np.ndarray) -> float:
        """Fraction of ``X`` classified as ``y``."""
        X = _check_input(X, self.layer_sizes[0], self.dtype)
        y = check_labels(y, X.shape[0], self.n_classes)
        return float(np.mean(self._forward(X)[0].argmax(axis=1) == y))

    def backward(self, X: np.ndarray, y: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Gradients of the mean softmax cross-entropy with respect to every parameter.

        Runs its own forward pass, without dropout or weight penalty.

        Parameters
        ----------
        X : numpy.ndarray, shape (n_samples, layer_sizes[0])
        y : numpy.ndarray of int, shape (n_samples,)
            Class labels in ``[0, n_classes)``.

        Returns
        -------
        dW : list of numpy.ndarray, shapes like ``weights``
        db : list of numpy.ndarray, shapes like ``biases``
        """
        X = _check_input(X, self.layer_sizes[0], self.dtype)
        y = check_labels(y, X.shape[0], self.n_classes)
        logits, cache = self._forward(X)
        return self._backward(_softmax_cross_entropy_grad(logits, y), cache)

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        epochs: int = 10,
        batch_size: int = 32,
        optimizer: Optimizer | None = None,
        validation_data: tuple[np.ndarray, np.ndarray] | None = None,
        l2: float = 0.0,
        dropout: float = 0.0,
        early_stopping: EarlyStopping | None = None,
        callback: Callable[[int, MLP, History], bool | None] | None = None,
        shuffle: bool = True,
        seed: int = 0,
        progress: bool = True,
    ) -> History:
        """Mini-batch training.

        Parameters
        ----------
        X : numpy.ndarray, shape (n_samples, layer_sizes[0])
        y : numpy.ndarray of int, shape (n_samples,)
        epochs : int, default 10
        batch_size : int, default 32
        optimizer : Optimizer, optional
            Defaults to ``SGD(learning_rate=0.1)``.
        validation_data : (X_val, y_val), optional
            Evaluated after every epoch; needed for early stopping.
        l2 : float, default 0.0
            L2 strength :math:`\\lambda` (penalty :math:`\\frac{\\lambda}{2}\\sum\\lVert W\\rVert^2`
            on the weights, gradient :math:`\\lambda W`).
        dropout : float, default 0.0
            Inverted-dropout rate on every hidden layer while training.
        early_stopping : EarlyStopping, optional
            Called with the validation loss after each epoch. With
            ``restore_best=True`` the best weights are put back at the end.
        callback : callable, optional
            ``callback(epoch, model, history)`` after each epoch; return True to stop.
        shuffle : bool, default True
            Reshuffle the samples every epoch.
        seed : int, default 0
            Seeds shuffling and dropout.
        progress : bool, default True
            Show a progress bar over epochs.

        Returns
        -------
        History
        """
        X = _check_input(X, self.layer_sizes[0], self.dtype)
        y = check_labels(y, X.shape[0], self.n_classes)
        epochs = check_int(epochs, "epochs", minimum=1)
        batch_size = check_int(batch_size, "batch_size", minimum=1)
        l2 = check_positive(l2, "l2", allow_zero=True)
        dropout = check_probability(dropout, "dropout")
        optimizer = SGD(learning_rate=0.1) if optimizer is None else optimizer
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be a dlbasics optimizer (SGD, Adam, RMSprop), got {optimizer!r}")
        if validation_data is not None:
            if not (isinstance(validation_data, (tuple, list)) and len(validation_data) == 2):
                raise TypeError("validation_data must be a pair (X_val, y_val)")
            X_val = _check_input(validation_data[0], self.layer_sizes[0], self.dtype)
            y_val = check_labels(validation_data[1], X_val.shape[0], self.n_classes, "y_val")
        elif early_stopping is not None:
            raise ValueError("early_stopping needs validation_data=(X_val, y_val)")

        rng = np.random.default_rng(seed)
        history = History()
        n = X.shape[0]
        params = self.parameters()
        bar = tqdm(range(epochs), desc="training", unit="epoch", disable=not progress, leave=False)
        for epoch in bar:
            order = rng.permutation(n) if shuffle else np.arange(n)
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                logits, cache = self._forward(X[idx], dropout, rng)
                dW, db = self._backward(_softmax_cross_entropy_grad(logits, y[idx]), cache)
                if l2:
                    dW = [g + self.dtype.type(l2) * w for g, w in zip(dW, self.weights)]
                optimizer.update(params, dW + db)
            history.loss.append(self.loss(X, y))
            history.accuracy.append(self.accuracy(X, y))
            postfix = {"loss": f"{history.loss[-1]:.4f}", "acc": f"{history.accuracy[-1]:.3f}"}
            stop = False
            if validation_data is not None:
                history.val_loss.append(self.loss(X_val, y_val))
                history.val_accuracy.append(self.accuracy(X_val, y_val))
                postfix["val_loss"] = f"{history.val_loss[-1]:.4f}"
                if early_stopping is not None:
                    stop = early_stopping(history.val_loss[-1], params)
            bar.set_postfix(postfix)
            if callback is not None and callback(epoch, self, history):
                stop = True
            if stop:
                history.stopped_epoch = epoch
                break
        bar.close()
        if early_stopping is not None and early_stopping.restore_best:
            early_stopping.restore(params)
            history.best_epoch = early_stopping.best_epoch
        return history
