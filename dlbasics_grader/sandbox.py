"""Starting, watching and stopping the sandboxed process of one submission.

:func:`run_job` writes the :class:`Job` for :mod:`dlbasics_grader.runner`,
starts it with a clean environment in a fresh working directory, reads its
messages (:class:`_Protocol` accepts only the expected ones, in order, bounded
in size) and its output (keeping only a head and a tail), enforces the time
limits (per cell, per probe, in total: on the sandbox's own CPU time, with a
wall-clock backstop) and kills every process the sandbox started. It returns
a :class:`RawRun`: plain data about what happened, nothing more.

The isolation comes from what the host offers (:func:`dlbasics_grader.isolation.host_support`):

* as root: its own unused user id (from ``SANDBOX_UIDS``, one per concurrent
  sandbox), a cgroup bounding its CPU share, memory (tmpfs included) and
  tasks, network, IPC and mount namespaces (through a user namespace when
  CAP_SYS_ADMIN is missing), a private ``/tmp``, empty folders mounted over
  the hidden tests, the solutions, the submissions and the grader's working
  directory;
* for everyone: Landlock (reads only the Python installation, the allowed
  packages and system folders, writes only its working folder, no TCP, no
  signals out of the sandbox), seccomp (no sockets but UNIX ones, no ptrace,
  System V IPC, namespaces, mounts or new sessions), unprivileged user,
  network and IPC namespaces, and resource limits.

:func:`assess` says what that adds up to, and whether the hidden tests and
solutions can be kept unreadable at all.
"""

from __future__ import annotations

import fcntl
import importlib.metadata
import importlib.util
import json
import math
import os
import secrets
import selectors
import shutil
import signal
import site
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import dlbasics
from dlbasics_grader import isolation
from dlbasics_grader.spec import Limits, SandboxPolicy
from dlbasics_grader.untrusted import clean_text

RUNNER = Path(__file__).with_name("runner.py")
GRADER_PACKAGE = Path(__file__).resolve().parent
SANDBOX_UIDS = range(61000, 61500)
ROOT_BASE = Path("/run/dlbasics-grade")
GRACE_S = 2.0
WALL_FACTOR = 2.0
"""Wall-clock backstop: a limit on CPU time also ends after this many times as
long in wall time (code that sleeps or waits uses no CPU)."""
TMP_MB = 32
CGROUP_PARENT = "dlbasics-grade"
MAX_MESSAGES = 10_000
SMALL_MESSAGE = 256 * 1024
_WORLD_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")
_PRIVATE_TMP = ("/tmp", "/var/tmp", "/dev/shm")
"""Folders that get a fresh tmpfs of the sandbox's own in its mount namespace."""
_NEVER_HIDE = {"/", "/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin", "/etc", "/proc",
               "/sys", "/dev", "/run", "/var", "/opt", "/home"}
