"""Helpers the hidden tests of every exercise share (not an exercise: no ``ex`` prefix).

The grader imports the hidden-test modules as one package, so ``exN.py``
imports these with ``from ._common import ...``; the Gradescope zip copies this
file next to the exercise's module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from dlbasics_grader.spec import Limits, Part, ProbeResult, Submission, TestResult

TORCH_LIMITS = Limits(
    total_wall_s=300.0,
    cell_wall_s=120.0,
    cpu_s=400,
    memory_mb=4096,
    memory_kind="data",
    nproc=256,
    file_size_mb=64,
    open_files=256,
    output_kb=64,
    result_mb=16,
)
"""Sandbox limits of the PyTorch exercises (PyTorch reserves address space it never touches,
hence ``memory_kind="data"``)."""


def trained_outputs(ns, inputs, make_model):
    """What the PyTorch exercises' training drivers return (a helper that travels with their
    source, ``Probe.from_function(..., helpers=(trained_outputs,))``; runs in the sandbox).

    Trains ``make_model()`` with the learner's ``train_model`` on ``inputs`` (seeded, one
    thread) and returns the history's curves, ``predict``'s labels on the validation inputs
    and the trained model as a graph traced on ``inputs["batch"]`` training rows (the grader
    evaluates it where no learner code runs).
    """
    import numpy as np
    import torch

    from dlbasics.checks._export import export_graph

    torch.manual_seed(0)
    torch.set_num_threads(1)
    X_tr, y_tr, X_val, y_val = (torch.from_numpy(inputs[k])
                                for k in ("X_train", "y_train", "X_val", "y_val"))
    model = make_model()
    history = ns["train_model"](model, X_tr, y_tr, X_val, y_val)
    out = {"history_type": type(history).__name__}
    if isinstance(history, dict):
        for key in ("train_loss", "val_accuracy"):
            try:
                out[key] = [float(v) for v in history[key]]
            except Exception as exc:
                out[f"{key}_error"] = f"{type(exc).__name__}: {exc}"
    try:
        pred = ns["predict"](model, X_val)
        out["pred_val"] = pred.detach().numpy() if isinstance(pred, torch.Tensor) else np.asarray(pred)
    except Exception as exc:
        out["pred_val_error"] = f"{type(exc).__name__}: {exc}"
    try:
        out["graph"] = export_graph(model, X_tr[:inputs["batch"]])
    except Exception as exc:
        out["graph_error"] = f"{type(exc).__name__}: {exc}"
    return out


def training_parts(exercise: str, acc_full: float) -> tuple[Part, Part]:
    """The training-loop part and the held-out accuracy part the PyTorch exercises share."""
    return (Part(f"{exercise}.training", 2.0, "Training loop: history, shuffling, evaluation mode, "
                 "best weights; predict returns labels"),
            Part(f"{exercise}.accuracy", 3.0,
                 f"Held-out accuracy >= {acc_full:.0%} within the CPU budget"))


def bullets(lines: Sequence[str]) -> str:
    """``lines`` as a list, one ``- line`` each."""
    return "\n".join(f"- {x}" for x in lines)


def point_unless(problems: Sequence[str], lines: list[str]) -> float:
    """1 point when a requirement shows no ``problems``; else 0, and ``problems`` join ``lines``."""
    lines.extend(problems)
    return 0.0 if problems else 1.0


def verdict(part: Part, score: float, lines: Sequence[str], passed: str | None = None
            ) -> TestResult:
    """Full marks with ``passed`` (by default the part's ``full_credit``) when ``score`` is the
    part's maximum, else ``score`` points and every problem in ``lines``."""
    if score == part.max_score:
        return part.passed(part.full_credit if passed is None else passed)
    return part.failed(bullets(lines), score=score)


def not_implemented(problems: Sequence[str]) -> bool:
    """Whether every problem is a stub still raising ``NotImplementedError``."""
    return bool(problems) and all("NotImplementedError" in p for p in problems)


def from_probe(part: Part, r: ProbeResult, submission: Submission, names: Sequence[str],
               what: str = "definition") -> TestResult:
    """Zero marks for a probe that did not return, naming a missing definition plainly."""
    if r.status == "error" and r.error.startswith("KeyError: "):
        name = r.error[len("KeyError: "):].strip("'\"")
        if name in names and name not in submission.static.names:
            return part.failed(f"No {what} called {name} was defined (keep the names and "
                               "signatures from the exercise notebook). "
                               + submission.cell_error_summary(), status="error")
    return part.from_probe(r)


Scorer = Callable[[Part, dict], TestResult]


def score_parts(parts: Sequence[Part], results: Mapping[str, ProbeResult], submission: Submission,
                simple: Mapping[str, tuple[str, Scorer]], names: Sequence[str],
                joint: Mapping[tuple[str, ...], tuple[str, Callable[..., Sequence[TestResult]]]] = {},
                what: str = "definition") -> list[TestResult]:
    """One result per part, in the parts' order.

    ``simple[part name] = (probe name, scorer(part, outputs))``; ``joint[(part names)] =
    (probe name, scorer(*parts, outputs))`` for a probe that scores several parts at once. A
    probe that did not return gives its parts 0 with its status (:func:`from_probe`).
    """
    by_name = {p.name: p for p in parts}
    out: dict[str, TestResult] = {}
    for name, (probe, fn) in simple.items():
        r = results[probe]
        out[name] = fn(by_name[name], r.outputs) if r.ok else from_probe(
            by_name[name], r, submission, names, what)
    for group, (probe, fn) in joint.items():
        r = results[probe]
        if r.ok:
            out.update(zip(group, fn(*(by_name[g] for g in group), r.outputs), strict=True))
        else:
            out.update((g, from_probe(by_name[g], r, submission, names, what)) for g in group)
    return [out[p.name] for p in parts]


def loop_problems(r: ProbeResult, inputs: dict) -> dict[str, str]:
    """What broke each rule of the training loop, judged from the weights of the grader's probe
    model (:func:`dlbasics.checks._training.training_loop_probe`) trained on ``inputs``."""
    from dlbasics.checks._training import LOOP_RULES, loop_rule_problems

    if r.ok:
        return loop_rule_problems(r.outputs, inputs)
    why = r.describe_failure().splitlines()[0]
    return dict.fromkeys(LOOP_RULES, f"training the grader's probe model failed: {why}")


def training_scorer(results: Mapping[str, ProbeResult], submission: Submission, loop_inputs: dict,
                    score_training: Callable) -> tuple[str, Callable]:
    """The ``joint`` entry of :func:`score_parts` for a training part and its accuracy part.

    ``score_training(training_part, accuracy_part, outputs, heldout, loop, cpu_s)`` gets the
    training probe's outputs, the evaluation of its exported graph (``results["heldout"]``),
    what :func:`loop_problems` found, and the CPU seconds of the notebook's cells and the
    training run, measured by the grader from outside the sandbox (the training probe runs
    first, so nothing else of the learner's ran in between).
    """
    loop = loop_problems(results["loop_probe"], loop_inputs)
    cpu_s = submission.cells_cpu_s() + results["training_probe"].cpu_s
    return ("training_probe",
            lambda t, a, o: score_training(t, a, o, results["heldout"], loop, cpu_s))
