"""Fixtures for the grader's tests: the Exercise 1 spec and its solution and stub cells."""

from __future__ import annotations

import pytest

from dlbasics_grader.engine import load_exercise

from ..helpers import EX1, EXERCISES, HIDDEN, SOLUTIONS, code_cells


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
