"""dlbasics-grade on the command line: single, batch, errors, output formats."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dlbasics_grader.cli import main

from ..helpers import EX1, EXERCISES, HIDDEN, REPO, SOLUTIONS, code_cells, write_notebook

TEST_KEYS = {"name", "score", "max_score", "status", "output", "visibility"}


def _check_results_schema(data: dict) -> None:
    assert {"score", "execution_time", "tests", "output", "visibility"} <= set(data)
    assert isinstance(data["score"], float) and data["execution_time"] >= 0
    for t in data["tests"]:
        assert TEST_KEYS <= set(t)
    assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]))


def test_single_submission_writes_results_and_a_readable_summary(tmp_path, capsys):
    out = tmp_path / "results.json"
    code = main(["grade", "ex1", str(SOLUTIONS / EX1), "--results", str(out), "--tests", str(HIDDEN)])
    assert code == 0
    data = json.loads(out.read_text())
    _check_results_schema(data)
    assert data["score"] == 10.0 and {t["status"] for t in data["tests"]} == {"passed"}
    text = capsys.readouterr().out
    assert "✓ ex1.forward" in text and "Score 10 / 10" in text and str(out) in text


def test_batch_grades_a_folder_into_a_gradebook(tmp_path, capsys):
    subs = tmp_path / "submissions"
    subs.mkdir()
    shutil.copy(SOLUTIONS / EX1, subs / "alice.ipynb")
    shutil.copy(EXERCISES / EX1, subs / "bob.ipynb")
    (subs / "carol.ipynb").write_text('{"cells": [')
    (subs / "dave").mkdir()
    shutil.copy(SOLUTIONS / EX1, subs / "dave" / EX1)
    (subs / "dave" / "notes.txt").write_text("my notes")
    (subs / "erin").mkdir()  # nothing submitted
    (subs / "frank").mkdir()  # two notebooks, neither with the exercise's name
    shutil.copy(SOLUTIONS / EX1, subs / "frank" / "Untitled.ipynb")
    shutil.copy(EXERCISES / EX1, subs / "frank" / "Untitled-1.ipynb")
    gradebook, per_student = tmp_path / "gradebook.csv", tmp_path / "results"
    code = main(["batch", "ex1", str(subs), "--csv", str(gradebook), "--jobs", "2",
                 "--results-dir", str(per_student), "--tests", str(HIDDEN)])
    assert code == 4  # graded, but some submissions need a person's attention
    rows = {r["student"]: r for r in csv.DictReader(gradebook.open())}
    assert set(rows) == {"alice", "bob", "carol", "dave", "erin", "frank"}
    assert {s: float(r["score"]) for s, r in rows.items()} == {
        "alice": 10, "bob": 0, "carol": 0, "dave": 10, "erin": 0, "frank": 0}
    assert rows["alice"]["ex1.forward"] == "3" and rows["alice"]["max_score"] == "10"
    assert "ex1.init=error" in rows["bob"]["statuses"]
    attention = {s: r["needs_attention"] for s, r in rows.items()}
    assert attention["alice"] == attention["bob"] == attention["dave"] == ""  # a real 0 for bob
    assert "2 notebooks, ambiguous (Untitled-1.ipynb, Untitled.ipynb)" in attention["frank"]
    assert "no notebook" in attention["erin"]
    assert "not a readable notebook" in attention["carol"]
    for student in rows:
        _check_results_schema(json.loads((per_student / f"{student}.json").read_text()))
        assert (per_student / f"{student}.md").is_file()
    assert "not valid notebook JSON" in json.loads((per_student / "carol.json").read_text())[
        "output"]
    frank = json.loads((per_student / "frank.json").read_text())
    assert "2 notebooks, ambiguous" in frank["output"] and not frank["extra_data"]["grader_error"]
    out = capsys.readouterr()
    assert "6 submissions" in out.out and "gradebook" in out.out
    assert "needs attention: frank: 2 notebooks, ambiguous" in out.out
    assert "not graded in dave/: notes.txt" in out.out


def test_the_markdown_report_says_what_passed_and_failed_and_escapes_learner_text(tmp_path):
    cells = code_cells(SOLUTIONS / EX1, stop_at="def make_spirals")
    marker = "        # BEGIN SOLUTION\n        for n_in, n_out"
    assert any(marker in c for c in cells)
    cells = [c.replace(marker, "        raise ValueError('<script>alert(1)</script> **bold** | ```')"
                       f"\n{marker}") for c in cells]
    out = tmp_path / "results.json"
    assert main(["grade", "ex1", str(write_notebook(tmp_path / EX1, cells)), "--results", str(out),
                 "--tests", str(HIDDEN), "-q"]) == 0
    md = out.with_suffix(".md").read_text()
    assert md.startswith("# A neural network from scratch (NumPy) (ex1)")  # plain, no escapes
    assert f"file `{EX1}`" in md and "\\_" not in md.split("```", 1)[0]
    # a raising __init__ costs ex1.init and what builds networks itself, not the training runs
    assert "**Score: 2 / 10**" in md and "| ex1.init: " in md
    assert "<script>" in md  # only inside a fenced block, whose fence is longer than the text's
    fence_line = next(ln for ln in md.splitlines() if ln.startswith("````"))
    assert fence_line == "````text"
    from dlbasics_grader.report import md_inline

    assert md_inline("a|b <i>x</i> *y*") == "`a|b <i>x</i> *y*`"
    assert md_inline("``x`` `") == "``` ``x`` ` ```"


def test_one_learners_folder_grades_the_expected_notebook_else_the_newest(tmp_path, capsys):
    import os

    folder = tmp_path / "submission"
    folder.mkdir()
    shutil.copy(SOLUTIONS / EX1, folder / "Untitled-1.ipynb")
    shutil.copy(EXERCISES / EX1, folder / "Untitled.ipynb")
    os.utime(folder / "Untitled.ipynb", (1_000_000, 1_000_000))  # the stub is the older one
    out = tmp_path / "results.json"
    argv = ["grade", "ex1", str(folder), "--choose", "--results", str(out), "--tests", str(HIDDEN), "-q"]
    assert main(argv) == 0
    data = json.loads(out.read_text())
    first = data["output"].splitlines()[1]  # inside the fenced block
    assert first.startswith("Graded Untitled-1.ipynb (the newest notebook; name yours "
                            f"{EX1} to choose it). Warning: 1 other notebook(s) were not "
                            "graded: Untitled.ipynb.")
    assert data["score"] == 10
    shutil.copy(EXERCISES / EX1, folder / EX1)  # the expected name wins, however old
    os.utime(folder / EX1, (1_000_000, 1_000_000))
    assert main(argv) == 0
    data = json.loads(out.read_text())
    assert data["output"].startswith(f"```text\nGraded {EX1} (the exercise's notebook). Warning: 2 ")
    assert data["score"] == 0


@pytest.mark.parametrize(("argv", "message"), [
    ([], "required: COMMAND"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["grade", "ex9", "x.ipynb"], "no hidden tests for 'ex9'"),
    (["grade", "ex1", "does-not-exist.ipynb"], "no such file or folder"),
    (["grade", "ex1", str(EXERCISES)], "add --choose to grade one learner's folder"),
    (["grade", "ex1", str(SOLUTIONS / EX1), "--csv", "g.csv"], "unrecognized arguments"),
    (["grade", "ex1", str(SOLUTIONS / EX1), "--tests", "/no/such/dir"], "no such directory"),
    (["grade", "ex1", str(SOLUTIONS / EX1), "--github"], "--github needs --results"),
    (["batch", "ex1", str(EXERCISES), "--jobs", "0"], "--jobs must be at least 1"),
    (["batch", "ex1", str(SOLUTIONS / EX1)], "no such folder"),
    (["gradescope", "ex 1", "x.zip"], "exercise name 'ex 1' is not valid"),
    (["ex1", str(SOLUTIONS / EX1), "--bogus"], "unrecognized arguments"),
])
def test_bad_input_exits_2_with_a_clear_message(argv, message, capsys):
    if "--tests" not in argv and argv:
        argv = [*argv, "--tests", str(HIDDEN)]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_missing_hidden_tests_exit_3_as_documented(tmp_path, monkeypatch, capsys):
    import re

    import dlbasics_grader.cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DLBASICS_HIDDEN_TESTS", raising=False)
    assert main(["grade", "ex1", str(SOLUTIONS / EX1)]) == 3
    err = capsys.readouterr().err
    assert "hidden tests not found" in err and "--tests" in err and "DLBASICS_HIDDEN_TESTS" in err
    readme = (REPO / "dlbasics_grader" / "README.md").read_text()
    for doc in (dlbasics_grader.cli.__doc__, readme):
        text = " ".join(doc.split())
        assert re.search(r"\b2 (for )?bad (command-line )?input", text)
        assert re.search(r"\b3 (when )?the grader (itself )?(cannot|could not) grade \(hidden "
                         r"tests missing", text)
        assert re.search(r"\b4 when everything was graded but some submissions need", text)


def test_hidden_tests_are_found_through_the_environment(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DLBASICS_HIDDEN_TESTS", str(HIDDEN))
    assert main(["list"]) == 0
    listed = capsys.readouterr().out
    for module in sorted(HIDDEN.glob("ex*.py")):
        assert listed.count(f"{module.stem} ") >= 1


def test_a_missing_submission_still_gets_a_results_file(tmp_path):
    out = tmp_path / "results.json"
    assert main(["grade", "ex1", str(tmp_path / "nothing.ipynb"), "--results", str(out),
                 "--tests", str(HIDDEN)]) == 2
    data = json.loads(out.read_text())
    assert data["score"] == 0 and "could not be read" in data["output"]


def test_gradescope_mode_uses_only_passed_and_failed(tmp_path):
    out = tmp_path / "results.json"
    assert main(["grade", "ex1", str(EXERCISES / EX1), "--results", str(out), "--gradescope",
                 "--tests", str(HIDDEN), "-q"]) == 0
    tests = json.loads(out.read_text())["tests"]
    assert {t["status"] for t in tests} == {"failed"}
    assert all(t["output"].startswith("```text\n[error] ") for t in tests)


def test_the_console_script_is_installed():
    exe = Path(sys.executable).with_name("dlbasics-grade")
    proc = subprocess.run([str(exe), "grade", "ex1", str(SOLUTIONS / EX1), "-q"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"10/10 {SOLUTIONS / EX1}"


def test_commands_and_the_forms_from_before_them(capsys):
    from dlbasics_grader.cli import _modern, parser

    assert set(parser()._subparsers._group_actions[0].choices) == {  # noqa: SLF001
        "grade", "batch", "report", "list", "gradescope", "classroom50", "actions"}
    nb, folder = str(SOLUTIONS / EX1), str(EXERCISES)
    assert _modern(["ex1", nb, "-q"]) == ["grade", "ex1", nb, "-q"]
    assert _modern(["ex1", folder, "--csv", "g.csv"]) == ["batch", "ex1", folder, "--csv", "g.csv"]
    assert _modern(["ex1", folder, "--choose"]) == ["grade", "ex1", folder, "--choose"]
    assert _modern(["package-gradescope", "ex1", "x.zip"]) == ["gradescope", "ex1", "x.zip"]
    assert _modern(["github-classroom", "ex1"]) == ["actions", "ex1"]
    for command in ("grade", "batch", "list", "gradescope", "classroom50", "actions"):
        assert main([command, "--help"]) == 0
        assert f"usage: dlbasics-grade {command}" in capsys.readouterr().out


def test_every_status_other_than_0_is_raised_as_one_exception(monkeypatch, capsys):
    from dlbasics_grader import cli
    from dlbasics_grader.exit import ExitStatus, GradeExit

    def attention(args):
        raise GradeExit(ExitStatus.NEEDS_ATTENTION)

    def broken(args):
        raise GradeExit(ExitStatus.SETUP_ERROR, "the hidden tests are broken")

    monkeypatch.setattr(cli, "_cmd_list", attention)
    assert main(["list"]) == 4 and capsys.readouterr().err == ""
    monkeypatch.setattr(cli, "_cmd_list", broken)
    assert main(["list"]) == 3
    assert capsys.readouterr().err == "dlbasics-grade: error: the hidden tests are broken\n"
    assert [int(s) for s in ExitStatus] == [0, 2, 3, 4, 130]
    source = (REPO / "dlbasics_grader" / "cli.py").read_text() + (
        REPO / "dlbasics_grader" / "batch.py").read_text()
    assert "return USAGE" not in source and "SystemExit(2" not in source