PHASE_STATUSES = ("ok", "error", "timeout", "out of memory", "skipped")


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot be set up on this machine (an instructor problem)."""


@dataclass
class Job:
    """What one launch of the sandbox runs; built once, by :meth:`build`.

    ``cells``: ``{"index", "code", "skipped"}`` per code cell (``skipped`` is
    the reason a cell is left out, or ""); ``probes``: ``{"name", "source",
    "entry", "timeout_s", "inputs"}`` with encoded inputs; ``start_probe``: the
    first probe to run (after a restart). Nothing secret: the whole job is
    visible to the learner's code.
    """

    cells: list[dict[str, Any]]
    probes: list[dict[str, Any]]
    policy: SandboxPolicy
    limits: Limits
    start_probe: int = 0

    @classmethod
    def build(cls, cells, probes, policy: SandboxPolicy, limits: Limits,
              time_scale: float = 1.0) -> Job:
        """From code cells (``index``, ``code``, ``skipped``) and :class:`Probe` objects."""
        from dlbasics_grader.codec import encode

        if time_scale != 1.0:
            limits = Limits(**{**asdict(limits),
                               "cell_wall_s": limits.cell_wall_s * time_scale,
                               "total_wall_s": limits.total_wall_s * time_scale,
                               "cpu_s": max(1, int(limits.cpu_s * time_scale))})
        return cls(
            cells=[{"index": c.index, "code": c.code, "skipped": c.skipped} for c in cells],
            probes=[{"name": p.name, "source": p.source, "entry": p.entry,
                     "timeout_s": float(p.timeout_s) * time_scale,
                     "inputs": encode(dict(p.inputs), "inputs")} for p in probes],
            policy=policy, limits=limits)

    @property
    def probe_timeouts(self) -> list[float]:
        return [float(p["timeout_s"]) for p in self.probes]

    def skip_cell(self, k: int, reason: str) -> None:
        self.cells[k] = dict(self.cells[k], skipped=reason)

    def wire(self) -> dict[str, Any]:
        """The part of the job the runner needs (isolation is added by :func:`run_job`)."""
        pol = self.policy
        return {
            "cells": self.cells,
            "probes": self.probes,
            "start_probe": self.start_probe,
            "policy": {"forbidden_modules": list(pol.forbidden_modules), "reason": pol.reason,
                       "preload": list(pol.preload), "allow_processes": pol.allow_processes},
        }


@dataclass
class Phase:
    """What one cell or probe did, as the grader observed it."""

    status: str = "not run"
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
    stop_status: str = ""
    stop_reason: str = ""
    fatal: str = ""
    wall_s: float = 0.0
    cpu_s: float = 0.0
    ignored_messages: int = 0


class _CappedStream:
    """Keeps the first and last ``keep`` bytes of a stream, counts the rest."""

    def __init__(self, keep: int):
        self.keep = max(keep, 1024)
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        room = self.keep - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > 2 * self.keep:
                del self.tail[: len(self.tail) - self.keep]

    def text(self) -> str:
        tail = bytes(self.tail[-self.keep :])
        dropped = self.total - len(self.head) - len(tail)
        out = self.head.decode("utf-8", "replace")
        if dropped > 0:
            out += f"\n... [{dropped} bytes of output not kept] ...\n"
        return out + tail.decode("utf-8", "replace")


# ----------------------------------------------------------------------------
# Paths: what the sandbox must see, what it must not
# ----------------------------------------------------------------------------


def _world_reachable(path: Path) -> Path | None:
    """The first ancestor of ``path`` that others cannot traverse, or None."""
    parts = path.parts
    for i in range(2, len(parts) + 1):
        p = Path(*parts[:i])
        try:
            mode = p.stat().st_mode
        except OSError:
            return None
        if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH:
            return p
    return None


def _needed_paths() -> list[Path]:
    paths = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(),
             Path(sys.executable).resolve().parent}
    for sp in site.getsitepackages():
        paths.add(Path(sp).resolve())
    # the learner's code imports dlbasics; the grader's own package stays out of reach
    paths.add(Path(dlbasics.__file__).resolve().parent)
    # a path inside another kept path needs nothing of its own
    return sorted(p for p in paths if not any(p != q and _is_under(p, q) for q in paths))


def _is_under(path: Path, parent: Path) -> bool:
    try:
        path.relative_to(parent)
        return True
    except ValueError:
        return False


def private_tmp_plan(keep: list[Path], tmp_dirs: tuple[str, ...] = _PRIVATE_TMP,
                     ) -> dict[str, list[str]]:
    """What the sandbox's private ``/tmp`` (and ``/var/tmp``, ``/dev/shm``) must allow for.

    ``keep`` are the paths the sandbox must read (see :func:`_needed_paths`).
    A kept path beneath one of ``tmp_dirs`` (a virtual environment or a clone
    of the course under ``/tmp``) is covered by the fresh tmpfs mounted there:
    it must be bound back in (``rebind``). Such a folder must not be writable
    for Landlock either: a Landlock rule on a folder grants its rights to
    everything beneath, so write access to ``/tmp`` would make the whole
    environment bound back into it readable, the forbidden packages (``torch``
    in Exercise 1) and the grader's own package included. ``writable`` lists
    only the folders of ``tmp_dirs`` with no kept path beneath them; the
    learner's code always has its working folder (``TMPDIR`` points there).
    """
    rebind: set[str] = set()
    writable: list[str] = []
    for d in tmp_dirs:
        real = Path(d).resolve()
        inside = [k for k in keep if _is_under(k, real)]
        rebind.update(str(k) for k in inside)
        if not inside:
            writable.append(str(real))
    return {"rebind": sorted(rebind), "writable": writable}


def plan_filesystem(private: list[Path], workdir: Path) -> dict[str, Any]:
    """Which paths to mask with empty tmpfs mounts and which to re-expose.

    ``private`` are directories the learner's code must not see (hidden tests,
    solutions, submissions, the grader's working directory).
    """
    keep = _needed_paths()
    hide: dict[str, str] = {}
    for p in _WORLD_WRITABLE:
        if os.path.isdir(p) and not os.path.islink(p):
            hide[str(Path(p).resolve())] = "1777"
    for p in private:
        p = p.resolve()
        if str(p) in _NEVER_HIDE or _is_under(workdir, p) or p in keep:
            continue
        hide[str(p)] = "755"
    need_mounts = False
    for k in keep:
        blocked = _world_reachable(k)
        if blocked is not None and str(blocked) not in _NEVER_HIDE:
            hide[str(blocked)] = "755"
            need_mounts = True
    # drop masks inside other masks, keep outermost first
    ordered = sorted(hide, key=lambda s: (len(Path(s).parts), s))
    final: list[tuple[str, str]] = []
    for h in ordered:
        if not any(_is_under(Path(h), Path(o)) for o, _ in final):
            final.append((h, hide[h]))
    rebind = [str(k) for k in keep
              if any(_is_under(k, Path(h)) and k != Path(h) for h, _ in final)]
    # a kept path that is itself masked: keep it, do not mask it
    final = [(h, m) for h, m in final if h not in {str(k) for k in keep}]
    return {"hide": final, "rebind": sorted(set(rebind)), "need_mounts": need_mounts}


# ----------------------------------------------------------------------------
# Sandbox users (root only)
# ----------------------------------------------------------------------------


class _UidLease:
    """An exclusive claim on one sandbox uid, held with ``flock``."""

    def __init__(self) -> None:
        locks = ROOT_BASE / "locks"
        locks.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(locks, 0o700)
        start = secrets.randbelow(len(SANDBOX_UIDS))
        for k in range(len(SANDBOX_UIDS)):
            uid = SANDBOX_UIDS[(start + k) % len(SANDBOX_UIDS)]
            fd = os.open(locks / f"{uid}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            self.uid, self.fd = uid, fd
            return
        raise SandboxUnavailable("every sandbox user id is in use")

    def release(self) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def _pids_where(match) -> list[int]:
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


def _uid_of(pid: int) -> int:
    with open(f"/proc/{pid}/status", "rb") as fh:
        for line in fh:
            if line.startswith(b"Uid:"):
                return int(line.split()[1])
    return -1


def _has_token(pid: int, token: bytes) -> bool:
    with open(f"/proc/{pid}/environ", "rb") as fh:
        return token in fh.read()


def _count_tasks_of(uid: int) -> int:
    n = 0
    for pid in _pids_where(lambda p: _uid_of(p) == uid):
        try:
            with open(f"/proc/{pid}/status", "rb") as fh:
                for line in fh:
                    if line.startswith(b"Threads:"):
                        n += int(line.split()[1])
        except OSError:
            continue
    return n


# ----------------------------------------------------------------------------
# Running one job
# ----------------------------------------------------------------------------


_MPL_LOCK = threading.Lock()
_MPL_CACHE: list[str | None] = []


def matplotlib_font_cache() -> str | None:
    """A ready font cache for matplotlib (built once), or None without matplotlib.

    A fresh matplotlib configuration folder makes ``import matplotlib.pyplot``
    rebuild its font list, a third of its import time; each sandbox gets a copy.
    """
    with _MPL_LOCK:
        if _MPL_CACHE:
            return _MPL_CACHE[0]
        found = None
        if importlib.util.find_spec("matplotlib") is not None:
            if os.geteuid() == 0:
                folder = ROOT_BASE / "matplotlib"
            else:
                folder = Path(tempfile.gettempdir()) / f"dlbasics-grade-matplotlib-{os.getuid()}"
            try:
                folder.mkdir(parents=True, exist_ok=True)
                os.chmod(folder, 0o755)
                caches = sorted(folder.glob("fontlist-*.json"))
                if not caches:
                    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                           "MPLCONFIGDIR": str(folder), "MPLBACKEND": "Agg"}
                    subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"],
                                   env=env, capture_output=True, timeout=120, check=False)
                    caches = sorted(folder.glob("fontlist-*.json"))
                if caches:
                    os.chmod(caches[-1], 0o644)
                    found = str(caches[-1])
            except (OSError, subprocess.SubprocessError):
                found = None
        _MPL_CACHE.append(found)
        return found



def _clean_env(workdir: Path, token: str) -> dict[str, str]:
    """The sandbox's whole environment: nothing from the grader's, nothing secret.

    ``PYTHONHASHSEED`` is fixed (not derived from the grading seed, which must
    stay in the grader)."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(workdir),
        "TMPDIR": str(workdir / "tmp"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NUMEXPR_NUM_THREADS": "1",
        "TORCH_NUM_THREADS": "1",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "PYTHONSAFEPATH": "1",
        "PYTHONUNBUFFERED": "0",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(workdir / ".matplotlib"),
        "DLBASICS_SANDBOX": "1",
        "DLBASICS_SANDBOX_TOKEN": token,
    }


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


