"""Reading a submitted notebook without trusting it.

:func:`read_notebook` turns any file's bytes into the code cells to run and the static scan of
their code (:class:`Reading`), or into a sentence that tells the learner why the file cannot be
graded (empty, binary, not JSON, not a notebook, an unsupported nbformat, too many cells).
Version 3 notebooks are upgraded to version 4. IPython-only syntax (``%magic``, ``!shell``,
``obj?``) is replaced by ``pass`` so line numbers stay right, and the public ``check(...)``
calls are removed: they belong to the learner's notebook, not to grading. Each cell's code is
parsed once, and that one tree serves the IPython test, the removal of the checks and the scan.

The grader runs this in a bounded child process (:mod:`dlbasics_grader.reading`), never in its
own: a syntax tree takes a hundred times the size of its text.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass

from dlbasics.checks.static import (
    UNREADABLE,
    ImportPolicy,
    StaticReport,
    describe_cell,
    parse_code,
    scan,
)

MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
MAX_CODE_CELLS = 5_000
"""Most code cells a notebook may have: the runner reports each cell twice, and the grader
accepts 10,000 messages from one run."""

# Cell magics whose body is Python: run the body. Any other cell magic
# (%%bash, %%writefile, %%html, ...) skips the cell.
_PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun"}
_CHECK_MODULES = ("dlbasics.checks",)


@dataclass(frozen=True)
class CodeCell:
    """A code cell: ``index`` among all cells (0-based), ``source`` as written,
    ``code`` what the sandbox runs, ``skipped`` the reason it is not run,
    ``execution_count`` the number JupyterLab shows beside it (``None`` if never run)."""

    index: int
    source: str
    code: str
    skipped: str = ""
    execution_count: int | None = None

    @property
    def label(self) -> str:
        """How a learner finds this cell: its number and what it defines.

        The number is the execution count JupyterLab shows beside the cell (``cell [7]``), else
        the cell's place in the notebook, markdown cells included (``cell 12``). The cell is
        named by the functions and classes it defines at its top level
        (``cell [7] (def forward, def backward)``), which tells apart cells that start alike
        (three ``@add_to_class(Net)`` cells); a cell that defines none is named by its first
        line (``cell [9] "net.fit(X, y)"``).
        """
        number = f"[{self.execution_count}]" if self.execution_count else str(self.index + 1)
        names = _DEFINITION.findall(self.source)
        if names:
            shown = ", ".join(f"{kind} {name}" for kind, name in names[:4])
            return f"cell {number} ({shown}{', …' if len(names) > 4 else ''})"
        return f"cell {number} " + describe_cell(self.source).removeprefix("the cell ")


_DEFINITION = re.compile(r"^(?:async\s+)?(def|class)\s+([A-Za-z_]\w*)", re.M)


class NotebookError(ValueError):
    """The file is not a notebook we can grade; the message says why."""


def _cell_source(cell: dict) -> str:
    src = cell.get("source", cell.get("input", ""))
    if isinstance(src, list):
        if not all(isinstance(s, str) for s in src):
            raise NotebookError("a cell's source is not text")
        return "".join(src)
    if isinstance(src, str):
        return src
    raise NotebookError("a cell's source is not text")


def _upgrade_v3(nb: dict) -> dict:
    import nbformat

    try:
        node = nbformat.from_dict(nb)
        return dict(nbformat.convert(node, 4))
    except Exception as exc:  # nbformat raises many kinds of errors
        raise NotebookError(f"it is an nbformat 3 notebook that could not be upgraded ({exc})") from None


def parse_notebook(data: bytes) -> list[tuple[int, str]]:
    """``(index, source)`` for every code cell of the notebook in ``data``.

    Raises :class:`NotebookError` with a learner-facing reason otherwise.
    """
    return [(index, source) for index, source, _ in _code_cells(data)]


def _code_cells(data: bytes) -> list[tuple[int, str, int | None]]:
    """``(index, source, execution count)`` for every code cell; see :func:`parse_notebook`."""
    if not data.strip():
        raise NotebookError("the file is empty")
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise NotebookError(
            f"the file is {len(data) / 2**20:.0f} MB; a notebook must be under "
            f"{MAX_NOTEBOOK_BYTES // 2**20} MB (clear large outputs before submitting)"
        )
    if b"\x00" in data[:4096]:
        raise NotebookError("it is a binary file, not a Jupyter notebook (.ipynb)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise NotebookError("it is not UTF-8 text, so not a Jupyter notebook (.ipynb)") from None
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(
            f"it is not valid notebook JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "save it from Jupyter again and resubmit the .ipynb file"
        ) from None
    except RecursionError:
        raise NotebookError("it is not valid notebook JSON (nested too deeply)") from None
    if not isinstance(nb, dict):
        raise NotebookError("it is JSON but not a notebook (no top-level object)")
    major = nb.get("nbformat")
    if major == 3 or (major is None and "worksheets" in nb):
        nb = _upgrade_v3(nb)
        major = 4
    if major != 4:
        raise NotebookError(
            f"it has nbformat {major!r}; only Jupyter notebooks of format 4 (or 3) are supported"
        )
    cells = nb.get("cells")
    if not isinstance(cells, list):
        raise NotebookError("it is JSON but has no list of cells")
    out = []
    for i, cell in enumerate(cells):
        if not isinstance(cell, dict):
            raise NotebookError(f"cell {i + 1} is not a notebook cell")
        if cell.get("cell_type") == "code":
            if len(out) == MAX_CODE_CELLS:
                raise NotebookError(f"it has more than {MAX_CODE_CELLS:,} code cells; merge "
                                    "cells or remove the ones the exercise does not need")
            count = cell.get("execution_count", cell.get("prompt_number"))
            count = count if isinstance(count, int) and not isinstance(count, bool) else None
            out.append((i, _cell_source(cell), count))
    return out


def _assign_magic(line: str) -> tuple[str, str] | None:
    """``(indent, targets)`` for ``targets = %magic`` or ``targets = !shell``, else None.

    A plain scan, linear in the line's length (a regular expression here
    backtracked for minutes on a line of thousands of spaces)."""
    body = line.lstrip()
    indent = line[: len(line) - len(body)]
    eq = body.find("=")
    if eq <= 0 or body[eq + 1 : eq + 2] == "=":
        return None
    targets, rest = body[:eq].strip(), body[eq + 1 :].lstrip()
    if not rest.startswith(("%", "!")) or not targets:
        return None
    if not all(ch.isalnum() or ch in "_., \t" for ch in targets):
        return None
    return indent, targets


Tree = ast.Module | str
"""What :func:`dlbasics.checks.static.parse_code` gives: a syntax tree, or why there is none."""
DEEP_TEXT = 1 << 20
"""Longest code whose ``MemoryError`` in the parser means nesting too deep for its stack
(CPython raises it at 6,000 levels); longer code that runs out of memory is too large to read."""


def _parse(code: str) -> Tree:
    """:func:`parse_code`, where a parser stack overflow reads as nesting too deep; a
    ``MemoryError`` on longer code propagates."""
    try:
        return parse_code(code)
    except MemoryError:
        if len(code) > DEEP_TEXT:
            raise
        return UNREADABLE


def strip_ipython(source: str, tree: Tree | None = None) -> tuple[str, str]:
    """Replace IPython-only lines by ``pass``; returns ``(code, skip_reason)``.

    Only cells that are not valid Python are touched (``tree``: the cell's parse, when the
    caller has it). ``x = !ls`` becomes ``x = None``. A cell starting with a non-Python cell
    magic (``%%bash``) is skipped as a whole.
    """
    if not isinstance(tree if tree is not None else _parse(source), str):
        return source, ""  # plain Python: nothing to strip
    lines = source.split("\n")
    first = lines[0].strip() if lines else ""
    if first.startswith("%%"):
        magic = first[2:].split()[0] if first[2:].split() else ""
        if magic not in _PYTHON_CELL_MAGICS:
            return "", f"cell magic %%{magic} is not run by the grader"
        lines[0] = ""
    out = []
    for line in lines:
        stripped = line.strip()
        m = _assign_magic(line)
        if m and not stripped.startswith(("%", "!")):
            out.append(f"{m[0]}{m[1]} = None")
        elif stripped.startswith(("%", "!")) or (
            stripped.endswith("?") and not stripped.startswith("#") and _is_help_line(stripped)
        ):
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}pass")
        else:
            out.append(line)
    return "\n".join(out), ""


def _is_help_line(stripped: str) -> bool:
    body = stripped.rstrip("?").strip()
    return bool(re.fullmatch(r"[\w.]+", body))


def _is_course_install(node: ast.stmt) -> bool:
    """The notebooks' first cell: ``try: import dlbasics`` (or the checks), installing it
    with ``%pip`` (a ``pass`` by now) when that fails."""
    if not isinstance(node, ast.Try):
        return False
    stmts = [*node.body, *(s for h in node.handlers for s in h.body), *node.orelse,
             *node.finalbody]
    return all(isinstance(s, ast.Pass) or _is_check_statement(s) or (
        isinstance(s, ast.Import) and all(a.name == "dlbasics" and a.asname is None
                                          for a in s.names)) for s in stmts)


def _is_check_statement(node: ast.stmt) -> bool:
    if _is_course_install(node):
        return True
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        func = node.value.func
        if isinstance(func, ast.Name) and func.id == "check":
            return True
        if isinstance(func, ast.Attribute) and func.attr == "check":
            return True
        if isinstance(func, ast.Attribute) and func.attr == "require_torch" and isinstance(
                func.value, ast.Name) and func.value.id == "dlbasics":
            return True  # the first cell's PyTorch check, which needs the import removed above
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return node.module in _CHECK_MODULES and all(
            a.name == "check" and a.asname in (None, "check") for a in node.names)
    if isinstance(node, ast.Import):
        return all(a.name in _CHECK_MODULES and a.asname is None for a in node.names)
    return False


def strip_checks(code: str, tree: Tree | None = None) -> tuple[str, Tree]:
    """Remove top-level public ``check(...)`` calls, their import, and the cell that installs
    the course package when it is missing; returns the code and its tree, both without them.

    ``tree`` is the parse of ``code`` when the caller has it. Only whole-line statements are
    removed (each becomes ``pass`` plus blank lines, so line numbers stay right, and a ``Pass``
    node in the tree). Code that does not parse is returned unchanged: the sandbox reports its
    ``SyntaxError``.
    """
    tree = _parse(code) if tree is None else tree
    if isinstance(tree, str):
        return code, tree
    lines = code.split("\n")
    body = []
    for node in tree.body:
        first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1
        before = lines[first][: node.col_offset]
        if (not _is_check_statement(node) or node.end_lineno is None or before.strip()
                or lines[last][node.end_col_offset :].strip()):
            body.append(node)  # (a check sharing a line with other code stays)
            continue
        lines[first] = before + "pass"
        for k in range(first + 1, last + 1):
            lines[k] = ""
        body.append(ast.copy_location(ast.Pass(), node))
    if len(body) == len(tree.body) and all(a is b for a, b in zip(body, tree.body)):
        return code, tree
    tree.body = body
    return "\n".join(lines), tree


@dataclass(frozen=True)
class Reading:
    """A notebook read: its code cells, and the static scan of those that run."""

    cells: tuple[CodeCell, ...]
    static: StaticReport


def read_notebook(data: bytes, rules: ImportPolicy) -> Reading:
    """The code cells of the notebook in ``data``, ready for the sandbox, and their scan under
    ``rules``; each cell's code is parsed once.

    Raises :class:`NotebookError` (a learner-facing message) when the file is not a gradable
    notebook. A ``MemoryError`` propagates (:mod:`dlbasics_grader.reading` says what it costs).
    """
    cells: list[CodeCell] = []
    where: dict[int, str] = {}
    tree: dict[int, Tree] = {}  # the cell being scanned: one tree in memory at a time

    def prepared():
        for index, source, count in _code_cells(data):
            parsed = _parse(source)
            code, skipped = strip_ipython(source, parsed)
            if not skipped and code != source:
                parsed = _parse(code)
            if not skipped:
                code, parsed = strip_checks(code, parsed)
            cell = CodeCell(index=index, source=source, code=code, skipped=skipped,
                            execution_count=count)
            cells.append(cell)
            if not skipped:
                tree.clear()
                tree[index], where[index] = parsed, cell.label
                yield index, code
        tree.clear()

    static = scan(prepared(), rules, where=where, trees=tree)
    return Reading(cells=tuple(cells), static=static)
