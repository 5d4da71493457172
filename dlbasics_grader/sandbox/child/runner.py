"""The program that runs one submission inside the sandbox.

Started by :class:`dlbasics_grader.sandbox.spawn.RunnerProcess` as
``python runner.py JOB_FD FD WORK_FD``, before the grader has prepared its job. It uses the
standard library and NumPy only and imports nothing from ``dlbasics`` or the grader package:
it loads :mod:`confine`, :mod:`guards`, the shared ``protocol.py``, ``codec.py`` and
``isolation.py`` by path, before it restricts itself. Steps:

1. Read the job from ``JOB_FD`` until the grader closes it; decode it strictly as a
   ``protocol.ChildJob`` (a missing or unknown field stops the runner). Point ``HOME``,
   ``TMPDIR`` and ``MPLCONFIGDIR`` into the job's working folder.
2. Confine itself (:func:`confine.isolate`, then :func:`confine.restrict`) and
   import the policy's preloaded modules, while the grader is still reading the
   notebook.
3. Read the cells and probes from ``WORK_FD`` until the grader closes it, and
   decode them strictly as a ``protocol.ChildWork``.
4. Install the guards (:func:`guards.install_guards`).
5. Run the notebook's code cells in one namespace, each under a soft time
   limit on its CPU time (with a wall-clock backstop), recording errors and
   going on, as Jupyter's "Run All" with errors allowed would.
6. Run each probe driver and send its outputs back.

Everything goes back over file descriptor ``FD`` as one JSON object per line,
each carrying the job's nonce. The learner's code runs in this process, so it
could write to ``FD`` too: the grader accepts only the expected messages, in
order, bounded in size, and keeps its own record of the isolation in force.
"""

import builtins as _builtins_module

# A private copy of the builtins for this module's own code, taken before any
# learner code runs: a learner who replaces ``builtins.len`` or ``print`` does
# not change how the runner behaves.
__builtins__ = dict(_builtins_module.__dict__)
_PRISTINE_BUILTINS = dict(__builtins__)

import importlib.util  # noqa: E402
import json  # noqa: E402
import linecache  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402

import numpy as _np  # noqa: E402

_HERE = os.path.dirname(os.path.abspath(__file__))


def _load(name, *path):
    """Load the module at ``path`` (relative to this folder) without importing its package."""
    spec = importlib.util.spec_from_file_location(f"_dlbasics_sandbox_{name}",
                                                  os.path.join(_HERE, *path))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


protocol = _load("protocol", os.pardir, "protocol.py")
_codec = _load("codec", os.pardir, os.pardir, "codec.py")
_kernel = _load("isolation", os.pardir, os.pardir, "isolation.py")
_confine = _load("confine", "confine.py")
_guards = _load("guards", "guards.py")
CodecError, encode, decode = _codec.CodecError, _codec.encode, _codec.decode
Event, PhaseStatus = protocol.Event, protocol.PhaseStatus

class GradingTimeout(BaseException):  # noqa: N818 - shown to learners as is
    """Raised inside the learner's code when a time limit is reached."""


# ----------------------------------------------------------------------------
# Running cells and probes
# ----------------------------------------------------------------------------


class Channel:
    """One JSON object per line to the grader, each with the job's nonce.

    Only the first process writes. The nonce keeps blind forgeries (learner
    code writing to every descriptor) out; it lives only in this closure, but
    code in the same process could still find it, which is why the grader
    also checks the order, size and content of every message.
    """

    def __init__(self, fd, nonce):
        pid, write, getpid, dumps = os.getpid(), os.write, os.getpid, json.dumps
        to_wire, marker = protocol.to_wire, protocol.Marker()

        def send(event, body=None):
            """Send ``body`` (a message of :mod:`protocol`) as an ``event`` message."""
            if getpid() != pid:
                return
            msg = {"k": nonce, "ev": event.value, **to_wire(body or marker)}
            data = (dumps(msg) + "\n").encode("utf-8", "surrogatepass")
            view = memoryview(data)
            while view:
                try:
                    n = write(fd, view)
                except InterruptedError:
                    continue
                except OSError:
                    return
                view = view[n:]

        self.send = send


def _safe_text(fn, limit=2000):
    try:
        text = fn()
        if type(text) is not str:
            text = str.__str__(text) if isinstance(text, str) else "<not text>"
    except BaseException:  # noqa: BLE001 - the learner's __str__ may raise anything
        text = "<could not be printed>"
    return text if len(text) <= limit else text[:limit] + " ..."