# ----------------------------------------------------------------------------
# What the host offers, and what it adds up to
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Assessment:
    """What isolation this host gives every sandbox.

    ``mechanisms``: name -> description (recorded in results.json);
    ``missing``: what the full set would add, one sentence each (a warning
    when not empty); ``refusal``: non-empty when nothing keeps the hidden
    tests and solutions unreadable (grading untrusted work is refused unless
    the caller accepts the risk).
    """

    mechanisms: dict[str, str]
    missing: tuple[str, ...]
    refusal: str = ""


def _readable_by_others(path: Path) -> bool:
    """Whether users other than the owner may read ``path`` (or a file in it)."""
    try:
        st = path.stat()
    except OSError:
        return False
    if not st.st_mode & 0o005:
        return False
    if path.is_dir() and not st.st_mode & stat.S_IXOTH:
        return False
    return _world_reachable(path.resolve()) is None


def assess(secret_paths: list[Path] = ()) -> Assessment:
    """What :func:`run_job` will apply on this host (see :class:`Assessment`).

    ``secret_paths`` (hidden tests, solutions) decide the refusal when the only
    protection is a separate user: they must then be closed to other users.
    """
    host = isolation.host_support()
    mech: dict[str, str] = {}
    missing: list[str] = []
    if host["root"]:
        mech["user"] = "own user id per sandbox"
    else:
        missing.append("the sandbox runs as the grader's own user (grade as root for a "
                       "separate user per sandbox)")
    if host["landlock"]:
        mech["landlock"] = f"ABI {host['landlock']}"
        if host["landlock"] < 6:
            missing.append(f"Landlock ABI {host['landlock']} cannot scope signals (kernel "
                           "6.12 or later can)")
    else:
        missing.append("no Landlock (kernel 5.13 or later): files are protected only by "
                       + ("mounts and permissions" if host["root"] else "nothing"))
    if host["mount_ns"] or (host["root"] and host["user_ns"]):
        mech["mounts"] = "hidden tests and solutions masked; private /tmp"
    elif host["user_ns"]:
        mech["namespaces"] = "own network, IPC and mount namespaces; private /tmp"
    else:
        missing.append("no namespaces: no private network, IPC and /tmp")
    for feature, gives, without in (
        ("seccomp", "system-call filter",
         "no seccomp (libseccomp 2): sockets, ptrace and System V IPC are refused only by the "
         "audit hook, or not at all"),
        ("cgroup", "CPU share, memory (tmpfs included) and tasks per sandbox",
         "no cgroup: CPU share and memory are bounded per process only "
         "(RLIMIT_NPROC, RLIMIT_AS/DATA)"),
    ):
        if host[feature]:
            mech[feature] = gives
        else:
            missing.append(without)
    refusal = ""
    if not (host["landlock"] or mech.get("mounts")):
        if not host["root"]:
            refusal = ("nothing on this machine keeps the hidden tests and solutions "
                       "unreadable to the submissions (no Landlock, and the sandbox runs as "
                       "your own user)")
        else:
            open_paths = [str(p) for p in secret_paths if _readable_by_others(Path(p))]
            if open_paths:
                refusal = ("without Landlock or mount namespaces only file permissions keep "
                           "the hidden tests and solutions from the sandbox user, and these "
                           "are readable by other users: " + ", ".join(open_paths)
                           + " (chmod go-rwx them)")
            else:
                mech["filesystem"] = "permissions only (secrets closed to other users)"
    return Assessment(mechanisms=mech, missing=tuple(missing), refusal=refusal)


