"""Held-out evaluation of exported models: the driver and what ``score`` reads from it.

An exercise that grades a trained model on held-out data declares an
:class:`~dlbasics_grader.spec.Evaluation`: a probe in the learner's sandbox
returns the model as a TorchScript graph (:func:`dlbasics.checks._export.export_graph`),
and :func:`graph_outputs` runs that graph on the held-out inputs in a fresh
sandbox that runs no learner code (the engine starts it). The held-out inputs
never enter the learner's process. ``score`` then computes the metric from the
outputs here, in the grader: accuracy, perplexity, anything.

The driver also runs the graph once more with the entries of every parameter
and buffer shuffled (its *reset* outputs): a model that has learned from its
training data is near chance then, while a rule, a lookup table or a classifier
hidden in the graph's constants is not. Tensor constants baked into the graph
(rather than held as parameters) are counted, so that a table of answers
cannot hide there either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from dlbasics_grader.spec import Probe, ProbeResult, as_array

__all__ = ["MAX_CONSTANT_ELEMENTS", "graph_outputs", "graph_probe", "graph_problem",
           "outputs_of", "tier"]

MAX_CONSTANT_ELEMENTS = 4096
"""Most tensor elements a graph may hold as constants outside its parameters and buffers
(traced models hold a few scalars; a table of answers or of training images holds thousands)."""


def graph_outputs(ns, inputs):
    """Run the exported graph ``inputs["graph"]`` on each set of ``inputs["sets"]``.

    Runs in the evaluation sandbox (self-contained, ``ns`` is empty). Each set
    ``inputs[name]`` (an array ``(n, ...)``) goes through the graph in batches of
    ``inputs["batch"]`` rows, the shape it was traced with (the last batch is
    filled up with the set's first rows, whose outputs are dropped); the first
    element of a tuple output is kept. Returns ``<name>_out`` per set,
    ``constants`` (tensor elements held as graph constants), ``ops`` (the
    operations left once dead code is removed) and, with ``inputs["reset"]``,
    ``reset_out``: the first set's outputs with every parameter and buffer's
    entries shuffled.
    """
    import io
    import warnings

    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        graph = torch.jit.load(io.BytesIO(inputs["graph"].tobytes()), map_location="cpu")
    graph.eval()
    size = int(inputs["batch"])

    def run(X):
        X = torch.from_numpy(X)
        outs = []
        for start in range(0, len(X), size):
            chunk = X[start:start + size]
            n = len(chunk)
            if n < size:
                chunk = torch.cat([chunk, X[:size - n]])
            with torch.no_grad():
                y = graph(chunk)
            if isinstance(y, (tuple, list)):
                y = y[0]
            outs.append(y[:n].detach().float())
        return torch.cat(outs).numpy()

    out = {f"{name}_out": run(inputs[name]) for name in inputs["sets"]}
    inlined = graph.inlined_graph
    torch._C._jit_pass_dce(inlined)
    out["ops"] = sorted({node.kind() for node in inlined.nodes()})
    out["constants"] = int(sum(
        node.t("value").numel() for node in inlined.nodes()
        if node.kind() == "prim::Constant" and node.output().type().kind() == "TensorType"))
    if inputs.get("reset"):
        gen = torch.Generator().manual_seed(int(inputs["reset_seed"]))
        with torch.no_grad():
            for _, t in [*graph.named_parameters(), *graph.named_buffers()]:
                if t.is_floating_point() and t.numel() > 1:
                    t.copy_(t.flatten()[torch.randperm(t.numel(), generator=gen)].view_as(t))
        out["reset_out"] = run(inputs[inputs["sets"][0]])
    return out


def graph_probe(sets: Mapping[str, np.ndarray], batch: int, *, reset_seed: int | None = None,
                timeout_s: float = 60.0) -> Probe:
    """The :func:`graph_outputs` probe on ``sets`` (name -> array; each set has at least
    ``batch`` rows), with the reset run on the first set when ``reset_seed`` is given.
    The engine adds the graph (input ``graph``) and names the probe after its evaluation."""
    names = list(sets)
    short = [name for name, arr in sets.items() if len(arr) < batch]
    if short:
        raise ValueError(f"held-out sets {short} have fewer than batch={batch} rows")
    inputs: dict[str, Any] = {**sets, "sets": names, "batch": int(batch),
                              "reset": reset_seed is not None,
                              "reset_seed": int(reset_seed or 0) % 2 ** 31}
    return Probe.from_function(graph_outputs, inputs=inputs, timeout_s=timeout_s)


def outputs_of(result: ProbeResult, name: str, shape: Sequence[int]) -> tuple[np.ndarray | None, str]:
    """The finite float outputs ``<name>_out`` of shape ``shape``, or why they are unusable."""
    if not result.ok:
        return None, result.error or result.describe_failure()
    arr, problem = as_array(result.outputs.get(f"{name}_out"), "the graph's output")
    if arr is None:
        return None, problem
    if arr.shape != tuple(shape):
        return None, (f"the exported model's output has shape {arr.shape} on the held-out "
                      f"data, expected {tuple(shape)}")
    if not np.all(np.isfinite(arr)):
        return None, "the exported model's output contains NaN or inf on the held-out data"
    return arr.astype(np.float64), ""


def graph_problem(result: ProbeResult, metric_of_reset, *, chance: str) -> str | None:
    """Why the graph's held-out metric is not the trained model's (``None``: it is).

    ``metric_of_reset(reset_out)`` returns ``(bad, text)``: whether the graph with
    shuffled parameters still does too well, and its metric for the message.
    """
    constants = result.outputs.get("constants")
    if not isinstance(constants, int) or constants > MAX_CONSTANT_ELEMENTS:
        return (f"the exported graph holds {constants} numbers as constants (at most "
                f"{MAX_CONSTANT_ELEMENTS}): what a model learns must sit in its parameters "
                "(nn.Parameter) and buffers")
    reset = result.outputs.get("reset_out")
    bad, text = metric_of_reset(reset)
    if bad:
        return (f"with its parameters shuffled the exported model still {text} ({chance}): "
                "its answers do not come from what it learned")
    return None


def tier(value: float, tiers: Sequence[tuple[float, float]], *, higher_is_better: bool = True
         ) -> tuple[float, str]:
    """Points and a coarse description of ``value`` for the learner.

    ``tiers`` is ``(threshold, points)`` from the best threshold down. The
    description names the band reached (``"at least 85 %"``, ``"below 70 %"``),
    never the value itself: repeated submissions cannot read the held-out set.
    """
    for threshold, points in tiers:
        if (value >= threshold) if higher_is_better else (value <= threshold):
            return points, f"{'at least' if higher_is_better else 'at most'} {_fmt(threshold)}"
    worst = tiers[-1][0]
    return 0.0, f"{'below' if higher_is_better else 'above'} {_fmt(worst)}"


def _fmt(threshold: float) -> str:
    return f"{threshold:.0%}" if 0 < threshold <= 1 else f"{threshold:g}"
