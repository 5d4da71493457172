"""Public checks of Exercise 1 (a neural network from scratch).

Every check builds a small public case, runs the learner's code on it and
compares with the package's reference implementation (``dlbasics.MLP`` in
float64 with the same weights, ``dlbasics.softmax_cross_entropy``, the
activation functions). Grading itself uses other, hidden cases.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbasics.checks._common import fmt
from dlbasics.checks.registry import CheckOutcome, declare_rules, register
from dlbasics.checks.static import ImportRules
from dlbasics.initializers import INIT_RULES, init_rule

ACTIVATIONS = ("relu", "sigmoid", "tanh")
CLASS = "CompleteNeuralNetwork"

IMPORT_RULES = ImportRules(
    forbidden_modules=("torch", "tensorflow", "jax", "keras", "sklearn", "dlbasics"),
    allowed_modules=(
        "numpy", "math", "random", "time", "typing", "dataclasses", "collections",
        "itertools", "functools", "matplotlib", "__future__", "abc", "copy", "warnings",
        "statistics", "numbers", "enum", "sys", "os", "pathlib", "json", "pprint",
    ),
    dynamic_code_is_violation=True,
    reason="Exercise 1 is written from scratch with NumPy only",
)
"""Exercise 1's import rules, public and the same for the checks and the grader."""

PART_CODE = {
    "ex1.init": (f"{CLASS}.__init__",),
    "ex1.forward": (f"{CLASS}.forward",),
    "ex1.backward": (f"{CLASS}.gradients",),
    "ex1.train": (f"{CLASS}.train", f"{CLASS}.predict"),
}
"""Which of the learner's definitions each graded part runs."""

declare_rules("ex1", IMPORT_RULES, PART_CODE)

# ----------------------------------------------------------------------------
# Point rules shared with the grader: initialization scales, gradient
# diagnosis, mini-batch SGD judged from the weights it leaves.
# ----------------------------------------------------------------------------


def init_scale_problem(W: np.ndarray, activation: str, tolerance: float) -> str | None:
    """What is wrong with the scale of a weight matrix ``W`` of shape (n_out, n_in), or None.

    The standard deviation must lie within ``tolerance`` (a fraction) of the
    rule's and the mean within ``2 * tolerance`` of it from 0. When the
    standard deviation matches another named rule, the message says which.
    """
    n_out, n_in = W.shape
    W = np.asarray(W, dtype=np.float64)
    rule = init_rule(activation)
    formula, std_of = INIT_RULES[rule]
    want = float(std_of(n_in, n_out))
    std, mean = float(W.std()), float(W.mean())
    if abs(std - want) <= tolerance * want and abs(mean) <= 2 * tolerance * want:
        return None
    other = [name for name, (_, f) in INIT_RULES.items()
             if name != rule and abs(std - f(n_in, n_out)) <= tolerance * f(n_in, n_out)]
    seems = f" (that is {other[0]}'s {INIT_RULES[other[0]][0]})" if other else ""
    return (f"activation={activation!r}, a {n_in} -> {n_out} layer: standard deviation "
            f"{std:.4f}{seems} and mean {mean:+.4f}; expected mean 0 and {rule}'s {formula} = "
            f"{want:.4f}")


def classify_gradient(got: Any, expected: np.ndarray, n: int, rtol: float, atol: float) -> str:
    """``"right"``, ``"transposed"`` (the shape of ``expected.T``), ``"summed"`` (``n`` times
    the gradient of the mean), or ``"wrong"``."""
    try:
        arr = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return "wrong"
    if arr.shape != expected.shape:
        return "transposed" if expected.ndim == 2 and arr.shape == expected.T.shape else "wrong"
    if not np.all(np.isfinite(arr)):
        return "wrong"
    if np.allclose(arr, expected, rtol=rtol, atol=atol):
        return "right"
    if n > 1 and np.allclose(arr, n * expected, rtol=rtol, atol=atol * n):
        return "summed"
    return "wrong"


