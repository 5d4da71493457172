"""Student notebooks generated from the solution notebooks.

``python -m dlbasics_grader.generate [solutions/exN_*.ipynb ...]`` writes
``exercises/<same name>`` for each solution notebook (all of
``solutions/ex*.ipynb`` by default):

* code between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` becomes
  ``raise NotImplementedError(...)`` at the block's indentation, or, when the
  block has lines starting with ``# STUB:`` (and one space), those lines without the prefix;
* markdown between ``<!-- BEGIN SOLUTION -->`` and ``<!-- END SOLUTION -->``
  becomes ``*Write your answer here.*``;
* cells tagged ``solution-only`` are dropped; outputs and execution counts are
  cleared;
* the new notebook is run (``nbclient``) and every code cell that raises is
  tagged ``raises-exception``, so ``pytest --nbval-lax exercises/`` passes.

:func:`student_sources` gives the generated sources without running anything;
the test that keeps ``exercises/`` in sync with ``solutions/`` compares them.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat

BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION\b.*$")
END = re.compile(r"^[ \t]*# END SOLUTION\b.*$")
STUB = re.compile(r"^(?P<indent>[ \t]*)# STUB: ?(?P<code>.*)$")
MD_BLOCK = re.compile(r"<!-- BEGIN SOLUTION -->.*?<!-- END SOLUTION -->", re.S)
DEF = re.compile(r"^(?P<indent>[ \t]*)(?:async\s+)?def\s+(?P<name>\w+)")
RAISES = "raises-exception"
SOLUTION_ONLY = "solution-only"


class MarkerError(ValueError):
    """Unbalanced or misplaced solution markers; the message says where."""


def _enclosing_function(lines: list[str], start: int, indent: str) -> str | None:
    for line in reversed(lines[:start]):
        m = DEF.match(line)
        if m and len(m.group("indent")) < len(indent):
            return m.group("name")
    return None


def strip_code(source: str, where: str = "cell") -> str:
    """The student version of one code cell's source."""
    lines = source.split("\n")
    out: list[str] = []
    begin: int | None = None  # the line of the open solution block's BEGIN marker
    indent, stubs = "", []
    for i, line in enumerate(lines):
        if m := BEGIN.match(line):
            if begin is not None:
                raise MarkerError(f"{where}, line {i + 1}: nested '# BEGIN SOLUTION'")
            begin, indent, stubs = i, m.group("indent"), []
        elif END.match(line):
            if begin is None:
                raise MarkerError(f"{where}, line {i + 1}: '# END SOLUTION' without a BEGIN")
            if stubs:
                out.extend(stubs)
            else:
                fn = _enclosing_function(lines, begin, indent)
                what = f"{fn}: replace" if fn else "Replace"
                out.append(f'{indent}raise NotImplementedError("{what} this line with your code")')
            begin = None
        elif begin is None:
            out.append(line)
        elif s := STUB.match(line):
            stubs.append(s.group("indent") + s.group("code"))
    if begin is not None:
        raise MarkerError(f"{where}, line {begin + 1}: '# BEGIN SOLUTION' without an END")
    return "\n".join(out)


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def student_notebook(solution: nbformat.NotebookNode, name: str = "notebook"
                     ) -> nbformat.NotebookNode:
    """The student version of ``solution`` (not run, no ``raises-exception`` tags)."""
    nb = copy.deepcopy(solution)
    cells = []
    for k, cell in enumerate(nb.cells):
        tags = _tags(cell)
        if SOLUTION_ONLY in tags:
            continue
        if cell.cell_type == "code":
            cell.source = strip_code(cell.source, f"{name}, cell {k + 1}")
            cell.outputs = []
            cell.execution_count = None
        elif cell.cell_type == "markdown":
            cell.source = MD_BLOCK.sub("*Write your answer here.*", cell.source)
        tags = [t for t in tags if t != RAISES]
        if tags:
            cell.metadata["tags"] = tags
        else:
            cell.metadata.pop("tags", None)
        cells.append(cell)
    nb.cells = cells
    return nb


def student_sources(solution_path: Path) -> list[tuple[str, str]]:
    """``(cell_type, source)`` of the student version, without running it."""
    nb = nbformat.read(solution_path, as_version=4)
    return [(c.cell_type, c.source) for c in student_notebook(nb, solution_path.name).cells]


def tag_raising_cells(nb: nbformat.NotebookNode, cwd: Path, timeout: int = 600) -> list[int]:
    """Run ``nb`` and tag every code cell that raises; returns their indices."""
    from nbclient import NotebookClient

    run = copy.deepcopy(nb)
    NotebookClient(run, timeout=timeout, allow_errors=True, kernel_name="python3",
                   resources={"metadata": {"path": str(cwd)}}).execute()
    raising = []
    for k, (cell, ran) in enumerate(zip(nb.cells, run.cells)):
        if cell.cell_type != "code":
            continue
        if any(o.get("output_type") == "error" for o in ran.get("outputs", [])):
            raising.append(k)
            cell.metadata["tags"] = [*_tags(cell), RAISES]
    return raising


def generate(solution_path: Path, out_dir: Path, run: bool = True) -> Path:
    """Write the student notebook for ``solution_path`` into ``out_dir``."""
    solution = nbformat.read(solution_path, as_version=4)
    nb = student_notebook(solution, solution_path.name)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / solution_path.name
    if run:
        raising = tag_raising_cells(nb, out_dir)
        print(f"{out}: {len(raising)} cell(s) tagged {RAISES}")
    nbformat.validate(nb)
    nbformat.write(nb, out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dlbasics_grader.generate",
        description="Write student notebooks (exercises/) from solution notebooks (solutions/).")
    parser.add_argument("solutions", nargs="*", type=Path,
                        help="solution notebooks (default: solutions/ex*.ipynb)")
    parser.add_argument("--out", type=Path, default=Path("exercises"),
                        help="output folder (default: exercises)")
    parser.add_argument("--no-run", action="store_true",
                        help="do not run the notebooks to tag the cells that raise")
    args = parser.parse_args(argv)
    paths = args.solutions or sorted(Path("solutions").glob("ex*.ipynb"))
    if not paths:
        print("no solution notebooks found (run from the repository root, or pass paths)",
              file=sys.stderr)
        return 2
    for p in paths:
        if not p.is_file():
            print(f"{p}: no such file", file=sys.stderr)
            return 2
        try:
            generate(p, args.out, run=not args.no_run)
        except MarkerError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
