"""Grading one submission: notebook -> sandbox -> probes -> score -> report.

The grader's process never runs learner code: a bounded child process reads the
notebook as data and scans it (:mod:`dlbasics_grader.reading`), the grader hands cells and
probe drivers to the sandbox
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
import types
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dlbasics_grader import codec
from dlbasics_grader.sandbox import (
    WALL_FACTOR,
    Assessment,
    Job,
    Launch,
    Phase,
    PhaseStatus,
    RunnerProcess,
    RunRecord,
    SandboxUnavailable,
    assess,
    run_job,
    scaled_limits,
)
from dlbasics_grader.sandbox.protocol import Cell
from dlbasics_grader.spec import (
    PROBE_STATUSES,
    STATUSES,
    CellRun,
    Exercise,
    Probe,
    ProbeResult,
    SandboxPolicy,
    Status,
    Submission,
    TestResult,
)
from dlbasics_grader.untrusted import clean_text

MAX_RESTARTS = 3
GRADESCOPE_STATUSES = ("passed", "failed")
HIDDEN_ENV = "DLBASICS_HIDDEN_TESTS"


class GraderSetupError(RuntimeError):
    """The grader cannot grade. ``usage``: the caller named something that does not
    exist (``--tests DIR``, an unknown exercise); otherwise the hidden tests are
    missing or broken (an instructor problem)."""

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
    unreadable: str = ""
    """Why the file is not a notebook the grader can read ("" when it is; then nothing ran)."""

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
            if strict and entry["status"] not in GRADESCOPE_STATUSES:
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
    or ``hidden_exercises`` in the current directory or one of its parents."""
    if explicit:
        p = Path(explicit)
        if not p.is_dir():
            raise GraderSetupError(f"--tests {explicit}: no such directory")
        return p.resolve()
    env = os.environ.get(HIDDEN_ENV)
    if env:
        p = Path(env)
        if not p.is_dir():
            raise GraderSetupError(f"${HIDDEN_ENV}={env}: no such directory", usage=False)
        return p.resolve()
    here = Path.cwd().resolve()
    for d in (here, *here.parents):
        cand = d / "hidden_exercises"
        if cand.is_dir():
            return cand
    raise GraderSetupError(
        "hidden tests not found: pass --tests DIR, set $DLBASICS_HIDDEN_TESTS, or run from "
        "the course repository (which has hidden_exercises/)", usage=False
    )


def available_exercises(tests_dir: Path) -> list[str]:
    """Names of the exercises with a hidden-test module in ``tests_dir``."""
    return sorted(p.stem for p in Path(tests_dir).glob("ex*.py"))


HIDDEN_PACKAGE = "_dlbasics_hidden"


def load_hidden_module(name: str, tests_dir: Path) -> types.ModuleType:
    """Import ``tests_dir/<name>.py`` as ``_dlbasics_hidden.<name>``.

    The hidden-test modules form a package whose folder is ``tests_dir``, so
    they can share helpers kept next to them (``from ._common import ...``;
    files not named ``ex*.py`` are helpers, and the Gradescope zip copies them).
    """
    path = Path(tests_dir) / f"{name}.py"
    if not path.is_file():
        have = ", ".join(available_exercises(tests_dir)) or "none"
        raise GraderSetupError(f"no hidden tests for {name!r} in {tests_dir} (found: {have})")
    package = sys.modules.get(HIDDEN_PACKAGE)
    if package is None:
        package = types.ModuleType(HIDDEN_PACKAGE, "Hidden-test modules (dlbasics_grader)")
        package.__path__ = []
        sys.modules[HIDDEN_PACKAGE] = package
    if str(Path(tests_dir).resolve()) not in package.__path__:
        package.__path__.append(str(Path(tests_dir).resolve()))
    mod_name = f"{HIDDEN_PACKAGE}.{name}"
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
    return mod


def load_exercise(name: str, tests_dir: Path) -> Exercise:
    """Import ``tests_dir/<name>.py`` and return its ``EXERCISE``."""
    path = Path(tests_dir) / f"{name}.py"
    mod = load_hidden_module(name, tests_dir)
    ex = getattr(mod, "EXERCISE", None)
    if not isinstance(ex, Exercise):
        raise GraderSetupError(f"{path} does not define EXERCISE = Exercise(...)", usage=False)
    return ex


# ----------------------------------------------------------------------------
# Grading
# ----------------------------------------------------------------------------


