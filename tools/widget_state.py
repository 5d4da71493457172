"""Smaller saved widget state for the built pages, with the same widgets.

A notebook saves the full state of every widget model: every trait, default
or not (a layout holds 40 ``null`` fields), under a 32-character id. Chapter 1's
explorer saved 2389 models in 3.0 MB, of which its 580 images are 1.0 MB. The
book needs the same widgets, not the same bytes. :func:`shrink` returns an
equivalent state:

* **Defaults dropped.** A trait whose value is its class default is left out;
  the browser's widget manager starts every model from the same defaults
  (what ``ipywidgets.embed`` does with ``drop_defaults=True``).
* **Identical leaves stored once.** Layouts, styles, images and HTML that are
  equal in every field become one model that every user refers to (a model may
  have many views). Controls, containers and links keep their own models, so
  no two controls become one.
* **Short ids.** Models are renumbered ``0, 1, 2, ...``.
* **WebP images.** A PNG image is stored as lossless WebP when that is
  smaller (about 30 % for the explorers' palette PNGs): the same pixels.

The notebooks on disk (and the copies a reader downloads) keep their state
as saved; only the built page changes (``tools/sphinx_book_pages.py``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

PREFIX = "IPY_MODEL_"
# Models that only hold data for others: merging equal ones changes nothing a reader sees.
_SHARABLE = re.compile(r"(Layout|Style|Image|HTML|HTMLMath|Label)Model$")
_REF = re.compile(PREFIX + r"([0-9a-zA-Z_-]+)")


@cache
def _defaults(model_module: str, model_name: str) -> Mapping[str, Any] | None:
    """The serialized default state of an ipywidgets model class, or None if unknown."""
    import ipywidgets
    from ipywidgets import Widget

    classes: list[type] = []
    todo = [Widget]
    while todo:
        cls = todo.pop()
        classes.append(cls)
        todo.extend(cls.__subclasses__())
    for cls in classes:
        traits = cls.class_traits()
        module, name = traits.get("_model_module"), traits.get("_model_name")
        if module is None or name is None:
            continue
        if module.default_value != model_module or name.default_value != model_name:
            continue
        if not cls.__module__.startswith(ipywidgets.__name__):
            continue
        try:
            widget = cls()
        except Exception:  # a class that needs arguments (a link): keep its state whole
            return None
        try:
            return dict(widget.get_state())
        finally:
            widget.close()
    return None


def _without_defaults(model: dict[str, Any]) -> dict[str, Any]:
    defaults = _defaults(model["model_module"], model["model_name"])
    if defaults is None:
        return model
    binary = {tuple(b["path"])[0] for b in model.get("buffers", []) if b.get("path")}
    state = {
        key: value for key, value in model["state"].items()
        if key in binary or key not in defaults or _json(value) != _json(defaults[key])
    }
    return {**model, "state": state}


def _webp(model: dict[str, Any]) -> dict[str, Any]:
    """An ``ImageModel`` holding a PNG, with the PNG as lossless WebP when that is smaller."""
    if model["model_name"] != "ImageModel" or model["state"].get("format", "png") != "png":
        return model
    import base64
    import io

    from PIL import Image

    buffers = []
    for buffer in model.get("buffers", []):
        if buffer.get("path") != ["value"] or buffer.get("encoding") != "base64":
            return model
        png = base64.b64decode(buffer["data"])
        out = io.BytesIO()
        Image.open(io.BytesIO(png)).save(out, "WEBP", lossless=True, quality=100, method=4)
        if out.tell() >= len(png):
            return model
        buffers.append({**buffer, "data": base64.b64encode(out.getvalue()).decode("ascii")})
    if not buffers:
        return model
    return {**model, "state": {**model["state"], "format": "webp"}, "buffers": buffers}


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _rename(value: Any, names: Mapping[str, str]) -> Any:
    """``value`` with every ``IPY_MODEL_<id>`` reference replaced by its new id."""
    if isinstance(value, str):
        if value.startswith(PREFIX) and value[len(PREFIX):] in names:
            return PREFIX + names[value[len(PREFIX):]]
        return value
    if isinstance(value, list):
        return [_rename(v, names) for v in value]
    if isinstance(value, dict):
        return {k: _rename(v, names) for k, v in value.items()}
    return value


def _short_id(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def shrink(
    state: Mapping[str, Any], keep: set[str] | None = None, first: int = 0, webp: bool = True
) -> tuple[dict, dict[str, str]]:
    """An equivalent, smaller widget state.

    Parameters
    ----------
    state : mapping
        The ``application/vnd.jupyter.widget-state+json`` document: a dict with
        ``state`` (model id -> model), ``version_major`` and ``version_minor``.
    keep : set of str, optional
        Ids that the page displays (its widget views); they are never merged
        into another model.
    first : int, default 0
        Number of the first new id (a page with several states numbers them
        one after the other, so that no two states share an id).
    webp : bool, default True
        Store PNG images as lossless WebP where that is smaller. The encoding
        is most of the time this takes (about 15 s for the whole book); the
        single page that is printed to the PDF leaves it out.

    Returns
    -------
    (dict, dict)
        The new document, and the new id of every old id (merged models map
        to the id of the model they were merged into).
    """
    keep = keep or set()
    models = {mid: _without_defaults(model) for mid, model in state["state"].items()}
    if webp:
        models = {mid: _webp(model) for mid, model in models.items()}
    alias: dict[str, str] = {mid: mid for mid in models}

    def resolve(mid: str) -> str:
        while alias[mid] != mid:
            mid = alias[mid]
        return mid

    while True:  # merging leaves can make their users equal: repeat until nothing merges
        seen: dict[str, str] = {}
        merged = 0
        for mid in sorted(models):
            if resolve(mid) != mid or mid in keep or not _SHARABLE.search(models[mid]["model_name"]):
                continue
            refs = {r for r in _REF.findall(_json(models[mid])) if r in alias}
            model = _rename(models[mid], {r: resolve(r) for r in refs})
            key = _json(model)
            if key in seen:
                alias[mid] = seen[key]
                merged += 1
            else:
                seen[key] = mid
        if not merged:
            break
    survivors = [mid for mid in models if resolve(mid) == mid]
    short = {mid: _short_id(first + i) for i, mid in enumerate(survivors)}
    names = {mid: short[resolve(mid)] for mid in models}
    new_state = {short[mid]: _rename(models[mid], names) for mid in survivors}
    return {**state, "state": new_state}, names


def view_ids(html: str) -> set[str]:
    """The model ids of the widget views a page displays."""
    found = re.findall(
        r'<script type="application/vnd.jupyter.widget-view\+json">(.*?)</script>', html, re.S
    )
    return {json.loads(text.replace("<\\/", "</"))["model_id"] for text in found}


def rename_views(html: str, names: Mapping[str, str]) -> str:
    """``html`` with the model id of every widget view replaced by its new id."""
    def one(match: re.Match) -> str:
        view = json.loads(match[1].replace("<\\/", "</"))
        view["model_id"] = names.get(view["model_id"], view["model_id"])
        return match[0].replace(match[1], script_json(view))

    return re.sub(
        r'<script type="application/vnd.jupyter.widget-view\+json">(.*?)</script>', one, html,
        flags=re.S,
    )


def script_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element (no ``</``), compact."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).replace("</", "<\\/")
