"""Packaging the grader for the platforms instructors use.

* :func:`gradescope_zip` writes a Gradescope autograder zip for one exercise:
  ``setup.sh`` (installs the package into a virtual environment readable by
  the sandbox user), ``run_autograder`` (grades ``/autograder/submission`` and
  always writes ``/autograder/results/results.json``), the package source,
  that exercise's hidden tests and the grading key (made if there is none yet,
  so that every submission is graded on the same data), nothing else.
* :func:`classroom_workflow` writes a GitHub Classroom workflow that grades on
  every push and reports the points with GitHub's autograding reporter.
* :func:`classroom_result` converts results.json to the reporter's format.

The templates are in ``templates/``.
"""

from __future__ import annotations

import base64
import importlib.metadata
import json
import stat
import zipfile
from pathlib import Path
from typing import Any

from dlbasics_grader.engine import load_exercise
from dlbasics_grader.secret import KEY_FILE, grading_key

TEMPLATES = Path(__file__).with_name("templates")
REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("dlbasics", "dlbasics_grader")


def _torch_pin() -> str:
    """The version in the package's ``torch`` extra (``pyproject.toml``), where the pin is written."""
    for requirement in importlib.metadata.requires("dlbasics") or []:
        name, _, rest = requirement.partition("==")
        if name.strip() == "torch" and rest:
            return rest.split(";")[0].strip()
    raise RuntimeError("pyproject.toml must pin torch exactly in [project.optional-dependencies] torch")


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
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        p = repo_root / name
        if p.is_file():
            files.append((p, f"package/{name}"))
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
    repo_root = REPO_ROOT
    with zipfile.ZipFile(out, "w") as zf:
        _add(zf, "setup.sh", _fill((TEMPLATES / "setup.sh").read_text(), **values).encode(),
             executable=True)
        _add(zf, "run_autograder",
             _fill((TEMPLATES / "run_autograder").read_text(), **values).encode(),
             executable=True)
        for path, arcname in _package_files(repo_root):
            _add(zf, arcname, path.read_bytes())
        # this exercise's hidden tests, plus shared helpers (files not named ex*.py)
        for path in sorted(tests_dir.glob("*.py")):
            if path.stem == ex.name or not path.stem.startswith("ex"):
                _add(zf, f"hidden_exercises/{path.name}", path.read_bytes())
        _add(zf, f"hidden_exercises/{KEY_FILE}", grading_key(tests_dir).hex().encode() + b"\n")
    return out


def classroom_workflow(exercise_name: str, out_dir: Path, tests_dir: Path) -> Path:
    """Write ``classroom.yml`` for ``exercise_name`` into ``out_dir``.

    The hidden tests in ``tests_dir`` say which notebook the students submit
    and whether the grader needs PyTorch; a missing or broken exercise raises
    :class:`~dlbasics_grader.engine.GraderSetupError`.
    """
    ex = load_exercise(exercise_name, tests_dir)
    torch_install = (f" \"torch=={TORCH_VERSION}\" --extra-index-url "
                     "https://download.pytorch.org/whl/cpu") if _needs_torch(ex.name, tests_dir) \
        else ""
    text = _fill((TEMPLATES / "classroom.yml").read_text(), exercise=ex.name,
                 EXERCISE=ex.name.upper(), notebook=ex.notebook, torch_install=torch_install)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / "classroom.yml"
    out.write_text(text, encoding="utf-8")
    return out


def classroom_result(results: dict[str, Any]) -> dict[str, Any]:
    """results.json -> the JSON the GitHub Classroom reporter reads (before base64)."""
    tests = []
    for t in results.get("tests", []):
        passed = t.get("status") == "passed"
        tests.append({
            "name": t.get("name", ""),
            "status": "pass" if passed else ("fail" if t.get("status") == "failed" else "error"),
            "score": t.get("score", 0),
            "message": t.get("output", ""),
            "test_code": "",
            "filename": "",
            "line_no": 0,
            "execution_time": "",
        })
    max_score = sum(float(t.get("max_score", 0)) for t in results.get("tests", []))
    if not tests:
        status = "error"
    elif all(t["status"] == "pass" for t in tests):
        status = "pass"
    else:
        status = "fail"
    return {"version": 1, "status": status, "max_score": max_score, "tests": tests}


def classroom_output_line(results: dict[str, Any]) -> str:
    """The ``result=<base64>`` line for ``$GITHUB_OUTPUT``."""
    payload = json.dumps(classroom_result(results)).encode("utf-8")
    return "result=" + base64.b64encode(payload).decode("ascii")
