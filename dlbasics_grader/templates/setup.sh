#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
# It installs Python and the dlbasics package (with its grader) into a virtual
# environment that every user can read, so the sandbox user can run it too.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq python3 python3-venv python3-pip >/dev/null
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    echo "setup.sh: dlbasics needs Python 3.10 or newer; this image has" \
        "$(python3 --version 2>&1). Choose a newer base image in the assignment's" \
        "autograder settings (e.g. Ubuntu 22.04)." >&2
    exit 1
fi
python3 -m venv /opt/dlbasics-venv
/opt/dlbasics-venv/bin/pip install --quiet --upgrade pip
if [ "{needs_torch}" = "yes" ]; then
    /opt/dlbasics-venv/bin/pip install --quiet "torch=={torch_version}" \
        --index-url https://download.pytorch.org/whl/cpu
fi
/opt/dlbasics-venv/bin/pip install --quiet /autograder/source/package
chmod -R a+rX /opt/dlbasics-venv
# The hidden tests, the package source and the submissions stay readable by root
# only: the sandbox runs every notebook as another user (and, where the kernel has
# it, under Landlock, which allows it the virtual environment and nothing of these).
chmod -R go-rwx /autograder/source
mkdir -p /autograder/submission /autograder/results
chmod go-rwx /autograder/submission /autograder/results
