"""The public book repository (`make public DEST`): the book, the package, the student
exercises and CI, and nothing graded."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

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
    for rel in ("solutions", "hidden_exercises", "dlbasics_grader", "grader", "tests/grading", ".ci"):
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


IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CACHE = REPO / "_build" / ".jupyter_cache"


def _make(public, target: str, *args: str, timeout: int) -> tuple[subprocess.CompletedProcess, float]:
    """``make TARGET`` in the public repository, its .venv taken as installed (``-o``: this
    run's environment is linked there and must not be reinstalled from the copy), with the
    grader not importable (it is installed in this run's environment; the copy must not use
    it) and the copy's own ``dlbasics`` first on the path."""
    blocker = public.parent / "no_grader" / "dlbasics_grader"
    blocker.mkdir(parents=True, exist_ok=True)
    (blocker / "__init__.py").write_text("raise ImportError('the grader is not public')\n")
    env = {**os.environ, "PYTHONPATH": f"{blocker.parent}:{public}", "JOBS": "2"}
    t0 = time.monotonic()
    proc = subprocess.run(["make", "-o", ".venv/.installed", "-o", "install", target, *args],
                          cwd=public, env=env, capture_output=True, text=True, timeout=timeout)
    return proc, time.monotonic() - t0


@pytest.mark.book
def test_the_public_repository_builds_its_book_and_passes_its_fast_tests(tmp_path):
    """From a clean copy: `make book` (HTML, strict, offline check) and `make test-fast`
    (lint and every unit test of the copy) pass without the grader.

    The cheapest honest version of a clean clone: the copy's .venv is a link to this run's
    environment (its install stamp kept, so nothing is reinstalled), and its
    `_build/.jupyter_cache` is a copy of the one `make book` has just filled here, so no chapter
    runs again (`--reuse-cache`: the copy's notebooks and package are byte for byte the ones
    that ran; the cache matches notebooks by their code). The copy's browser, book and nbval
    tests are the same files run on the same notebooks as here, so they are not run twice."""
    if not (CACHE / "inputs-fingerprint.txt").is_file():
        message = "no executed chapters in _build/.jupyter_cache (run `make book` first)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    public = release.build_public(tmp_path / "deep-learning-basics")
    assert (Path(sys.prefix) / ".installed").is_file(), "make install first"
    (public / ".venv").symlink_to(sys.prefix)
    shutil.copytree(CACHE, public / "_build" / ".jupyter_cache")

    book, book_s = _make(public, "book", "BOOK_ARGS=--no-pdf --reuse-cache", timeout=900)
    assert book.returncode == 0, (book.stdout + book.stderr)[-4000:]
    assert "cached, 0 to run" in book.stdout + book.stderr, (book.stdout + book.stderr)[-2000:]
    html = public / "_build" / "html"
    for chapter in sorted((public / "chapters").glob("*.ipynb")):
        assert (html / "chapters" / f"{chapter.stem}.html").is_file(), chapter.name
    assert not list(html.rglob("grading.key")) and not list(html.rglob("solutions"))

    tests, tests_s = _make(public, "test-fast", timeout=900)
    assert tests.returncode == 0, (tests.stdout + tests.stderr)[-4000:]
    assert " passed" in tests.stdout and " failed" not in tests.stdout
    print(f"public repository: make book {book_s:.0f} s, make test-fast {tests_s:.0f} s")
