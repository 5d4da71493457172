"""A first visit to any chapter of the built site downloads at most 6 MB, explorers included.

The weight is measured in a real browser: headless Chromium with an empty
cache opens the page from a server on 127.0.0.1 and counts the bytes of every
response it receives until the page is idle (MathJax typeset, widgets drawn),
uncompressed: the HTML with its saved widget state, the theme's and the
book's scripts, stylesheets and fonts, MathJax, the widget manager and every
image. Links a reader may follow (the notebook download, the PDF) are not
fetched and not counted.

A chapter with an explorer loads the widget manager (2 MB) and embeds every
figure its explorers precomputed, each at twice the pixels it is shown at (sharp
on high-density screens): its grid of settings is chosen to fit the same budget.

``python tests/test_page_weight.py`` prints the table the README reports.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "_build" / "html"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
BUDGET = 6_000_000  # bytes for a first visit to one chapter, uncompressed, explorers included
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("site_browser")]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def chapter_pages(site: Path = SITE) -> list[str]:
    return sorted(f"chapters/{p.name}" for p in (site / "chapters").glob("*.html")) \
        if site.is_dir() else []


@functools.cache
def _serve(site: Path) -> str:
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/"


def first_visit(names: list[str], site: Path = SITE) -> Iterator[tuple[str, dict[str, int]]]:
    """``(page, {url path: bytes})`` of a first visit to each page, cache empty."""
    from playwright.sync_api import sync_playwright

    base = _serve(site)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-background-networking"],
        )
        try:
            for name in names:
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                sizes: dict[str, int] = defaultdict(int)

                def count(response, sizes=sizes) -> None:
                    if response.url.startswith(base):
                        try:
                            sizes[response.url[len(base):].split("?")[0]] += len(response.body())
                        except Exception:  # a redirect or an aborted request has no body
                            pass

                page.on("response", count)
                page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base)
                           else r.abort())
                page.goto(base + name, wait_until="load", timeout=120_000)
                page.evaluate("() => window.MathJax && MathJax.startup && MathJax.startup.promise"
                              " ? MathJax.startup.promise.then(() => true) : true")
                page.wait_for_load_state("networkidle", timeout=60_000)
                page.wait_for_timeout(500)
                context.close()
                yield name, dict(sizes)
        finally:
            browser.close()


def has_explorer(name: str, site: Path = SITE) -> bool:
    return "dlbasics-explorer" in (site / name).read_text(encoding="utf-8", errors="replace")


PAGES = chapter_pages()


@pytest.fixture(scope="module")
def weights() -> dict[str, dict[str, int]]:
    if not PAGES:
        message = "no built site in _build/html (run `make book`)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    if not CHROMIUM.exists():
        message = f"no Chromium at {CHROMIUM} (`make browser` installs it as root)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return dict(first_visit(PAGES))


@pytest.mark.parametrize("name", PAGES or ["<no built site>"])
def test_first_visit_to_a_chapter_is_within_budget(weights, name: str) -> None:
    sizes = weights[name]
    total = sum(sizes.values())
    largest = sorted(sizes.items(), key=lambda kv: -kv[1])[:6]
    assert total <= BUDGET, (
        f"a first visit to {name} downloads {total / 1e6:.2f} MB (budget {BUDGET / 1e6:.0f} MB); "
        "largest: " + ", ".join(f"{path} {n / 1e6:.2f} MB" for path, n in largest)
    )
    assert name in sizes and sizes[name] > 0, f"the page itself was not counted: {list(sizes)}"
    manager = [p for p in sizes if _is_widget_manager(p)]
    assert bool(manager) == has_explorer(name), (
        f"{name}: the widget manager should load exactly on pages with explorers ({manager})")


def _is_widget_manager(path: str) -> bool:
    return "/html-manager/" in path or "/requirejs/" in path


def table(names: list[str]) -> str:
    rows = ["| page | page HTML | MathJax | widget manager | theme and the rest | images | total |",
            "|------|----------:|--------:|---------------:|-------------------:|-------:|------:|"]
    for name, sizes in first_visit(names):
        html = sizes.get(name, 0)
        mathjax = sum(n for p, n in sizes.items() if "/mathjax/" in p)
        manager = sum(n for p, n in sizes.items() if _is_widget_manager(p))
        images = sum(n for p, n in sizes.items() if p.startswith("_images/"))
        rest = sum(sizes.values()) - html - mathjax - manager - images
        rows.append(f"| `{name.split('/')[-1]}` | " + " | ".join(
            f"{n / 1e6:.2f} MB" for n in (html, mathjax, manager, rest, images, sum(sizes.values()))
        ) + " |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(table(PAGES))
