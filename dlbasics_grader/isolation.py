"""Kernel isolation that needs no root: Landlock, seccomp, and what the host allows.

This module is loaded twice: by the grader (``dlbasics_grader.isolation``), to
probe the host before grading, and by the sandbox's runner, by file path, to
restrict itself before any learner code runs. It uses the standard library
only (``ctypes`` for the system calls).

* :func:`apply_landlock` -- file-system rules (read-only and read-write
  allow-lists), no TCP bind or connect, no signals and no abstract UNIX
  sockets outside the sandbox (Landlock ABI 6 and later). Landlock works as a
  normal user (kernel 5.13 and later); the calling thread and everything it
  starts afterwards are restricted, for good.
* :func:`apply_seccomp` -- a system-call filter (libseccomp): no sockets (no
  network, no UNIX socket, no ``connect``; a connected ``socketpair`` only),
  no ptrace or access to other processes' memory, no System V IPC,
  no new namespaces or mounts, no keyrings, BPF or perf events, no new
  sessions or process groups (so the grader can find and kill every process
  of the sandbox), and, when Landlock cannot scope signals, no signals except
  to the process itself.
* :func:`host_support` -- which of the mechanisms this host offers to the
  grader (probed once, cheaply).

The system-call numbers of Landlock (444-446) are the same on every Linux
architecture.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os

SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1

# access rights on files and directories (bit numbers of the kernel's uapi)
FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_TRUNCATE = 1 << 14
FS_IOCTL_DEV = 1 << 15
_FS_ALL_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1}
_FS_ALL_LATEST = (1 << 16) - 1  # ABI 5 and later
_FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
READ_RIGHTS = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
NET_BIND_TCP = 1 << 0
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0
SCOPE_SIGNAL = 1 << 1

PR_SET_NO_NEW_PRIVS = 38
O_PATH = getattr(os, "O_PATH", 0o10000000)

# seccomp (libseccomp's constants)
SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_FLTATR_CTL_TSYNC = 4
SCMP_CMP_NE = 1
SCMP_CMP_EQ = 4
SCMP_CMP_MASKED_EQ = 7
AF_UNIX = 1
SOCK_DGRAM = 2
SOCK_TYPE_MASK = 0xF
_NAMESPACE_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000,
                    0x20000000, 0x40000000)  # NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
_DENIED_SYSCALLS = (
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    "shmget", "shmat", "shmctl", "semget", "semop", "semtimedop", "semctl",
    "msgget", "msgsnd", "msgrcv", "msgctl", "ipc",
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd",
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "fsopen", "fsmount",
    "move_mount", "open_tree", "mount_setattr",
    "io_uring_setup", "kexec_load", "kexec_file_load", "init_module", "finit_module",
    "delete_module", "swapon", "swapoff", "reboot", "acct", "quotactl",
    "name_to_handle_at", "open_by_handle_at", "setsid", "setpgid",
)


class IsolationError(OSError):
    """A mechanism this module was asked to apply is not available."""


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                           ctypes.c_ulong]
    return libc


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_abi() -> int:
    """The Landlock ABI version the kernel offers (0: none)."""
    if os.environ.get("DLBASICS_SANDBOX_DISABLE", "").find("landlock") >= 0:
        return 0
    try:
        libc = _libc()
    except OSError:
        return 0
    v = libc.syscall(SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0),
                     ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION))
    return int(v) if v > 0 else 0


def no_new_privs() -> None:
    """Set ``no_new_privs`` (needed by Landlock and seccomp without privileges)."""
    if _libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise IsolationError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")


def apply_landlock(read: list[str], write: list[str], list_only: list[str] = ()) -> dict:
    """Restrict this thread (and what it starts) to the given paths, for good.

    ``read``: files and folders readable (and executable); ``write``: read,
    write, create and delete beneath; ``list_only``: folders whose entries
    may be listed (and walked), but whose files stay unreadable unless another
    rule allows them. Missing paths are skipped. Returns what is in force:
    ``{"abi", "net", "scoped"}``.
    """
    abi = landlock_abi()
    if abi < 1:
        raise IsolationError(errno.ENOSYS, "Landlock is not available")
    libc = _libc()
    handled = _FS_ALL_BY_ABI.get(abi, _FS_ALL_LATEST)
    attr = _RulesetAttr(handled_access_fs=handled)
    size = 8
    if abi >= 4:
        attr.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP
        size = 16
    if abi >= 6:
        attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        size = 24
    fd = libc.syscall(SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size),
                      ctypes.c_uint32(0))
    if fd < 0:
        raise IsolationError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        for paths, rights in ((list_only, FS_READ_DIR), (read, READ_RIGHTS),
                              (write, handled)):
            for path in paths:
                _add_rule(libc, int(fd), path, rights & handled)
        no_new_privs()
        if libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(fd), ctypes.c_uint32(0)) != 0:
            raise IsolationError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(fd)
    return {"abi": abi, "net": abi >= 4, "scoped": abi >= 6}


def _add_rule(libc, ruleset_fd: int, path: str, rights: int) -> None:
    try:
        pfd = os.open(path, O_PATH | os.O_CLOEXEC)
    except OSError:
        return
    try:
        if not os.path.isdir(path):
            rights &= _FILE_RIGHTS
        rule = _PathBeneath(allowed_access=rights, parent_fd=pfd)
        if libc.syscall(SYS_LANDLOCK_ADD_RULE, ctypes.c_int(ruleset_fd),
                        ctypes.c_int(LANDLOCK_RULE_PATH_BENEATH), ctypes.byref(rule),
                        ctypes.c_uint32(0)) != 0:
            raise IsolationError(ctypes.get_errno(), f"landlock_add_rule {path} failed")
    finally:
        os.close(pfd)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def drop_capabilities() -> None:
    """Empty this thread's capability sets (those a new user namespace gave it)."""
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    if _libc().capset(ctypes.byref(header), data) != 0:
        raise IsolationError(ctypes.get_errno(), "capset failed")


