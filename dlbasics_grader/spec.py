"""The contract between the grading engine and one exercise's hidden tests.

A hidden-test module (``hidden_exercises/exN.py``, never shipped to students)
defines one module-level name, ``EXERCISE``, an :class:`Exercise`. The engine
(:mod:`dlbasics_grader.engine`) uses it in three steps:

1. ``EXERCISE.probes(seed)`` -> list of :class:`Probe`. Runs in the grader's
   own process. It chooses the inputs the submission will see (weights to
   load, data to train on, ...). Nothing secret may go into a probe: its
   driver source and inputs are handed to the untrusted process.
2. The engine runs the submission's code cells in a sandboxed process, then
   each probe's driver there, one after the other. A driver is a small,
   self-contained function ``probe(ns, inputs) -> dict`` that calls the
   learner's code (``ns`` is the notebook's global namespace) and returns
   plain data. The outputs come back as JSON plus ``.npz`` arrays loaded with
   ``allow_pickle=False``, as :class:`ProbeResult` objects.
3. ``EXERCISE.score(results, submission)`` -> list of :class:`TestResult`,
   one per :class:`Part`. Runs in the grader's process only, which never runs
   learner code: it computes the references itself (NumPy, ``dlbasics`` or
   PyTorch), keeps held-out labels and thresholds to itself, and treats every
   output as untrusted data (wrong type, wrong shape, NaN, huge).

Everything here is plain data, so both sides can be tested without a sandbox.
A minimal hidden-test module::

    import numpy as np
    from dlbasics_grader.spec import Exercise, Part, Probe, compare_arrays

    def _double(ns, inputs):                      # runs in the sandbox
        return {"y": ns["double"](inputs["x"])}

    PARTS = (Part("ex0.double", 1.0, "double(x) returns 2 x"),)

    def probes(seed):
        x = np.random.default_rng(seed).normal(size=5)
        return [Probe.from_function(_double, inputs={"x": x})]

    def score(results, submission):
        part = PARTS[0]
        r = results["_double"]
        if not r.ok:
            return [part.failed(r.describe_failure())]
        x = np.random.default_rng(submission.seed).normal(size=5)
        problem = compare_arrays(r.outputs.get("y"), 2 * x, name="double(x)")
        return [part.failed(problem) if problem else part.passed("double(x) is right.")]

    EXERCISE = Exercise(name="ex0", title="Doubling", notebook="ex0_double.ipynb",
                        parts=PARTS, probes=probes, score=score)
"""

from __future__ import annotations

import inspect
import math
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from dlbasics.checks.static import StaticReport, Violation  # noqa: F401 - part of the contract

Visibility = Literal["visible", "hidden", "after_due_date", "after_published"]
"""Gradescope's visibility values for a test or for the whole result."""

Status = Literal["passed", "failed", "error", "timeout", "out of memory", "crashed"]
"""Status of one graded test.

``passed``/``failed``: the code ran and the answer was right/wrong.
``error``: the learner's code raised (or is missing). ``timeout``: a wall or
CPU time limit stopped it. ``out of memory``: it hit the memory limit.
``crashed``: the sandboxed process died (``os._exit``, a signal, ...).
"""

STATUSES: tuple[str, ...] = ("passed", "failed", "error", "timeout", "out of memory", "crashed")

ProbeStatus = Literal["ok", "error", "timeout", "out of memory", "crashed", "not run"]
"""Status of one probe: ``ok`` means the driver returned a dict that came back
intact; ``not run`` means the sandbox stopped before reaching it."""

PROBE_STATUSES: tuple[str, ...] = ("ok", "error", "timeout", "out of memory", "crashed", "not run")


# ----------------------------------------------------------------------------
# What an exercise declares
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """Resource limits for the sandboxed process of one submission.

    Attributes
    ----------
    total_wall_s
        Time for everything (all cells and all probes), seconds: the sandbox's
        own CPU time (a busy neighbour does not use it up), with a wall-clock
        backstop at ``sandbox.WALL_FACTOR`` times as long.
    cell_wall_s
        Time for one notebook cell, seconds, measured the same way. A cell that
        runs longer is interrupted (``GradingTimeout`` inside the cell) and
        grading goes on with the next cell; if it cannot be interrupted, the
        process is killed.
    cpu_s
        CPU time for the whole process (``RLIMIT_CPU``), seconds.
    memory_mb
        Memory limit in MiB, applied as ``RLIMIT_AS`` (``memory_kind="as"``,
        right for NumPy-only code) or ``RLIMIT_DATA`` (``"data"``, right for
        PyTorch, which reserves a lot of address space it never touches).
    nproc
        Processes and threads the sandbox user may own (``RLIMIT_NPROC``).
    file_size_mb
        Largest file the sandbox may write (``RLIMIT_FSIZE``).
    open_files
        Open file descriptors (``RLIMIT_NOFILE``).
    output_kb
        Kept from the learner's stdout and from stderr (head and tail); the
        rest is read and thrown away, so printing 100 MB costs nothing.
    result_mb
        Largest total size of probe outputs that the grader will accept.
    """

    total_wall_s: float = 60.0
    cell_wall_s: float = 20.0
    cpu_s: int = 120
    memory_mb: int = 1536
    memory_kind: Literal["as", "data"] = "as"
    nproc: int = 64
    file_size_mb: int = 64
    open_files: int = 256
    output_kb: int = 64
    result_mb: int = 64


