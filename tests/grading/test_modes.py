"""The grader's guarantees where instructors run it: as root, as root without
CAP_SYS_ADMIN (Docker, Gradescope) and as a normal user (a laptop).

In each mode one batch grades five submissions at once: one hunts the hidden
tests and solutions (known paths, a walk of the file system, the grader's
``/proc`` entries) and leaks what it finds in an error message; one tries to
change the hidden tests, the course package and ``~/.bashrc``; one kills the
grader and every process it can name; one opens network sockets; one is a
correct solution. The batch must survive, grade everyone right, leak nothing,
change nothing, and record the isolation in force.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from pathlib import Path

import pytest

from dlbasics_grader.engine import secret_paths
from dlbasics_grader.sandbox.assessment import readable_by_others

from ..helpers import HIDDEN, REPO, SOLUTIONS, write_notebook
from .modes import MODES, course_copy, run_grader, unavailable

SECRETS = ("Hidden tests of Exercise 1", "2_914_067", "BEGIN SOLUTION", "He initialization")

READER = r'''
import os
hits, tried = [], []
targets = [{hidden!r} + "/ex1.py", {solutions!r} + "/ex1_neural_network.ipynb",
           {course!r} + "/hidden_exercises/ex1.py",
           "/root/.bashrc", "/proc/%d/environ" % os.getppid(),
           "/proc/%d/cwd/hidden_exercises/ex1.py" % os.getppid(),
           "/proc/%d/root{hidden}/ex1.py" % os.getppid()]
for top in ("/home", "/work", "/root", "/tmp", "/run", "/opt", "/srv", "/autograder"):
    for root, dirs, files in os.walk(top):
        if root.count("/") > 6:
            dirs[:] = []
        for name in files:
            if name in ("ex1.py", "ex1_neural_network.ipynb"):
                targets.append(os.path.join(root, name))
for fd in range(64):
    targets.append("/proc/%d/fd/%d" % (os.getppid(), fd))
for path in targets:
    try:
        with open(path, errors="replace") as fh:
            hits.append(fh.read(100000))
    except OSError as exc:
        tried.append(type(exc).__name__)
raise RuntimeError("LEAK " + " ".join(hits)[:3500] + " tried " + ",".join(sorted(set(tried))))
'''

WRITER = r'''
import os
for path in [{hidden!r} + "/ex1.py", {course!r} + "/hidden_exercises/ex1.py",
             {package!r} + "/__init__.py", "/root/.bashrc",
             os.path.expanduser("~dlbtest/.bashrc"), {repo!r} + "/dlbasics-canary"]:
    try:
        with open(path, "a") as fh:
            fh.write("pwned\n")
        print("WROTE", path)
    except OSError as exc:
        print("refused", path, type(exc).__name__)
'''

KILLER = r'''
import os, signal
for target in (os.getppid(), -1, -os.getpgid(os.getppid()), 1):
    try:
        os.kill(target, signal.SIGKILL)
    except OSError as exc:
        print("refused", target, exc)
for entry in os.listdir("/proc"):
    if entry.isdigit() and int(entry) != os.getpid():
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as fh:
                if b"dlbasics_grader" in fh.read():
                    os.kill(int(entry), signal.SIGKILL)
        except OSError:
            pass
'''

NETWORK = r'''
import socket
for family in (socket.AF_INET, socket.AF_INET6):
    try:
        s = socket.socket(family, socket.SOCK_STREAM)
        s.connect(("127.0.0.1", 22) if family == socket.AF_INET else ("::1", 22))
        print("CONNECTED")
    except OSError as exc:
        print("refused", exc)
'''


def _digests(paths: list[Path]) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else "absent"
            for p in paths}


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_batch_of_attacks_in_each_mode(mode, tmp_path, ex1_solution_cells, ex1_stub_cells):
    why = unavailable(mode)
    if why:
        pytest.fail(f"mode {mode} cannot run here: {why}")
    home, course = course_copy()
    hidden = course / "hidden_exercises" if mode == "user" else HIDDEN
    solutions = course / "solutions" if mode == "user" else SOLUTIONS
    out = (home if mode == "user" else tmp_path) / f"batch-{mode}"
    if out.exists():
        import shutil

        shutil.rmtree(out)
    subs = out / "submissions"
    subs.mkdir(parents=True)
    import dlbasics

    fill = {"hidden": str(hidden), "solutions": str(solutions), "course": str(course),
            "package": str(Path(dlbasics.__file__).parent), "repo": str(REPO)}
    cells = {
        "reader": [READER.format(**fill), *ex1_stub_cells],
        "writer": [WRITER.format(**fill), *ex1_solution_cells],
        "killer": [KILLER, *ex1_solution_cells],
        "network": [NETWORK, *ex1_solution_cells],
        "solution": list(ex1_solution_cells),
    }
    for name, src in cells.items():
        write_notebook(subs / f"{name}.ipynb", src)
    watched = [hidden / "ex1.py", HIDDEN / "ex1.py", Path(dlbasics.__file__),
               home / ".bashrc", Path("/root/.bashrc"), REPO / "dlbasics-canary"]
    before = _digests(watched)
    if mode == "user":
        pw = os.stat(home)
        for p in [out, *out.rglob("*")]:
            os.chown(p, pw.st_uid, pw.st_gid)
    gradebook, results = out / "gradebook.csv", out / "results"
    proc = run_grader(mode, ["ex1", str(subs), "--tests", str(hidden), "--jobs", "2",
                             "--csv", str(gradebook), "--results-dir", str(results), "-q"])
    log = f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert proc.returncode == 0, log
    with open(gradebook, newline="") as fh:
        rows = {r["student"]: r for r in csv.DictReader(fh)}
    scores = {s: float(r["score"]) for s, r in rows.items()}
    assert scores == {"reader": 0, "writer": 10, "killer": 10, "network": 10,
                      "solution": 10}, log
    everything = proc.stdout + proc.stderr + gradebook.read_text()
    for f in sorted(results.glob("*")):
        everything += f.read_text()
    for secret in SECRETS:
        assert secret not in everything, f"{secret!r} leaked in mode {mode}"
    assert "LEAK" in everything  # the reader ran, and found nothing
    assert _digests(watched) == before
    data = json.loads((results / "reader.json").read_text())
    sandbox = data["extra_data"]["sandbox"]
    assert sandbox["landlock"].startswith("ABI"), sandbox
    assert sandbox["seccomp"].startswith("sockets"), sandbox
    assert sandbox["network"].startswith("none"), sandbox
    assert sandbox["signals"] == "cannot signal the grader", sandbox
    assert sandbox["processes"] == "own PID namespace and /proc", sandbox
    assert "/run" in sandbox["filesystem"], sandbox
    if mode == "user":
        assert sandbox["user"] == "same as grader" and sandbox["level"] == "reduced"
        assert "weaker than its full isolation" in proc.stderr
    else:
        assert sandbox["user"].startswith("uid ") and sandbox["cgroup"].startswith("one CPU")
        assert sandbox["level"] == "full", sandbox
        assert "masked" in sandbox["filesystem"], sandbox
        assert "weaker" not in proc.stderr


@pytest.mark.parametrize("mode", ["root", "user"])
def test_grading_is_refused_where_nothing_hides_the_tests(mode, tmp_path):
    """No Landlock and no namespaces: as a user nothing protects the tests; as root only
    permissions would, and the solutions are open to others. Refused unless accepted."""
    if unavailable(mode):
        pytest.fail(unavailable(mode))
    home, course = course_copy()
    hidden = course / "hidden_exercises" if mode == "user" else HIDDEN
    nb = (home if mode == "user" else tmp_path) / "refused.ipynb"
    write_notebook(nb, ["x = 1"])
    os.chown(nb, os.stat(home).st_uid, os.stat(home).st_gid)
    env = {"DLBASICS_SANDBOX_DISABLE": "landlock,namespaces"}
    proc = run_grader(mode, ["ex1", str(nb), "--tests", str(hidden), "-q"], env=env)
    assert proc.returncode == 3, proc.stderr
    assert "refusing to grade" in proc.stderr and "--allow-unisolated" in proc.stderr
    if mode == "root" and not any(readable_by_others(p) for p in secret_paths(hidden)):
        # a checkout other users cannot enter (e.g. under /root): permissions keep the hidden
        # tests and solutions from the sandbox user, but nothing keeps /proc from it
        assert "/proc" in proc.stderr, proc.stderr
    proc = run_grader(mode, ["ex1", str(nb), "--tests", str(hidden), "-q",
                             "--allow-unisolated"], env=env)
    assert "refusing" not in proc.stderr and "weaker than its full isolation" in proc.stderr
    if mode == "user":
        assert proc.returncode == 0 and "0/10" in proc.stdout, proc.stderr
    else:  # without namespaces the sandbox user cannot reach a Python under /root
        assert proc.returncode in (0, 3), proc.stderr
