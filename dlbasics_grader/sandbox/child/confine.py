"""The runner's confinement: everything it applies to itself before learner code runs.

Loaded by path by :mod:`runner` (standard library only). :func:`isolate`
applies what needs privileges or namespaces (a cgroup, network, IPC and
mount namespaces, a private ``/tmp``, the hidden exercises and solutions
masked, resource limits, another user id as root); :func:`restrict` then
applies Landlock (files, TCP, signals) and seccomp (system calls). Both take
the job as a :class:`protocol.ChildJob` and ``kernel``, the
:mod:`dlbasics_grader.isolation` module the runner loaded.
"""

import importlib.util
import os
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2
_SYSTEM_READ = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/sys",
                "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
                "/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/dev/urandom",
                "/dev/random", "/dev/zero")
_SYSTEM_WRITE = ("/dev/null",)
_SITE_NAMES = ("site-packages", "dist-packages")
_PROC_READ = ("/proc/self", "/proc/cpuinfo", "/proc/meminfo", "/proc/stat", "/proc/sys",
              "/proc/filesystems", "/proc/loadavg", "/proc/uptime", "/proc/version")
"""All of /proc that Landlock lets the learner's code read: its own process (``/proc/self``
resolves to it) and the machine's description, never another process's entries."""


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


def _hold(paths):
    """``(path, O_PATH descriptor)`` for each path, opened before a mask covers it."""
    held = []
    try:
        for path in paths:
            held.append((path, os.open(path, os.O_PATH | os.O_CLOEXEC)))
    except OSError:
        _release(held)
        raise
    return held


def _release(held):
    for _, fd in held:
        os.close(fd)


def _bind_back(libc, ctypes, held):
    """Bind each held path back where it was, read-only (beneath a mask)."""
    for path, fd in held:
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            os.makedirs(path, mode=0o755, exist_ok=True)
        _mount(libc, ctypes, f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        try:
            _mount(libc, ctypes, None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC)
        except OSError:
            pass  # locked flags; Landlock still gives no write access there


def _private_filesystem(libc, ctypes, iso, report):
    """Mask paths with empty tmpfs mounts, re-exposing the ones the sandbox needs."""
    _mount(libc, ctypes, None, "/", None, MS_REC | MS_PRIVATE)
    held = _hold(iso.rebind)
    try:
        hidden = []
        for mask in iso.hide:
            if not os.path.isdir(mask.path) or os.path.islink(mask.path):
                continue
            _tmpfs(libc, ctypes, mask.path, mask.mode,
                   iso.tmp_mb if mask.mode == "1777" else 1)
            hidden.append(mask.path)
        _bind_back(libc, ctypes, held)
    finally:
        _release(held)
    _work_tmpfs(libc, ctypes, iso)
    report["filesystem"] = (f"private /tmp and working folder ({iso.work_mb} MB); "
                            "masked: " + ", ".join(hidden))


def _work_tmpfs(libc, ctypes, iso):
    """The working directory lives in memory, with a size limit: no disk to fill."""
    uid = iso.uid
    work = iso.workdir
    owner = f",uid={uid},gid={iso.gid}" if uid is not None else ""
    os.makedirs(work, mode=0o700, exist_ok=True)  # beneath a mask, it is made again
    _tmpfs(libc, ctypes, work, "0700", iso.work_mb, owner)
    os.makedirs(os.path.join(work, "tmp"), exist_ok=True)
    if uid is not None and os.geteuid() == 0:
        os.chown(os.path.join(work, "tmp"), uid, iso.gid)


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
    held = []
    try:
        _mount(libc, ctypes, None, "/", None, MS_REC | MS_PRIVATE)
        # what the sandbox needs beneath /tmp (a virtual environment there) is held open
        # before the fresh tmpfs covers it, and bound back in from the held descriptor
        held = _hold(iso.tmp_rebind)
        done = []
        for path in ("/tmp", "/var/tmp", "/dev/shm"):
            if os.path.isdir(path) and not os.path.islink(path):
                _tmpfs(libc, ctypes, path, "1777", iso.tmp_mb)
                done.append(path)
        for path in iso.runtime:
            if os.path.isdir(path) and not os.path.islink(path):
                _tmpfs(libc, ctypes, path, "755", 1)
                done.append(path)
        _bind_back(libc, ctypes, held)
        _work_tmpfs(libc, ctypes, iso)
        report["filesystem"] = (f"private {', '.join(done)} and working folder "
                                f"({iso.work_mb} MB)"
                                + ("; bound back: " + ", ".join(p for p, _ in held)
                                   if held else ""))
        report["private_tmp"] = "yes"
    except OSError as exc:
        report["filesystem"] = f"shared ({exc.strerror})"
        if held:  # /tmp may be covered while the environment beneath it is not back
            raise SystemExit(f"the sandbox could not bind back {', '.join(p for p, _ in held)} "
                             f"into its private /tmp: {exc}") from exc
    finally:
        _release(held)
    return True


def _root_namespaces(libc, iso, uid):
    """As root: network, IPC and mount namespaces. Without CAP_SYS_ADMIN, through a
    user namespace mapping root and the sandbox user, whose maps a short-lived
    child (still in the grader's namespace, with CAP_SETUID) writes."""
    if iso.mount_ns:
        return libc.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC) == 0
    if not iso.user_ns:
        return False
    go_r, go_w = os.pipe()
    done_r, done_w = os.pipe()
    gid = iso.gid
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


