"""The public checks' modules and their registry do not import each other in a loop."""

from __future__ import annotations

import ast
from pathlib import Path

from dlbasics import checks

CHECKS = Path(checks.__file__).parent


def test_no_check_module_imports_the_package_init():
    loops = [f"{path.name}:{node.lineno}" for path in sorted(CHECKS.glob("*.py"))
             if path.name != "__init__.py"
             for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
             if isinstance(node, ast.ImportFrom) and node.module == "dlbasics.checks"]
    assert loops == []


def test_every_exercise_module_registers_its_checks():
    names = checks.available()
    assert {n.split(".")[0] for n in names} >= {"ex1", "ex2", "ex3"}
    assert all(callable(checks.registry._REGISTRY[n]) for n in names)
