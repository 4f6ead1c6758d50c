"""Imports point one way: vmsapp -> dashboard, streams -> vms. Fails on any upward import.

The check reads every module's import statements (also those inside functions, which are still
dependencies), skipping only ``if TYPE_CHECKING:`` blocks (annotations, never executed).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What each layer may not import (by module prefix). vms is the domain and storage; streams the
# media stages; dashboard the HTTP layer; vmsapp the application layer, which may import anything.
FORBIDDEN = {
    "vms": ("vmsapp", "dashboard", "streams"),
    "streams": (
        "vmsapp", "dashboard",
        # orchestration: the cluster, the database, retention passes, RPC and durable queues
        "vms.cluster", "vms.db", "vms.cameras.registry", "vms.recordings.retention", "vms.events.retention",
        "vms.bus.rpc", "vms.bus.streams",
    ),
    "dashboard": ("vmsapp", "streams"),
}


def imports_of(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def upward_imports(layer: str) -> list[str]:
    bad = []
    for path in sorted((ROOT / layer).rglob("*.py")):
        for line, module in imports_of(path):
            if any(module == f or module.startswith(f + ".") for f in FORBIDDEN[layer]):
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return bad


def test_domain_imports_no_media_web_or_application():
    assert upward_imports("vms") == []


def test_media_imports_no_orchestration_web_or_application():
    assert upward_imports("streams") == []


def test_web_imports_no_media_or_application():
    assert upward_imports("dashboard") == []


def test_the_check_sees_an_upward_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("import os\ndef f():\n    from streams.ingest import StreamSource\n"
                      "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from vmsapp.runtime import Runtime\n")
    assert imports_of(module) == [(1, "os"), (4, "typing"), (3, "streams.ingest")]
