"""The contract between the grader and its sandbox's runner, decoded strictly.

The grader (host) writes a :class:`ChildJob` for the runner (child): how to confine
itself, which it does while the grader is still reading the notebook; then it sends the
:class:`ChildWork` (the cells and probes) down a pipe. The runner answers with one message
per line (:class:`Ready`, :class:`CellEnd`, ...). Both
sides use this one module, so a field renamed on one side and not the other
fails at once: :func:`from_wire` refuses a missing field, an unknown field and
a value of the wrong type, so a misspelt key can never switch Landlock or
seccomp off by being read as "absent".

Standard library only: the runner loads this file by path, before it imports
anything else and without the grader package.
"""

import dataclasses
import enum
import math
import types
import typing
from dataclasses import dataclass
from typing import Any


class ProtocolError(ValueError):
    """A value that does not match the contract (missing, unknown or mistyped field)."""


class PhaseStatus(enum.StrEnum):
    """How one cell or probe ended. The runner sends the first five; the grader adds
    ``not run`` (never reached) and ``crashed`` (the process died or broke the protocol)."""

    OK = "ok"
    ERROR = "error"
    TIMEOUT = "timeout"
    OUT_OF_MEMORY = "out of memory"
    SKIPPED = "skipped"
    NOT_RUN = "not run"
    CRASHED = "crashed"


RUNNER_STATUSES = frozenset({PhaseStatus.OK, PhaseStatus.ERROR, PhaseStatus.TIMEOUT,
                             PhaseStatus.OUT_OF_MEMORY, PhaseStatus.SKIPPED})
"""The statuses a runner may report; any other is a protocol violation."""


class MemoryKind(enum.StrEnum):
    """Which resource limit bounds memory: ``RLIMIT_AS`` or ``RLIMIT_DATA``."""

    AS = "as"
    DATA = "data"


JSON = Any
"""A JSON value that this module passes through undecoded (probe inputs and outputs,
decoded by :mod:`dlbasics_grader.codec`)."""


# ----------------------------------------------------------------------------
# Host -> child: the job
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One code cell: its notebook ``index``, its ``code``, and ``skipped`` (the reason
    the grader leaves it out, or "")."""

    index: int
    code: str
    skipped: str


@dataclass(frozen=True)
class ProbeCall:
    """One probe driver: ``source`` defines ``entry(namespace, inputs) -> dict``;
    ``inputs`` are encoded by :func:`dlbasics_grader.codec.encode`."""

    name: str
    source: str
    entry: str
    timeout_s: float
    inputs: JSON


@dataclass(frozen=True)
class Policy:
    """What the learner's code may import and start (see ``spec.SandboxPolicy``)."""

    forbidden_modules: list[str]
    reason: str
    preload: list[str]
    allow_processes: bool


@dataclass(frozen=True)
class ResourceLimits:
    """The resource limits the runner sets on itself (``setrlimit``)."""

    cpu_s: int
    memory_mb: int
    memory_kind: MemoryKind
    file_size_mb: int
    open_files: int
    nproc_total: int


@dataclass(frozen=True)
class Mask:
    """A folder covered by an empty tmpfs of the given octal ``mode``."""

    path: str
    mode: str


@dataclass(frozen=True)
class IsolationPlan:
    """Everything the runner applies to itself before learner code runs.

    ``uid``/``gid``: the sandbox user (root only, else None); ``hide``/``rebind``:
    masked folders and the kept paths beneath them (root); ``need_mounts``: the
    sandbox user cannot read the Python installation without them; ``runtime``:
    the host's runtime folders, masked empty (without root); ``tmp_rebind``/
    ``tmp_write``: kept paths beneath the private ``/tmp`` or a runtime folder,
    and the private tmp folders that may be writable;
    ``work_mb``/``tmp_mb``: tmpfs sizes; ``mount_ns``/``user_ns``/``landlock``/
    ``seccomp``: the mechanisms to apply (the host probed them); ``cgroup``:
    the cgroup folders to join; ``never``: folders Landlock must never open;
    ``exclude_entries``: site-packages entries kept unreadable;
    ``extra_packages``: packages outside site-packages to allow.
    """

    uid: int | None
    gid: int | None
    workdir: str
    hide: list[Mask]
    rebind: list[str]
    need_mounts: bool
    runtime: list[str]
    tmp_rebind: list[str]
    tmp_write: list[str]
    font_cache: str | None
    work_mb: int
    tmp_mb: int
    mount_ns: bool
    user_ns: bool
    landlock: bool
    seccomp: bool
    cgroup: list[str]
    cgroup_summary: str
    never: list[str]
    exclude_entries: list[str]
    extra_packages: list[str]


@dataclass(frozen=True)
class ChildJob:
    """The job the runner reads from its job pipe first: everything it needs to confine itself
    and import its preloaded modules, none of it from the notebook (so the sandbox can start
    while the grader reads the notebook). Nothing secret: the learner's code can see it,
    except ``nonce``, which the runner keeps out of the learner's namespace."""

    nonce: str
    workdir: str
    policy: Policy
    cell_timeout_s: float
    wall_factor: float
    max_result_bytes: int
    limits: ResourceLimits
    isolation: IsolationPlan


