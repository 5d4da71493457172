"""The attack corpus graded in one batch per mode (``modes.ALL_MODES``).

:func:`grade_corpus` builds every Exercise-1 attack's notebook, arranges what
it aims at outside the sandbox, snapshots what it must not change, and grades
the lot in one grader process started the way ``mode`` runs it (this module
run as a program: ``python -m tests.grading.corpus SPEC OUT``). The test
(``test_attacks.py``) then checks each attack's report. One process per mode
keeps the cost of four modes to about one interpreter start each.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import pickle
import subprocess
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..helpers import HIDDEN, REPO, write_notebook
from .helpers import boot_ticks, peak_kib

ATTACK_DIR = Path(__file__).with_name("attacks")
ATTACKS = sorted(p.stem for p in ATTACK_DIR.glob("a[0-9][0-9]_*.py"))
NOTEBOOK = "ex1_neural_network.ipynb"
JOBS = 3
"""Attacks graded at once in one mode's batch."""


def load_attack(name: str):
    return importlib.import_module(f"tests.grading.attacks.{name}")


def build(mod, path: Path, solution: list[str], stubs: list[str],
          fill: dict[str, str] | None = None) -> Path:
    """Write attack ``mod``'s submission to ``path`` (``fill``: text replaced in its cells)."""
    if hasattr(mod, "RAW"):
        path.write_bytes(mod.RAW)
    elif hasattr(mod, "build"):
        mod.build(path, solution)
    else:
        cells = mod.cells(solution) if hasattr(mod, "cells") else []
        if hasattr(mod, "CELLS"):
            for c in mod.CELLS:
                cells += solution if c == "SOLUTION" else stubs if c == "STUBS" else [
                    _fill(c, {"{REPO}": str(REPO), **(fill or {})})
                ]
        write_notebook(path, cells)
    return path


def _fill(cell: str, fill: dict[str, str]) -> str:
    for key, value in fill.items():
        cell = cell.replace(key, value)
    return cell


def snapshot(outside: Path, hidden: Path) -> dict[str, str]:
    """Contents of what an attack might try to change outside the sandbox.

    (Other files of the repository may legitimately change while the tests
    run, so only these are compared.)
    """
    snap = {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in [hidden / "ex1.py", *sorted(outside.iterdir())] if p.is_file()}
    snap["repo files"] = ",".join(sorted(p.name for p in REPO.iterdir() if "attack" in p.name))
    return snap


@dataclass
class Graded:
    """One attack graded: its report (or the error that kept it from one), what it
    arranged outside, and the snapshot taken before."""

    name: str
    outside: Path
    before: dict[str, str]
    arranged: Any = None
    report: Any = None
    error: str = ""
    grader_peak_kib: int = 0
    """The grading process's peak resident memory once this attack was graded (the peak over
    this attack and those graded before or beside it)."""
    wall_s: float = 0.0
    """How long its grading took."""
    done_ticks: float = 0.0
    """When its grading returned (clock ticks since boot): a process of its sandbox user that
    started before then and still runs survived it (the user may be leased again later, by
    another grader of the machine)."""


@dataclass
class CorpusRun:
    """Every attack of one mode's batch."""

    mode: str
    hidden: Path
    graded: dict[str, Graded] = field(default_factory=dict)
    wall_s: float = 0.0
    log: str = ""

    def close(self) -> None:
        for g in self.graded.values():
            if g.arranged is not None:
                g.arranged.close()


def grade_corpus(mode: str, root: Path, solution: list[str], stubs: list[str],
                 names: list[str] | None = None) -> CorpusRun:
    """Grade every attack (or those ``names``) in ``mode`` under ``root`` (see the module
    docstring)."""
    from .modes import course_copy, python_command, unavailable

    why = unavailable(mode)
    if why:
        raise RuntimeError(f"mode {mode} cannot run here: {why}")
    uid = gid = 0
    hidden = HIDDEN
    if mode == "user":
        home, course = course_copy()
        hidden = course / "hidden_exercises"
        uid, gid = os.stat(home).st_uid, os.stat(home).st_gid
        root = home / f"corpus-{os.getpid()}"
        root.mkdir()
    run = CorpusRun(mode=mode, hidden=hidden)
    jobs = []
    for name in names or ATTACKS:
        mod = load_attack(name)
        sub, outside = root / name / "submission", root / name / "outside"
        sub.mkdir(parents=True)
        outside.mkdir()
        (outside / "canary.txt").write_text("untouched")
        arranged = mod.arrange(outside, uid) if hasattr(mod, "arrange") else None
        path = build(mod, sub / NOTEBOOK, solution, stubs, arranged.fill if arranged else None)
        run.graded[name] = Graded(name, outside, snapshot(outside, hidden), arranged)
        jobs.append({"name": name, "notebook": str(path),
                     "time_scale": getattr(mod, "TIME_SCALE", 0.25)})
    spec, out = root / "spec.json", root / "reports"
    out.mkdir()
    spec.write_text(json.dumps({"hidden": str(hidden), "out": str(out), "jobs": jobs}))
    if mode == "user":
        for p in [root, *root.rglob("*")]:
            if not p.is_socket():
                os.chown(p, uid, gid)
    t0 = time.monotonic()
    proc = subprocess.run(python_command(mode, ["-m", "tests.grading.corpus", str(spec)],
                                         {"PYTHONPATH": str(REPO)}),
                          capture_output=True, text=True, timeout=900,
                          cwd=str(REPO) if mode != "user" else "/")
    run.wall_s = time.monotonic() - t0
    run.log = f"exit {proc.returncode}\nstdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}"
    for name, g in run.graded.items():
        if (out / f"{name}.pickle").exists():
            with open(out / f"{name}.pickle", "rb") as fh:
                g.report, g.error, g.grader_peak_kib, g.done_ticks, g.wall_s = pickle.load(fh)
    for g in run.graded.values():
        if g.report is None and not g.error:
            g.error = f"the batch did not grade it\n{run.log}"
    return run


def main(spec_file: str) -> None:
    """Grade the batch ``spec_file`` describes (in the mode this process was started in),
    ``JOBS`` notebooks at a time as ``dlbasics-grade batch --jobs`` does: most attacks wait
    for a time limit, and their waits overlap."""
    from dlbasics_grader.engine import grade, load_exercise

    spec = json.loads(Path(spec_file).read_text())
    hidden = Path(spec["hidden"])
    ex1 = load_exercise("ex1", hidden)

    def one(job: dict) -> None:
        t0 = time.monotonic()
        try:
            report = grade(ex1, job["notebook"], private_paths=[hidden],
                           time_scale=job["time_scale"])
            graded = (report, "")
        except BaseException:  # noqa: BLE001 - recorded: the test fails with it
            graded = (None, traceback.format_exc())
        done = boot_ticks()
        peak = peak_kib()
        with open(Path(spec["out"]) / f"{job['name']}.pickle", "wb") as fh:
            pickle.dump((*graded, peak, done, time.monotonic() - t0), fh)

    with ThreadPoolExecutor(max_workers=JOBS) as pool:
        list(pool.map(one, spec["jobs"]))


if __name__ == "__main__":
    main(sys.argv[1])
