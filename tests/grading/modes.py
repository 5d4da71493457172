"""Running the grader the four ways instructors run it, from a root test run.

* ``root``: as root, with namespaces (a CI container, ``sudo``);
* ``nocap``: as root without CAP_SYS_ADMIN:
  ``setpriv --inh-caps=-sys_admin --bounding-set=-sys_admin``;
* ``docker``: Docker's default, so Gradescope: root with Docker's default
  capabilities under Docker's default seccomp profile (``docker/default.py``),
  which denies ``unshare``, ``mount`` and every namespace; the cgroup
  hierarchy is read-only there, so the grader is told it has none;
* ``user``: as a normal user (an instructor's laptop): the user ``dlbtest``
  (created if missing) owns a copy of the hidden tests and solutions in its
  home, ``~/course``, as a clone of the course repository would be.

When the Python running the tests, its virtual environment or the repository
lives under a folder other users cannot enter (``/root/.pyenv``, a clone in
``/root``), the ``user`` and ``docker`` modes run in a private mount namespace
where that folder is an empty, open tmpfs with those bound back: what they see
is an ordinary readable installation, as in a container image.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from dlbasics_grader.sandbox.fsplan import world_reachable

from ..helpers import HIDDEN, REPO, SOLUTIONS

MODES = ("root", "nocap", "user")
"""The modes of the batch tests in ``test_modes.py``."""
ALL_MODES = ("root", "nocap", "docker", "user")
"""Every mode: the attack corpus runs in each."""
DOCKER = Path(__file__).with_name("docker") / "default.py"
USER = "dlbtest"


def unavailable(mode: str) -> str:
    """Why ``mode`` cannot run here ("" when it can)."""
    if os.geteuid() != 0:
        return "" if mode == "user" else "needs a root test run"
    tools = {"nocap": ["setpriv"], "user": ["setpriv", "unshare", "useradd"],
             "docker": ["setpriv", "unshare"]}.get(mode, [])
    missing = [t for t in tools if shutil.which(t) is None]
    return f"needs {', '.join(missing)}" if missing else ""


def _user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "-m", "-s", "/bin/bash", USER], check=True)
        return pwd.getpwnam(USER)


def course_copy() -> tuple[Path, Path]:
    """(home, course) of the test user: ``~/course-PID/hidden_exercises`` and
    ``~/course-PID/solutions``, one copy per test process (xdist workers run side by side)."""
    pw = _user()
    home = Path(pw.pw_dir)
    course = home / f"course-{os.getpid()}"
    for stale in home.glob("course-*"):  # left by test processes that have ended
        pid = stale.name.removeprefix("course-")
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(stale, ignore_errors=True)
    if course.exists():
        shutil.rmtree(course)
    (course / "tests").mkdir(parents=True)
    shutil.copytree(HIDDEN, course / "hidden_exercises")
    shutil.copytree(SOLUTIONS, course / "solutions")
    bashrc = home / ".bashrc"
    if not bashrc.exists():
        bashrc.write_text("# dlbtest\n")
    for p in [course, *course.rglob("*"), bashrc]:
        os.chown(p, pw.pw_uid, pw.pw_gid)
    os.chmod(home, 0o750)
    return home, course


def _open_python_prefix() -> str:
    """Shell lines that make the Python installation, the virtual environment and the
    repository reachable to the user when they lie under a closed folder (user mode)."""
    inner: dict[Path, set[str]] = {}
    for path in (Path(sys.base_prefix), Path(sys.prefix), REPO):
        path = path.resolve()
        blocked = world_reachable(path)
        if blocked is not None and path != blocked:
            inner.setdefault(blocked, set()).add(path.relative_to(blocked).parts[0])
    lines = []
    for k, (blocked, names) in enumerate(sorted(inner.items())):
        srcs = [blocked / n for n in sorted(names)]
        stages = [f"/tmp/.dlbasics-test-{k}-{i}" for i in range(len(srcs))]
        q = shlex.quote
        lines += [f"mkdir -p {st} && mount --bind {q(str(src))} {st}"
                  for src, st in zip(srcs, stages)]
        lines.append(f"mount -t tmpfs -o mode=755 tmpfs {q(str(blocked))}")
        lines += [f"mkdir -p {q(str(src))} && mount --bind {st} {q(str(src))}"
                  for src, st in zip(srcs, stages)]
    return "".join(line + " && " for line in lines)


def grader_command(mode: str, args: list[str], env: dict[str, str] | None = None) -> list[str]:
    """The command line that runs ``dlbasics-grade ARGS`` in ``mode``."""
    return python_command(mode, ["-m", "dlbasics_grader.cli", *args], env)


def python_command(mode: str, args: list[str], env: dict[str, str] | None = None) -> list[str]:
    """The command line that runs ``python ARGS`` in ``mode`` (environment ``env`` only)."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", **(env or {})}
    if mode == "docker":
        env = {**env, "DLBASICS_SANDBOX_DISABLE": ",".join(
            filter(None, [env.get("DLBASICS_SANDBOX_DISABLE", ""), "cgroup"]))}
    base = [sys.executable, *args]
    clean = ["env", "-i", *(f"{k}={v}" for k, v in env.items()), *base]
    if mode == "root":
        return clean
    if mode == "nocap":
        return ["setpriv", "--inh-caps=-sys_admin", "--bounding-set=-sys_admin", "--", *clean]
    q = shlex.quote
    if mode == "docker":
        inner = (_open_python_prefix() + f"exec env PYTHONPATH={q(str(REPO))} "
                 f"{q(sys.executable)} {q(str(DOCKER))} -- " + " ".join(q(a) for a in clean))
        return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", inner]
    home = Path(_user().pw_dir)
    env = {**env, "HOME": str(home)}
    inner = (_open_python_prefix() + f"cd {q(str(home))} && exec setpriv "
             f"--reuid={USER} --regid={USER} --init-groups -- env -i "
             + " ".join(q(f"{k}={v}") for k, v in env.items()) + " "
             + " ".join(q(a) for a in base))
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", inner]


def run_grader(mode: str, args: list[str], env: dict[str, str] | None = None,
               timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``dlbasics-grade ARGS`` in ``mode`` (the repository on ``PYTHONPATH``)."""
    env = {"PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(grader_command(mode, args, env), capture_output=True, text=True,
                          timeout=timeout, cwd=str(REPO) if mode != "user" else "/")
