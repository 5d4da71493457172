"""Hidden tests of Exercise 1: a neural network from scratch (NumPy only).

Not shipped to students. The probes below run inside the sandbox and only
call the learner's ``CompleteNeuralNetwork``; every reference value, the
held-out labels and the thresholds stay in this module, in the grader.
References are plain float64 NumPy, independent of ``dlbasics``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from dlbasics.checks.ex1 import (
    CLASS,
    IMPORT_RULES,
    PART_CODE,
    backward_diagnosis,
    classify_gradient,
    init_scale_problem,
    relu_logits,
    sgd_inputs,
    sgd_probe,
    sgd_problems,
)
from dlbasics_grader.secret import exercise_seed, public_seed, stream
from dlbasics_grader.spec import Exercise, Limits, Part, Probe, SandboxPolicy, as_array, compare_arrays

from ._common import bullets

ACTIVATIONS = ("relu", "sigmoid", "tanh")
SEED = exercise_seed("ex1", Path(__file__).parent)  # 256 bits from the grading key

# the network and budget of the training test
TRAIN_SIZES = [2, 32, 32, 3]
TRAIN_KW = {"epochs": 30, "batch_size": 32, "lr": 0.3}
N_TRAIN, N_TEST = 600, 300
ACC_FULL, ACC_HALF = 0.90, 0.70

PARTS = (
    Part("ex1.init", 2.0, "Shapes and initialization scale"),
    Part("ex1.forward", 3.0, "Forward pass (relu, sigmoid, tanh)"),
    Part("ex1.backward", 3.0, "Backward pass: gradients of the mean cross-entropy"),
    Part("ex1.train", 2.0, "Shuffled mini-batch training reaches the accuracy target"),
)
ENTRY_POINTS = PART_CODE  # which of the learner's methods each part runs (public)

POLICY = SandboxPolicy(**dataclasses.asdict(IMPORT_RULES),
                       preload=("numpy", "matplotlib.pyplot"),  # what the notebook imports
                       allow_processes=False)

LIMITS = Limits(cpu_s=90, memory_mb=1024, nproc=16, file_size_mb=16, open_files=64,
                output_kb=32, result_mb=16)


# ----------------------------------------------------------------------------
# Drivers: run in the sandbox. Self-contained; they only call the learner's code.
# ----------------------------------------------------------------------------


def init_probe(ns, inputs):
    Net = ns["CompleteNeuralNetwork"]
    out = {}
    for act in inputs["activations"]:
        net = Net(inputs["sizes"], activation=act, seed=inputs["seed"])
        for i, (w, b) in enumerate(zip(net.weights, net.biases)):
            out[f"{act}_W{i}"] = w
            out[f"{act}_b{i}"] = b
        out[f"{act}_n_weights"] = len(net.weights)
        out[f"{act}_n_biases"] = len(net.biases)
    a = Net(inputs["small"], activation="relu", seed=5)
    b = Net(inputs["small"], activation="relu", seed=5)
    c = Net(inputs["small"], activation="relu", seed=6)
    out["same_seed"] = [[x, y] for x, y in zip(a.weights, b.weights)]
    out["other_seed"] = [[x, y] for x, y in zip(a.weights, c.weights)]
    return out


def values_probe(ns, inputs):
    Net = ns["CompleteNeuralNetwork"]
    out = {}
    for act in inputs["activations"]:
        net = Net(inputs["sizes"], activation=act, seed=0)
        net.weights = [inputs[f"W{i}"].copy() for i in range(inputs["n_layers"])]
        net.biases = [inputs[f"b{i}"].copy() for i in range(inputs["n_layers"])]
        try:  # one activation failing must not hide the others
            if inputs["method"] == "forward":
                out[act] = net.forward(inputs["X"].copy())
            else:
                dW, db = net.gradients(inputs["X"].copy(), inputs["y"].copy())
                out[f"{act}_dW"], out[f"{act}_db"] = list(dW), list(db)
        except Exception as exc:
            out[act] = None
            out[f"{act}_error"] = f"{type(exc).__name__}: {exc}"
    return out


# ----------------------------------------------------------------------------
# Grader-side data and references (float64 NumPy)
# ----------------------------------------------------------------------------


def _spirals(n: int, n_classes: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    per = n // n_classes
    xs, ys = [], []
    for c in range(n_classes):
        r = np.linspace(0.05, 1.0, per)
        t = 2 * np.pi * c / n_classes + 2 * np.pi * 0.75 * r + rng.normal(0, 0.15, per)
        xs.append(np.c_[r * np.cos(t), r * np.sin(t)])
        ys.append(np.full(per, c))
    X, y = np.concatenate(xs), np.concatenate(ys)
    p = rng.permutation(len(y))
    return X[p], y[p].astype(np.int64)


def _act(name: str, z: np.ndarray) -> np.ndarray:
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    return np.tanh(z)


def _act_prime(name: str, z: np.ndarray) -> np.ndarray:
    if name == "relu":
        return (z > 0).astype(z.dtype)
    if name == "sigmoid":
        s = 1.0 / (1.0 + np.exp(-z))
        return s * (1.0 - s)
    return 1.0 - np.tanh(z) ** 2


def reference_forward(Ws, bs, X, act):
    """Logits and the cache (inputs of each layer, pre-activations)."""
    a, inputs, zs = X, [], []
    for i, (W, b) in enumerate(zip(Ws, bs)):
        inputs.append(a)
        z = a @ W.T + b
        zs.append(z)
        a = z if i == len(Ws) - 1 else _act(act, z)
    return a, (inputs, zs)


def reference_backward(Ws, bs, X, y, act):
    """Gradients of the mean softmax cross-entropy."""
    logits, (inputs, zs) = reference_forward(Ws, bs, X, act)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(y)), y] -= 1.0
    delta = p / len(y)
    dW, db = [None] * len(Ws), [None] * len(Ws)
    for layer in range(len(Ws) - 1, -1, -1):
        dW[layer] = delta.T @ inputs[layer]
        db[layer] = delta.sum(axis=0)
        if layer:
            delta = (delta @ Ws[layer]) * _act_prime(act, zs[layer - 1])
    return dW, db


INIT_SIZES = [2, 300, 60, 3]  # LeCun, Glorot and He differ clearly in the first two layers
SMALL_SIZES = [3, 5, 4]
VALUE_SIZES = [5, 7, 6, 4]


def _value_case(seed: int):
    rng = stream(seed, "values")
    Ws = [rng.normal(0, 0.6, (o, i)) for i, o in zip(VALUE_SIZES[:-1], VALUE_SIZES[1:])]
    bs = [rng.normal(0, 0.3, o) for o in VALUE_SIZES[1:]]
    X = rng.normal(0, 1.0, (11, VALUE_SIZES[0]))
    y = rng.integers(0, VALUE_SIZES[-1], 11).astype(np.int64)
    return Ws, bs, X, y


def _train_data(seed: int):
    """Training and held-out spirals, from independent streams (the sandbox sees the first)."""
    X, y = _spirals(N_TRAIN, 3, stream(seed, "train"))
    X_test, y_test = _spirals(N_TEST, 3, stream(seed, "held-out"))
    return X, y, X_test, y_test


def _initial_weights(seed: int) -> dict:
    """He-initialized weights (``W0``, ``b0``, ...) of the training test's network, drawn by the
    grader, so that a mistake in ``__init__`` costs ``ex1.init`` only."""
    rng = stream(seed, "train init")
    out = {}
    for i, (n_in, n_out) in enumerate(zip(TRAIN_SIZES[:-1], TRAIN_SIZES[1:])):
        out[f"W{i}"] = rng.normal(0.0, np.sqrt(2.0 / n_in), (n_out, n_in))
        out[f"b{i}"] = np.zeros(n_out)
    return out


def _train_inputs(seed: int) -> dict:
    """Inputs of the training probe (:func:`dlbasics.checks.ex1.sgd_probe`): the training
    spirals, the grader's initial weights, seed 0 and the training budget."""
    X_train, y_train, _, _ = _train_data(seed)
    return sgd_inputs(X_train, y_train, _initial_weights(seed), seed=0, **TRAIN_KW)


