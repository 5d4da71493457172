"""The host<->child contract (dlbasics_grader.sandbox.protocol) is decoded strictly on
both sides: a missing, unknown or mistyped field is an error, never a default."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from dlbasics_grader.sandbox import protocol
from dlbasics_grader.sandbox.job import Job, RawRun
from dlbasics_grader.sandbox.protocol import (
    ChildJob,
    ChildWork,
    Event,
    PhaseStatus,
    ProtocolError,
)
from dlbasics_grader.sandbox.spawn import RUNNER
from dlbasics_grader.sandbox.watch import MessageGate
from dlbasics_grader.spec import Limits, SandboxPolicy


def _job() -> ChildJob:
    return ChildJob(
        nonce="n" * 32, workdir="/tmp/w",
        policy=protocol.Policy(forbidden_modules=["torch"], reason="numpy only", preload=[],
                               allow_processes=False),
        cell_timeout_s=2.0, wall_factor=2.0, max_result_bytes=1000,
        limits=protocol.ResourceLimits(cpu_s=5, memory_mb=512,
                                       memory_kind=protocol.MemoryKind.AS, file_size_mb=8,
                                       open_files=64, nproc_total=16),
        isolation=protocol.IsolationPlan(
            uid=None, gid=None, workdir="/tmp/w",
            hide=[protocol.Mask(path="/srv/hidden", mode="755")], rebind=[], need_mounts=False,
            runtime=["/run"],
            tmp_rebind=[], tmp_write=["/tmp"], font_cache=None, work_mb=32, tmp_mb=32,
            mount_ns=False, user_ns=True, landlock=True, seccomp=True, cgroup=[],
            cgroup_summary="", never=["/srv/hidden"], exclude_entries=["torch"],
            extra_packages=["dlbasics"]))


def _work() -> ChildWork:
    return ChildWork(
        cells=[protocol.Cell(index=0, code="x = 1", skipped="")],
        probes=[protocol.ProbeCall(name="p", source="def f(ns, i):\n    return {}\n",
                                   entry="f", timeout_s=1.5, inputs={"a": [1, 2]})],
        start_probe=0)


def _wire(value=None) -> dict:
    return json.loads(json.dumps(protocol.to_wire(value or _job())))


def test_a_job_and_its_work_survive_the_trip_through_json_unchanged():
    assert protocol.from_wire(ChildJob, _wire()) == _job()
    assert protocol.from_wire(ChildWork, _wire(_work())) == _work()


def test_the_job_the_sandbox_starts_with_holds_nothing_from_the_notebook():
    """The sandbox confines itself before the notebook is read: its job has no cells or
    probes, and they arrive (strictly decoded too) as the work."""
    assert not {"cells", "probes", "start_probe"} & set(_wire())
    wire = _wire(_work())
    wire["cells"][0]["skiped"] = wire["cells"][0].pop("skipped")
    with pytest.raises(ProtocolError, match="unknown field.*'skiped'"):
        protocol.from_wire(ChildWork, wire)


@pytest.mark.parametrize("field", ["landlock", "seccomp", "never", "hide"])
def test_a_missing_protection_field_is_an_error_not_off(field):
    wire = _wire()
    del wire["isolation"][field]
    with pytest.raises(ProtocolError, match=f"missing field.*'{field}'"):
        protocol.from_wire(ChildJob, wire)


def test_a_misspelt_key_is_an_error_naming_both_spellings():
    wire = _wire()
    wire["isolation"]["secomp"] = wire["isolation"].pop("seccomp")
    with pytest.raises(ProtocolError, match="unknown field.*'secomp'.*missing field.*'seccomp'"):
        protocol.from_wire(ChildJob, wire)


@pytest.mark.parametrize(("where", "value"), [
    (("isolation", "landlock"), "yes"),      # a string is not a bool
    (("isolation", "work_mb"), True),        # a bool is not an int
    (("isolation", "uid"), 1.0),             # a float is not an int
    (("limits", "memory_kind"), "rss"),      # not a MemoryKind
    (("cell_timeout_s",), float("nan")),     # not finite
    (("isolation", "hide"), {"path": "/"}),  # not a list
])
def test_a_mistyped_value_is_an_error(where, value):
    wire = _wire()
    target = wire
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    with pytest.raises(ProtocolError):
        protocol.from_wire(ChildJob, wire)


def test_status_values_are_enums_equal_to_their_text():
    assert PhaseStatus("out of memory") is PhaseStatus.OUT_OF_MEMORY
    assert PhaseStatus.OK == "ok" and f"{PhaseStatus.TIMEOUT}" == "timeout"
    with pytest.raises(ProtocolError, match="not one of"):
        protocol.read_message({"ev": "cell_end", "i": 0, "status": "passed", "error": "",
                               "traceback": "", "t": 0.1})


def _run_runner(tmp_path, job: dict | bytes, work: bytes
                ) -> tuple[subprocess.CompletedProcess, list]:
    """Run the runner on ``job`` and ``work`` (written to its job and work pipes, as
    :class:`~dlbasics_grader.sandbox.spawn.RunnerProcess` and the launch do); its messages."""
    fds = []
    for data in (job if isinstance(job, bytes) else json.dumps(job).encode(), work):
        read_end, write_end = os.pipe()
        os.write(write_end, data)
        os.close(write_end)
        fds.append(read_end)
    job_read, work_read = fds
    read_fd, write_fd = os.pipe()
    proc = subprocess.run([sys.executable, str(RUNNER), str(job_read), str(write_fd),
                           str(work_read)], pass_fds=(job_read, write_fd, work_read),
                          cwd=tmp_path, capture_output=True, timeout=60)
    for fd in (job_read, write_fd, work_read):
        os.close(fd)
    with os.fdopen(read_fd, "rb") as fh:
        return proc, [json.loads(line) for line in fh.read().splitlines()]


def test_the_runner_refuses_a_job_with_a_misspelt_key_before_running_anything(tmp_path):
    wire = _wire()
    wire["isolation"]["landlok"] = wire["isolation"].pop("landlock")
    work = _wire(_work())
    work["cells"] = [{"index": 0, "code": "open('ran', 'w')", "skipped": ""}]
    proc, msgs = _run_runner(tmp_path, wire, json.dumps(work).encode())
    assert proc.returncode == 3, proc.stderr
    assert msgs[0]["ev"] == "fatal" and "'landlok'" in msgs[0]["error"]
    assert "'landlock'" in msgs[0]["error"]
    assert len(msgs) == 1 and not (tmp_path / "ran").exists()


@pytest.mark.parametrize("work", [
    b"{not json",
    json.dumps({"cells": [{"index": 0, "code": "open('ran', 'w')", "skiped": ""}],
                "probes": [], "start_probe": 0}).encode(),
])
def test_the_runner_refuses_malformed_work_before_running_any_of_it(tmp_path, work):
    """A work message that is not JSON, or has a misspelt key, stops the runner with a fatal
    message: no cell runs, and no ``ready`` is sent (the grader would not count it as run)."""
    wire = _wire()
    wire["isolation"].update(landlock=False, seccomp=False, user_ns=False)
    wire["workdir"] = wire["isolation"]["workdir"] = str(tmp_path)
    proc, msgs = _run_runner(tmp_path, wire, work)
    assert proc.returncode == 3, proc.stderr
    assert [m["ev"] for m in msgs] == ["fatal"], msgs
    assert "malformed work" in msgs[0]["error"] and not (tmp_path / "ran").exists()


def test_the_runner_refuses_a_job_cut_short_before_running_anything(tmp_path):
    """A grader that dies while it writes the job leaves half a JSON object: the runner stops
    with a fatal message and runs no cell."""
    wire = json.dumps(_wire()).encode()
    work = _wire(_work())
    work["cells"] = [{"index": 0, "code": "open('ran', 'w')", "skipped": ""}]
    proc, msgs = _run_runner(tmp_path, wire[: len(wire) // 2], json.dumps(work).encode())
    assert proc.returncode == 3, proc.stderr
    assert [m["ev"] for m in msgs] == ["fatal"] and "malformed job" in msgs[0]["error"]
    assert not (tmp_path / "ran").exists()


def test_the_runner_points_home_and_temporary_folders_into_its_working_folder(tmp_path):
    """The process starts before its job names the working folder; the learner's code sees
    ``HOME``, ``TMPDIR``, ``MPLCONFIGDIR`` and :func:`tempfile.gettempdir` inside it."""
    wire = _wire()
    wire["isolation"].update(landlock=False, seccomp=False, user_ns=False)
    wire["workdir"] = wire["isolation"]["workdir"] = str(tmp_path)
    (tmp_path / "tmp").mkdir()
    work = _wire(_work())
    work["probes"] = []
    work["cells"] = [{"index": 0, "skipped": "", "code": (
        "import json, os, tempfile\n"
        "json.dump([os.environ['HOME'], os.environ['TMPDIR'], os.environ['MPLCONFIGDIR'], "
        "tempfile.gettempdir()], open('seen.json', 'w'))")}]
    proc, msgs = _run_runner(tmp_path, wire, json.dumps(work).encode())
    assert proc.returncode == 0, (proc.stderr, msgs)
    home, tmp, mpl, gettemp = json.loads((tmp_path / "seen.json").read_text())
    assert home == str(tmp_path) and tmp == gettemp == str(tmp_path / "tmp")
    assert mpl == str(tmp_path / ".matplotlib")


def test_a_runner_started_early_and_never_used_is_killed_and_reaped():
    from dlbasics_grader.sandbox.spawn import RunnerProcess

    process = RunnerProcess()
    pid = process.pid
    assert pid is not None and process.proc.poll() is None
    process.close()
    process.close()  # idempotent
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # already reaped: not a zombie left behind
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_an_empty_token_marks_no_process_as_the_sandbox_s():
    """``kill_all`` finds a sandbox's processes by its token too; a launch without one must
    not take every process carrying some sandbox token for its own."""
    from dlbasics_grader.sandbox.processes import kill_all

    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                             env={"DLBASICS_SANDBOX_TOKEN": "a" * 32})
    try:
        kill_all(None, None, "", None)
        assert other.poll() is None
        kill_all(None, None, "a" * 32, None)
        assert other.wait(timeout=10) == -9
    finally:
        other.kill()
        other.wait()


def _gate() -> tuple[MessageGate, RawRun]:
    job = Job.build([], [], SandboxPolicy(), Limits())
    run = RawRun()
    return MessageGate(job, "k", run, time.monotonic), run


def test_the_grader_stops_a_run_whose_message_has_an_extra_field():
    gate, run = _gate()
    gate.feed(json.dumps({"k": "k", "ev": "ready", "isolation": {}}).encode())
    assert not gate.violation and gate.state == "cells"
    gate.feed(json.dumps({"k": "k", "ev": "cells_done", "finished": True}).encode())
    assert "unexpected message ('cells_done'" in gate.violation


def test_the_grader_ignores_lines_without_the_nonce_and_accepts_the_exact_order():
    gate, run = _gate()
    for line in (b"not json", json.dumps({"ev": "done"}).encode()):
        gate.feed(line)
    assert run.ignored_messages == 2 and not gate.violation
    for ev in (Event.READY, Event.CELLS_DONE, Event.DONE):
        body = {"isolation": {"user": "x"}} if ev is Event.READY else {}
        gate.feed(json.dumps({"k": "k", "ev": ev.value, **body}).encode())
    assert run.finished and not gate.violation and run.isolation == {"user": "x"}
