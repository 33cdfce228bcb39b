"""The meaning of an expression: the intermediate representation that shapes and evaluation work on.

``lower.py`` turns the notation-shaped AST into these nodes, deciding what juxtaposition means (a product,
a function call, a differential, a derivative operator applied to what follows), what a subscript means
(an index, part of a name, the size of ``1_n``), and what a fraction means (a quotient or a derivative).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# An index is a label (``"i"``), a concrete 1-based position (``3``), the size of a dimension used as a
# position (``("dim", "D")`` for ``W_{3,D}``), or a whole-axis slice (``":"``).
IndexRef = str | int | tuple[str, str]


@dataclass(frozen=True)
class Expr:
    start: int = field(default=0, compare=False, kw_only=True)
    end: int = field(default=0, compare=False, kw_only=True)


@dataclass(frozen=True)
class Var(Expr):
    key: str


@dataclass(frozen=True)
class Const(Expr):
    value: float


@dataclass(frozen=True)
class Ones(Expr):
    """The all-ones column vector ``1_n`` (``dim`` a symbol or a number) or, with ``square``, the matrix J."""

    dim: str | int | None
    square: bool = False


@dataclass(frozen=True)
class Identity(Expr):
    dim: str | int | None


@dataclass(frozen=True)
class Basis(Expr):
    """``e_i``: the i-th standard basis column vector."""

    index: IndexRef


@dataclass(frozen=True)
class Delta(Expr):
    first: IndexRef
    second: IndexRef


@dataclass(frozen=True)
class Index(Expr):
    """``W_{ij}``, ``x_7``, ``Y_{i,:}``, ``(Xy)_{11}``: entries of ``base``."""

    base: Expr
    indices: tuple[IndexRef, ...]


@dataclass(frozen=True)
class Prod(Expr):
    """Factors multiplied left to right: matrix products, with scalars (and 1×1 results) scaling."""

    factors: tuple[Expr, ...]
    dot: bool = False


@dataclass(frozen=True)
class Add(Expr):
    terms: tuple[Expr, ...]
    signs: tuple[int, ...]


@dataclass(frozen=True)
class Unary(Expr):
    """``op`` is one of ``neg transpose inverse tr det logdet log exp vec diag sqrt abs sigmoid tanh
    softmax relu sin cos sinh cosh sign``."""

    op: str
    operand: Expr


@dataclass(frozen=True)
class Power(Expr):
    base: Expr
    # A number, a dimension's name (det(A)^n), or arithmetic on letters that stand for one integer
    # throughout the claim (x^{n-1}, X^k).
    exponent: float | str | Expr


@dataclass(frozen=True)
class Binary(Expr):
    """``op`` is one of ``kron hadamard frob div``."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Norm(Expr):
    operand: Expr
    kind: str = "2"


@dataclass(frozen=True)
class Call(Expr):
    """A function known only by name (``F(W)``) or defined with parameters (``f(X) := X^T a``)."""

    key: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Wrt:
    """What a derivative is taken with respect to: a variable, optionally with indices or as ``vec``."""

    key: str
    indices: tuple[IndexRef, ...] | None = None
    # By vec(X): the derivative's X axes are flattened by columns.
    vec: bool = False


@dataclass(frozen=True)
class Deriv(Expr):
    """``∂ numerator / ∂ wrt``. ``gradient`` marks ``\\nabla_X`` (always shaped like X)."""

    numerator: Expr
    wrt: Wrt
    gradient: bool = False
    # A layout the notation fixes, whatever the note's convention: ``∂f/∂x^T`` and ``\\operatorname{D}f`` are
    # numerator layout, ``∂²f/∂x∂y^T`` has x down the rows (denominator layout of the nested derivatives).
    layout: str | None = None


@dataclass(frozen=True)
class Differential(Expr):
    operand: Expr


@dataclass(frozen=True)
class Sum(Expr):
    labels: tuple[str, ...]
    upper: str | int | None
    lower: int
    body: Expr
    product: bool = False


@dataclass(frozen=True)
class MatrixLit(Expr):
    rows: tuple[tuple[Expr, ...], ...]


@dataclass(frozen=True)
class Pattern(Expr):
    """A matrix or vector written by its entries with ellipses: entry ``body`` at index ``labels``.

    ``sizes`` are the ranges of the labels; ``orientation`` is ``matrix``, ``column`` or ``row``.
    """

    body: Expr
    labels: tuple[str, ...]
    sizes: tuple[str | int, ...]
    orientation: str = "matrix"


@dataclass(frozen=True)
class RandomFunction(Expr):
    """A random smooth function standing for one the note leaves unknown: a loss ``L`` known only through
    its derivatives, or ``F(W)`` declared but never defined. ``shape`` is the output's shape."""

    key: str
    args: tuple[Expr, ...]
    shape: tuple[str | int, ...] = ()


@dataclass(frozen=True)
class Readings(Expr):
    """Notation with several standard readings that the note does not settle, such as
    ``\\mathrm{tr}(X + A)^{-1}`` (tr((X + A)⁻¹) or (tr(X + A))⁻¹). ``options`` are the readings and ``names``
    say each in words for messages. ``readings.expand`` enumerates the readings of a whole expression; a
    claim holds if it holds in one reading and is false only if it fails in every one."""

    options: tuple[Expr, ...]
    names: tuple[str, ...]


@dataclass(frozen=True)
class Unsupported(Expr):
    """Something understood as notation but not checkable (yet): the reason says what."""

    reason: str


def walk(expr: Expr) -> list[Expr]:
    """Every node under ``expr``, itself included."""
    out: list[Expr] = []
    stack: list[Expr] = [expr]
    while stack:
        node = stack.pop()
        out.append(node)
        for value in node.__dict__.values():
            if isinstance(value, Expr):
                stack.append(value)
            elif isinstance(value, tuple):
                for item in value:
                    if isinstance(item, Expr):
                        stack.append(item)
                    elif isinstance(item, tuple):
                        stack.extend(cell for cell in item if isinstance(cell, Expr))
    return out
