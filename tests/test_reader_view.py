"""What a reader of the book sees of the notebooks: the rules of
tools/sphinx_reader_view.py, tools/widget_state.py, tools/chapter_markup.py and
tools/sphinx_png_palette.py, the chapters' markup, and the built pages (when
there are any)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from tools import chapter_markup, sphinx_png_palette, sphinx_reader_view, widget_state

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "_build" / "html"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))

INSTALL_CELL = '''# On Colab (or wherever dlbasics is missing) install the course package first.
try:
    import dlbasics
except ImportError:  # e.g. on Colab
    %pip install --quiet "dlbasics @ git+https://github.com/dlbasics/deep-learning-basics"
    import dlbasics'''


# ------------------------------------------------------------------ set-up code
def test_the_colab_install_cell_is_a_set_up_cell() -> None:
    assert sphinx_reader_view.is_install_cell(INSTALL_CELL)
    assert not sphinx_reader_view.is_install_cell("import dlbasics\nprint(dlbasics.__version__)")
    assert not sphinx_reader_view.is_install_cell(INSTALL_CELL + "\nx = dlbasics.relu(1.0)")


def test_set_up_lines_and_test_markers_are_dropped_from_the_shown_code() -> None:
    code = ('%matplotlib inline\n%config InlineBackend.figure_format = "png"\nimport numpy as np\n'
            "torch.set_num_threads(1)  # small tensors\n\nx = np.ones(3)")
    assert sphinx_reader_view.reader_code(code) == "import numpy as np\n\nx = np.ones(3)"
    assert sphinx_reader_view.reader_code("# NBVAL_CHECK_OUTPUT\nprint(1)") == "print(1)"
    assert sphinx_reader_view.reader_code("# NBVAL_CHECK_OUTPUT") == ""
    kept = "# the NBVAL marker is explained here\nprint('%config')"
    assert sphinx_reader_view.reader_code(kept) == kept


def test_every_chapter_starts_with_a_set_up_cell_the_page_hides() -> None:
    for path in CHAPTERS:
        nb = nbformat.read(path, as_version=4)
        code = [c.source for c in nb.cells if c.cell_type == "code"]
        assert code and sphinx_reader_view.is_install_cell(code[0]), (
            f"{path.name}: its first code cell is not the Colab install cell the book hides")


# -------------------------------------------------------------------- alt text
def test_alt_text_comes_from_the_metadata_else_the_caption() -> None:
    caption = ("Relative error of a mini-batch gradient against the batch size $b$, for "
               "$\\mathbf w$ and {numref}`fig-x`. The line is the theory.")
    assert sphinx_reader_view.alt_text({"mystnb": {"figure": {"caption": caption}}}) == (
        "Relative error of a mini-batch gradient against the batch size b, for w and fig-x.")
    assert sphinx_reader_view.alt_text(
        {"mystnb": {"figure": {"caption": caption}, "image": {"alt": "A curve"}}}) == "A curve"
    assert sphinx_reader_view.alt_text({}) == ""


def _outputs(cell) -> list[dict]:
    return [o for o in cell.get("outputs", []) if o.get("output_type") in
            {"display_data", "execute_result"}]


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_every_figure_and_explorer_of_a_chapter_has_alt_text(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    missing = []
    for index, cell in enumerate(nb.cells):
        kinds = {m for o in _outputs(cell) for m in o.get("data", {})}
        if kinds & {"image/png", "image/jpeg", "image/svg+xml",
                    "application/vnd.jupyter.widget-view+json"}:
            if not sphinx_reader_view.alt_text(cell.get("metadata", {})):
                missing.append(f"cell {index} (id {cell.get('id')})")
    assert not missing, (
        f"{path.name}: images without alt text in {missing}: give the figure a caption "
        "(mystnb.figure.caption), or add the cell id and a description to IMAGE_ALT in "
        "tools/chapter_markup.py and run `python tools/chapter_markup.py`")


# ------------------------------------------------------------------- dropdowns
def test_a_dropdown_becomes_details_that_keep_their_markdown() -> None:
    text = "Intro\n\n:::{dropdown} Answers\n1. $x$ is {cite:p}`a`.\n\n2. *b*\n:::\nAfter"
    out = chapter_markup.convert_dropdowns(text)
    assert out == ('Intro\n\n<details class="dropdown">\n<summary>Answers</summary>\n\n'
                   "1. $x$ is {cite:p}`a`.\n\n2. *b*\n\n</details>\nAfter")
    assert chapter_markup.convert_dropdowns(out) == out  # idempotent
    with pytest.raises(ValueError, match="never closed"):
        chapter_markup.convert_dropdowns(":::{dropdown} Open\ntext")


def test_no_chapter_needs_the_markup_script() -> None:
    assert chapter_markup.main(["--check"]) == 0, (
        "run `python tools/chapter_markup.py` (it rewrites {dropdown} blocks as <details>, "
        "sets the explorers' alt text and draws figures for 2x screens)")
    for path in CHAPTERS:
        text = path.read_text(encoding="utf-8")
        assert "{dropdown}" not in text, path.name
        assert text.count("%config InlineBackend.") == 1, f"{path.name}: one figure-format line"
        assert chapter_markup.RETINA.replace('"', '\\"') in text, (
            f"{path.name}: figures are not drawn for 2x screens")


# ------------------------------------------------------------------ 2x figures
def test_the_figure_format_line_becomes_retina_once() -> None:
    code = '%matplotlib inline\n%config InlineBackend.figure_format = "png"\nimport numpy'
    out = chapter_markup._FIGURE_FORMAT.sub(chapter_markup.RETINA, code)
    assert out == '%matplotlib inline\n%config InlineBackend.figure_formats = ["retina"]\nimport numpy'
    assert chapter_markup._FIGURE_FORMAT.sub(chapter_markup.RETINA, out) == out


def test_a_2x_figure_as_a_palette_png_is_smaller_and_the_same_size() -> None:
    import io

    import numpy as np
    from matplotlib.figure import Figure
    from PIL import Image

    fig = Figure(figsize=(4, 3))
    ax = fig.add_subplot()
    x = np.linspace(0, 6, 200)
    ax.plot(x, np.sin(x), label="sin")
    ax.imshow(np.outer(x, x), extent=(0, 6, -1, 1), aspect="auto", cmap="viridis")
    ax.legend()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=200)
    full = buf.getvalue()
    small = sphinx_png_palette.palette_png(full)
    assert len(small) < 0.6 * len(full), (len(small), len(full))
    with Image.open(io.BytesIO(small)) as a, Image.open(io.BytesIO(full)) as b:
        assert a.mode == "P" and a.size == b.size
        diff = np.abs(np.asarray(a.convert("RGB"), float) - np.asarray(b.convert("RGB"), float))
    assert diff.mean() < 2.0, diff.mean()  # out of 255: no visible change
    assert sphinx_png_palette.palette_png(small) is small  # already a palette: left alone


# ---------------------------------------------------------------- widget state
def _model(name: str, module: str, state: dict) -> dict:
    return {"model_name": name, "model_module": module, "model_module_version": "2.0.0",
            "state": state}


def test_shrunk_widget_state_drops_defaults_merges_equal_leaves_and_renames() -> None:
    layout = {"_model_name": "LayoutModel", "width": None, "height": None}
    state = {"version_major": 2, "version_minor": 0, "state": {
        "a" * 32: _model("LayoutModel", "@jupyter-widgets/base", dict(layout)),
        "b" * 32: _model("LayoutModel", "@jupyter-widgets/base", dict(layout)),
        "c" * 32: _model("HTMLModel", "@jupyter-widgets/controls",
                         {"value": "x", "description": "", "layout": "IPY_MODEL_" + "a" * 32}),
        "d" * 32: _model("HTMLModel", "@jupyter-widgets/controls",
                         {"value": "x", "description": "", "layout": "IPY_MODEL_" + "b" * 32}),
        "e" * 32: _model("VBoxModel", "@jupyter-widgets/controls",
                         {"children": ["IPY_MODEL_" + "c" * 32, "IPY_MODEL_" + "d" * 32]}),
    }}
    small, names = widget_state.shrink(state, keep={"e" * 32})
    models = small["state"]
    assert len(models) == 3  # one layout, one HTML, the box
    assert names["a" * 32] == names["b" * 32] and names["c" * 32] == names["d" * 32]
    html = models[names["c" * 32]]["state"]
    assert html == {"value": "x", "layout": "IPY_MODEL_" + names["a" * 32]}
    box = models[names["e" * 32]]["state"]
    assert box["children"] == ["IPY_MODEL_" + names["c" * 32]] * 2
    assert all(len(mid) <= 2 for mid in models)
    page = ('<script type="application/vnd.jupyter.widget-view+json">'
            f'{{"model_id": "{"e" * 32}", "version_major": 2, "version_minor": 0}}</script>')
    assert widget_state.view_ids(page) == {"e" * 32}
    assert f'"model_id":"{names["e" * 32]}"' in widget_state.rename_views(page, names)


def test_without_webp_the_shrunk_state_keeps_its_png_images() -> None:
    """The single page printed to the PDF skips the WebP encoding (most of the shrinking's time)."""
    import base64
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40, 30), "white").save(out, format="png")
    data = base64.b64encode(out.getvalue()).decode("ascii")
    image = {**_model("ImageModel", "@jupyter-widgets/controls", {"format": "png", "width": "40"}),
             "buffers": [{"path": ["value"], "encoding": "base64", "data": data}]}
    state = {"version_major": 2, "version_minor": 0, "state": {"f" * 32: image}}
    kept, _ = widget_state.shrink(state, keep={"f" * 32}, webp=False)
    assert [m["state"].get("format", "png") for m in kept["state"].values()] == ["png"]
    assert [m["buffers"][0]["data"] for m in kept["state"].values()] == [data]
    small, _ = widget_state.shrink(state, keep={"f" * 32})
    assert [m["state"]["format"] for m in small["state"].values()] == ["webp"]


