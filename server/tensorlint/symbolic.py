"""Exact checks of scalar claims with SymPy: a proof for a true one, an exact counterexample for a false one.

Scalar calculus fills real notes (the derivatives of the sigmoid, tanh, softmax and the Gaussian density),
and there SymPy is the best tool: ``simplify(left - right) == 0`` proves a claim outright, and rational
values give a counterexample anyone can check by hand. SymPy expressions are built from our IR (never by
parsing document text), and only for claims whose every name is a scalar.

SymPy costs about half a second to import, so this module imports it only inside the functions that need
it, and ``verify`` calls them only for the claims listed in ``wanted``: a note with no such claim never
loads SymPy (``benchmarks/cold_start.py`` and a test hold the check path to that).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tensorlint import ir

# Past this size simplify can take seconds; a claim that big keeps its numeric verdict.
MAX_NODES = 120
MAX_OPS = 80
# Rational points tried for an exact counterexample, in order.
POINTS = ((1, 1), (2, 1), (1, 2), (3, 1), (1, 3), (3, 2), (5, 2), (2, 3))

ELEMENTARY = {"exp", "log", "sqrt", "tanh", "sin", "cos", "sinh", "cosh", "sigmoid", "abs"}


class NotScalar(Exception):
    """The expression is not one SymPy can take as a scalar."""


@dataclass
class Facts:
    """What the converter needs from the document: the same lookups ``verify`` uses."""

    is_scalar: Callable[[str], bool]
    definition: Callable[[str], ir.Expr | None]
    function: Callable[[str], tuple[tuple[str, ...], ir.Expr] | None]
    positive: set[str]


def wanted(left: ir.Expr, right: ir.Expr, is_scalar: Callable[[str], bool], calculus: bool = True) -> bool:
    """Whether a claim is scalar and small enough for an exact check, and (with ``calculus``) has a
    derivative or an elementary function: the claims where a proof adds something. Cheap, imports nothing."""
    nodes = ir.walk(left) + ir.walk(right)
    if len(nodes) > MAX_NODES:
        return False
    interesting = False
    for node in nodes:
        if isinstance(node, ir.Deriv):
            if node.wrt.indices is not None or not is_scalar(node.wrt.key):
                return False
            interesting = True
        elif isinstance(node, ir.Unary):
            if node.op in ELEMENTARY:
                interesting = True
            elif node.op not in ("neg", "transpose", "inverse"):
                return False
        elif isinstance(node, ir.Var):
            if not is_scalar(node.key):
                return False
        elif isinstance(node, ir.Binary):
            if node.op != "div":
                return False
        elif isinstance(node, ir.Ones):
            if node.dim is not None:
                return False
        elif not isinstance(node, ir.Const | ir.Prod | ir.Add | ir.Power | ir.Call | ir.RandomFunction):
            return False
    return interesting or not calculus


class Converter:
    """IR → SymPy for scalar expressions. Definitions are substituted, except for a name a derivative is
    taken by, which stays independent there (the chain rule's reading) and is substituted afterwards."""

    def __init__(self, facts: Facts) -> None:
        import sympy

        self.sp = sympy
        self.facts = facts
        self.symbols: dict[str, Any] = {}
        self.depth = 0

    def symbol(self, key: str) -> Any:
        if key not in self.symbols:
            name = key.split("@")[0]
            self.symbols[key] = (
                self.sp.Symbol(name, positive=True) if key in self.facts.positive else (self.sp.Symbol(name, real=True))
            )
        return self.symbols[key]

    def convert(self, expr: ir.Expr, held: frozenset[str] = frozenset()) -> Any:
        self.depth += 1
        try:
            if self.depth > 60:
                raise NotScalar("nested too deeply")
            return self.node(expr, held)
        finally:
            self.depth -= 1

    def constant(self, value: float) -> Any:
        sp = self.sp
        if value == int(value) and abs(value) < 1e12:
            return sp.Integer(int(value))
        if value == math.pi:
            return sp.pi
        return sp.Rational(repr(value))

    def node(self, expr: ir.Expr, held: frozenset[str]) -> Any:
        sp = self.sp
        if isinstance(expr, ir.Var):
            found = None if expr.key in held else self.facts.definition(expr.key)
            if found is not None:
                return self.convert(found, held | {expr.key})
            if not self.facts.is_scalar(expr.key):
                raise NotScalar(expr.key)
            return self.symbol(expr.key)
        if isinstance(expr, ir.Const):
            return self.constant(expr.value)
        if isinstance(expr, ir.Ones) and expr.dim is None:
            # A constant broadcast in a sum (1 - σ(x)): in a scalar claim, the number itself.
            return sp.Integer(1)
        if isinstance(expr, ir.Prod):
            return sp.Mul(*(self.convert(factor, held) for factor in expr.factors))
        if isinstance(expr, ir.Add):
            return sp.Add(*(sign * self.convert(term, held) for term, sign in zip(expr.terms, expr.signs, strict=True)))
        if isinstance(expr, ir.Power):
            if isinstance(expr.exponent, str):
                exponent = sp.Symbol(expr.exponent, integer=True, positive=True)
            elif isinstance(expr.exponent, ir.Expr):
                exponent = self.convert(expr.exponent, held)
            else:
                exponent = self.constant(expr.exponent)
            return self.convert(expr.base, held) ** exponent
        if isinstance(expr, ir.Binary) and expr.op == "div":
            return self.convert(expr.left, held) / self.convert(expr.right, held)
        if isinstance(expr, ir.Unary):
            return self.unary(expr.op, self.convert(expr.operand, held))
        if isinstance(expr, ir.Deriv):
            return self.derivative(expr, held)
        if isinstance(expr, ir.Call | ir.RandomFunction):
            return self.call(expr.key, expr.args, held)
        raise NotScalar(type(expr).__name__)

    def unary(self, op: str, value: Any) -> Any:
        sp = self.sp
        table: dict[str, Callable[[Any], Any]] = {
            "neg": lambda x: -x,
            "transpose": lambda x: x,
            "inverse": lambda x: 1 / x,
            "exp": sp.exp,
            "log": sp.log,
            "sqrt": sp.sqrt,
            "abs": sp.Abs,
            "tanh": sp.tanh,
            "sin": sp.sin,
            "cos": sp.cos,
            "sinh": sp.sinh,
            "cosh": sp.cosh,
            "sigmoid": lambda x: 1 / (1 + sp.exp(-x)),
        }
        if op not in table:
            raise NotScalar(op)
        return table[op](value)

    def derivative(self, expr: ir.Deriv, held: frozenset[str]) -> Any:
        key = expr.wrt.key
        if expr.wrt.indices is not None or not self.facts.is_scalar(key):
            raise NotScalar("a derivative by a non-scalar")
        numerator = self.convert(expr.numerator, held | {key})
        result = self.sp.diff(numerator, self.symbol(key))
        found = None if key in held else self.facts.definition(key)
        if found is not None:
            result = result.subs(self.symbol(key), self.convert(found, held | {key}))
        return result

    def call(self, key: str, args: tuple[ir.Expr, ...], held: frozenset[str]) -> Any:
        values = [self.convert(argument, held) for argument in args]
        defined = self.facts.function(key)
        if defined is None:
            # A function the note leaves unknown: SymPy's undefined function, so the chain rule still applies.
            return self.sp.Function(key.split("@")[0])(*values)
        parameters, body = defined
        if len(parameters) != len(values):
            raise NotScalar("a call with the wrong number of arguments")
        bound = self.convert(body, held | set(parameters))
        return bound.subs(
            {self.symbol(name): value for name, value in zip(parameters, values, strict=True)}, simultaneous=True
        )


@dataclass
class Verdict:
    proved: bool
    message: str = ""


def decide(left: ir.Expr, right: ir.Expr, facts: Facts) -> Verdict | None:
    """A proof that ``left = right`` for all values (``proved``), an exact counterexample (not ``proved``),
    or None when SymPy cannot tell (too big, not scalar, or no rational point separates the sides)."""
    try:
        converter = Converter(facts)
        a, b = converter.convert(left), converter.convert(right)
        return settle(converter, a, b)
    except Exception:
        # SymPy raises many things on odd input; the numeric verdict stands on its own.
        return None


def settle(converter: Converter, a: Any, b: Any) -> Verdict | None:
    sp = converter.sp
    difference = a - b
    if sp.count_ops(difference) > MAX_OPS * 4:
        return None
    if sp.expand(difference) == 0 or sp.simplify(difference) == 0:
        return Verdict(True, "proved: the two sides simplify to the same expression")
    free = sorted(difference.free_symbols, key=lambda symbol: symbol.name)
    if any(isinstance(atom, sp.core.function.AppliedUndef) for atom in difference.atoms(sp.Function)):
        return None
    for numerator, denominator in POINTS:
        point = {symbol: sp.Rational(numerator * (index + 1), denominator) for index, symbol in enumerate(free)}
        left, right = sp.nsimplify(a.subs(point)), sp.nsimplify(b.subs(point))
        if not (left.is_real and right.is_real) or left.has(sp.zoo, sp.nan):
            continue
        if sp.simplify(left - right) != 0:
            where = ", ".join(f"{sp.pretty(symbol)} = {value}" for symbol, value in point.items())
            at = f" at {where}" if where else ""
            return Verdict(False, f"exactly{at}: the left side is {short(sp, left)}, the right side {short(sp, right)}")
    return None


def short(sp: Any, value: Any) -> str:
    """An exact rational as it is; anything else (e^{-1}, √2) by its decimal value."""
    if value.is_Rational:
        text = sp.sstr(value)
        if len(text) <= 30:
            return text
    return f"≈ {float(value):.6g}"


def simplest(expr: ir.Expr, facts: Facts) -> str | None:
    """The shortest of SymPy's simplified and factored forms of a scalar expression, as SymPy's LaTeX (the
    caller keeps it only when it is shorter than its own and checks out); None when it cannot be built."""
    try:
        converter = Converter(facts)
        sp = converter.sp
        value = converter.convert(expr)
        if sp.count_ops(value) > MAX_OPS * 4:
            return None
        simplified = sp.simplify(value)
        candidates = [str(sp.latex(form)) for form in (simplified, sp.factor(simplified), sp.factor(value))]
        return min(candidates, key=len)
    except Exception:
        return None
