"""Classroom 50 autograder for {exercise} ({notebook}).

Classroom 50's runner calls this file once per submission, with the student's checkout as the
working directory and this folder (CLASSROOM/autograders/ASSIGNMENT/ of the classroom50
repository) at ``Path(__file__).parent``. It installs the course package and its grader from
``package/`` beside it, grades the learner's exercises/{notebook} in the grader's sandbox
(chosen as on Gradescope: the exercise's own notebook, else the newest .ipynb), and writes what
Classroom 50's contract asks for: ``./result.json`` (schema ``classroom50/result/v1``),
``./release-body.md`` (the feedback) and ``status``/``summary`` in ``$GITHUB_OUTPUT``. It exits
0 when the submission was graded, whatever its score, and 1 when the grader could not grade
(Classroom 50 then reports an infrastructure error); ``result.json`` then still says 0 points
and why.

Set ``DLBASICS_SKIP_INSTALL=1`` where the grader is already installed (a self-hosted runner's
image, or a test).
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXERCISE = "{exercise}"
NOTEBOOK = "{notebook}"
EXTRA_REQUIREMENTS: list[str] = json.loads('{extra_requirements}')
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"


def _install() -> None:
    if os.environ.get("DLBASICS_SKIP_INSTALL") == "1":
        return
    command = [sys.executable, "-m", "pip", "install", "--quiet", str(HERE / "package"),
               str(HERE / "package" / "grader"), *EXTRA_REQUIREMENTS]
    if EXTRA_REQUIREMENTS:
        command += ["--extra-index-url", TORCH_INDEX]
    subprocess.run(command, check=True)


def _grade(work: Path) -> tuple[int, dict, str]:
    """Run the grader; (its exit status, results.json, results.md or "")."""
    submission = "exercises" if Path("exercises").is_dir() else "."
    command = [sys.executable, "-m", "dlbasics_grader.cli", "grade", EXERCISE, submission,
               "--choose", "--tests", str(HERE / "hidden_exercises"),
               "--results", str(work / "results.json")]
    if os.geteuid() != 0 and shutil.which("sudo"):
        # root lets the grader run the notebook as its own user, without network
        command = ["sudo", "-E", "env", f"PATH={os.environ.get('PATH', '')}", *command]
    proc = subprocess.run(command, capture_output=True, text=True)
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    try:
        results = json.loads((work / "results.json").read_text(encoding="utf-8"))
        markdown = (work / "results.md").read_text(encoding="utf-8") if (
            work / "results.md").is_file() else ""
    except (OSError, ValueError):
        reason = proc.stderr.strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        results = {"score": 0, "tests": [], "output": f"Not graded: {reason[0]}",
                   "extra_data": {"grader_error": reason[0]}}
        markdown = ""
    return proc.returncode, results, markdown


def _number(x: float) -> int | float:
    """Classroom 50 documents scores as integers: whole points are written as such."""
    return int(x) if float(x).is_integer() else round(float(x), 2)


def _result(results: dict) -> dict:
    env = os.environ
    commit = env.get("COMMIT_URL", "")
    tests = [{"test-name": t.get("name", ""), "passed": t.get("status") == "passed",
              "score": _number(t.get("score", 0)), "max-score": _number(t.get("max_score", 0)),
              "status": t.get("status", ""), "message": t.get("output", "")}
             for t in results.get("tests", [])]
    return {
        "schema": "classroom50/result/v1",
        "classroom": env.get("CLASSROOM", ""),
        "assignment": env.get("ASSIGNMENT", ""),
        "submission": env.get("SUBMISSION_TAG", ""),
        "commit": commit,
        "release": env.get("RELEASE_URL", ""),
        "review": env.get("REVIEW_URL") or commit,
        "datetime": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "score": _number(sum(t["score"] for t in tests)),
        "max-score": _number(sum(t["max-score"] for t in tests)),
        "tests": tests,
    }


def main() -> int:
    work = Path(os.environ.get("RUNNER_TEMP") or HERE) / "dlbasics"
    work.mkdir(parents=True, exist_ok=True)
    try:
        _install()
        status, results, markdown = _grade(work)
    except (OSError, subprocess.CalledProcessError) as exc:
        status, results, markdown = 3, {"score": 0, "tests": [], "output": f"Not graded: {exc}",
                                        "extra_data": {"grader_error": str(exc)}}, ""
    error = (results.get("extra_data") or {}).get("grader_error") or (
        "" if status == 0 else results.get("output", "") or f"exit status {status}")
    result = _result(results)
    Path("result.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    body = markdown or (f"# {NOTEBOOK}: not graded\n\n**Score: 0**. The grader could not grade "
                        f"this submission; tell your instructor.\n\n```text\n{error}\n```\n")
    Path("release-body.md").write_text(body, encoding="utf-8")
    outcome = "error" if error else (
        "success" if result["score"] == result["max-score"] else "failure")
    summary = f"{result['score']}/{result['max-score']}" + (f" (not graded: {error})" if error
                                                             else "")
    if os.environ.get("GITHUB_OUTPUT"):
        with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as fh:
            fh.write(f"status={outcome}\nsummary={' '.join(summary.split())}\n")
    return 1 if error else 0


if __name__ == "__main__":
    raise SystemExit(main())
