"""Imports point one way between access and the features whose records make a care relation.

The layers: a feature's models (patients, plans, care_pathways, contacts) <- access (care relations
read from those models, and the gate every use case passes) <- the features' use cases and queries.
An import inside a function is kept only where it dodges a real loop (and says why).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The features whose tables access reads to find a care relation (§13c).
RELATED = ("patients", "plans", "care_pathways", "contacts")
PACKAGES = ("access", *RELATED)


def _module(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name.removesuffix(".__init__")


MODULES = {_module(p): p for p in sorted((ROOT / "coordinator").rglob("*.py"))}


def _imported(node: ast.Import | ast.ImportFrom) -> set[str]:
    """Our modules an import statement loads (a name imported from a package may be a module)."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name in MODULES}
    if node.module is None or node.level:
        return set()
    found = {f"{node.module}.{a.name}" for a in node.names} | {node.module}
    return found & MODULES.keys()


def _top_level(module: str) -> set[str]:
    """What a module imports when it is loaded (not inside functions, not under TYPE_CHECKING)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found |= _imported(node)
    return found - {module}


def _in_functions(module: str) -> list[tuple[int, str]]:
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    found += [(inner.lineno, m) for m in sorted(_imported(inner))]
    return found


def _reaches(start: str, target: str) -> bool:
    """Does loading ``start`` load ``target`` (through top-level imports)?"""
    seen, todo = set(), [start]
    while todo:
        module = todo.pop()
        if module == target:
            return True
        if module not in seen:
            seen.add(module)
            todo += sorted(_top_level(module))
    return False


def _ours(package: str) -> list[str]:
    return [
        m
        for m in MODULES
        if m == f"coordinator.{package}" or m.startswith(f"coordinator.{package}.")
    ]


@pytest.mark.parametrize("package", PACKAGES)
def test_an_import_inside_a_function_dodges_a_real_loop(package: str) -> None:
    """Moved to the top, each would load a module that loads this one again; else it belongs at the top."""
    needless = [
        f"{MODULES[module].relative_to(ROOT)}:{line} imports {target}"
        for module in _ours(package)
        for line, target in _in_functions(module)
        if not _reaches(target, module)
    ]
    assert needless == []


def test_access_reads_only_the_models_of_the_related_features() -> None:
    """Access finds care relations in the features' tables and never uses their use cases or queries,
    so the features' use cases can import access at the top."""
    outward = sorted(
        f"{module} -> {target}"
        for module in _ours("access")
        for target in _top_level(module)
        for feature in RELATED
        if target.startswith(f"coordinator.{feature}") and target != f"coordinator.{feature}.models"
    )
    assert outward == []


def test_no_module_of_access_or_the_related_features_loads_itself_again() -> None:
    loops = sorted(
        module
        for package in PACKAGES
        for module in _ours(package)
        if any(_reaches(target, module) for target in _top_level(module))
    )
    assert loops == []
