"""Run a command the way Docker runs a container by default: ``python default.py -- CMD ...``.

Docker's default is what Gradescope gives an autograder: root, with Docker's
default capability set (no CAP_SYS_ADMIN), under the seccomp profile Docker
applies when none is named (``seccomp_default.json``, vendored from the moby
project, Apache-2.0: see ``NOTICE.md``). That profile denies ``unshare``,
``mount``, ``setns``, namespace flags to ``clone``, ``keyctl``, ``bpf`` and
every other system call it does not list.

This loads the profile with libseccomp (ctypes), the way runc does: rules
that ``includes`` capabilities the container lacks, or architectures other
than this one, are left out; rules that ``excludes`` a capability it lacks
are kept. Then it drops to Docker's capability set with ``setpriv`` and runs
the command. The filter is installed while CAP_SYS_ADMIN is still held, so,
as in Docker, ``no_new_privs`` is not set. Run it with the repository on
``PYTHONPATH`` (it uses the grader's ctypes binding of libseccomp).
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path

from dlbasics_grader.isolation import ArgCmp, libseccomp

PROFILE = Path(__file__).with_name("seccomp_default.json")
CAPABILITIES = ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
                "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
                "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE")
"""Docker's default capabilities (moby ``daemon/pkg/oci/caps/defaults.go``)."""
ARCHES = {"x86_64": "amd64", "aarch64": "arm64"}
SCMP_ACT_ALLOW = 0x7FFF0000
OPS = {"SCMP_CMP_NE": 1, "SCMP_CMP_LT": 2, "SCMP_CMP_LE": 3, "SCMP_CMP_EQ": 4,
       "SCMP_CMP_GE": 5, "SCMP_CMP_GT": 6, "SCMP_CMP_MASKED_EQ": 7}


def _kernel() -> tuple[int, ...]:
    return tuple(int(x) for x in platform.release().split("-")[0].split(".")[:2])


def _applies(rule: dict, caps: set[str], arch: str) -> bool:
    inc, exc = rule.get("includes") or {}, rule.get("excludes") or {}
    if not set(inc.get("caps", ())) <= caps or (inc.get("arches") and arch not in inc["arches"]):
        return False
    if inc.get("minKernel") and _kernel() < tuple(int(x) for x in inc["minKernel"].split(".")):
        return False
    return not (set(exc.get("caps", ())) & caps or arch in exc.get("arches", ()))


def _action(rule: dict, profile: dict) -> int:
    if rule["action"] == "SCMP_ACT_ALLOW":
        return SCMP_ACT_ALLOW
    if rule["action"] == "SCMP_ACT_ERRNO":
        return 0x00050000 | (rule.get("errnoRet") or profile.get("defaultErrnoRet") or 1)
    raise ValueError(f"action {rule['action']} is not in Docker's default profile")


def load_profile(profile: dict, caps: set[str]) -> int:
    """Install ``profile`` (Docker's JSON format) on this process; returns the rules added."""
    lib = libseccomp()
    arch = ARCHES.get(platform.machine(), platform.machine())
    if profile["defaultAction"] != "SCMP_ACT_ERRNO":
        raise ValueError("Docker's default profile denies by default")
    ctx = lib.seccomp_init(0x00050000 | profile.get("defaultErrnoRet", 1))
    added = 0
    try:
        for rule in profile["syscalls"]:
            if not _applies(rule, caps, arch):
                continue
            action = _action(rule, profile)
            args = rule.get("args") or []
            cmps = (ArgCmp * max(len(args), 1))(*[
                ArgCmp(a["index"], OPS[a["op"]], a["value"], a.get("valueTwo", 0))
                for a in args])
            for name in rule["names"]:
                nr = lib.seccomp_syscall_resolve_name(name.encode())
                if nr < 0:  # not a system call of this architecture
                    continue
                if lib.seccomp_rule_add_array(ctx, action, nr, len(args), cmps) == 0:
                    added += 1
        rc = lib.seccomp_load(ctx)
        if rc != 0:
            raise OSError(-rc, "seccomp_load failed")
    finally:
        lib.seccomp_release(ctx)
    return added


def main(argv: list[str]) -> None:
    if argv[:1] != ["--"] or len(argv) < 2:
        raise SystemExit("usage: python default.py -- COMMAND [ARG ...]")
    if os.geteuid() != 0:
        raise SystemExit("Docker's default is root with Docker's capabilities: run as root")
    load_profile(json.loads(PROFILE.read_text()), set(CAPABILITIES))
    caps = ",".join(["-all", *("+" + c.lower()[4:] for c in CAPABILITIES)])
    os.execvp("setpriv", ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}", "--",
                          *argv[1:]])


if __name__ == "__main__":
    main(sys.argv[1:])
