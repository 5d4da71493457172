"""Reading a notebook's code with :mod:`ast`, without running it: the import rules.

An exercise may forbid modules (Exercise 1 is written with NumPy only).
:func:`scan` finds every use of what an :class:`ImportRules` forbids
(``import torch``, ``from dlbasics import MLP``, ``exec``, ...) and builds a
small reference graph: which top-level definition (or method) refers to which
other one. ``report.reached_violations("CompleteNeuralNetwork.backward")``
then says whether the code a graded part runs reaches a forbidden module.

The rules are public: the public checks run this scan on the cells a learner
has run and say at once when a part will score 0; the grader
runs the same scan on the submitted notebook.
"""

from __future__ import annotations

import ast
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["ImportPolicy", "ImportRules", "StaticReport", "Violation", "describe_cell",
           "parse_code", "scan", "shorten"]


class ImportPolicy(Protocol):
    """What :func:`scan` reads from a policy (:class:`ImportRules`, or the grader's
    ``SandboxPolicy``, which adds what the sandbox needs)."""

    forbidden_modules: tuple[str, ...]
    allowed_modules: tuple[str, ...] | None
    dynamic_code_is_violation: bool
    reason: str
    forbidden_names: tuple[str, ...]


@dataclass(frozen=True)
class ImportRules:
    """The import rules of an exercise.

    Attributes
    ----------
    forbidden_modules
        Top-level or dotted module names (``"torch"``, ``"dlbasics"``); every
        use is a :class:`Violation`.
    allowed_modules
        If not ``None``, the only modules accepted (their submodules too); any
        other import is a violation.
    dynamic_code_is_violation
        If true, ``exec``/``eval``/``compile``/``__import__``/``importlib``/
        ``sys.modules``/``ctypes`` are violations as well, since they can hide
        a forbidden import from the scan.
    reason
        One sentence shown to the learner ("Exercise 1 is written from scratch
        with NumPy only").
    forbidden_names
        Dotted names of things inside an allowed module
        (``"torch.nn.MultiheadAttention"``); every use is a violation, however
        the module was imported (``from torch import nn`` then
        ``nn.MultiheadAttention``, ``import torch.nn.functional as F`` then
        ``F.scaled_dot_product_attention``, ``from torch.nn import
        MultiheadAttention``). A name reached without naming it
        (``getattr(nn, "Multi" + "headAttention")``) escapes the scan: the
        exercise checks what ran as well.
    """

    forbidden_modules: tuple[str, ...] = ()
    allowed_modules: tuple[str, ...] | None = None
    dynamic_code_is_violation: bool = False
    reason: str = ""
    forbidden_names: tuple[str, ...] = ()


