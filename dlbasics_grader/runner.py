"""The program that runs one submission inside the sandbox.

Started by :mod:`dlbasics_grader.sandbox` as ``python runner.py JOB_FILE FD``.
It uses the standard library and NumPy only and imports nothing from
``dlbasics`` or the grader package (it loads ``codec.py`` and
``isolation.py`` from its own folder by path, before it restricts itself).
Steps:

1. Read the job (cells, probe drivers, inputs, limits) and delete its file.
2. Isolate itself with what the grader found on the host: a cgroup, network,
   IPC and mount namespaces, a private ``/tmp``, the hidden tests and
   solutions masked, resource limits, another user id (as root); then
   Landlock (files, TCP, signals) and seccomp (system calls).
3. Install the guards: an audit hook that refuses sockets, forbidden imports
   and (if so configured) new processes, and stand-in modules for forbidden
   imports (whose files Landlock also keeps unreadable).
4. Run the notebook's code cells in one namespace, each under a soft time
   limit on its CPU time (with a wall-clock backstop), recording errors and
   going on, as Jupyter's "Run All" with errors allowed would.
5. Run each probe driver and send its outputs back.

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
import types  # noqa: E402

import numpy as _np  # noqa: E402


def _load_sibling(name):
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location(f"_dlbasics_sandbox_{name}",
                                                  os.path.join(here, f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_codec = _load_sibling("codec")
_iso = _load_sibling("isolation")
CodecError, encode, decode = _codec.CodecError, _codec.encode, _codec.decode

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
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
_SYSTEM_READ = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/proc", "/sys",
                "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
                "/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/dev/urandom",
                "/dev/random", "/dev/zero")
_SYSTEM_WRITE = ("/dev/null",)


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
    return libc, ctypes


def _mount(libc, ctypes, src, target, fstype, flags, data=None):
    def b(s):
        return None if s is None else os.fsencode(s)

    if libc.mount(b(src), b(target), b(fstype), flags, b(data)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def _tmpfs(libc, ctypes, path, mode, size_mb, owner=""):
    _mount(libc, ctypes, "tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV,
           f"mode={mode},size={int(size_mb)}m{owner}")


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
        _tmpfs(libc, ctypes, path, mode, iso["tmp_mb"] if mode == "1777" else 1)
        hidden.append(path)
    for dst, keep in staged:
        os.makedirs(keep, mode=0o755, exist_ok=True)
        _mount(libc, ctypes, dst, keep, None, MS_BIND | MS_REC)
        try:
            _mount(libc, ctypes, None, keep, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC)
        except OSError:
            pass
        libc.umount2(os.fsencode(dst), MNT_DETACH)
    _work_tmpfs(libc, ctypes, iso)
    report["filesystem"] = (f"private /tmp and working folder ({int(iso['work_mb'])} MB); "
                            "masked: " + ", ".join(hidden))


def _work_tmpfs(libc, ctypes, iso):
    """The working directory lives in memory, with a size limit: no disk to fill."""
    uid = iso.get("uid")
    work = iso["workdir"]
    owner = f",uid={uid},gid={iso.get('gid', uid)}" if uid is not None else ""
    _tmpfs(libc, ctypes, work, "0700", iso["work_mb"], owner)
    os.makedirs(os.path.join(work, "tmp"), exist_ok=True)
    if uid is not None and os.geteuid() == 0:
        os.chown(os.path.join(work, "tmp"), uid, iso.get("gid", uid))


def _user_namespaces(libc, ctypes, iso, report):
    """Unprivileged: own user, network, IPC and mount namespaces; a private /tmp."""
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWNS) != 0:
        return False
    with open("/proc/self/setgroups", "w") as fh:
        fh.write("deny")
    with open("/proc/self/uid_map", "w") as fh:
        fh.write(f"{uid} {uid} 1")
    with open("/proc/self/gid_map", "w") as fh:
        fh.write(f"{gid} {gid} 1")
    report["network"] = "none (own network namespace)"
    report["ipc"] = "own IPC namespace"
    kept = []
    try:
        _mount(libc, ctypes, None, "/", None, MS_REC | MS_PRIVATE)
        # what the sandbox needs beneath /tmp (a virtual environment there) is held open
        # before the fresh tmpfs covers it, and bound back in from the held descriptor
        for path in iso.get("tmp_rebind", []):
            kept.append((path, os.open(path, os.O_PATH | os.O_CLOEXEC | os.O_DIRECTORY)))
        done = []
        for path in ("/tmp", "/var/tmp", "/dev/shm"):
            if os.path.isdir(path) and not os.path.islink(path):
                _tmpfs(libc, ctypes, path, "1777", iso["tmp_mb"])
                done.append(path)
        for path, fd in kept:
            os.makedirs(path, mode=0o755, exist_ok=True)
            _mount(libc, ctypes, f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
            try:
                _mount(libc, ctypes, None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC)
            except OSError:
                pass  # locked flags; Landlock still gives no write access there
        os.makedirs(iso["workdir"], mode=0o700, exist_ok=True)  # it may be under /tmp
        _work_tmpfs(libc, ctypes, iso)
        report["filesystem"] = (f"private {', '.join(done)} and working folder "
                                f"({int(iso['work_mb'])} MB)"
                                + ("; bound back: " + ", ".join(p for p, _ in kept)
                                   if kept else ""))
        report["private_tmp"] = "yes"
    except OSError as exc:
        report["filesystem"] = f"shared ({exc.strerror})"
        if kept:  # /tmp may be covered while the environment beneath it is not back
            raise SystemExit(f"the sandbox could not bind back {', '.join(p for p, _ in kept)} "
                             f"into its private /tmp: {exc}") from exc
    finally:
        for _, fd in kept:
            os.close(fd)
    return True


def _root_namespaces(libc, iso, uid):
    """As root: network, IPC and mount namespaces. Without CAP_SYS_ADMIN, through a
    user namespace mapping root and the sandbox user, whose maps a short-lived
    child (still in the grader's namespace, with CAP_SETUID) writes."""
    if iso.get("mount_ns"):
        return libc.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC) == 0
    if not iso.get("user_ns"):
        return False
    go_r, go_w = os.pipe()
    done_r, done_w = os.pipe()
    gid = iso.get("gid", uid)
    pid = os.fork()
    if pid == 0:  # the helper: wait for the parent to unshare, then write its maps
        os.close(go_w)
        ok = b"0"
        if os.read(go_r, 1) == b"1":
            try:
                parent = os.getppid()
                for name, outer in (("uid_map", uid), ("gid_map", gid)):
                    with open(f"/proc/{parent}/{name}", "w") as fh:
                        fh.write(f"0 0 1\n{outer} {outer} 1\n")
                ok = b"1"
            except OSError:
                ok = b"0"
        os.write(done_w, ok)
        os._exit(0)
    os.close(go_r)
    os.close(done_w)
    unshared = libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC) == 0
    os.write(go_w, b"1" if unshared else b"0")
    mapped = os.read(done_r, 1) == b"1"
    os.waitpid(pid, 0)
    for fd in (go_w, done_r):
        os.close(fd)
    if unshared and not mapped:
        raise OSError("could not map the sandbox user into its user namespace")
    return unshared


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


