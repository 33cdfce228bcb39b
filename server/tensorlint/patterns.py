"""Ellipsis patterns: ``a_1 + a_2 + \\dots + a_n`` and matrices written by their entries with ``\\cdots``.

Notes write sums and matrices by showing the first terms and the last one. The pattern is read by comparing
the terms leaf by leaf: the leaves that change from the first term to the second are the running index,
and their values in the last term give its range. ``W_{3,1}x_1 + W_{3,2}x_2 + \\dots + W_{3,D}x_D`` is
``\\sum_{k=1}^{D} W_{3,k} x_k``. Anything that does not fit one index running from 1 is not a pattern, and
stays unsupported (so never accused).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, replace
from typing import Any

from tensorlint import syntax as ast

LEAVES = (ast.Name, ast.Number)
# A visitor returns a replacement for a node, or None to look inside it.
Visit = Callable[[ast.Node], ast.Node | None]


def expand_digits(node: ast.Node) -> ast.Node:
    """``W_{31}`` has two indices: its subscript ``31`` becomes the digits ``3 1``."""
    return _rebuild(node, _expand)


def _expand(node: ast.Node) -> ast.Node | None:
    if isinstance(node, ast.Sub) and isinstance(node.index, ast.Number):
        text = node.index.text
        if len(text) > 1 and text.isdigit():
            digits = tuple(
                ast.Number(digit, start=node.index.start + offset, end=node.index.start + offset + 1)
                for offset, digit in enumerate(text)
            )
            index = ast.Juxt(digits, start=node.index.start, end=node.index.end)
            return replace(node, base=expand_digits(node.base), index=index)
    return None


def _rebuild(node: ast.Node, visit: Visit) -> ast.Node:
    """``node`` with ``visit`` applied top-down; ``visit`` returns a replacement or None to recurse."""
    replaced = visit(node)
    if replaced is not None:
        return replaced
    changes: dict[str, Any] = {}
    for item in fields(node):
        if item.name in ("start", "end"):
            continue
        value = getattr(node, item.name)
        if isinstance(value, ast.Node):
            changes[item.name] = _rebuild(value, visit)
        elif isinstance(value, tuple):
            changes[item.name] = tuple(_rebuild_item(part, visit) for part in value)
    return replace(node, **changes) if changes else node


def _rebuild_item(part: object, visit: Visit) -> object:
    if isinstance(part, ast.Node):
        return _rebuild(part, visit)
    if isinstance(part, tuple):
        return tuple(_rebuild_item(cell, visit) for cell in part)
    return part


def leaves(node: ast.Node) -> list[ast.Node]:
    """Names and numbers in source order."""
    ordered = sorted(ast.walk(node), key=lambda inner: (inner.start, inner.end))
    return [item for item in ordered if isinstance(item, LEAVES)]


def skeleton(node: ast.Node) -> ast.Node:
    """The node with every leaf blanked: two terms of one pattern have equal skeletons."""

    def blank(inner: ast.Node) -> ast.Node | None:
        if isinstance(inner, ast.Name):
            return ast.Name("#")
        if isinstance(inner, ast.Number):
            return ast.Name("#")
        return None

    return _rebuild(node, blank)


def leaf_text(node: ast.Node) -> str:
    return node.text if isinstance(node, ast.Name | ast.Number) else ""


def substitute(node: ast.Node, positions: dict[int, str]) -> ast.Node:
    """Replace the leaves at the given source-order positions by index names."""
    ordered = leaves(node)
    targets = {id(ordered[position]): name for position, name in positions.items()}

    def visit(inner: ast.Node) -> ast.Node | None:
        if id(inner) in targets:
            return ast.Name(targets[id(inner)], start=inner.start, end=inner.end)
        return None

    return _rebuild(node, visit)


def varying(first: ast.Node, second: ast.Node) -> dict[int, tuple[str, str]] | None:
    """Leaf positions where two terms of the same skeleton differ, with both spellings."""
    if skeleton(first) != skeleton(second):
        return None
    first_leaves, second_leaves = leaves(first), leaves(second)
    if len(first_leaves) != len(second_leaves):
        return None
    return {
        position: (leaf_text(a), leaf_text(b))
        for position, (a, b) in enumerate(zip(first_leaves, second_leaves, strict=True))
        if leaf_text(a) != leaf_text(b)
    }


def upper_bound(values: set[str]) -> str | int | None:
    if len(values) != 1:
        return None
    (value,) = values
    if value.isdigit():
        return int(value)
    if len(value) == 1 and value.isalpha():
        return value
    return None


def sum_pattern(terms: list[ast.Node], label: str) -> tuple[ast.Node, str | int] | None:
    """``t_1 + t_2 + \\dots + t_n``: the general term (with ``label``) and the range's end."""
    explicit = [expand_digits(term) for term in terms if not isinstance(term, ast.Dots)]
    if len(explicit) < 2 or len(explicit) == len(terms):
        return None
    first, last = explicit[0], explicit[-1]
    ends = varying(first, last)
    if not ends:
        return None
    if any(start != "1" for start, _ in ends.values()):
        return None
    upper = upper_bound({end for _, end in ends.values()})
    if upper is None:
        return None
    general = substitute(first, dict.fromkeys(ends, label))
    # Every term written out must be the general term at some position.
    for term in explicit[1:-1]:
        difference = varying(first, term)
        if difference is None or set(difference) != set(ends):
            return None
        if len({value for _, value in difference.values()}) != 1:
            return None
    return general, upper


