"""tools/build_book.py: its offline check catches network loads, and the built
site (when there is one) passes it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tools import build_book

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def write_page(tmp_path: Path, body: str, head: str = "") -> Path:
    page = tmp_path / "page.html"
    page.write_text(f"<html><head>{head}</head><body>{body}</body></html>", encoding="utf-8")
    return page


@pytest.mark.parametrize(
    ("head", "body"),
    [
        ('<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-svg.js"></script>', ""),
        ('<link rel="stylesheet" href="http://example.org/a.css">', ""),
        ('<link rel="preload" as="script" href="//cdn.example.org/x.js">', ""),
        ("", '<img src="https://example.org/figure.png">'),
        ("", '<iframe src="https://www.youtube.com/embed/x"></iframe>'),
        ("<style>@import url(https://fonts.googleapis.com/css?family=Lato);</style>", ""),
        ("", "<div style=\"background: url('https://example.org/bg.png')\"></div>"),
    ],
)
def test_offline_check_finds_network_loads(tmp_path: Path, head: str, body: str) -> None:
    write_page(tmp_path, body, head)
    found = list(build_book.remote_resources(tmp_path))
    assert len(found) == 1, found
    with pytest.raises(build_book.BuildError, match="network resource"):
        build_book.check_offline(tmp_path)


def test_offline_check_allows_links_and_local_files(tmp_path: Path) -> None:
    write_page(
        tmp_path,
        '<a href="https://doi.org/10.1038/323533a0">paper</a>'
        '<img src="_images/fig.png"><script src="_static/require.js"></script>',
        '<link rel="canonical" href="https://dlbasics.github.io/x.html">'
        '<link rel="stylesheet" href="_static/theme.css">',
    )
    assert list(build_book.remote_resources(tmp_path)) == []


def test_toc_notebooks_are_the_chapters_in_order() -> None:
    names = [p.name for p in build_book.toc_notebooks()]
    assert names == sorted(names)
    assert all(p.startswith(f"{i:02d}_") for i, p in enumerate(names, start=1))


@pytest.mark.book
def test_built_site_loads_nothing_from_the_network() -> None:
    site = ROOT / "_build" / "html"
    if not (site / "intro.html").is_file():
        if IN_CI:
            pytest.fail("no built site in _build/html: run `make book` first (CI=true)")
        pytest.skip("no built site in _build/html: run `make book` first")
    assert build_book.check_offline(site) >= 10


# ------------------------------------------------------------ execution order
def _notebook(cells: list[tuple[str, float | None]]) -> dict:
    """A notebook whose code cells ran for the given seconds (None: no timing saved)."""
    out = []
    for source, seconds in cells:
        metadata = {}
        if seconds is not None:
            end = f"2026-12-05T10:00:{seconds:09.6f}Z"
            metadata["execution"] = {"iopub.execute_input": "2026-12-05T10:00:00.000000Z",
                                     "shell.execute_reply": end}
        out.append({"cell_type": "code", "source": source, "metadata": metadata,
                    "execution_count": None, "outputs": []})
    out.insert(1, {"cell_type": "markdown", "source": "text", "metadata": {}})
    for i, cell in enumerate(out):
        cell["id"] = f"cell-{i}"
    return {"cells": out, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_saved_cell_seconds_adds_up_the_timing_jupyter_saved() -> None:
    nb = _notebook([("a = 1", 1.5), ("b = 2", None), ("c = 3", 12.25)])
    assert build_book.saved_cell_seconds(nb) == pytest.approx(13.75)
    assert build_book.saved_cell_seconds(_notebook([("a = 1", None)])) == 0.0


def test_the_longest_notebooks_start_first_and_ties_keep_reading_order() -> None:
    a, b, c, d = (Path(f"{name}.ipynb") for name in "abcd")
    expected = {a: 10.0, b: 50.0, c: 10.0}  # d: no estimate
    assert build_book.longest_first([a, b, c, d], expected) == [b, a, c, d]


def test_expected_seconds_prefer_the_last_cached_run_over_saved_timings(tmp_path: Path) -> None:
    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    ran_before, never_ran = tmp_path / "ran_before.ipynb", tmp_path / "never_ran.ipynb"
    for path in (ran_before, never_ran):
        nbformat.write(nbformat.from_dict(_notebook([("x = 1", 3.0)])), path)
    cache = get_cache(str(tmp_path / "cache"))
    older = nbformat.from_dict(_notebook([("x = 0", None)]))  # an older version of its code
    cache.cache_notebook_bundle(
        CacheBundleIn(older, str(ran_before.absolute()), data={"execution_seconds": 42.0}),
        check_validity=False)
    expected = build_book.expected_seconds([ran_before, never_ran], cache)
    assert expected == {ran_before: 42.0, never_ran: pytest.approx(3.0)}


def test_an_executed_notebook_still_matches_its_source_in_the_cache(tmp_path: Path) -> None:
    """The cell timing of the log must not change the notebook: jupyter-cache matches
    a notebook by its code cells and their metadata, and MyST-NB looks the source up."""
    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    path = tmp_path / "nb.ipynb"
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Title"),
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("import time\ntime.sleep(0.5)\nprint(x)"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    _, text, seconds, error, slowest = build_book._execute_notebook(str(path), timeout=60)
    assert error is None and seconds >= 0.5
    assert slowest is not None and slowest[0] == 2 and slowest[1] >= 0.5
    executed = nbformat.reads(text, as_version=4)
    assert executed.cells[2].outputs[0]["text"] == "1\n"
    cache = get_cache(str(tmp_path / "cache"))
    cache.cache_notebook_bundle(CacheBundleIn(executed, str(path)), check_validity=False)
    cache.match_cache_notebook(nbformat.read(path, as_version=4))  # KeyError if not


# --------------------------------------------------- the two jupyter-book builds
def test_the_single_page_build_reads_the_same_jupyter_cache(tmp_path: Path, monkeypatch) -> None:
    cache = tmp_path / "_build" / ".jupyter_cache"
    cache.mkdir(parents=True)
    monkeypatch.setattr(build_book, "CACHE", cache)
    single = tmp_path / "_build" / "single"
    build_book.link_cache(single)
    build_book.link_cache(single)  # again: the link is replaced, not nested
    link = single / "_build" / ".jupyter_cache"
    assert link.is_symlink() and link.resolve() == cache.resolve()
    # and its own Sphinx environment and extracted figures stay apart from the HTML build's
    assert build_book.SINGLEHTML.parent != build_book.HTML.parent


def test_the_done_line_lists_the_steps_in_build_order() -> None:
    line = build_book.done_line({"execute": 150.0, "pdf": 80.0, "html": 60.0,
                                 "offline check": 0.5, "total": 231.0})
    assert line == ("execute 150.0 s, html 60.0 s, offline check 0.5 s, "
                    "pdf 80.0 s (alongside the html), total 231.0 s")
    assert build_book.done_line({"execute": 1.0, "html": 2.0}) == "execute 1.0 s, html 2.0 s"