@dataclass(frozen=True)
class SandboxPolicy:
    """What the learner's code may import, enforced twice.

    Attributes
    ----------
    forbidden_modules
        Top-level or dotted module names (``"torch"``, ``"dlbasics"``). In the
        sandbox, importing one gives a stand-in module whose every attribute
        access raises ``ImportError`` with ``reason``; an audit hook refuses the
        real import even if the stand-in is removed. In the grader, a static
        scan (``ast``) of the submission records every use as a
        :class:`Violation`, so ``score`` can give 0 to the parts that reach it.
    allowed_modules
        If not ``None``, the only modules the static scan accepts (their
        submodules too); any other import is a violation. The runtime does not
        block these, only ``forbidden_modules``.
    dynamic_code_is_violation
        If true, ``exec``/``eval``/``compile``/``__import__``/``importlib``/
        ``sys.modules``/``ctypes`` in the submission are violations as well,
        since they can hide a forbidden import from the static scan.
    reason
        One sentence shown to the learner, e.g. "Exercise 1 is written from
        scratch with NumPy only".
    preload
        Modules the runner imports before the learner's code, while the grader
        still reads the notebook: what the exercise's notebook imports (its
        import then costs nothing, and runs before the audit hook, which slows
        imports down), and what the runner keeps private references to.
    allow_processes
        If false, ``os.fork``, ``subprocess``, ``os.system`` and friends raise
        ``PermissionError`` in the sandbox (a NumPy exercise needs none; a
        PyTorch ``DataLoader`` with workers does).
    forbidden_names
        Dotted names inside an allowed module (``"torch.nn.MultiheadAttention"``,
        ``"torch.nn.functional.scaled_dot_product_attention"``): the static scan
        records every use as a :class:`Violation`, however the module was
        imported. The sandbox does not block them (the module stays importable);
        an exercise that forbids them also checks what its probes ran.
    """

    forbidden_modules: tuple[str, ...] = ()
    allowed_modules: tuple[str, ...] | None = None
    dynamic_code_is_violation: bool = False
    reason: str = ""
    preload: tuple[str, ...] = ("numpy",)
    allow_processes: bool = True
    forbidden_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Part:
    """One graded part of an exercise: one ``tests[]`` entry in results.json.

    ``name`` is stable and unique (``"ex1.forward"``); it is also the public
    check's name when there is one. ``title`` is what a learner reads;
    ``full_credit``, what a learner reads when the part earns full marks.
    """

    name: str
    max_score: float
    title: str
    visibility: Visibility = "visible"
    full_credit: str = ""

    def result(self, score: float, status: Status, output: str) -> TestResult:
        """A :class:`TestResult` for this part (score clipped to ``[0, max_score]``)."""
        if not math.isfinite(score):
            score = 0.0
        score = min(max(float(score), 0.0), self.max_score)
        return TestResult(
            name=self.name,
            title=self.title,
            score=score,
            max_score=self.max_score,
            status=status,
            output=output,
            visibility=self.visibility,
        )

    def passed(self, output: str = "") -> TestResult:
        """Full marks."""
        return self.result(self.max_score, "passed", output)

    def failed(self, output: str, score: float = 0.0, status: Status = "failed") -> TestResult:
        """Partial or no credit. ``output`` says what was expected and what was given."""
        return self.result(score, status, output)

    def from_probe(self, probe: ProbeResult) -> TestResult:
        """Zero marks because ``probe`` did not return: status and message follow it."""
        return self.result(0.0, probe.test_status(), probe.describe_failure())