def shorten(text: str, width: int) -> str:
    """``text`` on one line, cut at a word boundary to at most ``width`` characters (``…``)."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > width // 2 else cut).rstrip() + "…"


def describe_cell(source: str, execution_count: int | None = None) -> str:
    """How a learner finds a cell: its execution count, as JupyterLab shows it, and its first line.

    ``cell [7] "def backward(self, X, y):"``, or ``the cell "import torch"`` when it has no
    execution count. Counting cells from the top is no help: the count includes markdown cells
    and changes as soon as a cell is added.
    """
    first = next((line.strip() for line in source.splitlines() if line.strip()), "(empty)")
    quoted = f'"{shorten(first, 60)}"'
    return f"cell [{execution_count}] {quoted}" if execution_count else f"the cell {quoted}"


@dataclass(frozen=True)
class Violation:
    """One use of something the import rules forbid, found by :func:`scan`.

    ``cell`` is the 0-based notebook cell index, ``line`` the 1-based line in the
    cell, ``what`` the offending code (``"import torch"``), ``reason`` why it
    is not allowed, and ``scope`` the definition it sits in
    (``"CompleteNeuralNetwork.forward"``, ``"relu"``). A module-level
    ``import torch as T`` has the name it binds (``"T"``) as its scope, so a
    method that refers to ``T`` reaches it; other module-level code has
    ``"<module>"``. ``where`` says how a learner finds the cell
    (:func:`describe_cell`); empty when the scan was not told.
    """

    cell: int
    line: int
    what: str
    reason: str
    scope: str = "<module>"
    where: str = ""

    def describe(self) -> str:
        """``'cell [4] "import torch", line 2: import torch (reason)'``.

        Without ``where``, the cell is counted from 1 (``"cell 4, line 2: ..."``).
        """
        cell = self.where or f"cell {self.cell + 1}"
        return f"{cell}, line {self.line}: {self.what} ({self.reason})"


@dataclass(frozen=True)
class StaticReport:
    """What a scan learnt from reading (not running) the code.

    Attributes
    ----------
    violations
        Every rule violation (:class:`Violation`).
    names
        Top-level names bound by the code (functions, classes, variables).
    uses
        For each top-level definition and each method (``"Cls.method"``), the
        set of definitions it refers to (``self.x`` calls, global functions,
        base classes), used by :meth:`reached_violations`.
    syntax_errors
        ``(cell index, message)`` for cells that do not parse.
    """

    violations: tuple[Violation, ...] = ()
    names: frozenset[str] = frozenset()
    uses: Mapping[str, frozenset[str]] = field(default_factory=dict)
    syntax_errors: tuple[tuple[int, str], ...] = ()

    def reached_violations(self, *qualnames: str) -> list[Violation]:
        """Violations that code reachable from ``qualnames`` runs into.

        Follows :attr:`uses` transitively, so a method that calls a helper
        that uses ``torch`` is affected; a dotted name also reaches its owner
        (``"Net.forward"`` reaches ``"Net"``: its bases, its class body, or
        whatever ``Net`` was assigned from). Violations at module level (an
        ``import torch`` cell) count when a reached definition refers to the
        name they bind. ``reached_violations("CompleteNeuralNetwork.backward")``
        is how a part learns whether a forbidden import bypassed it.
        """
        seen: set[str] = set()
        stack = list(qualnames)
        while stack:
            q = stack.pop()
            if q in seen:
                continue
            seen.add(q)
            stack.extend(self.uses.get(q, ()))
            if "." in q:
                stack.append(q.rsplit(".", 1)[0])
        return [v for v in self.violations if v.scope in seen]


_DYNAMIC_NAMES = {
    "exec": "runs code the grader cannot read",
    "eval": "runs code the grader cannot read",
    "compile": "builds code the grader cannot read",
    "__import__": "imports modules the grader cannot see",
    "__builtins__": "reaches around the rules through the builtins",
    "globals": "reaches around the rules through the global namespace",
}
_DYNAMIC_MODULES = ("importlib", "ctypes", "builtins", "runpy", "pickle", "marshal", "sys")
_DYNAMIC_ATTRS = {("sys", "modules"), ("sys", "path"), ("sys", "meta_path")}


def _matches(module: str, names: Iterable[str]) -> bool:
    return any(module == n or module.startswith(n + ".") for n in names)


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    if isinstance(node, ast.Name):
        return node.id
    return None


def _local_names(func: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> set[str]:
    """Names a function binds locally: its arguments and what it assigns, minus globals."""
    args = func.args
    names = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
    names |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
    declared_global: set[str] = set()
    body = func.body if isinstance(func.body, list) else [func.body]
    for node in body:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)):
                names.add(sub.id)
            elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(sub.name)
            elif isinstance(sub, (ast.Global, ast.Nonlocal)):
                declared_global.update(sub.names)
            elif isinstance(sub, ast.arg):
                names.add(sub.arg)
    return names - declared_global


def _bound_names(target: ast.AST) -> list[str]:
    """Names an assignment target binds (``a``, ``a, b``), not ``a.x`` or ``a[i]``."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for elt in target.elts for n in _bound_names(elt)]
    if isinstance(target, ast.Starred):
        return _bound_names(target.value)
    return []


def _defaults(func: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.AST]:
    """Default values and annotations of a function's arguments (evaluated outside it)."""
    args = func.args
    out: list[ast.AST] = [*args.defaults, *(d for d in args.kw_defaults if d is not None)]
    for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
        if a is not None and a.annotation is not None:
            out.append(a.annotation)
    return out


_LITERALS = (ast.List, ast.Tuple, ast.Set)


def _walk(node: ast.AST) -> Iterator[ast.AST]:
    """Like :func:`ast.walk`, but a list, tuple or set of constants is not entered: its elements
    refer to nothing, and a notebook may hold millions of them."""
    todo = deque([node])
    while todo:
        node = todo.popleft()
        if not (isinstance(node, _LITERALS) and all(type(e) is ast.Constant for e in node.elts)):
            todo.extend(ast.iter_child_nodes(node))
        yield node


