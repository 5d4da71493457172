"""Paths of the repository and helpers that read, write and run notebook cells.

Shared by the test packages; ``conftest.py`` files hold only fixtures and hooks.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
HIDDEN = REPO / "hidden_exercises"
SOLUTIONS = REPO / "solutions"
EXERCISES = REPO / "exercises"
EX1 = "ex1_neural_network.ipynb"
# a table row: | `ex1.init` | what is graded | 2 |
POINT_ROW = re.compile(r"^\|\s*`(ex\d+\.\w+)`\s*\|.*\|\s*(\d+(?:\.\d+)?)\s*\|\s*$", re.MULTILINE)


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


def definition_cells(path: Path, drop: tuple[str, ...] = (), change: tuple[tuple[str, str], ...] = ()
                     ) -> list[str]:
    """The install and import cells and every cell that defines a function or class.

    The notebook's demonstrations (training runs, plots) are left out to keep
    grading fast; the probes only need the definitions. Cells containing any
    string of ``drop`` are left out too; ``change`` replaces (old, new) text, each of which
    must be found.
    """
    nb = nbformat.read(path, as_version=4)
    cells = [c.source for c in nb.cells if c.cell_type == "code"]
    keep = [c for c in cells if "%pip" in c or c.startswith("import ")
            or re.search(r"^(def|class) ", c, re.M)]
    keep = [c for c in keep if not any(d in c for d in drop)]
    for old, new in change:
        assert any(old in c for c in keep), old
        keep = [c.replace(old, new) for c in keep]
    return keep


def changed(cells: list[str], *replacements: tuple[str, str]) -> list[str]:
    """``cells`` with each ``(old, new)`` replaced; every ``old`` must be found."""
    for old, new in replacements:
        assert any(old in c for c in cells), old
        cells = [c.replace(old, new) for c in cells]
    return cells


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


def point_tables(path: Path) -> dict[str, dict[str, float]]:
    """{exercise: {part: points}} from every markdown table row of a notebook."""
    nb = nbformat.read(path, as_version=4)
    found: dict[str, dict[str, float]] = {}
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for part, points in POINT_ROW.findall(cell.source):
            exercise = part.split(".")[0]
            assert part not in found.get(exercise, {}), f"{path.name}: {part} is listed twice"
            found.setdefault(exercise, {})[part] = float(points)
    return found


def namespace_of(cells: list[str]) -> dict:
    """The namespace left by running ``cells`` in this process, check calls, plots, installs
    and the spirals demonstration left out (stubs that raise are skipped)."""
    ns: dict = {}
    for src in cells:
        if "check(" in src or "make_spirals" in src or "plt." in src or "%pip" in src:
            continue
        try:
            exec(compile(src, "<cell>", "exec"), ns)
        except (NotImplementedError, ValueError):  # stubs; a demonstration of a wrong backward
            pass
    return ns


def ipython_shell():
    """The process's IPython shell, as a notebook kernel runs cells."""
    from IPython.core.interactiveshell import InteractiveShell

    return InteractiveShell.instance()


def run_cells(shell, cells: list[str]) -> str:
    """Run ``cells`` in ``shell`` one after the other; what they printed."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        for src in cells:
            shell.run_cell(src, store_history=True)
    return buf.getvalue()