@dataclass(frozen=True)
class Probe:
    """One call into the learner's code, run inside the sandbox.

    Attributes
    ----------
    name
        Unique within the exercise; the key of its :class:`ProbeResult`.
    source
        Python source defining a function called ``entry`` with the signature
        ``entry(ns: dict, inputs: dict) -> dict``. ``ns`` is the notebook's
        global namespace after all cells ran; ``inputs`` holds this probe's
        inputs (NumPy arrays come back as arrays, the rest as JSON values).
        The source is run on its own (``exec`` in a fresh namespace), so it
        must import what it uses inside the function. It runs next to the
        learner's code, so it must not contain anything secret, and it should
        do as little as possible: call the learner's code, return raw results.
    inputs
        ``str -> np.ndarray | JSON value``. Arrays must be numeric or bool.
    timeout_s
        Wall time for this probe. A probe that runs longer is interrupted;
        if it cannot be interrupted, the process is killed and restarted for
        the remaining probes (the notebook's cells run again).
    entry
        Name of the function in ``source`` to call.

    The returned dict may hold ``None``, ``bool``, ``int``, ``float``, ``str``,
    lists/tuples/dicts of those, NumPy scalars and NumPy arrays of a numeric
    or bool dtype (arrays may sit at the top level only). Anything else makes
    the probe an ``error`` that says which key held what.
    """

    name: str
    source: str
    inputs: Mapping[str, Any] = field(default_factory=dict)
    timeout_s: float = 10.0
    entry: str = "probe"

    @classmethod
    def from_function(
        cls,
        fn: Callable[[dict, dict], dict],
        *,
        inputs: Mapping[str, Any] | None = None,
        timeout_s: float = 10.0,
        name: str | None = None,
        helpers: Sequence[Callable[..., Any]] = (),
    ) -> Probe:
        """Build a probe from a module-level function of the hidden-test module.

        Only ``fn``'s own source travels, after the sources of ``helpers``
        (functions or classes it calls by name, defined next to it in the
        sandbox, so that nothing of the learner's process is imported for
        them): neither may use other globals of the hidden module (import
        inside them instead).
        """
        parts = [textwrap.dedent(inspect.getsource(f)) for f in (*helpers, fn)]
        source = ("from __future__ import annotations\n\n" if helpers else "") + "\n\n".join(parts)
        return cls(
            name=name or fn.__name__,
            source=source,
            inputs=dict(inputs or {}),
            timeout_s=timeout_s,
            entry=fn.__name__,
        )


@dataclass(frozen=True)
class Evaluation:
    """A model evaluated on held-out data, in a sandbox that never runs learner code.

    The held-out inputs never enter the learner's process. A probe there
    (``source``) exports the learner's model as a graph of tensor operations
    with its weights (a TorchScript file, :func:`dlbasics.checks._export.export_graph`)
    and returns the file's bytes as a ``uint8`` array under each key of
    ``models``. The engine then starts a fresh sandbox that imports no learner
    code and runs ``probe(seed)`` there: a driver that loads each graph and
    returns what it computes on the held-out inputs (logits, log-probabilities),
    which ``score`` turns into a metric. The driver's result is
    ``results[name]`` in ``score``; when ``source`` failed or returned no
    graph, that result is an ``error`` naming why.

    Attributes
    ----------
    name
        Key of its :class:`ProbeResult`; distinct from every probe's name.
    source
        The probe (in the learner's sandbox) whose outputs hold the graphs.
    models
        Output keys of ``source`` holding graphs; each reaches the driver
        under the same input key. ``<key>_error`` in ``source``'s outputs says
        why a graph is missing (shown to the learner).
    probe
        ``probe(seed) -> Probe``: the driver and the held-out inputs (secret
        inputs are fine here, and only here).
    values
        Other output keys of ``source`` that reach the driver under the same
        input key (``None`` when missing), such as the size a model was traced
        at. They are the learner's data: the driver checks them before use.
    """

    name: str
    source: str
    models: tuple[str, ...]
    probe: Callable[[int], Probe]
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Exercise:
    """Everything the engine needs to grade one exercise.

    Attributes
    ----------
    name
        Short id used on the command line (``"ex1"``); the module file is
        ``hidden_exercises/<name>.py``.
    title
        Human-readable title.
    notebook
        File name of the student notebook in ``exercises/`` (and of the
        complete one in ``solutions/``).
    parts
        The graded parts, in report order. ``score`` must return one
        :class:`TestResult` per part (missing ones are reported as a grader
        error, extra ones are dropped).
    probes
        ``probes(seed) -> list[Probe]``.
    score
        ``score(results, submission) -> list[TestResult]``; ``results`` maps
        probe name -> :class:`ProbeResult` and holds every probe from
        ``probes(submission.seed)``, run or not.
    limits
        Sandbox limits (:class:`Limits`).
    policy
        Import policy (:class:`SandboxPolicy`).
    seed
        Seed passed to ``probes`` (and available as ``submission.seed``).
        Keep it in the hidden module, so the learner cannot know it.
    evaluations
        Held-out evaluations of exported models (:class:`Evaluation`), run
        after the learner's sandbox in one fresh sandbox of their own.
    """

    name: str
    title: str
    notebook: str
    parts: tuple[Part, ...]
    probes: Callable[[int], Sequence[Probe]]
    score: Callable[[Mapping[str, ProbeResult], Submission], Sequence[TestResult]]
    limits: Limits = field(default_factory=Limits)
    policy: SandboxPolicy = field(default_factory=SandboxPolicy)
    seed: int = 0
    evaluations: tuple[Evaluation, ...] = ()

    @property
    def max_score(self) -> float:
        """Sum of the parts' ``max_score``."""
        return float(sum(p.max_score for p in self.parts))

    def part(self, name: str) -> Part:
        """The part called ``name`` (``KeyError`` if there is none)."""
        for p in self.parts:
            if p.name == name:
                return p
        raise KeyError(f"exercise {self.name!r} has no part {name!r}")


