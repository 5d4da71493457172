"""Starting, watching and stopping the sandboxed process of one submission.

The host half, one job per module:

* :mod:`.job` -- what one launch runs (:class:`Job`) and returns
  (:class:`RawRun`, a :class:`Phase` per cell and probe): data, no verdicts;
* :mod:`.fsplan` -- the filesystem plan: what the sandbox reads, what it never sees;
* :mod:`.cgroup` -- a cgroup per sandbox (root): CPU share, memory, tasks;
* :mod:`.processes` -- finding, metering and killing the sandbox's processes;
* :mod:`.watch` -- the watch loop: output, messages, time limits;
* :mod:`.spawn` -- :class:`RunnerProcess`: the runner's process, started before its
  job is prepared;
* :mod:`.launch` -- :class:`Launch` (a sandbox started before its work is known,
  confining itself while the grader reads the notebook) and :func:`run_job`, which put
  them together;
* :mod:`.assessment` -- what isolation the host gives, and when to refuse.

:mod:`.protocol` is the typed contract both halves share. The child half,
:mod:`.child`, runs inside the sandbox: the runner confines itself and then
runs the learner's cells and the probes.

The isolation comes from what the host offers (:func:`dlbasics_grader.isolation.host_support`):

* as root: its own unused user id (one per concurrent sandbox), a cgroup
  bounding its CPU share, memory (tmpfs included) and tasks, network, IPC and
  mount namespaces (through a user namespace when CAP_SYS_ADMIN is missing),
  a private ``/tmp``, empty folders mounted over the hidden exercises, the
  solutions, the submissions and the grader's working directory;
* for everyone: Landlock (reads only the Python installation, the allowed
  packages and system folders, writes only its working folder, no TCP, no
  signals out of the sandbox), seccomp (no sockets, UNIX ones included, no ptrace,
  System V IPC, namespaces, mounts or new sessions), unprivileged user,
  network and IPC namespaces, and resource limits.
"""

import importlib

_EXPORTS = {
    "Assessment": "assessment", "assess": "assessment",
    "Job": "job", "Phase": "job", "RawRun": "job", "RunRecord": "job",
    "SandboxUnavailable": "job", "scaled_limits": "job",
    "Launch": "launch", "run_job": "launch",
    "PhaseStatus": "protocol",
    "RunnerProcess": "spawn",
    "WALL_FACTOR": "watch",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    """The names above, each imported from its module when first used: ``dlbasics-grade
    grade`` starts the runner (:mod:`.spawn`, standard library only) before it imports the
    rest."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
