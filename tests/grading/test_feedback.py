"""Feedback that reads well: cells named by number and definitions, plain Markdown with learner
text still literal, the grader's own lines without the learner-output mark, a batch's progress
and gradebook."""

from __future__ import annotations

import csv
import shutil

from dlbasics_grader.cli import main
from dlbasics_grader.notebook import CodeCell
from dlbasics_grader.report import LEARNER_MARK

from ..helpers import EX1, EXERCISES, HIDDEN, SOLUTIONS


def test_cells_that_start_alike_are_named_apart_by_number_and_definition():
    sources = ["@add_to_class(Net)\ndef forward(self, X):\n    return X\n",
               "@add_to_class(Net)\ndef backward(self, dout):\n    return dout\n",
               "@add_to_class(Net)\ndef fit(self, X, y):\n    pass\n\n\ndef helper():\n    pass\n"]
    labels = [CodeCell(i + 3, s, s).label for i, s in enumerate(sources)]
    assert labels == ["cell 4 (def forward)", "cell 5 (def backward)", "cell 6 (def fit, def helper)"]
    assert CodeCell(0, "class Net:\n    pass", "", execution_count=7).label == "cell [7] (class Net)"
    assert CodeCell(1, "net.fit(X, y)", "").label == 'cell 2 "net.fit(X, y)"'


def test_the_grader_prints_its_own_lines_without_the_learner_mark(tmp_path, capsys):
    folder = tmp_path / "alice"
    folder.mkdir()
    shutil.copy(EXERCISES / EX1, folder / EX1)
    assert main(["grade", "ex1", str(folder), "--choose", "--tests", str(HIDDEN)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Graded {EX1} (the exercise's notebook).")
    marked = [ln for ln in out.splitlines() if LEARNER_MARK in ln]
    assert marked and not any("Score: " in ln or "Graded " in ln for ln in marked)


def test_a_batch_counts_every_student_and_names_files_relative_to_its_folder(tmp_path, capsys):
    subs = tmp_path / "submissions"
    subs.mkdir()
    shutil.copy(SOLUTIONS / EX1, subs / "alice.ipynb")
    (subs / "bob").mkdir()
    shutil.copy(EXERCISES / EX1, subs / "bob" / EX1)
    (subs / "carol").mkdir()  # nothing submitted: not graded, still counted
    book = tmp_path / "gradebook.csv"
    assert main(["batch", "ex1", str(subs), "--csv", str(book), "--jobs", "2",
                 "--tests", str(HIDDEN)]) == 4
    err = capsys.readouterr().err
    assert "3/3" in err  # three students, one not graded: all counted
    rows = {r["student"]: r for r in csv.DictReader(book.open())}
    assert {s: r["file"] for s, r in rows.items()} == {
        "alice": "alice.ipynb", "bob": f"bob/{EX1}", "carol": "carol"}


def test_a_gradescope_export_gets_its_student_ids_in_the_gradebook(tmp_path):
    subs = tmp_path / "export"
    for folder in ("submission_101", "submission_102"):
        (subs / folder).mkdir(parents=True)
    shutil.copy(SOLUTIONS / EX1, subs / "submission_101" / EX1)
    shutil.copy(EXERCISES / EX1, subs / "submission_102" / EX1)
    (subs / "submission_metadata.yml").write_text(
        "submission_101:\n  :submitters:\n  - :name: Alice A\n    :sid: '2026001'\n"
        "    :email: alice@example.edu\n  :score: 10.0\n"
        "submission_102:\n  :submitters:\n  - :name: Bob B\n    :email: bob@example.edu\n")
    book = tmp_path / "gradebook.csv"
    assert main(["batch", "ex1", str(subs), "--csv", str(book), "-q", "--tests", str(HIDDEN)]) == 0
    rows = {r["student"]: r for r in csv.DictReader(book.open())}
    assert set(rows) == {"2026001", "bob@example.edu"}
    assert rows["2026001"]["file"] == f"submission_101/{EX1}" and rows["2026001"]["score"] == "10"