# ----------------------------------------------------------------------------
# What the engine hands to ``score``
# ----------------------------------------------------------------------------


@dataclass
class ProbeResult:
    """What came back from one probe (untrusted data).

    Attributes
    ----------
    name
        The probe's name.
    status
        See :data:`ProbeStatus`.
    outputs
        The driver's returned dict (arrays as ``np.ndarray``); empty unless
        ``status == "ok"``. Validate every key: it can be missing or hold
        anything JSON or a numeric array can hold.
    error
        For ``error``: ``"ExceptionType: message"`` raised by the learner's
        code. For the other failures: what the engine saw.
    traceback
        The part of the traceback that lies in the learner's cells.
    duration_s
        Wall time the probe took inside the sandbox (as the sandbox says).
    cpu_s
        CPU time the sandbox used during the probe, measured by the grader from
        outside (its cgroup or its processes): use this, not a time the probe
        returns, to hold a submission to a CPU budget.
    """

    name: str
    status: ProbeStatus
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    traceback: str = ""
    duration_s: float = 0.0
    cpu_s: float = 0.0

    @property
    def ok(self) -> bool:
        """True when the driver returned and its outputs came back."""
        return self.status == "ok"

    def test_status(self) -> Status:
        """The :data:`Status` a test should get when this probe failed."""
        return {
            "ok": "failed",
            "error": "error",
            "timeout": "timeout",
            "out of memory": "out of memory",
            "crashed": "crashed",
            "not run": "error",
        }[self.status]

    def describe_failure(self) -> str:
        """A sentence (plus traceback) a learner can act on."""
        tb = f"\n{self.traceback.rstrip()}" if self.traceback.strip() else ""
        if self.status == "error":
            if self.error.startswith("NotImplementedError"):
                return f"Not implemented yet ({self.error}).{tb}"
            return f"Your code raised {self.error}{tb}"
        if self.status == "timeout":
            return f"Stopped: {self.error or 'it ran past its time limit'}.{tb}"
        if self.status == "out of memory":
            return f"Ran out of memory: {self.error or 'it hit the memory limit'}.{tb}"
        if self.status == "crashed":
            return f"The notebook's process died: {self.error or 'it exited early'}."
        if self.status == "not run":
            return f"Not run: {self.error or 'an earlier problem stopped the grader'}."
        return self.error or "No problem recorded."


@dataclass(frozen=True)
class CellRun:
    """How one code cell of the submission ran in the sandbox.

    ``index`` counts all cells of the notebook from 0 (markdown included);
    ``label`` is how messages for learners name the cell, its execution count
    and first line (``cell [7] "def forward(self, X):"``), since a count from
    the top matches nothing JupyterLab shows; ``status`` is ``ok``, ``error``, ``timeout``,
    ``out of memory``, ``crashed`` or ``not run``; ``error`` is
    ``"ExceptionType: message"``; ``traceback`` covers the learner's cells only;
    ``cpu_s`` is the CPU time the whole sandbox used while the cell ran, measured by
    the grader from outside (threads the cell started included).
    """

    index: int
    status: str
    error: str = ""
    traceback: str = ""
    duration_s: float = 0.0
    label: str = ""
    cpu_s: float = 0.0

    @property
    def where(self) -> str:
        """``label``, or ``"cell <index + 1>"`` when there is none."""
        return self.label or f"cell {self.index + 1}"