_EXCLUDE_CACHE: dict[tuple[str, ...], list[str]] = {}


def _excluded_entries(forbidden: tuple[str, ...]) -> list[str]:
    """Top-level site-packages entries of the distributions that provide ``forbidden``."""
    key = tuple(sorted({m.split(".")[0] for m in forbidden}))
    if key in _EXCLUDE_CACHE:
        return _EXCLUDE_CACHE[key]
    out = set(key) | {"dlbasics_grader"}
    try:
        providers = importlib.metadata.packages_distributions()
    except Exception:  # noqa: BLE001 - broken metadata: fall back to the names
        providers = {}
    for top in key:
        for dist_name in providers.get(top, ()):
            if dist_name.lower().replace("_", "-") == "dlbasics" and top != "dlbasics":
                continue
            try:
                dist = importlib.metadata.distribution(dist_name)
            except importlib.metadata.PackageNotFoundError:
                continue
            for f in dist.files or ():
                first = f.parts[0] if f.parts else ""
                if first and first != ".." and not (first.endswith(".dist-info")
                                                    and dist_name == "dlbasics"):
                    out.add(first)
    _EXCLUDE_CACHE[key] = sorted(out)
    return _EXCLUDE_CACHE[key]


# ----------------------------------------------------------------------------
# cgroups (root): a CPU share, memory and a task limit per sandbox
# ----------------------------------------------------------------------------


class _Cgroup:
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
        _kill_until_gone(self.pids, rounds=100)
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


def _state_of(pid: int) -> str:
    with open(f"/proc/{pid}/stat", "rb") as fh:
        return fh.read().rsplit(b")", 1)[1].split()[0].decode()


def _session_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as fh:
        return int(fh.read().rsplit(b")", 1)[1].split()[3])