def probes(seed: int) -> list[Probe]:
    Ws, bs, X, y = _value_case(seed)
    layers = {f"W{i}": w for i, w in enumerate(Ws)} | {f"b{i}": b for i, b in enumerate(bs)}
    common = {"sizes": VALUE_SIZES, "n_layers": len(Ws), "activations": list(ACTIVATIONS),
              **layers, "X": X, "y": y}
    return [
        Probe.from_function(init_probe, timeout_s=10, inputs={
            "sizes": INIT_SIZES, "small": SMALL_SIZES, "seed": public_seed(seed, "init"),
            "activations": list(ACTIVATIONS)}),
        Probe.from_function(values_probe, name="forward_probe", timeout_s=10,
                            inputs={**common, "method": "forward"}),
        Probe.from_function(values_probe, name="backward_probe", timeout_s=10,
                            inputs={**common, "method": "gradients"}),
        Probe.from_function(sgd_probe, name="train_probe", timeout_s=20,
                            inputs=_train_inputs(seed)),
    ]


# ----------------------------------------------------------------------------
# Scoring (grader only)
# ----------------------------------------------------------------------------


def _score_init(part: Part, r) -> object:
    """1 point: shapes, zero biases, seeding; 1 point: the scale (needs the right shapes)."""
    o = r.outputs
    problems, scale_problems = [], []
    shapes_ok = True
    for act in ACTIVATIONS:
        if o.get(f"{act}_n_weights") != len(INIT_SIZES) - 1 or o.get(
                f"{act}_n_biases") != len(INIT_SIZES) - 1:
            problems.append(f"activation={act!r}: layer_sizes={INIT_SIZES} should give "
                            f"{len(INIT_SIZES) - 1} weight matrices and bias vectors, got "
                            f"{o.get(f'{act}_n_weights')} and {o.get(f'{act}_n_biases')}")
            shapes_ok = False
            continue
        for i, (n_in, n_out) in enumerate(zip(INIT_SIZES[:-1], INIT_SIZES[1:])):
            W, msg = as_array(o.get(f"{act}_W{i}"), f"weights[{i}]")
            b, msg_b = as_array(o.get(f"{act}_b{i}"), f"biases[{i}]")
            if W is None or b is None:
                problems.append(msg or msg_b)
                shapes_ok = False
                continue
            if W.shape != (n_out, n_in) or not np.all(np.isfinite(W)):
                problems.append(f"weights[{i}] has shape {W.shape}, expected ({n_out}, {n_in}) "
                                "= (n_out, n_in)" if W.shape != (n_out, n_in) else
                                f"weights[{i}] contains NaN or inf")
                shapes_ok = False
                continue
            if b.shape != (n_out,):
                problems.append(f"biases[{i}] has shape {b.shape}, expected ({n_out},)")
            elif np.any(b != 0):
                problems.append(f"biases[{i}] should start at zero")
            scale = init_scale_problem(W, act, tolerance=0.15)
            if scale:
                scale_problems.append(scale)
    same, other = o.get("same_seed"), o.get("other_seed")
    try:
        same_ok = all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in same)
        other_ok = not all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in other)
    except (TypeError, ValueError):
        same_ok = other_ok = False
    if not same_ok:
        problems.append("two networks built with the same seed should have identical weights: "
                        "draw every weight from self.rng = np.random.default_rng(seed)")
    if not other_ok:
        problems.append("networks built with different seeds should have different weights")
    structure = 0.0 if problems else 1.0
    scale = 1.0 if shapes_ok and not scale_problems else 0.0
    if structure + scale == part.max_score:
        return part.passed("Shapes, zero biases, seeding and the initialization scale of "
                           "relu (He) and sigmoid/tanh (Glorot) layers are right.")
    lines = [f"Shapes, zero biases and seeding: {structure:g}/1 point."
             + ("" if structure else "\n" + bullets(list(dict.fromkeys(problems))[:6])),
             f"Initialization scale (He for relu, Glorot for sigmoid and tanh): {scale:g}/1 point."
             + ("" if scale else "\n" + (bullets(list(dict.fromkeys(scale_problems))[:6]) or
                                         "- it can only be measured once the shapes are right"))]
    return part.failed("\n".join(lines), score=structure + scale)