@dataclass
class Submission:
    """Everything ``score`` may know about the submission besides probe outputs.

    Attributes
    ----------
    path
        The submitted file.
    seed
        The seed ``probes`` was called with.
    load_error
        Non-empty when the file is not a readable notebook (then no cell ran).
    cells
        One :class:`CellRun` per code cell, in order.
    static
        The :class:`StaticReport`.
    stdout, stderr
        The kept head/tail of the process's output streams.
    """

    path: Path
    seed: int = 0
    load_error: str = ""
    cells: list[CellRun] = field(default_factory=list)
    static: StaticReport = field(default_factory=StaticReport)
    stdout: str = ""
    stderr: str = ""

    def cells_cpu_s(self) -> float:
        """CPU seconds the sandbox used while the notebook's cells ran, measured from outside
        (the first run of each cell when the notebook had to be run again)."""
        return float(sum(c.cpu_s for c in self.cells))

    def cell_errors(self) -> list[CellRun]:
        """Cells that did not finish normally."""
        return [c for c in self.cells if c.status not in ("ok", "skipped")]

    def cell_error_summary(self, limit: int = 3) -> str:
        """Short text naming the first failing cells, for test messages."""
        bad = self.cell_errors()
        if not bad:
            return ""
        lines = [f"{c.where}: {c.error or c.status}" for c in bad[:limit]]
        more = f" (and {len(bad) - limit} more)" if len(bad) > limit else ""
        return "Cells that failed while your notebook ran: " + "; ".join(lines) + more


# ----------------------------------------------------------------------------
# What ``score`` returns
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TestResult:
    """One graded test; maps to an entry of Gradescope's ``tests[]``.

    ``output`` is shown to the learner: say what was checked, what was
    expected and what was given, never the hidden reference values.
    """

    __test__ = False  # not a pytest test class

    name: str
    score: float
    max_score: float
    status: Status
    output: str = ""
    visibility: Visibility = "visible"
    title: str = ""

    def to_json(self) -> dict[str, Any]:
        """Gradescope ``tests[]`` entry (``status`` uses this module's vocabulary)."""
        return {
            "name": f"{self.name}: {self.title}" if self.title else self.name,
            "score": round(float(self.score), 4),
            "max_score": float(self.max_score),
            "status": self.status,
            "output": self.output,
            "visibility": self.visibility,
        }


# ----------------------------------------------------------------------------
# Helpers for ``score`` functions
# ----------------------------------------------------------------------------


def as_array(value: Any, name: str) -> tuple[np.ndarray | None, str]:
    """Turn an untrusted output into a float/int array, or explain why not.

    Returns ``(array, "")`` or ``(None, message)``. Accepts arrays and
    (nested) lists of numbers; refuses strings, dicts, ragged lists, None.
    """
    if value is None:
        return None, f"{name} is missing (got None)."
    if isinstance(value, np.ndarray):
        arr = value
    else:
        try:
            arr = np.asarray(value)
        except (ValueError, TypeError) as exc:
            return None, f"{name} is not an array ({exc})."
    if arr.dtype.kind not in "biuf":
        return None, f"{name} should be numeric but has dtype {arr.dtype}."
    return arr, ""


def compare_arrays(
    got: Any,
    expected: np.ndarray,
    *,
    name: str,
    rtol: float = 1e-5,
    atol: float = 1e-7,
) -> str | None:
    """Check an untrusted output against a reference computed by the grader.

    Returns ``None`` when ``got`` has ``expected``'s shape, is finite and
    ``|got - expected| <= atol + rtol * |expected|`` everywhere. Otherwise
    returns a message a learner can act on: the shape expected and given, the
    number of NaN/inf entries, or the largest error and where it is. The
    reference values themselves are not quoted.
    """
    arr, problem = as_array(got, name)
    if arr is None:
        return problem
    expected = np.asarray(expected)
    if arr.shape != expected.shape:
        return f"{name} has shape {arr.shape}, expected {expected.shape}."
    arr = arr.astype(np.float64)
    n_bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
    if n_bad:
        return f"{name} contains {n_bad} NaN or infinite value(s) out of {arr.size}."
    diff = np.abs(arr - expected)
    tol = atol + rtol * np.abs(expected)
    bad = diff > tol
    if not bad.any():
        return None
    idx = np.unravel_index(int(np.argmax(np.where(bad, diff - tol, -np.inf))), arr.shape)
    where = f" at index {tuple(int(i) for i in idx)}" if arr.ndim else ""
    return (
        f"{name} is wrong in {int(bad.sum())} of {arr.size} entries; the largest error is "
        f"{float(diff[idx]):.3g}{where} (tolerance: rtol={rtol:g}, atol={atol:g})."
    )
