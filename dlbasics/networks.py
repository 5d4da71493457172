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

The networks hold parameters and put the package's pieces together; each
formula lives in its own module: the affine layer in :mod:`dlbasics.layers`
(:func:`~dlbasics.layers.dense_forward`, :func:`~dlbasics.layers.dense_backward`),
activations and softmax in :mod:`dlbasics.activations`, the losses and their
gradients in :mod:`dlbasics.losses`, dropout and the L2 gradient in
:mod:`dlbasics.regularization`, the update rules in :mod:`dlbasics.optim`.
``X`` and ``y`` are checked once where they come in (``fit``, ``train``,
``forward``, ``predict``, ``loss``, ...); the training loop then runs on the
checked arrays: data -> layers -> loss -> backward -> optimizer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from tqdm.auto import tqdm

from dlbasics.activations import get_activation, sigmoid, sigmoid_derivative, softmax
from dlbasics.history import History
from dlbasics.initializers import INIT_RULES, he_std, init_rule, init_weights, lecun_std
from dlbasics.layers import DenseCache, dense_backward, dense_forward
from dlbasics.losses import mse_loss, mse_loss_grad, softmax_cross_entropy, softmax_cross_entropy_grad
from dlbasics.optim import SGD, Adam, Optimizer
from dlbasics.regularization import EarlyStopping, dropout_mask, l2_regularization_grad
from dlbasics.validation import (
    as_float_array,
    check_choice,
    check_dtype,
    check_gradient_shape,
    check_int,
    check_labels,
    check_layer_sizes,
    check_pair,
    check_positive,
    check_probability,
    format_shape,
)

