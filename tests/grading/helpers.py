"""What the grader's tests share beyond :mod:`tests.helpers`: the list of exercises and the
processes a sandbox leaves behind."""

from __future__ import annotations

import os

import numpy as np

from dlbasics_grader.engine import available_exercises

from ..helpers import HIDDEN

# The list of exercises: one hidden-test module hidden_exercises/exN.py (its ``EXERCISE``) each, as
# ``dlbasics-grade list`` finds them. test_exercises.py checks every other place against it.
EXERCISE_NAMES = available_exercises(HIDDEN)


def peak_kib() -> int:
    """This process's peak resident memory in KiB since its ``exec`` (``VmHWM``).

    Not ``ru_maxrss``: Linux keeps that across ``execve``, so a process started by a large
    test worker would report the worker's peak, not its own.
    """
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM line in /proc/self/status")


def boot_ticks() -> float:
    """Clock ticks since boot (the unit of a process's start time in ``/proc/PID/stat``)."""
    with open("/proc/uptime") as fh:
        return float(fh.read().split()[0]) * os.sysconf("SC_CLK_TCK")


def survivors(uid: int, before_ticks: float) -> list[int]:
    """Processes of ``uid`` that started before ``before_ticks`` and still run (a killed
    process waiting to be reaped, a zombie, runs nothing)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as fh:
                uid_line = next(ln for ln in fh if ln.startswith("Uid:"))
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            state, start = fields[0], float(fields[19])
        except (OSError, StopIteration):
            continue
        if int(uid_line.split()[1]) == uid and start <= before_ticks and state not in "ZX":
            pids.append(int(entry))
    return pids


def arrays_in(value) -> list[np.ndarray]:
    """Every NumPy array in ``value``, through lists, tuples and dicts."""
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, (list, tuple)):
        return [a for v in value for a in arrays_in(v)]
    if isinstance(value, dict):
        return [a for v in value.values() for a in arrays_in(v)]
    return []
