"""Public checks of Exercise 2 (image classification with a CNN).

Each check runs the learner's code on a small public case (random pixels, a
few scikit-learn digits) and compares with what the exercise asks for. The
grade itself comes from other, hidden cases and a held-out data set.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlbasics.checks._common import fmt, seeded_torch, to_numpy
from dlbasics.checks._training import train_and_check
from dlbasics.checks.registry import CheckOutcome, register


def _digit_batch(n: int, size: int = 8, seed: int = 0) -> tuple[Any, Any]:
    """``n`` normalized digits as a float32 tensor (n, 1, size, size) and their labels."""
    import torch

    from dlbasics.datasets import bundled_digits

    images, labels = bundled_digits()
    idx = np.random.default_rng(seed).choice(len(labels), size=n, replace=False)
    x = images[idx] / 16.0
    if size != 8:
        rows = np.arange(size) * 8 // size
        x = x[:, rows][:, :, rows]
    x = ((x - 0.3) / 0.38).astype(np.float32)[:, None]
    return torch.from_numpy(x), torch.from_numpy(labels[idx])


@register("ex2.preprocess")
def check_preprocess(normalization_stats, preprocess) -> CheckOutcome:
    """Statistics of the scaled pixels; scaled, normalized (n, 1, s, s) float32 tensors."""
    import torch

    rng = np.random.default_rng(1)
    X = rng.integers(0, 17, size=(4, 8, 8)).astype(np.float64)
    stats = normalization_stats(X.copy(), 16.0)
    want = np.array([(X / 16).mean(), (X / 16).std()])
    try:
        got = np.array([float(stats[0]), float(stats[1])])
    except (TypeError, ValueError, IndexError):
        return CheckOutcome(False, "normalization_stats should return (mean, std), two floats.",
                            f"given: {stats!r}")
    if not np.allclose(got, want, rtol=1e-5):
        return CheckOutcome(False, "normalization_stats is not right.",
                            f"X = 4 random 8x8 images with values 0..16\n"
                            f"  expected (mean, std) of X / 16: {fmt(want)}\n  given: {fmt(got)}")
    cases = [(X, 8, 16.0), (X.reshape(4, 64), 8, 16.0),
             (rng.integers(0, 256, size=(2, 28, 28)).astype(np.uint8), 28, 255.0)]
    for data, size, max_value in cases:
        out = preprocess(data.copy(), size, max_value, 0.3, 0.4)
        call = f"preprocess(X of shape {data.shape} {data.dtype}, {size}, {max_value:g}, 0.3, 0.4)"
        if not isinstance(out, torch.Tensor):
            return CheckOutcome(False, f"{call} should return a torch.Tensor.",
                                f"given: {type(out).__name__}")
        if out.dtype != torch.float32:
            return CheckOutcome(False, f"{call} should return float32.", f"given: {out.dtype}")
        ref = ((data.astype(np.float64) / max_value - 0.3) / 0.4).reshape(-1, 1, size, size)
        if tuple(out.shape) != ref.shape:
            return CheckOutcome(False, f"{call} has the wrong shape.",
                                f"expected {ref.shape} = (n, 1, {size}, {size}), given "
                                f"{tuple(out.shape)}")
        if not np.allclose(to_numpy(out), ref, rtol=1e-4, atol=1e-5):
            return CheckOutcome(False, f"{call} has the wrong values.",
                                "expected ((X / max_value) - mean) / std\n"
                                f"  expected: {fmt(ref.ravel()[:8])} ...\n"
                                f"  given:    {fmt(to_numpy(out).ravel()[:8])} ...")
    return CheckOutcome(True, "statistics, scaling, normalization, shapes (n, 1, s, s) and "
                        "float32 are right for (n, s, s) and (n, s*s) input.")


@register("ex2.model")
def check_model(build_model) -> CheckOutcome:
    """Logits of shape (n, num_classes) for 8x8 and 28x28 input, train and eval mode."""
    torch = seeded_torch()
    for size, classes in ((8, 10), (28, 10), (8, 3)):
        model = build_model(size, classes)
        x, _ = _digit_batch(5, size)
        for mode, batch in (("train", x[:4]), ("eval", x), ("eval", x[:1])):
            model.train(mode == "train")
            with torch.no_grad():
                out = model(batch)
            what = (f"build_model({size}, {classes}) in {mode} mode on a batch of shape "
                    f"{tuple(batch.shape)}")
            if not isinstance(out, torch.Tensor):
                return CheckOutcome(False, f"{what} should return a tensor of logits.",
                                    f"given: {type(out).__name__}")
            if tuple(out.shape) != (len(batch), classes):
                hint = ("\nHint: the flattened size depends on image_size; two 2x2 poolings "
                        "make it channels * (image_size // 4) ** 2.")
                return CheckOutcome(False, f"{what} gives the wrong shape.",
                                    f"expected ({len(batch)}, {classes}), given "
                                    f"{tuple(out.shape)}{hint}")
            if not torch.isfinite(out).all():
                return CheckOutcome(False, f"{what} gives NaN or inf.")
        problem = _graph_problem(model, x, classes)
        if problem:
            return CheckOutcome(False, f"build_model({size}, {classes}) does not work as an "
                                "exported graph, the form in which the grader runs it.", problem)
    n_params = sum(p.numel() for p in build_model(8, 10).parameters())
    return CheckOutcome(True, f"logits of shape (n, num_classes) for 8x8 and 28x28 images "
                        f"({n_params:,} parameters for 8x8).")


def _graph_problem(model, x, classes: int) -> str | None:
    """Why ``model`` traced on the batch ``x`` does not give ``classes`` logits for a batch of
    one image as well (``None``: it does)."""
    import torch

    from dlbasics.checks._export import export_graph, export_problem, load_graph

    problem = export_problem(model, x)
    if problem:
        return problem
    hint = ("keep the batch size out of the shapes (x.flatten(1), or x.view(x.size(0), -1)), "
            "tracing records a Python number as a constant")
    try:
        with torch.no_grad():
            out = load_graph(export_graph(model, x))(x[:1])
    except RuntimeError as exc:
        last = (str(exc).strip().splitlines() or ["RuntimeError"])[-1]
        return f"traced on {len(x)} images, the graph fails on one image ({last}): {hint}"
    out = out[0] if isinstance(out, (tuple, list)) else out
    if tuple(out.shape) != (1, classes):
        return (f"traced on {len(x)} images, the graph gives shape {tuple(out.shape)} for one "
                f"image, expected (1, {classes}): {hint}")
    return None


@register("ex2.layers")
def check_layers(build_model) -> CheckOutcome:
    """Conv2d, pooling, dropout and batch normalization, as modules that behave as such."""
    from torch import nn

    torch = seeded_torch()
    model = build_model(8, 10)
    modules = list(model.modules())
    kinds = {
        "a convolution (nn.Conv2d)": (nn.Conv2d,),
        "a pooling layer (nn.MaxPool2d or nn.AvgPool2d)": (
            nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.LPPool2d),
        "dropout (nn.Dropout or nn.Dropout2d)": (nn.Dropout, nn.Dropout2d, nn.Dropout1d),
        "batch normalization (nn.BatchNorm2d)": (nn.BatchNorm1d, nn.BatchNorm2d),
    }
    missing = [what for what, types in kinds.items()
               if not any(isinstance(m, types) for m in modules)]
    if missing:
        return CheckOutcome(False, "the model lacks " + ", ".join(missing) + ".",
                            "Use nn modules (nn.MaxPool2d, not F.max_pool2d) so they show up "
                            "in model.modules().")
    x, _ = _digit_batch(16)
    model.train()
    with torch.no_grad():
        a, b = model(x), model(x)
    if torch.equal(a, b):
        return CheckOutcome(False, "dropout has no effect in training mode.",
                            "Two forward passes with model.train() gave the same output.")
    model.eval()
    with torch.no_grad():
        c, d, first = model(x), model(x), model(x[:1])
    if not torch.allclose(c, d):
        return CheckOutcome(False, "the model is random in evaluation mode.",
                            "After model.eval() dropout must be off.")
    if not torch.allclose(first, c[:1], rtol=1e-4, atol=1e-5):
        return CheckOutcome(False, "in evaluation mode an image's output depends on its batch.",
                            "Batch normalization should use its running statistics after "
                            "model.eval().")
    return CheckOutcome(True, "convolution, pooling, dropout (training mode only) and batch "
                        "normalization are there.")


@register("ex2.augment")
def check_augment(augment) -> CheckOutcome:
    """Same shapes, dtype and labels; input untouched; images changed a little."""
    import torch

    for size, n in ((8, 32), (28, 8)):
        x, y = _digit_batch(n, size, seed=2)
        x0, y0 = x.clone(), y.clone()
        torch.manual_seed(0)
        result = augment(x, y)
        if not isinstance(result, tuple) or len(result) != 2:
            return CheckOutcome(False, "augment should return (images, labels).",
                                f"given: {type(result).__name__}")
        xa, ya = result
        what = f"augment on {n} images of shape (1, {size}, {size})"
        if not isinstance(xa, torch.Tensor) or xa.shape != x.shape or xa.dtype != x.dtype:
            return CheckOutcome(False, f"{what}: the images should keep shape and dtype.",
                                f"expected {tuple(x.shape)} {x.dtype}, given "
                                f"{tuple(getattr(xa, 'shape', ()))} {getattr(xa, 'dtype', '')}")
        if not torch.equal(torch.as_tensor(ya), y0):
            return CheckOutcome(False, f"{what}: the labels must not change.",
                                f"expected {fmt(y0)}\n  given    {fmt(to_numpy(ya))}")
        if not (torch.equal(x, x0) and torch.equal(y, y0)):
            return CheckOutcome(False, f"{what}: the input tensors were modified in place.",
                                "Return new tensors and leave the input as it was.")
        if not torch.isfinite(xa).all():
            return CheckOutcome(False, f"{what}: the images contain NaN or inf.")
        moved = (xa - x).abs().flatten(1).amax(dim=1) > 1e-3
        if moved.float().mean() < 0.5:
            return CheckOutcome(False, f"{what}: only {int(moved.sum())} of {n} images changed.",
                                "Every image should get its own small random shift/rotation.")
        a = x.flatten(1) - x.flatten(1).mean(dim=1, keepdim=True)
        b = xa.flatten(1) - xa.flatten(1).mean(dim=1, keepdim=True)
        corr = (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1)).clamp_min(1e-12)
        if corr.median() < 0.5:
            return CheckOutcome(False, f"{what}: the images change too much.",
                                f"median correlation with the originals {corr.median():.2f}; "
                                "keep shifts and rotations small.")
    return CheckOutcome(True, "shapes, dtype and labels are kept, the input is untouched, and "
                        "the images change a little.")


@register("ex2.training")
def check_training(train_model, predict) -> CheckOutcome:
    """A few epochs on 300 digits: per-epoch history, falling loss, int64 predictions."""
    from torch import nn

    seeded_torch()
    x, y = _digit_batch(400, seed=3)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(8 * 16, 10))
    return train_and_check(
        train_model, predict, model, x, y, n_train=300, epochs=4, kind="images", augment_fn=None,
        summary=lambda losses, acc: (f"4 epochs of a small CNN on 300 digits: loss {losses[0]:.2f} "
                                     f"-> {losses[-1]:.2f}, validation accuracy {acc[-1]:.2f}; "
                                     "predict returns int64 labels."))



@register("ex2.confusion")
def check_confusion(confusion_matrix) -> CheckOutcome:
    """Counts of (true, predicted) pairs, rows = true class."""
    y_true = np.array([0, 0, 1, 2, 2, 2, 0])
    y_pred = np.array([0, 1, 1, 2, 0, 2, 0])
    want = np.array([[2, 1, 0, 0], [0, 1, 0, 0], [1, 0, 2, 0], [0, 0, 0, 0]])
    got = np.asarray(confusion_matrix(y_true, y_pred, 4))
    if got.shape != want.shape or not np.array_equal(got, want):
        hint = ("rows and columns are swapped: C[i, j] counts true i predicted as j"
                if got.shape == want.shape and np.array_equal(got, want.T) else
                "C[i, j] counts samples of true class i predicted as j; the matrix is "
                "num_classes x num_classes even when a class never occurs")
        return CheckOutcome(False, "confusion_matrix is not right.",
                            f"y_true = {y_true}, y_pred = {y_pred}, num_classes = 4\n"
                            f"  expected:\n{want}\n  given:\n{got}\n{hint}")
    return CheckOutcome(True, "the counts are right (rows: true class, columns: predicted).")
