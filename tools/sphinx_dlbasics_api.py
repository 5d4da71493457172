"""Sphinx extension: the ``dlbasics-api`` directive used by ``api.md``.

It writes one section per public module of :mod:`dlbasics` (found on disk, so
a new module appears in the API reference without editing the page) and lets
``sphinx.ext.autodoc`` document it from its NumPy-style docstrings; a name a
package re-exports is documented once, in the module that defines it. Modules
come in the order the package's ``_EXPORTS`` table first names them, then the
remaining ones alphabetically; names starting with ``_`` are private and left
out.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

PACKAGE = "dlbasics"


def public_modules(package: str = PACKAGE) -> list[str]:
    """Dotted names of the package's public modules, in reading order."""
    pkg = importlib.import_module(package)
    found = [
        info.name
        for info in pkgutil.walk_packages(
            pkg.__path__, prefix=f"{package}.", onerror=lambda name: None
        )
        if not any(part.startswith("_") for part in info.name.split("."))
    ]
    order: list[str] = []
    for module in getattr(pkg, "_EXPORTS", {}).values():
        name = f"{package}.{module}"
        if name in found and name not in order:
            order.append(name)
    order += sorted(name for name in found if name not in order)
    return order


def is_package(name: str) -> bool:
    try:
        return hasattr(importlib.import_module(name), "__path__")
    except Exception:  # autodoc reports the import error itself
        return False


class DlbasicsApi(SphinxDirective):
    """Emit ``automodule`` sections for every public ``dlbasics`` module."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        lines: list[str] = []
        for name in public_modules():
            lines += [
                f"``{name}``",
                "-" * (len(name) + 4),
                "",
                f".. automodule:: {name}",
                "   :members:",
            ]
            if is_package(name):
                # A package re-exports its submodules' names in __all__; they are
                # documented once, in the submodule that defines them.
                lines.append("   :ignore-module-all:")
            lines.append("")
        source = self.get_source_info()[0]
        content = StringList(lines, source=source)
        container = nodes.section()
        container.document = self.state.document
        nested_parse_with_titles(self.state, content, container)
        return container.children


def is_external_module(name: str) -> bool:
    """Whether ``name`` is the standard library or an installed package.

    The build is offline, so there are no intersphinx inventories: references
    to other libraries (``numpy.ndarray``, ``ast``) are shown as plain text.
    References into ``dlbasics`` must still resolve.
    """
    if not name.isidentifier() or name == PACKAGE:
        return False
    if name in sys.stdlib_module_names or name in {"np", "npt", "plt", "mpl", "nn", "F"}:
        return True
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def resolve_reexport(
    app: Sphinx, env: Any, node: nodes.Element, contnode: nodes.Element
) -> nodes.Element | None:
    """Resolve ``dlbasics.name[.attr]`` to ``dlbasics.<module>.name[.attr]``.

    (And show references to other libraries as plain text.)

    Users meet the functions as ``dlbasics.relu``; autodoc documents them where
    they are defined (``dlbasics.activations.relu``). The package's
    ``_EXPORTS`` table says which module holds each public name.
    """
    if node.get("refdomain") != "py":
        return None
    parts = node.get("reftarget", "").split(".")
    if parts[0] != PACKAGE:
        if is_external_module(parts[0].lstrip("~")):
            return contnode  # another library: plain text, no link
        return None
    if len(parts) < 2:
        return None
    module = getattr(importlib.import_module(PACKAGE), "_EXPORTS", {}).get(parts[1])
    if module is None:
        return None
    domain = env.get_domain("py")
    retargeted = node.deepcopy()
    retargeted["reftarget"] = ".".join([PACKAGE, module, *parts[1:]])
    return domain.resolve_xref(
        env,
        node["refdoc"],
        app.builder,
        node["reftype"],
        retargeted["reftarget"],
        retargeted,
        contnode,
    )


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("dlbasics-api", DlbasicsApi)
    app.connect("missing-reference", resolve_reexport)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
