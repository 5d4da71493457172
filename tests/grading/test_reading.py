"""Reading a submission in a bounded child process (``dlbasics_grader.reading``).

Each cell is parsed once; the reply is plain data, decoded strictly; a notebook whose reading
passes the child's limits is refused with a sentence; and the grader itself stays under
512 MiB for notebooks at the size limit (20 MB), graded alone or in a batch with ``--jobs 2``.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from dlbasics.checks.static import ImportRules
from dlbasics_grader import notebook
from dlbasics_grader.notebook import MAX_CODE_CELLS, MAX_NOTEBOOK_BYTES, NotebookError
from dlbasics_grader.reading import (
    ReadLimits,
    read_submission,
    reading_from_wire,
    reading_to_wire,
)

from ..helpers import HIDDEN, REPO

RULES = ImportRules(forbidden_modules=("torch",), reason="NumPy only")
GRADER_PEAK_MIB = 512


def _notebook(path: Path, cells: list[str]) -> Path:
    """A format-4 notebook of these code cells (written directly: nbformat validates each
    cell, which takes seconds for thousands)."""
    path.write_text(json.dumps({
        "nbformat": 4, "nbformat_minor": 5, "metadata": {},
        "cells": [{"cell_type": "code", "id": f"c{k}", "metadata": {}, "outputs": [],
                   "execution_count": None, "source": c} for k, c in enumerate(cells)]}),
        encoding="utf-8")
    return path


def test_each_cell_is_parsed_once(monkeypatch):
    parsed = []
    real = ast.parse
    monkeypatch.setattr(ast, "parse", lambda code, *a, **k: parsed.append(code) or real(code))
    cells = ["import numpy as np\nx = np.ones(3)", "from dlbasics.checks import check\n"
             "check('ex1.init', x)", "def f(a):\n    return a + 1", "%time y = f(2)"]
    data = nbformat.writes(nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(c) for c in cells])).encode()
    reading = notebook.read_notebook(data, RULES)
    # the IPython cell is parsed as written, then as the Python it becomes
    assert parsed == [*cells, "pass"]
    assert reading.cells[1].code == "pass\npass"
    assert reading.static.names == {"np", "x", "f"}


def test_the_reply_is_decoded_strictly(tmp_path):
    reading = read_submission(_notebook(tmp_path / "a.ipynb", ["import torch", "%ls", "x = 1"]),
                              RULES)
    wire = json.loads(json.dumps(reading_to_wire(reading)))
    assert reading_from_wire(wire) == reading
    assert [v.what for v in reading.static.violations] == ["import torch"]
    for broken in ({**wire, "extra": 1}, {"cells": wire["cells"]},
                   {**wire, "cells": [[0, None, 1, "", None]]},
                   {**wire, "static": {**wire["static"], "names": [1]}}):
        with pytest.raises(RuntimeError, match="malformed"):
            reading_from_wire(broken)
    with pytest.raises(NotebookError, match="not JSON"):
        reading_from_wire({"error": "not JSON"})


def test_a_notebook_whose_reading_passes_the_limits_is_refused_with_a_sentence(tmp_path):
    big = _notebook(tmp_path / "big.ipynb", ["x = [" + "0, " * 1_000_000 + "]"])
    with pytest.raises(NotebookError, match="needs more than 64 MB"):
        read_submission(big, RULES, ReadLimits(memory_mb=64))
    many = tmp_path / "many.ipynb"
    _notebook(many, ["x = 1"] * (MAX_CODE_CELLS + 1))
    with pytest.raises(NotebookError, match=f"more than {MAX_CODE_CELLS:,} code cells"):
        read_submission(many, RULES)


# -- the grader's own memory at the size limit ------------------------------------------------

def _near_limit(path: Path, cells: list[str]) -> Path:
    _notebook(path, cells)
    size = path.stat().st_size
    assert MAX_NOTEBOOK_BYTES - 2**20 < size <= MAX_NOTEBOOK_BYTES, size
    return path


@pytest.fixture(scope="module")
def twenty_mb(tmp_path_factory) -> dict[str, Path]:
    """Two notebooks just under 20 MB: one cell holding one long literal list (its syntax tree
    takes gigabytes), and 4,000 cells of 5 KB (strings: cheap to parse and run)."""
    root = tmp_path_factory.mktemp("twenty-mb")
    (root / "list").mkdir()
    (root / "cells").mkdir()
    nb = "ex1_neural_network.ipynb"
    return {"list": _near_limit(root / "list" / nb, ["x = [" + "0, " * 6_800_000 + "]"]),
            "cells": _near_limit(root / "cells" / nb,
                                 [f"a{k} = '" + "1" * 4_960 + "'" for k in range(4_000)])}


# the scripts run with the checkout on PYTHONPATH; peak_kib reads VmHWM, not ru_maxrss (which
# Linux keeps across execve: a child of a large test worker would report the worker's peak)
_PEAK = """
from tests.grading.helpers import peak_kib
"""

_GRADE = _PEAK + """
import json, sys
from pathlib import Path
from dlbasics_grader.engine import grade, load_exercise
ex1 = load_exercise("ex1", Path(sys.argv[1]))
rep = grade(ex1, sys.argv[2], private_paths=[Path(sys.argv[1])], time_scale=0.25)
print(json.dumps({"score": rep.score, "output": rep.output, "error": rep.grader_error,
                  "peak_kib": peak_kib()}))
"""

_BATCH = _PEAK + """
import json, runpy, sys
sys.argv = ["dlbasics-grade", *sys.argv[1:]]
try:
    runpy.run_module("dlbasics_grader.cli", run_name="__main__")
except SystemExit as exc:
    code = exc.code
print(json.dumps({"exit": code, "peak_kib": peak_kib()}))
"""


def _python(code: str, *args: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=300, cwd=REPO, env={"PATH": "/usr/bin:/bin",
                                                      "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.parametrize("case", ["list", "cells"])
def test_the_grader_stays_within_its_memory_at_the_size_limit(case, twenty_mb):
    """The grading process (RUSAGE_SELF: the reading child and the sandbox are bounded apart)
    peaks below 512 MiB; the long list is refused with a sentence, not a crash."""
    got = _python(_GRADE, str(HIDDEN), str(twenty_mb[case]))
    print(f"{case}: grader peak {got['peak_kib'] // 1024} MiB")
    assert not got["error"], got["error"]
    assert got["peak_kib"] < GRADER_PEAK_MIB * 1024, got
    if case == "list":
        assert got["score"] == 0 and "needs more than 512 MB" in got["output"], got["output"]


@pytest.mark.slow
def test_a_batch_with_two_jobs_stays_within_its_memory_at_the_size_limit(twenty_mb, tmp_path):
    batch = tmp_path / "batch"
    for name, path in twenty_mb.items():
        (batch / name).mkdir(parents=True)
        shutil.copy(path, batch / name / path.name)
    got = _python(_BATCH, "batch", "ex1", str(batch), "--jobs", "2", "--tests", str(HIDDEN),
                  "--quiet")
    print(f"batch --jobs 2: grader peak {got['peak_kib'] // 1024} MiB")
    assert got["exit"] in (0, 4), got
    assert got["peak_kib"] < GRADER_PEAK_MIB * 1024, got