class _Scanner:
    def __init__(self, policy: ImportPolicy, where: Mapping[int, str]):
        self.policy = policy
        self.where = where
        self.violations: list[Violation] = []
        self.uses: dict[str, set[str]] = defaultdict(set)
        self.names: set[str] = set()
        self.classes: dict[str, list[str]] = {}
        self.cell = 0
        self.lines: list[str] = []
        self.modules: dict[str, str] = {}  # name bound by an import -> the dotted name it binds
        self.forbidden_names = tuple(getattr(policy, "forbidden_names", ()))

    # -- helpers -------------------------------------------------------------
    def _what(self, node: ast.AST) -> str:
        try:
            line = self.lines[node.lineno - 1].strip()
        except (AttributeError, IndexError):
            line = ast.unparse(node)
        return shorten(line, 80)

    def _violate(self, node: ast.AST, reason: str, scope: str) -> None:
        self.violations.append(
            Violation(
                cell=self.cell,
                line=getattr(node, "lineno", 0),
                what=self._what(node),
                reason=reason,
                scope=scope,
                where=self.where.get(self.cell, ""),
            )
        )

    def _check_import(self, node: ast.Import | ast.ImportFrom, scope: str) -> list[str]:
        """Record violations of one import; return the names it binds."""
        bound = []
        p = self.policy
        if isinstance(node, ast.ImportFrom):
            if node.level:
                mods = ["." * node.level + (node.module or "")]
            else:
                mods = [node.module or ""]
            full = [f"{mods[0]}.{a.name}" for a in node.names]
            bound = [a.asname or a.name for a in node.names]
        else:
            mods = [a.name for a in node.names]
            full = mods
            bound = [a.asname or a.name.split(".")[0] for a in node.names]
        targets = full if isinstance(node, ast.ImportFrom) else [
            a.name if a.asname else a.name.split(".")[0] for a in node.names]
        self.modules.update((b, t) for b, t in zip(bound, targets, strict=True)
                            if not t.startswith("."))
        bad = None
        for mod, fullname in zip(mods * len(full) if len(mods) == 1 else mods, full):
            if mod.startswith("."):
                bad = "relative imports are not allowed in a notebook"
            elif _matches(mod, p.forbidden_modules) or _matches(fullname, p.forbidden_modules):
                bad = p.reason or f"{mod.split('.')[0]} is not allowed in this exercise"
            elif _matches(fullname, self.forbidden_names):
                bad = p.reason or f"{fullname} is not allowed in this exercise"
            elif p.dynamic_code_is_violation and _matches(mod, _DYNAMIC_MODULES):
                if mod == "sys" and isinstance(node, ast.Import):
                    continue  # ``sys.modules`` etc. are caught as attributes
                if mod == "sys" and all(a.name not in ("modules", "path", "meta_path")
                                        for a in node.names):
                    continue
                bad = f"{mod} can reach around the exercise's rules"
            elif p.allowed_modules is not None and not _matches(mod, p.allowed_modules):
                allowed = ", ".join(sorted({m.split(".")[0] for m in p.allowed_modules}))
                bad = f"{mod.split('.')[0]} is not on this exercise's list of modules ({allowed})"
            if bad:
                break
        if bad:
            if scope == "<module>":
                for name in bound:
                    self._violate(node, bad, name)
            else:
                self._violate(node, bad, scope)
        return bound

    def _dotted(self, node: ast.AST, local: set[str]) -> str | None:
        """``F.scaled_dot_product_attention`` as ``torch.nn.functional.scaled_dot_product_attention``
        when ``F`` was bound by an import (and is not a local name); else None."""
        attrs: list[str] = []
        while isinstance(node, ast.Attribute):
            attrs.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name) or node.id in local or node.id not in self.modules:
            return None
        return ".".join([self.modules[node.id], *reversed(attrs)])

    def _check_name(self, node: ast.Attribute, scope: str, local: set[str]) -> None:
        """A violation for the shortest attribute chain that names a forbidden name."""
        full = self._dotted(node, local)
        if full is None or not _matches(full, self.forbidden_names):
            return
        inner = self._dotted(node.value, local)
        if inner is not None and _matches(inner, self.forbidden_names):
            return  # ``nn.MultiheadAttention.forward``: reported once, at ``nn.MultiheadAttention``
        self._violate(node, self.policy.reason or f"{full} is not allowed in this exercise", scope)

    # -- walking -------------------------------------------------------------
    def _scan_body(self, nodes: Iterable[ast.AST], scope: str, self_class: str | None,
                   local: set[str] | None = None) -> None:
        """Record references and violations inside a definition.

        ``local`` are names bound inside the definition (arguments, assigned
        variables): using them is not a reference to a global of that name.
        """
        local = local or set()
        for node in nodes:
            for sub in _walk(node):
                if isinstance(sub, (ast.Import, ast.ImportFrom)):
                    self._check_import(sub, scope)
                elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
                    if sub.id not in local:
                        self.uses[scope].add(sub.id)
                    if self.policy.dynamic_code_is_violation and sub.id in _DYNAMIC_NAMES:
                        self._violate(sub, f"{sub.id} {_DYNAMIC_NAMES[sub.id]}", scope)
                elif isinstance(sub, ast.Attribute):
                    base = sub.value
                    if self.forbidden_names:
                        self._check_name(sub, scope, local)
                    if (
                        self_class
                        and isinstance(base, ast.Name)
                        and base.id in ("self", "cls", "super")
                    ):
                        self.uses[scope].add(f"{self_class}.{sub.attr}")
                    if isinstance(base, ast.Call) and _root_name(base.func) == "super":
                        self.uses[scope].add(f"{self_class}.{sub.attr}")
                        self.uses[scope].add(self_class or "")
                    if (
                        self.policy.dynamic_code_is_violation
                        and isinstance(base, ast.Name)
                        and (base.id, sub.attr) in _DYNAMIC_ATTRS
                    ):
                        self._violate(sub, f"{base.id}.{sub.attr} can reach around the rules",
                                      scope)
                    if (
                        self.policy.dynamic_code_is_violation
                        and sub.attr in ("__import__", "__builtins__", "__globals__",
                                         "__subclasses__")
                    ):
                        self._violate(sub, f"{sub.attr} can reach around the rules", scope)

    def scan_cell(self, cell: int, code: str, tree: ast.Module) -> None:
        self.cell = cell
        self.lines = code.split("\n")
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                self.names.update(self._check_import(node, "<module>"))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.names.add(node.name)
                owner = self._decorator_owner(node)
                scope = f"{owner}.{node.name}" if owner else node.name
                if owner:  # ``@add_to_class(Net) def forward(self, ...)``
                    self.uses[node.name].add(scope)
                self._scan_body([*node.decorator_list, *_defaults(node)], scope, owner)
                self._scan_body([*node.body, *([node.returns] if node.returns else [])],
                                scope, owner, _local_names(node))
            elif isinstance(node, ast.ClassDef):
                self._scan_class(node)
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = [n for t in targets for n in _bound_names(t)]
                for name in names:
                    self.names.add(name)
                    if node.value is not None:
                        self._scan_body([node.value], name, None)
                for t in targets:  # ``Net.backward = backward``
                    if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name):
                        if node.value is not None:
                            self._scan_body([node.value], f"{t.value.id}.{t.attr}", None)
                if not names and not any(isinstance(t, ast.Attribute) for t in targets):
                    self._scan_body([node], "<module>", None)
            else:
                self._scan_body([node], "<module>", None)

    def _decorator_owner(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
        """The class a decorator such as ``@add_to_class(Net)`` attaches ``node`` to."""
        for dec in node.decorator_list:
            if isinstance(dec, ast.Call):
                for arg in dec.args:
                    if isinstance(arg, ast.Name) and arg.id in self.classes:
                        return arg.id
        return None

    def _scan_class(self, node: ast.ClassDef) -> None:
        name = node.name
        self.names.add(name)
        bases = [_root_name(b) for b in node.bases]
        self.classes[name] = [b for b in bases if b]
        self._scan_body([*node.bases, *node.keywords, *node.decorator_list], name, name)
        for item in node.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                q = f"{name}.{item.name}"
                self.uses[q].add(name)  # the class itself (bases, class attributes)
                self._scan_body([*item.decorator_list, *_defaults(item)], q, name)
                self._scan_body(item.body, q, name, _local_names(item))
            else:
                self._scan_body([item], name, name)

    def finish(self) -> dict[str, frozenset[str]]:
        # inherited methods: Cls.m -> Base.m for every method m a user base class defines
        defined: dict[str, set[str]] = defaultdict(set)
        for q in list(self.uses):
            owner, _, method = q.rpartition(".")
            if owner in self.classes and method:
                defined[owner].add(method)

        def inherited(cls: str, seen: set[str]) -> set[str]:
            out: set[str] = set()
            for b in self.classes.get(cls, []):
                if b in self.classes and b not in seen:
                    out |= defined[b] | inherited(b, seen | {b})
            return out

        for cls, bases in self.classes.items():
            prefix = f"{cls}."
            wanted = inherited(cls, {cls}) | {
                u[len(prefix):] for uses in self.uses.values() for u in uses
                if u.startswith(prefix)}
            for method in wanted:
                if method in defined[cls]:
                    continue
                for b in bases:
                    self.uses[prefix + method].add(f"{b}.{method}")
        return {k: frozenset(v) for k, v in self.uses.items()}


UNREADABLE = "the cell is nested too deeply to read"
"""Why a cell whose parse ran out of stack is not scanned."""


def parse_code(code: str) -> ast.Module | str:
    """The syntax tree of ``code``, or why it cannot be read (the sentence :func:`scan` reports).

    A ``MemoryError`` propagates: the caller decides what code too large to read costs.
    """
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        where = f" (line {line})" if line else ""
        return f"{type(exc).__name__}: {exc.args[0]}{where}"
    except RecursionError:
        return UNREADABLE


def scan(cells: Iterable[tuple[int, str]], policy: ImportPolicy,
         where: Mapping[int, str] | None = None,
         trees: Mapping[int, ast.Module | str] | None = None) -> StaticReport:
    """Scan ``(cell index, code)`` pairs under ``policy``.

    ``where`` maps a cell index to how a learner finds that cell (see
    :func:`describe_cell`); violations quote it. ``trees`` holds what
    :func:`parse_code` gave for a cell's code when the caller parsed it already (each cell is
    parsed once). Cells that do not parse are listed in ``syntax_errors`` and otherwise ignored
    (the sandbox reports the same error when it runs them).
    """
    scanner = _Scanner(policy, where if where is not None else {})
    syntax_errors = []
    for index, code in cells:
        tree = trees[index] if trees is not None and index in trees else parse_code(code)
        if isinstance(tree, str):
            syntax_errors.append((index, tree))
            continue
        try:
            scanner.scan_cell(index, code, tree)
        except RecursionError:
            syntax_errors.append((index, UNREADABLE))
    uses = scanner.finish()
    return StaticReport(
        violations=tuple(scanner.violations),
        names=frozenset(scanner.names),
        uses=uses,
        syntax_errors=tuple(syntax_errors),
    )


def _bound_by(node: ast.stmt) -> set[str]:
    """Top-level names a statement binds (definitions, imports, assignments)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, ast.Import):
        return {a.asname or a.name.split(".")[0] for a in node.names}
    if isinstance(node, ast.ImportFrom):
        return {a.asname or a.name for a in node.names}
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return {n for t in targets for n in _bound_names(t)}
    return set()


def latest_definitions(cells: Iterable[tuple[int, str]]) -> list[tuple[int, str]]:
    """The cells run so far in a kernel, keeping only the latest binding of every name.

    A learner re-runs cells and deletes some: a statement whose names were all
    bound again by a later cell is blanked out (its lines kept empty, so line
    numbers stay right), as it no longer defines anything the notebook uses.
    Cells that do not parse are dropped.
    """
    kept: list[tuple[int, str]] = []
    seen: set[str] = set()
    for index, code in reversed(list(cells)):
        try:
            tree = ast.parse(code)
        except (SyntaxError, ValueError):
            continue
        lines = code.split("\n")
        bound: set[str] = set()
        for node in tree.body:
            names = _bound_by(node)
            bound |= names
            if names and names <= seen:
                first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
                for k in range(first - 1, (node.end_lineno or node.lineno)):
                    lines[k] = ""
        seen |= bound
        kept.append((index, "\n".join(lines)))
    return kept[::-1]
