"""How much of each maths module is argument checking: check lines against maths lines.

A line counts once, as part of the statement that starts on it, and only inside function
bodies (docstrings and ``def`` lines left out). A *check* statement is a ``raise``, an
``assert``, an ``if`` whose body only raises (the test included), a statement calling a
validation helper (a name imported from :mod:`dlbasics.validation`, or a function of the
module whose name starts with ``check_``, ``_check`` or ``_validate``), or any line of such
a module-local checking function. Every other executable line is *maths*.

Usage: ``python tools/check_ratio.py [MODULE ...]`` (default: the five modules named in
issue 14) prints a table; ``--markdown`` prints it as a Markdown table.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODULES = ("layers", "recurrent", "normalization", "attention", "embedding")
CHECK_PREFIXES = ("check_", "_check", "_validate")


def _is_checker(name: str) -> bool:
    return name.startswith(CHECK_PREFIXES)


def _validation_names(tree: ast.Module) -> set[str]:
    names = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "dlbasics.validation":
            names.update(alias.asname or alias.name for alias in node.names)
    return names


def _calls_checker(node: ast.AST, checkers: set[str]) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            f = sub.func
            name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            if name in checkers or _is_checker(name):
                return True
    return False


def _only_raises(body: list[ast.stmt]) -> bool:
    return all(isinstance(s, ast.Raise) for s in body)


def _span(node: ast.stmt) -> int:
    return (node.end_lineno or node.lineno) - node.lineno + 1


def _count(body: list[ast.stmt], checkers: set[str], all_check: bool) -> tuple[int, int]:
    """``(check_lines, maths_lines)`` of a list of statements."""
    check = maths = 0
    for s in body:
        if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            c, m = _function(s, checkers, all_check)
        elif isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) and isinstance(s.value.value, str):
            c, m = 0, 0  # a docstring
        elif all_check or isinstance(s, (ast.Raise, ast.Assert)):
            c, m = _span(s), 0
        elif isinstance(s, ast.If) and _only_raises(s.body) and not s.orelse:
            c, m = _span(s), 0
        elif isinstance(s, (ast.If, ast.For, ast.While, ast.With, ast.Try)):
            header = (s.body[0].lineno - s.lineno) if s.body else 1
            c, m = (header, 0) if _calls_checker_header(s, checkers) else (0, header)
            for block in _blocks(s):
                bc, bm = _count(block, checkers, False)
                c, m = c + bc, m + bm
        elif _calls_checker(s, checkers):
            c, m = _span(s), 0
        else:
            c, m = 0, _span(s)
        check, maths = check + c, maths + m
    return check, maths


def _calls_checker_header(s: ast.stmt, checkers: set[str]) -> bool:
    head = getattr(s, "test", None) or getattr(s, "iter", None)
    return head is not None and _calls_checker(head, checkers)


def _blocks(s: ast.stmt) -> list[list[ast.stmt]]:
    out = [s.body, getattr(s, "orelse", []), getattr(s, "finalbody", [])]
    out += [h.body for h in getattr(s, "handlers", [])]
    return [b for b in out if b]


def _function(node: ast.stmt, checkers: set[str], all_check: bool) -> tuple[int, int]:
    if isinstance(node, ast.ClassDef):
        methods = [s for s in node.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))]
        return _count(methods, checkers, all_check)
    return _count(node.body, checkers, all_check or _is_checker(node.name))


def measure(path: Path) -> tuple[int, int]:
    """``(check_lines, maths_lines)`` of the functions in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    checkers = _validation_names(tree)
    defs = [s for s in tree.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    return _count(defs, checkers, False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", default=list(MODULES))
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    rows = []
    for name in args.modules:
        check, maths = measure(REPO / "dlbasics" / f"{name}.py")
        rows.append((name, check, maths, check / max(check + maths, 1), check / max(maths, 1)))
    total_c, total_m = sum(r[1] for r in rows), sum(r[2] for r in rows)
    rows.append(("total", total_c, total_m, total_c / max(total_c + total_m, 1), total_c / max(total_m, 1)))
    if args.markdown:
        print("| module | check lines | maths lines | checks share | check/maths |")
        print("|---|---:|---:|---:|---:|")
        for name, c, m, share, ratio in rows:
            print(f"| {name} | {c} | {m} | {share:.0%} | {ratio:.2f} |")
    else:
        print(f"{'module':<14} {'check':>6} {'maths':>6} {'share':>6} {'ratio':>6}")
        for name, c, m, share, ratio in rows:
            print(f"{name:<14} {c:>6} {m:>6} {share:>6.0%} {ratio:>6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