def _own_pid_namespace(libc, ctypes, report):
    """A PID namespace with its own ``/proc``: no other process is visible at all.

    The runner the grader started forks the namespace's first process (its
    init, pid 1), which mounts the new ``/proc`` and forks the process that
    goes on to run the notebook (pid 2); only that one returns from here. The
    two above it run no learner code: each waits for its child and then ends
    the way the notebook's process ended, so the grader sees its exit status
    and CPU time as before. When the init ends, the kernel kills whatever is
    left in the namespace.
    """
    if libc.unshare(CLONE_NEWPID) != 0:
        return
    status_r, status_w = os.pipe()
    init = os.fork()
    if init:  # the runner the grader watches
        os.close(status_w)
        _end_like(_wait_for(init, status_r))
    os.close(status_r)
    try:
        _mount(libc, ctypes, "proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        report["processes"] = "own PID namespace and /proc"
    except OSError:
        pass  # the host's /proc stays; Landlock keeps other processes' entries closed
    try:
        child = os.fork()
    except OSError:
        raise  # the runner reports it as a failed setup (EAGAIN: tried again by the grader)
    except BaseException:  # noqa: BLE001
        os._exit(3)
    if child:  # pid 1: reap every orphan, pass on how the notebook's process ended
        while True:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                os._exit(0)
            if pid == child:
                os.write(status_w, status.to_bytes(4, "little"))
                os._exit(0)
    os.close(status_w)


def _wait_for(pid, status_r):
    """The wait status of the notebook's process (reported by ``pid``), else of ``pid``."""
    _, own = os.waitpid(pid, 0)
    data = os.read(status_r, 4)
    return int.from_bytes(data, "little") if len(data) == 4 else own


def _end_like(status):
    """End this process as the one with wait status ``status`` ended."""
    import resource
    import signal

    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [sig])
        os.kill(os.getpid(), sig)
        os._exit(128 + sig)
    os._exit(os.waitstatus_to_exitcode(status))


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

    cpu = limits.cpu_s
    setl(resource.RLIMIT_CPU, cpu, cpu + 5)
    mem = limits.memory_mb * mb
    kind = resource.RLIMIT_DATA if limits.memory_kind == "data" else resource.RLIMIT_AS
    setl(kind, mem)
    setl(resource.RLIMIT_FSIZE, limits.file_size_mb * mb)
    setl(resource.RLIMIT_NOFILE, limits.open_files)
    setl(resource.RLIMIT_CORE, 0)
    setl(resource.RLIMIT_NPROC, limits.nproc_total)
    report["limits"] = (
        f"cpu {cpu} s, memory {limits.memory_mb} MiB ({limits.memory_kind}), "
        f"processes {limits.nproc_total}, file size {limits.file_size_mb} MiB, "
        f"open files {limits.open_files}"
    )


