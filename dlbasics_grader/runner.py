"""The program that runs one submission inside the sandbox.

Started by :mod:`dlbasics_grader.sandbox` as ``python runner.py JOB_FILE FD``.
It uses the standard library and NumPy only and imports nothing from
``dlbasics`` (the package may be forbidden to the learner's code). Steps:

1. Read the job (cells, probe drivers, inputs, limits) while still privileged.
2. Isolate itself: network and mount namespaces, a private ``/tmp``, the hidden
   tests and solutions masked, resource limits, then drop to the sandbox user.
3. Install the guards: an audit hook that refuses sockets, forbidden imports
   and (if so configured) new processes, and stand-in modules for forbidden
   imports.
4. Run the notebook's code cells in one namespace, each under a soft time
   limit, recording errors and going on, as Jupyter's "Run All" with errors
   allowed would.
5. Run each probe driver and send its outputs back.

Everything goes back over file descriptor ``FD`` as one JSON object per line.
Nothing the learner's code can reach is trusted by the grader: the grader
re-validates every message.

The module also holds the tiny value codec (:func:`encode`, :func:`decode`)
that both sides use: JSON with NumPy arrays as base64 raw bytes plus dtype and
shape, never pickles.
"""

import builtins as _builtins_module

# A private copy of the builtins for this module's own code, taken before any
# learner code runs: a learner who replaces ``builtins.len`` or ``print`` does
# not change how the runner behaves.
__builtins__ = dict(_builtins_module.__dict__)
_PRISTINE_BUILTINS = dict(__builtins__)

import base64  # noqa: E402
import json  # noqa: E402
import linecache  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import types  # noqa: E402

import numpy as _np  # noqa: E402

# Private references, taken before the learner's code can replace them.
_np_array = _np.array
_np_ndarray = _np.ndarray
_np_generic = _np.generic
_np_dtype = _np.dtype
_np_frombuffer = _np.frombuffer

ARRAY_DTYPES = (
    "|b1", "|i1", "<i2", "<i4", "<i8", "|u1", "<u2", "<u4", "<u8", "<f2", "<f4", "<f8",
)
MAX_DEPTH = 32
MAX_STRING = 100_000

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
PR_SET_NO_NEW_PRIVS = 38
PR_SET_DUMPABLE = 4


# ----------------------------------------------------------------------------
# Value codec (shared with the grader)
# ----------------------------------------------------------------------------


class CodecError(ValueError):
    """A value that cannot travel between grader and sandbox."""


def encode(value, path="outputs", depth=0, budget=None):
    """JSON-ready copy of ``value``; arrays become ``{"__ndarray__": ...}``.

    Accepts None, bool, int, float, str, lists/tuples, dicts with str keys,
    NumPy scalars and NumPy arrays of bool/int/uint/float dtypes. ``budget``,
    a one-item list, is the number of array bytes still allowed; arrays
    beyond it raise :class:`CodecError` before anything is copied.
    """
    if budget is None:
        budget = [1 << 62]
    if depth > MAX_DEPTH:
        raise CodecError(f"{path} is nested more than {MAX_DEPTH} levels deep")
    t = type(value)
    if value is None or t is bool or t is int:
        return value
    if t is float:
        return value
    if t is str:
        if len(value) > MAX_STRING:
            raise CodecError(f"{path} is a string of {len(value)} characters (max {MAX_STRING})")
        return value
    if isinstance(value, _np_ndarray):
        size = int(value.size) * int(value.dtype.itemsize)
        budget[0] -= size
        if budget[0] < 0:
            raise CodecError(f"{path} ({size} bytes) makes the outputs larger than the grader "
                             "accepts")
        arr = _np_array(value, copy=True, subok=False, order="C")
        if arr.dtype.kind == "b":
            arr = arr.astype("|b1")
        dt = arr.dtype.newbyteorder("<") if arr.dtype.byteorder == ">" else arr.dtype
        arr = arr.astype(dt, copy=False)
        if arr.dtype.str not in ARRAY_DTYPES:
            raise CodecError(
                f"{path} is an array of dtype {arr.dtype}; only bool, integer and float "
                "arrays can be returned"
            )
        return {
            "__ndarray__": base64.b64encode(arr.tobytes()).decode("ascii"),
            "dtype": arr.dtype.str,
            "shape": [int(n) for n in arr.shape],
        }
    if isinstance(value, _np_generic):
        if value.dtype.kind not in "biuf":
            raise CodecError(f"{path} is a NumPy {value.dtype} scalar")
        return encode(value.item(), path, depth + 1, budget)
    if t is list or t is tuple:
        return [encode(v, f"{path}[{i}]", depth + 1, budget) for i, v in enumerate(value)]
    if t is dict:
        out = {}
        for k, v in value.items():
            if type(k) is not str:
                raise CodecError(f"{path} has a key of type {type(k).__name__}; keys must be str")
            out[k] = encode(v, f"{path}[{k!r}]", depth + 1, budget)
        return out
    raise CodecError(
        f"{path} is a {t.__module__}.{t.__name__}; return numbers, strings, lists "
        "or NumPy arrays"
    )


