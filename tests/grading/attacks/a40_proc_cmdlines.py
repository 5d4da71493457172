"""Read other processes' command lines (which often hold passwords) and the grader's own
from /proc: list /proc, walk every pid up to the newest one, and read the parent's entry."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

VICTIM_MARK = "dlbasics-a40-password-" + "hunter2"

ATTACK = r'''
import os
me = os.getpid()
seen = {}
try:
    listed = [int(e) for e in os.listdir("/proc") if e.isdigit()]
except OSError as exc:
    listed = []
    print("cannot list /proc:", type(exc).__name__)
try:
    newest = int(open("/proc/loadavg").read().split()[-1])
except (OSError, ValueError):
    newest = 40000
for pid in sorted(set(listed) | set(range(1, 300)) | set(range(max(1, newest - 20000), newest + 50))
                  | {os.getppid()}):
    if pid == me:
        continue
    for what in ("cmdline", "environ"):
        try:
            with open("/proc/%d/%s" % (pid, what), "rb") as fh:
                text = fh.read(300).replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        seen[(pid, what)] = text
print("listed", len(listed), "readable", len(seen))
for (pid, what), text in sorted(seen.items()):
    print("SEEN %d %s %s" % (pid, what, text))
'''
CELLS = [ATTACK, "SOLUTION"]
EXPECT_SCORE = 10
FORBIDDEN_OUTPUT = [VICTIM_MARK, "dlbasics_grader.cli", "pytest"]


class Victim:
    """A process of the grading user's whose command line holds a password."""

    def __init__(self, uid: int) -> None:
        self.proc = subprocess.Popen(
            ["/bin/sh", "-c", "sleep 600; true", VICTIM_MARK],
            user=uid if os.geteuid() == 0 else None, start_new_session=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        self.fill: dict[str, str] = {}

    def check(self, report) -> None:
        for line in report.stdout.splitlines():
            if line.startswith("SEEN "):
                # only the sandbox's own processes (forks of the runner) may be readable
                assert "sandbox/child/runner.py" in line, line

    def close(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


def arrange(outside: Path, uid: int) -> Victim:
    return Victim(uid)