def backward_diagnosis(status: dict[str, list[tuple[str, str]]]) -> str:
    """Which layers' gradients are right, and a hint from the pattern of the wrong ones.

    ``status[activation][layer] = (dW status, db status)`` as
    :func:`classify_gradient` gives them, for the activations that ran.
    """
    if not status:
        return ""
    n_layers = len(next(iter(status.values())))
    last = n_layers - 1
    ok = {act: [dw == db == "right" for dw, db in layers] for act, layers in status.items()}
    lines = []
    for act, flags in ok.items():
        if all(flags):
            lines.append(f"{act}: every layer's dW and db are right")
        else:
            right = [str(i) for i, f in enumerate(flags) if f]
            wrong = [str(i) for i, f in enumerate(flags) if not f]
            lines.append(f"{act}: dW/db of layer{'s' if len(wrong) > 1 else ''} "
                         f"{', '.join(wrong)} wrong" + (f", of layer{'s' if len(right) > 1 else ''} "
                                                       f"{', '.join(right)} right" if right else "")
                         + f" (layer {last} is the output layer)")
    kinds = {k for layers in status.values() for pair in layers for k in pair} - {"right"}
    wrong_acts = [a for a, flags in ok.items() if not all(flags)]
    hidden_only = all(ok[a][last] for a in wrong_acts)
    if "transposed" in kinds:
        hint = ("a gradient has the transposed shape, (n_in, n_out): compute dW = delta.T @ A, "
                "which has the shape of W, (n_out, n_in)")
    elif kinds == {"summed"}:
        hint = ("every wrong gradient is n times too large: the loss is the MEAN cross-entropy, "
                "so divide (softmax - one_hot) by the batch size n, once")
    elif ok.get("relu") and all(ok["relu"]) and wrong_acts and hidden_only:
        hint = ("relu is right but " + " and ".join(wrong_acts) + " are not, in the hidden "
                "layers only: evaluate f' at the pre-activation Z, not at the activation "
                "A = f(Z) (relu'(A) equals relu'(Z); the derivatives of sigmoid and tanh do not)")
    elif hidden_only:
        hint = ("the output layer's gradients are right, so the loss gradient is; the error is in "
                "the step back: delta_prev = (delta @ W) * f'(Z_prev), with f' at Z")
    else:
        hint = ("the output layer's gradients are already wrong: start from delta = "
                "(softmax(logits) - one_hot(y)) / n, then dW = delta.T @ A_prev and "
                "db = delta.sum(axis=0)")
    return ("\n".join(lines) + f"\nHint: {hint}. A gradient check (Part 4b) finds the first "
            "wrong entry.")


RUNS = ("first", "again", "other")
"""The training runs of :func:`sgd_probe`: ``seed`` for ``epochs``, ``seed`` again and
``seed + 1`` for ``short_epochs``."""