def decode(value, max_bytes, path="outputs", depth=0, _budget=None):
    """Inverse of :func:`encode` for untrusted input; checks every array.

    ``max_bytes`` bounds the total size of the arrays. Raises
    :class:`CodecError` on anything malformed.
    """
    budget = _budget if _budget is not None else [max_bytes]
    if depth > MAX_DEPTH:
        raise CodecError(f"{path} is nested too deeply")
    t = type(value)
    if value is None or t in (bool, int, float, str):
        return value
    if t is list:
        return [decode(v, max_bytes, f"{path}[{i}]", depth + 1, budget)
                for i, v in enumerate(value)]
    if t is dict:
        if "__ndarray__" in value:
            if set(value) != {"__ndarray__", "dtype", "shape"}:
                raise CodecError(f"{path} is a malformed array")
            dtype, shape, data = value["dtype"], value["shape"], value["__ndarray__"]
            if dtype not in ARRAY_DTYPES or type(data) is not str or type(shape) is not list:
                raise CodecError(f"{path} is a malformed array")
            if len(shape) > 32 or not all(type(n) is int and 0 <= n for n in shape):
                raise CodecError(f"{path} has a malformed shape")
            if len(data) * 3 // 4 > budget[0] + 3:
                raise CodecError(f"{path} is larger than the grader accepts")
            raw = base64.b64decode(data.encode("ascii"), validate=True)
            budget[0] -= len(raw)
            if budget[0] < 0:
                raise CodecError("the outputs are larger than the grader accepts")
            dt = _np_dtype(dtype)
            n = 1
            for s in shape:
                n *= s
            if n * dt.itemsize != len(raw):
                raise CodecError(f"{path}: shape {shape} does not match its data")
            return _np_frombuffer(raw, dtype=dt).reshape(shape).copy()
        return {str(k): decode(v, max_bytes, f"{path}[{k!r}]", depth + 1, budget)
                for k, v in value.items()}
    raise CodecError(f"{path} has an unexpected type")


# ----------------------------------------------------------------------------
# Isolation (runs first, privileged when the grader is root)
# ----------------------------------------------------------------------------


def _libc():
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                           ctypes.c_ulong, ctypes.c_char_p]
    libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
    libc.unshare.argtypes = [ctypes.c_int]
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                           ctypes.c_ulong]
    return libc, ctypes


