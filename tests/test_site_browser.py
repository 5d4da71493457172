"""The built site in a real browser, with the network off.

Debian's Chromium, driven by Playwright, opens every page of ``_build/html``
from a server on 127.0.0.1; any request elsewhere is aborted and recorded.
Each page must show no JavaScript console error, load every image, have
every equation typeset by MathJax, draw every saved widget as DOM controls,
and show every figure and explorer image with at least twice as many pixels
as it is wide on the screen (sharp on a 2x, high-density screen). A
screenshot of each page goes to ``_build/screenshots/``; at phone width
(390 px) each explorer is photographed on its own, as the reader sees it
after moving every control, and the picture must fit the screen and show a
figure.

Without Chromium or a built site these tests are skipped with the reason,
except under ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "_build" / "html"
PDF = ROOT / "_build" / "pdf" / "deep-learning-basics.pdf"
SCREENSHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
SKIP_DIRS = {"_static", "_sources", "_images", "_downloads"}
MAX_SCREENSHOT_HEIGHT = 16_000  # px; the API reference is far longer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("site_browser")]


def skip_or_fail(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the browser checks must run)")
    pytest.skip(reason)


def site_pages() -> list[str]:
    if not SITE.is_dir():
        return []
    return sorted(
        p.relative_to(SITE).as_posix()
        for p in SITE.rglob("*.html")
        if not SKIP_DIRS & set(p.relative_to(SITE).parts)
    )


PAGES = site_pages()
REDIRECT = re.compile(r'<meta http-equiv="refresh" content="\d+;\s*url=([^"]+)"', re.I)


# -------------------------------------------------------------------- fixtures
class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    if not (SITE / "intro.html").is_file():
        skip_or_fail("no built site in _build/html (run `make book`)")
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        skip_or_fail(f"no Chromium at {CHROMIUM} (`make browser` installs it as root)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("playwright is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@dataclass
class PageLog:
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


PHONE = {"width": 390, "height": 844}  # an iPhone 12-15 screen, in CSS pixels
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def viewport() -> dict[str, int]:
    return DESKTOP


@pytest.fixture
def page(browser, base_url: str, viewport: dict[str, int]):
    context = browser.new_context(viewport=viewport, device_scale_factor=2 if viewport == PHONE else 1)
    page = context.new_page()
    page.set_default_timeout(60_000)
    log = PageLog()

    def route(route_) -> None:
        url = route_.request.url
        if url.startswith(base_url):
            route_.continue_()
        else:
            log.blocked.append(url)
            route_.abort()

    page.route("**/*", route)
    page.on("console", lambda m: m.type == "error" and log.errors.append(m.text))
    page.on("pageerror", lambda e: log.errors.append(f"uncaught: {e}"))
    page.on(
        "response",
        lambda r: r.status >= 400 and log.errors.append(f"HTTP {r.status}: {r.url}"),
    )
    page.log = log
    yield page
    context.close()


# ----------------------------------------------------------------- page checks
WAIT_FOR_MATHJAX = """
() => (window.MathJax && window.MathJax.startup && window.MathJax.startup.promise)
    ? window.MathJax.startup.promise.then(() => true) : true
"""

MATH_REPORT = """
() => {
  const math = [...document.querySelectorAll('.math, span.math, div.math')];
  const raw = math.filter(el => !el.querySelector('mjx-container'));
  const errors = document.querySelectorAll('mjx-merror, mjx-container [data-mjx-error]');
  const text = document.body.cloneNode(true);
  text.querySelectorAll('pre, code, script, style, textarea, .highlight').forEach(e => e.remove());
  const content = text.textContent;
  const leftovers = ['\\\\(', '\\\\[', '$$'].filter(s => content.includes(s));
  return {
    math: math.length,
    containers: document.querySelectorAll('mjx-container').length,
    raw: raw.slice(0, 5).map(el => el.textContent.slice(0, 80)),
    errors: [...errors].slice(0, 5).map(el => el.textContent.slice(0, 80)),
    leftovers: leftovers,
  };
}
"""

IMAGE_REPORT = """
() => [...document.images]
  .filter(img => !(img.complete && img.naturalWidth > 0))
  .map(img => img.getAttribute('src'))
