"""Public-domain books shipped with the package, for language models that need no download.

:func:`load_pride_and_prejudice` returns Jane Austen's *Pride and Prejudice*
(first published 1813; the author died in 1817, so the work is in the public
domain everywhere). The file ``dlbasics/data/pride_and_prejudice.txt.gz`` holds
the text of the R package *janeaustenr* 1.0.0 by Julia Silge (MIT licence;
its texts come from Project Gutenberg, without Project Gutenberg's header and
licence, which cover only its own additions), as Debian ships it in
``r-cran-janeaustenr`` 1.0.0-1: the package's ``prideprejudice`` vector of
13,030 lines joined with ``"\\n"`` and a final newline, UTF-8, gzip. Underscores
mark italics (``_You_``), as in Project Gutenberg's plain-text editions.
"""

from __future__ import annotations

import gzip
import hashlib
from importlib import resources

__all__ = ["PRIDE_AND_PREJUDICE_SHA256", "load_pride_and_prejudice"]

#: SHA-256 of the UTF-8 text :func:`load_pride_and_prejudice` returns.
PRIDE_AND_PREJUDICE_SHA256 = "dfc684d4f857fa938268f9ab9c5567b64bd0691251eca959644adeabe6287a4d"


def load_pride_and_prejudice() -> str:
    """The full text of *Pride and Prejudice* (Jane Austen, 1813), a public-domain novel.

    Source: the R package janeaustenr 1.0.0 (Julia Silge, MIT licence), whose
    texts come from Project Gutenberg, as packaged by Debian
    (``r-cran-janeaustenr`` 1.0.0-1). The novel itself is in the public
    domain. Lines are wrapped at about 70 characters as in the Project
    Gutenberg edition; chapters start with ``"Chapter N"``.

    Returns
    -------
    str
        684,768 characters (75 distinct ones: letters, digits, punctuation,
        space and newline), starting ``"PRIDE AND PREJUDICE"``.

    Raises
    ------
    RuntimeError
        If the shipped file is not the expected text (a damaged install).
    """
    data = gzip.decompress(resources.files("dlbasics").joinpath("data/pride_and_prejudice.txt.gz")
                           .read_bytes())
    if hashlib.sha256(data).hexdigest() != PRIDE_AND_PREJUDICE_SHA256:
        raise RuntimeError("dlbasics/data/pride_and_prejudice.txt.gz is damaged: its SHA-256 differs "
                           "from the shipped text's; reinstall dlbasics")
    return data.decode("utf-8")
