"""Inequalities: when ``a ≤ b``, ``a < b``, ``A ⪰ B`` hold on one instance, and which ones are conditions.

An inequality between scalars compares the two numbers. Between vectors or matrices, ``≤`` is read both
elementwise and in the Loewner order (for square matrices), and holds when either reading holds, so a
refutation holds in every reading; ``\\succeq`` and ``\\preceq`` are the Loewner order only (the symmetric
part of the difference is positive semidefinite). The tolerance never accuses: sides equal to rounding
satisfy a non-strict inequality, and leave a strict one undecided.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tensorlint import syntax as ast

INEQUALITIES = {"<", ">", "le", "ge", "succeq", "preceq"}
# The relation as written, for messages.
SYMBOLS = {"<": "<", ">": ">", "le": "≤", "ge": "≥", "succeq": "⪰", "preceq": "⪯"}


@dataclass
class Comparison:
    status: str  # ok, wrong, undecided
    detail: str = ""


def oriented(op: str, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool, bool]:
    """``small ≤ big`` for every op: (small, big, strict, loewner_only)."""
    if op in (">", "ge", "succeq"):
        a, b = b, a
    return a, b, op in ("<", ">"), op in ("succeq", "preceq")


def compare(op: str, a: np.ndarray, b: np.ndarray, tolerance: float) -> Comparison:
    """Whether ``a op b`` holds for real arrays of one shape (scalars are 0-d or 1×1)."""
    small, big, strict, loewner_only = oriented(op, a, b)
    gap = big - small
    scale = max(1.0, float(np.abs(small).max(initial=0)), float(np.abs(big).max(initial=0)))
    slack = tolerance * scale
    square = gap.ndim >= 2 and gap.shape[-1] == gap.shape[-2] and gap.shape[-1] > 1
    readings: list[tuple[str, float]] = []
    if not loewner_only or not square:
        readings.append(("entrywise", float(gap.min(initial=np.inf))))
    if square:
        symmetric = (gap + np.swapaxes(gap, -1, -2)) / 2
        readings.append(("in the Loewner order", float(np.linalg.eigvalsh(symmetric).min(initial=np.inf))))
    best = max(value for _, value in readings)
    if best > slack or (not strict and best >= -slack):
        return Comparison("ok")
    if best >= -slack:
        return Comparison("undecided", "the two sides are equal to rounding on a test instance")
    return Comparison("wrong", "; ".join(describe(op, a, b, reading, value) for reading, value in readings))


def describe(op: str, a: np.ndarray, b: np.ndarray, reading: str, margin: float) -> str:
    if a.size == 1:
        return f"the left side is {float(a.reshape(-1)[0]):.4g}, the right side {float(b.reshape(-1)[0]):.4g}"
    if reading == "entrywise":
        small, big, _, _ = oriented(op, a, b)
        position = np.unravel_index(int(np.argmin(big - small)), a.shape)
        entry = ", ".join(str(index + 1) for index in position)
        return f"at entry ({entry}) the left side is {a[position]:.4g}, the right side {b[position]:.4g}"
    return f"the difference has the eigenvalue {margin:.4g} {reading}"


def is_condition(left: ast.Node, right: ast.Node, defined: Callable[[ast.Node], bool]) -> bool:
    """``x > 0``, ``0 < α``, ``n > d``, ``λ_1 ≥ λ_2``, ``η < 1/L``: a condition on values or sizes that the
    note states, not a claim to check: one side is a bare name (with an index) that the note does not define."""
    sides = (left, right)
    return any(_atomic(side) and not isinstance(_unsigned(side), ast.Number) and not defined(side) for side in sides)


def _unsigned(node: ast.Node) -> ast.Node:
    return node.operand if isinstance(node, ast.Neg) else node


def _atomic(node: ast.Node) -> bool:
    node = _unsigned(node)
    if isinstance(node, ast.Name | ast.Number):
        return True
    if isinstance(node, ast.Sub):
        return isinstance(node.base, ast.Name)
    if isinstance(node, ast.Sup):
        # x^{(l)}, a layer index, is a name; x^2 is not.
        return isinstance(node.base, ast.Name) and isinstance(node.exponent, ast.Delimited)
    return False