def kill_all(pgid: int | None, uid: int | None, token: str, cgroup: _Cgroup | None) -> None:
    """SIGKILL every process of the sandbox: its cgroup, its session (the
    sandbox cannot leave it: seccomp), its uid (root), or its token."""
    if pgid:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass
    if cgroup is not None:
        cgroup.remove()
    me = os.getpid()
    tok = f"DLBASICS_SANDBOX_TOKEN={token}".encode()

    def ours(p: int) -> bool:
        if p == me or _state_of(p) in "ZX":  # dead, waiting to be reaped
            return False
        if uid is not None:
            return _uid_of(p) == uid
        return (pgid is not None and _session_of(p) == pgid) or _has_token(p, tok)

    _kill_until_gone(lambda: _pids_where(ours), rounds=50)


def _kill_until_gone(find, rounds: int) -> None:
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


def _cpu_of(pid: int) -> float:
    """CPU seconds of ``pid`` and its reaped children (``/proc/<pid>/stat``)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            f = fh.read().rsplit(b")", 1)[1].split()
        return sum(int(x) for x in f[11:15]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


class _CpuMeter:
    """The sandbox's CPU time, seen from outside: its cgroup, else its session."""

    def __init__(self, pid: int, cgroup: _Cgroup | None) -> None:
        self.pid, self.cgroup = pid, cgroup
        self.last, self.others, self.next_scan = 0.0, 0.0, 0.0

    def read(self) -> float:
        if self.cgroup is not None:
            value = self.cgroup.cpu_s()
        else:
            now = time.monotonic()
            if now >= self.next_scan:  # other processes of the session, once a second
                self.next_scan = now + 1.0
                self.others = sum(_cpu_of(p) for p in _pids_where(
                    lambda p: p != self.pid and _session_of(p) == self.pid))
            value = _cpu_of(self.pid) + self.others
        self.last = max(self.last, value)
        return self.last


# ----------------------------------------------------------------------------
# The runner's messages
# ----------------------------------------------------------------------------


class _Protocol:
    """Accepts the runner's messages in the one order the runner sends them.

    ``ready`` (once, before any learner code) -> per cell ``cell_start i`` and
    ``cell_end i`` (a skipped cell: ``cell_end`` only) -> ``cells_done`` ->
    per probe ``probe_start j``, ``probe_end j`` -> ``done``. A line without
    the nonce is ignored (counted); one with the nonce that does not fit the
    order stops the run: only learner code that dug the nonce out of the
    runner's memory could have sent it. Fields are checked before use.
    """

    def __init__(self, job: Job, nonce: str, run: RawRun, meter_read) -> None:
        self.job, self.nonce, self.run, self.cpu = job, nonce, run, meter_read
        self.state = "setup"          # setup, cells, cell, probes, probe, done
        self.index = -1               # the cell or probe in progress
        self.next_cell = 0
        self.next_probe = job.start_probe
        self.started = time.monotonic()
        self.started_cpu = 0.0
        self.violation = ""

    @property
    def phase(self) -> tuple[str, int]:
        if self.state in ("cell", "probe"):
            return self.state, self.index
        return ("setup", -1) if self.state == "setup" else ("between", -1)

    def feed(self, line: bytes) -> None:
        if self.violation or self.state == "done":
            return
        if len(self.run.cells) + len(self.run.probes) + self.run.ignored_messages > MAX_MESSAGES:
            self.violation = "it sent the grader more messages than a notebook can"
            return
        try:
            msg = json.loads(line)
        except (ValueError, RecursionError, MemoryError):
            msg = None
        if type(msg) is not dict or msg.get("k") != self.nonce:
            self.run.ignored_messages += 1
            return
        ev = msg.get("ev")
        if ev != "probe_end" and len(line) > SMALL_MESSAGE:
            self.violation = "it sent the grader a message larger than expected"
            return
        handler = getattr(self, f"_on_{ev}", None) if isinstance(ev, str) else None
        if handler is None or not handler(msg):
            self.violation = (f"it sent the grader an unexpected message ({clean_text(ev, 40)!r} "
                              f"while in {self.state})")

    def _start(self, state: str, index: int) -> None:
        self.state, self.index = state, index
        self.started, self.started_cpu = time.monotonic(), self.cpu()

    def _end(self, msg: dict, into: dict[int, Phase]) -> Phase:
        ph = _phase_from(msg)
        ph.cpu_s = max(0.0, self.cpu() - self.started_cpu)
        into[self.index] = ph
        return ph

    def _on_ready(self, msg: dict) -> bool:
        if self.state != "setup":
            return False
        iso = msg.get("isolation")
        if type(iso) is dict and len(iso) < 32:
            self.run.isolation = {clean_text(k, 40): clean_text(v, 400) for k, v in iso.items()}
        self.state = "cells"
        return True

    def _on_fatal(self, msg: dict) -> bool:
        if self.state != "setup":
            return False
        self.run.fatal = clean_text(msg.get("error", ""), 2000)
        self.state = "done"
        return True

    def _begin(self, msg: dict, waiting: str, expected: int, kind: str) -> bool:
        i = msg.get("i")
        if self.state != waiting or type(i) is not int or i != expected:
            return False
        self._start(kind, i)
        return True

    def _all_ended(self, waiting: str, next_index: int, total: int, then: str) -> bool:
        """Accept ``cells_done`` or ``done``: only in state ``waiting`` and once all
        ``total`` cells or probes have ended; then move on to state ``then``."""
        if self.state != waiting or next_index != total:
            return False
        self.state = then
        return True

    def _on_cell_start(self, msg: dict) -> bool:
        return self._begin(msg, "cells", self.next_cell, "cell")

    def _on_cell_end(self, msg: dict) -> bool:
        i = msg.get("i")
        if type(i) is not int:
            return False
        skipped = (self.state == "cells" and i == self.next_cell
                   and i < len(self.job.cells) and self.job.cells[i].get("skipped"))
        if not (skipped or (self.state == "cell" and i == self.index)):
            return False
        if skipped:
            self._start("cell", i)
        self._end(msg, self.run.cells)
        self.state, self.next_cell = "cells", i + 1
        return True

    def _on_cells_done(self, msg: dict) -> bool:
        return self._all_ended("cells", self.next_cell, len(self.job.cells), "probes")

    def _on_probe_start(self, msg: dict) -> bool:
        return self._begin(msg, "probes", self.next_probe, "probe")

    def _on_probe_end(self, msg: dict) -> bool:
        j = msg.get("i")
        if self.state != "probe" or j != self.index or type(j) is not int:
            return False
        ph = self._end(msg, self.run.probes)
        ph.outputs = msg.get("outputs") if ph.status == "ok" else None
        self.state, self.next_probe = "probes", j + 1
        return True

    def _on_done(self, msg: dict) -> bool:
        self.run.finished = self._all_ended("probes", self.next_probe, len(self.job.probes), "done")
        return self.run.finished


