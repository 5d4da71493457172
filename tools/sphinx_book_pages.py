"""Sphinx extension: small fixes to the scripts of the built pages.

* sphinx-thebe registers its inline configuration script twice under Jupyter
  Book 1, so each page declared ``const THEBE_JS_URL`` twice and the browser
  reported a SyntaxError. Identical script entries are dropped, keeping the
  first; the browser test (tests/test_site_browser.py) fails on any such error.
* The single-page build (``-b singlehtml``, printed to the PDF) holds every
  chapter in one page, but MyST-NB only attaches the widget state and the
  widget manager of the root document. The scripts of every document are
  attached instead, so the widgets are drawn in the PDF too.
* The saved widget state of a page is replaced by an equivalent, smaller one
  (``tools/widget_state.py``): chapter 1's state falls from 3.0 MB to about a
  third, with every explorer working as before. The single page printed to the
  PDF keeps its images as PNG (the WebP encoding is most of the time this takes,
  and the PDF does not get smaller from it).
* The theme's Font Awesome script (1.5 MB, which turns icon elements into
  inline SVG) is not loaded: the theme's stylesheet draws the same icons with
  the Font Awesome web fonts it ships.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import widget_state  # noqa: E402  (a module of this folder, which is not a package)

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
FONTAWESOME_SCRIPT = re.compile(
    r'\s*<script[^>]*src="[^"]*_static/scripts/fontawesome\.js[^"]*"[^>]*>\s*</script>'
)


def _script_key(script: Any) -> tuple[str, tuple[tuple[str, str], ...]]:
    filename = getattr(script, "filename", script) or ""
    attributes = getattr(script, "attributes", {}) or {}
    return str(filename), tuple(sorted((str(k), str(v)) for k, v in attributes.items()))


def drop_duplicate_scripts(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    unique = []
    for script in scripts:
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def widgets_of_every_document(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    if app.builder is None or app.builder.name != "singlehtml":
        return
    try:
        from myst_nb.sphinx_ import NbMetadataCollector
    except ImportError:  # pragma: no cover - MyST-NB is a requirement
        return
    for docname in sorted(app.env.found_docs):
        try:
            js_files = NbMetadataCollector.get_js_files(app.env, docname)
        except (AttributeError, KeyError):
            continue
        for path, kwargs in js_files.values():
            app.add_js_file(path, **kwargs)


def smaller_widget_state(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    scripts = context.get("script_files") or []
    states = [s for s in scripts if getattr(s, "attributes", {}).get("type") == WIDGET_STATE]
    if not states or "body" not in context:
        return
    keep = widget_state.view_ids(context["body"])
    # the single page is only printed to the PDF, where WebP images are no smaller than PNG
    webp = app.builder is None or app.builder.name != "singlehtml"
    names: dict[str, str] = {}
    for script in states:
        state = json.loads(script.attributes["body"].replace("<\\/", "</"))
        small, renamed = widget_state.shrink(state, keep=keep, first=len(names), webp=webp)
        names.update(renamed)
        script.attributes["body"] = widget_state.script_json(small)
    context["body"] = widget_state.rename_views(context["body"], names)


def without_fontawesome_script(app: Sphinx) -> None:
    """Render every page without the theme's Font Awesome script tag."""
    builder = app.builder
    if builder is None or not hasattr(builder, "templates"):
        return
    render = builder.templates.render

    def render_page(template: str, context: dict[str, Any]) -> str:
        return FONTAWESOME_SCRIPT.sub("", render(template, context))

    builder.templates.render = render_page


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("builder-inited", without_fontawesome_script)
    app.connect("html-page-context", widgets_of_every_document, priority=800)
    app.connect("html-page-context", smaller_widget_state, priority=850)
    # after every other extension has added its per-page scripts
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
