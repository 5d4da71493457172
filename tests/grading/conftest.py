"""Fixtures for the grader's tests: exercises, notebooks to grade, helpers."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from dlbasics_grader.engine import available_exercises, load_exercise

REPO = Path(__file__).resolve().parents[2]
HIDDEN = REPO / "hidden_exercises"
SOLUTIONS = REPO / "solutions"
EXERCISES = REPO / "exercises"
EX1 = "ex1_neural_network.ipynb"
# The list of exercises: one hidden-test module hidden_exercises/exN.py (its ``EXERCISE``) each, as
# ``dlbasics-grade list`` finds them. test_exercises.py checks every other place against it.
EXERCISE_NAMES = available_exercises(HIDDEN)


def code_cells(path: Path, stop_at: str | None = None) -> list[str]:
    """Code cells of a notebook, up to (not including) the first containing ``stop_at``."""
    nb = nbformat.read(path, as_version=4)
    out = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if stop_at and stop_at in cell.source:
            break
        out.append(cell.source)
    return out


def write_notebook(path: Path, cells: list[str]) -> Path:
    """Write ``cells`` as the code cells of a version-4 notebook at ``path``."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, str(path))
    return path


def point_table(path: Path) -> dict[str, float]:
    """``{part: points}`` from the point table in the notebook's first cell (a row naming
    several parts, the ungraded checks, is left out)."""
    source = nbformat.read(path, as_version=4).cells[0].source
    out = {}
    for row in source.splitlines():
        cols = [c.strip() for c in row.strip().strip("|").split("|")]
        if len(cols) == 3 and cols[0].startswith("`") and "," not in cols[0]:
            out[cols[0].strip("`")] = float(cols[2])
    return out


@pytest.fixture(scope="session")
def ex1():
    return load_exercise("ex1", HIDDEN)


@pytest.fixture(scope="session")
def ex1_solution_cells() -> list[str]:
    """Parts 0-5 of the Ex1 solution (the demo of Part 6 left out, for speed)."""
    return code_cells(SOLUTIONS / EX1, stop_at="def make_spirals")


@pytest.fixture(scope="session")
def ex1_stub_cells() -> list[str]:
    return code_cells(EXERCISES / EX1, stop_at="def make_spirals")
