"""Public checks: instant, specific feedback inside the exercise notebooks.

In a notebook::

    from dlbasics.checks import check
    check("ex1.forward", CompleteNeuralNetwork)

prints ``✓ ex1.forward: ...`` or ``✗ ex1.forward: ...`` with what was
expected and what was given, and nothing else: what it returns (true when
the check passed) shows nothing in a notebook. :func:`run` returns the
:class:`CheckOutcome` without printing. A wrong answer never raises; when the
learner's code raises, the check prints the learner's own traceback (without
the checker's frames) and a hint.

An exercise with import rules (Exercise 1: NumPy only) declares them with
:func:`~dlbasics.checks.registry.declare_rules`; a check then also runs the grader's static scan
(:mod:`dlbasics.checks.static`) on the cells the learner has run and says at
once when a graded part will score 0 because its code reaches a forbidden
module.

Checks use small public cases only and compare with the ``dlbasics``
reference implementations. Hidden tests, which decide the grade, live
elsewhere (``hidden_exercises/``) and run in a sandbox.

Each exercise's checks live in ``checks/<exercise>.py`` (``ex1.py``, ``ex2.py``,
...) and register themselves with :func:`~dlbasics.checks.registry.register`; ``check("ex2.model", ...)``
imports ``checks/ex2.py`` on first use, so PyTorch is only imported by the
exercises that need it. The registry itself (``register``, :class:`CheckOutcome`)
lives in :mod:`dlbasics.checks.registry`, which the exercise modules import: they never
import this package's ``__init__``, so the two do not import each other.
"""

from __future__ import annotations

import importlib
import os
import sys
import sysconfig
import traceback
from typing import Any

from dlbasics.checks.registry import (
    _REGISTRY,
    _RULES,
    _USES,
    CheckOutcome,
    Verdict,
    declare_rules,
    register,
)
from dlbasics.checks.static import StaticReport, describe_cell, latest_definitions, scan

__all__ = ["CheckOutcome", "Verdict", "available", "check", "declare_rules", "register", "run"]

_HERE = os.path.dirname(os.path.abspath(__file__))


def _load(prefix: str) -> None:
    if not prefix.isidentifier():
        return
    try:
        importlib.import_module(f"{__name__}.{prefix}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{prefix}":
            raise


def available() -> list[str]:
    """Names of every check (imports every exercise's check module)."""
    for entry in sorted(os.listdir(_HERE)):
        if entry.startswith("ex") and entry.endswith(".py"):
            _load(entry[:-3])
    return sorted(_REGISTRY)


def _learner_traceback(exc: BaseException) -> str:
    """The frames of ``exc``'s traceback in the learner's code (not in dlbasics or Python's)."""
    skip = (os.path.dirname(_HERE), *{sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib")})
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith("<frozen")
              and not os.path.abspath(f.filename).startswith(skip)]
    text = "".join(traceback.format_list(frames[-6:]))
    last = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return (f"Traceback (your code):\n{text}{last}" if text else last)


def notebook_cells() -> list[tuple[int, str, str]] | None:
    """``(execution count, code, source as typed)`` of the cells run so far in this
    IPython kernel, oldest first; ``None`` outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    if shell is None:
        return None
    parsed = shell.history_manager.input_hist_parsed
    raw = shell.history_manager.input_hist_raw
    return [(n, parsed[n], raw[n] if n < len(raw) else parsed[n])
            for n in range(1, len(parsed)) if parsed[n].strip()]


def rules_problem(name: str, cells: list[tuple[int, str, str]] | None = None) -> str:
    """Why graded parts will score 0 under the import rules, judged from the cells run so far
    (``cells`` as :func:`notebook_cells` gives them); empty when nothing is wrong or there is
    nothing to read."""
    rules = _RULES.get(name.split(".", 1)[0])
    uses = _USES.get(name, ())
    cells = notebook_cells() if cells is None else cells
    if rules is None or not uses or not cells:
        return ""
    labels = {n: describe_cell(raw, n) for n, _, raw in cells}
    report: StaticReport = scan(latest_definitions([(n, code) for n, code, _ in cells]),
                                rules.rules, where=labels)
    mine = report.reached_violations(*uses)
    if not mine:
        return ""
    parts = [part for part, entry in rules.parts.items()
             if set(report.reached_violations(*entry)) & set(mine)] or [name]
    lines = "\n".join(f"- {v.describe()}" for v in dict.fromkeys(mine))
    listed = " and ".join([", ".join(parts[:-1]), parts[-1]] if len(parts) > 1 else parts)
    return (f"{listed} will score 0: the code they run uses what this exercise does not "
            f"allow ({rules.rules.reason}).\n{lines}")


def run(name: str, *args: Any, **kwargs: Any) -> CheckOutcome:
    """Run the public check ``name`` on the learner's objects and return what it found.

    Never raises for what the learner's code does: an exception becomes a
    failed :class:`CheckOutcome` with the learner's traceback in ``details``.
    """
    _load(name.split(".", 1)[0])
    fn = _REGISTRY.get(name)
    if fn is None:
        known = ", ".join(n for n in available() if n.split(".")[0] == name.split(".")[0])
        return CheckOutcome(False, "there is no check with this name (checks for this "
                            f"exercise: {known or 'none'})")
    try:
        outcome = fn(*args, **kwargs)
    except NotImplementedError as exc:
        return CheckOutcome(False, f"not implemented yet ({exc or 'NotImplementedError'}). "
                            "Replace the `raise NotImplementedError` line with your code, run "
                            "the cell, then this check.")
    except Exception as exc:  # noqa: BLE001 - the learner's code may raise anything
        return CheckOutcome(False, f"your code raised {type(exc).__name__}.",
                            _learner_traceback(exc))
    problem = rules_problem(name)
    if problem:
        first, _, rest = problem.partition("\n")
        also = ("The values themselves are right." if outcome.ok else
                f"Also: {outcome.message}" + (f"\n{outcome.details}" if outcome.details else ""))
        return CheckOutcome(False, first, f"{rest}\n{also}")
    return outcome


def check(name: str, *args: Any, **kwargs: Any) -> Verdict:
    """Run the public check ``name`` on the learner's objects and print the verdict.

    Returns a :class:`Verdict`, true when the check passed, that shows nothing
    as a notebook cell's value.
    """
    outcome = run(name, *args, **kwargs)
    mark = "✓" if outcome.ok else "✗"
    print(f"{mark} {name}: {outcome.message}")
    if outcome.details:
        print("    " + outcome.details.replace("\n", "\n    "))
    sys.stdout.flush()
    return Verdict(outcome)
