"""Which index labels of an expression are free, read term by term as Einstein's convention reads them.

An index that occurs once in a product term is free; one that occurs twice in the same term is a dummy of
that term and is summed there, never across a ``+`` (``(XB)_{pq} + X_{pj}B_{jq}`` sums j in the second term
only). An index written twice in one subscript (``X_{ii}``, ``\\delta_{ii}``) is a dummy too, except in the
denominator of a derivative, where ``\\partial X_{ii}`` names one diagonal entry. An index that occurs both
in the numerator and in the denominator of one derivative is never summed
(``\\frac{\\partial y_j}{\\partial W_{ij}}`` is a statement about each entry).

The evaluator (``numeric.py``) sums a term's dummies as it finishes the term, except the labels it is told to
keep: the free indices of the claim's other side (so that ``(x \\odot y)_i = x_i y_i`` states an elementwise
product rather than a sum), the labels of an enclosing ``\\sum``, the indices of the variable an enclosing
derivative is taken by, and the free indices of a definition's left side. This module is pure and static:
it reads IR only.
"""

from __future__ import annotations

from collections import Counter

from tensorlint import ir


def labels_of(refs: tuple[ir.IndexRef, ...]) -> list[str]:
    """The named labels among written indices: ``i`` in ``W_{i,3}``, not ``3``, ``:`` or a dimension."""
    return [ref for ref in refs if isinstance(ref, str) and ref != ":"]


def _once(labels: list[str]) -> frozenset[str]:
    """Labels written once; a label written twice (``X_{ii}``) is a dummy."""
    counts = Counter(labels)
    return frozenset(label for label, count in counts.items() if count == 1)


def free_indices(expr: ir.Expr) -> frozenset[str]:
    """The free index labels of ``expr``: its meaning varies with them. Never raises on any IR."""
    try:
        return _free(expr)
    except RecursionError:
        return frozenset()


def _free(expr: ir.Expr) -> frozenset[str]:
    if isinstance(expr, ir.Index):
        written = labels_of(expr.indices)
        return _once(written) | (_free(expr.base) - frozenset(written))
    if isinstance(expr, ir.Delta):
        return _once(labels_of((expr.first, expr.second)))
    if isinstance(expr, ir.Basis):
        return frozenset(labels_of((expr.index,)))
    if isinstance(expr, ir.Prod):
        counts: Counter[str] = Counter()
        for factor in expr.factors:
            counts.update(_free(factor))
        return frozenset(label for label, count in counts.items() if count == 1)
    if isinstance(expr, ir.Deriv):
        wrt = frozenset(labels_of(expr.wrt.indices or ()))
        return _free(expr.numerator) | wrt
    if isinstance(expr, ir.Sum | ir.Pattern):
        return _free(expr.body) - frozenset(expr.labels)
    found: frozenset[str] = frozenset()
    for value in expr.__dict__.values():
        if isinstance(value, ir.Expr):
            found |= _free(value)
        elif isinstance(value, tuple):
            for item in value:
                if isinstance(item, ir.Expr):
                    found |= _free(item)
                elif isinstance(item, tuple):
                    for cell in item:
                        if isinstance(cell, ir.Expr):
                            found |= _free(cell)
    return found