def _read_font_cache(iso):
    """The ready font list for matplotlib (read before /tmp may be masked)."""
    src = iso.get("font_cache")
    if not src:
        return None
    try:
        with open(src, "rb") as fh:
            return os.path.basename(src), fh.read()
    except OSError:
        return None


def _copy_font_cache(font, iso, uid):
    """Give matplotlib its font list in the sandbox's own config folder."""
    if not font:
        return
    try:
        folder = os.path.join(os.getcwd(), ".matplotlib")
        os.makedirs(folder, exist_ok=True)
        dst = os.path.join(folder, font[0])
        with open(dst, "wb") as fh:
            fh.write(font[1])
        if uid is not None and os.geteuid() == 0:
            for p in (folder, dst):
                os.chown(p, uid, iso.get("gid", uid))
    except OSError:
        pass


def _join_cgroup(iso, report):
    """Move this process into the cgroup the grader made for it (root only)."""
    paths = iso.get("cgroup") or []
    if not paths:
        return
    for path in paths:
        with open(os.path.join(path, "cgroup.procs"), "w") as fh:
            fh.write(str(os.getpid()))
    report["cgroup"] = iso.get("cgroup_summary", "yes")


def isolate(job):
    """Apply the job's isolation (all but Landlock and seccomp); returns a report."""
    iso = job["isolation"]
    report = {"user": "same as grader", "network": "audit hook only", "filesystem": "shared",
              "ipc": "shared", "cgroup": "none"}
    libc, ctypes = _libc()
    uid = iso.get("uid")
    font = _read_font_cache(iso)
    if os.geteuid() == 0 and uid is not None:
        _join_cgroup(iso, report)
        if _root_namespaces(libc, iso, uid):
            report["network"] = "none (own network namespace)"
            report["ipc"] = "own IPC namespace"
            try:
                _private_filesystem(libc, ctypes, iso, report)
                report["private_tmp"] = "yes"
            except OSError as exc:
                report["filesystem"] = f"shared ({exc})"
        if iso.get("need_mounts") and report["filesystem"].startswith("shared"):
            raise SystemExit(
                "the sandbox user cannot read the Python installation (a parent folder is "
                "closed to other users) and mount namespaces, which would open it, are not "
                f"available ({report['filesystem']}); install Python where every user can "
                "read it, or let the grader create namespaces"
            )
        _set_limits(job["limits"], report)
        os.setgroups([])
        os.setgid(iso["gid"])
        os.setuid(uid)
        report["user"] = f"uid {uid}"
    else:
        _set_limits(job["limits"], report)
        if iso.get("user_ns"):
            _user_namespaces(libc, ctypes, iso, report)
    os.chdir(job["workdir"])  # the working folder may be a new mount now
    _copy_font_cache(font, iso, None)
    _iso.drop_capabilities()
    _iso.no_new_privs()
    return report