__all__ = ["MLP", "BackpropCache", "NeuralNetworkWithBackprop", "SimpleNeuralNetwork"]


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
        self.layer_sizes = check_layer_sizes(layer_sizes)
        self.dtype = check_dtype(dtype)
        self.weights, self.biases = init_weights(self.layer_sizes, he_std, seed, self.dtype)

    def forward(self, X: np.ndarray) -> np.ndarray:
        """The output ``(n_samples, layer_sizes[-1])`` for a batch ``X`` ``(n_samples, layer_sizes[0])``."""
        a = _check_input(X, self.layer_sizes[0], self.dtype)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            z, _ = dense_forward(a, w, b)
            a = z if i == last else sigmoid(z)
        return a


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
        self.layer_sizes = check_layer_sizes(layer_sizes)
        self.dtype = check_dtype(dtype)
        if weight_scale is not None:
            check_positive(weight_scale, "weight_scale")
        self.weight_scale = weight_scale
        std = lecun_std if weight_scale is None else (lambda n_in, n_out: weight_scale)
        self.weights, self.biases = init_weights(self.layer_sizes, std, seed, self.dtype)

    def _targets(self, y: np.ndarray, n: int) -> np.ndarray:
        y = as_float_array(y, "y").astype(self.dtype, copy=False)
        given = y.shape
        if y.ndim == 1 and self.layer_sizes[-1] == 1:
            y = y[:, None]
        expected = (n, self.layer_sizes[-1])
        if y.shape != expected:
            raise ValueError(f"y has shape {format_shape(given)}; expected {format_shape(expected)}")
        return y

    def forward(self, X: np.ndarray) -> np.ndarray:
        """The network's output, shape ``(n_samples, layer_sizes[-1])``."""
        return self.forward_with_cache(X)[0]

    def forward_with_cache(self, X: np.ndarray) -> tuple[np.ndarray, BackpropCache]:
        """Forward pass, keeping what :meth:`backward` needs.

        Parameters
        ----------
        X : numpy.ndarray, shape (n_samples, layer_sizes[0])

        Returns
        -------
        out : numpy.ndarray, shape (n_samples, layer_sizes[-1])
        cache : BackpropCache
            ``(activations, z_values)``: ``[X, A1, ..., out]`` and the
            pre-activations ``[Z1, ..., Z_L]``.
        """
        a = _check_input(X, self.layer_sizes[0], self.dtype)
        activations, z_values = [a], []
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            z, _ = dense_forward(a, w, b)
            a = z if i == last else sigmoid(z)
            z_values.append(z)
            activations.append(a)
        return a, BackpropCache(activations, z_values)

    def compute_loss(self, y_pred: np.ndarray, y_true: np.ndarray) -> float:
        """Mean squared error over every output of every sample."""
        return mse_loss(y_pred, self._targets(y_true, np.shape(y_pred)[0]))

    def backward(self, dout: np.ndarray, cache: BackpropCache) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Backpropagation from the output to every weight and bias.

        Parameters
        ----------
        dout : numpy.ndarray, shape (n_samples, layer_sizes[-1])
            Gradient of the loss with respect to the output, e.g.
            :func:`~dlbasics.losses.mse_loss_grad` of the output and the targets.
        cache : BackpropCache
            From :meth:`forward_with_cache` on the same batch.

        Returns
        -------
        dW : list of numpy.ndarray, shapes like ``weights``
        db : list of numpy.ndarray, shapes like ``biases``
        """
        activations, z_values = cache
        delta = check_gradient_shape(dout, activations[-1].shape)
        n_layers = len(self.weights)
        dW: list[np.ndarray] = [np.empty(0)] * n_layers
        db: list[np.ndarray] = [np.empty(0)] * n_layers
        for layer in range(n_layers - 1, -1, -1):
            dense = DenseCache(activations[layer], self.weights[layer])
            da, dW[layer], db[layer] = dense_backward(delta, dense, input_grad=layer > 0)
            if layer > 0:
                delta = da * sigmoid_derivative(z_values[layer - 1])
        return dW, db

    def update_parameters(
        self, dW: list[np.ndarray], db: list[np.ndarray], lr: float
    ) -> None:
        """One gradient-descent step, in place: :math:`\\theta \\leftarrow \\theta - \\eta\\,\\nabla J`."""
        for w, b, gw, gb in zip(self.weights, self.biases, dW, db):
            w -= lr * gw
            b -= lr * gb

    def train(
        self,
        X: np.ndarray,
        y: np.ndarray,
        epochs: int,
        lr: float,
        verbose: int = 0,
    ) -> list[float]:
        """Full-batch gradient descent: :meth:`forward_with_cache`, :meth:`backward`,
        :meth:`update_parameters`.

        Parameters
        ----------
        X : numpy.ndarray, shape (n_samples, layer_sizes[0])
        y : numpy.ndarray, shape (n_samples, layer_sizes[-1]) or (n_samples,)
        epochs : int
        lr : float
        verbose : int, default 0
            Print the loss every ``verbose`` epochs (0: never).

        Returns
        -------
        list of float
            The loss before each epoch's update.
        """
        epochs = check_int(epochs, "epochs", minimum=1)
        lr = check_positive(lr, "lr")
        X = _check_input(X, self.layer_sizes[0], self.dtype)
        y = self._targets(y, X.shape[0])
        losses = []
        for epoch in range(epochs):
            out, cache = self.forward_with_cache(X)
            losses.append(mse_loss(out, y))
            dW, db = self.backward(mse_loss_grad(out, y), cache)
            self.update_parameters(dW, db, lr)
            if verbose and epoch % verbose == 0:
                print(f"epoch {epoch:5d}  loss {losses[-1]:.4f}")
        return losses

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The network's output, shape ``(n_samples, layer_sizes[-1])`` (as :meth:`forward`)."""
        return self.forward(X)


class BackpropCache(NamedTuple):
    """What :meth:`NeuralNetworkWithBackprop.backward` needs from the forward pass."""

    activations: list[np.ndarray]  # [X, A1, ..., output]
    z_values: list[np.ndarray]  # pre-activations [Z1, ..., Z_L]


