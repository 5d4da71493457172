"""The watch loop: read one runner's output and messages, enforce the time limits.

:class:`Watch` reads the runner's stdout and stderr (keeping only a head and a
tail, :class:`CappedStream`) and its message channel; :class:`MessageGate`
accepts only the expected messages, in the one order the runner sends them,
decoded strictly by :mod:`~dlbasics_grader.sandbox.protocol` and bounded in
size and number. The loop stops the run when a limit passes (per cell, per
probe, in total: on the sandbox's own CPU time, with a wall-clock backstop).
"""

from __future__ import annotations

import json
import math
import os
import selectors
import signal
import time
from pathlib import Path

from dlbasics_grader.sandbox import protocol
from dlbasics_grader.sandbox.job import Job, Phase, RawRun
from dlbasics_grader.sandbox.processes import CpuMeter
from dlbasics_grader.sandbox.protocol import Event, PhaseStatus
from dlbasics_grader.untrusted import clean_text

GRACE_S = 2.0
WALL_FACTOR = 2.0
"""Wall-clock backstop: a limit on CPU time also ends after this many times as
long in wall time (code that sleeps or waits uses no CPU)."""
MAX_MESSAGES = 10_000
SMALL_MESSAGE = 256 * 1024
READ_BYTES = 1 << 20
"""Most bytes read from a stream at once (the message pipe holds 1 MiB)."""
MAX_ITEMS = 1_000_000
"""Most lists, objects and elements one message may hold, counted in its bytes before it is
decoded: JSON amplifies (``[[],[],...]`` takes 3 bytes a list as text and about 60 decoded),
and arrays travel as one base64 string each, so honest results hold few."""


class CappedStream:
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




class MessageGate:
    """Accepts the runner's messages in the one order the runner sends them.

    ``ready`` (once, before any learner code) -> per cell ``cell_start i`` and
    ``cell_end i`` (a skipped cell: ``cell_end`` only) -> ``cells_done`` ->
    per probe ``probe_start j``, ``probe_end j`` -> ``done``. A line without
    the nonce is ignored (counted); one with the nonce that does not fit the
    order, or does not match its type in :mod:`protocol` exactly, stops the
    run: only learner code that dug the nonce out of the runner's memory could
    have sent it.
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
        if line.count(b",") + line.count(b"[") + line.count(b"{") > MAX_ITEMS:
            self.violation = ("it sent the grader a result with more than "
                              f"{MAX_ITEMS:,} items (return NumPy arrays)")
            return
        try:
            msg = json.loads(line)
        except (ValueError, RecursionError, MemoryError):
            msg = None
        if type(msg) is not dict or msg.get("k") != self.nonce:
            self.run.ignored_messages += 1
            return
        del msg["k"]
        ev = msg.get("ev")
        if ev != Event.PROBE_END and len(line) > SMALL_MESSAGE:
            self.violation = "it sent the grader a message larger than expected"
            return
        try:
            event, body = protocol.read_message(msg)
        except protocol.ProtocolError:
            event = body = None
        handler = getattr(self, f"_on_{event.value}") if event is not None else None
        if handler is None or not handler(body):
            self.violation = (f"it sent the grader an unexpected message ({clean_text(ev, 40)!r} "
                              f"while in {self.state})")

    def _start(self, state: str, index: int) -> None:
        self.state, self.index = state, index
        self.started, self.started_cpu = time.monotonic(), self.cpu()

    def _end(self, msg: protocol.CellEnd | protocol.ProbeEnd, into: dict[int, Phase]) -> Phase:
        ph = phase_from(msg)
        ph.cpu_s = max(0.0, self.cpu() - self.started_cpu)
        into[self.index] = ph
        return ph

    def _on_ready(self, msg: protocol.Ready) -> bool:
        if self.state != "setup":
            return False
        if len(msg.isolation) < 32:
            self.run.isolation = {clean_text(k, 40): clean_text(v, 400)
                                  for k, v in msg.isolation.items()}
        self.state = "cells"
        return True

    def _on_fatal(self, msg: protocol.Fatal) -> bool:
        if self.state != "setup":
            return False
        self.run.fatal = clean_text(msg.error, 2000)
        self.state = "done"
        return True

    def _begin(self, msg: protocol.Started, waiting: str, expected: int, kind: str) -> bool:
        if self.state != waiting or msg.i != expected:
            return False
        self._start(kind, msg.i)
        return True

    def _all_ended(self, waiting: str, next_index: int, total: int, then: str) -> bool:
        """Accept ``cells_done`` or ``done``: only in state ``waiting`` and once all
        ``total`` cells or probes have ended; then move on to state ``then``."""
        if self.state != waiting or next_index != total:
            return False
        self.state = then
        return True

    def _on_cell_start(self, msg: protocol.Started) -> bool:
        return self._begin(msg, "cells", self.next_cell, "cell")

    def _on_cell_end(self, msg: protocol.CellEnd) -> bool:
        i = msg.i
        skipped = (self.state == "cells" and i == self.next_cell
                   and i < len(self.job.cells) and self.job.cells[i].skipped)
        if not (skipped or (self.state == "cell" and i == self.index)):
            return False
        if skipped:
            self._start("cell", i)
        self._end(msg, self.run.cells)
        self.state, self.next_cell = "cells", i + 1
        return True

    def _on_cells_done(self, msg: protocol.Marker) -> bool:
        return self._all_ended("cells", self.next_cell, len(self.job.cells), "probes")

    def _on_probe_start(self, msg: protocol.Started) -> bool:
        return self._begin(msg, "probes", self.next_probe, "probe")

    def _on_probe_end(self, msg: protocol.ProbeEnd) -> bool:
        if self.state != "probe" or msg.i != self.index:
            return False
        ph = self._end(msg, self.run.probes)
        ph.outputs = msg.outputs if ph.status == PhaseStatus.OK else None
        self.state, self.next_probe = "probes", msg.i + 1
        return True

    def _on_done(self, msg: protocol.Marker) -> bool:
        self.run.finished = self._all_ended("probes", self.next_probe, len(self.job.probes), "done")
        return self.run.finished


def phase_from(msg: protocol.CellEnd | protocol.ProbeEnd) -> Phase:
    """The :class:`Phase` a runner's end message reports (its text cleaned and bounded)."""
    status = msg.status if msg.status in protocol.RUNNER_STATUSES else PhaseStatus.ERROR
    t = msg.t
    return Phase(
        status=status,
        error=clean_text(msg.error, 4000),
        traceback=clean_text(msg.traceback, 8000),
        duration_s=t if -1 < t < 1e7 and math.isfinite(t) else 0.0,
    )