def sgd_probe(ns: dict, inputs: dict) -> dict:
    """Train the learner's network three times and return what training left, data only.

    Self-contained (it is also the grader's probe). Each run builds
    ``CompleteNeuralNetwork(sizes, activation="relu", seed=...)``, sets the weights and biases
    given in ``inputs`` (``W0``, ``b0``, ...), installs a plain NumPy ReLU ``forward`` and
    ``gradients`` (so a mistake in the learner's own costs its own part only) and calls the
    learner's ``train``. ``gradients`` notes the rows of every batch it gets (their indices in
    ``X``, ``-1`` for a row that is not one of ``X``'s). Runs (:data:`RUNS`): ``first`` with
    ``seed`` and ``kwargs``, ``again`` with the same seed and ``other`` with ``seed + 1``, both
    for ``short_epochs`` epochs. Returns, per run, the batches, the weights after training
    (``{run}_W0``, ...) and ``train``'s return value (``{run}_losses``), and ``predict(X)``
    after the first run. Nothing here is a verdict: :func:`sgd_problems` replays the batches in
    the grader and judges the rules from the weights.
    """
    import numpy as np

    Net = ns["CompleteNeuralNetwork"]
    X = np.asarray(inputs["X"], dtype=np.float64)
    n_layers = len(inputs["sizes"]) - 1
    rows = {row.tobytes(): i for i, row in enumerate(X)}
    out = {}
    for run, offset, short in (("first", 0, False), ("again", 0, True), ("other", 1, True)):
        seed = int(inputs["seed"]) + offset
        try:
            net = Net(inputs["sizes"], activation="relu", seed=seed)
        except Exception:  # an unfinished __init__ costs ex1.init, not this part too
            net = object.__new__(Net)
            net.layer_sizes, net.activation = list(inputs["sizes"]), "relu"
            net.rng = np.random.default_rng(seed)
        net.weights = [np.array(inputs[f"W{i}"], dtype=np.float64) for i in range(n_layers)]
        net.biases = [np.array(inputs[f"b{i}"], dtype=np.float64) for i in range(n_layers)]
        batches = []

        def forward(A, net=net):
            a = np.asarray(A, dtype=np.float64)
            cache = ([], [])
            for i, (W, b) in enumerate(zip(net.weights, net.biases)):
                cache[0].append(a)
                z = a @ W.T + b
                cache[1].append(z)
                a = z if i == len(net.weights) - 1 else np.maximum(z, 0.0)
            net._cache = cache
            return a

        def gradients(Xb, yb, net=net, batches=batches, forward=forward):
            Xb = np.asarray(Xb, dtype=np.float64)
            batches.append([rows.get(np.ascontiguousarray(r).tobytes(), -1)
                            for r in Xb.reshape(len(Xb), -1)])
            logits = forward(Xb)
            inputs_, zs = net._cache
            yb = np.asarray(yb).astype(np.int64)
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(yb)), yb] -= 1.0
            delta = p / len(yb)
            dW, db = [None] * len(net.weights), [None] * len(net.weights)
            for layer in range(len(net.weights) - 1, -1, -1):
                dW[layer] = delta.T @ inputs_[layer]
                db[layer] = delta.sum(axis=0)
                if layer:
                    delta = (delta @ net.weights[layer]) * np.heaviside(zs[layer - 1], 0.0)
            return dW, db

        net.forward, net.gradients = forward, gradients
        kwargs = dict(inputs["kwargs"])
        if short:
            kwargs["epochs"] = int(inputs["short_epochs"])
        losses = net.train(X.copy(), np.array(inputs["y"]), **kwargs)
        out[f"{run}_losses"] = list(losses) if isinstance(losses, (list, tuple)) else losses
        out[f"{run}_batches"] = batches
        out[f"{run}_n_layers"] = len(net.weights)
        for i, (W, b) in enumerate(zip(net.weights, net.biases)):
            out[f"{run}_W{i}"], out[f"{run}_b{i}"] = W, b
        if run == "first":
            out["pred"] = net.predict(X.copy())
    return out


def sgd_inputs(X: np.ndarray, y: np.ndarray, weights: dict, *, seed: int, epochs: int,
               batch_size: int, lr: float, short_epochs: int = 3) -> dict:
    """Inputs of :func:`sgd_probe`: training data, initial weights (``W0``, ``b0``, ...), the
    seed and ``train``'s keyword arguments."""
    n_layers = len([k for k in weights if k.startswith("W")])
    sizes = [int(weights["W0"].shape[1])] + [int(weights[f"W{i}"].shape[0])
                                             for i in range(n_layers)]
    return {"X": np.asarray(X, dtype=np.float64), "y": np.asarray(y, dtype=np.int64),
            "sizes": sizes, "seed": int(seed), "short_epochs": int(short_epochs),
            "kwargs": {"epochs": int(epochs), "batch_size": int(batch_size), "lr": float(lr)},
            **weights}


def relu_logits(Ws: list[np.ndarray], bs: list[np.ndarray], X: np.ndarray) -> np.ndarray:
    """Logits of a ReLU network (no activation on the output layer), float64."""
    a = np.asarray(X, dtype=np.float64)
    for i, (W, b) in enumerate(zip(Ws, bs)):
        a = a @ W.T + b
        if i < len(Ws) - 1:
            a = np.maximum(a, 0.0)
    return a


def _sgd_step(Ws: list[np.ndarray], bs: list[np.ndarray], X: np.ndarray, y: np.ndarray,
              lr: float) -> float:
    """One step of mini-batch SGD on the mean cross-entropy, in place; the loss before it."""
    inputs, zs, a = [], [], X
    for i, (W, b) in enumerate(zip(Ws, bs)):
        inputs.append(a)
        z = a @ W.T + b
        zs.append(z)
        a = z if i == len(Ws) - 1 else np.maximum(z, 0.0)
    shifted = a - a.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = float(-log_p[np.arange(len(y)), y].mean())
    delta = np.exp(log_p)
    delta[np.arange(len(y)), y] -= 1.0
    delta /= len(y)
    for layer in range(len(Ws) - 1, -1, -1):
        dW, db = delta.T @ inputs[layer], delta.sum(axis=0)
        if layer:
            delta = (delta @ Ws[layer]) * np.heaviside(zs[layer - 1], 0.0)
        Ws[layer] -= lr * dW
        bs[layer] -= lr * db
    return loss


