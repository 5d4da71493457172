"""The static scan of a submission lives with the public checks, whose rules are public:
:mod:`dlbasics.checks.static`. This module keeps the grader's old import path working."""

from dlbasics.checks.static import StaticReport, Violation, scan

__all__ = ["StaticReport", "Violation", "scan"]
