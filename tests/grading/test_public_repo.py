"""The public book repository (`make public DEST`): the book, the package, the student
exercises and CI, and nothing graded."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from dlbasics_grader import release

from ..helpers import REPO


@pytest.fixture(scope="module")
def public(tmp_path_factory):
    return release.build_public(tmp_path_factory.mktemp("public") / "deep-learning-basics")


def test_it_holds_the_book_package_exercises_and_ci_and_nothing_graded(public):
    for rel in ("chapters/01_introduction.ipynb", "_config.yml", "_toc.yml", "intro.md",
                "instructor_guide.md", "dlbasics/__init__.py", "dlbasics/checks/ex1.py",
                "exercises/ex1_neural_network.ipynb", ".github/workflows/ci.yml",
                ".github/workflows/book.yml", "Makefile", "requirements.txt", "tools/build_book.py",
                "tests/test_layers.py"):
        assert (public / rel).is_file(), rel
    for rel in ("solutions", "hidden_exercises", "dlbasics_grader", "tests/grading", ".ci"):
        assert not (public / rel).exists(), rel
    assert not list(public.rglob("grading.key"))
    for path in public.rglob("*"):
        if path.suffix == ".py" or path.name in ("Makefile", "pyproject.toml"):
            assert "dlbasics_grader" not in path.read_text(encoding="utf-8"), path
    makefile = (public / "Makefile").read_text()
    assert "\nbook:" in makefile and "\ntest:" in makefile and "\nrelease:" not in makefile
    assert [p for p in release.audit(public) if not p.startswith("tests")] == []  # tests are public


def test_its_lint_passes_and_its_tests_collect_without_the_grader(public):
    """What its CI runs first; the full `make book` and `make test` are left to that CI."""
    bin_dir = f"{sys.prefix}/bin"
    lint = subprocess.run([f"{bin_dir}/ruff", "check", "dlbasics", "tests", "benchmarks", "tools"],
                          cwd=public, capture_output=True, text=True, timeout=120)
    assert lint.returncode == 0, lint.stdout
    t0 = time.monotonic()
    # the grader is not importable there: a test that needs it fails to collect
    blocker = public / "_no_grader" / "dlbasics_grader"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('the grader is not public')\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                           "-p", "no:cacheprovider", "tests"], cwd=public, capture_output=True,
                          text=True, timeout=300,
                          env={"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(public),
                               "PYTHONPATH": f"{public}:{public / '_no_grader'}"})
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert " collected" in proc.stdout or "tests collected" in proc.stdout
    assert time.monotonic() - t0 < 120
    assert REPO.is_dir()
