"""Every notebook that needs PyTorch says so, and how to install it, in its first cell
(tools/torch_install_note.py); the book still hides that cell."""

from __future__ import annotations

import nbformat
import pytest

from tools import sphinx_reader_view, torch_install_note

NOTEBOOKS = torch_install_note.notebooks()


def test_the_tool_has_run_on_every_notebook() -> None:
    assert torch_install_note.main(["--check"]) == 0, "run: python tools/torch_install_note.py"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_notebook_calls_require_torch_exactly_when_it_imports_torch(path) -> None:
    nb = nbformat.read(path, as_version=4)
    first = next(c.source for c in nb.cells if c.cell_type == "code")
    needs = torch_install_note.needs_torch(nb)
    assert first.endswith(torch_install_note.NOTE) == needs
    assert ("dlbasics.require_torch()" in first) == needs
    assert 'pip install -r requirements.txt -e ".[torch]"' in first or not needs
    assert sphinx_reader_view.is_install_cell(first)  # hidden in the book, kept in the download


def test_chapter_1_and_exercise_1_need_no_torch_and_the_others_do() -> None:
    needing = {p.stem for p in NOTEBOOKS if torch_install_note.needs_torch(nbformat.read(p, 4))}
    assert {"01_introduction", "ex1_neural_network"}.isdisjoint(needing)
    assert {"07_pytorch", "08_convolutional_networks", "ex2_cnn", "ex3_lstm_attention",
            "ex4_transformer"} <= needing


def test_the_note_is_idempotent_and_leaves_when_torch_does() -> None:
    cell = ('try:\n    import dlbasics\nexcept ImportError:\n    %pip install -q "dlbasics"\n'
            "    import dlbasics")
    once = torch_install_note.with_note(cell, True)
    assert torch_install_note.with_note(once, True) == once
    assert torch_install_note.with_note(once, False) == cell


def test_a_notebook_without_an_install_cell_is_refused(tmp_path) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import torch")])
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(ValueError, match="first code cell is not the cell that installs dlbasics"):
        torch_install_note.apply(path)