def _under(path, parent):
    parent = parent.rstrip("/") or "/"
    return path == parent or path.startswith(parent if parent == "/" else parent + "/")


def _fs_rules(iso, report):
    """Landlock allow-lists: what the learner's code may read and write."""
    import sysconfig

    never = [os.path.realpath(p) for p in iso.get("never", [])]
    exclude = set(iso.get("exclude_entries", []))
    read, list_only, refused = [], [], []

    def allow(path, into):
        real = os.path.realpath(path)
        if any(_under(n, real) for n in never):
            refused.append(real)  # would open a folder the sandbox must not see
            return
        into.append(real)

    for p in _SYSTEM_READ:
        allow(p, read)
    paths = sysconfig.get_paths()
    stdlib = {os.path.realpath(paths[k]) for k in ("stdlib", "platstdlib") if paths.get(k)}
    site_dirs = []
    for entry in sys.path:
        real = os.path.realpath(entry) if entry else ""
        if real and os.path.isdir(real) and real not in stdlib and not any(
                _under(real, s) and real != s and os.path.basename(real) != "site-packages"
                for s in stdlib):
            site_dirs.append(real)
    for d in sorted(stdlib):
        allow(d, list_only)
        for name in os.listdir(d):
            if name not in ("site-packages", "dist-packages"):
                allow(os.path.join(d, name), read)
    for d in site_dirs:
        allow(d, list_only)
        for name in os.listdir(d):
            top = name.split("-")[0].split(".")[0]
            if name in exclude or top in exclude or name.startswith("dlbasics_grader"):
                continue
            allow(os.path.join(d, name), read)
    for base in {sys.base_prefix, sys.prefix, sys.exec_prefix}:
        allow(os.path.join(base, "bin"), read)
        allow(os.path.join(base, "pyvenv.cfg"), read)
        lib = os.path.join(base, "lib")
        if os.path.isdir(lib):
            for name in os.listdir(lib):
                if name.startswith("libpython"):
                    allow(os.path.join(lib, name), read)
    allow(os.path.dirname(os.path.realpath(sys.executable)), read)
    for name in iso.get("extra_packages", []):
        if name in exclude:
            continue
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        for loc in (spec.submodule_search_locations or []) if spec else []:
            allow(loc, read)
    write = [iso["workdir"], *_SYSTEM_WRITE]
    if report.get("private_tmp") == "yes":
        # not a folder with the environment bound back beneath it: the rule would open it all
        write += iso.get("tmp_write", [])
    if refused:
        report["landlock_refused"] = ", ".join(sorted(set(refused)))
    return read, write, list_only