def _index_batches(batches: Any, n: int) -> list[list[int]] | None:
    """The batches as lists of row indices in ``range(n)``, or ``None`` if they are not."""
    if not isinstance(batches, list) or len(batches) > 100_000:
        return None
    out = []
    for b in batches:
        if not isinstance(b, list) or not all(type(i) is int and 0 <= i < n for i in b) or not b:
            return None
        out.append(b)
    return out


def _returned_weights(outputs: dict, run: str, shapes: list[tuple[int, int]]
                      ) -> tuple[list[np.ndarray], list[np.ndarray]] | str:
    """A run's weights after training as float64 arrays, or why they cannot be read."""
    Ws, bs = [], []
    for i, (n_out, n_in) in enumerate(shapes):
        try:
            W = np.asarray(outputs.get(f"{run}_W{i}"), dtype=np.float64)
            b = np.asarray(outputs.get(f"{run}_b{i}"), dtype=np.float64)
        except (TypeError, ValueError):
            return f"weights[{i}] and biases[{i}] after training are not arrays of numbers"
        if W.shape != (n_out, n_in) or b.shape != (n_out,):
            return (f"after training, weights[{i}] and biases[{i}] have shapes {W.shape} and "
                    f"{b.shape}, expected ({n_out}, {n_in}) and ({n_out},)")
        if not (np.all(np.isfinite(W)) and np.all(np.isfinite(b))):
            return "the trained weights contain NaN or inf: the training diverged"
        Ws.append(W)
        bs.append(b)
    return Ws, bs


