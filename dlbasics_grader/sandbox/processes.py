"""The sandbox's processes seen from outside, through ``/proc``: finding them (by
uid, session or token), killing every one of them, and metering their CPU time."""

from __future__ import annotations

import os
import signal
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dlbasics_grader.sandbox.cgroup import Cgroup


def pids_where(match) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            if match(pid):
                out.append(pid)
        except OSError:
            continue
    return out


def uid_of(pid: int) -> int:
    with open(f"/proc/{pid}/status", "rb") as fh:
        for line in fh:
            if line.startswith(b"Uid:"):
                return int(line.split()[1])
    return -1


def has_token(pid: int, token: bytes) -> bool:
    with open(f"/proc/{pid}/environ", "rb") as fh:
        return token in fh.read()


def count_tasks_of(uid: int) -> int:
    n = 0
    for pid in pids_where(lambda p: uid_of(p) == uid):
        try:
            with open(f"/proc/{pid}/status", "rb") as fh:
                for line in fh:
                    if line.startswith(b"Threads:"):
                        n += int(line.split()[1])
        except OSError:
            continue
    return n


def state_of(pid: int) -> str:
    with open(f"/proc/{pid}/stat", "rb") as fh:
        return fh.read().rsplit(b")", 1)[1].split()[0].decode()


def session_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as fh:
        return int(fh.read().rsplit(b")", 1)[1].split()[3])


def kill_all(pgid: int | None, uid: int | None, token: str, cgroup: Cgroup | None) -> None:
    """SIGKILL every process of the sandbox: its cgroup, its session (the
    sandbox cannot leave it: seccomp), its uid (root), or its token (an empty ``token``
    marks nothing)."""
    if pgid:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass
    if cgroup is not None:
        cgroup.remove()
    me = os.getpid()
    tok = f"DLBASICS_SANDBOX_TOKEN={token}\0".encode() if token else b""

    def ours(p: int) -> bool:
        if p == me or state_of(p) in "ZX":  # dead, waiting to be reaped
            return False
        if uid is not None:
            return uid_of(p) == uid
        return (pgid is not None and session_of(p) == pgid) or bool(tok and has_token(p, tok))

    kill_until_gone(lambda: pids_where(ours), rounds=50)


def kill_until_gone(find, rounds: int) -> None:
    """SIGKILL what ``find()`` lists until it lists nothing (or ``rounds`` pass)."""
    for _ in range(rounds):
        pids = find()
        if not pids:
            return
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.01)


def cpu_of(pid: int) -> float:
    """CPU seconds of ``pid`` and its reaped children (``/proc/<pid>/stat``)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            f = fh.read().rsplit(b")", 1)[1].split()
        return sum(int(x) for x in f[11:15]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


class CpuMeter:
    """The sandbox's CPU time, seen from outside: its cgroup, else its session."""

    def __init__(self, pid: int, cgroup: Cgroup | None) -> None:
        self.pid, self.cgroup = pid, cgroup
        self.last, self.others, self.next_scan = 0.0, 0.0, 0.0

    def read(self) -> float:
        if self.cgroup is not None:
            value = self.cgroup.cpu_s()
        else:
            now = time.monotonic()
            if now >= self.next_scan:  # other processes of the session, once a second
                self.next_scan = now + 1.0
                self.others = sum(cpu_of(p) for p in pids_where(
                    lambda p: p != self.pid and session_of(p) == self.pid))
            value = cpu_of(self.pid) + self.others
        self.last = max(self.last, value)
        return self.last
