"""Hidden tests of Exercise 2: image classification with a CNN (PyTorch).

Not shipped to students. The probes below run inside the sandbox and only
call the learner's functions; reference values, the held-out labels and the
thresholds stay in this module, in the grader.

The grader's digits are new renditions of the scikit-learn digits: each one
drawn at 32x32, turned, scaled, sheared, shifted, bent by a smooth random
displacement field, its strokes thickened or thinned, brought back to 8x8 and
given noise, all from streams seeded by the grading key
(``dlbasics_grader.secret``). The training, validation and held-out images
come from disjoint public digits and independent streams, and every one is at
least ``MIN_DISTANCE`` from every public digit under each of the eight
flips/rotations of the square, so none can be looked up in the public data.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from dlbasics.checks._training import loop_inputs, training_loop_probe
from dlbasics.datasets import bundled_digits
from dlbasics_grader.heldout import graph_probe
from dlbasics_grader.scoring import score_training_run
from dlbasics_grader.secret import exercise_seed, public_seed, stream
from dlbasics_grader.spec import (
    Evaluation,
    Exercise,
    Part,
    Probe,
    SandboxPolicy,
    as_array,
    compare_arrays,
)

from . import _common
from ._common import TORCH_LIMITS, bullets, not_implemented, score_parts, trained_outputs, verdict

SEED = exercise_seed("ex2", Path(__file__).parent)  # 256 bits from the grading key

N_TRAIN, N_VAL = 1100, 200  # the rest of the 1797 digits (497) is the held-out sources
MIN_DISTANCE = 12.0
"""Every grader image is at least this far (Euclidean, pixel values 0-16) from every public digit
under each of the 8 symmetries of the square; 95 % of the public digits lie closer than 11 to
their nearest other public digit."""
ACC_FULL = 0.90  # the solution reaches 0.93-0.96 over grading keys (tests/grading/test_secret.py)
ACC_TIERS = ((0.90, 3.0), (0.85, 2.0), (0.70, 1.0))
CPU_BUDGET_S = 60.0
"""CPU seconds (one thread) for everything the notebook runs: its cells and the grader's
training run, measured from outside the sandbox."""
CHANCE_MAX = 0.5
"""Highest held-out accuracy the exported model may reach with its parameters shuffled (an
untrained CNN gets about 10 %; a nearest-neighbour search in the public digits, 89-95 %)."""
EVAL_BATCH = 50  # the trained model is traced, and evaluated, on batches of this many images
MAX_PARAMS = 2_000_000

TRAINING_PART, ACCURACY_PART = _common.training_parts("ex2", ACC_FULL)
PARTS = (
    Part("ex2.preprocess", 1.0, "Preprocessing: scaling, normalization, (n, 1, s, s) float32"),
    Part("ex2.model", 2.0, "CNN output shapes for 8x8 and 28x28 images"),
    Part("ex2.layers", 2.0, "Convolution, pooling, dropout and batch normalization layers",
         full_credit="Convolution, pooling, dropout (active only in training mode) and batch normalization "
                     "(batch statistics in training mode, running statistics in evaluation mode) are all in "
                     "what forward computes."),
    Part("ex2.augment", 2.0, "Augmentation keeps shapes and labels, changes images a little"),
    TRAINING_PART,
    Part("ex2.confusion", 1.0, "Confusion matrix"),
    ACCURACY_PART,
)

POLICY = SandboxPolicy(
    forbidden_modules=("torchvision",),
    reason="Exercise 2 uses PyTorch's own operations (torchvision is not part of the course)",
    preload=("numpy", "matplotlib.pyplot", "torch"),
    allow_processes=False,
)

LIMITS = TORCH_LIMITS
LOOP_INPUTS = loop_inputs("images", augment_fn=None)  # the probe model's data (public)


# ----------------------------------------------------------------------------
# Drivers: run in the sandbox. Self-contained; they only call the learner's code.
# ----------------------------------------------------------------------------


def preprocess_probe(ns, inputs):
    import numpy as np
    import torch

    def describe(t):
        kind = f"{type(t).__module__}.{type(t).__name__}"
        arr = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
        return kind, str(getattr(t, "dtype", arr.dtype)), arr

    out = {}
    try:
        stats = ns["normalization_stats"](inputs["X8"].copy(), 16.0)
        out["stats"] = [float(stats[0]), float(stats[1])]
    except Exception as exc:
        out["stats_error"] = f"{type(exc).__name__}: {exc}"
    for key, size, max_value in (("X8", 8, 16.0), ("X28", 28, 255.0), ("X8flat", 8, 16.0)):
        try:
            t = ns["preprocess"](inputs[key].copy(), size, max_value,
                                 inputs["mean"], inputs["std"])
            out[f"{key}_type"], out[f"{key}_dtype"], out[key] = describe(t)
        except Exception as exc:
            out[f"{key}_error"] = f"{type(exc).__name__}: {exc}"
    return out


def model_probe(ns, inputs):
    """Export build_model(size, classes) of each configuration as two graphs (evaluation mode
    on 5 images, training mode on 4); the evaluation sandbox runs them (model_graph_probe)."""
    import torch

    from dlbasics.checks._export import export_graph

    out = {}
    for size, classes in inputs["configs"]:
        key = f"s{size}_c{classes}"
        try:
            torch.manual_seed(0)
            model = ns["build_model"](size, classes)
            x = torch.from_numpy(inputs[f"x{size}"])
            out[f"{key}_eval"] = export_graph(model, x, training=False)
            out[f"{key}_train"] = export_graph(model, x[:4], training=True)
        except Exception as exc:
            out[f"{key}_eval_error"] = f"{type(exc).__name__}: {exc}"
    return out


def model_graph_probe(ns, inputs):
    """Runs in the evaluation sandbox: the graphs of one configuration on the grader's images
    (5 in evaluation mode, then 1; 4 in training mode), the number of parameters, and the
    evaluation output with the parameters shuffled."""
    import io

    import torch

    torch.set_num_threads(1)
    graphs = {mode: torch.jit.load(io.BytesIO(inputs[inputs[f"{mode}_key"]].tobytes()),
                                   map_location="cpu") for mode in ("eval", "train")}
    x = torch.from_numpy(inputs["x"])
    out = {"params": int(sum(p.numel() for p in graphs["eval"].parameters()))}
    for name, mode, batch in (("eval", "eval", x), ("one", "eval", x[:1]),
                              ("train", "train", x[:4])):
        try:
            torch.manual_seed(0)
            with torch.no_grad():
                y = graphs[mode](batch)
            out[name] = (y[0] if isinstance(y, (tuple, list)) else y).detach().float().numpy()
        except Exception as exc:
            out[f"{name}_error"] = f"{type(exc).__name__}: {exc}"
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in graphs["eval"].parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * (float(p.abs().mean()) + 0.1))
        try:
            y = graphs["eval"](x)
            out["eval_shuffled"] = (y[0] if isinstance(y, (tuple, list)) else y).float().numpy()
        except Exception as exc:
            out["eval_shuffled_error"] = f"{type(exc).__name__}: {exc}"
    return out


def layers_probe(ns, inputs):
    import torch

    from dlbasics.checks._export import export_graph

    torch.manual_seed(0)
    model = ns["build_model"](8, 10)
    example = torch.from_numpy(inputs["x8"])
    out = {}
    for key, training in (("graph_eval", False), ("graph_train", True)):
        try:
            out[key] = export_graph(model, example, training=training)
        except Exception as exc:
            out[f"{key}_error"] = f"{type(exc).__name__}: {exc}"
    return out


def layers_graph_probe(ns, inputs):
    """Runs in the evaluation sandbox, on the graphs of an untrained build_model(8, 10)."""
    import io

    import numpy as np
    import torch

    torch.set_num_threads(1)

    def load(key):
        return torch.jit.load(io.BytesIO(inputs[key].tobytes()), map_location="cpu")

    def ops(graph):
        inlined = graph.inlined_graph
        torch._C._jit_pass_dce(inlined)
        return sorted({node.kind() for node in inlined.nodes()})

    def run(graph, torch_seed, batch):
        torch.manual_seed(torch_seed)
        with torch.no_grad():
            y = graph(batch)
        return (y[0] if isinstance(y, (tuple, list)) else y).detach().float().numpy()

    evaluation, training = load("graph_eval"), load("graph_train")
    x, other = torch.from_numpy(inputs["x8"]), torch.from_numpy(inputs["x8_other"])
    out = {"ops_eval": ops(evaluation), "ops_train": ops(training)}
    out["eval_fresh"] = run(evaluation, 1, x)
    for key, torch_seed, batch in (("train_1", 1, x), ("train_2", 2, x), ("train_1_again", 1, x),
                                   ("train_1_other", 1, other)):
        out[key] = run(training, torch_seed, batch)
    # what the passes in training mode taught the buffers (running statistics) goes into the
    # evaluation graph, as it would in one model
    buffers = dict(evaluation.named_buffers())
    with torch.no_grad():
        for name, buffer in training.named_buffers():
            if name in buffers and buffers[name].shape == buffer.shape:
                buffers[name].copy_(buffer)
    for key, torch_seed, batch in (("eval_1", 1, x), ("eval_2", 2, x), ("eval_other", 1, other),
                                   ("eval_first", 1, x[:1])):
        try:
            out[key] = run(evaluation, torch_seed, batch)
        except Exception as exc:
            out[f"{key}_error"] = f"{type(exc).__name__}: {exc}"
    # which parameters the output depends on: each one changed in turn
    base = out["eval_1"]
    used = []
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in evaluation.parameters():
            saved = p.clone()
            p.add_(torch.randn(p.shape, generator=gen) * (float(p.abs().mean()) + 0.1))
            changed = not np.allclose(run(evaluation, 1, x), base, rtol=1e-4, atol=1e-5)
            p.copy_(saved)
            used.append([len(p.shape), bool(changed)])
    out["parameters"] = used
    return out


def augment_probe(ns, inputs):
    import torch

    out = {}
    for key in ("x8", "x28"):
        torch.manual_seed(inputs["seed"])
        x = torch.from_numpy(inputs[key].copy())
        y = torch.from_numpy(inputs[f"y_{key}"].copy())
        xa, ya = ns["augment"](x, y)
        out[f"{key}_type"] = f"{type(xa).__module__}.{type(xa).__name__}"
        out[f"{key}_dtype"] = str(getattr(xa, "dtype", ""))
        out[f"{key}_aug"] = xa.detach().numpy() if isinstance(xa, torch.Tensor) else xa
        out[f"{key}_labels"] = ya.detach().numpy() if isinstance(ya, torch.Tensor) else ya
        out[f"{key}_input_after"], out[f"{key}_labels_after"] = x.numpy(), y.numpy()
    return out


def training_probe(ns, inputs):
    return trained_outputs(ns, inputs, lambda: ns["build_model"](8, 10))


def confusion_probe(ns, inputs):
    out = {}
    for key, n_classes in (("a", 10), ("b", 4)):
        out[key] = ns["confusion_matrix"](inputs[f"{key}_true"].copy(),
                                          inputs[f"{key}_pred"].copy(), n_classes)
    return out


# ----------------------------------------------------------------------------
# Grader-side data and references
# ----------------------------------------------------------------------------


def symmetries(images: np.ndarray) -> np.ndarray:
    """(8 n, s, s): ``images`` (n, s, s) under the 8 symmetries of the square."""
    turned = [np.rot90(images, k=k, axes=(1, 2)) for k in range(4)]
    return np.concatenate([t for r in turned for t in (r, r[:, :, ::-1])])


@functools.lru_cache(maxsize=1)
def _public_flat() -> np.ndarray:
    return symmetries(bundled_digits()[0].astype(np.float64)).reshape(-1, 64)


def distance_to_public(images: np.ndarray) -> np.ndarray:
    """(n,): each 8x8 image's Euclidean distance to the nearest public digit, any symmetry."""
    X = images.reshape(len(images), 64).astype(np.float64)
    P = _public_flat()
    d2 = (X * X).sum(1)[:, None] + (P * P).sum(1)[None] - 2.0 * X @ P.T
    return np.sqrt(np.maximum(d2.min(axis=1), 0.0))


