"""The attack corpus (tests/grading/attacks/): each submission gets the right grade.

For every attack: the grader returns (never raises), each test has a valid
status, the total is the expected one, the learner sees a message saying what
happened, nothing hidden leaks into the results, files outside the sandbox are
untouched, and no process of the sandbox survives grading.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import os
from pathlib import Path

import pytest

from dlbasics_grader.engine import grade
from dlbasics_grader.report import summary as terminal_summary
from dlbasics_grader.spec import STATUSES

from ..helpers import HIDDEN, REPO, write_notebook
from .helpers import EXERCISE_NAMES, boot_ticks, survivors

ATTACK_DIR = Path(__file__).with_name("attacks")
ATTACKS = sorted(p.stem for p in ATTACK_DIR.glob("a[0-9][0-9]_*.py"))


def _load(name: str):
    return importlib.import_module(f".attacks.{name}", __package__)


def _build(mod, path: Path, solution: list[str], stubs: list[str],
           fill: dict[str, str] | None = None) -> Path:
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


def _snapshot(outside: Path) -> dict[str, str]:
    """Contents of what an attack might try to change outside the sandbox.

    (Other files of the repository may legitimately change while the tests
    run, so only these are compared.)
    """
    snap = {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in [HIDDEN / "ex1.py", *sorted(outside.iterdir())] if p.is_file()}
    snap["repo files"] = ",".join(sorted(p.name for p in REPO.iterdir()
                                         if "attack" in p.name))
    return snap


# --------------------------------------------------------------------------
# the corpus itself: every attack says what it tries and what it expects, and is run
# --------------------------------------------------------------------------

ALL_ATTACKS = sorted(p.stem for p in ATTACK_DIR.glob("*.py") if p.stem != "__init__")
# what the harness below reads from an Exercise-1 attack (the module docstring of attacks/)
SUBMISSION = ("CELLS", "RAW", "build", "cells")
# an attack may also ``arrange(outside, uid)`` what it attacks outside the sandbox: an object
# with ``fill`` (replacements in its cells), ``check(report)`` and ``close()``
DECLARATIONS = ("EXPECT_SCORE", "EXPECT_STATUS", "EXPECT_OUTPUT", "FORBIDDEN_OUTPUT",
                "MAX_KEPT_OUTPUT", "CANARIES", "TIME_SCALE")


def _run_attacks() -> set[str]:
    """Attack modules some test runs: the values of this module's parametrized ``name``
    arguments that are attacks, and the attacks other test modules import and use."""
    run = set()
    for fn in [v for k, v in globals().items() if k.startswith("test_") and callable(v)]:
        for mark in getattr(fn, "pytestmark", []):
            if mark.name == "parametrize" and mark.args[0] == "name":
                run |= set(mark.args[1]) & set(ALL_ATTACKS)
    for path in sorted(Path(__file__).parent.glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {(a.asname or a.name): a.name for node in ast.walk(tree)
                    if isinstance(node, ast.ImportFrom) and node.level == 1
                    and node.module == "attacks" for a in node.names}
        used = {node.id for node in ast.walk(tree)
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}
        run |= {module for alias, module in imported.items() if alias in used}
    return run


def test_every_attack_file_is_run_by_a_test():
    assert set(ALL_ATTACKS) - _run_attacks() == set(), "attack files no test runs"


def test_an_attack_file_nobody_runs_is_found(monkeypatch):
    monkeypatch.setitem(globals(), "ALL_ATTACKS", [*ALL_ATTACKS, "b01_never_run"])
    assert "b01_never_run" not in _run_attacks()
    assert {"a01_infinite_loop", "ex2_public_lookup", "ex3_private_model_predict"} <= _run_attacks()


@pytest.mark.parametrize("attack", ALL_ATTACKS)
def test_every_attack_says_what_it_tries(attack):
    doc = _load(attack).__doc__ or ""
    assert len(doc.split()) >= 3, f"{attack}: the docstring must say what the attack tries"


@pytest.mark.parametrize("attack", ATTACKS)
def test_every_exercise_1_attack_declares_its_grade(attack, ex1):
    mod = _load(attack)
    names = {k for k in vars(mod) if k.startswith(("EXPECT", "FORBID"))}
    assert names <= set(DECLARATIONS), f"{attack}: the harness does not read {names - set(DECLARATIONS)}"
    assert sum(hasattr(mod, k) for k in SUBMISSION) == 1, f"{attack}: one of {SUBMISSION}"
    assert isinstance(mod.EXPECT_SCORE, (int, float)) and 0 <= mod.EXPECT_SCORE <= ex1.max_score
    status = getattr(mod, "EXPECT_STATUS", {})
    assert set(status) <= {p.name for p in ex1.parts} and set(status.values()) <= set(STATUSES)
    for key in ("EXPECT_OUTPUT", "FORBIDDEN_OUTPUT", "CANARIES"):
        value = getattr(mod, key, [])
        assert isinstance(value, list) and all(isinstance(v, str) and v for v in value), key
    # below full marks the attack says which parts fail or what the learner is told
    # (at full marks the harness requires every part to pass)
    assert mod.EXPECT_SCORE == ex1.max_score or status or any(
        hasattr(mod, k) for k in ("EXPECT_OUTPUT", "FORBIDDEN_OUTPUT", "after")), attack


@pytest.mark.parametrize("attack", [a for a in ALL_ATTACKS if a not in ATTACKS])
def test_every_exercise_attack_names_an_exercise_and_adds_cells_that_parse(attack):
    """Exercise 2 and 3 attacks are cells appended to the solution's definitions; the tests
    that import them say what they must score."""
    assert attack.split("_")[0] in EXERCISE_NAMES, f"{attack}: name it exN_what_it_tries"
    cells = _load(attack).CELLS
    assert cells and all(isinstance(c, str) and ast.parse(c) for c in cells)


@pytest.mark.slow
@pytest.mark.parametrize("name", ATTACKS)
def test_attack_is_graded_right(name, tmp_path, ex1, ex1_solution_cells, ex1_stub_cells):
    mod = _load(name)
    sub_dir = tmp_path / "submission"
    sub_dir.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "canary.txt").write_text("untouched")
    arranged = mod.arrange(outside, os.getuid()) if hasattr(mod, "arrange") else None
    try:
        path = _build(mod, sub_dir / "ex1_neural_network.ipynb", ex1_solution_cells,
                      ex1_stub_cells, arranged.fill if arranged else None)
        before = _snapshot(outside)
        report = grade(ex1, path, private_paths=[HIDDEN],
                       time_scale=getattr(mod, "TIME_SCALE", 0.25))
        done_ticks = boot_ticks()
        if arranged:
            arranged.check(report)
    finally:
        if arranged:
            arranged.close()

    results = report.to_gradescope()
    json.dumps(results)  # serializable
    json.dumps(results, ensure_ascii=False).encode("utf-8")  # and valid UTF-8
    terminal_summary(report, color=True).encode("utf-8")  # printable
    assert not report.grader_error, report.grader_error
    assert [t.name for t in report.tests] == [p.name for p in ex1.parts]
    assert all(t.status in STATUSES for t in report.tests)
    summary = f"{name}: {report.score}\n{report.output}\n" + "\n".join(
        f"{t.name} {t.status} {t.score}: {t.output}" for t in report.tests)
    assert report.score == mod.EXPECT_SCORE, summary
    expected_status = getattr(mod, "EXPECT_STATUS", {})
    for t in report.tests:
        if t.name in expected_status:
            assert t.status == expected_status[t.name], summary
        elif report.score == ex1.max_score:
            assert t.status == "passed", summary
    visible = report.output + "\n" + "\n".join(t.output for t in report.tests)
    for needle in getattr(mod, "EXPECT_OUTPUT", []):
        assert needle in visible, f"{needle!r} not in:\n{summary}"
    everything = json.dumps(results) + report.stdout + report.stderr
    for secret in getattr(mod, "FORBIDDEN_OUTPUT", []):
        assert secret not in everything, f"{secret!r} leaked"
    if hasattr(mod, "MAX_KEPT_OUTPUT"):
        assert len(report.stdout) + len(report.stderr) < mod.MAX_KEPT_OUTPUT
    for canary in getattr(mod, "CANARIES", []):
        assert not os.path.exists(canary), f"{canary} was written"
    assert _snapshot(outside) == before, "files outside the sandbox changed"
    if hasattr(mod, "after"):
        mod.after(report)
    uid = report.isolation.get("user", "")
    if uid.startswith("uid "):
        assert survivors(int(uid.split()[1]), done_ticks) == []


def test_real_limits_stay_generous_for_slow_but_fair_notebooks(ex1):
    """The corpus shrinks every limit with time_scale; the real ones must leave room."""
    assert ex1.limits.cell_wall_s >= 10 and ex1.limits.total_wall_s >= 30
    assert all(p.timeout_s >= 5 for p in ex1.probes(ex1.seed))
