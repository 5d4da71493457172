"""Isolation properties that need more than one submission or a special host set-up:
Landlock alone keeps a root sandbox from files; a CPU hog cannot starve its neighbour;
links are refused; the gradebook is written as grading goes and holds no formulas."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from dlbasics_grader import cli
from dlbasics_grader.engine import grade

from ..helpers import HIDDEN, REPO, write_notebook
from .helpers import boot_ticks, survivors

ROOT = os.geteuid() == 0


@pytest.mark.skipif(not ROOT, reason="a sandbox running as root needs a root test run")
def test_landlock_alone_keeps_a_root_sandbox_from_files(tmp_path, monkeypatch, ex1,
                                                        ex1_solution_cells):
    """No separate user, no namespaces, no cgroup: the sandbox runs as root, and only
    Landlock (and seccomp) stand between it and every file."""
    monkeypatch.setenv("DLBASICS_SANDBOX_DISABLE", "uid,namespaces,cgroup")
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "ex1.py").write_text("TOP SECRET hidden tests\n")
    canary = tmp_path / "outside.txt"
    canary.write_text("untouched")
    attack = (
        "import os\n"
        f"for path in [{str(secret / 'ex1.py')!r}, {str(HIDDEN / 'ex1.py')!r}, '/etc/shadow']:\n"
        "    try:\n"
        "        print(open(path).read()[:200])\n"
        "    except OSError as exc:\n"
        "        print('refused read', type(exc).__name__)\n"
        f"for path in [{str(canary)!r}, {str(secret / 'ex1.py')!r}, '/root/.dlbasics-canary']:\n"
        "    try:\n"
        "        open(path, 'a').write('pwned')\n"
        "        print('WROTE', path)\n"
        "    except OSError as exc:\n"
        "        print('refused write', type(exc).__name__)\n"
        "print('uid', os.getuid())"
    )
    sub = tmp_path / "sub"
    sub.mkdir()
    nb = write_notebook(sub / "ex1_neural_network.ipynb", [attack, *ex1_solution_cells])
    report = grade(ex1, nb, private_paths=[secret])
    assert report.score == 10, report.output
    assert "uid 0" in report.stdout  # really root
    assert report.stdout.count("refused read PermissionError") == 3, report.stdout
    assert report.stdout.count("refused write PermissionError") == 3, report.stdout
    assert "TOP SECRET" not in report.stdout and "WROTE" not in report.stdout
    assert canary.read_text() == "untouched"
    assert not os.path.exists("/root/.dlbasics-canary")
    assert report.isolation["landlock"].startswith("ABI")
    assert report.isolation["user"] == "same as grader"


HOG = ("import ctypes\n"
       "libc = ctypes.CDLL(None, use_errno=True)\n"
       "for _ in range(120):\n"
       "    if libc.fork() == 0:\n"
       "        libc.setsid()\n"
       "        while True:\n"
       "            pass\n"
       "while True:\n"
       "    pass")


@pytest.mark.slow
def test_a_cpu_hog_cannot_starve_a_notebook_graded_beside_it(tmp_path, ex1,
                                                             ex1_solution_cells):
    """120 spinning processes in their own sessions (setsid is refused) next to a correct
    notebook: the correct one still gets full marks, and no hog process survives."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    hog = write_notebook(tmp_path / "a" / "ex1_neural_network.ipynb", [HOG])
    good = write_notebook(tmp_path / "b" / "ex1_neural_network.ipynb", ex1_solution_cells)
    with ThreadPoolExecutor(2) as pool:
        fut_hog = pool.submit(grade, ex1, hog, private_paths=[HIDDEN], time_scale=0.25)
        time.sleep(0.5)
        fut_good = pool.submit(grade, ex1, good, private_paths=[HIDDEN])
        rep_good, rep_hog = fut_good.result(), fut_hog.result()
    done = boot_ticks()
    assert rep_good.score == 10, rep_good.output
    assert rep_hog.score == 0
    uid = rep_hog.isolation.get("user", "")
    if uid.startswith("uid "):
        assert survivors(int(uid.split()[1]), done) == []


def test_a_linked_submission_is_refused(tmp_path, ex1):
    target = write_notebook(tmp_path / "real.ipynb", ["x = 1"])
    link = tmp_path / "sub" / "ex1_neural_network.ipynb"
    link.parent.mkdir()
    link.symlink_to(target)
    report = grade(ex1, link, private_paths=[HIDDEN])
    assert report.score == 0 and {t.status for t in report.tests} == {"error"}
    assert "symbolic link" in report.tests[0].output


def test_gradebook_cells_never_read_as_formulas(tmp_path, ex1_stub_cells):
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("=HYPERLINK(1)", "+1", "@SUM(A1)", "-2", "plain"):
        write_notebook(subs / f"{name}.ipynb", ex1_stub_cells[:1])
    book = tmp_path / "book.csv"
    code = cli.main(["ex1", str(subs), "--tests", str(HIDDEN), "--csv", str(book), "-q",
                     "--jobs", "2"])
    assert code in (0, 4)
    with open(book, newline="") as fh:
        rows = list(csv.reader(fh))
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "@", "-", "\t", "\r")), row
    assert {r[0] for r in rows[1:]} == {"'=HYPERLINK(1)", "'+1", "'@SUM(A1)", "'-2", "plain"}


@pytest.mark.slow
def test_an_interrupted_batch_keeps_what_was_graded(tmp_path, ex1_stub_cells):
    subs = tmp_path / "subs"
    subs.mkdir()
    write_notebook(subs / "a_quick.ipynb", ex1_stub_cells[:1])
    write_notebook(subs / "b_slow.ipynb", ["import time\ntime.sleep(60)"])
    book = tmp_path / "book.csv"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dlbasics_grader.cli", "ex1", str(subs), "--tests", str(HIDDEN),
         "--csv", str(book), "--results-dir", str(tmp_path / "res"), "--jobs", "1", "-q"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if book.exists() and "a_quick" in book.read_text():
                break
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    rows = list(csv.reader(book.open(newline="")))
    assert rows[0][0] == "student" and [r[0] for r in rows[1:]] == ["a_quick"]
    assert (tmp_path / "res" / "a_quick.json").exists()
