"""Public checks of Exercise 1 (a neural network from scratch).

Every check builds a small public case, runs the learner's code on it and
compares with the package's reference implementation (``dlbasics.MLP`` in
float64 with the same weights, ``dlbasics.softmax_cross_entropy``, the
activation functions). Grading itself uses other, hidden cases.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbasics.checks import CheckOutcome, register

ACTIVATIONS = ("relu", "sigmoid", "tanh")


def _fmt(a: Any) -> str:
    with np.printoptions(precision=4, suppress=True, threshold=24, edgeitems=3):
        return np.array2string(np.asarray(a), prefix="          ")


def _compare(got: Any, expected: np.ndarray, what: str, rtol: float = 1e-5,
             atol: float = 1e-7) -> str | None:
    """None if equal within tolerance, else a message with expected and given."""
    try:
        arr = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return f"{what} should be a NumPy array, got {type(got).__name__}"
    if arr.shape != expected.shape:
        return f"{what} has shape {arr.shape}, expected {expected.shape}"
    if not np.all(np.isfinite(arr)):
        return f"{what} contains NaN or inf:\n  given:    {_fmt(arr)}"
    if np.allclose(arr, expected, rtol=rtol, atol=atol):
        return None
    err = np.abs(arr - expected)
    idx = np.unravel_index(int(np.argmax(err)), err.shape) if err.ndim else ()
    return (f"{what} differs from the reference (largest error {float(err.max()):.3g}"
            + (f" at index {tuple(int(i) for i in idx)}" if idx else "") + ")\n"
            f"  expected: {_fmt(expected)}\n  given:    {_fmt(arr)}")


def _reference_mlp(sizes: list[int], act: str, Ws: list[np.ndarray], bs: list[np.ndarray]):
    from dlbasics import MLP

    ref = MLP(sizes, activation=act, seed=0, dtype=np.float64)
    ref.weights = [w.copy() for w in Ws]
    ref.biases = [b.copy() for b in bs]
    return ref


def _public_case(sizes: list[int], seed: int = 0, n: int = 4):
    rng = np.random.default_rng(seed)
    Ws = [rng.normal(0, 0.7, (o, i)) for i, o in zip(sizes[:-1], sizes[1:])]
    bs = [rng.normal(0, 0.3, o) for o in sizes[1:]]
    X = rng.normal(0, 1, (n, sizes[0]))
    y = rng.integers(0, sizes[-1], n)
    return Ws, bs, X, y


def _net_with(cls: type, sizes: list[int], act: str, Ws, bs):
    net = cls(sizes, activation=act, seed=0)
    net.weights = [w.copy() for w in Ws]
    net.biases = [b.copy() for b in bs]
    return net


@register("ex1.activations")
def check_activations(activation, activation_derivative) -> CheckOutcome:
    """``activation(z, name)`` and ``activation_derivative(z, name)`` for the three names."""
    from dlbasics import relu, relu_derivative, sigmoid, sigmoid_derivative, tanh, tanh_derivative

    refs = {"relu": (relu, relu_derivative), "sigmoid": (sigmoid, sigmoid_derivative),
            "tanh": (tanh, tanh_derivative)}
    z = np.array([[-3.0, -0.5, 0.0], [0.25, 1.0, 4.0]])
    for name, (f, fp) in refs.items():
        for fn, ref, what in ((activation, f, "activation"),
                              (activation_derivative, fp, "activation_derivative")):
            problem = _compare(fn(z.copy(), name), ref(z), f"{what}(z, {name!r})")
            if problem:
                return CheckOutcome(False, f"{what}(z, {name!r}) is not right.",
                                    f"z = {_fmt(z)}\n{problem}")
    big = np.array([-1000.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        try:
            s = np.asarray(activation(big, "sigmoid"), dtype=np.float64)
        except FloatingPointError:
            return CheckOutcome(False, "sigmoid overflows for large |z|.",
                                "activation(np.array([-1000., 1000.]), 'sigmoid') should give "
                                "[0, 1] without overflow: use exp(-|z|), which is at most 1.")
    if not np.allclose(s, [0.0, 1.0]):
        return CheckOutcome(False, "sigmoid is wrong for large |z|.",
                            f"expected [0, 1], given {_fmt(s)}")
    return CheckOutcome(True, "relu, sigmoid and tanh and their derivatives match the "
                        "reference (and sigmoid does not overflow).")


@register("ex1.init")
def check_init(cls: type) -> CheckOutcome:
    """Shapes, zero biases, seeding and initialization scale."""
    sizes = [4, 6, 5, 3]
    for act in ACTIVATIONS:
        net = cls(sizes, activation=act, seed=0)
        if len(net.weights) != 3 or len(net.biases) != 3:
            return CheckOutcome(False, "wrong number of layers.",
                                f"layer_sizes={sizes} should give 3 weight matrices and 3 bias "
                                f"vectors; got {len(net.weights)} and {len(net.biases)}.")
        for i, (w, b) in enumerate(zip(net.weights, net.biases)):
            want = (sizes[i + 1], sizes[i])
            if np.shape(w) != want:
                return CheckOutcome(False, f"weights[{i}] has the wrong shape.",
                                    f"expected {want} = (n_out, n_in), given {np.shape(w)}.")
            if np.shape(b) != (sizes[i + 1],):
                return CheckOutcome(False, f"biases[{i}] has the wrong shape.",
                                    f"expected ({sizes[i + 1]},), given {np.shape(b)}.")
            if np.any(np.asarray(b) != 0):
                return CheckOutcome(False, f"biases[{i}] should start at zero.")
    a, b, c = (cls(sizes, activation="relu", seed=s) for s in (1, 1, 2))
    if not all(np.array_equal(x, y) for x, y in zip(a.weights, b.weights)):
        return CheckOutcome(False, "the same seed gave different weights.",
                            "Create one generator, rng = np.random.default_rng(seed), in "
                            "__init__ and draw every weight from it.")
    if all(np.array_equal(x, y) for x, y in zip(a.weights, c.weights)):
        return CheckOutcome(False, "different seeds gave the same weights.")
    for act in ACTIVATIONS:
        w = np.asarray(cls([400, 300], activation=act, seed=0).weights[0], dtype=np.float64)
        want = np.sqrt(2 / 400) if act == "relu" else np.sqrt(2 / (400 + 300))
        if not 0.9 * want <= w.std() <= 1.1 * want or abs(w.mean()) > 0.1 * want:
            rule = "sqrt(2 / n_in) (He)" if act == "relu" else "sqrt(2 / (n_in + n_out)) (Glorot)"
            return CheckOutcome(False, f"the initialization scale for {act!r} is off.",
                                f"a 400 -> 300 layer should have weights with mean 0 and "
                                f"standard deviation {rule} = {want:.4f};\n"
                                f"given: mean {w.mean():+.4f}, standard deviation {w.std():.4f}")
    return CheckOutcome(True, "shapes, zero biases, seeding and He/Glorot scales are right.")


@register("ex1.forward")
def check_forward(cls: type) -> CheckOutcome:
    """``forward`` against ``dlbasics.MLP`` with the same weights."""
    sizes = [3, 4, 5, 2]
    Ws, bs, X, _ = _public_case(sizes)
    for act in ACTIVATIONS:
        net = _net_with(cls, sizes, act, Ws, bs)
        expected = _reference_mlp(sizes, act, Ws, bs).forward(X)
        problem = _compare(net.forward(X.copy()), expected, f"forward(X) with {act!r}")
        if problem:
            return CheckOutcome(False, f"forward is not right for activation={act!r}.",
                                problem + "\nHint: hidden layers apply the activation, the "
                                "output layer does not (it returns logits).")
    return CheckOutcome(True, "forward(X) matches the reference for relu, sigmoid and tanh.")


@register("ex1.loss")
def check_loss(softmax_cross_entropy) -> CheckOutcome:
    """``softmax_cross_entropy(logits, y) -> (mean loss, dlogits)``."""
    from dlbasics import softmax_cross_entropy as ref_loss
    from dlbasics import softmax_cross_entropy_grad as ref_grad

    logits = np.array([[2.0, -1.0, 0.5], [0.0, 0.0, 0.0], [1000.0, 0.0, -1000.0]])
    y = np.array([0, 2, 1])
    result = softmax_cross_entropy(logits.copy(), y.copy())
    if not isinstance(result, tuple) or len(result) != 2:
        return CheckOutcome(False, "softmax_cross_entropy should return (loss, dlogits).")
    loss, grad = result
    problem = _compare(np.float64(loss), np.float64(ref_loss(logits, y)), "the loss")
    problem = problem or _compare(grad, ref_grad(logits, y), "dlogits")
    if problem:
        return CheckOutcome(False, "softmax_cross_entropy is not right.",
                            f"logits = {_fmt(logits)}, y = {y}\n{problem}\nHint: subtract the "
                            "row maximum before exp, and average over the batch.")
    return CheckOutcome(True, "the mean loss and its gradient match the reference, even for "
                        "logits of ±1000.")


@register("ex1.backward")
def check_backward(cls: type) -> CheckOutcome:
    """``backward`` against ``dlbasics.MLP.backward`` with the same weights."""
    sizes = [3, 4, 5, 2]
    Ws, bs, X, y = _public_case(sizes, seed=1, n=6)
    for act in ACTIVATIONS:
        net = _net_with(cls, sizes, act, Ws, bs)
        result = net.backward(X.copy(), y.copy())
        if not isinstance(result, tuple) or len(result) != 2:
            return CheckOutcome(False, "backward should return a tuple (dW, db).")
        dW, db = result
        ref_dW, ref_db = _reference_mlp(sizes, act, Ws, bs).backward(X, y)
        if len(dW) != len(ref_dW) or len(db) != len(ref_db):
            return CheckOutcome(False, "backward should return one gradient per layer.",
                                f"expected {len(ref_dW)} arrays in dW and in db, given "
                                f"{len(dW)} and {len(db)}.")
        for i in range(len(ref_dW)):
            problem = _compare(dW[i], ref_dW[i], f"dW[{i}] ({act})") or _compare(
                db[i], ref_db[i], f"db[{i}] ({act})")
            if problem:
                return CheckOutcome(False, f"the gradients are not right for {act!r}.",
                                    problem + "\nHint: work from the last layer back; the "
                                    "loss is a mean, so the output gradient is "
                                    "(softmax - one_hot) / n.")
    return CheckOutcome(True, "dW and db match the reference for relu, sigmoid and tanh.")


@register("ex1.train")
def check_train(cls: type) -> CheckOutcome:
    """A short training run on public spirals."""
    from dlbasics import make_spirals

    X, y = make_spirals(450, n_classes=3, noise=0.05, seed=0, turns=0.75, dtype=np.float64)
    X_train, y_train, X_val, y_val = X[:300], y[:300], X[300:], y[300:]
    net = cls([2, 32, 32, 3], activation="relu", seed=0)
    losses = net.train(X_train, y_train, epochs=30, batch_size=32, learning_rate=0.3)
    losses = np.asarray(losses, dtype=np.float64)
    if losses.shape != (30,):
        return CheckOutcome(False, "train should return one loss per epoch.",
                            f"expected 30 values, given an array of shape {losses.shape}.")
    if not np.all(np.isfinite(losses)) or not losses[-1] < losses[0]:
        return CheckOutcome(False, "the training loss did not go down.",
                            f"epoch losses: {_fmt(losses)}")
    pred = np.asarray(net.predict(X_val))
    if pred.shape != y_val.shape:
        return CheckOutcome(False, "predict should return one label per row.",
                            f"expected shape {y_val.shape}, given {pred.shape}.")
    acc = float(np.mean(pred == y_val))
    detail = f"loss {losses[0]:.3f} -> {losses[-1]:.3f}; validation accuracy {acc:.1%}"
    if acc < 0.9:
        return CheckOutcome(False, "the network trains but does not reach 90% on the "
                            "validation spirals.", detail)
    return CheckOutcome(True, f"training works: {detail}.")