def sgd_problems(outputs: dict, inputs: dict) -> dict[str, list[str]]:
    """Judge :func:`sgd_probe`'s runs from their weights: ``{"sgd": ..., "order": ...,
    "losses": ...}``, each a list of problems (empty: kept).

    ``sgd``: replaying, here, mini-batch SGD from the initial weights on the batches
    ``gradients`` received (each row with its own label) gives the weights each run returned,
    so those batches are the ones that trained them. ``order`` (read only from batches that
    did): every epoch visits every sample once in batches of ``batch_size``, in a new order,
    the same seed repeats the order and another seed changes it. ``losses``: ``train``
    returned one loss per epoch, the mean of the batch losses the replay computes. ``outputs``
    is untrusted: anything malformed breaks the rule it is needed for.
    """
    X, y = np.asarray(inputs["X"], dtype=np.float64), np.asarray(inputs["y"], dtype=np.int64)
    n, kw = len(y), inputs["kwargs"]
    epochs, size, lr = kw["epochs"], kw["batch_size"], kw["lr"]
    n_layers = len(inputs["sizes"]) - 1
    shapes = [(int(inputs[f"W{i}"].shape[0]), int(inputs[f"W{i}"].shape[1]))
              for i in range(n_layers)]
    out: dict[str, list[str]] = {"sgd": [], "order": [], "losses": []}
    replayed: dict[str, list[float]] = {}
    orders: dict[str, list[list[int]]] = {}
    for run in RUNS:
        returned = _returned_weights(outputs, run, shapes)
        if isinstance(returned, str):
            out["sgd"].append(returned)
            break
        batches = _index_batches(outputs.get(f"{run}_batches"), n)
        if batches is None:
            out["sgd"].append("self.gradients received rows that are not training samples: pass it "
                              "rows of X (and their labels)")
            break
        Ws = [np.array(inputs[f"W{i}"], dtype=np.float64) for i in range(n_layers)]
        bs = [np.array(inputs[f"b{i}"], dtype=np.float64) for i in range(n_layers)]
        replayed[run] = [_sgd_step(Ws, bs, X[b], y[b], lr) for b in batches]
        if not all(np.allclose(a, b, rtol=1e-5, atol=1e-8)
                   for a, b in zip([*Ws, *bs], [*returned[0], *returned[1]])):
            out["sgd"].append(
                "the trained weights are not what mini-batch SGD on the batches self.gradients "
                "received gives: update every weight and bias once per batch, W -= lr * dW, "
                "with the gradients self.gradients returned for that batch (each row with its own "
                "label)")
            break
        orders[run] = batches
    if out["sgd"]:
        out["order"] = ["the order of the batches is judged only once the trained weights "
                        "come from the batches self.gradients received"]
        out["losses"] = ["the epoch losses are checked only against the batches that trained "
                         "the weights"]
        return out
    first = orders["first"]
    per_epoch = -(-n // size)
    sizes = [len(b) for b in first]
    want = ([size] * (n // size) + ([n % size] if n % size else [])) * epochs
    epoch_orders = [[i for b in first[e * per_epoch:(e + 1) * per_epoch] for i in b]
                    for e in range(epochs)]
    whole = sizes == want
    if not first:
        out["order"].append("train never called self.gradients: compute each batch's gradients "
                            "with self.gradients (the grader replays the batches it gets)")
    elif not whole:
        out["order"].append(
            f"with {n} samples, batch_size={size} and epochs={epochs}, self.gradients should get "
            f"{per_epoch} batches per epoch of sizes {want[:per_epoch]}; it got sizes "
            f"{sizes[:2 * per_epoch]}{' ...' if len(sizes) > 2 * per_epoch else ''}")
    elif any(sorted(o) != list(range(n)) for o in epoch_orders):
        out["order"].append("an epoch should visit every sample exactly once")
    elif epoch_orders[0] == list(range(n)) or any(o == epoch_orders[0] for o in epoch_orders[1:]):
        out["order"].append("the order of the samples should be new in every epoch: draw a "
                            "permutation from self.rng at the start of each epoch")
    short = len(orders["again"])
    if not out["order"]:
        if orders["again"] != first[:short]:
            out["order"].append("two networks with the same seed shuffled differently: draw the "
                                "order from self.rng, not from np.random")
        elif orders["other"] == orders["again"]:
            out["order"].append("networks with different seeds shuffled the same way: draw the "
                                "order from self.rng = np.random.default_rng(seed)")
    means = None
    if whole:
        losses = np.asarray(replayed["first"])
        weights = np.asarray(sizes, dtype=np.float64)
        means = [float(np.dot(losses[e * per_epoch:(e + 1) * per_epoch],
                              weights[e * per_epoch:(e + 1) * per_epoch]) / n)
                 for e in range(epochs)]
    out["losses"] = _loss_form(outputs.get("first_losses"), epochs, means)
    return out


def _loss_form(losses: Any, epochs: int, means: list[float] | None) -> list[str]:
    """What is wrong with ``train``'s return value; ``means``: the epoch losses replayed
    (``None`` when the batches do not make whole epochs: then shape, finiteness and a fall)."""
    try:
        arr = np.asarray(losses, dtype=np.float64)
    except (TypeError, ValueError):
        return [f"train should return a list of {epochs} epoch losses (numbers)"]
    if arr.shape != (epochs,):
        return [f"train should return one loss per epoch ({epochs} values), got an array of "
                f"shape {arr.shape}"]
    if not np.all(np.isfinite(arr)):
        return ["the epoch losses contain NaN or inf: the training diverged"]
    if means is not None and not np.allclose(arr, means, rtol=1e-4, atol=1e-6):
        e = int(np.argmax(np.abs(arr - np.asarray(means))))
        return [f"the epoch losses are not the mean batch losses of the epoch (epoch {e + 1}: "
                f"train returned {arr[e]:.4f}, the batches self.gradients received give "
                f"{means[e]:.4f}): weight each batch's loss, taken before its update, by its "
                "size and divide by the number of samples"]
    if not arr[-1] < arr[0]:
        return [f"the loss did not decrease ({arr[0]:.3f} in the first epoch, {arr[-1]:.3f} "
                "in the last)"]
    return []


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
        return f"{what} contains NaN or inf:\n  given:    {fmt(arr)}"
    if np.allclose(arr, expected, rtol=rtol, atol=atol):
        return None
    err = np.abs(arr - expected)
    idx = np.unravel_index(int(np.argmax(err)), err.shape) if err.ndim else ()
    return (f"{what} differs from the reference (largest error {float(err.max()):.3g}"
            + (f" at index {tuple(int(i) for i in idx)}" if idx else "") + ")\n"
            f"  expected: {fmt(expected)}\n  given:    {fmt(arr)}")


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


@register("ex1.activations", uses=("activation", "activation_derivative"))
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
                                    f"z = {fmt(z)}\n{problem}")
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
                            f"expected [0, 1], given {fmt(s)}")
    return CheckOutcome(True, "relu, sigmoid and tanh and their derivatives match the "
                        "reference (and sigmoid does not overflow).")


@register("ex1.init", uses=PART_CODE["ex1.init"])
def check_init(cls: type) -> CheckOutcome:
    """Shapes, zero biases, seeding and initialization scale; lists every rule broken."""
    sizes = [4, 6, 5, 3]
    problems = []
    for act in ACTIVATIONS:
        net = cls(sizes, activation=act, seed=0)
        if len(net.weights) != 3 or len(net.biases) != 3:
            problems.append(f"layer_sizes={sizes} should give 3 weight matrices and 3 bias "
                            f"vectors; got {len(net.weights)} and {len(net.biases)}")
            break
        for i, (w, b) in enumerate(zip(net.weights, net.biases)):
            want = (sizes[i + 1], sizes[i])
            if np.shape(w) != want:
                problems.append(f"weights[{i}] has shape {np.shape(w)}, expected {want} = "
                                "(n_out, n_in)")
            if np.shape(b) != (sizes[i + 1],):
                problems.append(f"biases[{i}] has shape {np.shape(b)}, expected ({sizes[i + 1]},)")
            elif np.any(np.asarray(b) != 0):
                problems.append(f"biases[{i}] should start at zero")
        if problems:
            break
    a, b, c = (cls(sizes, activation="relu", seed=s) for s in (1, 1, 2))
    same = [np.array_equal(x, y) for x, y in zip(a.weights, b.weights)]
    if not all(same):
        problems.append("the same seed gave different weights: create one generator, "
                        "self.rng = np.random.default_rng(seed), in __init__ and draw every "
                        "weight from it")
    elif all(np.array_equal(x, y) for x, y in zip(a.weights, c.weights)):
        problems.append("different seeds gave the same weights")
    # a layer where LeCun, Glorot and He differ clearly: 0.100, 0.045 and 0.141
    for act in ACTIVATIONS:
        w = np.asarray(cls([100, 900], activation=act, seed=0).weights[0], dtype=np.float64)
        problem = (f"weights[0] of a 100 -> 900 layer has shape {w.shape}" if w.shape != (900, 100)
                   else init_scale_problem(w, act, tolerance=0.1))
        if problem:
            problems.append(problem)
    if problems:
        return CheckOutcome(False, f"{len(problems)} rule{'s' if len(problems) > 1 else ''} of "
                            "Part 2 not met.", "\n".join(f"- {p}" for p in problems))
    return CheckOutcome(True, "shapes, zero biases, seeding and He/Glorot scales are right.")


@register("ex1.forward", uses=PART_CODE["ex1.forward"])
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


@register("ex1.loss", uses=("softmax_cross_entropy",))
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
                            f"logits = {fmt(logits)}, y = {y}\n{problem}\nHint: subtract the "
                            "row maximum before exp, and average over the batch.")
    return CheckOutcome(True, "the mean loss and its gradient match the reference, even for "
                        "logits of ±1000.")


