"""The math AST: what one statement of LaTeX says, before any meaning is given to it.

Every node records ``start``/``end``, offsets into the text of the math span it came from. Offsets do not
take part in equality, so two parses of the same math in different places compare equal.

The AST is deliberately close to the notation: ``x_j`` is a ``Sub`` whether ``j`` turns out to be an index,
part of a name (``x_0``) or the size of a ones vector (``1_n``). The interpreter decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Node:
    start: int = field(default=0, compare=False, kw_only=True)
    end: int = field(default=0, compare=False, kw_only=True)


@dataclass(frozen=True)
class Name(Node):
    """A one-letter or named symbol: ``x``, ``\\mathbf{x}`` (font ``bf``), ``\\sigma`` (text ``sigma``)."""

    text: str
    font: str = ""


@dataclass(frozen=True)
class Number(Node):
    """A number; ``font`` is set for a bold or double-struck digit such as ``\\mathbf{1}`` (the ones vector)."""

    text: str
    font: str = ""


@dataclass(frozen=True)
class Empty(Node):
    """An empty group ``{}``."""


@dataclass(frozen=True)
class Delimited(Node):
    """A bracketed list: ``kind`` is one of ``()``, ``[]``, ``{}`` (for ``\\{ \\}``), ``||``, ``‖‖``, ``⟨⟩``.

    ``separator`` is ``,``, ``\\ `` (the row-vector habit ``[a \\ b \\ c]``) or ``\\mid`` (the conditional
    bar of ``p(x \\mid θ)``) when there are several items.
    """

    kind: str
    items: tuple[Node, ...]
    separator: str = ""


@dataclass(frozen=True)
class Sub(Node):
    base: Node
    index: Node


@dataclass(frozen=True)
class Sup(Node):
    base: Node
    exponent: Node


@dataclass(frozen=True)
class Transpose(Node):
    """``X^T``, ``X^\\top``, ``X'``, ``Xᵀ``; with ``inverse`` for ``X^{-T}``."""

    base: Node
    inverse: bool = False
    mark: str = field(default="^T", compare=False)


@dataclass(frozen=True)
class Juxt(Node):
    """Factors written side by side: ``W x``, ``\\partial W \\mathbf{x}``, ``d X``."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class BinOp(Node):
    """``op`` is one of ``+ - cdot times kron hadamard frob div``."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Neg(Node):
    operand: Node


@dataclass(frozen=True)
class Frac(Node):
    numerator: Node
    denominator: Node


@dataclass(frozen=True)
class Partial(Node):
    """The symbol ``\\partial`` alone; ``\\partial_X`` is ``Sub(Partial(), X)``."""


@dataclass(frozen=True)
class Nabla(Node):
    pass


@dataclass(frozen=True)
class Func(Node):
    """A named operator: ``tr``, ``det``, ``log``, ``exp``, ``vec``, ``diag``, ``softmax``…

    ``call`` is true when the argument was written in parentheses right after the name.
    """

    name: str
    arg: Node
    call: bool = False
    sub: Node | None = None
    power: Node | None = None


@dataclass(frozen=True)
class Sqrt(Node):
    arg: Node


@dataclass(frozen=True)
class BigOp(Node):
    """``\\sum``/``\\prod`` with optional limits; the body runs to the end of the product."""

    op: str
    lower: Node | None
    upper: Node | None
    body: Node


@dataclass(frozen=True)
class Matrix(Node):
    env: str
    rows: tuple[tuple[Node | None, ...], ...]


@dataclass(frozen=True)
class Dots(Node):
    kind: str = "cdots"


@dataclass(frozen=True)
class Evaluated(Node):
    """``\\left. f \\right|_{x=0}``: ``base`` evaluated at ``point`` (usually a relation ``x = 0``)."""

    base: Node
    point: Node


@dataclass(frozen=True)
class Text(Node):
    text: str


@dataclass(frozen=True)
class Chain(Node):
    """``a = b \\ne c``: ``parts`` and the ``ops`` between them.

    A statement that starts with a relation (``= W x``) has ``None`` as its first part: it continues the
    previous chain. ``ops`` holds ``=``, ``ne``, ``def``, ``<``, ``>``, ``le``, ``ge``, ``approx``, ``in``,
    ``to``.
    """

    parts: tuple[Node | None, ...]
    ops: tuple[str, ...]


def children(node: Node) -> list[Node]:
    """The direct sub-nodes of ``node``, in source order."""
    found: list[Node] = []
    for value in node.__dict__.values():
        if isinstance(value, Node):
            found.append(value)
        elif isinstance(value, tuple):
            for item in value:
                if isinstance(item, Node):
                    found.append(item)
                elif isinstance(item, tuple):
                    found.extend(cell for cell in item if isinstance(cell, Node))
    return found


def walk(node: Node) -> list[Node]:
    """All nodes under ``node`` (itself included), without recursion."""
    stack = [node]
    out: list[Node] = []
    while stack:
        current = stack.pop()
        out.append(current)
        stack.extend(reversed(children(current)))
    return out