# ----------------------------------------------------------------- built pages
def built_pages() -> list[Path]:
    return sorted(p for p in SITE.rglob("*.html") if "_static" not in p.parts) \
        if (SITE / "intro.html").is_file() else []


def _need_site() -> list[Path]:
    pages = built_pages()
    if not pages:
        message = "no built site in _build/html (run `make book`)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return pages


def _chapter_pages() -> Iterator[tuple[Path, str]]:
    """Each built chapter page and its text."""
    for page in _need_site():
        if page.parent.name == "chapters":
            yield page, page.read_text(encoding="utf-8", errors="replace")


BUILD_PATH = re.compile(r"(?<![\w.~])/(?:root|tmp|home|work|private|var/folders|Users)/")


@pytest.mark.book
def test_no_page_shows_a_path_of_the_build_machine() -> None:
    found = []
    for page in _need_site():
        text = page.read_text(encoding="utf-8", errors="replace")
        for match in BUILD_PATH.finditer(text):
            context = text[max(0, match.start() - 60):match.end() + 40]
            found.append(f"{page.relative_to(SITE)}: ...{context}...")
    assert not found, "\n".join(found[:10])


@pytest.mark.book
def test_chapter_pages_hide_set_up_code_and_fold_answers() -> None:
    for page, text in _chapter_pages():
        for leftover in ("NBVAL_", "%config", "%matplotlib", "pip install", "{dropdown}", ":::"):
            assert leftover not in text, f"{page.name} shows {leftover!r}"
        assert '<details class="dropdown">' in text, f"{page.name}: no folded self-check answers"


