"""Exercises, public checks and the autograder of the course.

``from dlbasics.grading import check`` gives the one-line public checks used
in the exercise notebooks; ``dlbasics-grade`` (:mod:`dlbasics.grading.cli`)
grades submissions in a sandbox. See ``README.md`` in this folder.
"""

from __future__ import annotations

from typing import Any

__all__ = ["check"]


def check(name: str, *args: Any, **kwargs: Any) -> bool:
    """Run the public check ``name`` (see :func:`dlbasics.grading.checks.check`)."""
    from dlbasics.grading.checks import check as _check

    return _check(name, *args, **kwargs)
