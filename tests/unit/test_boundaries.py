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


def test_check_names_finding_kinds_and_phases_are_compared_as_enums():
    """`f.check == Check.IDENTITY`, never `f.check == "identity"`: a renamed member cannot leave a
    comparison behind that is silently always false."""
    def literal(node: ast.AST) -> bool:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return True
        return isinstance(node, (ast.Tuple, ast.List, ast.Set)) and any(literal(e) for e in node.elts)

    found = []
    for path in (ROOT / "provision").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                if any(isinstance(s, ast.Attribute) and s.attr in ("check", "kind", "action") for s in sides) and any(literal(s) for s in sides):
                    found.append(f"{path.name}:{node.lineno}")
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "explain":
                if any(literal(a) for a in node.args[1:]):
                    found.append(f"{path.name}:{node.lineno} (explain with a string phase)")
    assert found == []


def test_a_refused_purchase_is_explained_by_its_phase():
    from provision.errors import AzureError, Phase, explain

    refused = AzureError("Purchase has failed because we couldn't find a valid payment method", "UserError")
    assert explain(refused, Phase.SUBSCRIBE).endswith("(fix: the Marketplace purchase was refused for this Azure subscription (billing country, "
                                                      "payment method or EA policy, as Azure says): fix it in billing, or use another subscription)")
    assert "fix:" not in explain(refused, Phase.DEPLOY)