def _score_values(part: Part, r, kind: str, seed: int):
    Ws, bs, X, y = _value_case(seed)
    o = r.outputs
    good, errors, lines = 0, 0, []
    status: dict[str, list[tuple[str, str]]] = {}
    for act in ACTIVATIONS:
        if f"{act}_error" in o:
            errors += 1
            lines.append(f"- activation={act!r}: your {kind} raised {o[f'{act}_error']}")
            continue
        if kind == "forward":
            ref, _ = reference_forward(Ws, bs, X, act)
            problem = compare_arrays(o.get(act), ref, name=f"forward(X) with activation={act!r}",
                                     rtol=1e-4, atol=1e-6)
        else:
            dW_ref, db_ref = reference_backward(Ws, bs, X, y, act)
            dW, db = o.get(f"{act}_dW"), o.get(f"{act}_db")
            problem = None
            if not isinstance(dW, list) or not isinstance(db, list) or len(dW) != len(Ws) \
                    or len(db) != len(Ws):
                problem = (f"gradients should return (dW, db), two lists of {len(Ws)} arrays "
                           "(one per layer, in order)")
            else:
                status[act] = [(classify_gradient(dW[i], dW_ref[i], len(y), 1e-4, 1e-7),
                                classify_gradient(db[i], db_ref[i], len(y), 1e-4, 1e-7))
                               for i in range(len(Ws))]
                for i in range(len(Ws)):
                    problem = compare_arrays(dW[i], dW_ref[i], name=f"dW[{i}] ({act})",
                                             rtol=1e-4, atol=1e-7) or compare_arrays(
                        db[i], db_ref[i], name=f"db[{i}] ({act})", rtol=1e-4, atol=1e-7)
                    if problem:
                        break
        if problem:
            lines.append(f"- activation={act!r}: {problem}")
        else:
            good += 1
    net = f"a {VALUE_SIZES} network whose weights the grader set"
    if good == len(ACTIVATIONS):
        call = "forward(X)" if kind == "forward" else "gradients(X, y)"
        return part.passed(f"{call} matches the reference for relu, sigmoid and tanh on {net}.")
    hint = ""
    if kind == "forward":
        hint = ("\nHint: use self.weights and self.biases (the grader assigns them), apply the "
                "activation to every hidden layer but not to the output layer (logits).")
    else:
        hint = "\n" + (backward_diagnosis(status) or "Hint: gradients must return (dW, db).")
    return part.failed(f"{good} of {len(ACTIVATIONS)} activations right on {net}:\n"
                       + "\n".join(lines) + hint, score=float(good),
                       status="error" if errors == len(ACTIVATIONS) else "failed")


