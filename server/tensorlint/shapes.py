"""Shapes with symbolic dimensions, inferred by unification.

A shape is a tuple of dimensions: ``()`` for a scalar, ``(n, 1)`` for a column vector, ``(1, n)`` for a row,
``(n, m)`` for a matrix. A dimension is a concrete ``int``, a symbol from the document (``"n"``), an
unknown (``"?3"``), or a product ``("*", a, b)`` (the length of ``vec X``). Unknowns are solved by
unification; symbols are rigid, so ``n`` never silently becomes ``m``.

``ShapeInference.infer`` returns ``None`` for what has no fixed matrix shape here (derivatives, whose shape
depends on the layout convention, and unsupported notation); ``None`` constrains nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count

from tensorlint import ir

Dim = int | str | tuple
Shape = tuple[Dim, ...]


class ShapeError(Exception):
    """An expression that cannot be well-shaped; the message says where and why."""

    def __init__(self, message: str, expr: ir.Expr | None = None) -> None:
        super().__init__(message)
        self.expr = expr


def show_dim(dim: Dim) -> str:
    if isinstance(dim, tuple):
        return "".join(show_dim(part) for part in dim[1:] if part != 1)
    return str(dim)


def show_shape(shape: Shape) -> str:
    if not shape:
        return "scalar"
    if len(shape) == 2 and shape[1] == 1:
        return f"{show_dim(shape[0])}-vector"
    if len(shape) == 2 and shape[0] == 1:
        return f"1×{show_dim(shape[1])} row vector"
    return "×".join(show_dim(dim) for dim in shape) + " " + ("matrix" if len(shape) == 2 else "tensor")


@dataclass
class Declared:
    """What the document says about a name: its shape and, for a function, its argument shapes."""

    shape: Shape
    arguments: tuple[Shape, ...] | None = None
    structure: str = ""
    # Soft declarations (a matrix written by its entries) give way to explicit index ranges in a claim.
    soft: bool = False


@dataclass
class Unifier:
    parent: dict[str, Dim] = field(default_factory=dict)
    counter: count = field(default_factory=lambda: count(1))
    # Lower bounds from concrete indices: dims[...] must be at least this large.
    bounds: list[tuple[Dim, int]] = field(default_factory=list)

    def fresh(self) -> str:
        return f"?{next(self.counter)}"

    def find(self, dim: Dim) -> Dim:
        if isinstance(dim, tuple):
            return self.product(dim)
        while isinstance(dim, str) and dim in self.parent:
            dim = self.parent[dim]
            if isinstance(dim, tuple):
                return self.find(dim)
        return dim

    def product(self, dim: tuple) -> Dim:
        """A product of dimensions in canonical form: flattened, numbers multiplied, factors sorted."""
        number = 1
        factors: list[Dim] = []
        stack = list(dim[1:])
        while stack:
            part = self.find(stack.pop())
            if isinstance(part, tuple):
                stack.extend(part[1:])
            elif isinstance(part, int):
                number *= part
            else:
                factors.append(part)
        if number != 1:
            factors.append(number)
        factors.sort(key=repr)
        if not factors:
            return 1
        if len(factors) == 1:
            return factors[0]
        return ("*", *factors)

    def unify(self, first: Dim, second: Dim) -> bool:
        first, second = self.find(first), self.find(second)
        if first == second:
            return True
        if isinstance(first, tuple) or isinstance(second, tuple):
            return self.unify_products(first, second)
        if isinstance(first, str) and first.startswith("?"):
            self.parent[first] = second
            return True
        if isinstance(second, str) and second.startswith("?"):
            self.parent[second] = first
            return True
        return False

    def unify_products(self, first: Dim, second: Dim) -> bool:
        """``m·?a = n·m`` binds ``?a = n``: cancel common factors, then bind a lone unknown."""
        left = list(first[1:]) if isinstance(first, tuple) else [first]
        right = list(second[1:]) if isinstance(second, tuple) else [second]
        for factor in list(left):
            if factor in right:
                left.remove(factor)
                right.remove(factor)
        for alone, other in ((left, right), (right, left)):
            if len(alone) == 1 and isinstance(alone[0], str) and alone[0].startswith("?"):
                self.parent[alone[0]] = self.product(("*", *other)) if other else 1
                return True
            # 3·?a = 9 binds ?a = 3 when the numbers divide.
            unknowns = [factor for factor in alone if isinstance(factor, str) and factor.startswith("?")]
            numbers = [factor for factor in alone if isinstance(factor, int)]
            divisible = len(unknowns) == 1 and len(numbers) + 1 == len(alone) and len(other) == 1
            if divisible and isinstance(other[0], int):
                divisor = 1
                for number in numbers:
                    divisor *= number
                if divisor and other[0] % divisor == 0:
                    self.parent[unknowns[0]] = other[0] // divisor
                    return True
        return not left and not right

    def resolve(self, shape: Shape) -> Shape:
        return tuple(self.find(dim) for dim in shape)


def default_shape(key: str, unifier: Unifier) -> Shape:
    """The shape a name has when nothing is known: bold or plain lowercase Latin is a column vector,
    uppercase a matrix, Greek and everything else a scalar."""
    base = key.split("@")[0].split("_")[0]
    if len(base) == 1 and base.isalpha() and base.isascii():
        if base.isupper():
            return (unifier.fresh(), unifier.fresh())
        return (unifier.fresh(), 1)
    return ()


class ShapeInference:
    """Infers shapes of IR expressions for one claim, sharing unknowns across both sides."""

    def __init__(
        self,
        declared: Callable[[str], Declared | None],
        definition: Callable[[str], ir.Expr | None],
        definition_labels: Callable[[str], tuple[str, ...]],
        function: Callable[[str], tuple[tuple[str, ...], ir.Expr] | None] = lambda key: None,
    ) -> None:
        self.function = function
        self.declared = declared
        self.definition = definition
        self.definition_labels = definition_labels
        # Shapes of constants sized by context (1_n, I, e_i), by id of the IR node.
        self.const_shapes: dict[int, Shape] = {}
        self.scope = ""
        self.unifier = Unifier()
        self.names: dict[str, Shape | None] = {}
        self.labels: dict[str, Dim] = {}
        self.in_progress: set[str] = set()
        # Soft declarations set aside for this claim.
        self.ignored: set[str] = set()

    # Helpers ------------------------------------------------------------------------------------------

    def label(self, name: str) -> Dim:
        name = self.scope + name
        if name not in self.labels:
            self.labels[name] = self.unifier.fresh()
        return self.labels[name]

    def unify(self, first: Dim, second: Dim, expr: ir.Expr, what: str) -> None:
        if not self.unifier.unify(first, second):
            a, b = show_dim(self.unifier.find(first)), show_dim(self.unifier.find(second))
            raise ShapeError(f"{what}: {a} does not match {b}", expr)

    def name_shape(self, key: str) -> Shape | None:
        if key in self.names:
            return self.names[key]
        declared = self.declared(key)
        shape: Shape | None = None
        if declared is not None and declared.arguments is None and key not in self.ignored:
            shape = declared.shape
            # Cache the declared shape first: the definition below may refer to the name itself.
            self.names[key] = shape
        definition = self.definition(key)
        if definition is not None and key not in self.in_progress:
            self.in_progress.add(key)
            saved_scope, self.scope = self.scope, f"{key}::"
            try:
                defined = self.infer(definition)
                labels = self.definition_labels(key)
                if labels and defined is not None:
                    ranges = tuple(self.label(label) for label in labels)
                    defined = (ranges[0], 1) if len(ranges) == 1 else ranges
            finally:
                self.in_progress.discard(key)
                self.scope = saved_scope
            if shape is not None and defined is not None:
                # A name both declared and defined: the definition must fit the declaration.
                self.same(shape, defined, definition, f"the definition of `{key}`")
            shape = shape if shape is not None else defined
        elif shape is None:
            shape = default_shape(key, self.unifier)
        self.names[key] = shape
        return shape

    def indexed_guess(self, key: str, count: int) -> Shape | None:
        """``\\beta_i``, ``c_{11}``: a name guessed to be a scalar but written with indices is a vector (one
        index) or a matrix (two). Only a guess is changed, never a declared or defined shape."""
        if self.declared(key) is not None or self.definition(key) is not None:
            return None
        shape: Shape = (self.unifier.fresh(), 1) if count == 1 else (self.unifier.fresh(), self.unifier.fresh())
        self.names[key] = shape
        return shape

    def index_bound(self, dim: Dim, position: int) -> None:
        self.unifier.bounds.append((dim, position))

    def apply_indices(self, shape: Shape, refs: tuple[ir.IndexRef, ...], expr: ir.Expr) -> Shape | None:
        axes: list[Dim]
        if len(shape) == 2 and shape[1] == 1 and len(refs) == 1:
            axes = [shape[0]]
        elif len(shape) == 2 and shape[0] == 1 and len(refs) == 1:
            axes = [shape[1]]
        elif len(shape) == len(refs):
            axes = list(shape)
        else:
            return None
        kept: list[Dim] = []
        for ref, axis in zip(refs, axes, strict=True):
            if ref == ":":
                kept.append(axis)
            elif isinstance(ref, str):
                self.unify(self.label(ref), axis, expr, f"index {ref}")
            elif isinstance(ref, int):
                self.index_bound(axis, ref)
            elif isinstance(ref, tuple):
                self.unify(ref[1], axis, expr, f"index {ref[1]}")
        if not kept:
            return ()
        if len(kept) == 1:
            return (1, kept[0]) if refs[-1] == ":" and len(refs) == 2 else (kept[0], 1)
        return tuple(kept)

    # The rules ------------------------------------------------------------------------------------------

    def product(self, left: Shape | None, right: Shape | None, expr: ir.Expr, dot: bool) -> Shape | None:
        if left is None or right is None:
            return None
        if left == ():
            return right
        if right == ():
            return left
        if len(left) != 2 or len(right) != 2:
            return None
        find = self.unifier.find
        # A 1×1 result such as (a^T x) scales what it multiplies; it never forces a size of 1 on it.
        if find(left[0]) == 1 and find(left[1]) == 1:
            return right
        if find(right[0]) == 1 and find(right[1]) == 1:
            return left
        if dot and find(left[1]) == 1 and find(right[1]) == 1:
            self.unify(left[0], right[0], expr, "dot product")
            return ()
        if self.unifier.unify(left[1], right[0]):
            return (left[0], right[1])
        if find(left[0]) == 1 and find(left[1]) == 1:
            return right
        if find(right[0]) == 1 and find(right[1]) == 1:
            return left
        raise ShapeError(
            f"cannot multiply a {show_shape(self.unifier.resolve(left))} by a "
            f"{show_shape(self.unifier.resolve(right))}",
            expr,
        )

    def square(self, shape: Shape | None, expr: ir.Expr, what: str) -> None:
        if shape is not None and len(shape) == 2:
            self.unify(shape[0], shape[1], expr, f"{what} needs a square matrix")

    def infer(self, expr: ir.Expr) -> Shape | None:
        if isinstance(expr, ir.Var):
            return self.name_shape(expr.key)
        if isinstance(expr, ir.Const):
            # A written 0 is the zero of whatever shape the context needs.
            return None if expr.value == 0 else ()
        shape: Shape | None
        if isinstance(expr, ir.Ones):
            dim = expr.dim if expr.dim is not None else self.unifier.fresh()
            shape = (dim, self.unifier.fresh()) if expr.square else (dim, 1)
            self.const_shapes[id(expr)] = shape
            return shape
        if isinstance(expr, ir.Identity):
            dim = expr.dim if expr.dim is not None else self.unifier.fresh()
            self.const_shapes[id(expr)] = (dim, dim)
            return (dim, dim)
        if isinstance(expr, ir.Basis):
            dim = self.unifier.fresh()
            if isinstance(expr.index, str) and expr.index != ":":
                self.unify(self.label(expr.index), dim, expr, "basis vector")
            elif isinstance(expr.index, int):
                self.index_bound(dim, expr.index)
            self.const_shapes[id(expr)] = (dim, 1)
            return (dim, 1)
        if isinstance(expr, ir.Delta):
            first, second = expr.first, expr.second
            if isinstance(first, str) and isinstance(second, str):
                self.unify(self.label(first), self.label(second), expr, "Kronecker delta")
            return ()
        if isinstance(expr, ir.Index):
            base = self.infer(expr.base)
            if base is None:
                return None
            if base == () and isinstance(expr.base, ir.Var) and 0 < len(expr.indices) <= 2:
                base = self.indexed_guess(expr.base.key, len(expr.indices)) or base
            return self.apply_indices(base, expr.indices, expr)
        if isinstance(expr, ir.Prod):
            shape = self.infer(expr.factors[0])
            for factor in expr.factors[1:]:
                shape = self.product(shape, self.infer(factor), expr, expr.dot)
            return shape
        if isinstance(expr, ir.Add):
            shapes = [self.infer(term) for term in expr.terms]
            known = [
                shape
                for shape, term in zip(shapes, expr.terms, strict=True)
                if shape is not None and not (isinstance(term, ir.Const) and term.value == 0)
            ]
            for shape in known[1:]:
                self.same(known[0], shape, expr, "adding")
            return known[0] if known else (None if None in shapes else ())
        if isinstance(expr, ir.Unary):
            return self.unary(expr)
        if isinstance(expr, ir.Power):
            shape = self.infer(expr.base)
            if isinstance(expr.exponent, str) and shape is not None and shape != ():
                self.same(shape, (), expr, "a power with a symbolic exponent of")
            if isinstance(expr.exponent, ir.Expr):
                # A symbolic integer exponent (x^{n-1}, X^k): a number, on a scalar or a square matrix.
                exponent = self.infer(expr.exponent)
                if exponent is not None:
                    self.same(exponent, (), expr, "an exponent")
            self.square(shape, expr, "a matrix power")
            return shape
        if isinstance(expr, ir.Binary):
            return self.binary(expr)
        if isinstance(expr, ir.Norm):
            self.infer(expr.operand)
            return ()
        if isinstance(expr, ir.Call):
            return self.call(expr)
        if isinstance(expr, ir.Deriv):
            self.infer(expr.numerator)
            wrt = self.name_shape(expr.wrt.key)
            if wrt is not None and expr.wrt.vec and len(wrt) == 2:
                wrt = (("*", wrt[0], wrt[1]), 1)
            if wrt is not None and expr.wrt.indices is not None:
                self.apply_indices(wrt, expr.wrt.indices, expr)
            return None
        if isinstance(expr, ir.Differential):
            return self.infer(expr.operand)
        if isinstance(expr, ir.Sum):
            for label in expr.labels:
                if expr.upper is not None:
                    self.unify(self.label(label), expr.upper, expr, f"range of {label}")
            return self.infer(expr.body)
        if isinstance(expr, ir.RandomFunction):
            for argument in expr.args:
                self.infer(argument)
            return tuple(expr.shape)
        if isinstance(expr, ir.Pattern):
            for label, size in zip(expr.labels, expr.sizes, strict=True):
                self.unify(self.label(label), size, expr, f"the range of the entries of a pattern ({size})")
            body = self.infer(expr.body)
            if body is not None and body != ():
                self.same(body, (), expr, "an entry of a matrix pattern:")
            if expr.orientation == "column":
                return (expr.sizes[0], 1)
            if expr.orientation == "row":
                return (1, expr.sizes[0])
            return tuple(expr.sizes)
        if isinstance(expr, ir.MatrixLit):
            shapes = [self.infer(cell) for row in expr.rows for cell in row]
            if all(shape == () for shape in shapes):
                return (len(expr.rows), len(expr.rows[0]))
            return None
        return None

    def same(self, first: Shape, second: Shape, expr: ir.Expr, what: str) -> None:
        if first == () or second == ():
            other = first or second
            # A 1×1 result (u^T v) is a scalar; an unknown 2-D shape may turn out to be 1×1.
            if other and not (len(other) == 2 and all(self.unifier.unify(dim, 1) for dim in other)):
                raise ShapeError(
                    f"{what} a {show_shape(self.unifier.resolve(first))} and a "
                    f"{show_shape(self.unifier.resolve(second))}",
                    expr,
                )
            return
        if len(first) != len(second) or not all(self.unifier.unify(a, b) for a, b in zip(first, second, strict=True)):
            raise ShapeError(
                f"{what} a {show_shape(self.unifier.resolve(first))} and a {show_shape(self.unifier.resolve(second))}",
                expr,
            )

    def unary(self, expr: ir.Unary) -> Shape | None:
        shape = self.infer(expr.operand)
        op = expr.op
        if shape is None:
            return None
        if op == "transpose":
            return (shape[1], shape[0]) if len(shape) == 2 else shape
        if op == "inverse":
            self.square(shape, expr, "an inverse")
            return shape
        if op in ("tr", "det", "logdet"):
            self.square(shape, expr, f"`{op}`")
            return ()
        if op == "abs":
            if len(shape) == 2 and self.unifier.find(shape[0]) != 1:
                self.square(shape, expr, "a determinant |X|")
            return ()
        if op == "pinv":
            return (shape[1], shape[0]) if len(shape) == 2 else shape
        if op == "vec":
            if len(shape) == 2:
                return (("*", shape[0], shape[1]), 1)
            return shape
        if op == "diagm":
            # diag of a vector is a diagonal matrix; of a square matrix, its diagonal part (in a sum).
            if len(shape) == 2 and self.unifier.find(shape[1]) == 1:
                return (shape[0], shape[0])
            self.square(shape, expr, "`diag`")
            return shape
        if op == "diag":
            if len(shape) == 2 and self.unifier.find(shape[1]) == 1:
                return (shape[0], shape[0])
            self.square(shape, expr, "`diag`")
            return (shape[0], 1) if shape else shape
        return shape

    def binary(self, expr: ir.Binary) -> Shape | None:
        left, right = self.infer(expr.left), self.infer(expr.right)
        if left is None or right is None:
            return None
        if expr.op == "kron":
            if left == ():
                return right
            if right == ():
                return left
            return (("*", left[0], right[0]), ("*", left[1], right[1]))
        if expr.op == "hadamard":
            self.same(left, right, expr, "a Hadamard product of")
            return left
        if expr.op == "frob":
            # A fourth-order tensor contracts with a matrix on its last (T:M) or first (M:T) two indices.
            if len(left) == 4 and len(right) == 2:
                self.same(left[2:], right, expr, "a Frobenius product of")
                return left[:2]
            if len(left) == 2 and len(right) == 4:
                self.same(left, right[:2], expr, "a Frobenius product of")
                return right[2:]
            self.same(left, right, expr, "a Frobenius product of")
            return ()
        if expr.op == "div":
            if right != () and not (
                len(right) == 2 and self.unifier.find(right[0]) == 1 and self.unifier.find(right[1]) == 1
            ):
                raise ShapeError("dividing by something that is not a scalar", expr)
            return left
        return None

    def call(self, expr: ir.Call) -> Shape | None:
        declared = self.declared(expr.key)
        arguments = [self.infer(argument) for argument in expr.args]
        if declared is not None and declared.arguments is not None:
            for argument, domain in zip(arguments, declared.arguments, strict=False):
                if argument is not None and domain:
                    self.same(argument, domain, expr, f"the argument of `{expr.key}`")
        result: Shape | None = declared.shape if declared is not None and declared.arguments else None
        found = self.function(expr.key)
        if found is not None and expr.key not in self.in_progress:
            parameters, body = found
            saved = {parameter: self.names.get(parameter) for parameter in parameters}
            self.in_progress.add(expr.key)
            try:
                for parameter, argument in zip(parameters, arguments, strict=False):
                    self.names[parameter] = argument
                shape = self.infer(body)
            finally:
                self.in_progress.discard(expr.key)
                for parameter, previous in saved.items():
                    if previous is None:
                        self.names.pop(parameter, None)
                    else:
                        self.names[parameter] = previous
            if result is not None and shape is not None:
                self.same(result, shape, expr, f"the value of `{expr.key}`")
            result = result or shape
        return result
