"""``glue``: hand a computed value to the book's text, and run anywhere else.

The book quotes numbers that its code computes through MyST-NB's ``glue``, so
text and code cannot disagree. Outside the book build (Colab, a plain Jupyter
install) MyST-NB may be missing; this wrapper then displays the value when
asked to and otherwise does nothing, so every chapter runs unchanged.
"""

from __future__ import annotations

from typing import Any

__all__ = ["glue"]


def glue(name: str, value: Any, display: bool = True) -> None:
    """Store ``value`` under ``name`` for ``{glue}`` roles in the book's markdown.

    Parameters
    ----------
    name : str
        The key the text refers to, e.g. ``{glue:text}`xor_final_loss```.
    value : object
        Usually a formatted string or a figure.
    display : bool, default True
        Also show the value in the notebook output.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str, got {name!r}")
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        if display:
            from IPython.display import display as show

            show(value)
        return
    myst_glue(name, value, display=display)
