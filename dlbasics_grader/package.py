"""Packaging the grader for the platforms instructors use.

* :func:`gradescope_zip` writes a Gradescope autograder zip for one exercise:
  ``setup.sh`` (installs the package into a virtual environment readable by
  the sandbox user), ``run_autograder`` (grades ``/autograder/submission`` and
  always writes ``/autograder/results/results.json``), the package source,
  that exercise's hidden tests and the grading key (made if there is none yet,
  so that every submission is graded on the same data), nothing else.
* :func:`actions_workflow` writes a GitHub Actions workflow that grades the
  learner's notebook on every push; :func:`publish_to_github` is what it calls
  to show the feedback and the score in the run.

The templates are in ``templates/``.
"""

from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path

from dlbasics.install import TORCH_CPU_INDEX, torch_pin
from dlbasics_grader.engine import load_exercise
from dlbasics_grader.secret import KEY_FILE, grading_key

TEMPLATES = Path(__file__).with_name("templates")
REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("dlbasics", "dlbasics_grader")
PACKAGING_FILES = ("pyproject.toml", "README.md", "LICENSE", "grader/pyproject.toml",
                   "grader/README.md")
"""The two distributions' packaging, at the same places as in the repository: the course package
``dlbasics`` (``pyproject.toml``) and the grader ``dlbasics-grader`` (``grader/pyproject.toml``,
whose sources are ``../dlbasics_grader``). ``pip install package package/grader`` installs both."""


def _torch_pin() -> str:
    """The version in the course package's ``torch`` extra (``pyproject.toml``)."""
    pin = torch_pin()
    if pin is None:
        raise RuntimeError("the installed dlbasics must pin torch exactly in pyproject.toml's "
                           "[project.optional-dependencies] torch (reinstall it: make install)")
    return pin


TORCH_VERSION = _torch_pin()
_SKIP_PARTS = {"__pycache__", ".ipynb_checkpoints"}


def _fill(text: str, **values: str) -> str:
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


def _needs_torch(exercise_name: str, tests_dir: Path) -> bool:
    ex = load_exercise(exercise_name, tests_dir)
    if any(m == "torch" or m.startswith("torch.") for m in ex.policy.forbidden_modules):
        return False
    source = (Path(tests_dir) / f"{exercise_name}.py").read_text(encoding="utf-8")
    return "torch" in ex.policy.preload or "import torch" in source