@dataclass(frozen=True)
class ChildWork:
    """What the runner runs, sent down its work pipe once the grader has read the notebook:
    the code cells in order, the probes, and ``start_probe``, the first probe to run (after
    a restart). Nothing secret."""

    cells: list[Cell]
    probes: list[ProbeCall]
    start_probe: int


# ----------------------------------------------------------------------------
# Child -> host: the messages, one JSON object per line
# ----------------------------------------------------------------------------


class Event(enum.StrEnum):
    """The kind of a runner message (its ``ev`` field)."""

    READY = "ready"
    FATAL = "fatal"
    CELL_START = "cell_start"
    CELL_END = "cell_end"
    CELLS_DONE = "cells_done"
    PROBE_START = "probe_start"
    PROBE_END = "probe_end"
    DONE = "done"


@dataclass(frozen=True)
class Ready:
    """Sent once, after the runner isolated itself and before any learner code runs."""

    isolation: dict[str, str]


@dataclass(frozen=True)
class Fatal:
    """Sent instead of :class:`Ready` when the runner could not isolate itself."""

    error: str


@dataclass(frozen=True)
class Started:
    """A cell or probe ``i`` starts (``cell_start``, ``probe_start``)."""

    i: int


@dataclass(frozen=True)
class CellEnd:
    """Cell ``i`` ended; ``t``: its wall time in seconds as the runner saw it."""

    i: int
    status: PhaseStatus
    error: str
    traceback: str
    t: float


@dataclass(frozen=True)
class ProbeEnd:
    """Probe ``i`` ended; ``outputs``: its encoded result (None unless ``status`` is ok)."""

    i: int
    status: PhaseStatus
    error: str
    traceback: str
    t: float
    outputs: JSON


@dataclass(frozen=True)
class Marker:
    """A message with no fields (``cells_done``, ``done``)."""


MESSAGE_TYPES: dict[Event, type] = {
    Event.READY: Ready, Event.FATAL: Fatal, Event.CELL_START: Started,
    Event.CELL_END: CellEnd, Event.CELLS_DONE: Marker, Event.PROBE_START: Started,
    Event.PROBE_END: ProbeEnd, Event.DONE: Marker,
}


def read_message(data: dict) -> tuple[Event, Any]:
    """``(event, body)`` of one decoded message line (``k`` already checked and removed).

    Raises :class:`ProtocolError` on an unknown event or a body that does not
    match its type exactly.
    """
    rest = dict(data)
    try:
        event = Event(rest.pop("ev", None))
    except ValueError:
        raise ProtocolError(f"unknown event {str(data.get('ev'))[:40]!r}") from None
    return event, from_wire(MESSAGE_TYPES[event], rest, event.value)


# ----------------------------------------------------------------------------
# Strict encoding and decoding
# ----------------------------------------------------------------------------


def to_wire(value: Any) -> Any:
    """A JSON-ready copy of a dataclass of this module (enums become their values)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_wire(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [to_wire(v) for v in value]
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items()}
    return value


def from_wire(cls: type, data: Any, path: str = "job") -> Any:
    """Decode ``data`` as ``cls`` (a dataclass of this module), refusing anything else.

    Every field must be present, no other field may be, and every value must
    have its declared type (an ``int`` is accepted for a ``float``, a ``bool``
    for neither).
    """
    return _decode(cls, data, path)


def _decode(tp: Any, value: Any, path: str) -> Any:
    if tp is Any:
        return value
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(tp):
            if option is type(None) and value is None:
                return None
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(inner) != 1:
            raise ProtocolError(f"{path}: unsupported type {tp}")
        return _decode(inner[0], value, path)
    if origin is list:
        (item,) = typing.get_args(tp)
        if type(value) is not list:
            raise ProtocolError(f"{path} must be a list, not {type(value).__name__}")
        return [_decode(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        key, item = typing.get_args(tp)
        if type(value) is not dict or key is not str:
            raise ProtocolError(f"{path} must be an object, not {type(value).__name__}")
        return {k: _decode(item, v, f"{path}[{k!r}]") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if type(value) is not dict:
            raise ProtocolError(f"{path} must be an object, not {type(value).__name__}")
        names = [f.name for f in dataclasses.fields(tp)]
        unknown = sorted(set(value) - set(names))
        missing = [n for n in names if n not in value]
        if unknown or missing:
            raise ProtocolError(f"{path}: " + "; ".join(
                ([f"unknown field(s) {', '.join(map(repr, unknown))}"] if unknown else [])
                + ([f"missing field(s) {', '.join(map(repr, missing))}"] if missing else [])))
        return tp(**{f.name: _decode(f.type, value[f.name], f"{path}.{f.name}")
                     for f in dataclasses.fields(tp)})
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            raise ProtocolError(f"{path}: {str(value)[:40]!r} is not one of "
                                f"{', '.join(m.value for m in tp)}") from None
    if tp is float:
        if type(value) not in (int, float) or not math.isfinite(value):
            raise ProtocolError(f"{path} must be a finite number")
        return float(value)
    if tp in (int, str, bool):
        if type(value) is not tp:
            raise ProtocolError(f"{path} must be {tp.__name__}, not {type(value).__name__}")
        return value
    raise ProtocolError(f"{path}: unsupported type {tp}")