@register("ex1.backward", uses=PART_CODE["ex1.backward"])
def check_backward(cls: type) -> CheckOutcome:
    """``gradients`` against ``dlbasics.MLP.gradients`` with the same weights, layer by layer."""
    sizes = [3, 4, 5, 2]
    Ws, bs, X, y = _public_case(sizes, seed=1, n=6)
    status: dict[str, list[tuple[str, str]]] = {}
    first_problem = ""
    for act in ACTIVATIONS:
        net = _net_with(cls, sizes, act, Ws, bs)
        result = net.gradients(X.copy(), y.copy())
        if not isinstance(result, tuple) or len(result) != 2:
            return CheckOutcome(False, "gradients should return a tuple (dW, db).")
        dW, db = result
        ref_dW, ref_db = _reference_mlp(sizes, act, Ws, bs).gradients(X, y)
        if len(dW) != len(ref_dW) or len(db) != len(ref_db):
            return CheckOutcome(False, "gradients should return one gradient per layer.",
                                f"expected {len(ref_dW)} arrays in dW and in db, given "
                                f"{len(dW)} and {len(db)}.")
        status[act] = [(classify_gradient(dW[i], ref_dW[i], len(y), 1e-5, 1e-7),
                        classify_gradient(db[i], ref_db[i], len(y), 1e-5, 1e-7))
                       for i in range(len(ref_dW))]
        for i in range(len(ref_dW)):
            first_problem = first_problem or _compare(dW[i], ref_dW[i], f"dW[{i}] ({act})") \
                or _compare(db[i], ref_db[i], f"db[{i}] ({act})") or ""
    wrong = [act for act, layers in status.items() if any(p != ("right", "right") for p in layers)]
    if wrong:
        return CheckOutcome(False, f"the gradients are not right for {', '.join(wrong)}.",
                            f"{first_problem}\n{backward_diagnosis(status)}")
    return CheckOutcome(True, "dW and db match the reference for relu, sigmoid and tanh.")


