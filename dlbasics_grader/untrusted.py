"""Making learner-controlled text safe to store, print and put in a spreadsheet.

Everything a submission can influence (its file name, cell errors, printed
output, probe results) passes through one of these before the grader writes
it anywhere:

* :func:`clean_text` -- valid Unicode (lone surrogates replaced), bounded length;
  safe for JSON files and for ``print``.
* :func:`terminal_safe` -- control characters shown as escapes (``\\x1b``,
  ``\\r``, ...), so a message cannot clear the screen, set the window title,
  write the clipboard (OSC 52), hide a hyperlink or overwrite a line with a
  fake score. Newlines stay (the caller indents or prefixes every line).
* :func:`csv_safe` -- a cell that a spreadsheet would read as a formula
  (``=``, ``+``, ``-``, ``@``, tab, CR at the start) gets a leading ``'``.
"""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def clean_text(text: object, limit: int | None = None) -> str:
    """``text`` as valid Unicode (lone surrogates become U+FFFD), at most ``limit`` chars."""
    s = text if type(text) is str else str(text)
    if limit is not None and len(s) > limit:
        s = s[:limit] + " ..."
    if not s.isascii():
        s = s.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return s


def _escape(m: re.Match) -> str:
    c = m.group(0)
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"


def terminal_safe(text: object) -> str:
    """:func:`clean_text`, with every control character but newline and tab escaped."""
    return _CONTROL.sub(_escape, clean_text(text))


def csv_safe(value: object) -> object:
    """A CSV cell that no spreadsheet evaluates: text starting like a formula is quoted."""
    if not isinstance(value, str):
        return value
    value = clean_text(value)
    if value.startswith(_FORMULA_START):
        return "'" + value
    return value
