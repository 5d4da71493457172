"""How ``dlbasics-grade`` ends: its exit statuses, and the one exception that carries them."""

from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    """The exit status of every ``dlbasics-grade`` command."""

    OK = 0
    """Every submission was graded, whatever its score."""
    USAGE = 2
    """Bad command-line input: an unknown exercise or option, a missing file."""
    SETUP_ERROR = 3
    """The grader itself cannot grade (hidden tests missing or broken, sandbox unavailable)."""
    NEEDS_ATTENTION = 4
    """Everything was graded, but some submissions need a person's attention."""
    INTERRUPTED = 130
    """Stopped with Ctrl-C."""


class GradeExit(Exception):
    """Ends a command with ``status``; ``message`` (if any) is printed as the error."""

    def __init__(self, status: ExitStatus, message: str = "") -> None:
        super().__init__(message or status.name)
        self.status = ExitStatus(status)
        self.message = message