def _describe_exception(exc, timeout_msg=""):
    """(status, "Type: message", traceback text limited to learner code)."""
    if isinstance(exc, GradingTimeout):
        if exc.args and exc.args[0] == "CPU time limit":
            return PhaseStatus.TIMEOUT, "the CPU time limit of the notebook was reached", ""
        return PhaseStatus.TIMEOUT, timeout_msg or "time limit", ""
    status = PhaseStatus.OUT_OF_MEMORY if isinstance(exc, MemoryError) else PhaseStatus.ERROR
    name = type(exc).__name__
    msg = _safe_text(lambda: str(exc))
    text = f"{name}: {msg}" if msg else name
    if isinstance(exc, SystemExit):
        text = f"SystemExit({msg}): the code called sys.exit() or raised SystemExit"
    tb_lines = []
    try:
        frames = traceback.extract_tb(exc.__traceback__)
        if isinstance(exc, SyntaxError) and exc.filename and exc.filename.startswith("<"):
            line = (exc.text or "").rstrip()
            tb_lines.append(f"  {exc.filename.strip('<>')}, line {exc.lineno}\n    {line.strip()}")
        shown = [f for f in frames if f.filename.startswith(("<cell ", "<probe "))]
        for f in shown[-8:]:
            where = f.filename.strip("<>")
            if where.startswith("probe "):
                where = f"grader's call ({where})"
            tb_lines.append(f"  {where}, line {f.lineno}, in {f.name}\n    {(f.line or '').strip()}")
        if frames and shown and frames[-1] is not shown[-1]:
            last = frames[-1]
            tb_lines.append(f"  {os.path.basename(last.filename)}, line {last.lineno}, "
                            f"in {last.name}")
    except BaseException:  # noqa: BLE001
        pass
    tb = ""
    if tb_lines:
        tb = "Traceback (your code):\n" + "\n".join(tb_lines) + f"\n{text}"
    return status, text[:4000], tb[:8000]


