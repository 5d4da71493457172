"""One cgroup (v1) per sandbox, as root: a CPU share, memory (tmpfs included) and
a task limit, its CPU time, whether the kernel killed it for memory, and its processes."""

from __future__ import annotations

import time
from pathlib import Path

from dlbasics_grader import isolation
from dlbasics_grader.sandbox.job import SandboxUnavailable
from dlbasics_grader.sandbox.processes import kill_until_gone
from dlbasics_grader.spec import Limits

CGROUP_PARENT = "dlbasics-grade"


class Cgroup:
    """One cgroup (v1) per sandbox in the memory, cpu, cpuacct and pids hierarchies."""

    def __init__(self, name: str, limits: Limits, extra_mb: int) -> None:
        self.paths: dict[str, Path] = {}
        root = Path(isolation.CGROUP_ROOT)
        try:
            for ctl in isolation.CGROUP_CONTROLLERS:
                parent = root / ctl / CGROUP_PARENT
                parent.mkdir(exist_ok=True)
                path = parent / name
                path.mkdir()
                self.paths[ctl] = path
            mem = (limits.memory_mb + extra_mb) * 1024 * 1024
            self._write("memory", "memory.limit_in_bytes", mem)
            if (self.paths["memory"] / "memory.memsw.limit_in_bytes").exists():
                self._write("memory", "memory.memsw.limit_in_bytes", mem, optional=True)
            self._write("cpu", "cpu.cfs_period_us", 100_000)
            self._write("cpu", "cpu.cfs_quota_us", 100_000)  # one CPU at most
            self._write("pids", "pids.max", max(limits.nproc, 8))
        except OSError as exc:
            self.remove()
            raise SandboxUnavailable(f"cannot set up a cgroup for the sandbox: {exc}") from exc
        self.summary = (f"one CPU at most, {limits.memory_mb + extra_mb} MiB for everything "
                        f"(tmpfs included), {max(limits.nproc, 8)} tasks")

    def _write(self, ctl: str, name: str, value: int, optional: bool = False) -> None:
        try:
            (self.paths[ctl] / name).write_text(str(value))
        except OSError:
            if not optional:
                raise

    def cpu_s(self) -> float:
        try:
            return int((self.paths["cpuacct"] / "cpuacct.usage").read_text()) / 1e9
        except (OSError, ValueError, KeyError):
            return 0.0

    def oom_killed(self) -> bool:
        try:
            return int((self.paths["memory"] / "memory.failcnt").read_text()) > 0
        except (OSError, ValueError, KeyError):
            return False

    def pids(self) -> list[int]:
        try:
            return [int(x) for x in (self.paths["pids"] / "cgroup.procs").read_text().split()]
        except (OSError, ValueError, KeyError):
            return []

    def remove(self) -> None:
        kill_until_gone(self.pids, rounds=100)
        for path in self.paths.values():
            for _ in range(50):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)
        self.paths = {}
