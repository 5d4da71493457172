"""Starting, watching and stopping the sandboxed process of one submission.

:func:`run_job` writes the job for :mod:`dlbasics_grader.runner`, starts it
with a clean environment in a fresh working directory, reads its messages and
its output (keeping only a head and a tail), enforces the wall-time limits
(per cell, per probe, in total) and kills every process the sandbox started.
It returns a :class:`RawRun`: plain data about what happened, nothing more.

When the grader runs as root, each sandbox gets its own unused user id (from
``SANDBOX_UIDS``, one per concurrent sandbox, so a user-wide process limit
and a user-wide kill cover exactly one sandbox), its own network namespace,
a private ``/tmp``, and empty directories mounted over the hidden tests, the
solutions, the submissions and the grader's working directory.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dlbasics
from dlbasics_grader.spec import Limits

RUNNER = Path(__file__).with_name("runner.py")
SANDBOX_UIDS = range(61000, 61500)
ROOT_BASE = Path("/run/dlbasics-grade")
GRACE_S = 2.0
_WORLD_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")
_NEVER_HIDE = {"/", "/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin", "/etc", "/proc",
               "/sys", "/dev", "/run", "/var", "/opt", "/home"}


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot be set up on this machine (an instructor problem)."""


@dataclass
class Phase:
    """What one cell or probe did, as the grader observed it."""

    status: str = "not run"
    error: str = ""
    traceback: str = ""
    duration_s: float = 0.0
    outputs: Any = None


@dataclass
class RawRun:
    """Everything one launch of the sandbox produced (untrusted where noted)."""

    cells: dict[int, Phase] = field(default_factory=dict)
    probes: dict[int, Phase] = field(default_factory=dict)
    isolation: dict[str, str] = field(default_factory=dict)
    stdout: str = ""
    stderr: str = ""
    finished: bool = False
    stopped_in: tuple[str, int] | None = None  # ("cell"|"probe"|"setup", index)
    stop_status: str = ""
    stop_reason: str = ""
    fatal: str = ""
    wall_s: float = 0.0


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


def kill_all(pgid: int | None, uid: int | None, token: str) -> None:
    """SIGKILL the process group and every process of the sandbox uid or token."""
    if pgid:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass
    me = os.getpid()
    tok = f"DLBASICS_SANDBOX_TOKEN={token}".encode()
    for _ in range(50):
        if uid is not None:
            pids = _pids_where(lambda p: p != me and _uid_of(p) == uid)
        else:
            pids = _pids_where(lambda p: p != me and _has_token(p, tok))
        if not pids:
            return
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.01)


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


