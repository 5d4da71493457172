"""Grading one submission: notebook -> sandbox -> probes -> score -> report.

The grader's process never runs learner code: it reads the notebook as data,
scans it with :mod:`ast`, hands cells and probe drivers to the sandbox
(:mod:`dlbasics_grader.sandbox`), decodes the plain data that comes back and
lets the exercise's ``score`` compare it with references it computes itself.
Whatever the submission does, :func:`grade` returns a :class:`GradeReport`
with one test per graded part.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import re
import sys
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlbasics.checks.static import scan
from dlbasics_grader import runner as codec
from dlbasics_grader.notebook import NotebookError, read_submission
from dlbasics_grader.sandbox import Phase, SandboxUnavailable, run_job
from dlbasics_grader.spec import (
    CellRun,
    Exercise,
    Probe,
    ProbeResult,
    Status,
    Submission,
    TestResult,
)

MAX_RESTARTS = 3
HIDDEN_ENV = "DLBASICS_HIDDEN_TESTS"


class GraderSetupError(RuntimeError):
    """The grader cannot grade: hidden tests missing (``usage``: the caller named
    something that does not exist) or broken (an instructor problem)."""

    def __init__(self, message: str, usage: bool = True) -> None:
        super().__init__(message)
        self.usage = usage


@dataclass
class GradeReport:
    """The outcome of grading one submission.

    ``tests`` has one :class:`TestResult` per part, in the exercise's order.
    ``output`` is the overall message for the learner. ``grader_error`` is
    non-empty when the grader (not the learner) failed; the tests then say so.
    """

    exercise: str
    title: str
    submission: Path
    tests: list[TestResult]
    execution_time: float
    output: str = ""
    isolation: dict[str, str] = field(default_factory=dict)
    stdout: str = ""
    stderr: str = ""
    grader_error: str = ""

    @property
    def score(self) -> float:
        """Sum of the tests' scores."""
        return round(sum(t.score for t in self.tests), 4)

    @property
    def max_score(self) -> float:
        """Sum of the tests' maximum scores."""
        return float(sum(t.max_score for t in self.tests))

    def to_gradescope(self, strict: bool = False) -> dict[str, Any]:
        """Gradescope's results.json as a dict.

        With ``strict``, test statuses are limited to Gradescope's own
        ``passed``/``failed`` and the detailed status starts the output.
        """
        tests = []
        for t in self.tests:
            entry = t.to_json()
            if strict and entry["status"] not in ("passed", "failed"):
                entry["output"] = f"[{entry['status']}] {entry['output']}"
                entry["status"] = "failed"
            tests.append(entry)
        return {
            "score": self.score,
            "execution_time": round(self.execution_time, 3),
            "output": self.output,
            "visibility": "visible",
            "stdout_visibility": "hidden",
            "tests": tests,
            "extra_data": {
                "exercise": self.exercise,
                "submission": self.submission.name,
                "max_score": self.max_score,
                "sandbox": self.isolation,
                "grader_error": self.grader_error,
            },
        }


# ----------------------------------------------------------------------------
# Finding and loading hidden tests
# ----------------------------------------------------------------------------


def find_tests_dir(explicit: str | os.PathLike | None = None) -> Path:
    """Where the hidden tests are: ``explicit``, ``$DLBASICS_HIDDEN_TESTS``,
    or ``tests/hidden`` in the current directory or one of its parents."""
    if explicit:
        p = Path(explicit)
        if not p.is_dir():
            raise GraderSetupError(f"--tests {explicit}: no such directory")
        return p.resolve()
    env = os.environ.get(HIDDEN_ENV)
    if env:
        p = Path(env)
        if not p.is_dir():
            raise GraderSetupError(f"${HIDDEN_ENV}={env}: no such directory")
        return p.resolve()
    here = Path.cwd().resolve()
    for d in (here, *here.parents):
        cand = d / "tests" / "hidden"
        if cand.is_dir():
            return cand
    raise GraderSetupError(
        "hidden tests not found: pass --tests DIR, set $DLBASICS_HIDDEN_TESTS, or run from "
        "the course repository (which has tests/hidden/)"
    )


def available_exercises(tests_dir: Path) -> list[str]:
    """Names of the exercises with a hidden-test module in ``tests_dir``."""
    return sorted(p.stem for p in Path(tests_dir).glob("ex*.py"))


