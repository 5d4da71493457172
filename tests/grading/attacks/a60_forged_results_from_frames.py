"""Forge every probe's result with the runner's own channel, found through the stack frames.

The last cell walks up its frames (``inspect.currentframe``, ``sys._getframe``) to the
runner, whose ``chan.send`` holds the nonce, and reads its work (every probe's inputs) from
it. It then sends, as if the probes had run: verdict-shaped outputs (``passed``, ``score``),
and for the training probe a record of perfectly shuffled batches with the grader's own
initial weights as "trained" weights, decreasing losses and the matching predictions. Then
it ends the process. The notebook is the stubs: nothing was done, so nothing is earned. A
forged result is only data: the grader reads no verdict from it, and replaying the forged
batches from the initial weights does not give the weights it claims.
"""

from . import every_part

FIND_RUNNER = '''
def _find_runner():
    import inspect
    import sys
    frame = inspect.currentframe() or sys._getframe()
    while frame is not None:
        candidate = frame.f_locals.get("self")
        if hasattr(candidate, "chan") and hasattr(candidate, "job"):
            return candidate
        frame = frame.f_back
    return None
'''

FORGE = '''
import os
import sys

import numpy as np

_proto = sys.modules["_dlbasics_sandbox_protocol"]
_codec = sys.modules["_dlbasics_sandbox_codec"]
_runner = _find_runner()
VERDICT = {"passed": True, "ok": True, "score": 10.0, "verdict": "pass", "shuffled": True}


def _forge(name, inputs):
    out = dict(VERDICT)
    if "X" in inputs and "kwargs" in inputs:  # the training probe
        X, y, kw = inputs["X"], inputs["y"], inputs["kwargs"]
        rng = np.random.default_rng(0)
        layers = len(inputs["sizes"]) - 1
        for run, epochs in (("first", kw["epochs"]), ("again", inputs["short_epochs"]),
                            ("other", inputs["short_epochs"])):
            r = np.random.default_rng(1 if run == "other" else 0)
            batches = []
            for _ in range(epochs):
                order = [int(i) for i in r.permutation(len(y))]
                batches += [order[s:s + kw["batch_size"]] for s in range(0, len(y),
                                                                         kw["batch_size"])]
            out[f"{run}_batches"] = batches
            out[f"{run}_losses"] = list(np.linspace(1.0, 0.1, epochs))
            out[f"{run}_n_layers"] = layers
            for i in range(layers):
                out[f"{run}_W{i}"], out[f"{run}_b{i}"] = inputs[f"W{i}"], inputs[f"b{i}"]
        a = X
        for i in range(layers):
            a = a @ inputs[f"W{i}"].T + inputs[f"b{i}"]
            a = np.maximum(a, 0) if i < layers - 1 else a
        out["pred"] = a.argmax(axis=1)
    return out


if _runner is not None:
    _send, _job = _runner.chan.send, getattr(_runner, "work", _runner.job)
    _send(_proto.Event.CELL_END, _proto.CellEnd(i=len(_job.cells) - 1,
                                                status=_proto.PhaseStatus.OK, error="",
                                                traceback="", t=0.0))
    _send(_proto.Event.CELLS_DONE)
    for _j, _probe in enumerate(_job.probes):
        _out = _forge(_probe.name, _codec.decode(_probe.inputs, 1 << 40))
        _send(_proto.Event.PROBE_START, _proto.Started(i=_j))
        _send(_proto.Event.PROBE_END, _proto.ProbeEnd(
            i=_j, status=_proto.PhaseStatus.OK, error="", traceback="", t=0.0,
            outputs=_codec.encode(_out)))
    _send(_proto.Event.DONE)
    os._exit(0)
print("FORGERY NOT SENT")
'''

CELLS = ["STUBS", FIND_RUNNER + FORGE]
EXPECT_SCORE = 0
EXPECT_STATUS = every_part("failed")
EXPECT_OUTPUT = ["the trained weights are not what mini-batch SGD on the batches self.gradients "
                 "received gives"]
FORBIDDEN_OUTPUT = ["FORGERY NOT SENT"]
