"""Unit tests of the grader's parts that need no sandbox: codec, notebook reading, the spec's
helpers (the static scan it shares with the public checks is tested in tests/checks)."""

from __future__ import annotations

import json

import nbformat
import numpy as np
import pytest

from dlbasics.checks.static import ImportRules
from dlbasics_grader import codec
from dlbasics_grader.notebook import (
    NotebookError,
    parse_notebook,
    strip_checks,
    strip_ipython,
)
from dlbasics_grader.reading import read_submission
from dlbasics_grader.spec import Part, ProbeResult, compare_arrays

from ..helpers import EXERCISES

# -- codec ---------------------------------------------------------------------


def test_codec_round_trips_arrays_and_json_values():
    value = {"a": np.arange(6, dtype=np.int32).reshape(2, 3), "b": [1, 2.5, None, "x", True],
             "c": {"d": np.float32(1.5), "e": np.array([True, False])},
             "f": (np.float64(2.0), np.int64(3))}
    back = codec.decode(json.loads(json.dumps(codec.encode(value))), 1 << 20)
    np.testing.assert_array_equal(back["a"], value["a"])
    assert back["a"].dtype == np.int32
    assert back["b"] == [1, 2.5, None, "x", True]
    assert back["c"]["d"] == 1.5 and back["c"]["e"].dtype == np.bool_
    assert back["f"] == [2.0, 3]


@pytest.mark.parametrize("bad", [np.array(["a", "b"]), np.array([object()], dtype=object),
                                 np.array([1 + 2j]), {1: 2}, object(), "x" * 200_000])
def test_codec_refuses_what_it_cannot_carry(bad):
    with pytest.raises(codec.CodecError):
        codec.encode({"v": bad})


def test_codec_budget_stops_huge_arrays_before_copying():
    with pytest.raises(codec.CodecError, match="larger than the grader accepts"):
        codec.encode({"big": np.zeros(1000)}, budget=[100])


@pytest.mark.parametrize("bad", [
    {"__ndarray__": "AAAA", "dtype": "|O", "shape": [1]},             # object dtype
    {"__ndarray__": "AAAA", "dtype": "<f8", "shape": [7]},            # data too short
    {"__ndarray__": "AAAA", "dtype": "<f8", "shape": [-1]},           # negative shape
    {"__ndarray__": "AAAA", "dtype": "<f8", "shape": [1], "x": 1},    # extra key
    {"__ndarray__": "!!!!", "dtype": "|u1", "shape": [3]},            # not base64
])
def test_decode_rejects_malformed_arrays(bad):
    with pytest.raises((codec.CodecError, ValueError)):
        codec.decode({"v": bad}, 1 << 20)


def test_decode_enforces_the_size_budget():
    enc = codec.encode({"v": np.zeros(1000)})
    with pytest.raises(codec.CodecError):
        codec.decode(enc, 100)


# -- notebooks -----------------------------------------------------------------


def _nb_bytes(*cells: str) -> bytes:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# title"),
                *(nbformat.v4.new_code_cell(c) for c in cells)]
    return nbformat.writes(nb).encode()


def test_parse_notebook_keeps_cell_indices_counting_markdown():
    assert parse_notebook(_nb_bytes("a = 1", "b = 2")) == [(1, "a = 1"), (2, "b = 2")]


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "empty"),
    (b"   \n", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "binary"),
    (b"\xff\xfe\xfa", "not UTF-8"),
    (b'{"cells": [', "not valid notebook JSON"),
    (b"[1, 2]", "not a notebook"),
    (b'{"nbformat": 2, "cells": []}', "nbformat 2"),
    (b'{"nbformat": 4}', "no list of cells"),
    (b'{"nbformat": 4, "cells": [{"cell_type": "code", "source": 5}]}', "not text"),
])
def test_parse_notebook_explains_unreadable_files(data, reason):
    with pytest.raises(NotebookError, match=reason):
        parse_notebook(data)


def test_nbformat3_notebooks_are_upgraded():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 41 + 1")]
    v3 = nbformat.writes(nbformat.convert(nb, 3), version=3).encode()
    assert b"worksheets" in v3
    assert parse_notebook(v3) == [(0, "x = 41 + 1")]


def test_ipython_syntax_becomes_pass_and_line_numbers_stay():
    code, skipped = strip_ipython("%matplotlib inline\nx = 1\n!pip install torch\nfiles = !ls\nnp.sum?")
    assert not skipped
    assert code.split("\n") == ["pass", "x = 1", "pass", "files = None", "pass"]
    compile(code, "<cell>", "exec")


def test_valid_python_is_never_touched_by_magic_stripping():
    src = 'msg = ("loss %.3f"\n       % 0.5)\nprint(msg)'
    assert strip_ipython(src) == (src, "")


def test_non_python_cell_magics_are_skipped():
    assert strip_ipython("%%bash\nrm -rf /")[1].startswith("cell magic %%bash")
    assert strip_ipython("%%time\nx = 1")[0].strip() == "x = 1"


