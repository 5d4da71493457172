"""Every chapter page of the built site stays within its weight budget.

A page's weight is what a browser fetches to show it: its HTML file (which
embeds the saved widget state, so all of its explorers' precomputed figures)
plus every file of the site the page loads that is not shared with the other
pages, i.e. its images. Links a reader may follow (``<a href>``: the source
notebook's download button, other pages) are not fetched and not counted. The
theme, MathJax, require.js and the widget manager under ``_static/`` load once
for the whole site and are not counted.

``python tests/test_page_weight.py`` prints the table the README reports.
"""

from __future__ import annotations

import html.parser
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "_build" / "html"
BUDGET = 8_000_000  # bytes per chapter page
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

pytestmark = pytest.mark.book


class _Refs(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            # an <a href> is followed on a click, never fetched with the page
            if value and (key in {"src", "data", "poster"} or (key == "href" and tag != "a")):
                self.refs.add(value)


def page_weight(page: Path, site: Path = SITE) -> tuple[int, int]:
    """``(html_bytes, own_asset_bytes)`` of one built page (see the module docstring)."""
    parser = _Refs()
    text = page.read_text(encoding="utf-8", errors="replace")
    parser.feed(text)
    assets = set()
    for ref in parser.refs:
        parts = urlsplit(ref)
        if parts.scheme or parts.netloc or not parts.path:
            continue
        target = (page.parent / unquote(parts.path)).resolve()
        try:
            inside = target.relative_to(site.resolve())
        except ValueError:
            continue
        if inside.parts[0] == "_static" or target.suffix == ".html" or not target.is_file():
            continue
        assets.add(target)
    return len(text.encode("utf-8")), sum(a.stat().st_size for a in assets)


def chapter_pages(site: Path = SITE) -> list[Path]:
    return sorted((site / "chapters").glob("*.html")) if site.is_dir() else []


@pytest.mark.parametrize("page", [p.name for p in chapter_pages()] or ["<no built site>"])
def test_chapter_page_is_within_budget(page: str) -> None:
    if not chapter_pages():
        message = "no built site in _build/html (run `make book`)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    html_bytes, assets = page_weight(SITE / "chapters" / page)
    total = html_bytes + assets
    assert total <= BUDGET, (
        f"{page} weighs {total / 1e6:.2f} MB ({html_bytes / 1e6:.2f} MB HTML with widget state, "
        f"{assets / 1e6:.2f} MB images); the budget is {BUDGET / 1e6:.0f} MB"
    )


def test_page_weight_counts_the_html_and_its_own_images(tmp_path: Path) -> None:
    (tmp_path / "chapters").mkdir()
    (tmp_path / "_images").mkdir()
    (tmp_path / "_static").mkdir()
    (tmp_path / "_images" / "a.png").write_bytes(b"x" * 1000)
    (tmp_path / "_static" / "theme.css").write_bytes(b"x" * 5000)
    page = tmp_path / "chapters" / "p.html"
    page.write_text('<img src="../_images/a.png"><img src="../_images/a.png">'
                    '<link href="../_static/theme.css"><a href="https://example.org/x.png">x</a>'
                    '<a href="../_images/a.png">the same image, as a link</a>'
                    '<a href="../_sources/p.ipynb">download</a>')
    (tmp_path / "_sources").mkdir()
    (tmp_path / "_sources" / "p.ipynb").write_bytes(b"x" * 9000)
    assert page_weight(page, tmp_path) == (len(page.read_bytes()), 1000)


if __name__ == "__main__":
    print("| page | HTML with widget state | own images | total |")
    print("|------|-----------------------:|-----------:|------:|")
    for p in chapter_pages():
        h, a = page_weight(p)
        print(f"| `{p.name}` | {h / 1e6:.2f} MB | {a / 1e6:.2f} MB | {(h + a) / 1e6:.2f} MB |")
