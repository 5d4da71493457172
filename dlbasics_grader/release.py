"""The student bundle: ``python -m dlbasics_grader.release dist/dlbasics-student``.

Copies what learners need and nothing an instructor keeps back: the chapters,
the student exercise notebooks (``exercises/``), the ``dlbasics`` package with
its public checks, the install files and a README. Solutions, hidden tests and
the rest of ``tests/`` are never copied; :func:`audit` proves it by reading
every file of the bundle, and the release fails if it finds anything. The
bundle's ``pyproject.toml`` is the repository's, copied as it is: it installs the course
package ``dlbasics`` only (the grader is its own distribution, ``grader/pyproject.toml``,
which is never copied).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COPY_DIRS = ("chapters", "exercises", "dlbasics", "assets")
COPY_FILES = ("pyproject.toml", "requirements.txt", "LICENSE")
SKIP_NAMES = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".ruff_cache"}
FORBIDDEN_MARKERS = ("# BEGIN SOLUTION", "# END SOLUTION", "<!-- BEGIN SOLUTION -->")
GRADER_PACKAGE = "dlbasics_grader"
GRADER_DISTRIBUTION = "grader"  # the folder of the grader's pyproject.toml

README = """# Deep Learning Basics — student bundle

This folder holds the book's chapters, the graded exercises and the `dlbasics` package they use.

## Install

You need Python 3.10 or newer (`python3 --version`; on Windows `py --version`). In this folder:

```bash
# Linux and macOS
python3 -m venv .venv
.venv/bin/pip install --retries 1 --timeout 10 -r requirements.txt -e ".[torch]"
.venv/bin/jupyter lab
```

On Windows, in PowerShell or the Command Prompt:

```bat
py -m venv .venv
.venv\\Scripts\\pip install --retries 1 --timeout 10 -r requirements.txt -e ".[torch]"
.venv\\Scripts\\jupyter lab
```

`-e ".[torch]"` installs the `dlbasics` package with PyTorch, which chapters 2 to 10 (chapters 2
to 6 check their NumPy code against it) and Exercises 2 to 4 need. For chapter 1 and Exercise 1
alone (Exercise 1 forbids PyTorch) `-e .` is enough and the install is less than half the
size (on Linux about 600 MB instead of 1.5 GB); a notebook that needs PyTorch says so in its
first cell and, where it is missing, stops there with the command that adds it.

`requirements.txt` holds only what the course needs (NumPy, matplotlib, scikit-learn,
JupyterLab and widgets). PyTorch comes as its CPU build: on Linux pip fetches it from
PyTorch's CPU-only index instead of the much larger CUDA build on PyPI. Nothing in the course
needs a GPU. Without a network connection pip warns that it cannot reach PyTorch's index and
installs from what it has; `--retries 1 --timeout 10` keeps that wait short (pip's
defaults retry an unreachable index for many minutes). On Colab, the first cell of
every notebook installs `dlbasics` when it is missing.

## Exercises

Open the notebooks in `exercises/`. Each starts with a table of its parts and what earns their
points. Write your code where a cell says `raise NotImplementedError`, run the cell, then run
the one-line check that follows, e.g.

```python
check("ex1.forward", CompleteNeuralNetwork)
```

