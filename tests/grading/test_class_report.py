"""The class report, on a batch whose mistakes are known: made from the Ex1 solution with
known edits."""

from __future__ import annotations

import re

import pytest

from dlbasics_grader.class_report import diagnosis
from dlbasics_grader.cli import main

from ..helpers import EX1, EXERCISES, HIDDEN, SOLUTIONS, code_cells, write_notebook

SUMMED = ("    dlogits /= n\n", "")  # gradients summed over the batch, not averaged


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    subs = root / "submissions"
    subs.mkdir()
    solution = code_cells(SOLUTIONS / EX1, stop_at="def make_spirals")
    summed = [c.replace(*SUMMED) for c in solution]
    assert summed != solution
    for name, cells in {"alice": solution, "bob": solution, "carol": summed, "dave": summed,
                        "erin": code_cells(EXERCISES / EX1, stop_at="def make_spirals")}.items():
        write_notebook(subs / f"{name}.ipynb", cells)
    (subs / "frank").mkdir()  # submitted nothing
    results = root / "results"
    assert main(["batch", "ex1", str(subs), "--results-dir", str(results), "--jobs", "2", "-q",
                 "--tests", str(HIDDEN)]) == 4
    assert main(["report", str(results), "--out", str(root / "report")]) == 0
    return root / "report"


@pytest.mark.slow
def test_the_markdown_counts_each_diagnosis_and_names_who_needs_attention(batch):
    md = (batch / "class-report.md").read_text()
    assert "6 students" in md and "full marks 2" in md
    assert "| ex1.backward | 33 % |" in md and "| ex1.init | 67 % |" in md
    backward = next(ln for ln in md.splitlines() if ln.startswith("- ex1.backward:")
                    and "`carol, dave`" in ln)
    assert "**2 students**" in backward
    stubs = [ln for ln in md.splitlines() if "Not implemented yet" in ln]
    # one message for the parts that fail on __init__, counted once; train runs from the
    # grader's initial weights, so its own stub is its diagnosis
    assert stubs[0].startswith("- ex1.init, ex1.forward, ex1.backward: `Not implemented yet")
    assert "__init__: replace this line" in stubs[0]
    assert stubs[1].startswith("- ex1.train: `Not implemented yet")
    assert "train: replace this line" in stubs[1]
    assert all("**1 student**" in ln and "`erin`" in ln for ln in stubs) and len(stubs) == 2
    attention = md.split("## Students who need attention")[1].split("##")[0]
    assert "`erin`" in attention and "`frank`" in attention and "`alice`" not in attention


@pytest.mark.slow
def test_the_html_page_is_self_contained_with_both_plots(batch):
    page = (batch / "class-report.html").read_text()
    assert len(re.findall(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]{500,}"', page)) == 2
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "carol, dave" in page


def test_a_diagnosis_is_the_first_line_of_the_message_that_is_not_a_traceback():
    assert diagnosis("```text\nTraceback (most recent call last):\nValueError: x\n```") == (
        "ValueError: x")
    assert diagnosis("f' evaluated at A, not at z\nmore") == "f' evaluated at A, not at z"


def test_a_folder_without_results_is_refused_clearly(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "holds no results" in capsys.readouterr().err
