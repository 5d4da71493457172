"""dlbasics-grade on the command line: single, batch, errors, output formats."""

from __future__ import annotations

import base64
import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dlbasics_grader.cli import main

from .conftest import EX1, EXERCISES, HIDDEN, REPO, SOLUTIONS

TEST_KEYS = {"name", "score", "max_score", "status", "output", "visibility"}


def _check_results_schema(data: dict) -> None:
    assert {"score", "execution_time", "tests", "output", "visibility"} <= set(data)
    assert isinstance(data["score"], float) and data["execution_time"] >= 0
    for t in data["tests"]:
        assert TEST_KEYS <= set(t)
    assert data["score"] == pytest.approx(sum(t["score"] for t in data["tests"]))


def test_single_submission_writes_results_and_a_readable_summary(tmp_path, capsys):
    out = tmp_path / "results.json"
    code = main(["ex1", str(SOLUTIONS / EX1), "--results", str(out), "--tests", str(HIDDEN)])
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
    (subs / "erin").mkdir()  # nothing submitted
    gradebook, per_student = tmp_path / "gradebook.csv", tmp_path / "results"
    code = main(["ex1", str(subs), "--csv", str(gradebook), "--jobs", "2",
                 "--results-dir", str(per_student), "--tests", str(HIDDEN)])
    assert code == 0
    rows = {r["student"]: r for r in csv.DictReader(gradebook.open())}
    assert set(rows) == {"alice", "bob", "carol", "dave", "erin"}
    assert {s: float(r["score"]) for s, r in rows.items()} == {
        "alice": 10, "bob": 0, "carol": 0, "dave": 10, "erin": 0}
    assert rows["alice"]["ex1.forward"] == "3" and rows["alice"]["max_score"] == "10"
    assert "ex1.init=error" in rows["bob"]["statuses"]
    for student in rows:
        _check_results_schema(json.loads((per_student / f"{student}.json").read_text()))
    assert "not valid notebook JSON" in json.loads((per_student / "carol.json").read_text())[
        "output"]
    out = capsys.readouterr()
    assert "5 submissions" in out.out and "gradebook" in out.out


@pytest.mark.parametrize(("argv", "message"), [
    ([], "required"),
    (["ex9", "x.ipynb"], "no hidden tests for 'ex9'"),
    (["ex1", "does-not-exist.ipynb"], "no such file or folder"),
    (["ex1", str(SOLUTIONS / EX1), "--jobs", "0"], "--jobs must be at least 1"),
    (["ex1", str(SOLUTIONS / EX1), "--csv", "g.csv"], "for a folder of submissions"),
    (["ex1", str(SOLUTIONS / EX1), "--tests", "/no/such/dir"], "no such directory"),
    (["ex1", str(SOLUTIONS / EX1), "--bogus"], "unrecognized arguments"),
])
def test_bad_input_exits_2_with_a_clear_message(argv, message, capsys):
    if "--tests" not in argv and argv:
        argv = [*argv, "--tests", str(HIDDEN)]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_missing_hidden_tests_are_explained(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DLBASICS_HIDDEN_TESTS", raising=False)
    assert main(["ex1", str(SOLUTIONS / EX1)]) == 2
    err = capsys.readouterr().err
    assert "hidden tests not found" in err and "--tests" in err and "DLBASICS_HIDDEN_TESTS" in err


def test_hidden_tests_are_found_through_the_environment(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DLBASICS_HIDDEN_TESTS", str(HIDDEN))
    assert main(["list"]) == 0
    listed = capsys.readouterr().out
    for module in sorted(HIDDEN.glob("ex*.py")):
        assert listed.count(f"{module.stem} ") >= 1


def test_a_missing_submission_still_gets_a_results_file(tmp_path):
    out = tmp_path / "results.json"
    assert main(["ex1", str(tmp_path / "nothing.ipynb"), "--results", str(out),
                 "--tests", str(HIDDEN)]) == 2
    data = json.loads(out.read_text())
    assert data["score"] == 0 and "could not be read" in data["output"]


def test_gradescope_mode_uses_only_passed_and_failed(tmp_path):
    out = tmp_path / "results.json"
    assert main(["ex1", str(EXERCISES / EX1), "--results", str(out), "--gradescope",
                 "--tests", str(HIDDEN), "-q"]) == 0
    tests = json.loads(out.read_text())["tests"]
    assert {t["status"] for t in tests} == {"failed"}
    assert all(t["output"].startswith("[error] ") for t in tests)


def test_classroom_output_line(tmp_path, monkeypatch):
    target = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(target))
    assert main(["ex1", str(SOLUTIONS / EX1), "--classroom", "-q", "--tests", str(HIDDEN)]) == 0
    line = target.read_text().strip()
    assert line.startswith("result=")
    payload = json.loads(base64.b64decode(line[len("result="):]))
    assert payload["status"] == "pass" and payload["max_score"] == 10
    assert sum(t["score"] for t in payload["tests"]) == 10


def test_the_console_script_is_installed():
    exe = Path(sys.executable).with_name("dlbasics-grade")
    proc = subprocess.run([str(exe), "ex1", str(SOLUTIONS / EX1), "-q"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"10/10 {SOLUTIONS / EX1}"
