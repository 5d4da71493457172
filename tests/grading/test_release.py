"""The student bundle (make release) holds no solution code and no hidden test."""

from __future__ import annotations

import re

import nbformat
import pytest

from dlbasics_grader.release import audit, build

from ..helpers import HIDDEN, REPO, SOLUTIONS

BEGIN = re.compile(r"^\s*# BEGIN SOLUTION")
END = re.compile(r"^\s*# END SOLUTION")


def _solution_lines() -> set[str]:
    """Distinctive lines that appear only inside solution blocks (not in the prose or
    in the code given to learners)."""
    lines, public = set(), []
    for path in SOLUTIONS.glob("ex*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code":
                public.append(cell.source)
                continue
            inside = False
            for line in cell.source.split("\n"):
                if BEGIN.match(line):
                    inside = True
                elif END.match(line):
                    inside = False
                elif inside and len(line.strip()) > 25 and not line.strip().startswith("#"):
                    lines.add(line.strip())
                else:
                    public.append(line)
    public_text = "\n".join(public)
    return {line for line in lines if line not in public_text}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return build(tmp_path_factory.mktemp("release") / "dlbasics-student")


def test_bundle_has_what_learners_need(bundle):
    assert (bundle / "README.md").is_file() and (bundle / "pyproject.toml").is_file()
    assert (bundle / "dlbasics" / "checks" / "ex1.py").is_file()
    assert not (bundle / "dlbasics_grader").exists()
    assert not list(bundle.rglob("sandbox")) and not list(bundle.rglob("runner.py"))
    assert sorted(p.name for p in (bundle / "exercises").glob("*.ipynb")) == sorted(
        p.name for p in SOLUTIONS.glob("ex*.ipynb"))
    assert any((bundle / "chapters").glob("*.ipynb"))


def test_bundle_has_no_solutions_and_no_hidden_tests(bundle):
    assert audit(bundle) == []
    assert not (bundle / "solutions").exists() and not (bundle / "tests").exists()
    names = {p.name for p in bundle.rglob("*")}
    assert not any(n.endswith((".pyc",)) for n in names)


def test_no_solution_line_reaches_the_bundle(bundle):
    secret_lines = _solution_lines()
    assert len(secret_lines) > 20  # the check below has something to find
    for nb in (bundle / "exercises").glob("*.ipynb"):
        text = nb.read_text()
        leaked = [line for line in secret_lines if line in text]
        assert not leaked, f"{nb.name} holds solution lines: {leaked[:3]}"


def test_no_hidden_test_value_reaches_the_bundle(bundle):
    from dlbasics_grader.secret import KEY_FILE, exercise_seed, grading_key

    seeds = {grading_key(HIDDEN).hex()} | {str(exercise_seed(m.stem, HIDDEN))
                                           for m in HIDDEN.glob("ex*.py")}
    assert len(seeds) == 1 + len(list(HIDDEN.glob("ex*.py")))  # the key and one seed each
    assert not list(bundle.rglob(KEY_FILE))
    for path in bundle.rglob("*"):
        if path.is_file() and path.suffix in (".py", ".ipynb", ".md", ".txt", ".json"):
            text = path.read_text(errors="replace")
            assert not any(s in text for s in seeds), path


def test_audit_finds_planted_solution_code(bundle, tmp_path):
    planted = tmp_path / "bad"
    (planted / "exercises").mkdir(parents=True)
    (planted / "exercises" / "x.ipynb").write_text('{"source": "# BEGIN SOLUTION"}')
    (planted / "solutions").mkdir()
    (planted / "hidden_exercises").mkdir(parents=True)
    (planted / "tests").mkdir()
    # the grader's packaging, at the top and in its own folder
    (planted / "pyproject.toml").write_text((REPO / "grader" / "pyproject.toml").read_text())
    (planted / "grader").mkdir()
    (planted / "grader" / "pyproject.toml").write_text((REPO / "grader" / "pyproject.toml").read_text())
    problems = audit(planted)
    assert any(p.startswith("grader/pyproject.toml: instructor grader code") for p in problems)
    assert any("# BEGIN SOLUTION" in p for p in problems)
    assert any(p.startswith("pyproject.toml: installs the grader") for p in problems)
    assert any(p.startswith("solutions/") for p in problems)
    assert any(p.startswith("hidden_exercises/") for p in problems)
    assert any(p.startswith("tests/") for p in problems)


def test_make_release_runs_this_module():
    makefile = (REPO / "Makefile").read_text()
    assert "-m dlbasics_grader.release dist/dlbasics-student" in makefile


AUTHORING_TOOLS = ("jupyter-book", "sphinx", "nbval", "nbclient", "pytest", "playwright", "ruff")


def test_bundle_installs_the_course_and_not_the_authoring_tools(bundle):
    lines = [ln.split("#")[0].strip() for ln in (bundle / "requirements.txt").read_text()
             .splitlines()]
    lines = [ln for ln in lines if ln]
    names = {re.split(r"[<>=\[ ]", ln)[0].lower() for ln in lines if not ln.startswith("-")}
    assert {"numpy", "matplotlib", "scikit-learn", "ipywidgets", "jupyterlab"} <= names
    assert "torch" not in names  # the package's `torch` extra: -e ".[torch]"
    assert not any(name.startswith(AUTHORING_TOOLS) for name in names)
    assert lines[0] == "--extra-index-url https://download.pytorch.org/whl/cpu"
    assert not (bundle / "requirements-dev.txt").exists()
    dev = (REPO / "requirements-dev.txt").read_text().splitlines()
    assert "-r requirements.txt" in dev and any(ln.startswith("jupyter-book") for ln in dev)


def test_pip_prefers_the_cpu_build_when_both_builds_are_offered(tmp_path):
    """What the CPU index changes on Linux: the same pin, the +cpu build wins over PyPI's."""
    import subprocess
    import sys
    import zipfile

    for folder, version in (("pypi", "2.13.0"), ("cpu", "2.13.0+cpu")):
        (tmp_path / folder).mkdir()
        wheel = tmp_path / folder / f"torch-{version}-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as zf:
            info = f"torch-{version}.dist-info"
            zf.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: torch\nVersion: "
                                            f"{version}\n")
            zf.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n"
                                         "Tag: py3-none-any\n")
            zf.writestr(f"{info}/RECORD", "")
    import tomllib

    (pin,) = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["torch"]
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-deps",
         "--no-index", "--find-links", str(tmp_path / "pypi"), "--find-links",
         str(tmp_path / "cpu"), pin], capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "PIP_CONFIG_FILE": "/dev/null"})
    assert proc.returncode == 0, proc.stderr
    assert "Would install torch-2.13.0+cpu" in proc.stdout


