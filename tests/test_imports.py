"""The import graph of the package has no cycle: no module imports one that runs after it.

A small AST walk over ``server/tensorlint``: every ``import tensorlint.x`` / ``from tensorlint[.x] import y``
is an edge, at module level or inside a function (a lazy import is still a dependency), except under
``if TYPE_CHECKING:``, which never runs. The layering it protects is drawn in ARCHITECTURE.md.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "server" / "tensorlint"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported(tree: ast.AST, modules: set[str]) -> set[str]:
    """The package's modules that ``tree`` imports at run time."""
    found: set[str] = set()
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in modules}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in modules else node.module)
        stack.extend(ast.iter_child_nodes(node))
    # The package itself (``from tensorlint import __version__``) is not a stage.
    return {name for name in found if name in modules and name != "tensorlint"}


def import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(path) for path in paths}
    return {module_name(path): imported(ast.parse(path.read_text(encoding="utf-8")), modules) for path in paths}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path that ends where it starts, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_walk_sees_the_pipeline() -> None:
    graph = import_graph()
    assert "tensorlint.verify" in graph["tensorlint.interpret"]
    assert "tensorlint.derive" in graph["tensorlint.explain"]
    assert "tensorlint.env" in graph["tensorlint.interpret"]
    assert "tensorlint.interpret" in graph["tensorlint.core"]


@pytest.mark.parametrize(
    ("graph", "cycle"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
        ({"a": {"a"}}, ["a", "a"]),
    ],
)
def test_find_cycle(graph: dict[str, set[str]], cycle: list[str] | None) -> None:
    assert find_cycle(graph) == cycle


def test_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        # The explanation layer runs after the check: the interpreter and the checker never import it.
        ("tensorlint.interpret", {"tensorlint.explain", "tensorlint.derive", "tensorlint.derive_command"}),
        ("tensorlint.verify", {"tensorlint.interpret", "tensorlint.explain", "tensorlint.derive"}),
        ("tensorlint.derive", {"tensorlint.interpret", "tensorlint.explain", "tensorlint.core"}),
        ("tensorlint.explain", {"tensorlint.interpret", "tensorlint.core"}),
        ("tensorlint.env", {"tensorlint.interpret", "tensorlint.verify", "tensorlint.numeric"}),
    ],
)
def test_no_back_edge(module: str, forbidden: set[str]) -> None:
    assert not (import_graph()[module] & forbidden)