def _add(zf: zipfile.ZipFile, arcname: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(arcname, date_time=(2024, 1, 1, 0, 0, 0))
    mode = 0o755 if executable else 0o644
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    zf.writestr(info, data)


def _package_files(repo_root: Path) -> list[tuple[Path, str]]:
    """(path, name in the zip) of the installable package source."""
    files = []
    for package in PACKAGES:
        for path in sorted((repo_root / package).rglob("*")):
            rel = path.relative_to(repo_root)
            if path.is_file() and not _SKIP_PARTS & set(rel.parts) and path.suffix != ".pyc":
                files.append((path, f"package/{rel.as_posix()}"))
    for name in PACKAGING_FILES:
        p = repo_root / name
        if p.is_file():
            files.append((p, f"package/{name}"))
    return files


def _grader_files(exercise_name: str, tests_dir: Path) -> list[tuple[str, bytes]]:
    """(relative path, content) of what grades ``exercise_name`` anywhere: the package source
    under ``package/``, the exercise's hidden tests, their shared helpers (files not named
    ``ex*.py``) and the grading key under ``hidden_exercises/``."""
    files = [(arcname, path.read_bytes()) for path, arcname in _package_files(REPO_ROOT)]
    for path in sorted(Path(tests_dir).glob("*.py")):
        if path.stem == exercise_name or not path.stem.startswith("ex"):
            files.append((f"hidden_exercises/{path.name}", path.read_bytes()))
    files.append((f"hidden_exercises/{KEY_FILE}", grading_key(tests_dir).hex().encode() + b"\n"))
    return files


def gradescope_zip(exercise_name: str, tests_dir: Path, out: Path) -> Path:
    """Write the Gradescope autograder zip for ``exercise_name`` to ``out``."""
    tests_dir = Path(tests_dir)
    ex = load_exercise(exercise_name, tests_dir)
    needs_torch = _needs_torch(exercise_name, tests_dir)
    values = {"exercise": ex.name, "notebook": ex.notebook,
              "needs_torch": "yes" if needs_torch else "no", "torch_version": TORCH_VERSION}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w") as zf:
        _add(zf, "setup.sh", _fill((TEMPLATES / "setup.sh").read_text(), **values).encode(),
             executable=True)
        _add(zf, "run_autograder",
             _fill((TEMPLATES / "run_autograder").read_text(), **values).encode(),
             executable=True)
        for arcname, data in _grader_files(ex.name, tests_dir):
            _add(zf, arcname, data)
    return out


def actions_workflow(exercise_name: str, out_dir: Path, tests_dir: Path) -> Path:
    """Write the GitHub Actions workflow ``grade.yml`` for ``exercise_name`` into ``out_dir``.

    The hidden tests in ``tests_dir`` say which notebook the students submit
    and whether the grader needs PyTorch; a missing or broken exercise raises
    :class:`~dlbasics_grader.engine.GraderSetupError`.
    """
    ex = load_exercise(exercise_name, tests_dir)
    torch_install = (f" \"torch=={TORCH_VERSION}\" --extra-index-url {TORCH_CPU_INDEX}"
                     if _needs_torch(ex.name, tests_dir) else "")
    text = _fill((TEMPLATES / "actions.yml").read_text(), exercise=ex.name,
                 notebook=ex.notebook, torch_install=torch_install)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / "grade.yml"
    out.write_text(text, encoding="utf-8")
    return out


def classroom50_autograder(exercise_name: str, tests_dir: Path, out_dir: Path) -> Path:
    """Write the Classroom 50 autograder folder of ``exercise_name`` into ``out_dir``.

    ``out_dir`` becomes ``CLASSROOM/autograders/ASSIGNMENT/`` of the instructor's
    ``classroom50`` repository: ``autograder.py`` (the entry point Classroom 50's runner
    calls once per submission, in the student's checkout; it writes ``result.json``,
    ``release-body.md`` and ``status``/``summary`` in ``$GITHUB_OUTPUT``), beside it the
    package and the exercise's hidden tests (as in the Gradescope zip), and
    ``runtime.json``, the assignment's ``runtime`` block (Python 3.11; Classroom 50's
    default is newer than the course supports).
    """
    tests_dir = Path(tests_dir)
    ex = load_exercise(exercise_name, tests_dir)
    extra = (f"torch=={TORCH_VERSION}",) if _needs_torch(ex.name, tests_dir) else ()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for rel, data in _grader_files(ex.name, tests_dir):
        target = out_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    text = _fill((TEMPLATES / "classroom50_autograder.py").read_text(), exercise=ex.name,
                 notebook=ex.notebook, extra_requirements=json.dumps(list(extra)))
    (out_dir / "autograder.py").write_text(text, encoding="utf-8")
    (out_dir / "runtime.json").write_text(
        json.dumps({"runs-on": "ubuntu-latest", "python": "3.11"}, indent=2) + "\n")
    return out_dir / "autograder.py"


def _workflow_command_text(text: str) -> str:
    """``text`` as the message of a GitHub workflow command (one line, nothing it can start)."""
    return str(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def publish_to_github(results: Path, status: int) -> None:
    """Report a grading run in GitHub Actions from its ``results.json`` (and ``.md``).

    The Markdown feedback is appended to ``$GITHUB_STEP_SUMMARY``, ``score`` and
    ``max_score`` to ``$GITHUB_OUTPUT``, and one annotation is printed: the score, or why
    the submission was not graded (``status`` 2 or 3, or a grader error). Without a
    results file nothing is written (the workflow reports that case itself).
    """
    results = Path(results)
    try:
        data = json.loads(results.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    tests = data.get("tests") or []
    score = float(data.get("score") or 0)
    max_score = float((data.get("extra_data") or {}).get("max_score")
                      or sum(float(t.get("max_score", 0)) for t in tests))
    grader_error = (data.get("extra_data") or {}).get("grader_error", "")
    markdown = results.with_suffix(".md")
    if markdown.is_file():
        summary = markdown.read_text(encoding="utf-8")
    else:
        summary = f"# Not graded\n\n**Score: {score:g}**\n\n{data.get('output', '')}\n"
    env = os.environ
    if env.get("GITHUB_STEP_SUMMARY"):
        with open(env["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as fh:
            fh.write(summary)
    if env.get("GITHUB_OUTPUT"):
        with open(env["GITHUB_OUTPUT"], "a", encoding="utf-8") as fh:
            fh.write(f"score={score:g}\nmax_score={max_score:g}\n")
    if grader_error or status in (2, 3):
        reason = grader_error or data.get("output", "") or f"the grader exited with status {status}"
        print(f"::error title=Not graded::{_workflow_command_text(reason)}")
    else:
        print(f"::notice title=Score::{_workflow_command_text(f'{score:g} / {max_score:g}')}")
