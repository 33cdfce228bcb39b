"""The readings of an expression that holds ``ir.Readings`` nodes: every combination of their options.

Lowering records notation that has several standard meanings (``\\mathrm{tr}(X + A)^{-1}``) as an
``ir.Readings`` node instead of picking one. Whoever decides a claim expands both sides with ``expand`` and
tries each combination: the claim is verified when one reading holds (the message names it) and is false
only when every reading fails. ``expand`` is pure and bounded (``limit`` combinations at most).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from tensorlint import ir

LIMIT = 8


@dataclass(frozen=True)
class Reading:
    """One reading of an expression: the expression without ``ir.Readings`` nodes, and the names of the
    options chosen (empty when the expression was not ambiguous)."""

    expr: ir.Expr
    names: tuple[str, ...] = ()


def has_readings(expr: ir.Expr) -> bool:
    return any(isinstance(node, ir.Readings) for node in ir.walk(expr))


def expand(expr: ir.Expr, limit: int = LIMIT) -> list[Reading]:
    """Every reading of ``expr`` (at most ``limit``), the first options first. Never raises."""
    try:
        return _expand(expr, max(1, limit))
    except RecursionError:
        return [Reading(expr)]


def _expand(expr: ir.Expr, limit: int) -> list[Reading]:
    node = _first_readings(expr)
    if node is None:
        return [Reading(expr)]
    found: list[Reading] = []
    for option, name in zip(node.options, node.names, strict=True):
        for reading in _expand(_substitute(expr, node, option), limit - len(found)):
            found.append(Reading(reading.expr, (name, *reading.names)))
            if len(found) >= limit:
                return found
    return found


def _first_readings(expr: ir.Expr) -> ir.Readings | None:
    for node in ir.walk(expr):
        if isinstance(node, ir.Readings):
            return node
    return None


def _substitute(expr: ir.Expr, target: ir.Expr, replacement: ir.Expr) -> ir.Expr:
    """``expr`` with the node ``target`` (by identity) replaced."""
    if expr is target:
        return replacement
    changes: dict[str, Any] = {}
    for spec in fields(expr):
        value = getattr(expr, spec.name)
        new = _substitute_value(value, target, replacement)
        if new is not value:
            changes[spec.name] = new
    return replace(expr, **changes) if changes else expr


def _substitute_value(value: object, target: ir.Expr, replacement: ir.Expr) -> object:
    if isinstance(value, ir.Expr):
        return _substitute(value, target, replacement)
    if isinstance(value, tuple):
        items = tuple(_substitute_value(item, target, replacement) for item in value)
        return value if all(new is old for new, old in zip(items, value, strict=True)) else items
    return value