def _clean_env(workdir: Path, token: str, seed: int) -> dict[str, str]:
    env = {
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
        "PYTHONHASHSEED": str(seed % (2**32)),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "PYTHONSAFEPATH": "1",
        "PYTHONUNBUFFERED": "0",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(workdir / ".matplotlib"),
        "DLBASICS_SANDBOX": "1",
        "DLBASICS_SANDBOX_TOKEN": token,
    }
    return env


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def run_job(
    job: dict[str, Any],
    limits: Limits,
    probe_timeouts: list[float],
    private_paths: list[Path],
    deadline: float,
) -> RawRun:
    """Run one launch of the sandbox; see the module docstring.

    ``job`` holds ``cells``, ``probes``, ``start_probe``, ``policy``; this
    function adds limits, paths and isolation. ``deadline`` is an absolute
    ``time.monotonic()`` after which everything is stopped.
    """
    is_root = os.geteuid() == 0
    lease = _UidLease() if is_root else None
    token = secrets.token_hex(16)
    if is_root:
        ROOT_BASE.mkdir(parents=True, exist_ok=True)
        os.chmod(ROOT_BASE, 0o711)
        jobdir = Path(tempfile.mkdtemp(prefix="job-", dir=ROOT_BASE))
        os.chmod(jobdir, 0o711)
    else:
        jobdir = Path(tempfile.mkdtemp(prefix="dlbasics-grade-"))
    workdir = jobdir / "work"
    stage = jobdir / "stage"
    run = RawRun()
    proc = None
    read_fd = write_fd = -1
    t_start = time.monotonic()
    try:
        workdir.mkdir(mode=0o700)
        (workdir / "tmp").mkdir(mode=0o700)
        stage.mkdir(mode=0o700)
        uid = lease.uid if lease else None
        if uid is not None:
            for p in (workdir, workdir / "tmp"):
                os.chown(p, uid, uid)
        fs = plan_filesystem(private_paths, workdir) if is_root else {
            "hide": [], "rebind": [], "need_mounts": False}
        nproc = limits.nproc
        if not is_root:
            nproc += _count_tasks_of(os.getuid())
        full = dict(job)
        full.update(
            workdir=str(workdir),
            cell_timeout_s=limits.cell_wall_s,
            max_result_bytes=int(limits.result_mb * 1024 * 1024 * 1.4),
            limits={
                "cpu_s": limits.cpu_s,
                "memory_mb": limits.memory_mb,
                "memory_kind": limits.memory_kind,
                "file_size_mb": limits.file_size_mb,
                "open_files": limits.open_files,
                "nproc_total": nproc,
            },
            isolation={
                "uid": uid,
                "gid": uid,
                "stage": str(stage),
                "hide": fs["hide"],
                "rebind": fs["rebind"],
                "need_mounts": fs["need_mounts"],
                "workdir": str(workdir),
                "font_cache": matplotlib_font_cache(),
                "work_mb": max(limits.file_size_mb * 4, 64),
                "namespaces": os.environ.get("DLBASICS_SANDBOX_NAMESPACES", "1") != "0",
            },
        )
        job_file = jobdir / "job.json"
        fd = os.open(job_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(full, fh)
        read_fd, write_fd = os.pipe()
        env = _clean_env(workdir, token, int(job.get("seed", 0)))
        proc = subprocess.Popen(
            [sys.executable, "-X", "faulthandler", str(RUNNER), str(job_file), str(write_fd)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(write_fd,),
            cwd=str(jobdir),
            env=env,
            start_new_session=True,
            close_fds=True,
        )
        os.close(write_fd)
        write_fd = -1
        _watch(proc, read_fd, job, limits, probe_timeouts, deadline, run)
    finally:
        pgid = proc.pid if proc is not None else None
        kill_all(pgid, lease.uid if lease else None, token)
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


def _watch(proc, read_fd, job, limits, probe_timeouts, deadline, run: RawRun) -> None:
    """Read the runner's messages and output; stop it when a limit passes."""
    keep = limits.output_kb * 1024 // 2
    out, err = _CappedStream(keep), _CappedStream(keep)
    max_line = int(limits.result_mb * 1024 * 1024 * 1.5) + 65536
    buf = bytearray()
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, "out")
    sel.register(proc.stderr, selectors.EVENT_READ, "err")
    os.set_blocking(read_fd, False)
    chan = os.fdopen(read_fd, "rb", buffering=0, closefd=False)
    sel.register(chan, selectors.EVENT_READ, "chan")
    phase: tuple[str, int] = ("setup", -1)
    phase_deadline = time.monotonic() + 60.0
    open_streams = 3
    exited_status = None
    rusage = None
    phase_start = time.monotonic()

    def on_message(msg: dict) -> None:
        nonlocal phase, phase_deadline, phase_start
        ev = msg.get("ev")
        now = time.monotonic()
        if ev == "ready":
            iso = msg.get("isolation")
            if isinstance(iso, dict):
                run.isolation = {str(k): str(v) for k, v in iso.items()}
            phase, phase_deadline = ("between", -1), deadline
        elif ev == "fatal":
            run.fatal = str(msg.get("error", ""))[:2000]
        elif ev == "cell_start":
            i = _int(msg.get("i"))
            phase, phase_start = ("cell", i), now
            phase_deadline = now + limits.cell_wall_s + GRACE_S
        elif ev == "cell_end":
            i = _int(msg.get("i"))
            run.cells[i] = _phase_from(msg)
            phase, phase_deadline = ("between", -1), deadline
        elif ev == "probe_start":
            j = _int(msg.get("i"))
            phase, phase_start = ("probe", j), now
            t = probe_timeouts[j] if 0 <= j < len(probe_timeouts) else 10.0
            phase_deadline = now + t + GRACE_S + 1.0
        elif ev == "probe_end":
            j = _int(msg.get("i"))
            ph = _phase_from(msg)
            ph.outputs = msg.get("outputs")
            run.probes[j] = ph
            phase, phase_deadline = ("between", -1), deadline
        elif ev == "done":
            run.finished = True

    stop_status = stop_reason = ""
    while True:
        now = time.monotonic()
        limit_at = min(deadline, phase_deadline)
        if now >= limit_at and exited_status is None:
            kind, idx = phase
            if now >= deadline:
                stop_status = "timeout"
                stop_reason = "the total time limit for the notebook was reached"
            elif kind == "cell":
                stop_status = "timeout"
                stop_reason = (f"the cell ran longer than {limits.cell_wall_s:g} s and did not "
                               "stop when interrupted")
            elif kind == "probe":
                t = probe_timeouts[idx] if 0 <= idx < len(probe_timeouts) else 10.0
                stop_status = "timeout"
                stop_reason = f"the call ran longer than {t:g} s and did not stop when interrupted"
            else:
                stop_status = "timeout"
                stop_reason = "the sandbox did not start in time"
            run.stopped_in = phase
            break
        events = sel.select(timeout=min(0.05, max(0.0, limit_at - now)))
        for key, _ in events:
            try:
                data = os.read(key.fileobj.fileno(), 1 << 16)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                sel.unregister(key.fileobj)
                open_streams -= 1
                continue
            if key.data == "out":
                out.feed(data)
            elif key.data == "err":
                err.feed(data)
            else:
                # look for newlines only in the new bytes: a long line arrives in many chunks
                start = len(buf)
                buf += data
                while True:
                    nl = buf.find(b"\n", start)
                    if nl < 0:
                        break
                    line = bytes(buf[:nl])
                    del buf[: nl + 1]
                    start = 0
                    try:
                        msg = json.loads(line)
                    except (ValueError, RecursionError):
                        continue
                    if isinstance(msg, dict):
                        on_message(msg)
                if len(buf) > max_line:
                    stop_status, stop_reason = "crashed", "it sent more data than the grader accepts"
                    run.stopped_in = phase
                    break
        if stop_status:
            break
        if exited_status is None:
            try:
                pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
            except ChildProcessError:
                pid, status = proc.pid, 0
            if pid == proc.pid:
                exited_status = status
                proc.returncode = os.waitstatus_to_exitcode(status)
                exit_time = time.monotonic()
        if exited_status is not None:
            # the runner is gone; read what is left for a moment, then stop
            if open_streams == 0 or run.finished and open_streams <= 2 or (
                time.monotonic() - exit_time > 0.5
            ):
                # drain the channel fully (it cannot block: non-blocking)
                _drain(chan, buf, on_message)
                break
    sel.close()
    chan.close()
    run.stdout, run.stderr = out.text(), err.text()
    if run.finished:
        return
    if not stop_status:
        run.stopped_in = phase
        code = proc.returncode
        if run.fatal:
            stop_status, stop_reason = "crashed", run.fatal
        elif code is not None and code < 0:
            sig = -code
            cpu = (rusage.ru_utime + rusage.ru_stime) if rusage else 0.0
            if sig in (signal.SIGXCPU,) or (sig == signal.SIGKILL and cpu >= limits.cpu_s - 0.5):
                stop_status = "timeout"
                stop_reason = f"the CPU time limit of {limits.cpu_s} s was reached"
            elif sig == signal.SIGKILL:
                stop_status = "out of memory"
                stop_reason = "the process was killed (SIGKILL), most likely for using too much memory"
            else:
                stop_status = "crashed"
                stop_reason = f"the process was killed by {_signal_name(sig)}"
        else:
            stop_status = "crashed"
            stop_reason = (f"the process exited with code {code} (os._exit(), or a hard "
                           "exit inside a library)")
    run.stop_status, run.stop_reason = stop_status, stop_reason


def _drain(chan, buf: bytearray, on_message) -> None:
    while True:
        try:
            data = chan.read(1 << 16)
        except (BlockingIOError, OSError):
            data = None
        if not data:
            break
        buf += data
    for line in bytes(buf).split(b"\n"):
        if not line:
            continue
        try:
            msg = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(msg, dict):
            on_message(msg)
    buf.clear()


def _int(v: Any) -> int:
    return v if type(v) is int else -1


def _phase_from(msg: dict) -> Phase:
    status = msg.get("status")
    if status not in ("ok", "error", "timeout", "out of memory", "skipped"):
        status = "error"
    t = msg.get("t")
    return Phase(
        status=status,
        error=str(msg.get("error", ""))[:4000],
        traceback=str(msg.get("traceback", ""))[:8000],
        duration_s=float(t) if type(t) in (int, float) else 0.0,
    )
