"""Dependencies point inward: coordinator -> fhir_adapters -> pathways. pathways imports no framework."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FRAMEWORKS = (
    "flask",
    "flask_login",
    "flask_babel",
    "flask_wtf",
    "sqlalchemy",
    "alembic",
    "fhir",
    "werkzeug",
)


def _imports(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        names: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("pathways", {*FRAMEWORKS, "coordinator", "fhir_adapters"}),
        ("fhir_adapters", {*FRAMEWORKS, "coordinator"} - {"fhir"}),
    ],
)
def test_no_outward_imports_in_source(package: str, forbidden: set[str]) -> None:
    offenders = {f: sorted(n & forbidden) for f, n in _imports(package).items() if n & forbidden}
    assert offenders == {}


def test_importing_the_domain_loads_no_framework() -> None:
    """Catches indirect imports too: import every pathways module in a clean interpreter."""
    modules = sorted(
        "pathways." + ".".join(p.relative_to(ROOT / "pathways").with_suffix("").parts)
        for p in (ROOT / "pathways").rglob("*.py")
        if p.name != "__init__.py"
    )
    script = (
        "import importlib, json, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted({n.split('.')[0] for n in sys.modules})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    loaded = set(json.loads(result.stdout))
    assert loaded & {*FRAMEWORKS, "coordinator", "fhir_adapters"} == set()
    assert "pathways" in loaded


def test_ruff_bans_framework_imports_in_the_domain(tmp_path: Path) -> None:
    """The lint rule that enforces the layering is switched on (TID251 banned-api)."""
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    probe = tmp_path / "pathways" / "probe.py"
    probe.parent.mkdir()
    probe.write_text("import flask\nfrom sqlalchemy.orm import Session\nimport fhir.resources\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--select",
            "TID251",
            "--output-format",
            "json",
            "--no-cache",
            str(probe),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    banned = {d["message"].split("`")[1] for d in json.loads(result.stdout)}
    assert banned == {"flask", "sqlalchemy", "fhir"}


# The doors of coordinator/: each imports the edge (coordinator.edge) and features, never another door.
DOORS = {
    "api": "coordinator/api",
    "fhir": "coordinator/fhir",
    "messaging-door": "coordinator/messaging/views.py",
    "web": "coordinator/web",
}


def _module_imports(path: Path) -> set[str]:
    """Every module a file imports (full dotted names), at the top or inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _files(where: str) -> list[Path]:
    path = ROOT / where
    return [path] if path.suffix == ".py" else sorted(path.rglob("*.py"))


# Known and named exceptions (none left: the CarePlan version history is a feature, coordinator.plan_history).
ALLOWED: set[tuple[str, str]] = set()


@pytest.mark.parametrize("door", sorted(DOORS))
def test_no_one_imports_a_door_but_itself(door: str) -> None:
    """Nothing outside a door imports from it (the edge kit holds what doors share; features hold their
    own models, e.g. Idempotency-Key's table is coordinator.idempotency's)."""
    own = set(_files(DOORS[door]))
    module = DOORS[door].removesuffix(".py").replace("/", ".")
    offenders = {}
    for path in sorted((ROOT / "coordinator").rglob("*.py")):
        name = str(path.relative_to(ROOT))
        if path in own or name == "coordinator/__init__.py":  # create_app wires every door
            continue
        found = {
            n
            for n in _module_imports(path)
            if (n == module or n.startswith(f"{module}."))
            and not any((name, n) == a or (name == a[0] and n.startswith(a[1])) for a in ALLOWED)
        }
        if found:
            offenders[name] = sorted(found)
    assert offenders == {}


# Features whose modules import each other one way only (issue 19): no import inside a function to dodge
# a cycle. An import that must stay late names its reason in a comment and is listed here.
ONE_WAY = ("coordinator/reminders", "coordinator/messaging", "coordinator/subscriptions")
LATE_IMPORTS: set[tuple[str, str]] = set()


def test_features_import_each_other_one_way_at_the_top() -> None:
    late = set()
    for where in ONE_WAY:
        for path in _files(where):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for function in ast.walk(tree):
                if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                for node in ast.walk(function):
                    if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                        "coordinator"
                    ):
                        late.add((str(path.relative_to(ROOT)), node.module))
    assert late == LATE_IMPORTS
