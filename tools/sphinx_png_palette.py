"""Sphinx extension: the figures of the built pages as palette PNGs.

The chapters draw their Matplotlib figures at twice the pixels they are shown
at (``%config InlineBackend.figure_formats = ["retina"]``, set by
``tools/chapter_markup.py``), sharp on high-density screens but about three
times the bytes of a plain PNG. After the build, every PNG in the site's
``_images/`` with more than :data:`COLORS` colours is stored with a palette of
:data:`COLORS` colours, the size of a Matplotlib colour map, and kept only
when that is smaller. A figure of lines, text and colour-mapped fields loses
nothing visible and about two thirds of its bytes; the notebooks keep their
full-colour PNGs. The single page printed to the PDF (``singlehtml``) keeps them
too: it is built alongside the HTML, and the conversion would add ten seconds
to the PDF's critical path (and 0.9 MB, 8 %, is all the PDF gains from it).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx

#: Size of the palette (the most a palette PNG holds).
COLORS = 256


def palette_png(data: bytes, colors: int = COLORS) -> bytes:
    """``data`` (a PNG) with at most ``colors`` colours, or ``data`` itself when that is not smaller.

    Parameters
    ----------
    data : bytes
        A PNG file.
    colors : int, default :data:`COLORS`

    Returns
    -------
    bytes
        A PNG of the same size in pixels.
    """
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    if image.mode == "P":
        return data  # already a palette image
    if image.mode in {"RGBA", "LA"} and image.getchannel("A").getextrema()[0] < 255:
        small = image.convert("RGBA").quantize(colors, method=Image.Quantize.FASTOCTREE)
    else:
        small = image.convert("RGB").quantize(colors, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    small.save(out, format="png", optimize=True)
    return out.getvalue() if out.tell() < len(data) else data


def shrink_images(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html" or app.builder.name == "singlehtml":
        return
    for path in sorted(Path(app.outdir, "_images").glob("*.png")):
        data = path.read_bytes()
        small = palette_png(data)
        if small is not data:
            path.write_bytes(small)


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("build-finished", shrink_images)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
