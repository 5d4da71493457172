"""Interactive explorers (ipywidgets) for the chapters, one module per topic.

Each explorer returns a widget to ``display``. Python callbacks cannot run in
the static book, so every chapter that shows an explorer also draws a static
figure of the same idea (a small-multiples sweep) next to it.

Imports are lazy: ``import dlbasics.widgets`` does not import ipywidgets or
Matplotlib until an explorer is used.
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> module (inside dlbasics.widgets) that defines it
_EXPORTS: dict[str, str] = {}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dlbasics.widgets' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"dlbasics.widgets.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(_EXPORTS)