@pytest.mark.book
def test_every_image_of_a_chapter_page_has_alt_text() -> None:
    for page, text in _chapter_pages():
        for img in re.findall(r"<img\b[^>]*_images/[^>]*>", text):  # figures, not theme logos
            alt = re.search(r'alt="([^"]*)"', img)
            assert alt and len(alt[1]) > 10 and not re.search(r"\.(png|jpe?g|svg)$|[0-9a-f]{32}",
                                                              alt[1]), f"{page.name}: {img[:160]}"
        outputs = re.findall(r'<div class="dlbasics-explorer-output" data-alt="([^"]*)"', text)
        views = text.count('type="application/vnd.jupyter.widget-view+json"')
        assert len(outputs) == views and all(len(a) > 15 for a in outputs), (page.name, outputs)


@pytest.mark.book
def test_the_landing_page_links_the_pdf_of_the_book() -> None:
    pages = _need_site()
    intro = next(p for p in pages if p.name == "intro.html").read_text(encoding="utf-8")
    assert 'href="deep-learning-basics.pdf"' in intro
    pdf = ROOT / "_build" / "pdf" / "deep-learning-basics.pdf"
    if pdf.is_file():
        copy = SITE / "deep-learning-basics.pdf"
        assert copy.is_file() and copy.read_bytes() == pdf.read_bytes(), (
            "the PDF is built but not copied into the site")


def test_state_json_round_trips_inside_a_script() -> None:
    text = widget_state.script_json({"value": "</script><b>"})
    assert "</" not in text and json.loads(text.replace("<\\/", "</")) == {"value": "</script><b>"}