def _read_font_cache(iso):
    """The ready font list for matplotlib (read before /tmp may be masked)."""
    src = iso.font_cache
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
                os.chown(p, uid, iso.gid)
    except OSError:
        pass


def _join_cgroup(iso, report):
    """Move this process into the cgroup the grader made for it (root only)."""
    paths = iso.cgroup
    if not paths:
        return
    for path in paths:
        with open(os.path.join(path, "cgroup.procs"), "w") as fh:
            fh.write(str(os.getpid()))
    report["cgroup"] = iso.cgroup_summary or "yes"


def isolate(job, kernel):
    """Apply the job's isolation (all but Landlock and seccomp); returns a report."""
    iso = job.isolation
    report = {"user": "same as grader", "network": "audit hook only", "filesystem": "shared",
              "ipc": "shared", "cgroup": "none"}
    libc, ctypes = _libc()
    uid = iso.uid
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
        if iso.need_mounts and report["filesystem"].startswith("shared"):
            raise SystemExit(
                "the sandbox user cannot read the Python installation (a parent folder is "
                "closed to other users) and mount namespaces, which would open it, are not "
                f"available ({report['filesystem']}); install Python where every user can "
                "read it, or let the grader create namespaces"
            )
        if not report["filesystem"].startswith("shared"):
            _own_pid_namespace(libc, ctypes, report)
        _set_limits(job.limits, report)
        os.setgroups([])
        os.setgid(iso.gid)
        os.setuid(uid)
        report["user"] = f"uid {uid}"
    else:
        _set_limits(job.limits, report)
        if iso.user_ns and _user_namespaces(libc, ctypes, iso, report) \
                and report.get("private_tmp") == "yes":
            _own_pid_namespace(libc, ctypes, report)
    os.chdir(job.workdir)  # the working folder may be a new mount now
    _copy_font_cache(font, iso, None)
    kernel.drop_capabilities()
    kernel.no_new_privs()
    return report


def _under(path, parent):
    parent = parent.rstrip("/") or "/"
    return path == parent or path.startswith(parent if parent == "/" else parent + "/")


