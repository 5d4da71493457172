"""The registry of public checks: what an exercise module registers, what a check returns.

``checks/exN.py`` registers its checks here (:func:`register`, :func:`declare_rules`);
:mod:`dlbasics.checks` looks them up to run them. The exercise modules import only this
module, never the package's ``__init__``, so nothing imports in a loop.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from dlbasics.checks.static import ImportRules

__all__ = ["CheckOutcome", "Verdict", "declare_rules", "register"]




@dataclass(frozen=True)
class CheckOutcome:
    """What a check found: ``ok``, a one-line ``message``, optional ``details``
    (expected vs given, hints) printed under it."""

    ok: bool
    message: str
    details: str = ""


class Verdict:
    """What :func:`dlbasics.checks.check` returns: true when the check passed, and invisible in a
    notebook (the printed message is the feedback). ``outcome`` holds the
    :class:`CheckOutcome`."""

    __slots__ = ("outcome",)

    def __init__(self, outcome: CheckOutcome) -> None:
        self.outcome = outcome

    def __bool__(self) -> bool:
        return bool(self.outcome.ok)

    def __repr__(self) -> str:
        return ""

    def _ipython_display_(self) -> None:
        """Display nothing as a cell's last value."""


@dataclass(frozen=True)
class _Rules:
    rules: ImportRules
    parts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


_RULES: dict[str, _Rules] = {}


def register(name: str, uses: tuple[str, ...] = ()
             ) -> Callable[[Callable[..., CheckOutcome]], Callable[..., CheckOutcome]]:
    """Decorator: make ``fn`` the check called ``name`` (``"ex1.forward"``).

    ``uses`` names what of the learner's notebook the checked code runs
    (``"CompleteNeuralNetwork.forward"``, ``"softmax_cross_entropy"``), for
    the exercise's import rules (:func:`declare_rules`).
    """

    def wrap(fn: Callable[..., CheckOutcome]) -> Callable[..., CheckOutcome]:
        _REGISTRY[name] = fn
        _USES[name] = tuple(uses)
        return fn

    return wrap


def declare_rules(exercise: str, rules: ImportRules, parts: Mapping[str, tuple[str, ...]]) -> None:
    """The import rules of ``exercise`` (``"ex1"``), and which definitions each graded part
    runs (``{"ex1.forward": ("CompleteNeuralNetwork.forward",), ...}``): the grader gives 0 to
    a part whose code reaches a forbidden module, and the checks say so beforehand."""
    _RULES[exercise] = _Rules(rules, dict(parts))


_REGISTRY: dict[str, Callable[..., CheckOutcome]] = {}
_USES: dict[str, tuple[str, ...]] = {}