@register("ex1.train", uses=PART_CODE["ex1.train"])
def check_train(cls: type) -> CheckOutcome:
    """Mini-batch SGD on public spirals as the grader runs it (:func:`sgd_probe`, with a plain
    ReLU forward and gradients installed), judged from the weights (:func:`sgd_problems`)."""
    from dlbasics import make_spirals

    X, y = make_spirals(450, n_classes=3, noise=0.05, seed=0, turns=0.75, dtype=np.float64)
    X_train, y_train, X_val, y_val = X[:300], y[:300], X[300:], y[300:]
    rng = np.random.default_rng(0)
    sizes = [2, 32, 32, 3]
    weights = {}
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        weights[f"W{i}"] = rng.normal(0.0, np.sqrt(2.0 / n_in), (n_out, n_in))
        weights[f"b{i}"] = np.zeros(n_out)
    inputs = sgd_inputs(X_train, y_train, weights, seed=0, epochs=30, batch_size=32, lr=0.3)
    outputs = sgd_probe({"CompleteNeuralNetwork": cls}, inputs)
    problems = [p for rule in sgd_problems(outputs, inputs).values() for p in rule]
    if not problems:  # the weights are readable: sgd_problems checked them
        Ws = [np.asarray(outputs[f"first_W{i}"], dtype=np.float64) for i in range(3)]
        bs = [np.asarray(outputs[f"first_b{i}"], dtype=np.float64) for i in range(3)]
        pred = np.asarray(outputs["pred"])
        if pred.shape != y_train.shape or not np.array_equal(
                pred, relu_logits(Ws, bs, X_train).argmax(axis=1)):
            problems.append("predict(X) should return the argmax of forward(X), one label per "
                            "row")
    if problems:
        return CheckOutcome(False, "the training does not follow Part 5.",
                            "\n".join(f"- {p}" for p in problems))
    losses = np.asarray(outputs["first_losses"], dtype=np.float64)
    acc = float(np.mean(relu_logits(Ws, bs, X_val).argmax(axis=1) == y_val))
    detail = f"loss {losses[0]:.3f} -> {losses[-1]:.3f}; validation accuracy {acc:.1%}"
    if acc < 0.9:
        return CheckOutcome(False, "the network trains but does not reach 90% on the "
                            "validation spirals.", f"{detail}\nThe grader gives the accuracy "
                            "point from 90 % on its own spirals, half of it from 70 %.")
    return CheckOutcome(True, f"shuffled mini-batches, and training works: {detail}.")


@register("ex1.gradcheck", uses=("numerical_gradient",))
def check_gradcheck(numerical_gradient) -> CheckOutcome:
    """Centred differences on a function whose gradient is known; the input is restored."""
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, (3, 4))
    x0 = x.copy()

    def f(v):
        return float(np.sum(np.sin(v) * v ** 2))

    grad = numerical_gradient(f, x)
    expected = np.cos(x0) * x0 ** 2 + 2 * x0 * np.sin(x0)
    if not np.array_equal(x, x0):
        return CheckOutcome(False, "numerical_gradient changed its input.",
                            "Put every entry back after evaluating f at x + eps and x - eps.")
    problem = _compare(grad, expected, "numerical_gradient(f, x)", rtol=1e-6, atol=1e-8)
    if problem:
        return CheckOutcome(False, "numerical_gradient is not right.",
                            f"f(x) = sum(sin(x) * x**2), x of shape (3, 4)\n{problem}\nHint: "
                            "(f(x + eps e_i) - f(x - eps e_i)) / (2 eps) for every entry i.")
    return CheckOutcome(True, "centred differences match the exact gradient to 1e-6, and x is "
                        "left as it was.")
