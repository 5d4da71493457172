"""Launching one sandbox: :class:`Launch` and :func:`run_job`.

A :class:`Launch` writes the :class:`~dlbasics_grader.sandbox.protocol.ChildJob` for
the runner (:mod:`dlbasics_grader.sandbox.child.runner`) and starts it with a clean
environment in a fresh working directory (its own user id as root, leased with
``flock``; its own cgroup). The runner confines itself while the grader reads the
notebook; then the launch sends it the cells and probes, lets
:class:`~dlbasics_grader.sandbox.watch.Watch` read it and enforce the limits, and kills
every process it started. It returns a :class:`~dlbasics_grader.sandbox.job.RawRun`:
plain data about what happened, nothing more.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from dlbasics_grader import isolation
from dlbasics_grader.sandbox import protocol
from dlbasics_grader.sandbox.cgroup import Cgroup
from dlbasics_grader.sandbox.fsplan import (
    excluded_entries,
    needed_paths,
    never_readable,
    plan_filesystem,
    private_tmp_plan,
    runtime_folders,
)
from dlbasics_grader.sandbox.job import Job, RawRun, SandboxUnavailable
from dlbasics_grader.sandbox.processes import CpuMeter, count_tasks_of, kill_all
from dlbasics_grader.sandbox.protocol import PhaseStatus
from dlbasics_grader.sandbox.spawn import RunnerProcess
from dlbasics_grader.sandbox.watch import WALL_FACTOR, FolderMeter, Watch
from dlbasics_grader.spec import Limits, SandboxPolicy

SANDBOX_UIDS = range(61000, 61500)
ROOT_BASE = Path("/run/dlbasics-grade")
CGROUP_NAME = "dlbasics-grade"
TMP_MB = 32


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



SHARED_TMPFS = Path("/dev/shm")


def _job_folder(as_root: bool, contained: bool) -> Path:
    """A fresh folder for one launch. ``contained``: the runner gives its working folder a
    tmpfs of its own (mount namespace); without one, the folder lies on ``/dev/shm``, a
    size-limited tmpfs, and the watch loop bounds what it holds."""
    base = ROOT_BASE if as_root else Path(tempfile.gettempdir())
    if not contained:
        if not _is_tmpfs(SHARED_TMPFS):
            raise SandboxUnavailable(
                "without mount namespaces the sandbox's working folder cannot have a "
                "filesystem of its own, and /dev/shm is not a size-limited tmpfs, so a "
                "notebook could fill the disk; let the grader create namespaces, or give "
                "the machine a /dev/shm tmpfs")
        base = SHARED_TMPFS / (CGROUP_NAME if as_root else f"{CGROUP_NAME}-{os.getuid()}")
    base.mkdir(parents=True, exist_ok=True, mode=0o711 if as_root else 0o700)
    if as_root:
        os.chmod(base, 0o711)
    jobdir = Path(tempfile.mkdtemp(prefix="job-", dir=base))
    if as_root:
        os.chmod(jobdir, 0o711)
    return jobdir


def _is_tmpfs(path: Path) -> bool:
    """Whether ``path`` is the mount point of a tmpfs (which has a size limit)."""
    try:
        with open("/proc/self/mounts") as fh:
            return any(f[1] == str(path) and f[2] == "tmpfs"
                       for f in (line.split() for line in fh) if len(f) > 2)
    except OSError:
        return False


class Launch:
    """One sandbox, started before its work is known.

    :meth:`__init__` starts the runner's process (or takes over ``process``, one started
    even earlier: :class:`~dlbasics_grader.sandbox.spawn.RunnerProcess`), prepares the
    :class:`~dlbasics_grader.sandbox.protocol.ChildJob` while that process starts Python,
    and sends it; the runner confines itself and imports the policy's preloaded modules
    while the grader reads the notebook. :meth:`run` sends it the cells and probes (a
    :class:`~dlbasics_grader.sandbox.protocol.ChildWork`), watches it to the end and
    cleans up; :meth:`close` cleans up a launch that is not needed after all. Either
    way, every process it started is killed and its folder removed.
    """

    def __init__(self, policy: SandboxPolicy, limits: Limits, private_paths: list[Path],
                 process: RunnerProcess | None = None) -> None:
        self.policy, self.limits = policy, limits
        self.lease: _UidLease | None = None
        self.cgroup: Cgroup | None = None
        self.jobdir: Path | None = None
        self.process: RunnerProcess | None = process
        try:
            if process is None:  # first, so that Python starts while the job is prepared
                self.process = RunnerProcess()
            host = isolation.host_support()
            self.contained = host["mount_ns"] or host["user_ns"]
            self.lease = _UidLease() if host["root"] else None
            self.nonce = secrets.token_hex(16)
            self.jobdir = _job_folder(os.geteuid() == 0, self.contained)
            self._start(host, private_paths)
        except BaseException:
            self.close()
            raise

    def _start(self, host: dict, private_paths: list[Path]) -> None:
        limits, policy = self.limits, self.policy
        workdir = self.workdir = self.jobdir / "work"
        uid = self.lease.uid if self.lease else None
        for p in (workdir, workdir / "tmp"):
            p.mkdir(mode=0o700)
            if uid is not None:
                os.chown(p, uid, uid)
        self.work_mb = max(limits.file_size_mb * 2, 32)
        if host["cgroup"]:
            self.cgroup = Cgroup(f"job-{self.process.token[:16]}", limits,
                                 extra_mb=self.work_mb + 3 * TMP_MB)
        fs = plan_filesystem(private_paths, workdir) if host["root"] else {
            "hide": [], "rebind": [], "need_mounts": False}
        runtime = runtime_folders()
        tmp = private_tmp_plan(needed_paths(), runtime=tuple(runtime))
        nproc = limits.nproc
        if not host["root"]:
            nproc += count_tasks_of(os.getuid())
        forbidden = policy.forbidden_modules
        excluded = ["dlbasics_grader"]
        if forbidden:  # root keeps the answer between gradings, in its own folder
            excluded = excluded_entries(forbidden,
                                        ROOT_BASE / "cache" if os.geteuid() == 0 else None)
        cgroup = self.cgroup
        child = protocol.ChildJob(
            nonce=self.nonce,
            workdir=str(workdir),
            policy=wire_policy(policy),
            cell_timeout_s=limits.cell_wall_s,
            wall_factor=WALL_FACTOR,
            max_result_bytes=int(limits.result_mb * 1024 * 1024 * 1.4),
            limits=protocol.ResourceLimits(
                cpu_s=limits.cpu_s, memory_mb=limits.memory_mb,
                memory_kind=protocol.MemoryKind(limits.memory_kind),
                file_size_mb=limits.file_size_mb, open_files=limits.open_files,
                nproc_total=nproc),
            isolation=protocol.IsolationPlan(
                uid=uid, gid=uid, workdir=str(workdir),
                hide=[protocol.Mask(path=h, mode=m) for h, m in fs["hide"]],
                rebind=fs["rebind"], need_mounts=fs["need_mounts"], runtime=runtime,
                tmp_rebind=tmp["rebind"], tmp_write=tmp["writable"],
                font_cache=matplotlib_font_cache(), work_mb=self.work_mb, tmp_mb=TMP_MB,
                mount_ns=host["mount_ns"], user_ns=host["user_ns"],
                landlock=host["landlock"] > 0, seccomp=host["seccomp"],
                cgroup=[str(p) for p in cgroup.paths.values()] if cgroup else [],
                cgroup_summary=cgroup.summary if cgroup else "",
                never=never_readable(private_paths),
                exclude_entries=excluded,
                extra_packages=[] if any(m.split(".")[0] == "dlbasics" for m in forbidden)
                else ["dlbasics"],
            ),
        )
        self.process.send_job(json.dumps(protocol.to_wire(child)).encode("utf-8"))
        self.meter = CpuMeter(self.process.pid, cgroup)

    def run(self, job: Job, deadline: float, cpu_left: float) -> RawRun:
        """Send ``job``'s cells and probes, watch the runner until it is done or stopped, and
        clean up. ``deadline`` is the absolute ``time.monotonic()`` wall-clock backstop;
        ``cpu_left`` the notebook's remaining CPU seconds (its own, not the machine's: a busy
        neighbour does not use them up)."""
        if job.policy != self.policy or job.limits != self.limits:
            raise ValueError("the job's policy or limits differ from the ones this sandbox "
                             "was started with")
        run = RawRun()
        process = self.process
        if process is None or process.proc is None:
            raise ValueError("this sandbox was closed")
        try:
            work = protocol.ChildWork(cells=job.cells, probes=job.probes,
                                      start_probe=job.start_probe)
            data = json.dumps(protocol.to_wire(work)).encode("utf-8", "surrogatepass")
            disk = None if self.contained else FolderMeter(self.workdir,
                                                           self.work_mb * 1024 * 1024)
            work_fd, process.work_fd = process.work_fd, -1  # the watch writes and closes it
            Watch(process.proc, process.read_fd, job, self.nonce, self.meter, deadline, cpu_left,
                  run, disk, work=(work_fd, data)).loop()
            run.cpu_s = self.meter.read()
            if self.cgroup is not None and run.stop_status == PhaseStatus.CRASHED \
                    and self.cgroup.oom_killed() and "SIGKILL" in run.stop_reason:
                run.stop_status = PhaseStatus.OUT_OF_MEMORY
                run.stop_reason = "the notebook's processes used more memory than allowed"
        finally:
            t_start = process.t_start
            self.close()
            run.wall_s = time.monotonic() - t_start
        return run

    def close(self) -> None:
        """Kill every process this launch started and remove its folder (idempotent)."""
        process = self.process
        pid = process.pid if process is not None else None
        if pid is not None or self.lease is not None or self.cgroup is not None:
            kill_all(pid, self.lease.uid if self.lease else None,
                     process.token if process is not None else "", self.cgroup)
        if process is not None:
            process.close()
        if self.jobdir is not None:
            shutil.rmtree(self.jobdir, ignore_errors=True)
            self.jobdir = None
        if self.lease:
            self.lease.release()
            self.lease = None
        self.cgroup = None


def wire_policy(policy: SandboxPolicy) -> protocol.Policy:
    """The part of ``policy`` the runner enforces."""
    return protocol.Policy(forbidden_modules=list(policy.forbidden_modules),
                           reason=policy.reason, preload=list(policy.preload),
                           allow_processes=policy.allow_processes)


def run_job(job: Job, private_paths: list[Path], deadline: float, cpu_left: float,
            launch: Launch | None = None) -> RawRun:
    """Run ``job`` in ``launch`` (a sandbox started for its policy and limits), or in a new
    one; see :class:`Launch`."""
    if launch is None:
        launch = Launch(job.policy, job.limits, private_paths)
    return launch.run(job, deadline, cpu_left)