"""

WIDGET_REPORT = """
() => {
  const state = document.querySelectorAll(
    'script[type="application/vnd.jupyter.widget-state+json"]').length;
  const views = document.querySelectorAll(
    'script[type="application/vnd.jupyter.widget-view+json"]').length;
  const rendered = document.querySelectorAll('.widget-subarea').length;
  const controls = document.querySelectorAll(
    '.widget-subarea .jupyter-widgets input, .widget-subarea .jupyter-widgets select,' +
    ' .widget-subarea .jupyter-widgets button, .widget-subarea .widget-slider,' +
    ' .widget-subarea .jupyter-widgets textarea').length;
  return {state, views, rendered, controls};
}
"""


# Figures (the chapters' `_images/`) and explorer images on screen: pixels held against CSS
# pixels shown. On a 2x screen an image is sharp when it holds twice the pixels it is shown at.
SHARPNESS = """
() => [...document.images]
  .filter(img => img.offsetParent !== null && img.complete && img.naturalWidth > 0)
  .filter(img => (img.getAttribute('src') || '').includes('_images/')
                 || img.closest('.dlbasics-explorer'))
  .map(img => ({image: (img.getAttribute('src') || '').startsWith('blob:')
                  ? 'explorer: ' + (img.getAttribute('alt') || '').slice(0, 50)
                  : img.getAttribute('src'),
                natural: img.naturalWidth,
                shown: img.getBoundingClientRect().width}))
  .filter(img => img.shown > 0)
