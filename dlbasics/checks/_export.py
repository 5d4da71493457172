"""Models leave the learner's process as graphs: TorchScript files made by tracing.

The grader never asks a learner's Python object what it predicts on held-out
data. It traces the trained model on an example batch (``torch.jit.trace`` in
evaluation mode), which records the tensor operations ``forward`` runs and the
weights they use, and evaluates that file in a sandbox of its own that runs no
learner code. A model whose ``forward`` cannot be traced (it returns something
other than tensors, converts tensors to NumPy, ...) cannot be graded for
accuracy; :func:`check_exportable` says so at once in the public checks.

Self-contained functions (imports inside), so that the grader can run them in
its sandbox too.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def export_graph(model: Any, example: Any, *, training: bool = False) -> np.ndarray:
    """Trace ``model`` on ``example`` and return the TorchScript file's bytes.

    Parameters
    ----------
    model : torch.nn.Module
        Traced on a copy, so the model itself keeps its mode and statistics.
    example : torch.Tensor
        One input batch; the graph is evaluated on batches of the same shape.
    training : bool
        Trace in training mode (dropout active, batch statistics) instead of
        evaluation mode.

    Returns
    -------
    np.ndarray
        ``uint8`` array of the file's bytes.

    Raises
    ------
    RuntimeError
        When the model cannot be copied or traced, with the reason.
    """
    import copy
    import io
    import warnings

    import numpy as np
    import torch

    try:
        model = copy.deepcopy(model)
    except Exception as exc:
        raise RuntimeError(f"the model cannot be copied ({type(exc).__name__}: {exc})") from exc
    model.train(training)

    class Tensors(torch.nn.Module):
        """The model, with only the tensors of a tuple output kept (``(logits, None)``)."""

        def __init__(self, inner):
            super().__init__()
            self.model = inner

        def forward(self, x):
            out = self.model(x)
            if isinstance(out, tuple):
                return tuple(o for o in out if isinstance(o, torch.Tensor))
            return out

    wrapped = Tensors(model).train(training)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graph = torch.jit.trace(wrapped, example, check_trace=False)
        buffer = io.BytesIO()
        torch.jit.save(graph, buffer)
    except Exception as exc:
        raise RuntimeError(
            f"torch.jit.trace could not record forward ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}); forward must compute its output "
            "from its input with tensor operations and return a tensor (or a tuple of "
            "tensors)") from exc
    return np.frombuffer(buffer.getvalue(), dtype=np.uint8).copy()


def load_graph(data: np.ndarray) -> Any:
    """The graph :func:`export_graph` returned, loaded back (``torch.jit.ScriptModule``)."""
    import io
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.load(io.BytesIO(np.asarray(data, dtype=np.uint8).tobytes()),
                              map_location="cpu")


def export_problem(model: Any, example: Any) -> str | None:
    """Why ``model`` cannot be graded as a graph (``None``: it can).

    Traces ``model`` on ``example``, loads the graph back and compares its
    output with the model's own in evaluation mode on ``example`` with its
    rows in reverse order (a graph that recorded values instead of
    operations gives the old rows' answers).
    """
    import torch

    try:
        graph = load_graph(export_graph(model, example))
    except RuntimeError as exc:
        return str(exc)
    other = example.flip(0)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            want, got = model(other), graph(other)
    finally:
        model.train(was_training)
    want = want[0] if isinstance(want, (tuple, list)) else want
    got = got[0] if isinstance(got, (tuple, list)) else got
    if not torch.allclose(want.float(), got.float(), rtol=1e-4, atol=1e-5):
        return ("the traced graph computes something else than forward: forward takes a path "
                "that depends on Python values (an if on a tensor's value, a counter, NumPy) "
                "that tracing cannot record")
    return None
