"""Student notebooks are generated from the solutions and kept in sync."""

from __future__ import annotations

import nbformat
import pytest

from dlbasics_grader.generate import (
    MarkerError,
    strip_code,
    student_notebook,
    student_sources,
)

from ..helpers import EXERCISES, SOLUTIONS

SOLUTION_NOTEBOOKS = sorted(SOLUTIONS.glob("ex*.ipynb"))


@pytest.mark.parametrize("solution", SOLUTION_NOTEBOOKS, ids=lambda p: p.stem)
def test_exercises_are_in_sync_with_solutions(solution):
    student = EXERCISES / solution.name
    assert student.is_file(), f"run: python -m dlbasics_grader.generate {solution}"
    nb = nbformat.read(student, as_version=4)
    assert [(c.cell_type, c.source) for c in nb.cells] == student_sources(solution), (
        f"{student} is out of date: run python -m dlbasics_grader.generate {solution}")


@pytest.mark.parametrize("solution", SOLUTION_NOTEBOOKS, ids=lambda p: p.stem)
def test_student_notebooks_hold_no_solution_code_and_no_outputs(solution):
    nb = nbformat.read(EXERCISES / solution.name, as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    assert "NotImplementedError" in text
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_solution_blocks_become_stubs_at_their_indentation():
    src = ("def f(x):\n    y = 1\n    # BEGIN SOLUTION\n    return x + y\n    # END SOLUTION\n"
           "# BEGIN SOLUTION\nz = f(2)\n# END SOLUTION")
    out = strip_code(src)
    assert out == ('def f(x):\n    y = 1\n    raise NotImplementedError("f: replace this line '
                   'with your code")\nraise NotImplementedError("Replace this line with your '
                   'code")')
    compile(out, "<cell>", "exec")


def test_stub_lines_replace_the_raise():
    src = "def g():\n    # BEGIN SOLUTION\n    # STUB: total = ...  # your code\n    total = 3\n" \
          "    # END SOLUTION\n    return total"
    assert strip_code(src) == "def g():\n    total = ...  # your code\n    return total"


@pytest.mark.parametrize("src", ["# BEGIN SOLUTION\nx = 1", "x = 1\n# END SOLUTION",
                                 "# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION"])
def test_unbalanced_markers_are_errors(src):
    with pytest.raises(MarkerError):
        strip_code(src)


def test_solution_only_cells_and_markdown_answers_are_removed():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("Q?\n<!-- BEGIN SOLUTION -->A!<!-- END SOLUTION -->"),
                nbformat.v4.new_code_cell("secret = 1", metadata={"tags": ["solution-only"]}),
                nbformat.v4.new_code_cell("x = 1", outputs=[], execution_count=3)]
    out = student_notebook(nb)
    assert [c.source for c in out.cells] == ["Q?\n*Write your answer here.*", "x = 1"]
    assert out.cells[1].execution_count is None
