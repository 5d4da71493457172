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
