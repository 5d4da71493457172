"""Lazy exports for a package: a public name imports its module on first use.

``import dlbasics`` then stays fast and needs neither PyTorch nor ipywidgets
until a name that uses them is asked for.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable
from typing import Any


def lazy_exports(
    package: str, exports: dict[str, str], extra: Iterable[str] = ()
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose ``exports`` map name -> submodule.

    The first lookup of a name imports ``package.submodule`` and stores the
    value in the package, so later lookups are plain attribute reads.
    ``extra`` names (such as ``__version__``) are listed by ``dir`` as well.
    """
    extra = list(extra)

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(exports) + extra

    return __getattr__, __dir__