@dataclass
class _Cache:
    """What :meth:`MLP._backward` needs from :meth:`MLP._forward`."""

    dense: list[DenseCache]  # every layer's (input after dropout, weights)
    zs: list[np.ndarray]  # hidden pre-activations
    masks: list[np.ndarray | None]  # inverted-dropout masks, None without dropout


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
        self.layer_sizes = check_layer_sizes(layer_sizes)
        self.activation = activation
        self._f, self._f_prime = get_activation(activation)
        self.dtype = check_dtype(dtype)
        std = INIT_RULES[init_rule(activation)][1]
        self.weights, self.biases = init_weights(self.layer_sizes, std, seed, self.dtype)

    def __repr__(self) -> str:
        return f"MLP({self.layer_sizes}, activation={self.activation!r}, dtype={self.dtype.name})"

    @property
    def n_classes(self) -> int:
        """The number of outputs (classes)."""
        return self.layer_sizes[-1]

    def parameters(self) -> list[np.ndarray]:
        """``weights + biases``: the list an optimizer updates in place."""
        return [*self.weights, *self.biases]

    def _check_data(self, X: np.ndarray, y: np.ndarray, y_name: str = "y") -> tuple[np.ndarray, np.ndarray]:
        """``X`` in the model's dtype and ``y`` as int64 labels, or an error that says what is wrong."""
        X = _check_input(X, self.layer_sizes[0], self.dtype)
        return X, check_labels(y, X.shape[0], self.n_classes, y_name)

    # -- the maths, on checked arrays ----------------------------------------------
    def _forward(
        self, X: np.ndarray, dropout: float = 0.0, rng: np.random.Generator | None = None
    ) -> tuple[np.ndarray, _Cache]:
        """Logits ``(n, n_classes)`` and what :meth:`_backward` needs."""
        cache = _Cache([], [], [])
        a = X
        for w, b in zip(self.weights[:-1], self.biases[:-1]):
            z, dense = dense_forward(a, w, b)
            a = self._f(z)
            mask = dropout_mask(a.shape, dropout, rng, a.dtype) if dropout else None
            if mask is not None:
                a = a * mask
            cache.dense.append(dense)
            cache.zs.append(z)
            cache.masks.append(mask)
        logits, dense = dense_forward(a, self.weights[-1], self.biases[-1])
        cache.dense.append(dense)
        return logits, cache

    def _backward(self, dlogits: np.ndarray, cache: _Cache) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Backpropagate ``dlogits`` (n, n_classes) to every weight and bias."""
        n_layers = len(self.weights)
        dW: list[np.ndarray] = [np.empty(0)] * n_layers
        db: list[np.ndarray] = [np.empty(0)] * n_layers
        delta = dlogits
        for layer in range(n_layers - 1, -1, -1):
            da, dW[layer], db[layer] = dense_backward(delta, cache.dense[layer], input_grad=layer > 0)
            if layer > 0:
                mask = cache.masks[layer - 1]
                if mask is not None:
                    da = da * mask
                delta = da * self._f_prime(cache.zs[layer - 1])
        return dW, db

    def _evaluate(self, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """Mean cross-entropy and accuracy on checked ``X``, ``y``, from one forward pass."""
        logits = self._forward(X)[0]
        return softmax_cross_entropy(logits, y), float(np.mean(logits.argmax(axis=1) == y))

    # -- public API: each call checks its arguments, then runs the maths above ----------
    def forward(self, X: np.ndarray) -> np.ndarray:
        """Logits for a batch.

        Parameters
        ----------
        X : numpy.ndarray, shape (n_samples, layer_sizes[0])

        Returns
        -------
        numpy.ndarray, shape (n_samples, n_classes), dtype of the model
        """
        return self._forward(_check_input(X, self.layer_sizes[0], self.dtype))[0]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities ``softmax(forward(X))``, shape ``(n_samples, n_classes)``."""
        return softmax(self.forward(X), axis=1)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted class labels, ``int64`` of shape ``(n_samples,)``."""
        return self.forward(X).argmax(axis=1).astype(np.int64)

    def loss(self, X: np.ndarray, y: np.ndarray) -> float:
        """Mean softmax cross-entropy of integer labels ``y`` on ``X``."""
        return self._evaluate(*self._check_data(X, y))[0]

    def accuracy(self, X: np.ndarray, y: np.ndarray) -> float:
        """Fraction of ``X`` classified as ``y``."""
        return self._evaluate(*self._check_data(X, y))[1]

    def gradients(self, X: np.ndarray, y: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Gradients of the mean softmax cross-entropy of ``X``, ``y`` with respect to every parameter.

        A forward pass, the loss gradient, then backpropagation to every layer,
        without dropout or weight penalty.

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
        X, y = self._check_data(X, y)
        logits, cache = self._forward(X)
        return self._backward(softmax_cross_entropy_grad(logits, y), cache)

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        val_data: tuple[np.ndarray, np.ndarray] | None = None,
        *,
        epochs: int = 10,
        batch_size: int = 32,
        optimizer: str | Optimizer = "adam",
        lr: float = 1e-3,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        dropout: float = 0.0,
        early_stopping: EarlyStopping | None = None,
        callback: Callable[[int, MLP, History], bool | None] | None = None,
        shuffle: bool = True,
        seed: int = 0,
        progress: bool = True,
    ) -> History:
        """Mini-batch training, with the arguments and the :class:`~dlbasics.history.History`
        of :func:`dlbasics.torch_models.fit`.

        Parameters
        ----------
        X : numpy.ndarray, shape (n_samples, layer_sizes[0])
        y : numpy.ndarray of int, shape (n_samples,)
        val_data : (X_val, y_val), optional
            Evaluated after every epoch; needed for early stopping.
        epochs : int, default 10
        batch_size : int, default 32
        optimizer : {"adam", "sgd"} or Optimizer, default "adam"
            A name builds :class:`~dlbasics.optim.Adam` or :class:`~dlbasics.optim.SGD`
            with ``lr`` (and ``momentum`` for SGD); an optimizer object is used as it is.
        lr : float, default 1e-3
            Learning rate (ignored when ``optimizer`` is an optimizer object).
        momentum : float, default 0.0
            SGD momentum.
        weight_decay : float, default 0.0
            L2 strength :math:`\\lambda` (penalty :math:`\\frac{\\lambda}{2}\\sum\\lVert W\\rVert^2`
            on the weights, not the biases; gradient :math:`\\lambda W`).
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
            Loss and accuracy on the training data (and on ``val_data``) after every epoch.
        """
        X, y = self._check_data(X, y)
        epochs = check_int(epochs, "epochs", minimum=1)
        batch_size = check_int(batch_size, "batch_size", minimum=1)
        weight_decay = check_positive(weight_decay, "weight_decay", allow_zero=True)
        dropout = check_probability(dropout, "dropout")
        optimizer = _optimizer(optimizer, lr, momentum)
        if val_data is not None:
            X_val, y_val = self._check_data(*check_pair(val_data, "val_data", "(X_val, y_val)"), "y_val")
        elif early_stopping is not None:
            raise ValueError("early_stopping needs val_data=(X_val, y_val)")

        rng = np.random.default_rng(seed)
        history = History()
        params = self.parameters()
        bar = tqdm(range(epochs), desc="training", unit="epoch", disable=not progress, leave=False)
        for epoch in bar:
            order = rng.permutation(len(X)) if shuffle else np.arange(len(X))
            for start in range(0, len(X), batch_size):
                batch = order[start : start + batch_size]
                logits, cache = self._forward(X[batch], dropout, rng)
                dW, db = self._backward(softmax_cross_entropy_grad(logits, y[batch]), cache)
                if weight_decay:
                    penalties = l2_regularization_grad(self.weights, weight_decay)
                    dW = [g + penalty for g, penalty in zip(dW, penalties)]
                optimizer.update(params, dW + db)
            loss, accuracy = self._evaluate(X, y)
            history.loss.append(loss)
            history.accuracy.append(accuracy)
            postfix = {"loss": f"{loss:.4f}", "acc": f"{accuracy:.3f}"}
            stop = False
            if val_data is not None:
                val_loss, val_accuracy = self._evaluate(X_val, y_val)
                history.val_loss.append(val_loss)
                history.val_accuracy.append(val_accuracy)
                postfix["val_loss"] = f"{val_loss:.4f}"
                if early_stopping is not None:
                    stop = early_stopping(val_loss, params)
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


def _optimizer(optimizer: str | Optimizer, lr: float, momentum: float) -> Optimizer:
    """The optimizer ``fit`` uses: ``optimizer`` itself, or one built by its name."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if not isinstance(optimizer, str):
        raise TypeError(
            f"optimizer must be 'adam', 'sgd' or a dlbasics optimizer (SGD, Adam, RMSprop), got {optimizer!r}"
        )
    name = check_choice(optimizer, "optimizer", ("adam", "sgd"))
    return Adam(lr) if name == "adam" else SGD(lr, momentum=momentum)
