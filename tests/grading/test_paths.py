"""The grader holds wherever the repository and its virtual environment live.

Under ``/tmp`` in particular: the sandbox gets a private ``/tmp``, so what it
needs from there (the environment, the course package) must be bound back in,
and the sandbox's write access to its ``/tmp`` must not open that environment
(a Landlock rule on a folder grants its rights to everything beneath it, the
forbidden packages included).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from dlbasics_grader.sandbox.fsplan import needed_paths, plan_filesystem, private_tmp_plan

from ..helpers import REPO, write_notebook
from .attacks import a38_forbidden_module_runtime as a38
from .modes import USER, _open_python_prefix, course_copy, unavailable


def test_an_environment_under_tmp_is_bound_back_and_tmp_is_not_writable(tmp_path):
    tmp, other = tmp_path / "tmp", tmp_path / "var-tmp"
    for d in (tmp, other):
        d.mkdir()
    venv, package = tmp / "clone" / ".venv", tmp / "clone" / "dlbasics"
    plan = private_tmp_plan([Path("/usr/lib/python3.11"), venv, package],
                            tmp_dirs=(str(tmp), str(other)))
    assert plan == {"rebind": [str(venv), str(package)], "writable": [str(other)]}


def test_an_environment_elsewhere_leaves_the_private_tmp_writable(tmp_path):
    tmp, other = tmp_path / "tmp", tmp_path / "var-tmp"
    for d in (tmp, other):
        d.mkdir()
    plan = private_tmp_plan([Path("/work/course/.venv"), Path("/work/course/dlbasics")],
                            tmp_dirs=(str(tmp), str(other)))
    assert plan == {"rebind": [], "writable": [str(tmp), str(other)]}


def test_as_root_tmp_is_masked_and_the_environment_under_it_rebound(monkeypatch, tmp_path):
    clone = Path("/tmp/some-clone")
    keep = [Path("/usr/lib/python3.11"), clone / ".venv", clone / "dlbasics"]
    monkeypatch.setattr("dlbasics_grader.sandbox.fsplan.needed_paths", lambda: keep)
    fs = plan_filesystem([clone / "hidden_exercises", clone / "solutions"], tmp_path / "work")
    hidden = {h for h, _ in fs["hide"]}
    assert "/tmp" in hidden
    assert str(clone / "hidden_exercises") not in hidden  # inside the /tmp mask already
    assert fs["rebind"] == [str(clone / ".venv"), str(clone / "dlbasics")]
    assert "/tmp" not in private_tmp_plan(keep)["writable"]


def test_the_running_environment_is_planned_for():
    keep = needed_paths()
    plan = private_tmp_plan(keep)
    assert set(plan["rebind"]) <= {str(k) for k in keep}
    for d in plan["writable"]:
        assert not any(str(k).startswith(d.rstrip("/") + "/") for k in keep)


def _moved_run(mode: str, place: Path, notebook: Path, hidden: Path, results: Path,
               home: Path) -> subprocess.CompletedProcess:
    """Grade with the repository and the virtual environment seen at ``place`` (under
    /tmp), through bind mounts in a private mount namespace: as a fresh clone there."""
    repo, venv = place / "repo", place / "venv"
    q = shlex.quote
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONPATH": str(repo)}
    python = venv / "bin" / Path(sys.executable).name
    if mode == "user":
        env["HOME"] = str(home)
    grade = ("env -i " + " ".join(q(f"{k}={v}") for k, v in env.items())
             + f" {q(str(python))} -m dlbasics_grader.cli ex1 {q(str(notebook))} --tests "
             f"{q(str(hidden))} --results {q(str(results))} -q")
    script = (f"mount --bind {q(str(REPO))} {q(str(repo))} && "
              f"mount --bind {q(str(Path(sys.prefix).resolve()))} {q(str(venv))} && ")
    if mode == "user":
        script += (_open_python_prefix() + f"cd {q(str(home))} && exec setpriv "
                   f"--reuid={USER} --regid={USER} --init-groups -- {grade}")
    else:
        script += f"cd {q(str(repo))} && exec {grade}"
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                           script], capture_output=True, text=True, timeout=300, cwd="/")


@pytest.mark.parametrize("mode", ["root", "user"])
def test_forbidden_module_stays_unreachable_with_the_environment_under_tmp(
        mode, tmp_path, ex1_solution_cells):
    why = unavailable(mode) or ("" if os.geteuid() == 0 else "needs a root test run")
    if why:
        pytest.fail(f"mode {mode} cannot run here: {why}")
    home, course = course_copy()
    place = Path(tempfile.mkdtemp(prefix="dlbasics-clone-", dir="/tmp"))
    try:
        os.chmod(place, 0o755)
        for d in ("repo", "venv"):
            (place / d).mkdir(mode=0o755)
        folder = home if mode == "user" else tmp_path
        verdict = ('if "t" in globals():\n    raise RuntimeError("TORCH LOADED")\n'
                   'raise RuntimeError("torch stayed out of reach")')
        notebook = write_notebook(folder / "a38.ipynb",
                                  [a38.CELLS[0], verdict, *ex1_solution_cells])
        results = folder / "a38.json"
        if mode == "user":
            os.chown(notebook, os.stat(home).st_uid, os.stat(home).st_gid)
        hidden = course / "hidden_exercises" if mode == "user" else place / "repo" / "hidden_exercises"
        proc = _moved_run(mode, place, notebook, hidden, results, home)
        log = f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        assert proc.returncode == 0, log
        data = json.loads(results.read_text())
        sandbox = data["extra_data"]["sandbox"]
        assert "TORCH LOADED" not in json.dumps(data) + proc.stdout + proc.stderr, log
        assert "torch stayed out of reach" in data["output"], log
        assert data["score"] == 10, log
        assert sandbox["landlock"].startswith("ABI"), sandbox
        if mode == "user":  # the environment bound back into the private /tmp
            back = sandbox["filesystem"].split("bound back: ")[1].split(", ")
            assert sorted(back) == [f"{place}/repo/dlbasics", f"{place}/venv"], sandbox
        else:
            assert "/tmp" in sandbox["filesystem"].split("masked: ")[1].split(", "), sandbox
    finally:
        shutil.rmtree(place, ignore_errors=True)