def _score_train(part: Part, r, seed: int):
    """0.5 point: losses and predictions of the right form; 0.5: shuffled mini-batches from
    self.rng; 1 point: held-out accuracy >= 90 % (0.5 from 70 %). Every rule is judged here
    from the weights the runs left (:func:`dlbasics.checks.ex1.sgd_problems` replays them),
    and the held-out spirals are predicted here from the trained weights."""
    inputs = _train_inputs(seed)
    X_train = inputs["X"]
    _, _, X_test, y_test = _train_data(seed)
    o = r.outputs
    rules = sgd_problems(o, inputs)
    lines = list(rules["losses"])
    acc = None
    if not rules["sgd"]:  # the weights are those the batches give
        Ws = [np.asarray(o[f"first_W{i}"], dtype=np.float64) for i in range(len(TRAIN_SIZES) - 1)]
        bs = [np.asarray(o[f"first_b{i}"], dtype=np.float64) for i in range(len(TRAIN_SIZES) - 1)]
        pred, msg = as_array(o.get("pred"), "predict(X_train)")
        if pred is None:
            lines.append(f"predict: {msg}")
        elif pred.shape != (len(X_train),):
            lines.append(f"predict(X) should return one integer label per row, shape "
                         f"({len(X_train)},); got {pred.shape}")
        elif not np.array_equal(pred, relu_logits(Ws, bs, X_train).argmax(axis=1)):
            lines.append("predict(X) should be the argmax of forward(X) over the classes")
        acc = float(np.mean(relu_logits(Ws, bs, X_test).argmax(axis=1) == y_test))
    form = 0.0 if lines else 0.5
    rows = [f"Losses and predictions of the right form: {form:g}/0.5 point."
            + ("" if form else "\n" + bullets(lines))]
    shuffled = 0.0 if rules["order"] else 0.5
    rows.append(f"A new order every epoch, drawn from self.rng, in batches of batch_size: "
                f"{shuffled:g}/0.5 point." + ("" if shuffled else "\n" + bullets(rules["order"])))
    earned = 0.0 if acc is None else 1.0 if acc >= ACC_FULL else 0.5 if acc >= ACC_HALF else 0.0
    band = ("not measured: " + rules["sgd"][0] if acc is None
            else f"at least {ACC_FULL:.0%}" if acc >= ACC_FULL
            else f"at least {ACC_HALF:.0%}" if acc >= ACC_HALF else f"below {ACC_HALF:.0%}")
    rows.append(f"Held-out accuracy ({band}): "
                f"{earned:g}/1 point ({ACC_FULL * 100:.0f} % earns the point, "
                f"{ACC_HALF * 100:.0f} % half of it).")
    epochs = TRAIN_KW["epochs"]
    setup = (f"Trained CompleteNeuralNetwork({TRAIN_SIZES}, activation='relu', seed=0) with "
             f"train(X, y, epochs={epochs}, batch_size={TRAIN_KW['batch_size']}, "
             f"lr={TRAIN_KW['lr']}) on {N_TRAIN} points of three spirals, from the grader's "
             "He-initialized weights and with the grader's forward and gradients (a mistake "
             "there costs ex1.forward or ex1.backward only), then twice more for 3 epochs "
             "(seed=0 again, seed=1); the grader replayed the batches self.gradients received to "
             f"check the weights, and tested the trained weights on {N_TEST} new points.")
    total = form + shuffled + earned
    text = setup + "\n" + "\n".join(rows)
    return part.passed(text) if total == part.max_score else part.failed(text, score=total)


