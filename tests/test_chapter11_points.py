"""Chapter 11's tables of graded parts agree with the grader and the solution notebooks.

The chapter states, for each exercise, the graded parts and their points. The
hidden tests (``hidden_exercises/exN.py``) decide the grade, and each solution
notebook states the same table for learners; if one of them changes, the
chapter must change with it.
"""

from __future__ import annotations

import pytest

from dlbasics_grader.engine import available_exercises, load_exercise

from .helpers import HIDDEN, POINT_ROW, REPO, SOLUTIONS, point_tables

CHAPTER = REPO / "chapters" / "11_exercises.ipynb"
EXERCISES = available_exercises(HIDDEN)  # the exercises: hidden_exercises/exN.py


def test_row_pattern_reads_a_table_row():
    assert POINT_ROW.findall("| `ex2.model` | logits `(n, 10)` | 2 |\n| not a row |") == [("ex2.model", "2")]


@pytest.mark.parametrize("exercise", EXERCISES)
def test_chapter_points_match_the_hidden_tests(exercise):
    if not (HIDDEN / f"{exercise}.py").is_file():
        pytest.skip(f"hidden_exercises/{exercise}.py is not in this checkout")
    graded = {part.name: part.max_score for part in load_exercise(exercise, HIDDEN).parts}
    assert point_tables(CHAPTER).get(exercise) == graded


@pytest.mark.parametrize("exercise", EXERCISES)
def test_chapter_points_match_the_solution_notebook(exercise):
    notebooks = sorted(SOLUTIONS.glob(f"{exercise}_*.ipynb"))
    if not notebooks:
        pytest.skip(f"no solutions/{exercise}_*.ipynb in this checkout")
    assert point_tables(CHAPTER).get(exercise) == point_tables(notebooks[0]).get(exercise)
