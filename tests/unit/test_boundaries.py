"""The architecture's boundaries, checked on the source: the emulator and the tool never import
each other, and only the gateway imports Azure SDKs (lazily, inside functions)."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(module, at module level) for every import in the file."""
    tree = ast.parse(path.read_text())
    top = {id(n) for n in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, id(node) in top))
    return found


def test_the_emulator_and_the_tool_never_import_each_other():
    for path in (ROOT / "azure_emulator").glob("*.py"):
        assert not [m for m, _ in _imports(path) if m.split(".")[0] == "provision"], path
    for path in (ROOT / "provision").glob("*.py"):
        assert not [m for m, _ in _imports(path) if m.split(".")[0] == "azure_emulator"], path


def test_only_the_gateway_imports_azure_and_only_lazily():
    for path in (ROOT / "provision").glob("*.py"):
        azure = [(m, top) for m, top in _imports(path) if m.split(".")[0] == "azure"]
        if path.name == "gateway.py":
            assert azure and not [m for m, top in azure if top], "the gateway imports Azure SDKs inside functions only"
        else:
            assert azure == [], f"{path.name} imports {azure}: Azure calls go through the gateway"
