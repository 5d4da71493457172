"""What the sandboxed process can and cannot do, seen from inside it.

A tiny exercise whose probe reports the sandbox's view of the machine:
user, environment, working directory, network, files, limits.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from dlbasics_grader.engine import grade
from dlbasics_grader.spec import Exercise, Limits, Part, Probe, SandboxPolicy

from ..helpers import HIDDEN, REPO, write_notebook

ROOT = os.geteuid() == 0


def look_around(ns, inputs):
    import os
    import resource

    def can(fn):
        try:
            fn()
            return "yes"
        except Exception as exc:
            return type(exc).__name__

    out = {
        "uid": os.getuid(),
        "cwd": os.getcwd(),
        "env": sorted(f"{k}={v}" for k, v in os.environ.items()),
        "tmp": sorted(os.listdir("/tmp")) if can(lambda: os.listdir("/tmp")) == "yes"
        else can(lambda: os.listdir("/tmp")),
        "hidden_visible": can(lambda: os.listdir(inputs["hidden"])),
        "hidden_file": can(lambda: open(inputs["hidden"] + "/ex1.py").read()),
        "cell_value": ns.get("value"),
        "rlimit_as": resource.getrlimit(resource.RLIMIT_AS)[0],
        "rlimit_nproc": resource.getrlimit(resource.RLIMIT_NPROC)[0],
        "rlimit_cpu": resource.getrlimit(resource.RLIMIT_CPU)[0],
        "write_cwd": can(lambda: open("scratch.txt", "w").write("ok")),
        "write_root": can(lambda: open("/sandbox-canary", "w").write("x")),
    }
    with open("/proc/net/dev") as fh:
        out["net_devices"] = sorted(line.split(":")[0].strip() for line in fh.readlines()[2:])
    return out


PART = Part("sb.look", 1.0, "look around")


def _exercise(**kw) -> Exercise:
    def probes(seed):
        return [Probe.from_function(look_around, inputs={"hidden": str(HIDDEN)}, timeout_s=10)]

    def score(results, submission):
        r = results["look_around"]
        SEEN.clear()
        SEEN.update(r.outputs)
        SEEN["_status"] = r.status
        SEEN["_error"] = r.error
        return [PART.passed("looked") if r.ok else PART.from_probe(r)]

    return Exercise(name="sb", title="sandbox", notebook="sb.ipynb", parts=(PART,),
                    probes=probes, score=score, **kw)


SEEN: dict = {}


@pytest.fixture
def seen(tmp_path, monkeypatch):
    monkeypatch.setenv("DLBASICS_TEST_SECRET", "hunter2")
    path = write_notebook(tmp_path / "sb.ipynb", ["value = 6 * 7"])
    report = grade(_exercise(limits=Limits(memory_mb=900, nproc=20, cpu_s=30)), path,
                   private_paths=[HIDDEN])
    assert report.score == 1, (report.output, SEEN)
    return dict(SEEN), report


def test_the_probe_sees_the_notebook_namespace(seen):
    assert seen[0]["cell_value"] == 42


def test_environment_is_clean_and_deterministic(seen):
    env = dict(e.split("=", 1) for e in seen[0]["env"])
    assert "DLBASICS_TEST_SECRET" not in env
    assert env["OMP_NUM_THREADS"] == "1" and env["PYTHONHASHSEED"].isdigit()
    assert env["HOME"] == seen[0]["cwd"]
    assert not any(k.startswith(("SSH_", "AWS_", "GITHUB_TOKEN")) for k in env)


def test_limits_are_applied(seen):
    s = seen[0]
    assert s["rlimit_as"] == 900 * 2**20
    assert s["rlimit_cpu"] == 30
    assert s["write_cwd"] == "yes"
    assert s["write_root"] in ("PermissionError", "OSError")


@pytest.mark.skipif(not ROOT, reason="isolation by user, namespaces and mounts needs root")
def test_as_root_the_sandbox_is_another_user_without_network_or_secrets(seen):
    s, report = seen
    assert s["uid"] >= 61000
    assert s["net_devices"] == ["lo"]
    # The private /tmp is empty, except for the path down to a repository or
    # virtual environment that itself lives under /tmp (re-exposed read-only).
    # Landlock then lets the sandbox read only those paths, not list /tmp itself.
    reexposed = {Path(p).parts[2] for p in (sys.prefix, str(REPO)) if p.startswith("/tmp/")}
    if reexposed and s["tmp"] == "PermissionError":
        assert report.isolation.get("landlock", "").startswith("ABI")
    else:
        assert set(s["tmp"]) <= reexposed
    assert s["hidden_visible"] == "FileNotFoundError"
    assert s["hidden_file"] == "FileNotFoundError"
    assert report.isolation["network"].startswith("none")
    assert str(HIDDEN) in report.isolation["filesystem"] or "/tmp" in report.isolation["filesystem"]


def cpu_burner(ns, inputs):
    import signal

    signal.signal(signal.SIGALRM, signal.SIG_IGN)  # ignores the wall-clock interruption
    x = 0
    while True:
        x += 1


def test_cpu_time_limit_stops_a_busy_loop(tmp_path):
    def probes(seed):
        return [Probe.from_function(cpu_burner, timeout_s=30)]

    def score(results, submission):
        return [PART.from_probe(results["cpu_burner"])]

    ex = Exercise(name="sb", title="cpu", notebook="sb.ipynb", parts=(PART,), probes=probes,
                  score=score, limits=Limits(cpu_s=2, total_wall_s=40))
    t0 = time.monotonic()
    report = grade(ex, write_notebook(tmp_path / "sb.ipynb", ["x = 1"]), private_paths=[HIDDEN])
    assert time.monotonic() - t0 < 20
    assert report.tests[0].status == "timeout"
    assert "CPU time limit" in report.tests[0].output


def torch_probe(ns, inputs):
    import torch

    return {"sum": float(torch.ones(3, 4).sum()), "threads": torch.get_num_threads()}


@pytest.mark.slow
def test_pytorch_runs_under_a_data_limit(tmp_path):
    """PyTorch reserves far more address space than it uses: the data limit lets it run."""
    def probes(seed):
        return [Probe.from_function(torch_probe, timeout_s=60)]

    def score(results, submission):
        r = results["torch_probe"]
        SEEN.update(r.outputs)
        return [PART.passed() if r.ok else PART.from_probe(r)]

    ex = Exercise(name="sb", title="torch", notebook="sb.ipynb", parts=(PART,), probes=probes,
                  score=score, limits=Limits(memory_kind="data", memory_mb=2048),
                  policy=SandboxPolicy(preload=("numpy", "torch")))
    report = grade(ex, write_notebook(tmp_path / "sb.ipynb", ["import torch"]),
                   private_paths=[HIDDEN])
    assert report.score == 1, report.tests[0].output
    assert SEEN["sum"] == 12.0


@pytest.mark.skipif(not ROOT, reason="the root sandbox's set-up failure needs root")
def test_a_sandbox_that_cannot_start_is_a_grader_error_with_results(tmp_path, monkeypatch, ex1):
    """Without namespaces, a Python under /root cannot run as the sandbox user: say so."""
    import sys
    from pathlib import Path

    from dlbasics_grader.sandbox.fsplan import world_reachable

    if world_reachable(Path(sys.base_prefix).resolve()) is None:
        pytest.skip("this Python is readable by every user, so the sandbox starts anyway")
    monkeypatch.setenv("DLBASICS_SANDBOX_DISABLE", "namespaces")
    report = grade(ex1, write_notebook(tmp_path / "nb.ipynb", ["x = 1"]), private_paths=[HIDDEN])
    assert report.score == 0 and {t.status for t in report.tests} == {"error"}
    assert "tell your instructor" in report.tests[0].output
    assert "cannot read the Python installation" in report.grader_error
