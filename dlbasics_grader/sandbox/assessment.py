"""What isolation this host gives every sandbox, and whether grading may go on."""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path

from dlbasics_grader import isolation
from dlbasics_grader.sandbox.fsplan import world_reachable


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


def readable_by_others(path: Path) -> bool:
    """Whether users other than the owner may read ``path`` (or a file in it)."""
    try:
        st = path.stat()
    except OSError:
        return False
    if not st.st_mode & 0o005:
        return False
    if path.is_dir() and not st.st_mode & stat.S_IXOTH:
        return False
    return world_reachable(path.resolve()) is None


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
    pid_ns = host["mount_ns"] or host["user_ns"]
    if host["mount_ns"] or (host["root"] and host["user_ns"]):
        mech["mounts"] = ("hidden tests and solutions masked; private /tmp; /run and "
                          "$XDG_RUNTIME_DIR masked")
    elif host["user_ns"]:
        mech["namespaces"] = ("own network, IPC and mount namespaces; private /tmp; /run and "
                              "$XDG_RUNTIME_DIR masked")
    else:
        missing.append("no namespaces: no private network, IPC and /tmp")
    if pid_ns:
        mech["processes"] = "own PID namespace and /proc"
    elif host["landlock"]:
        mech["processes"] = "only its own entry in /proc (Landlock)"
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
            open_paths = [str(p) for p in secret_paths if readable_by_others(Path(p))]
            if open_paths:
                refusal = ("without Landlock or mount namespaces only file permissions keep "
                           "the hidden tests and solutions from the sandbox user, and these "
                           "are readable by other users: " + ", ".join(open_paths)
                           + " (chmod go-rwx them)")
            else:
                mech["filesystem"] = "permissions only (secrets closed to other users)"
    if not refusal and "processes" not in mech:
        refusal = ("nothing on this machine keeps other processes' command lines in /proc "
                   "(which often hold passwords) from the submissions: no PID namespace and "
                   "no Landlock")
    if not refusal and not (host["seccomp"] or mech.get("mounts") or mech.get("namespaces")):
        refusal = ("nothing on this machine keeps the submissions from connecting to the "
                   "host's UNIX sockets (D-Bus, docker.sock, agents): no seccomp (libseccomp 2) "
                   "and no namespaces")
    return Assessment(mechanisms=mech, missing=tuple(missing), refusal=refusal)
