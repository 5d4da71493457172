"""Public checks: instant, specific feedback inside the exercise notebooks.

In a notebook::

    from dlbasics.checks import check
    check("ex1.forward", CompleteNeuralNetwork)

prints ``✓ ex1.forward: ...`` or ``✗ ex1.forward: ...`` with what was
expected and what was given, and returns ``True``/``False``. A wrong answer
never raises; when the learner's code raises, the check prints the learner's
own traceback (without the checker's frames) and a hint.

Checks use small public cases only and compare with the ``dlbasics``
reference implementations. Hidden tests, which decide the grade, live
elsewhere (``tests/hidden/``) and run in a sandbox.

Each exercise's checks live in ``checks/<exercise>.py`` (``ex1.py``, ``ex2.py``,
...) and register themselves with :func:`register`; ``check("ex2.model", ...)``
imports ``checks/ex2.py`` on first use, so PyTorch is only imported by the
exercises that need it.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["CheckOutcome", "available", "check", "register"]

_REGISTRY: dict[str, Callable[..., CheckOutcome]] = {}
_HERE = os.path.dirname(os.path.abspath(__file__))


@dataclass(frozen=True)
class CheckOutcome:
    """What a check found: ``ok``, a one-line ``message``, optional ``details``
    (expected vs given, hints) printed under it."""

    ok: bool
    message: str
    details: str = ""


def register(name: str) -> Callable[[Callable[..., CheckOutcome]], Callable[..., CheckOutcome]]:
    """Decorator: make ``fn`` the check called ``name`` (``"ex1.forward"``)."""

    def wrap(fn: Callable[..., CheckOutcome]) -> Callable[..., CheckOutcome]:
        _REGISTRY[name] = fn
        return fn

    return wrap


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
        if entry.endswith(".py") and not entry.startswith("_"):
            _load(entry[:-3])
    return sorted(_REGISTRY)


def _learner_traceback(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not os.path.abspath(f.filename).startswith(_HERE)]
    text = "".join(traceback.format_list(frames[-6:]))
    last = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return (f"Traceback (your code):\n{text}{last}" if text else last)


def check(name: str, *args: Any, **kwargs: Any) -> bool:
    """Run the public check ``name`` on the learner's objects; print and return the verdict."""
    _load(name.split(".", 1)[0])
    fn = _REGISTRY.get(name)
    if fn is None:
        known = ", ".join(n for n in available() if n.split(".")[0] == name.split(".")[0])
        print(f"✗ {name}: there is no check with this name (checks for this exercise: "
              f"{known or 'none'})")
        return False
    try:
        outcome = fn(*args, **kwargs)
    except NotImplementedError as exc:
        print(f"✗ {name}: not implemented yet ({exc or 'NotImplementedError'}). Replace the "
              "`raise NotImplementedError` line with your code, run the cell, then this check.")
        return False
    except Exception as exc:  # noqa: BLE001 - the learner's code may raise anything
        print(f"✗ {name}: your code raised {type(exc).__name__}.")
        print(_learner_traceback(exc))
        sys.stdout.flush()
        return False
    mark = "✓" if outcome.ok else "✗"
    print(f"{mark} {name}: {outcome.message}")
    if outcome.details:
        print("    " + outcome.details.replace("\n", "\n    "))
    return bool(outcome.ok)