class Runner:
    def __init__(self, job, work, channel):
        self.job, self.work = job, work
        self.chan = channel
        self.main_pid = os.getpid()
        self.perf = time.perf_counter
        self.setitimer = signal.setitimer
        self.signal = signal.signal
        self.exit = os._exit
        self.getpid = os.getpid
        self.wall_factor = job.wall_factor

    def _on_alarm(self, signum, frame):
        raise GradingTimeout("time limit")

    def _on_cpu(self, signum, frame):
        raise GradingTimeout("CPU time limit")

    def _arm(self, seconds):
        """Interrupt after ``seconds`` of this process's CPU time, or after the
        wall-clock backstop (``wall_factor`` times as long) for code that waits."""
        self.signal(signal.SIGPROF, self._on_alarm)
        self.signal(signal.SIGALRM, self._on_alarm)
        self.signal(signal.SIGXCPU, self._on_cpu)
        seconds = max(0.001, float(seconds))
        self.setitimer(signal.ITIMER_PROF, seconds)
        self.setitimer(signal.ITIMER_REAL, seconds * self.wall_factor)

    def _disarm(self):
        self.setitimer(signal.ITIMER_REAL, 0)
        self.setitimer(signal.ITIMER_PROF, 0)

    def _restore(self):
        """Undo changes the learner's code made to the builtins module."""
        real = _builtins_module.__dict__
        for k, v in _PRISTINE_BUILTINS.items():
            if real.get(k) is not v:
                real[k] = v

    def _not_main(self):
        if self.getpid() != self.main_pid:
            self.exit(0)

    def _flush(self):
        for stream in (sys.__stdout__, sys.__stderr__):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001
                pass

    def namespace(self):
        ns = {"__name__": "__main__", "__builtins__": _builtins_module}

        def display(*objs, **_):
            for o in objs:
                print(repr(o))

        class _FakeIPython:
            def __getattr__(self, name):
                return lambda *a, **k: None

        def check(*_a, **_k):
            print("(public checks do not run while grading)")

        ns["display"] = display
        ns["get_ipython"] = lambda: _FakeIPython()
        ns["check"] = check
        return ns

    def run_cells(self, ns):
        limit = self.job.cell_timeout_s
        for k, cell in enumerate(self.work.cells):
            if cell.skipped:
                self.chan.send(Event.CELL_END, protocol.CellEnd(
                    i=k, status=PhaseStatus.SKIPPED, error=cell.skipped, traceback="", t=0.0))
                continue
            name = f"<cell {cell.index + 1}>"
            code = cell.code
            linecache.cache[name] = (len(code), None, code.splitlines(True), name)
            self.chan.send(Event.CELL_START, protocol.Started(i=k))
            t0 = self.perf()
            status, error, tb = PhaseStatus.OK, "", ""
            try:
                self._arm(limit)
                try:
                    exec(compile(code, name, "exec", dont_inherit=True), ns)
                finally:
                    self._disarm()
            except BaseException as exc:  # noqa: BLE001 - everything the learner raises
                status, error, tb = self._after_exception(
                    exc, f"the cell ran longer than {limit:g} s")
            self._not_main()
            self._restore()
            self._flush()
            self.chan.send(Event.CELL_END, protocol.CellEnd(
                i=k, status=status, error=error, traceback=tb, t=round(self.perf() - t0, 4)))

    def _after_exception(self, exc: BaseException, timeout_message: str) -> tuple[str, str, str]:
        """Stop the timer, undo the learner's damage, and describe ``exc`` (within 5 s)."""
        self._disarm()
        self._not_main()
        self._restore()
        try:
            self._arm(5)
            described = _describe_exception(exc, timeout_message)
            self._disarm()
            return described
        except BaseException:  # noqa: BLE001
            self._disarm()
            return PhaseStatus.ERROR, "an exception that could not be described", ""

    def run_probes(self, ns):
        max_bytes = self.job.max_result_bytes
        start = self.work.start_probe
        pristine = dict(__builtins__)
        for j, probe in enumerate(self.work.probes):
            if j < start:
                continue
            self.chan.send(Event.PROBE_START, protocol.Started(i=j))
            t0 = self.perf()
            name = f"<probe {probe.name}>"
            src = probe.source
            linecache.cache[name] = (len(src), None, src.splitlines(True), name)
            status, error, tb, payload = PhaseStatus.OK, "", "", None
            try:
                inputs = decode(probe.inputs, 1 << 40)
                env = {"__name__": "__probe__", "__builtins__": pristine}
                exec(compile(src, name, "exec", dont_inherit=True), env)
                fn = env[probe.entry]
                self._arm(probe.timeout_s)
                try:
                    out = fn(ns, inputs)
                    self._restore()
                    if type(out) is not dict:
                        raise CodecError(
                            f"the probe returned {type(out).__name__}, not dict")
                    payload = encode(out, budget=[max_bytes * 3 // 4])
                finally:
                    self._disarm()
                size = len(json.dumps(payload))
                if size > max_bytes:
                    raise CodecError(f"the outputs are {size} bytes (max {max_bytes})")
            except CodecError as exc:
                self._disarm()
                status, error = PhaseStatus.ERROR, f"the grader could not read the result: {exc}"
                payload = None
            except BaseException as exc:  # noqa: BLE001
                status, error, tb = self._after_exception(
                    exc, f"the call ran longer than {probe.timeout_s:g} s")
                payload = None
            self._not_main()
            self._restore()
            self._flush()
            self.chan.send(Event.PROBE_END, protocol.ProbeEnd(
                i=j, status=status, error=error, traceback=tb, t=round(self.perf() - t0, 4),
                outputs=payload))


def _read_all(fd):
    """The JSON the grader writes to ``fd``, read until it closes its end; ``fd`` is closed."""
    chunks = []
    try:
        while True:
            try:
                data = os.read(fd, 1 << 20)
            except InterruptedError:
                continue
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(fd)
    return json.loads(b"".join(chunks))


def _use_workdir(workdir):
    """Point the environment's home, temporary and matplotlib folders into ``workdir``
    (the process started before its job named it)."""
    os.environ.update(HOME=workdir, TMPDIR=os.path.join(workdir, "tmp"),
                      MPLCONFIGDIR=os.path.join(workdir, ".matplotlib"))
    tempfile = sys.modules.get("tempfile")
    if tempfile is not None:
        tempfile.tempdir = None  # chosen again, from TMPDIR, when first needed


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    job_fd, fd, work_fd = int(argv[0]), int(argv[1]), int(argv[2])
    try:
        wire = _read_all(job_fd)
    except (OSError, ValueError):
        wire = None
    chan = Channel(fd, wire.get("nonce") if type(wire) is dict else "")
    try:
        job = protocol.from_wire(protocol.ChildJob, wire)
    except protocol.ProtocolError as exc:
        chan.send(Event.FATAL, protocol.Fatal(error=f"the grader sent a malformed job: {exc}"))
        os._exit(3)
    _use_workdir(job.workdir)
    del wire
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
    try:
        report = _confine.isolate(job, _kernel)
        # the notebook may run in a child of the process that started (its own PID namespace)
        chan = Channel(fd, job.nonce)
        _confine.restrict(job, report, _kernel)
    except SystemExit as exc:
        Channel(fd, job.nonce).send(Event.FATAL, protocol.Fatal(error=str(exc)))
        os._exit(3)
    except Exception as exc:  # noqa: BLE001
        Channel(fd, job.nonce).send(Event.FATAL, protocol.Fatal(
            error=f"sandbox setup failed: {type(exc).__name__}: {exc}"))
        os._exit(3)
    policy = job.policy
    for mod in policy.preload:
        try:
            __import__(mod)
        except Exception:  # noqa: BLE001
            pass
    try:  # let BLAS allocate its buffers now, before the learner's code can use up memory
        _np.ones((256, 256)) @ _np.ones((256, 256))
    except Exception:  # noqa: BLE001
        pass
    try:
        work = protocol.from_wire(protocol.ChildWork, _read_all(work_fd), "work")
    except (OSError, ValueError) as exc:  # ProtocolError and JSON errors are ValueErrors
        chan.send(Event.FATAL, protocol.Fatal(error=f"the grader sent malformed work: {exc}"))
        os._exit(3)
    chan.send(Event.READY, protocol.Ready(isolation=report))
    _guards.install_guards(policy)
    runner = Runner(job, work, chan)
    ns = runner.namespace()
    runner.run_cells(ns)
    chan.send(Event.CELLS_DONE)
    runner.run_probes(ns)
    runner._flush()
    chan.send(Event.DONE)
    os._exit(0)


if __name__ == "__main__":
    main()