class FolderMeter:
    """Bounds what a working folder without a filesystem of its own holds: at most
    ``max_bytes`` of allocated blocks and ``max_entries`` files and folders (so that
    measuring it stays cheap), read at most every ``every_s`` seconds."""

    def __init__(self, folder: Path, max_bytes: int, max_entries: int = 20_000,
                 every_s: float = 0.1) -> None:
        self.folder, self.max_bytes, self.max_entries = folder, max_bytes, max_entries
        self.every_s, self.next = every_s, 0.0

    def over(self, now: float) -> str:
        """Why the folder is over its bounds ("" when it is not, or not read this time)."""
        if now < self.next:
            return ""
        self.next = now + self.every_s
        used, entries, todo = 0, 0, [str(self.folder)]
        while todo:
            try:
                with os.scandir(todo.pop()) as it:
                    for entry in it:
                        entries += 1
                        if entries > self.max_entries:
                            return (f"the notebook made more than {self.max_entries} files in "
                                    "its working folder")
                        st = entry.stat(follow_symlinks=False)
                        used += st.st_blocks * 512
                        if entry.is_dir(follow_symlinks=False):
                            todo.append(entry.path)
            except OSError:
                continue
        if used > self.max_bytes:
            return (f"the notebook wrote more than {self.max_bytes >> 20} MB into its working "
                    "folder")
        return ""