def load_exercise(name: str, tests_dir: Path) -> Exercise:
    """Import ``tests_dir/<name>.py`` and return its ``EXERCISE``."""
    path = Path(tests_dir) / f"{name}.py"
    if not path.is_file():
        have = ", ".join(available_exercises(tests_dir)) or "none"
        raise GraderSetupError(f"no hidden tests for {name!r} in {tests_dir} (found: {have})")
    mod_name = f"_dlbasics_hidden_{name}"
    if mod_name in sys.modules:
        mod = sys.modules[mod_name]
    else:
        spec = importlib.util.spec_from_file_location(mod_name, path)
        if spec is None or spec.loader is None:
            raise GraderSetupError(f"cannot import {path}")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = mod
        try:
            spec.loader.exec_module(mod)
        except Exception as exc:
            del sys.modules[mod_name]
            raise GraderSetupError(f"the hidden tests {path} cannot be imported: "
                                   f"{type(exc).__name__}: {exc}", usage=False) from exc
    ex = getattr(mod, "EXERCISE", None)
    if not isinstance(ex, Exercise):
        raise GraderSetupError(f"{path} does not define EXERCISE = Exercise(...)", usage=False)
    return ex


# ----------------------------------------------------------------------------
# Grading
# ----------------------------------------------------------------------------


def _probe_result(probe: Probe, phase: Phase | None, why_not_run: str, max_bytes: int
                  ) -> ProbeResult:
    if phase is None:
        return ProbeResult(name=probe.name, status="not run", error=why_not_run)
    if phase.status != "ok":
        status = phase.status if phase.status in (
            "error", "timeout", "out of memory", "crashed", "not run") else "error"
        return ProbeResult(name=probe.name, status=status, error=phase.error,
                           traceback=phase.traceback, duration_s=phase.duration_s)
    try:
        outputs = codec.decode(phase.outputs, max_bytes)
        if not isinstance(outputs, dict):
            raise codec.CodecError("the probe's result is not a dict")
    except (codec.CodecError, ValueError, TypeError) as exc:
        return ProbeResult(name=probe.name, status="error",
                           error=f"the grader could not read the result ({exc})",
                           duration_s=phase.duration_s)
    return ProbeResult(name=probe.name, status="ok", outputs=outputs,
                       duration_s=phase.duration_s)


_TRACEBACK_CELL = re.compile(r"^(\s*)cell (\d+), line", re.M)


def _relabel(traceback_text: str, labels: dict[int, str]) -> str:
    """Name the cells of a traceback as a learner finds them (``labels``: index -> label)."""
    return _TRACEBACK_CELL.sub(
        lambda m: f"{m.group(1)}{labels.get(int(m.group(2)) - 1) or m.group(0).strip()[:-6]}, line",
        traceback_text)


def _all_parts(exercise: Exercise, status: Status, message: str) -> list[TestResult]:
    return [p.result(0.0, status, message) for p in exercise.parts]


def _validate_tests(exercise: Exercise, returned: Sequence[Any]) -> list[TestResult]:
    by_name: dict[str, TestResult] = {}
    for t in returned or ():
        if isinstance(t, TestResult) and t.name not in by_name:
            by_name[t.name] = t
    out = []
    for part in exercise.parts:
        t = by_name.get(part.name)
        if t is None:
            out.append(part.result(0.0, "error", "The grader did not score this part "
                                   "(a problem in the hidden tests; tell your instructor)."))
        else:
            status = t.status if t.status in ("passed", "failed", "error", "timeout",
                                              "out of memory", "crashed") else "failed"
            out.append(part.result(float(t.score), status, str(t.output)))
    return out


def _overall_output(submission: Submission, raw_notes: list[str], tests: list[TestResult],
                    elapsed: float) -> str:
    lines = []
    total = sum(t.score for t in tests)
    max_total = sum(t.max_score for t in tests)
    lines.append(f"Score: {total:g} / {max_total:g} (graded in {elapsed:.1f} s).")
    if submission.load_error:
        lines.append(submission.load_error)
    labels = {c.index: c.where for c in submission.cells}
    for idx, msg in submission.static.syntax_errors:
        where = labels.get(idx, f"cell {idx + 1}")
        lines.append(f"{where[:1].upper()}{where[1:]} is not valid Python: {msg}")
    bad = [c for c in submission.cell_errors() if c.status != "not run"]
    for c in bad[:5]:
        where = c.where[:1].upper() + c.where[1:]
        lines.append(f"{where} {'failed' if c.status == 'error' else c.status}: {c.error}")
    if len(bad) > 5:
        lines.append(f"... and {len(bad) - 5} more cells failed.")
    lines.extend(raw_notes)
    if submission.static.violations:
        lines.append("Rules of this exercise that the notebook breaks:")
        seen = set()
        for v in submission.static.violations:
            key = (v.cell, v.line, v.what)
            if key not in seen:
                seen.add(key)
                lines.append(f"  - {v.describe()}")
    return "\n".join(lines)