def _phase_from(msg: dict) -> Phase:
    status = msg.get("status")
    if status not in PHASE_STATUSES:
        status = "error"
    t = msg.get("t")
    ok_t = type(t) in (int, float) and not isinstance(t, bool) and -1 < t < 1e7
    return Phase(
        status=status,
        error=clean_text(msg.get("error", ""), 4000),
        traceback=clean_text(msg.get("traceback", ""), 8000),
        duration_s=float(t) if ok_t and math.isfinite(t) else 0.0,
    )


# ----------------------------------------------------------------------------
# Running one job
# ----------------------------------------------------------------------------


def _job_folder(as_root: bool) -> Path:
    if as_root:
        ROOT_BASE.mkdir(parents=True, exist_ok=True)
        os.chmod(ROOT_BASE, 0o711)
        jobdir = Path(tempfile.mkdtemp(prefix="job-", dir=ROOT_BASE))
        os.chmod(jobdir, 0o711)
        return jobdir
    return Path(tempfile.mkdtemp(prefix="dlbasics-grade-"))


def never_readable(private_paths: list[Path]) -> list[str]:
    """Folders whose ancestors (or themselves) Landlock must never allow."""
    out = {str(Path(p).resolve()) for p in private_paths}
    out.add(str(GRADER_PACKAGE))
    try:
        out.add(str(Path.home().resolve()))
    except (RuntimeError, OSError):
        pass
    return sorted(out)


