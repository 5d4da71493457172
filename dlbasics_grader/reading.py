"""Reading a submission in a bounded child process.

A syntax tree takes about a hundred times the size of its text, so a notebook of one long
literal list would make whatever parses it use gigabytes. The grader therefore never parses a
submission itself: :func:`read_submission` starts a child Python (``-I``: no environment, no
current folder on its path) that limits its own address space and CPU time before it reads
anything, reads the notebook with :func:`dlbasics_grader.notebook.read_notebook` (each cell
parsed once) and writes back plain data: the cells' text and the static scan, as JSON. The
grader checks that data strictly and keeps it. A notebook whose reading passes the child's
limits is refused with a sentence saying so (no points, no crash).

The child runs no learner code (parsing executes nothing), so it needs no sandbox: only bounds.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from dlbasics.checks.static import ImportPolicy, ImportRules, StaticReport, Violation
from dlbasics_grader.notebook import MAX_NOTEBOOK_BYTES, CodeCell, NotebookError, Reading

MEMORY_MB = 512
"""The child's address space: the same bound as the grader's own peak memory."""
CPU_S = 30
WALL_S = 60.0
MAX_VIOLATIONS = 2_000
MAX_USES = 200_000
"""Most rule violations, and most names and definition-to-definition uses, that a scan may
report: an honest notebook has a few hundred uses; more would only make the grader's copy of
the scan large (a verdict cannot drop some of them, so the notebook is refused)."""
MAX_REPLY_BYTES = 6 * MAX_NOTEBOOK_BYTES
_MEMORY_EXIT = 3

_BOOT = ("import sys; sys.path[:0] = sys.argv[1:3]; "
         "from dlbasics_grader.reading import child_main; child_main()")


@dataclass(frozen=True)
class ReadLimits:
    """Bounds of one reading child: address space (MiB), CPU seconds, wall seconds."""

    memory_mb: int = MEMORY_MB
    cpu_s: int = CPU_S
    wall_s: float = WALL_S


def read_submission(path: Path | str, rules: ImportPolicy,
                    limits: ReadLimits = ReadLimits()) -> Reading:
    """The notebook at ``path`` read and scanned under ``rules`` in a bounded child process.

    Raises :class:`NotebookError` (a learner-facing sentence) when the file is not a gradable
    notebook or its reading passes ``limits``, ``OSError`` when it cannot be opened, and
    ``RuntimeError`` when the child fails otherwise (a fault of the grader's).
    """
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        raise NotebookError(
            f"the file is {size / 2**20:.0f} MB; a notebook must be under "
            f"{MAX_NOTEBOOK_BYTES // 2**20} MB (clear large outputs before submitting)")
    request = json.dumps({
        "path": str(path.resolve()), "memory_mb": limits.memory_mb, "cpu_s": limits.cpu_s,
        "rules": {"forbidden_modules": list(rules.forbidden_modules),
                  "allowed_modules": (None if rules.allowed_modules is None
                                      else list(rules.allowed_modules)),
                  "dynamic_code_is_violation": bool(rules.dynamic_code_is_violation),
                  "reason": rules.reason,
                  "forbidden_names": list(getattr(rules, "forbidden_names", ()))}})
    roots = [str(Path(__file__).resolve().parents[1]),
             str(Path(sys.modules[ImportRules.__module__].__file__).resolve().parents[2])]
    try:
        proc = subprocess.run([sys.executable, "-I", "-c", _BOOT, *roots],
                              input=request.encode(), capture_output=True,
                              timeout=limits.wall_s, close_fds=True)
    except subprocess.TimeoutExpired:
        raise NotebookError(f"reading its code took longer than {limits.wall_s:g} s, the most "
                            "the grader allows") from None
    code = proc.returncode
    if code == _MEMORY_EXIT or code == -signal.SIGKILL:
        raise NotebookError(f"reading its code needs more than {limits.memory_mb} MB, the most "
                            "the grader allows (a cell holds too much code or data: load "
                            "data from a file instead of writing it into a cell)")
    if code == -signal.SIGXCPU:
        raise NotebookError(f"reading its code took more than {limits.cpu_s} s of CPU time, "
                            "the most the grader allows")
    if code != 0 or len(proc.stdout) > MAX_REPLY_BYTES:
        raise RuntimeError(f"the notebook reader failed (exit {code}): "
                           f"{proc.stderr[-2000:].decode('utf-8', 'replace')}")
    reply = json.loads(proc.stdout.decode("utf-8", "surrogatepass"))
    del proc
    return reading_from_wire(reply)


# -- the wire format: plain JSON, decoded strictly ---------------------------------------------

def reading_to_wire(reading: Reading) -> dict:
    """``reading`` as JSON-ready data (a cell's source travels only where its code differs)."""
    st = reading.static
    return {
        "cells": [[c.index, None if c.source == c.code else c.source, c.code, c.skipped,
                   c.execution_count] for c in reading.cells],
        "static": {
            "violations": [[v.cell, v.line, v.what, v.reason, v.scope, v.where]
                           for v in st.violations],
            "names": sorted(st.names),
            "uses": {k: sorted(v) for k, v in st.uses.items()},
            "syntax_errors": [list(e) for e in st.syntax_errors],
        },
    }


def _row(value, types: tuple, what: str) -> list:
    if type(value) is not list or len(value) != len(types) or not all(
            type(v) in t for v, t in zip(value, types)):
        raise RuntimeError(f"the notebook reader sent a malformed {what}")
    return value


def _list(value, what: str, of: type | None = None) -> list:
    if type(value) is not list or (of is not None and not all(type(v) is of for v in value)):
        raise RuntimeError(f"the notebook reader sent malformed {what}")
    return value


def reading_from_wire(data) -> Reading:
    """Inverse of :func:`reading_to_wire`, or the ``{"error": ...}`` reply as
    :class:`NotebookError`; anything else malformed raises ``RuntimeError``."""
    if type(data) is dict and set(data) == {"error"} and type(data["error"]) is str:
        raise NotebookError(data["error"])
    if type(data) is not dict or set(data) != {"cells", "static"} or type(
            data["static"]) is not dict or set(data["static"]) != {
            "violations", "names", "uses", "syntax_errors"}:
        raise RuntimeError("the notebook reader sent a malformed reply")
    cells = []
    for row in _list(data["cells"], "cells"):
        index, source, code, skipped, count = _row(
            row, ((int,), (str, type(None)), (str,), (str,), (int, type(None))), "cell")
        cells.append(CodeCell(index=index, source=code if source is None else source,
                              code=code, skipped=skipped, execution_count=count))
    st = data["static"]
    text, number = (str,), (int,)
    violations = tuple(Violation(*_row(v, (number, number, text, text, text, text), "violation"))
                       for v in _list(st["violations"], "violations"))
    if type(st["uses"]) is not dict:
        raise RuntimeError("the notebook reader sent malformed uses")
    uses = {k: frozenset(_list(v, "uses", str)) for k, v in st["uses"].items()}
    errors = tuple((i, msg) for i, msg in (_row(e, (number, text), "syntax error")
                                           for e in _list(st["syntax_errors"], "syntax errors")))
    return Reading(cells=tuple(cells), static=StaticReport(
        violations=violations, names=frozenset(_list(st["names"], "names", str)), uses=uses,
        syntax_errors=errors))


# -- the child ----------------------------------------------------------------------------------

def _too_large(static: StaticReport) -> str:
    """Why the scan is too large to send ("" when it is not)."""
    if len(static.violations) > MAX_VIOLATIONS:
        return (f"its code breaks the exercise's rules more than {MAX_VIOLATIONS:,} times")
    if len(static.names) + sum(len(v) + 1 for v in static.uses.values()) > MAX_USES:
        return (f"its code defines and uses more than {MAX_USES:,} names; the grader reads "
                "notebooks of an exercise's size")
    return ""


def child_main() -> None:
    """The reading child: limits itself, reads the request on stdin, writes the reply."""
    request = json.loads(sys.stdin.buffer.read(1 << 20))
    limit = request["memory_mb"] * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CPU, (request["cpu_s"], request["cpu_s"] + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    from dlbasics_grader.notebook import read_notebook

    try:
        rules = ImportRules(**{k: tuple(v) if type(v) is list else v
                               for k, v in request["rules"].items()})
        with open(request["path"], "rb") as fh:
            data = fh.read(MAX_NOTEBOOK_BYTES + 1)
        try:
            reading = read_notebook(data, rules)
            del data
            why = _too_large(reading.static)
            reply = {"error": why} if why else reading_to_wire(reading)
            del reading
        except NotebookError as exc:
            reply = {"error": str(exc)}
        out = json.dumps(reply, ensure_ascii=False).encode("utf-8", "surrogatepass")
        del reply
        sys.stdout.buffer.write(out)
        sys.stdout.buffer.flush()
    except MemoryError:
        os._exit(_MEMORY_EXIT)