def test_bundle_readme_says_python_windows_and_how_to_submit(bundle):
    readme = (bundle / "README.md").read_text()
    for text in ("Python 3.10 or newer", "On Windows", r".venv\Scripts\pip install --retries 1 "
                 '--timeout 10 -r requirements.txt -e ".[torch]"',
                 '.venv/bin/pip install --retries 1 --timeout 10 -r requirements.txt -e ".[torch]"',
                 "Exercise 1 forbids PyTorch) `-e .` is enough",
                 "## Submitting", "Restart Kernel and Run All Cells", "Gradescope", "Classroom 50",
                 "CPU build"):
        assert text in readme, text


def test_every_notebook_installs_dlbasics_when_it_is_missing(bundle):
    def first_code(path):
        return next(c.source for c in nbformat.read(path, as_version=4).cells
                    if c.cell_type == "code")

    installs = {first_code(p) for p in (bundle / "chapters").glob("*.ipynb")}
    assert all("%pip install" in src and "import dlbasics" in src for src in installs)
    for path in (bundle / "exercises").glob("ex*.ipynb"):
        assert first_code(path) in installs, path.name


def _installs(pyproject: dict, bundle) -> tuple[dict, list[str]]:
    """The console scripts and the packages setuptools would install from ``pyproject``."""
    from setuptools import find_packages

    find = pyproject["tool"]["setuptools"]["packages"]["find"]
    return (pyproject["project"].get("scripts", {}),
            find_packages(where=str(bundle), include=find.get("include", ("*",)),
                          exclude=find.get("exclude", ())))


def test_bundle_pyproject_installs_nothing_of_the_grader(bundle):
    import tomllib

    text = (bundle / "pyproject.toml").read_text()
    assert text == (REPO / "pyproject.toml").read_text()  # copied, never rewritten
    theirs = tomllib.loads(text)
    scripts, packages = _installs(theirs, bundle)
    assert not any("dlbasics_grader" in target for target in scripts.values()), scripts
    assert "dlbasics-grade" not in scripts
    assert "dlbasics" in packages and "dlbasics.checks" in packages and "dlbasics.widgets" in packages
    assert all(p == "dlbasics" or p.startswith("dlbasics.") for p in packages), packages
    assert "dlbasics_grader" not in theirs["tool"]["setuptools"].get("package-data", {})
    assert "autograder" not in theirs["project"]["description"]
    assert not (bundle / "grader").exists() and not (bundle / "dlbasics_grader").exists()


def test_the_course_package_would_leave_out_a_grader_folder_beside_it(tmp_path):
    """The include patterns, not only the folder's absence, keep the grader out; the grader's
    own distribution (grader/pyproject.toml) installs it, and the ``dlbasics-grade`` command."""
    import tomllib

    for name in ("dlbasics", "dlbasics_grader"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("")
    scripts, packages = _installs(tomllib.loads((REPO / "pyproject.toml").read_text()), tmp_path)
    assert packages == ["dlbasics"] and not scripts
    grader = tomllib.loads((REPO / "grader" / "pyproject.toml").read_text())
    assert grader["tool"]["setuptools"]["package-dir"] == {"": ".."}
    scripts, packages = _installs(grader, tmp_path)
    assert packages == ["dlbasics_grader"]
    assert scripts == {"dlbasics-grade": "dlbasics_grader.cli:main"}
    course = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert f"dlbasics=={course['version']}" in grader["project"]["dependencies"]
    assert grader["project"]["version"] == course["version"]
