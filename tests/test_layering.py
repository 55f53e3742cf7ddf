"""The import graph points down only: common at the bottom, schemas/protocols on it, the stages on
those, the CLI (trackwire/) on top and the only importer of stages.

Every import of every module (at module level and inside functions) is read with ast, relative
imports resolved. A top-level package this test does not know is a stage (a new notifier/ is held
to the stages' rule without editing this file)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOT_SHIPPED = {"tests", "benchmarks", "deploy", "docs", "examples", "build"}
BOTTOM = {"common"}
SHARED = {"schemas", "protocols"}
CLI = "trackwire"


def packages() -> set[str]:
    return {p.parent.name for p in REPO.glob("*/__init__.py") if p.parent.name not in NOT_SHIPPED}


def allowed(layer: str, ours: set[str]) -> set[str]:
    if layer in BOTTOM:
        return {layer}
    if layer in SHARED:
        return BOTTOM | SHARED
    if layer == CLI:
        return ours
    return BOTTOM | SHARED | {layer}  # a stage: itself and what is below, never the CLI or another stage


def imported_packages(path: Path) -> set[tuple[str, int]]:
    tree = ast.parse(path.read_text(), str(path))
    module_parts = path.relative_to(REPO).with_suffix("").parts
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {(alias.name.split(".")[0], node.lineno) for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = module_parts[:-1]  # the package of both pkg/mod.py and pkg/__init__.py
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            else:
                target = node.module or ""
            found.add((target.split(".")[0], node.lineno))
    return found


def upward_edges() -> list[str]:
    ours = packages()
    edges = []
    for package in sorted(ours):
        for path in sorted((REPO / package).rglob("*.py")):
            for target, line in imported_packages(path):
                if target in ours and target not in allowed(package, ours):
                    edges.append(f"{path.relative_to(REPO)}:{line} ({package}) imports {target}")
    return edges


def test_no_module_imports_upwards_or_across_stages():
    assert upward_edges() == []


def test_the_walk_sees_every_layer():
    ours = packages()
    assert {"common", "schemas", "protocols", "listener", "processors", "sinks", "simulator", "trackwire"} <= ours
    # The CLI does import the stages (the walk reads imports inside functions, where it does).
    cli_imports = {t for p in (REPO / CLI).rglob("*.py") for t, _ in imported_packages(p)}
    assert {"listener", "processors", "sinks", "simulator", "common"} <= cli_imports


def test_an_upward_import_is_reported(tmp_path, monkeypatch):
    # The checker itself: a stage importing the CLI, inside a function, relative or not, is caught.
    fake = tmp_path / "repo"
    for package, source in {
        "common": "", "trackwire": "", "sinks": "def f():\n    from trackwire.cli import main\n",
        "listener": "from . import x\nfrom sinks import y\n", "schemas": "import listener.tcp\n",
    }.items():
        (fake / package).mkdir(parents=True)
        (fake / package / "__init__.py").write_text(source)
    monkeypatch.setattr(sys.modules[__name__], "REPO", fake)
    assert sorted(e.split(" imports ")[1] for e in upward_edges()) == ["listener", "sinks", "trackwire"]
