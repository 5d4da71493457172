"""Every exercise appears in every place it must, and those places agree.

The list of exercises is the hidden tests: one ``hidden_exercises/exN.py`` defining
``EXERCISE`` each (``available_exercises``, as ``dlbasics-grade list`` finds them).
Its ``name``, ``notebook`` and ``parts`` are checked against the places below,
the steps of "Adding an exercise" in ``dlbasics_grader/README.md``:

1. ``solutions/<notebook>``, with a ``check("exN.part", ...)`` call for every public check;
2. ``exercises/<notebook>``, generated from the solution and up to date;
3. ``dlbasics/checks/exN.py``, registering a public check for every graded part
   (held-out ``exN.accuracy`` parts excepted);
4. ``hidden_exercises/exN.py``, whose ``EXERCISE`` loads and names itself, its notebook and its parts;
5. chapter 11's point table, a row per graded part with its points;
6. chapter 11's table of graded skills, at least one row for the exercise;
7. the student bundle (``release.build``): the notebook, its public checks, a README row;
8. ``dlbasics-grade list`` shows it;
9. the Gradescope zip (its hidden tests, its public checks, its notebook) and the Classroom
   workflow;
10. an end-to-end grading test ``tests/grading/test_exN*.py``: the solution scores full marks
    and the untouched student notebook zero (``test_ex1.py``, ``test_ex2_ex3.py``).

No grading runs here; the end-to-end tests named in place 10 do that.
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
import shutil
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from dlbasics import checks
from dlbasics_grader import engine, package, release
from dlbasics_grader.cli import main
from dlbasics_grader.engine import HIDDEN_PACKAGE, available_exercises, load_exercise
from dlbasics_grader.generate import student_sources
from dlbasics_grader.package import actions_workflow, gradescope_zip

from ..helpers import HIDDEN, REPO, point_tables
from .helpers import EXERCISE_NAMES

PLACES = ("solution notebook", "student notebook", "public checks", "hidden tests",
          "chapter 11 points", "chapter 11 skills", "student bundle", "dlbasics-grade list",
          "Gradescope and Classroom", "end-to-end test")
HELD_OUT_PART = "accuracy"  # exN.accuracy: graded on the grader's data only, no public check
CHECK_CALL = re.compile(r"""check\(\s*["'](ex\d+\.\w+)["']""")
SKILL_ROW = re.compile(r"^\|\s*(\d+(?:\s*,\s*\d+)*)\s*\|", re.MULTILINE)


def _notebook_text(path: Path) -> str:
    return "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)


def _skill_rows(chapter: Path) -> set[int]:
    """Exercise numbers of the rows of chapter 11's "graded skill" table."""
    for cell in nbformat.read(chapter, as_version=4).cells:
        if cell.cell_type == "markdown" and "| graded skill |" in cell.source:
            return {int(n) for row in SKILL_ROW.findall(cell.source) for n in row.split(",")}
    return set()


def _end_to_end_tests(folder: Path, name: str) -> list[str]:
    """Test functions of ``folder/test_*.py`` files named for ``name`` (``test_ex2_ex3.py``
    is named for ex2 and ex3)."""
    found = []
    for path in sorted(folder.glob("test_*.py")):
        if name in re.findall(r"ex\d+", path.stem):
            found += [node.name for node in ast.parse(path.read_text(encoding="utf-8")).body
                      if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")]
    return found


def place_problems(name: str, repo: Path, bundle: Path, tmp: Path) -> dict[str, str]:
    """``{place: what is wrong}`` for exercise ``name`` in ``repo`` (empty: every place holds it).

    ``bundle`` is the student bundle built from ``repo``; ``tmp`` an empty folder for the
    packaging outputs.
    """
    hidden = repo / "hidden_exercises"
    problems: dict[str, str] = {}
    try:
        ex = load_exercise(name, hidden)
    except engine.GraderSetupError as exc:
        return {"hidden tests": str(exc)}
    parts = [p.name for p in ex.parts]
    if ex.name != name or not re.fullmatch(rf"{name}_\w+\.ipynb", ex.notebook) or not parts or \
            any(not p.startswith(f"{name}.") for p in parts):
        problems["hidden tests"] = (f"EXERCISE must be named {name!r}, its notebook "
                                    f"{name}_topic.ipynb and its parts {name}.part; it has "
                                    f"{ex.name!r}, {ex.notebook!r}, {parts}")
    public = {c for c in checks.available() if c.startswith(f"{name}.")}

    solution = repo / "solutions" / ex.notebook
    if not solution.is_file():
        problems["solution notebook"] = f"no {solution.relative_to(repo)}"
    else:
        called = set(CHECK_CALL.findall(_notebook_text(solution)))
        if called != public:
            problems["solution notebook"] = (f"check(...) calls {sorted(called)} but the public "
                                             f"checks are {sorted(public)}")

    student = repo / "exercises" / ex.notebook
    if not student.is_file():
        problems["student notebook"] = f"no {student.relative_to(repo)}: run generate"
    elif solution.is_file() and [(c.cell_type, c.source) for c in nbformat.read(
            student, as_version=4).cells] != student_sources(solution):
        problems["student notebook"] = f"{student.relative_to(repo)} is out of date: run generate"

    unchecked = [p for p in parts if p not in public and p != f"{name}.{HELD_OUT_PART}"]
    if not (repo / "dlbasics" / "checks" / f"{name}.py").is_file() or unchecked:
        problems["public checks"] = (f"dlbasics/checks/{name}.py must register a check for "
                                     f"every graded part; missing: {unchecked}")

    chapter = repo / "chapters" / "11_exercises.ipynb"
    graded = {p.name: p.max_score for p in ex.parts}
    table = point_tables(chapter).get(name) if chapter.is_file() else None
    if table != graded:
        problems["chapter 11 points"] = f"chapter 11's table says {table}, the grader {graded}"
    if not chapter.is_file() or int(name[2:]) not in _skill_rows(chapter):
        problems["chapter 11 skills"] = f"no row for exercise {name[2:]} in the graded-skill table"

    shipped = bundle / "exercises" / ex.notebook
    if not (shipped.is_file() and student.is_file()
            and shipped.read_bytes() == student.read_bytes()
            and (bundle / "dlbasics" / "checks" / f"{name}.py").is_file()
            and f"`exercises/{ex.notebook}`" in (bundle / "README.md").read_text(encoding="utf-8")):
        problems["student bundle"] = (f"the bundle lacks exercises/{ex.notebook}, "
                                      f"dlbasics/checks/{name}.py or its README row")

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(["list", "--tests", str(hidden)])
    listed = [ln for ln in out.getvalue().splitlines() if ln.startswith(f"{name}  ")]
    if code != 0 or len(listed) != 1 or ex.notebook not in listed[0] or "cannot load" in listed[0]:
        problems["dlbasics-grade list"] = f"exit {code}, lines {listed}"

    with zipfile.ZipFile(gradescope_zip(name, hidden, tmp / f"{name}.zip")) as zf:
        names = set(zf.namelist())
        runner = zf.read("run_autograder").decode()
    workflow = actions_workflow(name, tmp / "actions", hidden).read_text(encoding="utf-8")
    if not ({f"hidden_exercises/{name}.py", f"package/dlbasics/checks/{name}.py"} <= names
            and ex.notebook in runner and ex.notebook in workflow
            and f"dlbasics-grade grade {name} " in workflow):
        problems["Gradescope and Classroom"] = (f"the zip must hold hidden_exercises/{name}.py and "
                                                f"package/dlbasics/checks/{name}.py, and both "
                                                f"must grade {ex.notebook}")

    tests = _end_to_end_tests(repo / "tests" / "grading", name)
    if not any("full_marks" in t for t in tests) or not any("zero" in t for t in tests):
        problems["end-to-end test"] = (f"tests/grading/test_{name}*.py needs a test that the "
                                       f"solution scores full marks and one that stubs score zero")
    return problems


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return release.build(tmp_path_factory.mktemp("release") / "bundle")


def test_there_are_exercises():
    assert EXERCISE_NAMES and EXERCISE_NAMES == available_exercises(HIDDEN)


@pytest.mark.parametrize("name", EXERCISE_NAMES)
def test_every_place_holds_the_exercise(name, bundle, tmp_path):
    assert place_problems(name, REPO, bundle, tmp_path) == {}


def orphans(repo: Path, names: list[str]) -> list[str]:
    """Exercise files that belong to no exercise of ``names`` (hidden tests missing)."""
    notebooks = set()
    for name in names:
        notebooks.add(load_exercise(name, repo / "hidden_exercises").notebook)
    found = [f"solutions/{p.name}" for p in (repo / "solutions").glob("ex*.ipynb")
             if p.name not in notebooks]
    found += [f"exercises/{p.name}" for p in (repo / "exercises").glob("ex*.ipynb")
              if p.name not in notebooks]
    found += [f"dlbasics/checks/{p.name}" for p in (repo / "dlbasics" / "checks").glob("ex*.py")
              if p.stem not in names]
    return sorted(found)


def test_every_exercise_file_belongs_to_an_exercise():
    assert orphans(REPO, EXERCISE_NAMES) == []
    assert {c.split(".")[0] for c in checks.available()} == set(EXERCISE_NAMES)


# --------------------------------------------------------------------------
# the checker catches a missing place
# --------------------------------------------------------------------------

FAKE_EX9 = '''"""A fake exercise for test_exercises.py."""
from dlbasics_grader.spec import Exercise, Part

EXERCISE = Exercise(name="ex9", title="Fake", notebook="ex9_fake.ipynb",
                    parts=[Part("ex9.double", 1.0, "doubles")], probes=lambda seed: [],
                    score=lambda results, submission: [])
'''


@pytest.fixture
def fresh_hidden_modules(monkeypatch):
    """Hidden-test modules loaded from a copy are dropped again afterwards."""
    for name in ("ex1", "ex9"):
        monkeypatch.delitem(sys.modules, f"{HIDDEN_PACKAGE}.{name}", raising=False)


def _copy_ex1(repo: Path) -> Path:
    """A repository holding Exercise 1 in every place (the grader's code stays the real one)."""
    for rel in ("solutions/ex1_neural_network.ipynb", "exercises/ex1_neural_network.ipynb",
                "dlbasics/checks/ex1.py", "chapters/11_exercises.ipynb",
                "tests/grading/test_ex1.py", "hidden_exercises/_common.py", "hidden_exercises/ex1.py",
                "hidden_exercises/grading.key"):
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, repo / rel)
    return repo


def _drop_rows(path: Path, pattern: str) -> None:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = "\n".join(ln for ln in cell.source.splitlines()
                                    if not re.match(pattern, ln))
    nbformat.write(nb, str(path))


def _drop_last_cell(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nb.cells.pop()
    nbformat.write(nb, str(path))


REMOVALS = {
    "solution notebook": lambda repo, mp: (repo / "solutions/ex1_neural_network.ipynb").unlink(),
    "student notebook": lambda repo, mp: _drop_last_cell(repo / "exercises/ex1_neural_network.ipynb"),
    "public checks": lambda repo, mp: (repo / "dlbasics/checks/ex1.py").unlink(),
    "chapter 11 points": lambda repo, mp: _drop_rows(repo / "chapters/11_exercises.ipynb",
                                                     r"\|\s*`ex1\.init`"),
    "chapter 11 skills": lambda repo, mp: _drop_rows(repo / "chapters/11_exercises.ipynb",
                                                     r"\|\s*1\s*\|"),
    "student bundle": lambda repo, mp: mp.setattr(
        release, "COPY_DIRS", tuple(d for d in release.COPY_DIRS if d != "exercises")),
    "dlbasics-grade list": lambda repo, mp: mp.setattr(engine, "available_exercises",
                                                       lambda tests_dir: []),
    "Gradescope and Classroom": lambda repo, mp: mp.setattr(package, "PACKAGES",
                                                            ("dlbasics_grader",)),
    "end-to-end test": lambda repo, mp: (repo / "tests/grading/test_ex1.py").unlink(),
}


# what a missing place breaks besides itself: a student notebook cannot be compared with a
# solution that is not there, and the bundle ships the checks module that is missing
KNOCK_ON = {"solution notebook": ("student notebook",), "public checks": ("student bundle",)}


def test_removals_cover_every_place_but_the_list_itself():
    assert set(REMOVALS) == set(PLACES) - {"hidden tests"}


@pytest.mark.parametrize("place", [None, *REMOVALS])
def test_a_missing_place_is_reported_by_name(place, tmp_path, monkeypatch, fresh_hidden_modules):
    repo = _copy_ex1(tmp_path / "repo")
    if place:
        REMOVALS[place](repo, monkeypatch)
    bundle = release.build(tmp_path / "bundle", repo)
    (tmp_path / "out").mkdir()
    problems = place_problems("ex1", repo, bundle, tmp_path / "out")
    assert (place in problems) if place else problems == {}, problems
    assert set(problems) <= {place, *KNOCK_ON.get(place, ())}, problems


def test_a_new_exercise_with_only_hidden_tests_misses_every_other_place(
        tmp_path, fresh_hidden_modules):
    repo = _copy_ex1(tmp_path / "repo")
    (repo / "hidden_exercises/ex9.py").write_text(FAKE_EX9, encoding="utf-8")
    assert available_exercises(repo / "hidden_exercises") == ["ex1", "ex9"]
    (tmp_path / "out").mkdir()
    problems = place_problems("ex9", repo, release.build(tmp_path / "bundle", repo),
                              tmp_path / "out")
    # its hidden tests are there, so it is in the list and `dlbasics-grade list` shows it
    assert set(problems) == set(PLACES) - {"hidden tests", "dlbasics-grade list"}, problems


def test_an_exercise_file_without_hidden_tests_is_an_orphan(tmp_path, fresh_hidden_modules):
    repo = _copy_ex1(tmp_path / "repo")
    (repo / "solutions/ex9_fake.ipynb").write_bytes(
        (repo / "solutions/ex1_neural_network.ipynb").read_bytes())
    (repo / "dlbasics/checks/ex9.py").write_text("", encoding="utf-8")
    assert orphans(repo, ["ex1"]) == ["dlbasics/checks/ex9.py", "solutions/ex9_fake.ipynb"]