"""
MIN_PIXEL_RATIO = 1.98  # retina figures hold 2x the pixels, less a rounded half pixel


def screenshot_path(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / (name.removesuffix(".html").replace("/", "__") + ".png")


@pytest.mark.parametrize("name", PAGES or ["<no built site>"])
def test_page_renders_offline(page, base_url: str, name: str) -> None:
    if not PAGES:
        skip_or_fail("no built site in _build/html (run `make book`)")
    html = (SITE / name).read_text(encoding="utf-8", errors="replace")
    redirect = REDIRECT.search(html)
    if redirect and len(html) < 2000:
        # index.html only redirects to the root document, checked on its own
        assert (SITE / name).parent.joinpath(redirect.group(1)).is_file(), redirect.group(1)
        return

    page.goto(base_url + name, wait_until="load")
    page.evaluate(WAIT_FOR_MATHJAX)
    widgets = page.evaluate(WIDGET_REPORT)
    if widgets["views"]:
        # the manager draws the widgets asynchronously after `load`
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        try:
            page.wait_for_function(
                "n => document.querySelectorAll('.widget-subarea').length >= n",
                arg=widgets["views"],
                timeout=30_000,
            )
        except PlaywrightTimeout:
            pass  # reported below, after the screenshot
        widgets = page.evaluate(WIDGET_REPORT)
    page.wait_for_load_state("networkidle")
    height = min(page.evaluate("document.documentElement.scrollHeight"), MAX_SCREENSHOT_HEIGHT)
    page.screenshot(
        path=str(screenshot_path(name)),
        full_page=True,
        clip={"x": 0, "y": 0, "width": 1280, "height": height},
    )

    assert page.log.blocked == [], f"{name} tried to reach the network: {page.log.blocked}"
    assert page.log.errors == [], f"{name}: console errors: {page.log.errors}"

    broken = page.evaluate(IMAGE_REPORT)
    assert broken == [], f"{name}: images that did not load: {broken}"

    math = page.evaluate(MATH_REPORT)
    assert math["raw"] == [], f"{name}: equations MathJax did not typeset: {math['raw']}"
    assert math["errors"] == [], f"{name}: TeX errors: {math['errors']}"
    assert math["leftovers"] == [], f"{name}: raw TeX delimiters in the text: {math['leftovers']}"
    if math["math"]:
        assert math["containers"] >= math["math"], math

    images = page.evaluate(SHARPNESS)
    blurred = [f"{i['image']}: {i['natural']} px shown {i['shown']:.0f} px wide" for i in images
               if i["natural"] < MIN_PIXEL_RATIO * i["shown"]]
    assert blurred == [], f"{name}: images blurred on a 2x screen: {blurred[:5]}"

    if widgets["state"] or widgets["views"]:
        assert widgets["rendered"] == widgets["views"], (
            f"{name}: {widgets['views']} widget view(s) saved, {widgets['rendered']} drawn"
        )
        assert widgets["controls"] >= 1, f"{name}: widgets drawn without any control: {widgets}"


def test_search_finds_a_chapter(page, base_url: str) -> None:
    if not (SITE / "search.html").is_file():
        skip_or_fail("no built site in _build/html (run `make book`)")
    page.goto(base_url + "search.html?q=backpropagation", wait_until="load")
    page.wait_for_selector("#search-results ul.search li", timeout=30_000)
    hits = page.locator("#search-results ul.search li a").all_inner_texts()
    assert any("Backpropagation" in hit for hit in hits), hits
    assert page.log.blocked == [] and page.log.errors == [], vars(page.log)


def test_pdf_of_the_book() -> None:
    if not PDF.is_file():
        skip_or_fail(f"no {PDF.relative_to(ROOT)}: `make book` prints it when Chromium is there")
    data = PDF.read_bytes()
    assert data.startswith(b"%PDF-")
    pages = len(re.findall(rb"/Type\s*/Page(?![s\w])", data))
    chapters = len(list((ROOT / "chapters").glob("*.ipynb")))
    # every chapter starts on a new page, plus the landing page, API and bibliography
    assert pages > chapters + 3, f"the PDF has {pages} pages for {chapters} chapters"


# ------------------------------------------------------------------ explorers
def explorer_pages() -> list[str]:
    """Pages whose saved widget state holds an explorer (found in the HTML, so new ones count)."""
    return [name for name in PAGES
            if "dlbasics-explorer" in (SITE / name).read_text(encoding="utf-8", errors="replace")]


EXPLORER_PAGES = explorer_pages()

# What an explorer shows: the pixels of every visible image (read back through a canvas, since
# the manager serves them as blob URLs that change on every redraw) and its visible text.
SHOWN = """
explorer => {
  const parts = [];
  for (const img of explorer.querySelectorAll('img')) {
    if (img.offsetParent === null || !img.complete || !img.naturalWidth) continue;
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
    canvas.getContext('2d').drawImage(img, 0, 0);
    parts.push(canvas.toDataURL());
  }
  for (const html of explorer.querySelectorAll('.widget-html-content')) {
    if (html.offsetParent !== null) parts.push(html.textContent);
  }
  return parts.join('|');
}
"""


def _wait_for_change(page, explorer, before: str, timeout_ms: int = 5_000) -> str:
    waited = 0
    while waited < timeout_ms:
        page.wait_for_timeout(100)
        waited += 100
        now = explorer.evaluate(SHOWN)
        if now != before:
            return now
    return before


def _operate(page, control, kind: str) -> None:
    if kind == "slider":
        control.locator(".noUi-handle").first.focus()
        page.keyboard.press("ArrowRight")
    elif kind == "dropdown":
        select = control.locator("select")
        n = select.locator("option").count()
        current = select.evaluate("s => s.selectedIndex")
        select.select_option(index=(current + 1) % n)
    elif kind == "toggle":
        control.locator("button:not(.mod-active)").first.click()
    elif kind == "checkbox":
        control.locator("input[type=checkbox]").click()
    elif kind == "play":
        control.locator("button").first.click()  # play; it steps the slider it is linked to


CONTROL_KINDS = {
    "slider": ".widget-slider",
    "dropdown": ".widget-dropdown",
    "toggle": ".widget-toggle-buttons",
    "checkbox": ".widget-checkbox",
    "play": ".widget-play",
}


# Width in CSS pixels of what a reader drags or clicks in a control (a slider's track).
CONTROL_WIDTH = """
control => {
  const part = control.querySelector('.slider-container, select, button, input') || control;
  const box = part.getBoundingClientRect();
  return {width: box.width, right: box.right, page: document.documentElement.clientWidth};
}
"""
EXPLORER_ALT = """
explorer => [...explorer.querySelectorAll('img')].map(img => img.getAttribute('alt') || '')
"""


@pytest.mark.parametrize("name", EXPLORER_PAGES or ["<no explorer pages>"])
def test_every_explorer_control_changes_the_figure(page, base_url: str, name: str) -> None:
    """Operate each control of each explorer on the static page; the display must change."""
    check_explorers(page, base_url, name)


@pytest.mark.parametrize("viewport", [PHONE], ids=["390px"])
@pytest.mark.parametrize("name", EXPLORER_PAGES or ["<no explorer pages>"])
def test_explorers_work_on_a_phone(page, base_url: str, name: str, viewport) -> None:
    """At 390 px every control keeps a usable width inside the screen and still works.

    Then the page must not scroll sideways, and a screenshot of each explorer
    (``_build/screenshots/phone__<page>__explorer<N>.png``, at the phone's 2x
    pixel density) must fit the screen's width and show a figure: many
    colours, not a blank or a broken-image box.
    """
    from PIL import Image

    check_explorers(page, base_url, name, phone=True)
    page.evaluate("window.scrollTo(0, 0)")
    overflow = page.evaluate(PAGE_OVERFLOW)
    assert overflow["scroll"] <= PHONE["width"], f"{name} scrolls sideways at 390 px: {overflow}"
    explorers = page.locator(".dlbasics-explorer")
    for e in range(explorers.count()):
        explorer = explorers.nth(e)
        explorer.scroll_into_view_if_needed()
        path = screenshot_path(f"phone__{name}__explorer{e}")
        explorer.screenshot(path=str(path))
        with Image.open(path) as shot:
            width, height = shot.size
            colors = shot.convert("RGB").getcolors(maxcolors=1 << 16)
        assert width <= 2 * PHONE["width"], f"{path.name}: {width} px wide, wider than the screen"
        assert height > 200, f"{path.name}: only {height} px tall"
        assert colors is None or len(colors) >= 32, (
            f"{path.name}: {len(colors)} colours; the explorer shows no figure")
        box = explorer.evaluate(FIGURE_BOX)
        assert box and all(b["left"] >= -1 and b["right"] <= PHONE["width"] + 1 for b in box), (
            f"{name}: explorer {e}'s figures do not fit the screen: {box}")
    page.screenshot(path=str(screenshot_path("phone__" + name)), full_page=False)


PAGE_OVERFLOW = """
() => ({scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth,
        body: document.body.scrollWidth})