It prints ✓ or ✗ with what was expected and what your code gave, and warns you at once when a
part would score 0 (for instance because Exercise 1's code imports something it may not). The
checks use small public cases; your submission is graded on other, hidden ones, in a separate
process that runs your notebook from top to bottom.

## Submitting

1. Run "Kernel → Restart Kernel and Run All Cells" and check that every cell runs.
2. Save the notebook, keeping its name (`exercises/ex1_neural_network.ipynb` and so on): the
   grader looks for that name first.
3. Submit that one `.ipynb` file the way your course asks: upload it to Gradescope, or commit
   and push it to your course's GitHub repository (Classroom 50, or GitHub Actions). You get
   the points of every part and the same kind of messages as the checks.

{exercise_table}
"""


def _ignore(_dir: str, names: list[str]) -> set[str]:
    return {n for n in names if n in SKIP_NAMES or n.endswith(".pyc")}


def _title(notebook: Path) -> str:
    import nbformat

    try:
        nb = nbformat.read(notebook, as_version=4)
    except Exception:  # noqa: BLE001 - a title is a nicety
        return ""
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.startswith("# "):
            return cell.source.splitlines()[0][2:].strip()
    return ""


def _exercise_table(exercises: Path) -> str:
    rows = ["| notebook | exercise |", "|---|---|"]
    for nb in sorted(exercises.glob("ex*.ipynb")):
        rows.append(f"| `exercises/{nb.name}` | {_title(nb)} |")
    return "\n".join(rows) if len(rows) > 2 else ""


def audit(bundle: Path) -> list[str]:
    """Everything in ``bundle`` that must not be there (empty list: clean)."""
    problems = []
    for path in sorted(bundle.rglob("*")):
        rel = path.relative_to(bundle)
        if path.is_dir():
            if path.name in ("solutions", "hidden", "hidden_exercises") or rel.parts[:1] == ("tests",):
                problems.append(f"{rel}/: folder that must not ship")
            continue
        if rel.parts[0] in ("tests", "solutions", "hidden_exercises"):
            problems.append(f"{rel}: file that must not ship")
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for marker in FORBIDDEN_MARKERS:
            if marker in text:
                problems.append(f"{rel}: contains {marker!r}")
        if rel.parts[0] in (GRADER_PACKAGE, GRADER_DISTRIBUTION):
            problems.append(f"{rel}: instructor grader code")
        elif "EXERCISE = Exercise(" in text or "dlbasics_grader" in text and path.suffix == ".py":
            problems.append(f"{rel}: hidden-test or grader code")
        elif path.name == "pyproject.toml" and GRADER_PACKAGE in text:
            problems.append(f"{rel}: installs the grader ({GRADER_PACKAGE})")
    hidden = REPO / "hidden_exercises"
    if hidden.is_dir():
        secret = {p.read_bytes() for p in hidden.glob("*.py")}
        for path in bundle.rglob("*.py"):
            if path.read_bytes() in secret:
                problems.append(f"{path.relative_to(bundle)}: a copy of a hidden test module")
    return problems


def build(out: Path, repo: Path = REPO) -> Path:
    """Write the bundle to ``out`` (replacing it) and audit it."""
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for name in COPY_DIRS:
        src = repo / name
        if src.is_dir():
            shutil.copytree(src, out / name, ignore=_ignore)
    for name in COPY_FILES:
        src = repo / name
        if src.is_file():
            shutil.copy2(src, out / name)
    readme = README.replace("{exercise_table}", _exercise_table(repo / "exercises"))
    (out / "README.md").write_text(readme, encoding="utf-8")
    problems = audit(out)
    if problems:
        raise RuntimeError("the student bundle is not clean:\n  " + "\n  ".join(problems))
    return out


PUBLIC_DROP_DIRS = ("solutions", "hidden_exercises", GRADER_PACKAGE, GRADER_DISTRIBUTION,
                    "tests/grading", ".ci")
"""What the public book repository never holds: solutions, the hidden exercises with the
grading key, the grader (its source and its distribution), the grader's tests, and the
instructors' own CI entry point."""
PUBLIC_DROP_TARGETS = ("release", "public")


def _tracked_files(repo: Path) -> list[str]:
    import subprocess

    out = subprocess.run(["git", "-C", str(repo), "ls-files", "-z"], capture_output=True,
                         check=True).stdout.decode("utf-8")
    return sorted(f for f in out.split("\0") if f)


def _grader_bound(path: Path) -> bool:
    """A test, tool or benchmark that needs the grader, the hidden tests or the solutions."""
    if path.suffix != ".py":
        return False
    text = path.read_text(encoding="utf-8", errors="replace")
    uses_solutions = re.search(r"^\s*from\s+\S*helpers\s+import\b[^\n]*\bSOLUTIONS\b", text,
                               re.MULTILINE) is not None  # tests/helpers.py's solutions folder
    return (GRADER_PACKAGE in text or "hidden_exercises" in text and "skip" not in text
            or uses_solutions)


def public_makefile(text: str) -> str:
    """The Makefile without the targets that need the grader, and lint without its folder."""
    out, skipping = [], False
    for line in text.splitlines():
        target = re.match(r"^([A-Za-z_-]+):", line)
        if target:
            skipping = target.group(1) in PUBLIC_DROP_TARGETS
        elif skipping and line and not line.startswith("\t"):
            skipping = False
        if skipping:
            continue
        line = line.replace(f" {GRADER_PACKAGE} ", " ")
        for name in PUBLIC_DROP_TARGETS:
            line = line.replace(f" {name} ", " ") if line.startswith(".PHONY") else line
        if not re.search(r"make (release|public)", line):
            out.append(line)
    return "\n".join(out).rstrip() + "\n"


def build_public(out: Path, repo: Path = REPO) -> Path:
    """Write the public book repository to ``out`` (replacing it) and audit it.

    It holds every tracked file of ``repo`` except :data:`PUBLIC_DROP_DIRS` and the tests,
    tools and benchmarks that import the grader: the book (chapters, configuration, tools),
    the ``dlbasics`` package with its tests, the student exercises, and the CI workflows.
    Its ``pyproject.toml`` is the repository's (it installs ``dlbasics`` only); its Makefile
    has no grader targets.
    """
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    dropped = []
    for rel in _tracked_files(repo):
        src = repo / rel
        if any(rel == d or rel.startswith(d + "/") for d in PUBLIC_DROP_DIRS) or not src.is_file():
            continue
        if rel.split("/")[0] in ("tests", "tools", "benchmarks") and _grader_bound(src):
            dropped.append(rel)
            continue
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if rel == "Makefile":
            target.write_text(public_makefile(src.read_text(encoding="utf-8")), encoding="utf-8")
        else:
            shutil.copy2(src, target)
    problems = [p for p in audit(out) if not p.startswith("tests")]
    problems += [f"{p.relative_to(out)}: must not be public" for p in out.rglob("*")
                 if p.name in ("grading.key", "hidden_exercises", "solutions")]
    if problems:
        raise RuntimeError("the public repository is not clean:\n  " + "\n  ".join(problems))
    (out / ".public-dropped.txt").write_text(
        "Left out because they need the grader:\n" + "\n".join(dropped) + "\n",
        encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dlbasics_grader.release",
                                     description="Write the student bundle.")
    parser.add_argument("out", type=Path, nargs="?", default=Path("dist/dlbasics-student"))
    parser.add_argument("--public", action="store_true",
                        help="write the public book repository instead of the student bundle")
    args = parser.parse_args(argv)
    try:
        out = build_public(args.out) if args.public else build(args.out)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    n = sum(1 for p in out.rglob("*") if p.is_file())
    what = "public book repository" if args.public else "student bundle"
    print(f"wrote the {what} {out} ({n} files; no solutions, no hidden tests, no grader)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
