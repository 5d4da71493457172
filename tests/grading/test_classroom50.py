"""The Classroom 50 autograder, run as Classroom 50's runner runs it: from its folder in the
classroom50 repository, in a learner's checkout laid out like the student bundle, with the
runner's environment; its result.json checked against the documented contract."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from dlbasics_grader.cli import main

from ..helpers import EX1, HIDDEN, SOLUTIONS
from .platforms import VENV_BIN, student_repository, sudo_shim

SCHEMA = json.loads((Path(__file__).parent / "schemas" / "classroom50_result_v1.json").read_text())


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("c50")
    autograders = root / "classroom50" / "dl-fall" / "autograders" / "ex1"
    assert main(["classroom50", "ex1", str(autograders), "--tests", str(HIDDEN)]) == 0
    repo = student_repository(root / "ex1-alice", {f"exercises/{EX1}": SOLUTIONS / EX1})
    return autograders, repo


def _run(autograders: Path, checkout: Path, tmp: Path) -> tuple[subprocess.CompletedProcess,
                                                                  dict[str, str]]:
    """Run autograder.py with the working directory and variables Classroom 50 gives it."""
    output = tmp / "github_output"
    output.write_text("")
    (tmp / "runner_temp").mkdir()
    env = {
        "PATH": os.pathsep.join([str(VENV_BIN), str(sudo_shim(tmp / "shims")), "/usr/bin", "/bin"]),
        "HOME": str(tmp), "LANG": "C.UTF-8", "CI": "true", "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(checkout), "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(tmp / "summary"), "GITHUB_REPOSITORY": "dl-fall/ex1-alice",
        "RUNNER_TEMP": str(tmp / "runner_temp"),
        "CLASSROOM": "dl-fall", "ASSIGNMENT": "ex1", "ASSIGNMENT_TYPE": "individual",
        "USERNAME": "alice", "OWNER": "alice",
        "SUBMISSION_TAG": "submit/2026-12-05T10-00-00Z-a1b2c3d",
        "PAGES_BASE_URL": "https://dl-fall.github.io/classroom50",
        "COMMIT_URL": "https://github.com/dl-fall/ex1-alice/commit/a1b2c3d",
        "RELEASE_URL": "https://github.com/dl-fall/ex1-alice/releases/tag/submit%2F2026",
        "REVIEW_URL": "https://github.com/dl-fall/ex1-alice/compare/base...a1b2c3d",
        "DLBASICS_SKIP_INSTALL": "1",  # this environment has the grader and no network
    }
    proc = subprocess.run([sys.executable, str(autograders / "autograder.py")], cwd=checkout,
                          env=env, capture_output=True, text=True, timeout=600)
    pairs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
    return proc, pairs


def test_the_folder_holds_the_entry_point_package_tests_and_runtime(setup):
    autograders, _ = setup
    assert {"autograder.py", "package", "hidden_exercises", "runtime.json"} <= {
        p.name for p in autograders.iterdir()}
    assert (autograders / "hidden_exercises" / "grading.key").is_file()
    assert not (autograders / "hidden_exercises" / "ex2.py").exists()
    runtime = json.loads((autograders / "runtime.json").read_text())
    assert runtime["python"] == "3.11"
    source = (autograders / "autograder.py").read_text()
    assert "{exercise}" not in source and "json.loads('[]')" in source  # Exercise 1: no torch


@pytest.mark.slow
def test_a_graded_submission_writes_a_valid_result_json(setup, tmp_path):
    autograders, repo = setup
    checkout = shutil.copytree(repo, tmp_path / "checkout")
    proc, outputs = _run(autograders, checkout, tmp_path)
    assert proc.returncode == 0, proc.stderr
    result = json.loads((checkout / "result.json").read_text())
    jsonschema.validate(result, SCHEMA)
    assert result["score"] == 10 and result["max-score"] == 10
    assert result["classroom"] == "dl-fall" and result["assignment"] == "ex1"
    assert result["submission"] == "submit/2026-12-05T10-00-00Z-a1b2c3d"
    assert result["tests"][0]["test-name"].startswith("ex1.init")
    assert all(t["passed"] for t in result["tests"])
    assert outputs == {"status": "success", "summary": "10/10"}
    body = (checkout / "release-body.md").read_text()
    assert "**Score: 10 / 10**" in body and f"Graded {EX1}" in body


@pytest.mark.slow
def test_a_grader_that_cannot_grade_reports_zero_and_why(setup, tmp_path):
    autograders, repo = setup
    broken = shutil.copytree(autograders, tmp_path / "autograders")
    (broken / "hidden_exercises" / "ex1.py").unlink()
    checkout = shutil.copytree(repo, tmp_path / "checkout")
    proc, outputs = _run(broken, checkout, tmp_path)
    assert proc.returncode == 1  # Classroom 50: an infrastructure error, not a score
    result = json.loads((checkout / "result.json").read_text())
    jsonschema.validate(result, SCHEMA)
    assert result["score"] == 0 and result["tests"] == []
    assert outputs["status"] == "error" and "no hidden tests for 'ex1'" in outputs["summary"]
    assert "no hidden tests for 'ex1'" in (checkout / "release-body.md").read_text()
