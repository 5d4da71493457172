"""Make sure Debian's Chromium is installed for the browser tests and the PDF.

``make browser`` runs this before the tests (and before ``make book``, which
prints the PDF with it). When ``/usr/bin/chromium`` is missing and we may
install packages (root, or password-less sudo, with apt-get), it runs
``apt-get update && apt-get install -y chromium``. Otherwise it says why it
cannot, and the browser tests skip with that reason.

Exit status: 0, except under ``CI=true`` when Chromium is still missing (CI
must run the browser tests, never skip them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def say(message: str) -> None:
    print(f"[ensure_chromium] {message}", flush=True)


def chromium_works() -> bool:
    if not CHROMIUM.exists():
        return False
    try:
        completed = subprocess.run(
            [str(CHROMIUM), "--version"], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    if completed.returncode == 0:
        say(f"found {CHROMIUM}: {completed.stdout.strip()}")
    return completed.returncode == 0


def installer_prefix() -> tuple[list[str] | None, str]:
    """How to run apt-get here, or None and the reason we cannot."""
    if shutil.which("apt-get") is None:
        return None, "there is no apt-get on this system"
    if os.geteuid() == 0:
        return [], ""
    sudo = shutil.which("sudo")
    if sudo and subprocess.run([sudo, "-n", "true"], capture_output=True).returncode == 0:
        return [sudo, "-n"], ""
    return None, "installing it needs root (run `sudo apt-get install -y chromium`)"


def install(prefix: list[str]) -> bool:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "chromium"],
    ):
        say("running: " + " ".join(prefix + command))
        if subprocess.run(prefix + command, env=env).returncode != 0:
            return False
    return True


def main() -> int:
    if chromium_works():
        return 0
    prefix, reason = installer_prefix()
    if prefix is not None:
        if install(prefix) and chromium_works():
            return 0
        reason = "apt-get could not install chromium (see the output above)"
    say(
        f"Chromium is not available at {CHROMIUM}: {reason}. The browser tests "
        "of the built site will be SKIPPED and `make book` makes no PDF."
    )
    if IN_CI:
        say("CI=true: the browser tests must run, failing.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