def secret_paths(tests_dir: Path) -> list[Path]:
    """What a submission must never read: the hidden tests and, beside them in a
    course repository, the solutions."""
    tests_dir = Path(tests_dir).resolve()
    out = [tests_dir]
    solutions = tests_dir.parent / "solutions"
    if tests_dir.name == "hidden_exercises" and solutions.is_dir():
        out.append(solutions)
    return out


def isolation_record(assessment: Assessment, in_force: dict[str, str]) -> dict[str, str]:
    """results.json's ``extra_data.sandbox``: the grader's own account.

    ``in_force`` comes from the runner's first message, sent before any learner
    code ran; later messages cannot change it.
    """
    record = dict(in_force)
    record["level"] = "full" if not assessment.missing else "reduced"
    if assessment.missing:
        record["missing"] = "; ".join(assessment.missing)
    return record


def _probe_result(probe: Probe, phase: Phase | None, why_not_run: str, max_bytes: int
                  ) -> ProbeResult:
    if phase is None:
        return ProbeResult(name=probe.name, status="not run", error=why_not_run)
    if phase.status != "ok":
        status = phase.status if phase.status in PROBE_STATUSES else "error"
        return ProbeResult(name=probe.name, status=status, error=phase.error,
                           traceback=phase.traceback, duration_s=phase.duration_s,
                           cpu_s=phase.cpu_s)
    try:
        outputs = codec.decode(phase.outputs, max_bytes)
        if not isinstance(outputs, dict):
            raise codec.CodecError("the probe's result is not a dict")
    except (codec.CodecError, ValueError, TypeError, RecursionError) as exc:
        return ProbeResult(name=probe.name, status="error",
                           error=f"the grader could not read the result ({exc})",
                           duration_s=phase.duration_s, cpu_s=phase.cpu_s)
    return ProbeResult(name=probe.name, status="ok", outputs=outputs,
                       duration_s=phase.duration_s, cpu_s=phase.cpu_s)


_TRACEBACK_CELL = re.compile(r"^([ \t]*)cell (\d+), line", re.M)


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
            status = t.status if t.status in STATUSES else "failed"
            out.append(part.result(float(t.score), status, clean_text(t.output, 20_000)))
    return out


def _overall_output(submission: Submission, tests: list[TestResult], elapsed: float) -> str:
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
    if submission.static.violations:
        lines.append("Rules of this exercise that the notebook breaks:")
        seen = set()
        for v in submission.static.violations:
            key = (v.cell, v.line, v.what)
            if key not in seen:
                seen.add(key)
                lines.append(f"  - {v.describe()}")
    return clean_text("\n".join(lines))


@dataclass
class _Runs(RunRecord):
    """What the launches of one notebook's sandbox added up to."""

    why_not_run: str = ""
    setup_error: str = ""


TRANSIENT_SETUP = ("BlockingIOError", "Resource temporarily unavailable")
"""How a sandbox setup that failed for want of a process slot reads. Without a user of its
own or a cgroup (a normal user's grader), every sandbox of a batch counts against one
``RLIMIT_NPROC``: another submission's processes may take the slot this one needs until
they are killed. Such a setup is tried again (no learner code has run yet)."""


def _run_job(job: Job, private: list[Path], deadline: float, cpu_left: float,
             launch: Launch | None = None) -> Any:
    """:func:`run_job` (in ``launch`` if given), again in a new sandbox after a short wait
    while its setup fails for a transient shortage (:data:`TRANSIENT_SETUP`) and the
    deadline allows."""
    delay = 0.25
    while True:
        raw = run_job(job, private, deadline, cpu_left, launch)
        launch = None
        transient = raw.fatal and not raw.isolation and any(
            marker in raw.fatal for marker in TRANSIENT_SETUP)
        if not transient or time.monotonic() + delay >= deadline:
            return raw
        time.sleep(delay)
        delay = min(2 * delay, 4.0)


