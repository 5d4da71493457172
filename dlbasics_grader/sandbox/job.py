"""What one launch of the sandbox runs (:class:`Job`) and what it gives back
(:class:`RawRun`, a :class:`Phase` per cell and probe): plain data, no verdicts."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from dlbasics_grader.sandbox.protocol import Cell, PhaseStatus, ProbeCall
from dlbasics_grader.spec import Limits, SandboxPolicy


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot be set up on this machine (an instructor problem)."""


def scaled_limits(limits: Limits, time_scale: float) -> Limits:
    """``limits`` with every time limit (cell, total, CPU) multiplied by ``time_scale``."""
    if time_scale == 1.0:
        return limits
    return dataclasses.replace(limits, cell_wall_s=limits.cell_wall_s * time_scale,
                               total_wall_s=limits.total_wall_s * time_scale,
                               cpu_s=max(1, int(limits.cpu_s * time_scale)))


@dataclass
class Job:
    """What one launch of the sandbox runs; built once, by :meth:`build`.

    ``cells``: one :class:`~dlbasics_grader.sandbox.protocol.Cell` per code cell
    (``skipped`` is the reason a cell is left out, or ""); ``probes``: one
    :class:`~dlbasics_grader.sandbox.protocol.ProbeCall` per probe, inputs
    encoded; ``start_probe``: the first probe to run (after a restart).
    Nothing secret: the whole job is visible to the learner's code.
    """

    cells: list[Cell]
    probes: list[ProbeCall]
    policy: SandboxPolicy
    limits: Limits
    start_probe: int = 0

    @classmethod
    def build(cls, cells, probes, policy: SandboxPolicy, limits: Limits,
              time_scale: float = 1.0) -> Job:
        """From code cells (``index``, ``code``, ``skipped``) and :class:`Probe` objects."""
        from dlbasics_grader.codec import encode

        limits = scaled_limits(limits, time_scale)
        return cls(
            cells=[Cell(index=c.index, code=c.code, skipped=c.skipped) for c in cells],
            probes=[ProbeCall(name=p.name, source=p.source, entry=p.entry,
                              timeout_s=float(p.timeout_s) * time_scale,
                              inputs=encode(dict(p.inputs), "inputs")) for p in probes],
            policy=policy, limits=limits)

    @property
    def probe_timeouts(self) -> list[float]:
        return [p.timeout_s for p in self.probes]

    def skip_cell(self, k: int, reason: str) -> None:
        self.cells[k] = dataclasses.replace(self.cells[k], skipped=reason)

@dataclass
class Phase:
    """What one cell or probe did, as the grader observed it."""

    status: PhaseStatus = PhaseStatus.NOT_RUN
    error: str = ""
    traceback: str = ""
    duration_s: float = 0.0
    cpu_s: float = 0.0
    outputs: Any = None


@dataclass
class RunRecord:
    """What the sandbox saw of a notebook: a :class:`Phase` per cell and per probe
    (by index), the isolation its runner reported, and its captured output.

    :class:`RawRun` is one launch's record; the grader adds up the launches of
    one notebook in a record of its own that extends this one.
    """

    cells: dict[int, Phase] = field(default_factory=dict)
    probes: dict[int, Phase] = field(default_factory=dict)
    isolation: dict[str, str] = field(default_factory=dict)
    stdout: str = ""
    stderr: str = ""


@dataclass
class RawRun(RunRecord):
    """Everything one launch of the sandbox produced (untrusted where noted)."""

    finished: bool = False
    stopped_in: tuple[str, int] | None = None  # ("cell"|"probe"|"setup", index)
    stop_status: PhaseStatus | None = None
    stop_reason: str = ""
    fatal: str = ""
    wall_s: float = 0.0
    cpu_s: float = 0.0
    ignored_messages: int = 0
