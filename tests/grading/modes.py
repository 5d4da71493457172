"""Running ``dlbasics-grade`` the three ways instructors run it, from a root test run.

* ``root``: as root, with namespaces (a CI container, ``sudo``);
* ``nocap``: as root without CAP_SYS_ADMIN (Docker's default, so Gradescope):
  ``setpriv --inh-caps=-sys_admin --bounding-set=-sys_admin``;
* ``user``: as a normal user (an instructor's laptop): the user ``dlbtest``
  (created if missing) owns a copy of the hidden tests and solutions in its
  home, ``~/course``, as a clone of the course repository would be.

When the Python running the tests, its virtual environment or the repository
lives under a folder other users cannot enter (``/root/.pyenv``, a clone in
``/root``), the ``user`` mode runs in a private mount namespace where that
folder is an empty, open tmpfs with those bound back: what the user sees is an
ordinary readable installation.
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
USER = "dlbtest"


def unavailable(mode: str) -> str:
    """Why ``mode`` cannot run here ("" when it can)."""
    if os.geteuid() != 0:
        return "" if mode == "user" else "needs a root test run"
    tools = {"nocap": ["setpriv"], "user": ["setpriv", "unshare", "useradd"]}.get(mode, [])
    missing = [t for t in tools if shutil.which(t) is None]
    return f"needs {', '.join(missing)}" if missing else ""


def _user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "-m", "-s", "/bin/bash", USER], check=True)
        return pwd.getpwnam(USER)


def course_copy() -> tuple[Path, Path]:
    """(home, course) of the test user: ``~/course/hidden_exercises`` and ``~/course/solutions``."""
    pw = _user()
    home = Path(pw.pw_dir)
    course = home / "course"
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
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", **(env or {})}
    base = [sys.executable, "-m", "dlbasics_grader.cli", *args]
    if mode == "root":
        return ["env", "-i", *(f"{k}={v}" for k, v in env.items()), *base]
    if mode == "nocap":
        return ["setpriv", "--inh-caps=-sys_admin", "--bounding-set=-sys_admin", "--", "env",
                "-i", *(f"{k}={v}" for k, v in env.items()), *base]
    home, _ = Path(_user().pw_dir), None
    env = {**env, "HOME": str(home)}
    inner = (_open_python_prefix() + f"cd {shlex.quote(str(home))} && exec setpriv "
             f"--reuid={USER} --regid={USER} --init-groups -- env -i "
             + " ".join(shlex.quote(f"{k}={v}") for k, v in env.items()) + " "
             + " ".join(shlex.quote(a) for a in base))
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", inner]


def run_grader(mode: str, args: list[str], env: dict[str, str] | None = None,
               timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``dlbasics-grade ARGS`` in ``mode`` (the repository on ``PYTHONPATH``)."""
    env = {"PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(grader_command(mode, args, env), capture_output=True, text=True,
                          timeout=timeout, cwd=str(REPO) if mode != "user" else "/")
