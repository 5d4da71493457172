"""Sphinx extension: what a reader of the built book sees of a notebook cell.

The notebooks keep everything a learner running them needs; the pages leave
out what only concerns the machine, and describe every image:

* **Set-up hidden.** A cell that only installs the course package on Colab
  (``try: import dlbasics`` / ``except ImportError: %pip install ...``) is
  left out of the page, and so are the lines ``%matplotlib ...``,
  ``%config ...``, ``torch.set_num_threads(...)`` and the test markers
  ``# NBVAL_...`` in any cell. A cell left with no code shows only its
  outputs. The notebook a reader downloads keeps all of them.
* **Alt text.** An image a cell outputs takes the cell's
  ``mystnb.image.alt`` metadata when there is one, else the first sentence of
  its figure caption (``mystnb.figure.caption``), as plain text. An explorer
  (a widget view) carries the same text in ``data-alt`` on its output;
  ``assets/widgets-offline.js`` gives every image the explorer draws that text
  and the explorer's current settings.

``tests/test_reader_view.py`` checks the rules; ``tests/test_site_browser.py``
checks the built pages.
"""

from __future__ import annotations

import html
import re
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx

# Lines of set-up that a reader of the page does not need.
SETUP_LINE = re.compile(
    r"^\s*(?:#\s*NBVAL_[A-Z_]+\b.*|%matplotlib\b.*|%config\b.*"
    r"|torch\.set_num_threads\([^)]*\)\s*(?:#.*)?)$"
)
# The lines a Colab install cell may hold (besides comments and blank lines).
_INSTALL_LINE = re.compile(
    r"^\s*(?:try:|except\s+ImportError\b.*:\s*(?:#.*)?|import\s+dlbasics\s*|"
    r"[%!]\s*pip\s+install\b.*|dlbasics\.require_torch\(\)\s*)$"  # tools/torch_install_note.py
)


def is_install_cell(code: str) -> bool:
    """True for a cell that only installs and imports the course package when it is missing."""
    lines = [line for line in code.splitlines() if line.strip() and not line.strip().startswith("#")]
    return (any(re.match(r"^\s*[%!]\s*pip\s+install\b", line) for line in lines)
            and all(_INSTALL_LINE.match(line) for line in lines))


def reader_code(code: str) -> str:
    """``code`` without its set-up lines (and without blank lines they leave at either end)."""
    lines = [line for line in code.splitlines() if not SETUP_LINE.match(line)]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)


def plain_text(markdown: str) -> str:
    """Markdown and TeX of a caption as plain text for an ``alt`` attribute."""
    text = re.sub(r"\{[\w:-]+\}`([^`]*)`", r"\1", markdown)  # {role}`x` -> x
    text = re.sub(r"`([^`]*)`", r"\1", text)
    text = re.sub(r"\\(?:mathbf|mathrm|text|operatorname|boldsymbol)\s*\{([^}]*)\}", r"\1", text)
    text = re.sub(r"\\(?:mathbf|mathrm|boldsymbol)\s+", "", text)
    text = re.sub(r"\\[tdc]?frac\s*\{([^}]*)\}\s*\{([^}]*)\}", r"\1/\2", text)
    text = re.sub(r"\\(?:left|right|,|;|!|quad|qquad)", " ", text)
    text = re.sub(r"\\([A-Za-z]+)", r"\1", text)  # \eta -> eta
    text = text.replace("$", "").replace("**", "").replace("{", "").replace("}", "")
    text = re.sub(r"(?<!\w)\*([^*]+)\*", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


def first_sentence(text: str) -> str:
    match = re.match(r"(.+?[.!?])(?:\s+[A-Z(]|$)", text)
    return match[1] if match else text


def alt_text(metadata: dict[str, Any]) -> str:
    """The alt text of a cell's images: ``mystnb.image.alt``, else its caption's first sentence."""
    mystnb = metadata.get("mystnb") or {}
    alt = (mystnb.get("image") or {}).get("alt")
    if alt:
        return str(alt)
    caption = (mystnb.get("figure") or {}).get("caption")
    return first_sentence(plain_text(str(caption))) if caption else ""


def _is(node: nodes.Node, element: str) -> bool:
    return isinstance(node, nodes.container) and node.get("nb_element") == element


def reader_view(app: Sphinx, doctree: nodes.document) -> None:
    for cell in list(doctree.findall(lambda n: _is(n, "cell_code"))):
        metadata = cell.get("cell_metadata") or {}
        removed = False
        for source in list(cell.findall(lambda n: _is(n, "cell_code_source"))):
            for block in list(source.findall(nodes.literal_block)):
                code = block.astext()
                if is_install_cell(code):
                    cell.parent.remove(cell)
                    removed = True
                    break
                shown = reader_code(code)
                if shown == code:
                    continue
                if not shown:
                    source.parent.remove(source)
                    break
                new = nodes.literal_block(shown, shown, **block.attributes)
                block.replace_self(new)
        if removed:
            continue
        alt = alt_text(metadata)
        for image in cell.findall(nodes.image):
            if alt and not image.get("alt"):
                image["alt"] = alt
        for raw in list(cell.findall(nodes.raw)):
            if "application/vnd.jupyter.widget-view+json" in raw.astext():
                text = (f'<div class="dlbasics-explorer-output" data-alt="{html.escape(alt)}">'
                        f"{raw.astext()}</div>")
                raw.replace_self(nodes.raw(text, text, format="html"))


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("doctree-read", reader_view)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