def _render_one(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A new 8x8 rendition (integers 0-16) of one public digit (8, 8)."""
    from scipy import ndimage

    n, up = 32, 4
    big = ndimage.zoom(image / 16.0, up, order=1, mode="constant")
    angle = np.deg2rad(rng.uniform(-9.0, 9.0))
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    warp = rot @ np.array([[1.0, rng.uniform(-0.15, 0.15)], [0.0, 1.0]]) @ np.diag(
        1.0 + rng.uniform(-0.09, 0.09, 2))
    centre = (n - 1) / 2
    grid = np.mgrid[0:n, 0:n].astype(np.float64) - centre - rng.uniform(-1.2, 1.2, (2, 1, 1))
    source = np.einsum("ij,jkl->ikl", np.linalg.inv(warp), grid) + centre
    bend = np.stack([ndimage.gaussian_filter(rng.uniform(-1, 1, (n, n)), 4.0) for _ in "yx"])
    source += rng.uniform(1.2, 2.4) * bend / max(np.abs(bend).max(), 1e-9)  # elastic
    out = ndimage.map_coordinates(big, source, order=1, mode="constant")
    stroke = rng.integers(-1, 2)
    if stroke > 0:
        out = ndimage.grey_dilation(out, size=(3, 3))
    elif stroke < 0:
        out = ndimage.grey_erosion(out, size=(2, 2))
    small = out.reshape(8, up, 8, up).mean(axis=(1, 3))
    small = 16.0 * rng.uniform(0.85, 1.0) * small / max(small.max(), 1e-9)
    return np.clip(np.rint(small + rng.normal(0.0, 0.8, small.shape)), 0, 16)


def render_digits(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """New renditions (n, 8, 8) of public digits (n, 8, 8), each at least ``MIN_DISTANCE``
    from every public digit under every symmetry (one too close is drawn again)."""
    out = np.stack([_render_one(img, rng) for img in images])
    for _ in range(50):
        close = np.flatnonzero(distance_to_public(out) < MIN_DISTANCE)
        if not len(close):
            return out
        out[close] = np.stack([_render_one(images[i], rng) for i in close])
    raise RuntimeError("could not render digits far enough from the public ones")


@functools.lru_cache(maxsize=2)
def _digits(seed: int):
    """Training, validation and held-out digits: renditions of disjoint public digits, each
    set from its own stream."""
    images, labels = bundled_digits()
    images = images.astype(np.float64)
    order = stream(seed, "split").permutation(len(labels))
    a, b = N_TRAIN, N_TRAIN + N_VAL
    sets = []
    for name, idx in (("train", order[:a]), ("validation", order[a:b]),
                      ("held-out", order[b:])):
        sets.append((render_digits(images[idx], stream(seed, name)), labels[idx]))
    return tuple(sets)


def _small_cases(seed: int) -> dict:
    rng = stream(seed, "preprocess")
    X8 = rng.integers(0, 17, size=(6, 8, 8)).astype(np.float64)
    X28 = rng.integers(0, 256, size=(3, 28, 28)).astype(np.uint8)
    X8flat = rng.integers(0, 17, size=(5, 64)).astype(np.float64)
    mean, std = float(rng.uniform(0.2, 0.4)), float(rng.uniform(0.3, 0.5))
    return {"X8": X8, "X28": X28, "X8flat": X8flat, "mean": mean, "std": std}


def _image_batch(seed: int, size: int, n: int):
    """Normalized digit images (n, 1, size, size) float32 and their labels."""
    images, labels = bundled_digits()
    rng = stream(seed, f"batch {size}")
    idx = rng.choice(len(labels), size=n, replace=False)
    x = images[idx] / 16.0
    if size != 8:  # nearest-neighbour upsampling to size x size
        rows = np.arange(size) * 8 // size
        x = x[:, rows][:, :, rows]
    x = ((x - 0.3) / 0.38).astype(np.float32)[:, None]
    return x, labels[idx]


def _confusion_case(seed: int) -> dict:
    rng = stream(seed, "confusion")
    a_true, a_pred = rng.integers(0, 10, 200), rng.integers(0, 10, 200)
    b_true = rng.choice([0, 1, 3], 30)  # class 2 never appears
    b_pred = rng.choice([0, 1, 3], 30)
    return {"a_true": a_true, "a_pred": a_pred, "b_true": b_true, "b_pred": b_pred}


MODEL_CONFIGS = [[8, 10], [28, 10], [8, 3]]


def prepared_digits(seed: int):
    """The grader's digits preprocessed by the grader (scaled by 16, normalized with the training
    images' mean and standard deviation, float32 (n, 1, 8, 8)), and their labels: training,
    validation, held-out. The learner's preprocessing is graded on its own part, so a mistake
    there costs that part only."""
    sets = _digits(seed)
    scaled = sets[0][0] / 16.0
    mean, std = scaled.mean(), scaled.std()
    return tuple((((X / 16.0 - mean) / std).astype(np.float32)[:, None], y) for X, y in sets)


def probes(seed: int) -> list[Probe]:
    (X_tr, y_tr), (X_val, y_val), _ = prepared_digits(seed)
    x8, y8 = _image_batch(seed, 8, 64)
    x28, y28 = _image_batch(seed, 28, 16)
    return [  # the training run first: the CPU it and the cells used is the budget's
        Probe.from_function(training_probe, timeout_s=120, helpers=(trained_outputs,), inputs={
            "X_train": X_tr, "y_train": y_tr, "X_val": X_val, "y_val": y_val,
            "batch": EVAL_BATCH}),
        Probe.from_function(preprocess_probe, timeout_s=20, inputs=_small_cases(seed)),
        Probe.from_function(model_probe, timeout_s=30, inputs={
            "configs": MODEL_CONFIGS, "x8": x8[:5], "x28": x28[:5]}),
        Probe.from_function(layers_probe, timeout_s=30, inputs={"x8": x8[:16]}),
        Probe.from_function(augment_probe, timeout_s=30, inputs={
            "seed": public_seed(seed, "augment"), "x8": x8, "y_x8": y8, "x28": x28, "y_x28": y28}),
        Probe.from_function(confusion_probe, timeout_s=10, inputs=_confusion_case(seed)),
        Probe.from_function(training_loop_probe, name="loop_probe", timeout_s=60,
                            inputs=LOOP_INPUTS),
    ]


def _heldout_probe(seed: int) -> Probe:
    """Where the held-out digits go: the graph's evaluation, never the learner's sandbox."""
    _, (X_val, _), (X_te, _) = prepared_digits(seed)
    return graph_probe({"X_test": X_te, "X_val": X_val}, EVAL_BATCH,
                       reset_seed=public_seed(seed, "reset"), timeout_s=60)


def _model_graph_probe(seed: int, size: int, classes: int) -> Probe:
    x = _image_batch(seed, size, 64)[0][:5]
    key = f"s{size}_c{classes}"
    return Probe.from_function(model_graph_probe, timeout_s=30, inputs={
        "x": x, "eval_key": f"{key}_eval", "train_key": f"{key}_train"})


def _layers_graph_probe(seed: int) -> Probe:
    x8, _ = _image_batch(seed, 8, 64)
    return Probe.from_function(layers_graph_probe, timeout_s=60, inputs={
        "x8": x8[:16], "x8_other": np.concatenate([x8[:1], x8[16:31]])})


EVALUATIONS = (
    Evaluation("heldout", source="training_probe", models=("graph",), probe=_heldout_probe),
    *(Evaluation(f"model_s{size}_c{classes}", source="model_probe",
                 models=(f"s{size}_c{classes}_eval", f"s{size}_c{classes}_train"),
                 probe=functools.partial(_model_graph_probe, size=size, classes=classes))
      for size, classes in MODEL_CONFIGS),
    Evaluation("layers", source="layers_probe", models=("graph_eval", "graph_train"),
               probe=_layers_graph_probe),
)


# ----------------------------------------------------------------------------
# Scoring (grader only)
# ----------------------------------------------------------------------------


def _score_preprocess(part: Part, o: dict, seed: int):
    case = _small_cases(seed)
    problems = []
    if "stats_error" in o:
        problems.append(f"normalization_stats raised {o['stats_error']}")
    else:
        scaled = case["X8"] / 16.0
        p = compare_arrays(o.get("stats"), np.array([scaled.mean(), scaled.std()]),
                           name="normalization_stats(X, 16.0)", rtol=1e-4, atol=1e-6)
        if p:
            problems.append(p + " It should return the mean and standard deviation of X / "
                            "max_value.")
    for key, size, max_value in (("X8", 8, 16.0), ("X28", 28, 255.0), ("X8flat", 8, 16.0)):
        shape = f"{case[key].shape}"
        if f"{key}_error" in o:
            problems.append(f"preprocess on input of shape {shape} raised {o[f'{key}_error']}")
            continue
        if o.get(f"{key}_type") != "torch.Tensor":
            problems.append(f"preprocess should return a torch.Tensor, got {o.get(f'{key}_type')}")
            continue
        if o.get(f"{key}_dtype") != "torch.float32":
            problems.append(f"preprocess should return float32, got {o.get(f'{key}_dtype')}")
            continue
        ref = ((case[key].astype(np.float64) / max_value - case["mean"]) / case["std"])
        ref = ref.reshape(-1, 1, size, size)
        p = compare_arrays(o.get(key), ref, name=f"preprocess(X of shape {shape}, {size}, "
                           f"{max_value:g}, mean, std)", rtol=1e-4, atol=1e-5)
        if p:
            problems.append(p)
    if not problems:
        return part.passed("normalization_stats and preprocess are right for (n, 8, 8), "
                           "(n, 64) and (n, 28, 28) inputs.")
    status = "error" if not_implemented(problems) else "failed"
    return part.failed(bullets(problems[:5]), status=status)


def _score_model(part: Part, results: dict):
    """Shapes read from the graphs of build_model run in the evaluation sandbox, on the
    grader's images; the learner's process only exported them."""
    problems, good = [], 0
    for size, classes in MODEL_CONFIGS:
        key = f"s{size}_c{classes}"
        what = f"build_model({size}, {classes})"
        r = results.get(f"model_{key}")
        if r is None or not r.ok:
            problems.append(f"{what}: " + (r.error or r.describe_failure() if r else "not run"))
            continue
        o = r.outputs
        bad = None
        for mode, n in (("eval", 5), ("one", 1), ("train", 4)):
            label = {"eval": "in eval mode", "one": "for a batch of one image in eval mode",
                     "train": "in training mode"}[mode]
            if f"{mode}_error" in o:
                bad = f"{what} {label} raised {o[f'{mode}_error']}"
                break
            arr, msg = as_array(o.get(mode), "the output")
            if arr is None:
                bad = f"{what}: {msg}"
            elif arr.shape != (n, classes):
                bad = (f"{what} {label}: a batch of {n} images of shape (1, {size}, {size}) gave "
                       f"output shape {arr.shape}, expected ({n}, {classes})")
            elif not np.all(np.isfinite(arr)):
                bad = f"{what} {label}: the output contains NaN or inf"
            if bad:
                break
        params = o.get("params")
        shuffled, _ = as_array(o.get("eval_shuffled"), "")
        if bad is None and not isinstance(params, int):
            bad = f"{what}: the number of its parameters could not be read"
        elif bad is None and params > MAX_PARAMS:
            bad = f"{what} has {params:,} parameters; keep it under {MAX_PARAMS:,}"
        elif bad is None and (shuffled is None or shuffled.shape != (5, classes) or np.allclose(
                shuffled, np.asarray(o["eval"], dtype=np.float64), rtol=1e-4, atol=1e-5)):
            bad = (f"{what}: its output does not change when its parameters do; the logits "
                   "must come from the model's layers")
        if bad:
            problems.append(bad)
        else:
            good += 1
    if good == len(MODEL_CONFIGS):
        return part.passed("Logits of shape (n, num_classes) for 8x8 and 28x28 images, in "
                           "training and evaluation mode, for a batch of one too.")
    hint = ("\nHint: compute the size of the flattened features from image_size "
            "(each 2x2 pooling halves it, rounding down).")
    return part.failed(f"{good} of {len(MODEL_CONFIGS)} configurations right:\n"
                       + bullets(problems) + hint,
                       score=part.max_score * good / len(MODEL_CONFIGS),
                       status="error" if not_implemented(problems) else "failed")


CONV_OPS = ("aten::_convolution", "aten::conv2d", "aten::convolution")
DROPOUT_OPS = ("aten::dropout", "aten::feature_dropout", "aten::alpha_dropout",
               "aten::feature_alpha_dropout")
BATCH_NORM_OPS = ("aten::batch_norm", "aten::native_batch_norm", "aten::_batch_norm_impl_index")


def _ops(o: dict, key: str) -> set[str]:
    ops = o.get(key)
    return {x for x in ops if isinstance(x, str)} if isinstance(ops, list) else set()


LAYER_OUTPUTS = ("eval_fresh", "train_1", "train_2", "train_1_again", "train_1_other", "eval_1",
                 "eval_2", "eval_other", "eval_first")


def _differ(a: np.ndarray, b: np.ndarray) -> bool:
    return not np.allclose(a, b, rtol=1e-4, atol=1e-5)


def _score_dropout(out: dict) -> str | None:
    """What is wrong with the model's dropout, judged from its outputs (None: nothing)."""
    if not _differ(out["train_1"], out["train_2"]):
        return ("no dropout layer found: two forward passes in training mode under different "
                "torch seeds gave the same output (add nn.Dropout with a rate above 0, before "
                "the last layer)")
    if _differ(out["eval_1"], out["eval_2"]):
        return ("in evaluation mode two forward passes differ: dropout must be off after "
                "model.eval() (use nn.Dropout, not F.dropout with training=True)")
    return None


def _score_batch_norm(out: dict) -> str | None:
    """What is wrong with the model's batch normalization, judged from its outputs: in training
    mode an image's output depends on the other images of its batch (with the same torch seed, so
    the same dropout masks); in evaluation mode it does not, and what training-mode passes taught
    the running statistics changes the output."""
    if _differ(out["train_1"], out["train_1_again"]):
        return ("no batch-normalization layer could be seen: two forward passes in training mode "
                "under the same torch seed gave different outputs (draw dropout's randomness from "
                "torch, as nn.Dropout does)")
    if not _differ(out["train_1"][:1], out["train_1_other"][:1]):
        return ("no batch-normalization layer found: in training mode an image's output does not "
                "depend on the other images of its batch (nn.BatchNorm2d normalizes with the "
                "batch's statistics)")
    random_in_eval = _differ(out["eval_1"], out["eval_2"])  # then only equal seeds and shapes
    alone = out["eval_first"]
    if _differ(out["eval_1"][:1], out["eval_other"][:1]) or (
            not random_in_eval and alone is not None and _differ(out["eval_1"][:1], alone)):
        return ("in evaluation mode an image's output depends on the rest of the batch: batch "
                "normalization should use its running statistics after model.eval()")
    if not _differ(out["eval_fresh"], out["eval_1"]):
        return ("batch normalization did not update its running statistics in training mode: "
                "the output in evaluation mode was the same before and after forward passes in "
                "training mode")
    return None


def _score_layers(part: Part, r):
    """Each layer by what the model's graph computes, never by names: a convolution whose
    weights change the output, a pooling operation, dropout and batch normalization
    operations that behave as they should. A layer registered in ``__init__`` but not used in
    ``forward`` is not in the graph and earns nothing."""
    if not r.ok:
        return part.failed("The grader could not look at the model's layers: "
                           + (r.error or r.describe_failure()), status=r.test_status())
    o = r.outputs
    ops_eval, ops_train = _ops(o, "ops_eval"), _ops(o, "ops_train")
    params = o.get("parameters")
    used = [p for p in params if isinstance(p, list) and len(p) == 2] if isinstance(
        params, list) else []
    lines, score = [], 0.0
    if not ops_eval & set(CONV_OPS):
        lines.append("no convolution in what forward computes (nn.Conv2d, used in forward)")
    elif not any(nd == 4 and changed is True for nd, changed in used):
        lines.append("the convolution's weights do not change the model's output")
    else:
        score += 0.5
    if any("pool" in op for op in ops_eval):
        score += 0.5
    else:
        lines.append("no pooling in what forward computes (nn.MaxPool2d, nn.AvgPool2d, ...)")
    arrays = {k: as_array(o.get(k), k)[0] for k in LAYER_OUTPUTS}
    shape = None if arrays["train_1"] is None else arrays["train_1"].shape
    if shape is None or len(shape) != 2 or not all(
            a is not None and a.shape == (shape if k != "eval_first" else (1, *shape[1:]))
            and np.all(np.isfinite(a)) for k, a in arrays.items() if k != "eval_first"
            or a is not None):
        lines.append("the model's outputs could not be compared (they should be finite logits "
                     "of shape (n, 10))")
    else:
        for problem, ops, kind in ((_score_dropout(arrays), ops_train, DROPOUT_OPS),
                                   (_score_batch_norm(arrays), ops_eval, BATCH_NORM_OPS)):
            if not ops & set(kind):
                problem = (f"no {'dropout' if kind is DROPOUT_OPS else 'batch normalization'} in "
                           "what forward computes (a layer made in __init__ must also be used "
                           "in forward)")
            if problem:
                lines.append(problem)
            else:
                score += 0.5
    return verdict(part, score, lines)


def _correlations(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a.reshape(len(a), -1).astype(np.float64)
    b = b.reshape(len(b), -1).astype(np.float64)
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    den = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    return np.where(den > 0, (a * b).sum(axis=1) / np.where(den > 0, den, 1), 0.0)


def _score_augment(part: Part, o: dict, seed: int):
    basic, change = [], []
    for key, size, n in (("x8", 8, 64), ("x28", 28, 16)):
        x, y = _image_batch(seed, size, n)
        if o.get(f"{key}_type") != "torch.Tensor":
            basic.append(f"{size}x{size}: augment should return a torch.Tensor of images, got "
                         f"{o.get(f'{key}_type')}")
            continue
        if o.get(f"{key}_dtype") != "torch.float32":
            basic.append(f"{size}x{size}: the augmented images should keep dtype float32, got "
                         f"{o.get(f'{key}_dtype')}")
        aug, msg = as_array(o.get(f"{key}_aug"), "the augmented images")
        labels, msg_l = as_array(o.get(f"{key}_labels"), "the returned labels")
        if aug is None or labels is None:
            basic.append(f"{size}x{size}: {msg or msg_l}")
            continue
        if aug.shape != x.shape:
            basic.append(f"{size}x{size}: images of shape {x.shape} came back as {aug.shape}")
            continue
        if not np.all(np.isfinite(aug)):
            basic.append(f"{size}x{size}: the augmented images contain NaN or inf")
            continue
        if labels.shape != y.shape or not np.array_equal(labels, y):
            basic.append(f"{size}x{size}: the labels must come back unchanged, in the same order")
        after, _ = as_array(o.get(f"{key}_input_after"), "the input images after the call")
        labels_after, _ = as_array(o.get(f"{key}_labels_after"), "the input labels after it")
        if after is None or labels_after is None or not np.array_equal(after, x) \
                or not np.array_equal(labels_after, y):
            basic.append(f"{size}x{size}: augment modified its input tensors in place; return "
                         "new tensors")
        moved = np.abs(aug - x).reshape(n, -1).max(axis=1) > 1e-3
        corr = _correlations(aug, x)
        if moved.mean() < 0.5:
            change.append(f"{size}x{size}: only {moved.sum()} of {n} images changed; every "
                          "call should shift/rotate (almost) every image a little")
        elif np.median(corr) < 0.5:
            change.append(f"{size}x{size}: the augmented images are too different from the "
                          f"originals (median correlation {np.median(corr):.2f}, expected at "
                          "least 0.5): keep shifts and rotations small so a digit stays that digit")
    score = (1.0 if not basic else 0.0) + (1.0 if not change and not basic else 0.0)
    if score == part.max_score:
        return part.passed("Shapes, dtype and labels are kept, the input is untouched, and the "
                           "images change a little (8x8 and 28x28).")
    lines = ([] if basic else ["Shapes, dtype and labels are kept (1 point)."]) + \
        [f"- {p}" for p in basic + change]
    return part.failed("\n".join(lines), score=score)


def _score_confusion(part: Part, o: dict, seed: int):
    case = _confusion_case(seed)
    problems = []
    for key, n_classes in (("a", 10), ("b", 4)):
        ref = np.zeros((n_classes, n_classes), dtype=np.int64)
        np.add.at(ref, (case[f"{key}_true"], case[f"{key}_pred"]), 1)
        arr, msg = as_array(o.get(key), "confusion_matrix")
        if arr is None:
            problems.append(msg)
        elif arr.shape != ref.shape:
            problems.append(f"confusion_matrix(..., num_classes={n_classes}) has shape "
                            f"{arr.shape}, expected {ref.shape} (even when a class never occurs)")
        elif not np.array_equal(arr, ref):
            if np.array_equal(arr, ref.T):
                problems.append("rows and columns are swapped: C[i, j] counts true class i "
                                "predicted as j")
            else:
                problems.append(f"confusion_matrix(..., num_classes={n_classes}) has wrong counts "
                                f"in {int((arr != ref).sum())} of {ref.size} entries")
    if not problems:
        return part.passed("The confusion matrices are right (including a class that never "
                           "occurs).")
    return part.failed(bullets(problems))


def _score_training(train_part: Part, acc_part: Part, o: dict, heldout, loop: dict,
                    cpu_s: float, seed: int):
    _, (_, y_val), (_, y_test) = _digits(seed)
    setup = (f"The grader trained build_model(8, 10) with train_model's defaults on {N_TRAIN} "
             f"digits ({N_VAL} for validation), preprocessed by the grader, and evaluated the "
             f"trained model, exported as a graph, on {len(y_test)} held-out ones: new renditions "
             "of scikit-learn digits (turned, scaled, sheared, shifted, bent, thicker or thinner "
             "strokes, noise).")
    return score_training_run(train_part, acc_part, o, heldout, y_test, n_val=N_VAL,
                              n_classes=10, predict_name="predict(model, X_val)", item="image",
                              setup=setup, acc_full=ACC_FULL, acc_tiers=ACC_TIERS, cpu_s=cpu_s,
                              cpu_budget_s=CPU_BUDGET_S, loop=loop, chance_max=CHANCE_MAX,
                              y_val=y_val)


NAMES = ("normalization_stats", "preprocess", "build_model", "augment", "train_model", "predict",
         "confusion_matrix", "DigitCNN")


def score(results, submission):
    seed = submission.seed
    return score_parts(PARTS, results, submission, names=NAMES, what="function", simple={
        "ex2.preprocess": ("preprocess_probe", lambda p, o: _score_preprocess(p, o, seed)),
        "ex2.model": ("model_probe", lambda p, o: _score_model(p, results)),
        "ex2.layers": ("layers_probe", lambda p, o: _score_layers(p, results["layers"])),
        "ex2.augment": ("augment_probe", lambda p, o: _score_augment(p, o, seed)),
        "ex2.confusion": ("confusion_probe", lambda p, o: _score_confusion(p, o, seed)),
    }, joint={("ex2.training", "ex2.accuracy"): _common.training_scorer(
        results, submission, LOOP_INPUTS, lambda *a: _score_training(*a, seed))})


EXERCISE = Exercise(name="ex2", title="Image classification with a CNN (PyTorch)",
                    notebook="ex2_cnn.ipynb", parts=PARTS, probes=probes, score=score,
                    limits=LIMITS, policy=POLICY, seed=SEED, evaluations=EVALUATIONS)