"""
FIGURE_BOX = """
explorer => [...explorer.querySelectorAll('img')].filter(img => img.offsetParent !== null)
  .map(img => { const r = img.getBoundingClientRect(); return {left: r.left, right: r.right}; })
"""


# How far a slider's value read-out reaches past its own control (0: inside it). A read-out
# that spills over lies on the next control's label.
READOUT_SPILL = """
control => {
  const readout = control.querySelector('.widget-readout');
  if (!readout || readout.offsetParent === null) return 0;
  return readout.getBoundingClientRect().right - control.getBoundingClientRect().right;
}
"""


def check_explorers(page, base_url: str, name: str, phone: bool = False) -> None:
    if not EXPLORER_PAGES:
        skip_or_fail("no built page with an explorer in _build/html (run `make book`)")
    page.goto(base_url + name, wait_until="load")
    page.wait_for_selector(".dlbasics-explorer img", timeout=60_000)
    explorers = page.locator(".dlbasics-explorer")
    assert explorers.count() >= 1, f"{name}: the saved explorer was not drawn"
    dead = []
    narrow = []
    crowded = []
    operated = 0
    for e in range(explorers.count()):
        explorer = explorers.nth(e)
        explorer.scroll_into_view_if_needed()
        page.wait_for_timeout(200)
        alts = explorer.evaluate(EXPLORER_ALT)
        assert alts and all(len(a) > 20 for a in alts), f"{name}: explorer {e} images' alt: {alts}"
        for kind, selector in CONTROL_KINDS.items():
            controls = explorer.locator(selector)
            for c in range(controls.count()):
                control = controls.nth(c)
                label = (control.inner_text() or kind).strip().split("\n")[0][:40]
                spill = control.evaluate(READOUT_SPILL)
                if spill > 1:
                    crowded.append(f"explorer {e}, {kind} {label!r}: read-out {spill:.0f} px out")
                if phone:
                    size = control.evaluate(CONTROL_WIDTH)
                    if size["width"] < 44 or size["right"] > size["page"] + 1:
                        narrow.append(f"explorer {e}, {kind} {label!r}: {size}")
                before = explorer.evaluate(SHOWN)
                assert before, f"{name}: explorer {e} shows no figure"
                _operate(page, control, kind)
                after = _wait_for_change(page, explorer, before)
                if after == before and kind == "slider":  # at its last value: the other way
                    page.keyboard.press("ArrowLeft")
                    page.keyboard.press("ArrowLeft")
                    after = _wait_for_change(page, explorer, before)
                if kind == "play":
                    control.locator("button").nth(1).click()  # pause
                operated += 1
                if after == before:
                    dead.append(f"explorer {e}, {kind} {label!r}")
    assert operated >= 1, f"{name}: no control found in its explorers"
    assert narrow == [], f"{name}: controls too narrow or off the screen: {narrow}"
    assert crowded == [], f"{name}: value read-outs spilling onto the next control: {crowded}"
    assert dead == [], f"{name}: controls that change nothing: {dead}"
    assert page.log.blocked == [], f"{name} tried to reach the network: {page.log.blocked}"
    assert page.log.errors == [], f"{name}: console errors: {page.log.errors}"
