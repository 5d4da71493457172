#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
# It installs Python and the dlbasics package (with its grader) into a virtual
# environment that every user can read, so the sandbox user can run it too.
# Three variables let it run outside Gradescope (a test, a local check):
#   DLBASICS_AUTOGRADER  the autograder folder (default /autograder)
#   DLBASICS_VENV        where to make the virtual environment (default "$VENV")
#   DLBASICS_SKIP_APT=1  use the Python already installed instead of apt-get's
set -euo pipefail
AUTOGRADER="${DLBASICS_AUTOGRADER:-/autograder}"
VENV="${DLBASICS_VENV:-/opt/dlbasics-venv}"
if [ "${DLBASICS_SKIP_APT:-0}" != 1 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq python3 python3-venv python3-pip >/dev/null
fi
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    echo "setup.sh: dlbasics needs Python 3.10 or newer; this image has" \
        "$(python3 --version 2>&1). Choose a newer base image in the assignment's" \
        "autograder settings (e.g. Ubuntu 22.04)." >&2
    exit 1
fi
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
if [ "{needs_torch}" = "yes" ]; then
    "$VENV/bin/python" -m pip install --quiet "torch=={torch_version}" \
        --index-url https://download.pytorch.org/whl/cpu
fi
# the course package and the grader, each from its own pyproject.toml
"$VENV/bin/python" -m pip install --quiet "$AUTOGRADER/source/package" "$AUTOGRADER/source/package/grader"
chmod -R a+rX "$VENV"
# The hidden tests, the package source and the submissions stay readable by root
# only: the sandbox runs every notebook as another user (and, where the kernel has
# it, under Landlock, which allows it the virtual environment and nothing of these).
chmod -R go-rwx "$AUTOGRADER/source"
mkdir -p "$AUTOGRADER/submission" "$AUTOGRADER/results"
chmod go-rwx "$AUTOGRADER/submission" "$AUTOGRADER/results"