def run_with_restarts(job: Job, private: list[Path], launch: Launch | None = None) -> _Runs:
    """Run ``job`` (first in ``launch``, a sandbox already started for it, if given),
    launching the sandbox again after a probe (or cell) that had to be killed, without
    what killed it, until every probe has run."""
    limits = job.limits
    deadline = time.monotonic() + limits.total_wall_s * WALL_FACTOR
    cpu_left = float(limits.total_wall_s)
    runs = _Runs()
    for attempt in range(MAX_RESTARTS + 1):
        raw = _run_job(job, private, deadline, cpu_left, launch)
        launch = None
        cpu_left -= raw.cpu_s
        if attempt == 0:
            runs.isolation = raw.isolation
            runs.stdout, runs.stderr = raw.stdout, raw.stderr
        if raw.fatal and not raw.isolation:
            runs.setup_error = f"sandbox setup failed: {raw.fatal}"
            runs.stderr = raw.stderr
            return runs
        for k, ph in raw.cells.items():
            runs.cells.setdefault(k, ph)
        runs.probes.update(raw.probes)
        if raw.finished:
            return runs
        kind, idx = raw.stopped_in or ("setup", -1)
        if kind == "cell" and 0 <= idx < len(job.cells):
            runs.cells[idx] = Phase(status=raw.stop_status, error=f"{raw.stop_reason}; the "
                                    "grader ran the notebook again without this cell")
            job.skip_cell(idx, f"stopped earlier: {raw.stop_reason}")
        elif kind == "probe" and 0 <= idx < len(job.probes):
            runs.probes[idx] = Phase(status=raw.stop_status, error=raw.stop_reason)
            job.start_probe = idx + 1
            # A cell that ran out of memory may still hold it, and may be why this
            # call died: run again without such cells, starting with this call.
            hogs = [k for k, ph in raw.cells.items() if ph.status == PhaseStatus.OUT_OF_MEMORY
                    and 0 <= k < len(job.cells) and not job.cells[k].skipped]
            for k in hogs:
                job.skip_cell(k, "ran out of memory earlier")
                runs.cells[k] = Phase(status=PhaseStatus.OUT_OF_MEMORY, error=f"{raw.cells[k].error}; "
                                      "the grader ran the notebook again without this cell")
            if hogs:
                runs.probes.pop(idx, None)
                job.start_probe = idx
            elif idx + 1 >= len(job.probes):
                return runs
        else:
            runs.why_not_run = raw.stop_reason or "the notebook's process stopped"
            return runs
        if time.monotonic() >= deadline or cpu_left <= 0:
            runs.why_not_run = "the total time limit was reached"
            return runs
    runs.why_not_run = "the notebook had to be restarted too many times"
    return runs


MAX_GRAPH_BYTES = 32 * 1024 * 1024
EVALUATION_POLICY = SandboxPolicy(
    reason="the evaluation sandbox runs exported graphs only", preload=("numpy", "torch"),
    allow_processes=False)
"""The sandbox of held-out evaluations: no learner Python runs in it, only the graphs."""


def _graph(outputs: dict[str, Any], key: str) -> tuple[np.ndarray | None, str]:
    """The exported graph under ``key`` of a probe's outputs, or why there is none."""
    data = outputs.get(key)
    if isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 1 \
            and 0 < data.size <= MAX_GRAPH_BYTES:
        return data, ""
    why = outputs.get(f"{key}_error")
    if isinstance(why, str) and why:
        return None, f"the model could not be exported as a graph: {clean_text(why, 2000)}"
    return None, ("the model did not come back as an exported graph (a TorchScript file of at "
                  f"most {MAX_GRAPH_BYTES // 2 ** 20} MiB)")


def run_evaluations(exercise: Exercise, results: dict[str, ProbeResult], seed: int,
                    private: list[Path], time_scale: float, max_bytes: int
                    ) -> dict[str, ProbeResult]:
    """Run ``exercise.evaluations`` in one fresh sandbox that runs no learner code.

    Each evaluation's graphs (and the plain values it names) come from its source probe's
    outputs (data from the learner's sandbox); its held-out inputs come from the grader and
    go only here. Returns one
    :class:`ProbeResult` per evaluation: the driver's outputs, or an ``error`` saying why
    there was nothing to evaluate.
    """
    out: dict[str, ProbeResult] = {}
    ready: list[Probe] = []
    for ev in exercise.evaluations:
        source = results.get(ev.source)
        if source is None or not source.ok:
            why = source.describe_failure().splitlines()[0] if source else "no such probe"
            out[ev.name] = ProbeResult(name=ev.name, status="not run",
                                       error=f"no trained model to evaluate ({why})")
            continue
        graphs, problems = {}, []
        for key in ev.models:
            data, problem = _graph(source.outputs, key)
            graphs[key] = data
            if problem:
                problems.append(problem)
        if problems:
            out[ev.name] = ProbeResult(name=ev.name, status="error", error=problems[0])
            continue
        probe = ev.probe(seed)
        values = {key: source.outputs.get(key) for key in ev.values}
        ready.append(dataclasses.replace(probe, name=ev.name,
                                         inputs={**dict(probe.inputs), **values, **graphs}))
    if not ready:
        return out
    job = Job.build([], ready, EVALUATION_POLICY, exercise.limits, time_scale)
    runs = run_with_restarts(job, private)
    why_not_run = runs.setup_error or runs.why_not_run or "the evaluation sandbox stopped"
    for j, probe in enumerate(ready):
        result = _probe_result(probe, runs.probes.get(j), why_not_run, max_bytes)
        if result.status not in ("ok", "not run"):
            result.error = f"evaluating the exported model: {result.error}"
        out[probe.name] = result
    return out