def test_public_checks_are_removed_but_similar_code_is_kept():
    src = ("from dlbasics.checks import check\nx = 1\ncheck('ex1.init', Net)\n"
           "import dlbasics_grader.spec as spec\nrecheck = check\n")
    code, tree = strip_checks(src)
    out = code.split("\n")
    assert [type(n).__name__ for n in tree.body] == ["Pass", "Assign", "Pass", "Import", "Assign"]
    assert out[0] == "pass" and out[2] == "pass"
    assert out[1] == "x = 1" and out[3].startswith("import dlbasics_grader.spec")
    assert out[4] == "recheck = check"


@pytest.mark.parametrize("name", ["ex1_neural_network", "ex2_cnn", "ex3_lstm_attention",
                                  "ex4_transformer"])
def test_the_first_cell_of_every_exercise_is_removed_whole(name):
    """The install cell (``try: import dlbasics``, ``%pip``) and its ``require_torch()``:
    the grader removes both, never the import alone (which left a NameError)."""
    nb = nbformat.read(EXERCISES / f"{name}.ipynb", as_version=4)
    first = next(c.source for c in nb.cells if c.cell_type == "code")
    code, problem = strip_ipython(first)
    assert not problem
    stripped, tree = strip_checks(code)
    assert all(type(n).__name__ == "Pass" for n in tree.body), stripped


def test_only_the_course_packages_require_torch_is_removed():
    code, tree = strip_checks("import x\nx.require_torch()\nrequire_torch()\n")
    assert [type(n).__name__ for n in tree.body] == ["Import", "Expr", "Expr"]


def test_read_submission_runs_the_whole_pipeline(tmp_path):
    p = tmp_path / "nb.ipynb"
    p.write_bytes(_nb_bytes("%time x = 1", "check('ex1.forward', C)", "import torch\ny = 2"))
    reading = read_submission(p, ImportRules(forbidden_modules=("torch",), reason="NumPy only"))
    cells = reading.cells
    assert [c.index for c in cells] == [1, 2, 3]
    assert cells[0].code == "pass" and cells[1].code == "pass"
    assert cells[1].source == "check('ex1.forward', C)"
    assert [(v.cell, v.line, v.what) for v in reading.static.violations] == [
        (3, 1, "import torch")]
    assert reading.static.names == {"torch", "y"}


# -- spec helpers ---------------------------------------------------------------


def test_compare_arrays_messages_say_what_is_wrong_without_the_reference():
    ref = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert compare_arrays(ref + 1e-9, ref, name="y") is None
    assert "shape (2,), expected (2, 2)" in compare_arrays(np.ones(2), ref, name="y")
    assert "1 NaN" in compare_arrays(np.where(ref > 3, np.nan, ref), ref, name="y")
    msg = compare_arrays(ref + [[0, 0], [0, 1]], ref, name="y")
    assert "1 of 4 entries" in msg and "index (1, 1)" in msg and "4.0" not in msg
    assert "missing" in compare_arrays(None, ref, name="y")
    assert "numeric" in compare_arrays("text", ref, name="y")
    assert "numeric" in compare_arrays([[1, "a"]], ref, name="y")


def test_part_results_are_clipped_and_statuses_follow_probes():
    part = Part("ex0.p", 2.0, "title")
    assert part.result(5.0, "passed", "").score == 2.0
    assert part.result(-1.0, "failed", "").score == 0.0
    assert part.result(float("nan"), "failed", "").score == 0.0
    res = part.from_probe(ProbeResult("p", "timeout", error="the call ran longer than 1 s"))
    assert res.status == "timeout" and res.score == 0 and "longer than 1 s" in res.output
    nie = ProbeResult("p", "error", error="NotImplementedError: do it")
    assert part.from_probe(nie).output.startswith("Not implemented yet")


@pytest.mark.parametrize("fatal, expect_calls", [
    ("BlockingIOError: [Errno 11] Resource temporarily unavailable", 3),
    ("PermissionError: [Errno 1] Operation not permitted", 1),
])
def test_a_setup_short_of_a_process_slot_is_tried_again(monkeypatch, fatal, expect_calls):
    """Without a user or cgroup of its own, another sandbox may hold the process slot this
    one's setup needs: that setup is tried again; any other setup failure is not."""
    import time

    from dlbasics_grader import engine
    from dlbasics_grader.sandbox.job import RawRun

    calls = []
    started = object()  # the sandbox started while the notebook was read

    def fake_run_job(job, private, deadline, cpu_left, launch=None):
        calls.append(launch)
        return RawRun(finished=True) if len(calls) == 3 else RawRun(fatal=fatal)

    monkeypatch.setattr(engine, "run_job", fake_run_job)
    monkeypatch.setattr(engine.time, "sleep", lambda s: None)
    raw = engine._run_job(None, [], time.monotonic() + 60, 10.0, started)
    assert len(calls) == expect_calls
    assert calls[0] is started and not any(calls[1:])  # a retry starts a new sandbox
    assert raw.finished == (expect_calls == 3)
    calls.clear()
    expired = engine._run_job(None, [], time.monotonic() - 1, 10.0)  # past its deadline: no retry
    assert len(calls) == 1 and not expired.finished