def score(results, submission):
    out = []
    by_part = {
        "ex1.init": results["init_probe"],
        "ex1.forward": results["forward_probe"],
        "ex1.backward": results["backward_probe"],
        "ex1.train": results["train_probe"],
    }
    defined = CLASS in submission.static.names
    for part in PARTS:
        reached = submission.static.reached_violations(*ENTRY_POINTS[part.name])
        if reached:
            out.append(part.failed(
                f"0 points: this part's code uses what Exercise 1 does not allow. "
                f"{POLICY.reason}, so PyTorch, scikit-learn and the course package dlbasics "
                f"cannot stand in for your code:\n{bullets([v.describe() for v in reached[:5]])}"))
            continue
        r = by_part[part.name]
        if not r.ok:
            res = part.from_probe(r)
            if not defined and f"KeyError: '{CLASS}'" in r.error:
                res = part.failed(
                    f"No class called {CLASS} was defined (keep the name from the exercise "
                    "notebook). " + submission.cell_error_summary(), status="error")
            out.append(res)
            continue
        if part.name == "ex1.init":
            out.append(_score_init(part, r))
        elif part.name in ("ex1.forward", "ex1.backward"):
            out.append(_score_values(part, r, part.name.split(".")[1], submission.seed))
        else:
            out.append(_score_train(part, r, submission.seed))
    return out


EXERCISE = Exercise(name="ex1", title="A neural network from scratch (NumPy)",
                    notebook="ex1_neural_network.ipynb", parts=PARTS, probes=probes, score=score,
                    limits=LIMITS, policy=POLICY, seed=SEED)