def grade(
    exercise: Exercise,
    path: str | os.PathLike,
    *,
    private_paths: Sequence[str | os.PathLike] = (),
    seed: int | None = None,
    time_scale: float = 1.0,
    allow_unisolated: bool = False,
    process: RunnerProcess | None = None,
) -> GradeReport:
    """Grade the notebook at ``path``; never raises for anything the file does.

    ``private_paths`` are directories the sandbox must not see (the hidden
    tests, other submissions); the submission's own directory and the current
    directory are always added. ``time_scale`` multiplies every time limit
    (cell, probe, total, CPU); tests use it to make timeouts cheap. Unless
    ``allow_unisolated``, a host where nothing keeps ``private_paths`` from the
    submission makes every part an error that says so (see
    :func:`dlbasics_grader.sandbox.assess`). ``process``: a runner started earlier
    (:class:`~dlbasics_grader.sandbox.spawn.RunnerProcess`) for the first sandbox to take
    over; it is closed in every case.
    """
    t0 = time.monotonic()
    path = Path(path)
    seed = exercise.seed if seed is None else seed
    submission = Submission(path=path, seed=seed)
    try:
        return _grade(exercise, path, submission, t0, private_paths, time_scale,
                      allow_unisolated, process)
    except Exception as exc:  # noqa: BLE001 - one submission's failure is its own result
        return _report(exercise, submission, t0, _all_parts(
            exercise, "error", "The grader failed on this notebook; tell your instructor."),
            grader_error=f"grader error: {type(exc).__name__}: {clean_text(exc, 2000)}\n"
            + clean_text(traceback.format_exc(), 20_000))
    finally:
        if process is not None:
            process.close()


def _report(exercise: Exercise, submission: Submission, t0: float, tests: list[TestResult],
            output: str = "", iso: dict[str, str] | None = None, grader_error: str = "",
            unreadable: str = "") -> GradeReport:
    elapsed = time.monotonic() - t0
    return GradeReport(
        exercise=exercise.name, title=exercise.title, submission=submission.path, tests=tests,
        execution_time=elapsed, output=output or _overall_output(submission, tests, elapsed),
        isolation=iso or {}, stdout=clean_text(submission.stdout),
        stderr=clean_text(submission.stderr), grader_error=clean_text(grader_error),
        unreadable=clean_text(unreadable),
    )


def _read(exercise: Exercise, path: Path, submission: Submission) -> tuple[list | None, str]:
    """The notebook's cells (and its static scan into ``submission``), read in a bounded child
    process (:mod:`dlbasics_grader.reading`); or None and why the file is not a notebook the
    grader can read."""
    from dlbasics_grader.notebook import NotebookError  # after the sandbox has started
    from dlbasics_grader.reading import read_submission

    try:
        if path.is_symlink() or path.parent.is_symlink():
            raise NotebookError("it is a symbolic link (or in a linked folder); the grader "
                                "reads only the notebook file itself")
        reading = read_submission(path, exercise.policy)
    except NotebookError as exc:
        submission.load_error = f"{path.name} could not be graded: {exc}."
        return None, f"{path.name} is not a readable notebook: {exc}"
    except OSError as exc:
        why = exc.strerror or str(exc)
        submission.load_error = f"{path.name} could not be read: {why}."
        return None, f"{path.name} is not a readable notebook: {why}"
    if not any(not c.skipped for c in reading.cells):
        submission.load_error = f"{path.name} has no code cells to run."
    submission.static = reading.static
    return list(reading.cells), ""