# ----------------------------------------------------------------------------
# seccomp
# ----------------------------------------------------------------------------


class ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


def libseccomp():
    """libseccomp 2 through ctypes (argument types set), or None."""
    if "seccomp" in os.environ.get("DLBASICS_SANDBOX_DISABLE", ""):
        return None
    # the soname first: find_library runs `ldconfig -p`, a process, and is needed only where
    # the soname is not found
    for name in ("libseccomp.so.2", None):
        name = name or ctypes.util.find_library("seccomp")
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name, use_errno=True)
        except OSError:
            continue
        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_init.argtypes = [ctypes.c_uint32]
        lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                               ctypes.c_uint, ctypes.POINTER(ArgCmp)]
        lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_load.argtypes = [ctypes.c_void_p]
        lib.seccomp_release.argtypes = [ctypes.c_void_p]
        lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
        return lib
    return None


def seccomp_available() -> bool:
    """True when libseccomp can be loaded."""
    return libseccomp() is not None


def _errno_action(err: int) -> int:
    return 0x00050000 | (err & 0xFFFF)


def apply_seccomp(signals_to_self_only: bool) -> list[str]:
    """Install the filter described in the module docstring on every thread.

    With ``signals_to_self_only`` (when nothing else keeps the sandbox from
    signalling the grader), ``kill``/``tkill``/``tgkill`` work only on the
    calling process itself. Returns the names of the rules in force.
    """
    lib = libseccomp()
    if lib is None:
        raise IsolationError(errno.ENOSYS, "libseccomp is not available")
    ctx = lib.seccomp_init(SCMP_ACT_ALLOW)
    if not ctx:
        raise IsolationError(errno.ENOMEM, "seccomp_init failed")
    eperm = _errno_action(errno.EPERM)
    rules = []

    def add(name: str, action: int, *cmps: tuple[int, int, int, int]) -> bool:
        nr = lib.seccomp_syscall_resolve_name(name.encode())
        if nr < 0:
            return False
        arr = (ArgCmp * max(len(cmps), 1))(*[ArgCmp(*c) for c in cmps])
        rc = lib.seccomp_rule_add_array(ctx, action, nr, len(cmps), arr)
        if rc != 0:
            raise IsolationError(-rc, f"seccomp rule for {name} failed")
        return True

    try:
        lib.seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)
        # no socket can reach anything: no network family, no UNIX socket (pathname or
        # abstract: D-Bus, ssh and gpg agents, docker.sock, syslog), no connect or bind;
        # only a connected stream pair (socketpair) between the sandbox's own processes
        add("socket", _errno_action(errno.EAFNOSUPPORT), (0, SCMP_CMP_NE, AF_UNIX, 0))
        add("socket", eperm, (0, SCMP_CMP_EQ, AF_UNIX, 0))
        add("socketpair", _errno_action(errno.EAFNOSUPPORT), (0, SCMP_CMP_NE, AF_UNIX, 0))
        add("socketpair", eperm, (1, SCMP_CMP_MASKED_EQ, SOCK_TYPE_MASK, SOCK_DGRAM))
        for name in ("connect", "bind"):
            add(name, eperm)
        add("sendto", eperm, (4, SCMP_CMP_NE, 0, 0))  # a destination address
        rules.append("sockets: none (no network, no UNIX socket, no connect)")
        for name in _DENIED_SYSCALLS:
            add(name, eperm)
        rules.append("no ptrace, SysV IPC, namespaces, mounts, keyrings, BPF, new sessions")
        for flag in _NAMESPACE_FLAGS:
            add("clone", eperm, (0, SCMP_CMP_MASKED_EQ, flag, flag))
        add("clone3", _errno_action(errno.ENOSYS))  # glibc falls back to clone()
        if signals_to_self_only:
            me = os.getpid()
            for name in ("kill", "tgkill"):
                add(name, eperm, (0, SCMP_CMP_NE, me, 0))
            add("tkill", eperm)
            rules.append("signals to itself only")
        no_new_privs()
        rc = lib.seccomp_load(ctx)
        if rc != 0:
            raise IsolationError(-rc, "seccomp_load failed")
    finally:
        lib.seccomp_release(ctx)
    return rules


