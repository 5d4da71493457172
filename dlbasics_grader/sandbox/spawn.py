"""Starting the runner's process before its job is known: :class:`RunnerProcess`.

The runner (:mod:`dlbasics_grader.sandbox.child.runner`) spends its first tenth of a second
starting Python and importing NumPy, which needs nothing from the job. So the process starts
first, with a clean environment and three pipes, and its
:class:`~dlbasics_grader.sandbox.protocol.ChildJob` follows over the first one once the grader
has prepared it; :class:`~dlbasics_grader.sandbox.launch.Launch` then sends the cells and
probes over the third and reads messages from the second. ``dlbasics-grade grade`` starts one
before it imports the rest of the grader, so the interpreter start and the grader's imports
overlap with the runner's. Until its job arrives the runner runs nothing but the grader's own
code and the standard library's and NumPy's imports; it confines itself before it runs
anything else.

This module imports only the standard library, so that starting a process costs nothing
beyond it.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

RUNNER = Path(__file__).resolve().parent / "child" / "runner.py"
CHANNEL_PIPE_BYTES = 1 << 20


def clean_env(token: str) -> dict[str, str]:
    """The runner's whole environment: nothing from the grader's, nothing secret.

    ``HOME``, ``TMPDIR`` and ``MPLCONFIGDIR`` name the working folder, which the job
    gives: the runner sets them when the job arrives. ``DLBASICS_SANDBOX_TOKEN`` marks
    every process of this sandbox in ``/proc/PID/environ`` for
    :func:`dlbasics_grader.sandbox.processes.kill_all`. ``PYTHONHASHSEED`` is fixed (not
    derived from the grading seed, which must stay in the grader)."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
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
        "DLBASICS_SANDBOX": "1",
        "DLBASICS_SANDBOX_TOKEN": token,
    }


def widen_pipe(fd: int) -> None:
    """Give a pipe 1 MiB (the unprivileged maximum by default) instead of 64 KiB, so a large
    result crosses in a few reads instead of one grader wake-up per 64 KiB."""
    try:
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, CHANNEL_PIPE_BYTES)
    except (OSError, AttributeError):
        pass  # a smaller pipe is only slower


class RunnerProcess:
    """A started runner waiting for its job.

    ``job_fd``, ``work_fd``: the grader's (write) ends of the job and work pipes;
    ``read_fd``: its (read) end of the message pipe; ``token``: the random mark in the
    process's environment. :meth:`send_job` writes the job and closes its pipe;
    :meth:`close` kills the process if it still runs, reaps it and closes every pipe
    (idempotent). :class:`~dlbasics_grader.sandbox.launch.Launch` takes one over (or
    starts its own) and kills everything the runner started in the end.
    """

    def __init__(self) -> None:
        self.token = os.urandom(16).hex()
        self.t_start = time.monotonic()
        self.job_fd = self.read_fd = self.work_fd = -1
        self.proc: subprocess.Popen | None = None
        ours: list[int] = []
        try:
            job_read, self.job_fd = os.pipe()
            self.read_fd, msg_write = os.pipe()
            work_read, self.work_fd = os.pipe()
            ours = [job_read, msg_write, work_read]
            for fd in (self.job_fd, self.read_fd, self.work_fd):
                widen_pipe(fd)
            self.proc = subprocess.Popen(
                [sys.executable, "-X", "faulthandler", str(RUNNER), str(job_read),
                 str(msg_write), str(work_read)],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                pass_fds=tuple(ours), cwd="/", env=clean_env(self.token),
                start_new_session=True, close_fds=True)
        except BaseException:
            self.close()
            raise
        finally:
            for fd in ours:
                os.close(fd)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def send_job(self, data: bytes) -> None:
        """Write the job and close its pipe. A runner that has died is not an error here:
        the watch loop reports its exit."""
        fd, self.job_fd = self.job_fd, -1
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        except BrokenPipeError:
            pass
        finally:
            os.close(fd)

    def close(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            if proc.returncode is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except OSError:
                    pass
            for stream in (proc.stdout, proc.stderr):
                if stream:
                    stream.close()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        for name in ("job_fd", "read_fd", "work_fd"):
            fd = getattr(self, name)
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
                setattr(self, name, -1)