def _grade(exercise: Exercise, path: Path, submission: Submission, t0: float,
           private_paths: Sequence[str | os.PathLike], time_scale: float,
           allow_unisolated: bool, process: RunnerProcess | None) -> GradeReport:
    given = [Path(p) for p in private_paths]
    private = [*given, path.resolve().parent, Path.cwd()]
    secrets_ = [*given, *(s for g in given for s in secret_paths(g)[1:])]
    assessment = assess(secrets_)
    if assessment.refusal and not allow_unisolated:
        return _report(exercise, submission, t0, _all_parts(
            exercise, "error", "The grader refused to run this notebook on a machine where "
            "it cannot be isolated; tell your instructor."),
            grader_error=f"refused: {assessment.refusal}")

    # 1. start the sandbox, then read the notebook (as data, in a bounded child process)
    #    while the sandbox confines itself and imports its preloaded modules
    try:
        launch = Launch(exercise.policy, scaled_limits(exercise.limits, time_scale), private,
                        process)
    except SandboxUnavailable as exc:
        return _report(exercise, submission, t0, _all_parts(
            exercise, "error", "The grader could not start its sandbox; tell your "
            "instructor."), grader_error=str(exc))
    try:
        cells, unreadable = _read(exercise, path, submission)
    except BaseException:
        launch.close()
        raise
    try:
        # 2. a notebook the grader cannot read earns nothing
        if cells is None:
            return _report(exercise, submission, t0, _all_parts(exercise, "error",
                                                                submission.load_error),
                           unreadable=unreadable)

        # 3. what to run
        try:
            probes = list(exercise.probes(submission.seed))
            names = [p.name for p in probes]
            if len(set(names)) != len(names):
                raise GraderSetupError(f"probe names are not unique: {names}")
            job = Job.build(cells, probes, exercise.policy, exercise.limits, time_scale)
        except Exception as exc:  # noqa: BLE001 - a bug in the hidden tests
            msg = f"grader error while preparing the tests: {type(exc).__name__}: {exc}"
            return _report(exercise, submission, t0, _all_parts(
                exercise, "error", "The grader failed before running your notebook; tell "
                "your instructor."), grader_error=msg + "\n" + traceback.format_exc())

        # 4. run, restarting after a probe (or cell) that had to be killed
        try:
            runs = run_with_restarts(job, private, launch)
        except SandboxUnavailable as exc:
            return _report(exercise, submission, t0, _all_parts(
                exercise, "error", "The grader could not start its sandbox; tell your "
                "instructor."), grader_error=str(exc))
    finally:
        launch.close()
    iso = isolation_record(assessment, runs.isolation)
    submission.stdout, submission.stderr = runs.stdout, runs.stderr
    if runs.setup_error:
        return _report(exercise, submission, t0, _all_parts(
            exercise, "error", "The grader could not start its sandbox; tell your instructor."),
            iso=iso, grader_error=runs.setup_error)
    why_not_run = runs.why_not_run or "the notebook's process stopped before this call"
    labels = {c.index: c.label for c in cells}
    submission.cells = [_cell_run(c, runs.cells.get(k), why_not_run, labels)
                        for k, c in enumerate(job.cells)]
    max_bytes = int(job.limits.result_mb * 1024 * 1024)
    results: dict[str, ProbeResult] = {
        p.name: _probe_result(p, runs.probes.get(j), why_not_run, max_bytes)
        for j, p in enumerate(probes)
    }
    for r in results.values():
        r.traceback = _relabel(r.traceback, labels)

    # 5. held-out evaluations of exported models, in a fresh sandbox without learner code
    if exercise.evaluations:
        results.update(run_evaluations(exercise, results, submission.seed, private, time_scale,
                                       max_bytes))

    # 6. score (grader-side only)
    try:
        tests = _validate_tests(exercise, exercise.score(results, submission))
    except Exception as exc:  # noqa: BLE001 - a bug in the hidden tests
        msg = f"grader error while scoring: {type(exc).__name__}: {exc}"
        return _report(exercise, submission, t0, _all_parts(
            exercise, "error", "The grader failed while scoring; tell your instructor."),
            iso=iso, grader_error=msg + "\n" + traceback.format_exc())
    return _report(exercise, submission, t0, tests, iso=iso)


def _cell_run(cell: Cell, ph: Phase | None, why_not_run: str,
              labels: dict[int, str]) -> CellRun:
    if ph is None:
        ph = (Phase(status=PhaseStatus.SKIPPED, error=cell.skipped) if cell.skipped
              else Phase(status=PhaseStatus.NOT_RUN, error=why_not_run))
    return CellRun(index=cell.index, status=ph.status, error=ph.error,
                   traceback=_relabel(ph.traceback, labels), duration_s=ph.duration_s,
                   label=labels.get(cell.index, ""), cpu_s=ph.cpu_s)
