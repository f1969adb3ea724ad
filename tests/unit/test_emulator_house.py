"""The emulator's house rules, checked on its source: no import cycles (not even through an import
inside a function), no module over 400 lines, and every error built by wire.py's factory."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "azure_emulator"
MAX_LINES = 400


def _modules() -> dict[str, ast.Module]:
    return {path.stem: ast.parse(path.read_text(), str(path)) for path in sorted(PACKAGE.glob("*.py"))}


def _imports(tree: ast.Module) -> set[str]:
    """The package's own modules a module imports, wherever the import statement is."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("azure_emulator."):
            found.add(node.module.split(".")[1])
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle as a path of modules, or [] (depth-first search, colouring nodes)."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt in graph and state.get(nxt) is None:
                found = visit(nxt)
                if found:
                    return found
        state[node] = 2
        path.pop()
        return []

    for start in sorted(graph):
        if state.get(start) is None:
            found = visit(start)
            if found:
                return found
    return []


def test_cycle_finder_finds_a_cycle_through_a_function_level_import():
    tree = ast.parse("def f():\n    from .b import x\n")
    assert _cycle({"a": _imports(tree), "b": {"a"}}) == ["a", "b", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    graph = {name: _imports(tree) - {name} for name, tree in _modules().items()}
    assert _cycle(graph) == []


def test_no_module_over_400_lines():
    long = {path.name: n for path in PACKAGE.glob("*.py") if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def _error_constructions(tree: ast.Module) -> list[int]:
    """Lines that build an ArmError, or a Response with a literal error status, by hand."""
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        if node.func.id == "ArmError":
            lines.append(node.lineno)
        elif node.func.id == "Response" and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, int) and node.args[0].value >= 400:
            lines.append(node.lineno)
    return lines


def test_errors_come_from_the_wire_factory():
    by_hand = {name: lines for name, tree in _modules().items() if name != "wire" and (lines := _error_constructions(tree))}
    assert by_hand == {}
    assert _error_constructions(ast.parse("raise ArmError(404, 'X', 'y')\nr = Response(500, {})\nok = Response(200, {})\n")) == [1, 2]


def test_the_emulator_and_the_tool_never_import_each_other():
    provision = PACKAGE.parent / "provision"
    assert not any("provision" in {n.module.split(".")[0] for n in ast.walk(t) if isinstance(n, ast.ImportFrom) and n.module and n.level == 0}
                   for t in _modules().values())
    for path in provision.rglob("*.py"):
        assert "azure_emulator" not in {n.module.split(".")[0] for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.ImportFrom) and n.module and n.level == 0}, path