class Watch:
    """Reads one runner's streams and messages; stops it when a limit passes."""

    def __init__(self, proc, read_fd, job: Job, nonce, meter: CpuMeter, deadline: float,
                 cpu_left: float, run: RawRun, disk: FolderMeter | None = None,
                 work: tuple[int, bytes] | None = None) -> None:
        self.proc, self.job, self.meter, self.run = proc, job, meter, run
        self.disk = disk
        self.deadline, self.cpu_left = deadline, cpu_left
        keep = job.limits.output_kb * 1024 // 2
        self.out, self.err = CappedStream(keep), CappedStream(keep)
        self.max_line = int(job.limits.result_mb * 1024 * 1024 * 1.5) + 65536
        self.buf = bytearray()
        self.proto = MessageGate(job, nonce, run, meter.read)
        self.sel = selectors.DefaultSelector()
        self.sel.register(proc.stdout, selectors.EVENT_READ, "out")
        self.sel.register(proc.stderr, selectors.EVENT_READ, "err")
        os.set_blocking(read_fd, False)
        self.chan = os.fdopen(read_fd, "rb", buffering=0, closefd=False)
        self.sel.register(self.chan, selectors.EVENT_READ, "chan")
        self.open_streams = 3
        self.work_fd, self.work = -1, memoryview(b"")
        if work is not None:  # the runner's work, written as its pipe takes it, then closed
            self.work_fd, self.work = work[0], memoryview(work[1])
            os.set_blocking(self.work_fd, False)
            self.sel.register(self.work_fd, selectors.EVENT_WRITE, "work")
        self.rusage = None
        self.stop_status: PhaseStatus | None = None
        self.stop_reason = ""

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
            self.stop_status = PhaseStatus.TIMEOUT
            self.stop_reason = "the total time limit for the notebook was reached"
        else:
            cpu_lim, wall_lim, why = self._phase_limit()
            if (cpu - self.proto.started_cpu >= cpu_lim
                    or now - self.proto.started >= wall_lim):
                self.stop_status, self.stop_reason = PhaseStatus.TIMEOUT, why
            elif self.disk is not None and (why := self.disk.over(now)):
                self.stop_status, self.stop_reason = PhaseStatus.CRASHED, why
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

    def _write_work(self) -> None:
        """Write what the work pipe takes now; close it when all is written or the runner
        has gone (its setup failed: the channel says why)."""
        try:
            n = os.write(self.work_fd, self.work[:READ_BYTES])
        except BlockingIOError:
            return
        except OSError:
            n, self.work = 0, memoryview(b"")
        self.work = self.work[n:]
        if not self.work:
            self._close_work()

    def _close_work(self) -> None:
        if self.work_fd >= 0:
            self.sel.unregister(self.work_fd)
            os.close(self.work_fd)
            self.work_fd = -1

    def _read_ready(self, timeout: float) -> None:
        for key, _ in self.sel.select(timeout=timeout):
            if key.data == "work":
                self._write_work()
                continue
            try:
                data = os.read(key.fileobj.fileno(), READ_BYTES)
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
                data = self.chan.read(READ_BYTES)
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
                self.stop_status, self.stop_reason = PhaseStatus.CRASHED, self.proto.violation
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
        self._close_work()
        self.sel.close()
        self.chan.close()
        self.run.stdout, self.run.stderr = self.out.text(), self.err.text()
        if self.proto.violation and not self.stop_status:
            self.stop_status, self.stop_reason = PhaseStatus.CRASHED, self.proto.violation
            self.run.stopped_in = self.proto.phase
        if self.run.finished and not self.stop_status:
            return
        if not self.stop_status:
            self.run.stopped_in = self.proto.phase
            self.stop_status, self.stop_reason = self._classify_exit()
        self.run.stop_status, self.run.stop_reason = self.stop_status, self.stop_reason
        self.run.finished = False

    def _classify_exit(self) -> tuple[PhaseStatus, str]:
        code = self.proc.returncode
        lim = self.job.limits
        if self.run.fatal:
            return PhaseStatus.CRASHED, self.run.fatal
        if code is not None and code < 0:
            sig = -code
            ru = self.rusage
            cpu = (ru.ru_utime + ru.ru_stime) if ru else 0.0
            if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= lim.cpu_s - 0.5):
                return PhaseStatus.TIMEOUT, f"the CPU time limit of {lim.cpu_s} s was reached"
            if sig == signal.SIGKILL:
                return (PhaseStatus.OUT_OF_MEMORY, "the process was killed (SIGKILL), most likely for "
                        "using too much memory")
            return PhaseStatus.CRASHED, f"the process was killed by {signal_name(sig)}"
        return PhaseStatus.CRASHED, (f"the process exited with code {code} (os._exit(), or a hard exit "
                           "inside a library)")


def signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


