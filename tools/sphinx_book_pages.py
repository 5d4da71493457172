"""Sphinx extension: small fixes to the scripts of the built pages.

* sphinx-thebe registers its inline configuration script twice under Jupyter
  Book 1, so each page declared ``const THEBE_JS_URL`` twice and the browser
  reported a SyntaxError. Identical script entries are dropped, keeping the
  first; the browser test (tests/test_site_browser.py) fails on any such error.
* The single-page build (``-b singlehtml``, printed to the PDF) holds every
  chapter in one page, but MyST-NB only attaches the widget state and the
  widget manager of the root document. The scripts of every document are
  attached instead, so the widgets are drawn in the PDF too.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


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


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("html-page-context", widgets_of_every_document, priority=800)
    # after every other extension has added its per-page scripts
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