def _mount(libc, ctypes, src, target, fstype, flags, data=None):
    def b(s):
        return None if s is None else os.fsencode(s)

    if libc.mount(b(src), b(target), b(fstype), flags, b(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def _private_filesystem(libc, ctypes, iso, report):
    """Mask paths with empty tmpfs mounts, re-exposing the ones the sandbox needs."""
    _mount(libc, ctypes, None, "/", None, MS_REC | MS_PRIVATE)
    stage = iso["stage"]
    staged = []
    for i, keep in enumerate(iso.get("rebind", [])):
        dst = os.path.join(stage, str(i))
        os.makedirs(dst, exist_ok=True)
        _mount(libc, ctypes, keep, dst, None, MS_BIND | MS_REC)
        staged.append((dst, keep))
    hidden = []
    for path, mode in iso.get("hide", []):
        if not os.path.isdir(path) or os.path.islink(path):
            continue
        size = "size=256m" if mode == "1777" else "size=1m"
        _mount(libc, ctypes, "tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, f"mode={mode},{size}")
        hidden.append(path)
    for dst, keep in staged:
        os.makedirs(keep, mode=0o755, exist_ok=True)
        _mount(libc, ctypes, dst, keep, None, MS_BIND | MS_REC)
        try:
            _mount(libc, ctypes, None, keep, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC)
        except OSError:
            pass
        libc.umount2(os.fsencode(dst), MNT_DETACH)
    # the working directory lives in memory, with a size limit: no disk to fill
    uid = iso.get("uid")
    work = iso["workdir"]
    owner = f",uid={uid},gid={iso.get('gid', uid)}" if uid is not None else ""
    _mount(libc, ctypes, "tmpfs", work, "tmpfs", MS_NOSUID | MS_NODEV,
           f"mode=0700,size={int(iso.get('work_mb', 256))}m{owner}")
    os.makedirs(os.path.join(work, "tmp"), exist_ok=True)
    if uid is not None:
        os.chown(os.path.join(work, "tmp"), uid, iso.get("gid", uid))
    report["filesystem"] = (f"private /tmp and working folder ({int(iso.get('work_mb', 256))} MB); "
                            "masked: " + ", ".join(hidden))


def _set_limits(limits, report):
    import resource

    mb = 1024 * 1024

    def setl(which, soft, hard=None):
        hard = soft if hard is None else hard
        cur_soft, cur_hard = resource.getrlimit(which)
        if cur_hard != resource.RLIM_INFINITY:
            hard = min(hard, cur_hard)
            soft = min(soft, hard)
        resource.setrlimit(which, (soft, hard))

    cpu = int(limits["cpu_s"])
    setl(resource.RLIMIT_CPU, cpu, cpu + 5)
    mem = int(limits["memory_mb"]) * mb
    kind = resource.RLIMIT_DATA if limits["memory_kind"] == "data" else resource.RLIMIT_AS
    setl(kind, mem)
    setl(resource.RLIMIT_FSIZE, int(limits["file_size_mb"]) * mb)
    setl(resource.RLIMIT_NOFILE, int(limits["open_files"]))
    setl(resource.RLIMIT_CORE, 0)
    setl(resource.RLIMIT_NPROC, int(limits["nproc_total"]))
    report["limits"] = (
        f"cpu {cpu} s, memory {limits['memory_mb']} MiB ({limits['memory_kind']}), "
        f"processes {limits['nproc_total']}, file size {limits['file_size_mb']} MiB, "
        f"open files {limits['open_files']}"
    )


def _copy_font_cache(iso, uid):
    """Give matplotlib a ready font list in the sandbox's own config folder."""
    src = iso.get("font_cache")
    if not src:
        return
    try:
        with open(src, "rb") as fh:
            data = fh.read()
        folder = os.path.join(os.getcwd(), ".matplotlib")
        os.makedirs(folder, exist_ok=True)
        dst = os.path.join(folder, os.path.basename(src))
        with open(dst, "wb") as fh:
            fh.write(data)
        if uid is not None and os.geteuid() == 0:
            for p in (folder, dst):
                os.chown(p, uid, iso.get("gid", uid))
    except OSError:
        pass


def isolate(job):
    """Apply the job's isolation; returns a report of what is in force."""
    iso = job["isolation"]
    report = {"user": "same as grader", "network": "audit hook only", "filesystem": "shared"}
    libc, ctypes = _libc()
    uid = iso.get("uid")
    namespaces = iso.get("namespaces", True)
    if os.geteuid() == 0 and uid is not None:
        if not namespaces:
            pass
        elif libc.unshare(CLONE_NEWNS | CLONE_NEWNET) == 0:
            report["network"] = "none (own network namespace)"
            try:
                _private_filesystem(libc, ctypes, iso, report)
            except OSError as exc:
                report["filesystem"] = f"shared ({exc})"
        elif libc.unshare(CLONE_NEWNET) == 0:
            report["network"] = "none (own network namespace)"
        if iso.get("need_mounts") and report["filesystem"] == "shared":
            raise SystemExit(
                "the sandbox user cannot read the Python installation (a parent folder is "
                "closed to other users) and mount namespaces, which would open it, are not "
                f"available ({report['filesystem']}); install Python where every user can "
                "read it, or let the grader create namespaces"
            )
    elif namespaces:
        outer_uid, outer_gid = os.getuid(), os.getgid()
        if libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0:
            try:
                with open("/proc/self/setgroups", "w") as fh:
                    fh.write("deny")
                with open("/proc/self/uid_map", "w") as fh:
                    fh.write(f"{outer_uid} {outer_uid} 1")
                with open("/proc/self/gid_map", "w") as fh:
                    fh.write(f"{outer_gid} {outer_gid} 1")
            except OSError:
                pass
            report["network"] = "none (own user and network namespace)"
    _set_limits(job["limits"], report)
    os.chdir(job["workdir"])
    _copy_font_cache(iso, uid)
    if os.geteuid() == 0 and uid is not None:
        os.setgroups([])
        os.setgid(iso["gid"])
        os.setuid(uid)
        report["user"] = f"uid {uid}"
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    return report


# ----------------------------------------------------------------------------
# Guards against the learner's code
# ----------------------------------------------------------------------------


class GradingTimeout(BaseException):  # noqa: N818 - shown to learners as is
    """Raised inside the learner's code when a time limit is reached."""


def _matches(name, prefixes):
    for p in prefixes:
        if name == p or name.startswith(p + "."):
            return True
    return False


def install_guards(policy):
    """Audit hook + stand-in modules for forbidden imports."""
    import importlib.abc
    import importlib.machinery

    forbidden = tuple(policy.get("forbidden_modules", ()))
    reason = policy.get("reason") or "this module is not allowed in this exercise"
    allow_processes = policy.get("allow_processes", True)
    network_events = {"socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg",
                      "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr",
                      "socket.getnameinfo"}
    process_events = {"os.fork", "os.forkpty", "os.system", "os.exec", "os.posix_spawn",
                      "os.spawn", "subprocess.Popen", "pty.spawn", "os.startfile"}

    def hook(event, args):
        if event in network_events:
            raise PermissionError("network access is disabled while grading")
        if event == "import" and forbidden:
            # The stand-in finder must answer first; if the learner's code moved
            # it, the real module must not load.
            name = args[0]
            if type(name) is str and _matches(name, forbidden):
                meta_path = sys.meta_path
                if not meta_path or meta_path[0] is not finder:
                    raise ImportError(f"{name} is blocked while grading: {reason}")
        if not allow_processes and event in process_events:
            raise PermissionError(f"starting processes ({event}) is disabled while grading")

    def make_blocked(name):
        def fail(*_a, **_k):
            raise ImportError(f"{name} is blocked while grading: {reason}")

        class Blocked:
            def __init__(self, *a, **k):
                fail()

            def __init_subclass__(cls, **k):
                pass

            def __getattr__(self, attr):
                fail()

        class Stand_in:
            __slots__ = ()

            def __call__(self, *a, **k):
                fail()

            def __getattr__(self, attr):
                if attr.startswith("__") and attr.endswith("__"):
                    raise AttributeError(attr)
                fail()

            def __mro_entries__(self, bases):
                return (Blocked,)

            def __repr__(self):
                return f"<blocked: {name}>"

        return Stand_in()

    class BlockedModule(types.ModuleType):
        def __getattr__(self, attr):
            if attr.startswith("__") and attr.endswith("__"):
                raise AttributeError(attr)
            return make_blocked(f"{self.__name__}.{attr}")

    class Loader(importlib.abc.Loader):
        def create_module(self, spec):
            return BlockedModule(spec.name)

        def exec_module(self, module):
            module.__path__ = []

    class Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if forbidden and _matches(name, forbidden):
                return importlib.machinery.ModuleSpec(name, Loader(), is_package=True)
            return None

    finder = Finder()
    if forbidden:
        for name in list(sys.modules):
            if _matches(name, forbidden):
                del sys.modules[name]
        sys.meta_path.insert(0, finder)
    sys.addaudithook(hook)


# ----------------------------------------------------------------------------
# Running cells and probes
# ----------------------------------------------------------------------------


class Channel:
    """One JSON object per line to the grader; only the first process writes."""

    def __init__(self, fd):
        self.fd = fd
        self.pid = os.getpid()
        self.write = os.write
        self.getpid = os.getpid
        self.dumps = json.dumps

    def send(self, **msg):
        if self.getpid() != self.pid:
            return
        data = (self.dumps(msg) + "\n").encode("utf-8")
        view = memoryview(data)
        while view:
            try:
                n = self.write(self.fd, view)
            except InterruptedError:
                continue
            except OSError:
                return
            view = view[n:]


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
            return "timeout", "the CPU time limit of the notebook was reached", ""
        return "timeout", timeout_msg or "time limit", ""
    status = "out of memory" if isinstance(exc, MemoryError) else "error"
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
    def __init__(self, job, channel):
        self.job = job
        self.chan = channel
        self.main_pid = os.getpid()
        self.perf = time.perf_counter
        self.setitimer = signal.setitimer
        self.signal = signal.signal
        self.exit = os._exit
        self.getpid = os.getpid

    def _on_alarm(self, signum, frame):
        raise GradingTimeout("time limit")

    def _on_cpu(self, signum, frame):
        raise GradingTimeout("CPU time limit")

    def _arm(self, seconds):
        self.signal(signal.SIGALRM, self._on_alarm)
        self.signal(signal.SIGXCPU, self._on_cpu)
        self.setitimer(signal.ITIMER_REAL, max(0.001, float(seconds)))

    def _disarm(self):
        self.setitimer(signal.ITIMER_REAL, 0)

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
        limit = float(self.job["cell_timeout_s"])
        for k, cell in enumerate(self.job["cells"]):
            if cell.get("skipped"):
                self.chan.send(ev="cell_end", i=k, status="skipped", error=cell["skipped"],
                               traceback="", t=0.0)
                continue
            name = f"<cell {cell['index'] + 1}>"
            code = cell["code"]
            linecache.cache[name] = (len(code), None, code.splitlines(True), name)
            self.chan.send(ev="cell_start", i=k)
            t0 = self.perf()
            status, error, tb = "ok", "", ""
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
            self.chan.send(ev="cell_end", i=k, status=status, error=error, traceback=tb,
                           t=round(self.perf() - t0, 4))

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
            return "error", "an exception that could not be described", ""

    def run_probes(self, ns):
        max_bytes = int(self.job["max_result_bytes"])
        start = int(self.job.get("start_probe", 0))
        pristine = dict(__builtins__)
        for j, probe in enumerate(self.job["probes"]):
            if j < start:
                continue
            self.chan.send(ev="probe_start", i=j)
            t0 = self.perf()
            name = f"<probe {probe['name']}>"
            src = probe["source"]
            linecache.cache[name] = (len(src), None, src.splitlines(True), name)
            status, error, tb, payload = "ok", "", "", None
            try:
                inputs = decode(probe["inputs"], 1 << 40)
                env = {"__name__": "__probe__", "__builtins__": pristine}
                exec(compile(src, name, "exec", dont_inherit=True), env)
                fn = env[probe["entry"]]
                self._arm(float(probe["timeout_s"]))
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
                status, error = "error", f"the grader could not read the result: {exc}"
                payload = None
            except BaseException as exc:  # noqa: BLE001
                status, error, tb = self._after_exception(
                    exc, f"the call ran longer than {float(probe['timeout_s']):g} s")
                payload = None
            self._not_main()
            self._restore()
            self._flush()
            self.chan.send(ev="probe_end", i=j, status=status, error=error, traceback=tb,
                           outputs=payload, t=round(self.perf() - t0, 4))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    job_file, fd = argv[0], int(argv[1])
    with open(job_file, encoding="utf-8") as fh:
        job = json.load(fh)
    chan = Channel(fd)
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    try:
        report = isolate(job)
    except SystemExit as exc:
        chan.send(ev="fatal", error=str(exc))
        os._exit(3)
    except Exception as exc:  # noqa: BLE001
        chan.send(ev="fatal", error=f"sandbox setup failed: {type(exc).__name__}: {exc}")
        os._exit(3)
    os.environ.pop("DLBASICS_SANDBOX_JOB", None)
    policy = job["policy"]
    for mod in policy.get("preload", ()):
        try:
            __import__(mod)
        except Exception:  # noqa: BLE001
            pass
    try:  # let BLAS allocate its buffers now, before the learner's code can use up memory
        _np.ones((256, 256)) @ _np.ones((256, 256))
    except Exception:  # noqa: BLE001
        pass
    chan.send(ev="ready", isolation=report)
    install_guards(policy)
    runner = Runner(job, chan)
    ns = runner.namespace()
    if int(job.get("start_probe", 0)) == 0 or job.get("rerun_cells", True):
        runner.run_cells(ns)
    chan.send(ev="cells_done")
    runner.run_probes(ns)
    runner._flush()
    chan.send(ev="done")
    os._exit(0)


if __name__ == "__main__":
    main()