def _fs_rules(iso, report):
    """Landlock allow-lists: what the learner's code may read and write.

    A Landlock rule on a folder grants its rights to everything beneath it, so no
    rule may cover a *hole*: a folder the sandbox must never see (``iso.never``:
    hidden tests, solutions, the grader's package, the home folder) or a
    site-packages entry of a forbidden package (``torch`` in Exercise 1). A rule
    that would cover a hole is split: its folder becomes list-only and its
    children are allowed one by one, down to the hole, which gets no rule. Only
    real site folders (``site-packages``/``dist-packages``) of ``sys.path`` are
    opened, never another entry (an editable install puts a checkout's root on
    ``sys.path``; opening it would open the whole checkout).
    """
    import sysconfig

    exclude = set(iso.exclude_entries)
    paths = sysconfig.get_paths()
    stdlib = {os.path.realpath(paths[k]) for k in ("stdlib", "platstdlib") if paths.get(k)}
    site_dirs = sorted({os.path.realpath(e) for e in sys.path if e
                        and os.path.basename(os.path.realpath(e)) in _SITE_NAMES
                        and os.path.isdir(e)})
    # a hole that does not exist here (beneath the private /tmp, say) cannot be reached
    holes = {os.path.realpath(p) for p in iso.never if os.path.lexists(p)}
    for d in site_dirs:
        for name in os.listdir(d):
            top = name.split("-")[0].split(".")[0]
            if name in exclude or top in exclude or name.startswith("dlbasics_grader"):
                holes.add(os.path.realpath(os.path.join(d, name)))
    read, list_only, split = [], [], []

    def children(folder):
        """``(path, real)`` of each entry of the real folder ``folder``: ``real`` is the path
        itself unless the entry is a symbolic link (then None: resolve it)."""
        try:
            with os.scandir(folder) as entries:
                return [(e.path, None if e.is_symlink() else e.path) for e in entries]
        except OSError:
            return []

    def allow(path, into, depth=0, real=None):
        if real is None:  # a path that may hold links: resolve it (hundreds of entries do not)
            real = os.path.realpath(path)
            if not os.path.exists(real):
                return
        if real in holes:
            return
        inside = [h for h in holes if _under(h, real)]
        if not inside:
            into.append(real)
            return
        if depth > 12 or not os.path.isdir(real):
            return
        split.append(real)  # holds a hole: list it, open its children one by one
        list_only.append(real)
        for child, child_real in children(real):
            allow(child, into, depth + 1, child_real)

    for p in (*_SYSTEM_READ, *_PROC_READ):
        allow(p, read)
    for d in sorted(stdlib):
        list_only.append(d)
        for child, child_real in children(d):
            if os.path.basename(child) not in _SITE_NAMES:
                allow(child, read, 0, child_real)
    for d in site_dirs:
        allow(d, read)
    for base in {sys.base_prefix, sys.prefix, sys.exec_prefix}:
        allow(os.path.join(base, "bin"), read)
        allow(os.path.join(base, "pyvenv.cfg"), read)
        lib = os.path.join(base, "lib")
        if os.path.isdir(lib):
            for name in os.listdir(lib):
                if name.startswith("libpython"):
                    allow(os.path.join(lib, name), read)
    allow(os.path.dirname(os.path.realpath(sys.executable)), read)
    for name in iso.extra_packages:
        if name in exclude:
            continue
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        for loc in (spec.submodule_search_locations or []) if spec else []:
            allow(loc, read)
    write = [iso.workdir, *_SYSTEM_WRITE]
    if report.get("private_tmp") == "yes":
        # not a folder with the environment bound back beneath it: the rule would open it all
        write += iso.tmp_write
    write = [w for w in write if not any(_under(h, os.path.realpath(w)) for h in holes)]
    if split:
        report["landlock_split"] = ", ".join(sorted(set(split)))
    return read, write, list_only


def restrict(job, report, kernel):
    """Landlock and seccomp: the last step before the learner's code can run."""
    iso = job.isolation
    landlock = {}
    if iso.landlock:
        read, write, list_only = _fs_rules(iso, report)
        landlock = kernel.apply_landlock(read, write, list_only)
        report["landlock"] = (f"ABI {landlock['abi']}: reads only the Python installation, "
                              "allowed packages and system folders; writes only its working "
                              "folder" + ("; no TCP" if landlock["net"] else "")
                              + ("; no signals out of the sandbox" if landlock["scoped"] else ""))
        if report["filesystem"].startswith("shared"):
            report["filesystem"] = "Landlock allow-list"
    else:
        report["landlock"] = "none"
    if "processes" not in report:
        report["processes"] = ("only its own entry in /proc (Landlock)" if landlock
                               else "other processes visible in /proc")
    if iso.seccomp:
        separate_user = report["user"].startswith("uid ")
        rules = kernel.apply_seccomp(signals_to_self_only=not separate_user
                                   and not landlock.get("scoped"))
        report["seccomp"] = "; ".join(rules)
        if report["network"].startswith("audit"):
            report["network"] = "no sockets (seccomp)"
        if report["ipc"] == "shared":
            report["ipc"] = "System V IPC denied (seccomp)"
    else:
        report["seccomp"] = "none"
    if landlock.get("scoped") or report["user"].startswith("uid "):
        report["signals"] = "cannot signal the grader"
    elif iso.seccomp:
        report["signals"] = "to itself only (seccomp)"
    else:
        report["signals"] = "may signal the grader's processes"
