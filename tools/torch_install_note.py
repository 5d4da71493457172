"""The PyTorch install note of every notebook that needs PyTorch.

PyTorch is the course package's optional ``torch`` extra (``pip install -e ".[torch]"``):
chapter 1 and Exercise 1 work without it. A notebook that imports ``torch`` ends its first
code cell, the Colab install cell, with a short note and :func:`dlbasics.require_torch`, which
stops a notebook where PyTorch is missing with the exact command that installs it::

    # On Colab (or wherever dlbasics is missing) install the course package first.
    try:
        import dlbasics
    except ImportError:  # e.g. on Colab
        %pip install -q "dlbasics @ git+https://github.com/dlbasics/deep-learning-basics"
        import dlbasics
    # This notebook needs PyTorch, the course package's `torch` extra (Colab has it):
    # pip install -r requirements.txt -e ".[torch]". Where it is missing, this line stops with
    # the command that installs it.
    dlbasics.require_torch()

The book hides that cell (``tools/sphinx_reader_view.py``); the downloaded notebook keeps it.
A notebook that does not import ``torch`` gets no note (and loses a stale one).

The rewrite is idempotent and changes one code cell that prints nothing, so the committed
outputs stay right and no notebook needs to run again. Run it after adding a notebook or
an ``import torch``; ``tests/test_torch_install_note.py`` fails while a notebook needs it::

    python tools/torch_install_note.py            # rewrite the notebooks in place
    python tools/torch_install_note.py --check    # list what would change, exit 1 if anything
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("chapters", "exercises", "solutions")
NOTE = (
    "# This notebook needs PyTorch, the course package's `torch` extra (Colab has it):\n"
    "# pip install -r requirements.txt -e \".[torch]\". Where it is missing, this line stops with\n"
    "# the command that installs it.\n"
    "dlbasics.require_torch()"
)
IMPORTS_TORCH = re.compile(r"^\s*(?:import torch\b|from torch\b)", re.MULTILINE)
INSTALL_CELL = re.compile(r"^\s*[%!]\s*pip\s+install\b.*\bdlbasics\b", re.MULTILINE)


def needs_torch(nb: nbformat.NotebookNode) -> bool:
    """Whether a code cell of ``nb`` imports ``torch``."""
    return any(c.cell_type == "code" and IMPORTS_TORCH.search(c.source) for c in nb.cells)


def with_note(install_cell: str, needed: bool) -> str:
    """``install_cell`` ending with :data:`NOTE` when ``needed``, without it otherwise."""
    source = install_cell.replace("\n" + NOTE, "").rstrip("\n")
    return f"{source}\n{NOTE}" if needed else source


def apply(path: Path, write: bool = True) -> bool:
    """Give ``path`` its note (or take a stale one away); whether anything changed.

    Raises
    ------
    ValueError
        The notebook's first code cell is not the Colab install cell.
    """
    nb = nbformat.read(path, as_version=4)
    cell = next((c for c in nb.cells if c.cell_type == "code"), None)
    if cell is None or not INSTALL_CELL.search(cell.source):
        raise ValueError(f"{path}: its first code cell is not the cell that installs dlbasics "
                         "(`%pip install ... dlbasics ...`); the note belongs there")
    new = with_note(cell.source, needs_torch(nb))
    if new == cell.source:
        return False
    if write:
        cell.source = new
        nbformat.write(nb, path)
    return True


def notebooks(root: Path = ROOT) -> list[Path]:
    """Every chapter, exercise and solution notebook."""
    return sorted(p for folder in FOLDERS for p in (root / folder).glob("*.ipynb"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="list the notebooks that would change; exit 1 if any")
    args = parser.parse_args(argv)
    changed = [p for p in notebooks() if apply(p, write=not args.check)]
    for path in changed:
        print(f"{'needs' if args.check else 'rewrote'} {path.relative_to(ROOT)}")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
