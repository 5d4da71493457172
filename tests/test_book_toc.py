"""The table of contents, the chapter files and the book configuration agree.

A chapter that exists but is missing from ``_toc.yml`` is never built; an entry
whose file is gone breaks the build; chapters must be numbered in reading
order (``chapters/01_*.ipynb``, ``02_*``, ... in that order in the toc).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from tools import build_book

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ROOT / "chapters"
CHAPTER_NAME = re.compile(r"^(\d\d)_[a-z0-9_]+\.ipynb$")


# The build tool's readers of _toc.yml and _config.yml, so the tests check what the build reads.
toc_entries = build_book.toc_files


def load_yaml(name: str) -> dict:
    return build_book.load_yaml(ROOT / name)


def resolve(entry: str) -> Path | None:
    """The source file of a toc entry (the toc leaves out the suffix)."""
    for suffix in ("", ".ipynb", ".md"):
        path = ROOT / f"{entry}{suffix}"
        if path.is_file():
            return path
    return None


@pytest.fixture(scope="module")
def toc() -> dict:
    return load_yaml("_toc.yml")


@pytest.fixture(scope="module")
def toc_chapters(toc: dict) -> list[Path]:
    """Chapter notebooks in the order the toc lists them."""
    paths = [resolve(entry) for entry in toc_entries(toc)]
    return [p for p in paths if p is not None and p.parent == CHAPTERS]


def test_toc_is_a_jupyter_book_toc(toc: dict) -> None:
    assert toc.get("format") == "jb-book", "_toc.yml must use `format: jb-book`"
    assert resolve(toc["root"]) is not None, f"root {toc['root']!r} has no file"


def test_every_toc_entry_has_a_file(toc: dict) -> None:
    missing = [entry for entry in toc_entries(toc) if resolve(entry) is None]
    assert not missing, f"_toc.yml lists files that do not exist: {missing}"


def test_no_toc_entry_is_listed_twice(toc: dict) -> None:
    entries = [str(resolve(e) or e) for e in toc_entries(toc)]
    duplicates = sorted({e for e in entries if entries.count(e) > 1})
    assert not duplicates, f"listed more than once in _toc.yml: {duplicates}"


def test_every_chapter_notebook_is_in_the_toc(toc_chapters: list[Path]) -> None:
    on_disk = sorted(CHAPTERS.glob("*.ipynb"))
    assert on_disk, "chapters/ holds no notebook"
    left_out = [p.name for p in on_disk if p not in toc_chapters]
    assert not left_out, f"chapter notebooks missing from _toc.yml: {left_out}"


def test_chapters_are_numbered_in_reading_order(toc_chapters: list[Path]) -> None:
    names = [p.name for p in toc_chapters]
    bad = [n for n in names if not CHAPTER_NAME.match(n)]
    assert not bad, f"chapter files must be named NN_lower_case.ipynb: {bad}"
    numbers = [int(CHAPTER_NAME.match(n).group(1)) for n in names]
    assert numbers == list(range(1, len(names) + 1)), (
        f"chapters must be numbered 01, 02, ... in toc order; the toc gives {names}"
    )


def test_chapter_part_is_numbered(toc: dict) -> None:
    parts = [p for p in toc.get("parts", []) if any(
        str(c.get("file", "")).startswith("chapters/") for c in p.get("chapters", []))]
    assert parts and all(p.get("numbered") for p in parts), (
        "the part holding the chapters needs `numbered: true` (figure numbers like 3.1)"
    )


@pytest.fixture(scope="module")
def notebooks(toc_chapters: list[Path]) -> dict[str, nbformat.NotebookNode]:
    return {p.name: nbformat.read(p, as_version=4) for p in toc_chapters}


def test_chapter_notebooks_are_valid(notebooks: dict[str, nbformat.NotebookNode]) -> None:
    for name, nb in notebooks.items():
        nbformat.validate(nb)  # raises with the reason
        kernel = nb.metadata.get("kernelspec", {}).get("name")
        assert kernel == "python3", f"{name}: kernelspec name is {kernel!r}, expected 'python3'"


def test_chapters_open_with_their_title(notebooks: dict[str, nbformat.NotebookNode]) -> None:
    for name, nb in notebooks.items():
        first = nb.cells[0] if nb.cells else None
        assert first is not None and first.cell_type == "markdown", (
            f"{name}: the first cell must be markdown with the chapter title"
        )
        assert re.match(r"#\s+\S", first.source.lstrip()), (
            f"{name}: the first cell must start with a '# Title' heading"
        )
        title = first.source.lstrip().splitlines()[0].lstrip("#").strip()
        assert not re.match(r"(chapter\s+)?\d", title, re.I), (
            f"{name}: title {title!r} is numbered by hand; the toc numbers chapters"
            " (`numbered: true`), a hand-written number shows twice"
        )


def test_first_code_cell_installs_dlbasics_when_missing(
    notebooks: dict[str, nbformat.NotebookNode],
) -> None:
    for name, nb in notebooks.items():
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert code, f"{name}: no code cell"
        source = code[0].source
        assert "import dlbasics" in source and "pip install" in source, (
            f"{name}: the first code cell must install dlbasics when it is missing "
            "(Colab), e.g. try: import dlbasics / except ImportError: %pip install ..."
        )


def test_no_chapter_allows_errors(notebooks: dict[str, nbformat.NotebookNode]) -> None:
    for name, nb in notebooks.items():
        execution = nb.metadata.get("execution", {})
        assert not execution.get("allow_errors"), f"{name}: metadata allows errors"
        assert "timeout" not in execution, f"{name}: overrides the book's cell timeout"


def test_config_executes_strictly() -> None:
    config = load_yaml("_config.yml")
    execute = config["execute"]
    assert execute["execute_notebooks"] in {"cache", "force"}
    assert execute.get("allow_errors") is False
    # a backstop for a cell that never ends, not the budget (a chapter runs in about a minute):
    # the explorers draw their whole grid in one cell, which a loaded machine makes slow
    assert 0 < int(execute["timeout"]) <= 300
    assert config["only_build_toc_files"] is True


def test_config_repository_and_launch_buttons() -> None:
    config = load_yaml("_config.yml")
    url = config["repository"]["url"]
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url), url
    buttons = config["launch_buttons"]
    assert buttons["colab_url"] == "https://colab.research.google.com"
    assert buttons["binderhub_url"] == "https://mybinder.org"
    assert config["html"]["use_repository_button"] is True


def test_bibliography_entries_are_complete() -> None:
    from pybtex.database import parse_file

    bib = parse_file(str(ROOT / "references.bib"))
    assert len(bib.entries) >= 20
    for key, entry in bib.entries.items():
        assert entry.persons.get("author"), f"{key}: no author"
        for field in ("title", "year"):
            assert entry.fields.get(field), f"{key}: no {field}"
        year = int(entry.fields["year"])
        assert 1900 < year < 2100, f"{key}: year {year}"
        if entry.type == "article":
            for field in ("journal", "volume", "pages"):
                assert entry.fields.get(field), f"{key}: article without {field}"


def test_backpropagation_papers_are_attributed_correctly() -> None:
    """The outline credits BPTT to Rumelhart et al. 1986; these are two papers."""
    from pybtex.database import parse_file

    entries = parse_file(str(ROOT / "references.bib")).entries
    rumelhart = entries["rumelhart1986learning"]
    assert rumelhart.fields["title"] == "Learning representations by back-propagating errors"
    assert (rumelhart.fields["journal"], rumelhart.fields["volume"]) == ("Nature", "323")
    werbos = entries["werbos1990backpropagation"]
    assert werbos.fields["title"].lower().startswith("backpropagation through time")
    assert str(werbos.persons["author"][0]) == "Werbos, Paul J."