def is_dots_row(row: tuple[ast.Node | None, ...]) -> bool:
    return all(cell is None or isinstance(cell, ast.Dots) for cell in row)


def matrix_pattern(
    rows: tuple[tuple[ast.Node | None, ...], ...],
) -> tuple[ast.Node, tuple[str, ...], tuple[str | int, ...]] | None:
    """A matrix written by entries with ellipses: the general entry, its index names and their ranges.

    Returns labels ``("_r", "_c")`` for a matrix, ``("_r",)`` for a column and ``("_c",)`` for a row.
    """
    written = [row for row in rows if not is_dots_row(row)]
    if not written or not written[0] or written[0][0] is None or isinstance(written[0][0], ast.Dots):
        return None
    first = expand_digits(written[0][0])
    last_cell = written[-1][-1]
    if last_cell is None or isinstance(last_cell, ast.Dots):
        return None
    last = expand_digits(last_cell)
    columns = len(written[0]) > 1
    rows_vary = len(rows) > 1
    labels: list[str] = []
    ranges: list[str | int] = []
    positions: dict[int, str] = {}
    ends = varying(first, last)
    if ends is None:
        return None
    for label, neighbour, vary in (
        ("_r", written[1][0] if len(written) > 1 else None, rows_vary),
        ("_c", written[0][1] if columns else None, columns),
    ):
        if not vary:
            continue
        if isinstance(neighbour, ast.Dots) and label == "_c" and len(written) == 1 and len(written[0]) == 3:
            # [x_1, \ldots, x_n]: the entry after the dots is the last one.
            neighbour = written[0][2]
        if neighbour is None or isinstance(neighbour, ast.Dots):
            return None
        step = varying(first, expand_digits(neighbour))
        # [x_1 \\ \vdots \\ x_n]: with only the first and the last entry written, the index runs from 1.
        only_ends = neighbour is last_cell and len(labels) == 0 and not (rows_vary and columns)
        if not step or any(start != "1" or (value != "2" and not only_ends) for start, value in step.values()):
            return None
        upper = upper_bound({ends[position][1] for position in step if position in ends})
        if upper is None or not set(step) <= set(ends):
            return None
        labels.append(label)
        ranges.append(upper)
        positions.update(dict.fromkeys(step, label))
    if not labels or set(positions) != set(ends):
        return None
    return substitute(first, positions), tuple(labels), tuple(ranges)