# ----------------------------------------------------------------------------
# What the host offers
# ----------------------------------------------------------------------------


def _can_unshare(flags: int) -> bool:
    """Whether a child process may create the namespaces in ``flags``."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            rc = _libc().unshare(flags)
        except BaseException:  # noqa: BLE001
            rc = -1
        os._exit(0 if rc == 0 else 1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def _has_cap_sys_admin() -> bool:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) & (1 << 21))
    except OSError:
        pass
    return False


_HOST: dict[str, dict] = {}


def host_support() -> dict:
    """What this host lets the grader use (cached).

    Keys: ``root`` (a separate sandbox user), ``mount_ns`` (root with
    CAP_SYS_ADMIN: mounts that hide folders), ``user_ns`` (unprivileged user,
    network and IPC namespaces), ``landlock`` (ABI, 0 if none), ``seccomp``,
    ``cgroup`` (a writable cgroup hierarchy for per-sandbox CPU and memory).
    ``DLBASICS_SANDBOX_DISABLE`` (comma-separated names) switches mechanisms
    off, to test how the grader behaves on hosts without them.
    """
    disabled = os.environ.get("DLBASICS_SANDBOX_DISABLE", "")
    if disabled in _HOST:
        return dict(_HOST[disabled])
    root = os.geteuid() == 0 and "uid" not in disabled
    namespaces = "namespaces" not in disabled
    _HOST[disabled] = dict(
        root=root,
        mount_ns=root and namespaces and _has_cap_sys_admin(),
        user_ns=namespaces and _can_unshare(0x10000000 | 0x40000000 | 0x08000000),
        landlock=landlock_abi(),
        seccomp=seccomp_available(),
        cgroup="cgroup" not in disabled and root and _cgroup_writable(),
    )
    return dict(_HOST[disabled])


CGROUP_ROOT = "/sys/fs/cgroup"
CGROUP_CONTROLLERS = ("memory", "cpu", "cpuacct", "pids")


def _cgroup_writable() -> bool:
    return all(os.access(os.path.join(CGROUP_ROOT, c), os.W_OK) and
               os.path.exists(os.path.join(CGROUP_ROOT, c, "cgroup.procs"))
               for c in CGROUP_CONTROLLERS)