def restrict(job, report):
    """Landlock and seccomp: the last step before the learner's code can run."""
    iso = job["isolation"]
    landlock = {}
    if iso.get("landlock"):
        read, write, list_only = _fs_rules(iso, report)
        landlock = _iso.apply_landlock(read, write, list_only)
        report["landlock"] = (f"ABI {landlock['abi']}: reads only the Python installation, "
                              "allowed packages and system folders; writes only its working "
                              "folder" + ("; no TCP" if landlock["net"] else "")
                              + ("; no signals out of the sandbox" if landlock["scoped"] else ""))
        if report["filesystem"].startswith("shared"):
            report["filesystem"] = "Landlock allow-list"
    else:
        report["landlock"] = "none"
    if iso.get("seccomp"):
        separate_user = report["user"].startswith("uid ")
        rules = _iso.apply_seccomp(signals_to_self_only=not separate_user
                                   and not landlock.get("scoped"))
        report["seccomp"] = "; ".join(rules)
        if report["network"].startswith("audit"):
            report["network"] = "no sockets but UNIX ones (seccomp)"
        if report["ipc"] == "shared":
            report["ipc"] = "System V IPC denied (seccomp)"
    else:
        report["seccomp"] = "none"
    if landlock.get("scoped") or report["user"].startswith("uid "):
        report["signals"] = "cannot signal the grader"
    elif iso.get("seccomp"):
        report["signals"] = "to itself only (seccomp)"
    else:
        report["signals"] = "may signal the grader's processes"


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
    """One JSON object per line to the grader, each with the job's nonce.

    Only the first process writes. The nonce keeps blind forgeries (learner
    code writing to every descriptor) out; it lives only in this closure, but
    code in the same process could still find it, which is why the grader
    also checks the order, size and content of every message.
    """

    def __init__(self, fd, nonce):
        pid, write, getpid, dumps = os.getpid(), os.write, os.getpid, json.dumps

        def send(**msg):
            if getpid() != pid:
                return
            msg["k"] = nonce
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
        self.wall_factor = float(job.get("wall_factor", 1.0))

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
    os.unlink(job_file)  # nothing the learner's code could read it from later
    chan = Channel(fd, job.pop("nonce"))
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    try:
        report = isolate(job)
        restrict(job, report)
    except SystemExit as exc:
        chan.send(ev="fatal", error=str(exc))
        os._exit(3)
    except Exception as exc:  # noqa: BLE001
        chan.send(ev="fatal", error=f"sandbox setup failed: {type(exc).__name__}: {exc}")
        os._exit(3)
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
    runner.run_cells(ns)
    chan.send(ev="cells_done")
    runner.run_probes(ns)
    runner._flush()
    chan.send(ev="done")
    os._exit(0)


if __name__ == "__main__":
    main()
