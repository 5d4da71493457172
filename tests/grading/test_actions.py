"""The GitHub Actions workflow, run step by step as GitHub's runner runs it, on a learner's
repository laid out like the student bundle."""

from __future__ import annotations

import shutil

import pytest
import yaml

from dlbasics_grader.cli import main

from ..helpers import EX1, HIDDEN, SOLUTIONS
from .platforms import VENV_BIN, run_actions_job, student_repository, unzip


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """The workflow, a learner's repository with the Ex1 solution in ``exercises/`` (where
    the bundle puts it), and the private tests repository (the unzipped Gradescope zip)."""
    root = tmp_path_factory.mktemp("actions")
    repo = student_repository(root / "ex1-alice", {f"exercises/{EX1}": SOLUTIONS / EX1})
    assert main(["actions", "ex1", str(repo / ".github" / "workflows"),
                 "--tests", str(HIDDEN)]) == 0
    assert main(["gradescope", "ex1", str(root / "ex1.zip"), "--tests", str(HIDDEN)]) == 0
    hidden = unzip(root / "ex1.zip", root / "hidden-tests")
    return repo, hidden


def test_workflow_is_a_job_with_checkout_python_grading_and_feedback(setup):
    repo, _ = setup
    wf = yaml.safe_load((repo / ".github/workflows/grade.yml").read_text())
    steps = wf["jobs"]["grade"]["steps"]
    assert [s.get("uses", "run")[:20] for s in steps] == [
        "actions/checkout@v4", "actions/checkout@v4", "actions/setup-python", "run", "run",
        "actions/upload-artif"]
    assert "torch" not in steps[3]["run"]  # Exercise 1 forbids it: not installed


@pytest.mark.slow
def test_a_bundle_repository_is_graded_from_exercises(setup, tmp_path):
    repo, hidden = setup
    job = run_actions_job(repo / ".github/workflows/grade.yml", repo, hidden, tmp_path)
    grade = job.step("Grade")
    assert grade.outcome == "success", grade.stderr
    assert grade.outputs["score"] == "10" and grade.outputs["max_score"] == "10"
    assert "::notice title=Score::10 / 10" in grade.stdout
    assert "**Score: 10 / 10**" in job.summary
    assert f"Graded {EX1} (the exercise's notebook)" in job.summary
    assert {p.name for p in job.uploaded} == {"results.json", "results.md"}
    assert not job.failed


@pytest.mark.slow
def test_broken_hidden_tests_fail_the_run_and_report_zero_with_the_reason(setup, tmp_path):
    repo, hidden = setup
    broken = shutil.copytree(hidden, tmp_path / "hidden")
    (broken / "hidden_exercises/ex1.py").unlink()
    job = run_actions_job(repo / ".github/workflows/grade.yml", repo, broken, tmp_path / "run")
    grade = job.step("Grade")
    assert grade.outcome == "failure" and grade.returncode == 2
    assert grade.outputs["score"] == "0"
    assert "no hidden tests for 'ex1'" in job.summary
    assert "::error title=Not graded::" in grade.stdout
    assert job.step("Keep the feedback").outcome == "simulated"  # if: always()


def test_a_grader_that_cannot_start_fails_the_run_and_reports_zero(setup, tmp_path):
    """No grader on the path (an install that went wrong): the run still reports 0 and why."""
    repo, hidden = setup
    bare = tmp_path / "bin"
    bare.mkdir()
    (bare / "python").symlink_to(VENV_BIN / "python")
    job = run_actions_job(repo / ".github/workflows/grade.yml", repo, hidden, tmp_path / "run",
                          python_bin=bare)
    grade = job.step("Grade")
    assert grade.outcome == "failure"
    assert grade.outputs == {"score": "0"}
    assert "**Score: 0**" in job.summary and "dlbasics-grade" in job.summary
    assert "No such file or directory" in job.summary
    assert "::error title=Not graded::" in grade.stdout