def run_job(job: Job, private_paths: list[Path], deadline: float, cpu_left: float) -> RawRun:
    """Run one launch of the sandbox; see the module docstring.

    ``deadline`` is the absolute ``time.monotonic()`` wall-clock backstop;
    ``cpu_left`` the notebook's remaining CPU seconds (its own, not the
    machine's: a busy neighbour does not use them up).
    """
    host = isolation.host_support()
    limits = job.limits
    as_root = os.geteuid() == 0
    lease = _UidLease() if host["root"] else None
    token, nonce = secrets.token_hex(16), secrets.token_hex(16)
    jobdir = _job_folder(as_root)
    workdir, stage = jobdir / "work", jobdir / "stage"
    run = RawRun()
    proc = cgroup = None
    read_fd = write_fd = -1
    t_start = time.monotonic()
    try:
        uid = lease.uid if lease else None
        for p in (workdir, workdir / "tmp", stage):
            p.mkdir(mode=0o700)
            if uid is not None:
                os.chown(p, uid, uid)
        work_mb = max(limits.file_size_mb * 2, 32)
        if host["cgroup"]:
            cgroup = _Cgroup(f"job-{token[:16]}", limits, extra_mb=work_mb + 3 * TMP_MB)
        fs = plan_filesystem(private_paths, workdir) if host["root"] else {
            "hide": [], "rebind": [], "need_mounts": False}
        tmp = private_tmp_plan(_needed_paths())
        nproc = limits.nproc
        if not host["root"]:
            nproc += _count_tasks_of(os.getuid())
        forbidden = job.policy.forbidden_modules
        full = job.wire()
        full.update(
            nonce=nonce,
            workdir=str(workdir),
            cell_timeout_s=limits.cell_wall_s,
            wall_factor=WALL_FACTOR,
            max_result_bytes=int(limits.result_mb * 1024 * 1024 * 1.4),
            limits={"cpu_s": limits.cpu_s, "memory_mb": limits.memory_mb,
                    "memory_kind": limits.memory_kind, "file_size_mb": limits.file_size_mb,
                    "open_files": limits.open_files, "nproc_total": nproc},
            isolation={
                "uid": uid, "gid": uid, "stage": str(stage), "workdir": str(workdir),
                "hide": fs["hide"], "rebind": fs["rebind"], "need_mounts": fs["need_mounts"],
                "tmp_rebind": tmp["rebind"], "tmp_write": tmp["writable"],
                "font_cache": matplotlib_font_cache(), "work_mb": work_mb, "tmp_mb": TMP_MB,
                "mount_ns": host["mount_ns"], "user_ns": host["user_ns"],
                "landlock": host["landlock"] > 0, "seccomp": host["seccomp"],
                "cgroup": [str(p) for p in cgroup.paths.values()] if cgroup else [],
                "cgroup_summary": cgroup.summary if cgroup else "",
                "never": never_readable(private_paths),
                "exclude_entries": _excluded_entries(forbidden) if forbidden else [
                    "dlbasics_grader"],
                "extra_packages": [] if any(m.split(".")[0] == "dlbasics" for m in forbidden)
                else ["dlbasics"],
            },
        )
        job_file = jobdir / "job.json"
        fd = os.open(job_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(full, fh)
        read_fd, write_fd = os.pipe()
        proc = subprocess.Popen(
            [sys.executable, "-X", "faulthandler", str(RUNNER), str(job_file), str(write_fd)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            pass_fds=(write_fd,), cwd=str(jobdir), env=_clean_env(workdir, token),
            start_new_session=True, close_fds=True,
        )
        os.close(write_fd)
        write_fd = -1
        meter = _CpuMeter(proc.pid, cgroup)
        _Watch(proc, read_fd, job, nonce, meter, deadline, cpu_left, run).loop()
        run.cpu_s = meter.read()
        if cgroup is not None and run.stop_status == "crashed" and cgroup.oom_killed() \
                and "SIGKILL" in run.stop_reason:
            run.stop_status = "out of memory"
            run.stop_reason = "the notebook's processes used more memory than allowed"
    finally:
        kill_all(proc.pid if proc is not None else None, lease.uid if lease else None, token,
                 cgroup)
        if proc is not None:
            for stream in (proc.stdout, proc.stderr):
                if stream:
                    stream.close()
            if proc.returncode is None:
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
        for fd_ in (read_fd, write_fd):
            if fd_ >= 0:
                try:
                    os.close(fd_)
                except OSError:
                    pass
        shutil.rmtree(jobdir, ignore_errors=True)
        if lease:
            lease.release()
        run.wall_s = time.monotonic() - t_start
    return run


class _Watch:
    """Reads one runner's streams and messages; stops it when a limit passes."""

    def __init__(self, proc, read_fd, job: Job, nonce, meter: _CpuMeter, deadline: float,
                 cpu_left: float, run: RawRun) -> None:
        self.proc, self.job, self.meter, self.run = proc, job, meter, run
        self.deadline, self.cpu_left = deadline, cpu_left
        keep = job.limits.output_kb * 1024 // 2
        self.out, self.err = _CappedStream(keep), _CappedStream(keep)
        self.max_line = int(job.limits.result_mb * 1024 * 1024 * 1.5) + 65536
        self.buf = bytearray()
        self.proto = _Protocol(job, nonce, run, meter.read)
        self.sel = selectors.DefaultSelector()
        self.sel.register(proc.stdout, selectors.EVENT_READ, "out")
        self.sel.register(proc.stderr, selectors.EVENT_READ, "err")
        os.set_blocking(read_fd, False)
        self.chan = os.fdopen(read_fd, "rb", buffering=0, closefd=False)
        self.sel.register(self.chan, selectors.EVENT_READ, "chan")
        self.open_streams = 3
        self.rusage = None
        self.stop_status = self.stop_reason = ""

    # -- limits ----------------------------------------------------------------
    def _phase_limit(self) -> tuple[float, float, str]:
        """(CPU seconds, wall seconds, what) allowed for the phase in progress."""
        kind, idx = self.proto.phase
        lim = self.job.limits
        if kind == "cell":
            return (lim.cell_wall_s + GRACE_S, lim.cell_wall_s * WALL_FACTOR + GRACE_S,
                    f"the cell ran longer than {lim.cell_wall_s:g} s and did not stop when "
                    "interrupted")
        if kind == "probe":
            t = self.job.probe_timeouts[idx]
            return (t + GRACE_S + 1.0, t * WALL_FACTOR + GRACE_S + 1.0,
                    f"the call ran longer than {t:g} s and did not stop when interrupted")
        if kind == "setup":
            return 60.0, 60.0, "the sandbox did not start in time"
        return math.inf, math.inf, ""

    def _over_limit(self) -> bool:
        now = time.monotonic()
        cpu = self.meter.read()
        if now >= self.deadline or cpu >= self.cpu_left:
            self.stop_status = "timeout"
            self.stop_reason = "the total time limit for the notebook was reached"
        else:
            cpu_lim, wall_lim, why = self._phase_limit()
            if (cpu - self.proto.started_cpu >= cpu_lim
                    or now - self.proto.started >= wall_lim):
                self.stop_status, self.stop_reason = "timeout", why
        if self.stop_status:
            self.run.stopped_in = self.proto.phase
        return bool(self.stop_status)

    # -- reading -----------------------------------------------------------------
    def _feed_channel(self, data: bytes) -> None:
        start = len(self.buf)
        self.buf += data
        while True:  # look for newlines only in the new bytes
            nl = self.buf.find(b"\n", start)
            if nl < 0:
                break
            line = bytes(self.buf[:nl])
            del self.buf[: nl + 1]
            start = 0
            self.proto.feed(line)
        if len(self.buf) > self.max_line and not self.proto.violation:
            self.proto.violation = "it sent more data than the grader accepts"

    def _read_ready(self, timeout: float) -> None:
        for key, _ in self.sel.select(timeout=timeout):
            try:
                data = os.read(key.fileobj.fileno(), 1 << 16)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                self.sel.unregister(key.fileobj)
                self.open_streams -= 1
            elif key.data == "out":
                self.out.feed(data)
            elif key.data == "err":
                self.err.feed(data)
            else:
                self._feed_channel(data)

    def _drain(self) -> None:
        while True:
            try:
                data = self.chan.read(1 << 16)
            except (BlockingIOError, OSError):
                data = None
            if not data:
                break
            self._feed_channel(data)
        if self.buf:
            self._feed_channel(b"\n")

    def loop(self) -> None:
        exited_at = None
        while True:
            if exited_at is None and self._over_limit():
                break
            self._read_ready(0.05)
            if self.proto.violation:
                self.stop_status, self.stop_reason = "crashed", self.proto.violation
                self.run.stopped_in = self.proto.phase
                break
            if exited_at is None:
                try:
                    pid, status, self.rusage = os.wait4(self.proc.pid, os.WNOHANG)
                except ChildProcessError:
                    pid, status = self.proc.pid, 0
                if pid == self.proc.pid:
                    self.proc.returncode = os.waitstatus_to_exitcode(status)
                    exited_at = time.monotonic()
            if exited_at is not None and (
                    self.open_streams == 0 or (self.run.finished and self.open_streams <= 2)
                    or time.monotonic() - exited_at > 0.5):
                self._drain()
                break
        self.sel.close()
        self.chan.close()
        self.run.stdout, self.run.stderr = self.out.text(), self.err.text()
        if self.proto.violation and not self.stop_status:
            self.stop_status, self.stop_reason = "crashed", self.proto.violation
            self.run.stopped_in = self.proto.phase
        if self.run.finished and not self.stop_status:
            return
        if not self.stop_status:
            self.run.stopped_in = self.proto.phase
            self.stop_status, self.stop_reason = self._classify_exit()
        self.run.stop_status, self.run.stop_reason = self.stop_status, self.stop_reason
        self.run.finished = False

    def _classify_exit(self) -> tuple[str, str]:
        code = self.proc.returncode
        lim = self.job.limits
        if self.run.fatal:
            return "crashed", self.run.fatal
        if code is not None and code < 0:
            sig = -code
            ru = self.rusage
            cpu = (ru.ru_utime + ru.ru_stime) if ru else 0.0
            if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= lim.cpu_s - 0.5):
                return "timeout", f"the CPU time limit of {lim.cpu_s} s was reached"
            if sig == signal.SIGKILL:
                return ("out of memory", "the process was killed (SIGKILL), most likely for "
                        "using too much memory")
            return "crashed", f"the process was killed by {_signal_name(sig)}"
        return "crashed", (f"the process exited with code {code} (os._exit(), or a hard exit "
                           "inside a library)")