def grade(
    exercise: Exercise,
    path: str | os.PathLike,
    *,
    private_paths: Sequence[str | os.PathLike] = (),
    seed: int | None = None,
    time_scale: float = 1.0,
) -> GradeReport:
    """Grade the notebook at ``path``; never raises for anything the file does.

    ``private_paths`` are directories the sandbox must not see (the hidden
    tests, other submissions); the submission's own directory and the current
    directory are always added. ``time_scale`` multiplies every time limit
    (cell, probe, total, CPU); tests use it to make timeouts cheap.
    """
    t0 = time.monotonic()
    path = Path(path)
    seed = exercise.seed if seed is None else seed
    submission = Submission(path=path, seed=seed)
    private = [Path(p) for p in private_paths]
    private += [path.resolve().parent, Path.cwd()]

    def finish(tests, output="", iso=None, grader_error="", stdout="", stderr=""):
        elapsed = time.monotonic() - t0
        if not output:
            output = _overall_output(submission, [], tests, elapsed)
        return GradeReport(
            exercise=exercise.name, title=exercise.title, submission=path, tests=tests,
            execution_time=elapsed, output=output, isolation=iso or {},
            stdout=stdout, stderr=stderr, grader_error=grader_error,
        )

    # 1. read the notebook (as data)
    try:
        cells = read_submission(path)
    except NotebookError as exc:
        submission.load_error = f"{path.name} could not be graded: {exc}."
        return finish(_all_parts(exercise, "error", submission.load_error))
    except OSError as exc:
        submission.load_error = f"{path.name} could not be read: {exc.strerror or exc}."
        return finish(_all_parts(exercise, "error", submission.load_error))
    code_cells = [c for c in cells if not c.skipped]
    if not code_cells:
        submission.load_error = f"{path.name} has no code cells to run."
    submission.static = scan([(c.index, c.code) for c in code_cells], exercise.policy,
                             where={c.index: c.label for c in code_cells})
    labels = {c.index: c.label for c in cells}

    # 2. what to run
    try:
        probes = list(exercise.probes(seed))
        names = [p.name for p in probes]
        if len(set(names)) != len(names):
            raise GraderSetupError(f"probe names are not unique: {names}")
        encoded = [
            {"name": p.name, "source": p.source, "entry": p.entry,
             "timeout_s": float(p.timeout_s), "inputs": codec.encode(dict(p.inputs), "inputs")}
            for p in probes
        ]
    except Exception as exc:  # noqa: BLE001 - a bug in the hidden tests
        msg = f"grader error while preparing the tests: {type(exc).__name__}: {exc}"
        return finish(_all_parts(exercise, "error", "The grader failed before running your "
                                 "notebook; tell your instructor."), grader_error=msg + "\n"
                      + traceback.format_exc())
    pol = exercise.policy
    job_cells = [{"index": c.index, "code": c.code, "skipped": c.skipped} for c in cells]
    job: dict[str, Any] = {
        "cells": job_cells,
        "probes": encoded,
        "start_probe": 0,
        "seed": seed,
        "policy": {
            "forbidden_modules": list(pol.forbidden_modules),
            "reason": pol.reason,
            "preload": list(pol.preload),
            "allow_processes": pol.allow_processes,
        },
    }
    limits = exercise.limits
    if time_scale != 1.0:
        limits = dataclasses.replace(
            limits, cell_wall_s=limits.cell_wall_s * time_scale,
            total_wall_s=limits.total_wall_s * time_scale,
            cpu_s=max(1, int(limits.cpu_s * time_scale)))
        for item in encoded:
            item["timeout_s"] *= time_scale
    timeouts = [float(item["timeout_s"]) for item in encoded]
    deadline = time.monotonic() + limits.total_wall_s
    max_bytes = int(limits.result_mb * 1024 * 1024)

    # 3. run, restarting after a probe (or cell) that had to be killed
    cell_runs: dict[int, Phase] = {}
    probe_phases: dict[int, Phase] = {}
    notes: list[str] = []
    iso: dict[str, str] = {}
    stdout = stderr = ""
    why_not_run = ""
    for attempt in range(MAX_RESTARTS + 1):
        try:
            raw = run_job(job, limits, timeouts, private, deadline)
        except SandboxUnavailable as exc:
            return finish(_all_parts(exercise, "error", "The grader could not start its "
                                     "sandbox; tell your instructor."), grader_error=str(exc))
        iso = iso or raw.isolation
        if attempt == 0:
            stdout, stderr = raw.stdout, raw.stderr
        if raw.fatal and not raw.isolation:
            return finish(_all_parts(exercise, "error", "The grader could not start its "
                                     "sandbox; tell your instructor."),
                          grader_error=f"sandbox setup failed: {raw.fatal}", stderr=raw.stderr)
        for k, ph in raw.cells.items():
            cell_runs.setdefault(k, ph)
        probe_phases.update(raw.probes)
        if raw.finished:
            break
        kind, idx = raw.stopped_in or ("setup", -1)
        stop = Phase(status=raw.stop_status or "crashed", error=raw.stop_reason)
        if kind == "cell" and 0 <= idx < len(job_cells):
            cell_runs[idx] = Phase(status=stop.status, error=f"{raw.stop_reason}; the grader "
                                   "ran the notebook again without this cell")
            job_cells[idx] = dict(job_cells[idx], skipped=f"stopped earlier: {raw.stop_reason}")
        elif kind == "probe" and 0 <= idx < len(probes):
            probe_phases[idx] = stop
            job["start_probe"] = idx + 1
            # A cell that ran out of memory may still hold it, and may be why this
            # call died: run again without such cells, starting with this call.
            hogs = [k for k, ph in raw.cells.items() if ph.status == "out of memory"
                    and 0 <= k < len(job_cells) and not job_cells[k].get("skipped")]
            for k in hogs:
                job_cells[k] = dict(job_cells[k], skipped="ran out of memory earlier")
                cell_runs[k] = Phase(status="out of memory", error=f"{raw.cells[k].error}; "
                                     "the grader ran the notebook again without this cell")
            if hogs:
                probe_phases.pop(idx, None)
                job["start_probe"] = idx
            elif idx + 1 >= len(probes):
                break
        else:
            why_not_run = raw.stop_reason or "the notebook's process stopped"
            break
        if time.monotonic() >= deadline:
            why_not_run = "the total time limit was reached"
            break
    else:
        why_not_run = "the notebook had to be restarted too many times"

    cells_status: list[CellRun] = []
    for k, c in enumerate(job_cells):
        ph = cell_runs.get(k)
        if c.get("skipped") and ph is None:
            ph = Phase(status="skipped", error=c["skipped"])
        if ph is None:
            ph = Phase(status="not run", error=why_not_run)
        cells_status.append(CellRun(index=c["index"], status=ph.status, error=ph.error,
                                    traceback=_relabel(ph.traceback, labels),
                                    duration_s=ph.duration_s, label=labels.get(c["index"], "")))
    submission.cells = cells_status
    submission.stdout, submission.stderr = stdout, stderr
    if not why_not_run:
        why_not_run = "the notebook's process stopped before this call"
    results: dict[str, ProbeResult] = {
        p.name: _probe_result(p, probe_phases.get(j), why_not_run, max_bytes)
        for j, p in enumerate(probes)
    }
    for r in results.values():
        r.traceback = _relabel(r.traceback, labels)

    # 4. score (grader-side only)
    try:
        tests = _validate_tests(exercise, exercise.score(results, submission))
    except Exception as exc:  # noqa: BLE001 - a bug in the hidden tests
        msg = f"grader error while scoring: {type(exc).__name__}: {exc}"
        return finish(_all_parts(exercise, "error", "The grader failed while scoring; tell "
                                 "your instructor."), iso=iso,
                      grader_error=msg + "\n" + traceback.format_exc(), stdout=stdout,
                      stderr=stderr)
    elapsed = time.monotonic() - t0
    return finish(tests, _overall_output(submission, notes, tests, elapsed), iso=iso,
                  stdout=stdout, stderr=stderr)
