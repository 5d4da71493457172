"""The attack corpus (tests/grading/attacks/): each submission gets the right grade.

For every attack, in each of the four modes the grader runs in (``modes.ALL_MODES``:
root, root without CAP_SYS_ADMIN, Docker's default, a normal user): the grader
returns (never raises), each test has a valid status, the total is the expected
one, the learner sees a message saying what happened, nothing hidden leaks into
the results, files outside the sandbox are untouched, what the attack aimed at
outside was not reached, and no process of the sandbox survives grading.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
from pathlib import Path

import pytest

from dlbasics_grader.report import summary as terminal_summary
from dlbasics_grader.spec import STATUSES

from .corpus import ATTACK_DIR, ATTACKS, CorpusRun, grade_corpus, snapshot
from .helpers import EXERCISE_NAMES, survivors
from .modes import ALL_MODES


def _alternatives(needle: str | tuple[str, ...]) -> tuple:
    return needle if isinstance(needle, tuple) else (needle,)


def _load(name: str):
    return importlib.import_module(f".attacks.{name}", __package__)


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
        texts = [t for v in value for t in (_alternatives(v) if key == "EXPECT_OUTPUT" else [v])]
        assert isinstance(value, list) and all(isinstance(t, str) and t for t in texts), key
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


_RUNS: dict[str, CorpusRun] = {}


@pytest.fixture(scope="session")
def corpus(tmp_path_factory, ex1_solution_cells, ex1_stub_cells):
    """``corpus(mode)``: the whole corpus graded in ``mode`` (one batch per mode, once)."""

    def run(mode: str) -> CorpusRun:
        if mode not in _RUNS:
            _RUNS[mode] = grade_corpus(mode, tmp_path_factory.mktemp(f"corpus-{mode}"),
                                       ex1_solution_cells, ex1_stub_cells)
        return _RUNS[mode]

    yield run
    for r in _RUNS.values():
        r.close()


@pytest.mark.slow
@pytest.mark.parametrize("name", ATTACKS)
@pytest.mark.parametrize("mode", [pytest.param(m, marks=pytest.mark.xdist_group(f"corpus-{m}"))
                                  for m in ALL_MODES])
def test_attack_is_graded_right(mode, name, corpus, ex1):
    run = corpus(mode)
    mod, graded = _load(name), run.graded[name]
    assert not graded.error, graded.error
    report = graded.report
    if graded.arranged is not None:
        graded.arranged.check(report)

    results = report.to_gradescope()
    json.dumps(results)  # serializable
    json.dumps(results, ensure_ascii=False).encode("utf-8")  # and valid UTF-8
    terminal_summary(report, color=True).encode("utf-8")  # printable
    assert not report.grader_error, report.grader_error
    assert [t.name for t in report.tests] == [p.name for p in ex1.parts]
    assert all(t.status in STATUSES for t in report.tests)
    summary = f"{name} ({mode}): {report.score}\n{report.output}\n" + "\n".join(
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
        # a tuple: any one of these (how a refusal reads differs between modes)
        assert any(n in visible for n in _alternatives(needle)), f"{needle!r} not in:\n{summary}"
    everything = json.dumps(results) + report.stdout + report.stderr
    for secret in getattr(mod, "FORBIDDEN_OUTPUT", []):
        assert secret not in everything, f"{secret!r} leaked"
    if hasattr(mod, "MAX_KEPT_OUTPUT"):
        assert len(report.stdout) + len(report.stderr) < mod.MAX_KEPT_OUTPUT
    for canary in getattr(mod, "CANARIES", []):
        assert not os.path.exists(canary), f"{canary} was written"
    assert snapshot(graded.outside, run.hidden) == graded.before, \
        "files outside the sandbox changed"
    if hasattr(mod, "after"):
        mod.after(report)
    uid = report.isolation.get("user", "")
    if uid.startswith("uid "):
        assert survivors(int(uid.split()[1]), graded.done_ticks) == []


GRADER_PEAK_MIB = 512


@pytest.mark.slow
@pytest.mark.parametrize("mode", [pytest.param(m, marks=pytest.mark.xdist_group(f"corpus-{m}"))
                                  for m in ALL_MODES])
def test_the_grader_stays_within_its_memory_over_the_whole_corpus(mode, corpus):
    """The grading process itself (outside every sandbox limit) peaks below 512 MiB, however
    the notebooks and the messages their runners send amplify when decoded."""
    peaks = {n: g.grader_peak_kib for n, g in corpus(mode).graded.items()}
    assert all(peaks.values()), peaks
    assert max(peaks.values()) < GRADER_PEAK_MIB * 1024, peaks


def test_real_limits_stay_generous_for_slow_but_fair_notebooks(ex1):
    """The corpus shrinks every limit with time_scale; the real ones must leave room."""
    assert ex1.limits.cell_wall_s >= 10 and ex1.limits.total_wall_s >= 30
    assert all(p.timeout_s >= 5 for p in ex1.probes(ex1.seed))
