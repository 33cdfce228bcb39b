"""Symbolic derivatives on the IR by matrix differentials, each result verified numerically before it is shown.

The derivative of ``F`` by ``X`` is found the way the Matrix Cookbook finds it by hand:

1. **Differential.** ``dF`` is built by the product rule and the rules for each operation
   (``d(A^{-1}) = -A^{-1} dA A^{-1}``, ``d\\log\\det A = \\operatorname{tr}(A^{-1} dA)``, ``d f(A) = f'(A) ⊙ dA``
   for elementwise ``f``, ``d\\|x\\|^2 = 2x^T dx``, ...). Definitions in the note are substituted first, except
   for ``X`` itself, so ``∂z/∂y`` treats an intermediate ``y`` as independent, as the chain rule does.
2. **Closed form.** ``dF`` is linear in ``dX``. For a scalar ``F`` it is brought to ``tr(G^T dX)`` by the trace
   tricks (cyclic permutation, transposition, ``tr(A^T(B ⊙ C)) = tr((A ⊙ B)^T C)``), done as one backward sweep
   over ``dF``; then ``∂F/∂X = G`` in denominator layout and ``G^T`` in numerator layout. For a vector or a
   matrix ``F`` the sweep runs forward and yields ``d vec F = K d vec X`` with ``vec(A dX B) = (B^T ⊗ A) vec dX``:
   ``K`` is the Jacobian of a vector by a vector, and the Kronecker form of a third- or fourth-order
   derivative when no commutation matrix is needed (``dX^T`` of a matrix would need one).
3. **Index form**, always: ``dX`` is replaced by the basis matrix ``e_k e_l^T``, the entry ``(i, j)`` of ``dF``
   is expanded into sums of products of entries and Kronecker deltas, and the deltas are contracted
   (``∂(Wx)_i/∂W_{kl} = δ_{ik} x_l``).

Nothing is shown unverified: every closed form and index form is printed as LaTeX, parsed back, and checked
against the numeric derivative of ``F`` exactly like a claim in a note (``verify.verify``, several random
instances, in the layout asked for). A form that fails, or cannot be checked, is dropped with the reason.

SymPy is not used here: this module is on the ``check`` path (for the expected result of a false claim).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from tensorlint import ir
from tensorlint.latex import Style, is_broadcast_constant, to_latex, to_text
from tensorlint.shapes import Declared, Dim, Shape, ShapeError, ShapeInference, show_dim

if TYPE_CHECKING:
    from tensorlint.env import Environment
    from tensorlint.model import Config
    from tensorlint.verify import Outcome

ELEMENTWISE = {"exp", "log", "sqrt", "sigmoid", "tanh", "sin", "cos", "sinh", "cosh"}
LINEAR_UNARY = {"neg", "transpose", "tr", "vec", "diag", "diagm"}
ORDER_NAMES = {0: "scalar", 1: "first", 2: "second", 3: "third", 4: "fourth"}
FREE_LABELS = ("i", "j", "k", "l", "a", "b", "c", "u", "v", "w")
SUM_LABELS = ("p", "q", "r", "s", "t", "g", "h", "o")
DIMENSION_NAMES = ("n", "m", "p", "q", "r", "s", "t", "d", "k", "l")


class DeriveError(Exception):
    """The derivative could not be brought to the form asked for; the message says why."""


def one_like() -> ir.Expr:
    """The constant 1 of whatever shape a sum needs (how the lowering writes ``1 - σ(z)``)."""
    return ir.Prod((ir.Const(1.0), ir.Ones(None, square=True)))


def transpose(expr: ir.Expr) -> ir.Expr:
    return ir.Unary("transpose", expr)


def inverse(expr: ir.Expr) -> ir.Expr:
    return ir.Unary("inverse", expr)


def negate(expr: ir.Expr) -> ir.Expr:
    return ir.Unary("neg", expr)


def product(*factors: ir.Expr | None) -> ir.Expr:
    present = tuple(factor for factor in factors if factor is not None)
    if not present:
        return ir.Const(1.0)
    return present[0] if len(present) == 1 else ir.Prod(present)


def total(terms: list[tuple[int, ir.Expr | None]]) -> ir.Expr | None:
    """A sum of signed terms, ``None`` standing for zero."""
    present = [(sign, term) for sign, term in terms if term is not None]
    if not present:
        return None
    if len(present) == 1 and present[0][0] > 0:
        return present[0][1]
    return ir.Add(tuple(term for _, term in present), tuple(sign for sign, _ in present))


def map_children(expr: ir.Expr, function: Callable[[ir.Expr], ir.Expr]) -> ir.Expr:
    """``expr`` with ``function`` applied to each direct sub-expression (a new node only if one changed)."""
    changes: dict[str, Any] = {}
    for item in fields(expr):
        if item.name in ("start", "end"):
            continue
        value = getattr(expr, item.name)
        if isinstance(value, ir.Expr):
            new = function(value)
            if new is not value:
                changes[item.name] = new
        elif isinstance(value, tuple) and value and all(isinstance(part, ir.Expr) for part in value):
            parts = tuple(function(part) for part in value)
            if any(new is not old for new, old in zip(parts, value, strict=True)):
                changes[item.name] = parts
        elif isinstance(value, tuple) and value and all(isinstance(part, tuple) for part in value):
            rows = tuple(tuple(function(cell) if isinstance(cell, ir.Expr) else cell for cell in row) for row in value)
            if rows != value:
                changes[item.name] = rows
    return replace(expr, **changes) if changes else expr


def substitute(expr: ir.Expr, mapping: dict[str, ir.Expr]) -> ir.Expr:
    if isinstance(expr, ir.Var) and expr.key in mapping:
        return mapping[expr.key]
    return map_children(expr, lambda child: substitute(child, mapping))


def contains_differential(expr: ir.Expr) -> bool:
    return any(isinstance(node, ir.Differential) for node in ir.walk(expr))


# Results ------------------------------------------------------------------------------------------------


@dataclass
class Form:
    """One way of writing the derivative: LaTeX (in the document's style), plain text, and the check."""

    latex: str
    text: str
    expr: ir.Expr
    verified: bool = False
    # How it was verified, or why it is not shown.
    detail: str = ""


@dataclass
class Derivative:
    """The derivative of ``numerator`` by ``wrt``: its shape and every verified way of writing it."""

    numerator: ir.Expr
    wrt: str
    order: int
    # "scalar", "n-vector", "n×m matrix", "third-order tensor n×n×m".
    shape: str
    # gradient, jacobian, derivative by a scalar, vec-jacobian (Kronecker form), scalar.
    kind: str
    layout: str
    # The closed form in ``layout``, when one was found and verified.
    closed_form: Form | None = None
    # ``∂F_i/∂X_{kl} = …`` with the left side in ``index_left``.
    index_form: Form | None = None
    index_left: str = ""
    index_left_text: str = ""
    differential: str = ""
    differential_text: str = ""
    # Why a form is missing (a closed form that needs a commutation matrix, a check that failed).
    notes: list[str] = field(default_factory=list)
    # The index form as terms, and the labels of the result's axes in ``layout`` with the orientation of a
    # vector result ("column" or "row"): what an explicit matrix of the result is written from.
    index_terms: list[Term] = field(default_factory=list)
    axes: tuple[Slot, ...] = ()
    orientation: str = "matrix"


# The derivation ------------------------------------------------------------------------------------------


class Deriver:
    """Differentiates IR expressions by one variable in a document's environment."""

    def __init__(self, env: Environment, config: Config, wrt: str) -> None:
        self.env, self.config, self.wrt = env, config, wrt
        self.shapes = ShapeInference(self.declared, self.definition, self.definition_labels, self.function)
        self.symmetric = {key for key, structure in env.structures.items() if "symmetric" in structure}
        self.used_labels: set[str] = set()
        self.label_counter = 0

    # Environment lookups, as the checker does them ------------------------------------------------------

    def declared(self, key: str) -> Declared | None:
        return self.env.declared.get(key)

    def definition(self, key: str) -> ir.Expr | None:
        return self.env.definition(key)

    def definition_labels(self, key: str) -> tuple[str, ...]:
        return self.env.definition_labels(key)

    def function(self, key: str) -> tuple[tuple[str, ...], ir.Expr] | None:
        return self.env.function(key)

    # Shapes ---------------------------------------------------------------------------------------------

    def shape(self, expr: ir.Expr) -> Shape:
        try:
            shape = self.shapes.infer(expr)
        except ShapeError as error:
            raise DeriveError(f"the expression is not well-shaped: {error}") from error
        if shape is None:
            if isinstance(expr, ir.Const):
                return ()
            raise DeriveError("a part of the expression has no known shape")
        return self.shapes.unifier.resolve(shape)

    def find(self, dim: Dim) -> Dim:
        return self.shapes.unifier.find(dim)

    def is_one(self, dim: Dim) -> bool:
        return self.find(dim) == 1

    def is_scalar(self, expr: ir.Expr) -> bool:
        if is_broadcast_constant(expr) is not None or isinstance(expr, ir.Const):
            return True
        shape = self.shape(expr)
        return shape == () or (len(shape) == 2 and self.is_one(shape[0]) and self.is_one(shape[1]))

    def is_vector(self, expr: ir.Expr) -> bool:
        shape = self.shape(expr)
        return len(shape) == 2 and (self.is_one(shape[0]) != self.is_one(shape[1]))

    def is_column(self, expr: ir.Expr) -> bool:
        shape = self.shape(expr)
        return len(shape) == 2 and self.is_one(shape[1]) and not self.is_one(shape[0])

    def natural(self, shape: Shape) -> tuple[Dim, ...]:
        if len(shape) == 2:
            return tuple(dim for dim in shape if not self.is_one(dim))
        return tuple(shape)

    def identity(self, dim: Dim, sized: bool = False) -> ir.Expr:
        found = self.find(dim)
        if isinstance(found, int | str) and not (isinstance(found, str) and found.startswith("?")):
            return ir.Identity(found)
        if sized:
            raise DeriveError("a Kronecker form needs an identity whose size has no name here")
        return ir.Identity(None)

    # Definitions ----------------------------------------------------------------------------------------

    def expand(self, expr: ir.Expr, depth: int = 0) -> ir.Expr:
        """``expr`` with the note's definitions substituted (all but the variable differentiated by)."""
        if depth > 40:
            raise DeriveError("definitions nested too deeply")
        if isinstance(expr, ir.Var):
            definition = self.definition(expr.key)
            if expr.key != self.wrt and definition is not None and not self.definition_labels(expr.key):
                return self.expand(definition, depth + 1)
            return expr
        if isinstance(expr, ir.Call):
            found = self.function(expr.key)
            if found is None:
                raise DeriveError(f"`{expr.key}` is a function the note does not define")
            parameters, body = found
            if len(parameters) != len(expr.args):
                raise DeriveError(f"`{expr.key}` is called with {len(expr.args)} arguments")
            arguments = [self.expand(argument, depth + 1) for argument in expr.args]
            return self.expand(substitute(body, dict(zip(parameters, arguments, strict=True))), depth + 1)
        if isinstance(expr, ir.Pattern):
            body = expr.body
            if (
                isinstance(body, ir.Index)
                and isinstance(body.base, ir.Var)
                and body.indices == expr.labels
                and expr.orientation in ("matrix", "column")
            ):
                return self.expand(body.base, depth + 1)
        if isinstance(expr, ir.Unsupported):
            raise DeriveError(expr.reason)
        return map_children(expr, lambda child: self.expand(child, depth + 1))

    def depends(self, expr: ir.Expr) -> bool:
        return any(isinstance(node, ir.Var) and node.key == self.wrt for node in ir.walk(expr))

    # Differentials --------------------------------------------------------------------------------------

    def differential(self, expr: ir.Expr) -> ir.Expr | None:
        """``dF``, linear in ``dX``; ``None`` for zero. ``expr`` has its definitions expanded."""
        if not self.depends(expr):
            return None
        d = self.differential
        if isinstance(expr, ir.Var):
            return ir.Differential(ir.Var(self.wrt))
        if isinstance(expr, ir.Prod):
            terms: list[tuple[int, ir.Expr | None]] = []
            for position, factor in enumerate(expr.factors):
                changed = d(factor)
                if changed is not None:
                    factors = (*expr.factors[:position], changed, *expr.factors[position + 1 :])
                    terms.append((1, ir.Prod(factors, expr.dot)))
            return total(terms)
        if isinstance(expr, ir.Add):
            return total([(sign, d(term)) for term, sign in zip(expr.terms, expr.signs, strict=True)])
        if isinstance(expr, ir.Unary):
            return self.unary_differential(expr)
        if isinstance(expr, ir.Power):
            return self.power_differential(expr)
        if isinstance(expr, ir.Norm):
            operand = expr.operand
            changed = d(operand)
            if changed is None:
                return None
            if self.is_vector(operand) or self.is_scalar(operand):
                inner = product(transpose(operand) if self.is_column(operand) else operand, changed)
                if not self.is_column(operand) and not self.is_scalar(operand):
                    inner = product(changed, transpose(operand))
                return ir.Binary("div", inner, expr)
            if expr.kind == "F":
                return ir.Binary("div", ir.Unary("tr", product(transpose(operand), changed)), expr)
            raise DeriveError(f"the {expr.kind}-norm of a matrix is not differentiated here")
        if isinstance(expr, ir.Binary):
            left, right = d(expr.left), d(expr.right)
            if expr.op in ("kron", "hadamard", "frob"):
                return total(
                    [
                        (1, ir.Binary(expr.op, left, expr.right) if left is not None else None),
                        (1, ir.Binary(expr.op, expr.left, right) if right is not None else None),
                    ]
                )
            if expr.op == "div":
                first = ir.Binary("div", left, expr.right) if left is not None else None
                second = None
                if right is not None:
                    second = ir.Binary("div", product(expr.left, right), ir.Power(expr.right, 2.0))
                return total([(1, first), (-1, second)])
            raise DeriveError(f"the operation `{expr.op}`")
        if isinstance(expr, ir.Index):
            changed = d(expr.base)
            return None if changed is None else ir.Index(changed, expr.indices)
        if isinstance(expr, ir.Sum):
            changed = d(expr.body)
            return None if changed is None else ir.Sum(expr.labels, expr.upper, expr.lower, changed, expr.product)
        if isinstance(expr, ir.Deriv | ir.Differential):
            raise DeriveError("a derivative inside the expression")
        raise DeriveError(f"{type(expr).__name__} is not differentiated here")

    def unary_differential(self, expr: ir.Unary) -> ir.Expr | None:
        op, operand = expr.op, expr.operand
        if op == "log" and isinstance(operand, ir.Unary) and operand.op == "softmax":
            # d log softmax(z) = (I - 1 softmax(z)^T) dz: the form that makes cross-entropy simplify.
            changed = self.differential(operand.operand)
            if changed is None:
                return None
            jacobian = ir.Add((ir.Identity(None), product(ir.Ones(None), transpose(operand))), (1, -1))
            return product(jacobian, changed)
        changed = self.differential(operand)
        if changed is None:
            return None
        scalar = self.is_scalar(operand)
        if op in ("neg", "transpose", "tr", "vec", "diag", "diagm"):
            return ir.Unary(op, changed)
        if op == "inverse":
            if scalar:
                return negate(ir.Binary("div", changed, ir.Power(operand, 2.0)))
            return negate(product(inverse(operand), changed, inverse(operand)))
        if op in ("det", "abs") and not scalar:
            return product(ir.Unary(op, operand), ir.Unary("tr", product(inverse(operand), changed)))
        if op == "det":
            return changed
        if op == "abs":
            return product(ir.Binary("div", operand, expr), changed)
        if op == "logdet":
            return ir.Unary("tr", product(inverse(operand), changed))
        if op == "softmax":
            value = ir.Unary("softmax", operand)
            jacobian = ir.Add((ir.Unary("diagm", value), product(value, transpose(value))), (1, -1))
            return product(jacobian, changed)
        if op in ELEMENTWISE:
            return self.elementwise(op, operand, changed, scalar)
        raise DeriveError(f"`{op}` is not differentiated here")

    def elementwise(self, op: str, operand: ir.Expr, changed: ir.Expr, scalar: bool) -> ir.Expr:
        """``d f(A) = f'(A) ⊙ dA``; for a scalar, a product; where ``f'`` needs ``1/A``, ``diag(a)^{-1}``."""
        value = ir.Unary(op, operand)
        if op in ("log", "sqrt"):
            base = operand if op == "log" else value
            factor = 1.0 if op == "log" else 0.5
            if scalar:
                return product(ir.Const(factor) if factor != 1 else None, ir.Binary("div", changed, base))
            if not self.is_column(operand):
                raise DeriveError(f"`{op}` of a matrix, elementwise, is not differentiated here")
            return product(ir.Const(factor) if factor != 1 else None, inverse(ir.Unary("diagm", base)), changed)
        one = ir.Const(1.0) if scalar else one_like()
        derivative: ir.Expr
        if op == "exp":
            derivative = value
        elif op == "sigmoid":
            complement = ir.Add((one, value), (1, -1))
            derivative = product(value, complement) if scalar else ir.Binary("hadamard", value, complement)
        elif op == "tanh":
            square = ir.Power(value, 2.0) if scalar else ir.Binary("hadamard", value, value)
            derivative = ir.Add((one, square), (1, -1))
        elif op in ("sin", "cos", "sinh", "cosh"):
            partner = {"sin": "cos", "cos": "sin", "sinh": "cosh", "cosh": "sinh"}[op]
            derivative = ir.Unary(partner, operand)
            if op == "cos":
                derivative = negate(derivative)
        else:
            raise DeriveError(f"`{op}` is not differentiated here")
        if scalar:
            return product(derivative, changed)
        return ir.Binary("hadamard", derivative, changed)

    def power_differential(self, expr: ir.Power) -> ir.Expr | None:
        base, exponent = expr.base, expr.exponent
        if isinstance(exponent, str | ir.Expr):
            raise DeriveError("a power with a symbolic exponent")
        if isinstance(base, ir.Norm) and exponent == 2.0:
            operand = base.operand
            changed = self.differential(operand)
            if changed is None:
                return None
            if self.is_vector(operand):
                if self.is_column(operand):
                    return product(ir.Const(2.0), transpose(operand), changed)
                return product(ir.Const(2.0), changed, transpose(operand))
            if self.is_scalar(operand):
                return product(ir.Const(2.0), operand, changed)
            if base.kind == "F":
                return product(ir.Const(2.0), ir.Unary("tr", product(transpose(operand), changed)))
            raise DeriveError(f"the {base.kind}-norm of a matrix is not differentiated here")
        changed = self.differential(base)
        if changed is None:
            return None
        if self.is_scalar(base):
            if exponent == 2.0:
                return product(ir.Const(2.0), base, changed)
            lowered = ir.Power(base, exponent - 1) if exponent != 2.0 else base
            return product(ir.Const(exponent), lowered, changed)
        if not float(exponent).is_integer():
            raise DeriveError("a non-integer power of a matrix")
        power = int(exponent)
        if power < 0:
            return self.differential(ir.Power(inverse(base), float(-power)))
        terms: list[tuple[int, ir.Expr | None]] = []
        for before in range(power):
            after = power - 1 - before
            left = None if before == 0 else (base if before == 1 else ir.Power(base, float(before)))
            right = None if after == 0 else (base if after == 1 else ir.Power(base, float(after)))
            terms.append((1, product(left, changed, right)))
        return total(terms)

    # Simplification -------------------------------------------------------------------------------------

    def segments(self, factors: list[ir.Expr]) -> tuple[list[ir.Expr], list[ir.Expr]]:
        """Split a product into scalar factors (single factors or runs whose product is 1×1, which scale
        whatever they multiply) and the matrix chain. When everything is scalar, the last run is the chain."""
        scalars: list[ir.Expr] = []
        groups: list[bool] = []
        chain: list[ir.Expr] = []
        for factor in factors:
            if self.is_scalar(factor):
                scalars.append(factor)
                groups.append(False)
                continue
            chain.append(factor)
            if len(chain) > 1 and self.is_scalar(ir.Prod(tuple(chain))):
                scalars.append(ir.Prod(tuple(chain)))
                groups.append(True)
                chain = []
        if not chain and scalars and groups[-1]:
            last = scalars.pop()
            assert isinstance(last, ir.Prod)
            chain = list(last.factors)
        return scalars, chain

    def simplify(self, expr: ir.Expr | None) -> ir.Expr | None:
        if expr is None:
            return None
        if is_broadcast_constant(expr) is not None:
            return None if is_broadcast_constant(expr) == 0 else expr
        if isinstance(expr, ir.Prod):
            return self.simplify_product(expr)
        if isinstance(expr, ir.Add):
            return self.simplify_sum(expr)
        if isinstance(expr, ir.Unary):
            return self.simplify_unary(expr)
        if isinstance(expr, ir.Binary):
            return self.simplify_binary(expr)
        if isinstance(expr, ir.Power):
            base = self.simplify(expr.base)
            if base is None:
                return None
            if expr.exponent == 1.0:
                return base
            if expr.exponent == 0.0:
                return ir.Const(1.0)
            if isinstance(base, ir.Const) and isinstance(expr.exponent, float):
                return ir.Const(base.value**expr.exponent)
            return ir.Power(base, expr.exponent)
        if isinstance(expr, ir.Index):
            base = self.simplify(expr.base)
            return None if base is None else ir.Index(base, expr.indices)
        if isinstance(expr, ir.Const) and expr.value == 0:
            return None
        if isinstance(expr, ir.Sum):
            body = self.simplify(expr.body)
            return None if body is None else replace(expr, body=body)
        if isinstance(expr, ir.Norm | ir.Differential):
            return map_children(expr, lambda child: self.simplify(child) or ir.Const(0.0))
        return expr

    def split(self, expr: ir.Expr) -> tuple[float, ir.Expr]:
        """A term as (coefficient, the rest); the rest of a number is ``Const(1)``."""
        if isinstance(expr, ir.Unary) and expr.op == "neg":
            coefficient, rest = self.split(expr.operand)
            return -coefficient, rest
        if isinstance(expr, ir.Const):
            return expr.value, ir.Const(1.0)
        constant = is_broadcast_constant(expr)
        if constant is not None:
            return constant, one_like()
        if isinstance(expr, ir.Prod) and isinstance(expr.factors[0], ir.Const) and not expr.dot:
            others = expr.factors[1:]
            return expr.factors[0].value, others[0] if len(others) == 1 else ir.Prod(others)
        return 1.0, expr

    def scaled(self, coefficient: float, rest: ir.Expr) -> ir.Expr:
        if rest == ir.Const(1.0):
            return ir.Const(coefficient)
        if is_broadcast_constant(rest) is not None:
            return ir.Prod((ir.Const(coefficient), ir.Ones(None, square=True)))
        if coefficient == 1.0:
            return rest
        if coefficient == -1.0:
            return negate(rest)
        if isinstance(rest, ir.Prod) and not rest.dot:
            return ir.Prod((ir.Const(coefficient), *rest.factors))
        return ir.Prod((ir.Const(coefficient), rest))

    def simplify_product(self, expr: ir.Prod) -> ir.Expr | None:
        coefficient = 1.0
        flat: list[ir.Expr] = []
        factors = list(expr.factors)
        if expr.dot and len(factors) == 2 and all(self.is_vector(factor) for factor in factors):
            first, second = factors
            factors = [transpose(first) if self.is_column(first) else first, second]
            if not self.is_column(second):
                factors[1] = transpose(second)
        denominators: list[ir.Expr] = []
        for factor in factors:
            simplified = self.simplify(factor)
            if simplified is None:
                return None
            value, rest = self.split(simplified)
            coefficient *= value
            if isinstance(rest, ir.Binary) and rest.op == "div" and self.is_scalar(rest.right):
                # A / s in a product: A joins the product, s the denominator (where it may cancel).
                denominators.append(rest.right)
                value, rest = self.split(rest.left)
                coefficient *= value
            if rest == ir.Const(1.0):
                continue
            spliced = isinstance(rest, ir.Prod) and not rest.dot
            if isinstance(rest, ir.Prod) and spliced and self.is_scalar(rest):
                # A 1×1 run such as (a^T x) stays one factor: spliced into a chain it would multiply wrongly.
                spliced = all(self.is_scalar(part) for part in rest.factors)
            if isinstance(rest, ir.Prod) and spliced:
                flat.extend(rest.factors)
            else:
                flat.append(rest)
        if coefficient == 0:
            return None
        scalars, chain = self.segments(flat)
        # Reciprocals: 1/s cancels a factor s; the others make one fraction.
        kept: list[ir.Expr] = []
        for factor in scalars:
            if isinstance(factor, ir.Binary) and factor.op == "div" and isinstance(factor.left, ir.Const):
                coefficient *= factor.left.value
                denominators.append(factor.right)
            else:
                kept.append(factor)
        for denominator in list(denominators):
            if denominator in kept:
                kept.remove(denominator)
                denominators.remove(denominator)
        if len(chain) > 1 or kept:
            without_identity = [factor for factor in chain if not isinstance(factor, ir.Identity)]
            if without_identity or not kept:
                chain = without_identity or chain[:1]
        chain = self.merge_powers(self.cancel(chain))
        distributed = self.distribute(chain)
        if distributed is not None:
            rebuilt = product(ir.Const(coefficient), *kept, *distributed)
            if denominators:
                rebuilt = ir.Binary("div", rebuilt, product(*denominators))
            return self.simplify(rebuilt)
        ordered = [factor for factor in kept if not isinstance(factor, ir.Prod)]
        ordered += [factor for factor in kept if isinstance(factor, ir.Prod)]
        everything = ordered + chain
        if denominators:
            below = product(*denominators)
            if not everything:
                return ir.Binary("div", ir.Const(coefficient), below)
            return self.scaled(coefficient, ir.Binary("div", product(*everything), below))
        if not everything:
            return ir.Const(coefficient)
        body = everything[0] if len(everything) == 1 else ir.Prod(tuple(everything))
        return self.scaled(coefficient, body)

    def distribute(self, chain: list[ir.Expr]) -> list[ir.Expr] | None:
        """``(I - s 1^T) y = y - s 1^T y``: a sum holding the identity is multiplied out."""
        for position, factor in enumerate(chain):
            if not isinstance(factor, ir.Add) or not any(isinstance(term, ir.Identity) for term in factor.terms):
                continue
            if position + 1 < len(chain):
                neighbour = chain[position + 1]
                terms = tuple(product(term, neighbour) for term in factor.terms)
                return [*chain[:position], ir.Add(terms, factor.signs), *chain[position + 2 :]]
            if position > 0:
                neighbour = chain[position - 1]
                terms = tuple(product(neighbour, term) for term in factor.terms)
                return [*chain[: position - 1], ir.Add(terms, factor.signs)]
        return None

    def merge_powers(self, chain: list[ir.Expr]) -> list[ir.Expr]:
        """``X X = X^2``, ``X X^2 = X^3``."""
        merged: list[ir.Expr] = []
        for factor in chain:
            if merged:
                previous = merged[-1]
                base, count = (previous.base, previous.exponent) if isinstance(previous, ir.Power) else (previous, 1.0)
                here, more = (factor.base, factor.exponent) if isinstance(factor, ir.Power) else (factor, 1.0)
                if base == here and isinstance(count, float | int) and isinstance(more, float | int):
                    merged[-1] = ir.Power(base, float(count) + float(more))
                    continue
            merged.append(factor)
        return merged

    def cancel(self, chain: list[ir.Expr]) -> list[ir.Expr]:
        """``A A^{-1}`` and ``A^{-T} A^T`` are the identity."""
        changed = True
        while changed and len(chain) > 1:
            changed = False
            for position in range(len(chain) - 1):
                first, second = chain[position], chain[position + 1]
                if first == inverse(second) or second == inverse(first):
                    shape = self.shape(first)
                    rest = chain[:position] + chain[position + 2 :]
                    chain = rest or [self.identity(shape[0])]
                    changed = True
                    break
        return chain

    def simplify_sum(self, expr: ir.Add) -> ir.Expr | None:
        collected: dict[ir.Expr, float] = {}

        def collect(term: ir.Expr, sign: int) -> None:
            if isinstance(term, ir.Add):
                for inner, inner_sign in zip(term.terms, term.signs, strict=True):
                    collect(inner, sign * inner_sign)
                return
            coefficient, rest = self.split(term)
            collected[rest] = collected.get(rest, 0.0) + sign * coefficient

        for term, sign in zip(expr.terms, expr.signs, strict=True):
            simplified = self.simplify(term)
            if simplified is not None:
                collect(simplified, sign)
        if one_like() in collected and self.is_scalar(expr):
            # In a scalar sum the broadcast 1 of ``1 - σ(z)`` is just 1.
            collected[ir.Const(1.0)] = collected.get(ir.Const(1.0), 0.0) + collected.pop(one_like())
        items = [(coefficient, rest) for rest, coefficient in collected.items() if abs(coefficient) > 1e-12]
        if not items:
            return None
        # A constant term is written last: x - 1, not -1 + x.
        items.sort(key=lambda item: item[1] == ir.Const(1.0) or is_broadcast_constant(item[1]) is not None)
        if len(items) == 1:
            return self.scaled(items[0][0], items[0][1])
        factored = self.factor(items)
        if factored is not None:
            return factored
        terms = tuple(self.scaled(abs(coefficient), rest) for coefficient, rest in items)
        signs = tuple(1 if coefficient > 0 else -1 for coefficient, _ in items)
        if signs[0] < 0 and any(sign > 0 for sign in signs):
            # Lead with a positive term: b - a rather than -a + b.
            first = signs.index(1)
            order = [first] + [index for index in range(len(terms)) if index != first]
            terms, signs = tuple(terms[index] for index in order), tuple(signs[index] for index in order)
        return ir.Add(terms, signs)

    def factor(self, items: list[tuple[float, ir.Expr]]) -> ir.Expr | None:
        """``A x + A^T x`` is ``(A + A^T) x``: a factor shared by every term, on the same side, comes out."""
        chains = []
        for _, rest in items:
            if not isinstance(rest, ir.Prod) or rest.dot:
                return None
            chains.append(list(rest.factors))
        for side in (-1, 0):
            shared = chains[0][side]
            if (self.is_scalar(shared) and side == -1) or not all(chain[side] == shared for chain in chains):
                continue
            others = [chain[:-1] if side == -1 else chain[1:] for chain in chains]
            if any(not other for other in others):
                continue
            inner_terms = tuple(
                self.scaled(abs(coefficient), product(*other))
                for (coefficient, _), other in zip(items, others, strict=True)
            )
            signs = tuple(1 if coefficient > 0 else -1 for coefficient, _ in items)
            inner = self.simplify(ir.Add(inner_terms, signs))
            if inner is None:
                return None
            parts = (inner, shared) if side == -1 else (shared, inner)
            return self.simplify(ir.Prod(parts))
        return None

    def simplify_unary(self, expr: ir.Unary) -> ir.Expr | None:
        op = expr.op
        if op == "inverse" and isinstance(expr.operand, ir.Unary) and expr.operand.op == "transpose":
            # (AXB)^{-T} stays one inverse transpose rather than (B^T X^T A^T)^{-1}.
            inner = self.simplify(expr.operand.operand)
            if inner is None:
                raise DeriveError("the inverse of zero")
            pushed = self.transposed(inner)
            if pushed == inner:
                return inverse(inner)
            return inverse(pushed if self.is_leaf(inner) else transpose(inner))
        operand = self.simplify(expr.operand)
        if operand is None:
            if op in LINEAR_UNARY:
                return None
            operand = ir.Const(0.0)
        if op == "neg":
            coefficient, rest = self.split(operand)
            return self.scaled(-coefficient, rest)
        if op == "transpose":
            return self.transposed(operand)
        if op == "inverse":
            if isinstance(operand, ir.Unary) and operand.op == "inverse":
                return operand.operand
            if isinstance(operand, ir.Identity):
                return operand
            if isinstance(operand, ir.Const):
                return ir.Const(1 / operand.value)
            if isinstance(operand, ir.Unary) and operand.op == "transpose" and isinstance(operand.operand, ir.Var):
                return ir.Unary("inverse", operand)
            return ir.Unary("inverse", operand)
        if op == "tr" and self.is_scalar(operand):
            return operand
        if op == "tr":
            coefficient, rest = self.split(operand)
            if coefficient != 1.0:
                return self.scaled(coefficient, ir.Unary("tr", rest))
        if op in ("diag", "diagm") and self.is_scalar(operand):
            return operand
        return ir.Unary(op, operand)

    def is_leaf(self, expr: ir.Expr) -> bool:
        """A name or a transposed name: what an inverse transpose is written on directly (X^{-T})."""
        while isinstance(expr, ir.Unary) and expr.op == "transpose":
            expr = expr.operand
        return isinstance(expr, ir.Var | ir.Identity)

    def transposed(self, expr: ir.Expr) -> ir.Expr:
        """``expr^T`` with the transpose pushed to the leaves: ``(AB)^T = B^T A^T``."""
        if self.is_scalar(expr):
            return expr
        if isinstance(expr, ir.Unary) and expr.op == "transpose":
            return expr.operand
        if isinstance(expr, ir.Var) and expr.key in self.symmetric:
            return expr
        if isinstance(expr, ir.Identity):
            return expr
        if isinstance(expr, ir.Unary) and expr.op in ("diag", "diagm") and self.is_vector(expr.operand):
            return expr
        if isinstance(expr, ir.Unary) and expr.op == "neg":
            return negate(self.transposed(expr.operand))
        if isinstance(expr, ir.Unary) and expr.op == "inverse":
            operand = expr.operand
            if isinstance(operand, ir.Unary) and operand.op == "transpose":
                return inverse(operand.operand)
            inner = self.transposed(operand)
            if inner == operand:
                # Symmetric as written (X^T X + I, diag(x)): its inverse is too.
                return expr
            if not self.is_leaf(operand):
                return inverse(transpose(operand))
            if isinstance(inner, ir.Unary) and inner.op == "inverse":
                return inner.operand
            return inverse(inner)
        if isinstance(expr, ir.Prod) and not expr.dot:
            coefficient, rest = self.split(expr)
            factors = list(rest.factors) if isinstance(rest, ir.Prod) else [rest]
            scalars, chain = self.segments(factors)
            flipped = [self.transposed(factor) for factor in reversed(chain)]
            body = product(*scalars, *flipped)
            simplified = self.simplify(body)
            return self.scaled(coefficient, simplified if simplified is not None else body)
        if isinstance(expr, ir.Add):
            # (y - μ)^T stays as written, unless the sum is symmetric as it stands (X^T X + I).
            pushed = ir.Add(tuple(self.transposed(term) for term in expr.terms), expr.signs)
            return expr if pushed == expr else transpose(expr)
        if isinstance(expr, ir.Binary) and expr.op in ("hadamard", "kron"):
            return ir.Binary(expr.op, self.transposed(expr.left), self.transposed(expr.right))
        if isinstance(expr, ir.Binary) and expr.op == "div":
            return ir.Binary("div", self.transposed(expr.left), expr.right)
        if isinstance(expr, ir.Power) and not isinstance(expr.base, ir.Norm):
            return ir.Power(self.transposed(expr.base), expr.exponent)
        return transpose(expr)

    def simplify_binary(self, expr: ir.Binary) -> ir.Expr | None:
        left, right = self.simplify(expr.left), self.simplify(expr.right)
        op = expr.op
        if op == "div":
            if left is None:
                return None
            if right is None:
                raise DeriveError("a division by zero")
            if isinstance(right, ir.Const):
                coefficient, rest = self.split(left)
                return self.scaled(coefficient / right.value, rest)
            coefficient, rest = self.split(left)
            if coefficient != 1.0 and rest != ir.Const(1.0):
                return self.scaled(coefficient, ir.Binary("div", rest, right))
            return ir.Binary("div", left, right)
        if left is None or right is None:
            return None
        if op == "hadamard":
            pulled = self.pull_scalars(left, right)
            if pulled is not None:
                return pulled
        if op in ("hadamard", "kron", "frob"):
            for one, other in ((left, right), (right, left)):
                constant = is_broadcast_constant(one)
                if isinstance(one, ir.Const):
                    constant = one.value
                if constant is not None:
                    return self.simplify(product(ir.Const(constant), other))
                if op == "hadamard" and isinstance(one, ir.Ones):
                    return other
            if op != "frob" and (self.is_scalar(left) or self.is_scalar(right)):
                return self.simplify(product(left, right))
        if op == "frob":
            if self.is_scalar(left) and self.is_scalar(right):
                return self.simplify(product(left, right))
            if self.is_vector(left) and self.is_vector(right):
                first = transpose(left) if self.is_column(left) else left
                second = right if self.is_column(right) else transpose(right)
                return self.simplify(product(first, second))
        return ir.Binary(op, left, right)

    def pull_scalars(self, left: ir.Expr, right: ir.Expr) -> ir.Expr | None:
        """``(c A) ⊙ B = c (A ⊙ B)`` and ``(A / s) ⊙ B = (A ⊙ B) / s`` for scalars c and s."""
        for one, other in ((left, right), (right, left)):
            if isinstance(one, ir.Binary) and one.op == "div" and self.is_scalar(one.right) and not self.is_scalar(one):
                return self.simplify(ir.Binary("div", ir.Binary("hadamard", one.left, other), one.right))
            if isinstance(one, ir.Prod) and not one.dot and not self.is_scalar(one):
                scalars, chain = self.segments(list(one.factors))
                if scalars and chain:
                    inner = ir.Binary("hadamard", product(*chain), other)
                    return self.simplify(product(*scalars, inner))
        return None

    def present(self, expr: ir.Expr) -> ir.Expr:
        """The last touch before printing: ``-(Ax - b)`` is written ``b - Ax``. (Simplification keeps sums
        as they come, so that like terms still meet.)"""
        expr = map_children(expr, self.present)
        coefficient, rest = self.split(expr)
        if coefficient < 0 and isinstance(rest, ir.Prod) and not rest.dot:
            additions = [position for position, factor in enumerate(rest.factors) if isinstance(factor, ir.Add)]
            if len(additions) == 1:
                position = additions[0]
                flipped = rest.factors[position]
                assert isinstance(flipped, ir.Add)
                negated = self.simplify(ir.Add(flipped.terms, tuple(-sign for sign in flipped.signs)))
                if negated is not None:
                    factors = (*rest.factors[:position], negated, *rest.factors[position + 1 :])
                    return self.scaled(-coefficient, ir.Prod(factors))
        return expr

    # Definitions, folded back ------------------------------------------------------------------------------

    def folds(self) -> list[tuple[str, ir.Expr]]:
        """The note's definitions as (name, expanded expression), largest first: what ``fold`` looks for."""
        found = []
        for key, definition in self.env.definitions.items():
            if key == self.wrt or definition.labels or definition.parameters:
                continue
            try:
                expanded = self.simplify(self.expand(definition.expr))
            except (DeriveError, ShapeError, RecursionError):
                continue
            if (
                expanded is None
                or isinstance(expanded, ir.Var)
                or not any(isinstance(node, ir.Var) for node in ir.walk(expanded))
            ):
                continue
            found.append((key, expanded))
        found.sort(key=lambda item: -len(ir.walk(item[1])))
        return found

    def fold(self, expr: ir.Expr, folds: list[tuple[str, ir.Expr]]) -> ir.Expr:
        """``expr`` written with the note's names: ``Wx + b - y`` is ``z - y`` after ``z = Wx + b``."""
        for key, definition in folds:
            if expr == definition:
                return ir.Var(key)
            if isinstance(definition, ir.Add) and isinstance(expr, ir.Add):
                wanted = list(zip(definition.terms, definition.signs, strict=True))
                present = list(zip(expr.terms, expr.signs, strict=True))
                for flip in (1, -1):
                    needed = [(term, sign * flip) for term, sign in wanted]
                    if all(item in present for item in needed) and len(present) > len(needed):
                        rest = [item for item in present if item not in needed]
                        terms = [ir.Var(key), *(term for term, _ in rest)]
                        signs = [flip, *(sign for _, sign in rest)]
                        if signs[0] < 0 and 1 in signs:
                            first = signs.index(1)
                            terms.insert(0, terms.pop(first))
                            signs.insert(0, signs.pop(first))
                        return self.fold(ir.Add(tuple(terms), tuple(signs)), folds)
        return map_children(expr, lambda child: self.fold(child, folds))

    # Closed forms ---------------------------------------------------------------------------------------

    def gradient(self, differential: ir.Expr) -> ir.Expr | None:
        """G with ``dF = tr(G^T dX)`` for a scalar ``F``: the trace tricks, as one backward sweep."""
        seeds: list[ir.Expr] = []
        self.backward(differential, ir.Const(1.0), seeds)
        return self.simplify(total([(1, seed) for seed in seeds]))

    def backward(self, expr: ir.Expr, seed: ir.Expr, seeds: list[ir.Expr]) -> None:
        """Add to ``seeds`` the part of ``tr(seed^T expr)`` that is ``tr(G^T dX)``."""
        if not contains_differential(expr):
            return
        if isinstance(expr, ir.Differential):
            if expr.operand != ir.Var(self.wrt):
                raise DeriveError("a differential of something other than the variable")
            seeds.append(seed)
            return
        if isinstance(expr, ir.Add):
            for term, sign in zip(expr.terms, expr.signs, strict=True):
                self.backward(term, seed if sign > 0 else negate(seed), seeds)
            return
        if isinstance(expr, ir.Unary):
            operand = expr.operand
            if expr.op == "neg":
                self.backward(operand, negate(seed), seeds)
            elif expr.op == "transpose":
                self.backward(operand, transpose(seed), seeds)
            elif expr.op == "tr":
                self.backward(operand, product(seed, self.identity(self.shape(operand)[0])), seeds)
            elif expr.op == "vec" and self.is_vector(operand):
                self.backward(operand, seed if self.is_column(operand) else transpose(seed), seeds)
            elif expr.op in ("diag", "diagm") and self.is_column(operand):
                self.backward(operand, ir.Unary("diag", seed), seeds)
            elif expr.op == "diag" and not self.is_vector(operand):
                self.backward(operand, ir.Unary("diagm", seed), seeds)
            else:
                raise DeriveError(f"`{expr.op}` around the differential")
            return
        if isinstance(expr, ir.Prod):
            self.backward_product(expr, seed, seeds)
            return
        if isinstance(expr, ir.Binary):
            left_has = contains_differential(expr.left)
            inner, other = (expr.left, expr.right) if left_has else (expr.right, expr.left)
            if expr.op == "hadamard":
                weight = product(seed, other) if self.is_scalar(other) else ir.Binary("hadamard", seed, other)
                self.backward(inner, weight, seeds)
            elif expr.op == "frob":
                self.backward(inner, product(seed, other), seeds)
            elif expr.op == "div" and left_has:
                self.backward(inner, ir.Binary("div", seed, expr.right), seeds)
            else:
                raise DeriveError(f"the differential inside `{expr.op}`")
            return
        if isinstance(expr, ir.Index) and all(isinstance(ref, int) for ref in expr.indices):
            base = expr.base
            refs = expr.indices
            if len(refs) == 2:
                weight = product(ir.Basis(refs[0]), seed, transpose(ir.Basis(refs[1])))
            elif self.is_column(base):
                weight = product(ir.Basis(refs[0]), seed)
            else:
                weight = product(seed, transpose(ir.Basis(refs[0])))
            self.backward(base, weight, seeds)
            return
        raise DeriveError(f"a differential inside {type(expr).__name__}")

    def product_factors(self, expr: ir.Prod) -> list[ir.Expr]:
        """The factors of a product, with a dot product ``u \\cdot v`` first written as ``u^T v``."""
        factors = list(expr.factors)
        if expr.dot and len(factors) == 2:
            simplified = self.simplify_product(expr)
            if isinstance(simplified, ir.Prod) and not simplified.dot:
                factors = list(simplified.factors)
        return factors

    def backward_product(self, expr: ir.Prod, seed: ir.Expr, seeds: list[ir.Expr]) -> None:
        scalars, chain = self.segments(self.product_factors(expr))
        for position, factor in enumerate(scalars):
            if contains_differential(factor):
                rest = product(*scalars[:position], *scalars[position + 1 :], *chain)
                weight = product(seed, rest) if self.is_scalar(seed) else ir.Binary("frob", seed, rest)
                self.backward(factor, weight, seeds)
        for position, factor in enumerate(chain):
            if contains_differential(factor):
                left = chain[:position]
                right = chain[position + 1 :]
                weight = product(
                    *scalars,
                    transpose(product(*left)) if left else None,
                    seed,
                    transpose(product(*right)) if right else None,
                )
                self.backward(factor, weight, seeds)

    def by_scalar(self, differential: ir.Expr) -> ir.Expr | None:
        """``dF = G dt`` for a scalar variable t: G is dF with dt set to 1."""

        def replace_differential(expr: ir.Expr) -> ir.Expr:
            if isinstance(expr, ir.Differential):
                return ir.Const(1.0)
            return map_children(expr, replace_differential)

        return self.simplify(replace_differential(differential))

    def vec_jacobian(self, differential: ir.Expr) -> ir.Expr:
        """K with ``vec(dF) = K vec(dX)``: the Jacobian, or the Kronecker form of a higher derivative."""
        found = self.forward(differential)
        if found is None:
            return self.vec_jacobian_identity()
        simplified = self.simplify(found)
        if simplified is None:
            raise DeriveError("the derivative is zero")
        return simplified

    def vec_of(self, expr: ir.Expr) -> ir.Expr:
        if self.is_scalar(expr) or self.is_column(expr):
            return expr
        if self.is_vector(expr):
            return transpose(expr)
        return ir.Unary("vec", expr)

    def forward(self, expr: ir.Expr, flipped: bool = False) -> ir.Expr | None:
        """K for ``expr`` (linear in dX); ``None`` stands for the identity."""
        if isinstance(expr, ir.Differential):
            return None
        if isinstance(expr, ir.Add):
            parts: list[tuple[int, ir.Expr | None]] = []
            for term, sign in zip(expr.terms, expr.signs, strict=True):
                found = self.forward(term)
                parts.append((sign, found if found is not None else self.vec_jacobian_identity()))
            return total(parts)
        if isinstance(expr, ir.Unary):
            operand = expr.operand
            if expr.op == "neg":
                return negate(self.forward(operand) or self.vec_jacobian_identity())
            if expr.op == "transpose":
                if self.is_vector(operand) or self.is_scalar(operand):
                    return self.forward(operand)
                pushed = self.transposed(operand)
                if not (isinstance(pushed, ir.Unary) and pushed.op == "transpose"):
                    return self.forward(pushed)
                raise DeriveError("d(X^T) needs a commutation matrix in the Kronecker form")
            if expr.op == "vec":
                return self.forward(operand)
            if expr.op == "tr":
                size = self.shape(operand)[0]
                return product(transpose(ir.Unary("vec", self.identity(size))), self.forward(operand))
            raise DeriveError(f"`{expr.op}` around the differential in a Kronecker form")
        if isinstance(expr, ir.Prod):
            return self.forward_product(expr, flipped)
        if isinstance(expr, ir.Binary):
            left_has = contains_differential(expr.left)
            inner, other = (expr.left, expr.right) if left_has else (expr.right, expr.left)
            found = self.forward(inner)
            if expr.op == "hadamard":
                if self.is_scalar(other):
                    return product(other, found)
                return product(ir.Unary("diagm", self.vec_of(other)), found)
            if expr.op == "frob":
                return product(transpose(self.vec_of(other)), found)
            if expr.op == "div" and left_has:
                return ir.Binary("div", found or self.vec_jacobian_identity(), expr.right)
            raise DeriveError(f"the differential inside `{expr.op}` in a Kronecker form")
        raise DeriveError(f"a differential inside {type(expr).__name__} in a Kronecker form")

    def vec_jacobian_identity(self) -> ir.Expr:
        """The identity of the size of ``vec X``: ``I_m ⊗ I_n`` for an n×m matrix."""
        natural = self.natural(self.shape(ir.Var(self.wrt)))
        if len(natural) == 2:
            return ir.Binary("kron", self.identity(natural[1], True), self.identity(natural[0], True))
        return self.identity(natural[0]) if natural else ir.Const(1.0)

    def forward_product(self, expr: ir.Prod, flipped: bool) -> ir.Expr | None:
        scalars, chain = self.segments(self.product_factors(expr))
        if (
            not flipped
            and self.is_vector(expr)
            and any(
                contains_differential(factor)
                and isinstance(factor, ir.Unary)
                and factor.op == "transpose"
                and not self.is_vector(factor)
                for factor in chain
            )
        ):
            # (dW)^T x is the transpose of the row x^T dW, and a vector's vec ignores transposition.
            pushed = self.transposed(expr)
            return self.forward(pushed, flipped=True)
        for position, factor in enumerate(scalars):
            if contains_differential(factor):
                rest = product(*scalars[:position], *scalars[position + 1 :], *chain)
                return product(self.vec_of(rest), self.forward(factor) or self.vec_jacobian_identity())
        for position, factor in enumerate(chain):
            if not contains_differential(factor):
                continue
            left, right = chain[:position], chain[position + 1 :]
            rows, columns = self.shape(factor)
            left_matrix = product(*left) if left else None
            right_matrix = transpose(product(*right)) if right else None
            single_row, single_column = self.is_one(rows), self.is_one(columns)
            kronecker: ir.Expr | None
            if left_matrix is None and right_matrix is None:
                kronecker = None
            elif right_matrix is None:
                assert left_matrix is not None
                kronecker = (
                    left_matrix if single_column else ir.Binary("kron", self.identity(columns, True), left_matrix)
                )
            elif left_matrix is None:
                kronecker = right_matrix if single_row else ir.Binary("kron", right_matrix, self.identity(rows, True))
            else:
                kronecker = ir.Binary("kron", right_matrix, left_matrix)
            inner = self.forward(factor)
            if kronecker is None and inner is None:
                return product(*scalars, self.vec_jacobian_identity()) if scalars else None
            return product(*scalars, kronecker, inner)
        raise DeriveError("a product without the differential")

    # Index forms ----------------------------------------------------------------------------------------

    def fresh_label(self) -> str:
        for label in SUM_LABELS:
            if label not in self.used_labels:
                self.used_labels.add(label)
                return label
        self.label_counter += 1
        label = f"r{self.label_counter}"
        self.used_labels.add(label)
        return label


# Index forms ---------------------------------------------------------------------------------------------

Slot = str | int | None


@dataclass(frozen=True)
class Factor:
    """One factor of a term in index notation: a Kronecker delta, an entry of a matrix, or a scalar."""

    kind: str
    expr: ir.Expr | None = None
    indices: tuple[Slot, ...] = ()


@dataclass
class Term:
    coefficient: float
    factors: list[Factor]
    summed: set[str]

    def times(self, other: Term) -> Term:
        return Term(self.coefficient * other.coefficient, self.factors + other.factors, self.summed | other.summed)


class IndexForm:
    """``∂F_{ij}/∂X_{kl}`` as sums of products of entries and deltas, from ``dF`` with ``dX = e_k e_l^T``."""

    def __init__(self, deriver: Deriver, x_slots: tuple[Slot, Slot]) -> None:
        self.deriver = deriver
        self.x_slots = x_slots

    def entries(self, expr: ir.Expr, row: Slot, column: Slot) -> list[Term]:
        deriver = self.deriver
        if isinstance(expr, ir.Index) and all(isinstance(ref, int) or ref not in (":",) for ref in expr.indices):
            # An entry written in the note, x_i or (dX y)_{11}: its indices are the slots of its base.
            base, refs = expr.base, expr.indices
            if any(isinstance(ref, tuple) for ref in refs):
                if contains_differential(expr):
                    raise DeriveError("an index that is the size of a dimension")
                return [self.leaf(expr, row, column)]
            slots: list[Slot] = [ref for ref in refs if not isinstance(ref, tuple)]
            if len(slots) == 2:
                return self.entries(base, slots[0], slots[1])
            if deriver.is_column(base):
                return self.entries(base, slots[0], None)
            return self.entries(base, None, slots[0])
        if not contains_differential(expr):
            return [self.leaf(expr, row, column)]
        if isinstance(expr, ir.Differential):
            x_row, x_column = self.x_slots
            factors = []
            if x_row is not None:
                factors.append(Factor("delta", None, (row, x_row)))
            if x_column is not None:
                factors.append(Factor("delta", None, (column, x_column)))
            return [Term(1.0, factors, set())]
        if isinstance(expr, ir.Add):
            terms = []
            for term, sign in zip(expr.terms, expr.signs, strict=True):
                for found in self.entries(term, row, column):
                    terms.append(Term(found.coefficient * sign, found.factors, found.summed))
            return terms
        if isinstance(expr, ir.Unary):
            operand, op = expr.operand, expr.op
            if op == "neg":
                return [
                    Term(-term.coefficient, term.factors, term.summed) for term in self.entries(operand, row, column)
                ]
            if op == "transpose":
                return self.entries(operand, column, row)
            if op == "tr":
                if deriver.is_scalar(operand):
                    return self.entries(operand, None, None)
                label = deriver.fresh_label()
                return [self.summing(term, label) for term in self.entries(operand, label, label)]
            if op == "vec" and deriver.is_vector(operand):
                if deriver.is_column(operand):
                    return self.entries(operand, row, None)
                return self.entries(operand, None, row)
            if op in ("diag", "diagm") and deriver.is_column(operand):
                inner = self.entries(operand, row, None)
                return [
                    Term(t.coefficient, [Factor("delta", None, (row, column)), *t.factors], t.summed) for t in inner
                ]
            if op == "diag":
                return self.entries(operand, row, row)
            raise DeriveError(f"`{op}` around the differential in index form")
        if isinstance(expr, ir.Prod):
            return self.product_entries(expr, row, column)
        if isinstance(expr, ir.Binary):
            left, right = expr.left, expr.right
            if expr.op == "hadamard":
                left_rc = (None, None) if deriver.is_scalar(left) else (row, column)
                right_rc = (None, None) if deriver.is_scalar(right) else (row, column)
                return self.multiply(self.entries(left, *left_rc), self.entries(right, *right_rc))
            if expr.op == "frob":
                shape = deriver.shape(left)
                axes = [None if deriver.is_one(dim) else deriver.fresh_label() for dim in shape] if shape else []
                first, second = [*axes, None, None][:2]
                terms = self.multiply(self.entries(left, first, second), self.entries(right, first, second))
                labels = {axis for axis in axes if isinstance(axis, str)}
                return [Term(t.coefficient, t.factors, t.summed | labels) for t in terms]
            if expr.op == "div" and contains_differential(left):
                weight = Term(1.0, [Factor("scalar", ir.Binary("div", ir.Const(1.0), right))], set())
                return [term.times(weight) for term in self.entries(left, row, column)]
            raise DeriveError(f"`{expr.op}` around the differential in index form")
        if isinstance(expr, ir.Index):
            raise DeriveError("an index that is a slice")
        if isinstance(expr, ir.Sum) and not expr.product:
            return [
                Term(t.coefficient, t.factors, t.summed | set(expr.labels))
                for t in self.entries(expr.body, row, column)
            ]
        raise DeriveError(f"a differential inside {type(expr).__name__} in index form")

    def summing(self, term: Term, label: str) -> Term:
        return Term(term.coefficient, term.factors, term.summed | {label})

    def multiply(self, first: list[Term], second: list[Term]) -> list[Term]:
        return [one.times(other) for one in first for other in second]

    def leaf(self, expr: ir.Expr, row: Slot, column: Slot) -> Term:
        deriver = self.deriver
        if isinstance(expr, ir.Const):
            return Term(expr.value, [], set())
        constant = is_broadcast_constant(expr)
        if constant is not None:
            return Term(constant, [], set())
        if all(isinstance(node, ir.Ones | ir.Unary | ir.Prod) for node in ir.walk(expr)) and all(
            not isinstance(node, ir.Unary) or node.op == "transpose" for node in ir.walk(expr)
        ):
            # All-ones vectors and their products: every entry is 1.
            return Term(1.0, [], set())
        if isinstance(expr, ir.Identity):
            if row is None and column is None:
                return Term(1.0, [], set())
            return Term(1.0, [Factor("delta", None, (row, column))], set())
        if isinstance(expr, ir.Basis):
            return Term(
                1.0, [Factor("delta", None, (row, expr.index if not isinstance(expr.index, tuple) else None))], set()
            )
        if deriver.is_scalar(expr):
            return Term(1.0, [Factor("scalar", expr)], set())
        return Term(1.0, [entry(expr, row, column)], set())

    def product_entries(self, expr: ir.Prod, row: Slot, column: Slot) -> list[Term]:
        deriver = self.deriver
        factors = list(expr.factors)
        if expr.dot and len(factors) == 2:
            simplified = deriver.simplify_product(expr)
            if isinstance(simplified, ir.Prod) and not simplified.dot:
                factors = list(simplified.factors)
        scalars, chain = deriver.segments(factors)
        result = [Term(1.0, [], set())]
        for factor in scalars:
            result = self.multiply(result, self.entries(factor, None, None))
        # Runs of factors without the differential are one entry: (A B)_{ir}, not a sum over A_{iq} B_{qr}.
        items: list[ir.Expr] = []
        run: list[ir.Expr] = []
        for factor in chain:
            if contains_differential(factor):
                if run:
                    items.append(product(*run))
                    run = []
                items.append(factor)
            else:
                run.append(factor)
        if run:
            items.append(product(*run))
        current = row
        summed: set[str] = set()
        for position, item in enumerate(items):
            if position == len(items) - 1:
                after: Slot = column
            else:
                dim = deriver.shape(item)[1]
                after = None if deriver.is_one(dim) else deriver.fresh_label()
                if isinstance(after, str):
                    summed.add(after)
            result = self.multiply(result, self.entries(item, current, after))
            current = after
        return [Term(t.coefficient, t.factors, t.summed | summed) for t in result]

    # Simplification -------------------------------------------------------------------------------------

    def simplify(self, terms: list[Term]) -> list[Term]:
        out: dict[tuple, Term] = {}
        for term in terms:
            simplified = contract(term)
            if simplified is None:
                continue
            simplified = self.merge(simplified)
            key, canonical = self.canonical(simplified)
            if key in out:
                out[key].coefficient += canonical.coefficient
            else:
                out[key] = canonical
        return [term for term in out.values() if abs(term.coefficient) > 1e-12]

    def merge(self, term: Term) -> Term:
        """``∑_r A_{ir} B_{rj} = (AB)_{ij}``: a summed index shared by two entries becomes a product."""
        deriver = self.deriver
        factors = list(term.factors)
        summed = set(term.summed)
        changed = True
        while changed:
            changed = False
            for label in sorted(summed):
                holders = [index for index, f in enumerate(factors) if label in f.indices]
                if any(factors[index].kind != "entry" for index in holders):
                    continue
                if len(holders) == 1 and factors[holders[0]].indices.count(label) == 2:
                    factor = factors[holders[0]]
                    assert factor.expr is not None
                    factors[holders[0]] = Factor("scalar", ir.Unary("tr", factor.expr))
                    summed.discard(label)
                    changed = True
                    break
                if len(holders) != 2:
                    continue
                first, second = factors[holders[0]], factors[holders[1]]
                if first.indices.count(label) != 1 or second.indices.count(label) != 1:
                    continue
                # Orient the first with the label as its column and the second with it as its row.
                if first.indices[0] == label and second.indices[1] == label:
                    first, second = second, first
                left = first if first.indices[1] == label else flip(first, deriver)
                right = second if second.indices[0] == label else flip(second, deriver)
                assert left.expr is not None and right.expr is not None
                merged_expr = deriver.simplify(ir.Prod((left.expr, right.expr)))
                if merged_expr is None:
                    return Term(0.0, [], set())
                merged = entry(merged_expr, left.indices[0], right.indices[1])
                factors = [f for index, f in enumerate(factors) if index not in holders] + [merged]
                summed.discard(label)
                changed = True
                break
        oriented = [part for factor in factors for part in orient(factor, deriver)]
        # A scalar and its reciprocal cancel: σ(z) · 1/σ(z).
        for factor in list(oriented):
            reciprocal = factor.expr
            if (
                factor.kind == "scalar"
                and isinstance(reciprocal, ir.Binary)
                and reciprocal.op == "div"
                and reciprocal.left == ir.Const(1.0)
            ):
                partner = Factor("scalar", reciprocal.right)
                if partner in oriented and factor in oriented:
                    oriented.remove(partner)
                    oriented.remove(factor)
        return Term(term.coefficient, oriented, summed)

    def canonical(self, term: Term) -> tuple[tuple, Term]:
        """Factors in a fixed order and summed labels renamed in order of use, so like terms meet."""
        order = {"delta": 0, "scalar": 1, "entry": 2}
        factors = sorted(term.factors, key=lambda f: (order[f.kind], repr(f.indices), repr(f.expr)))
        renames: dict[str, str] = {}
        for factor in factors:
            for slot in factor.indices:
                if isinstance(slot, str) and slot in term.summed and slot not in renames:
                    renames[slot] = f"\x00{len(renames)}"
        renamed = factors
        for old, new in renames.items():
            renamed = [rename(f, old, new) for f in renamed]
        key = (tuple(renamed), frozenset(renames.values()))
        return key, Term(term.coefficient, factors, set(term.summed))


def contract(term: Term) -> Term | None:
    """Sum out the deltas: ``∑_r δ_{rk} x_r = x_k``; ``δ_{12} = 0``."""
    factors = list(term.factors)
    summed = set(term.summed)
    changed = True
    while changed:
        changed = False
        for position, factor in enumerate(factors):
            if factor.kind != "delta":
                continue
            first, second = factor.indices
            if first is None or second is None:
                # An axis of size one meets an index: only position 1 exists there.
                other = second if first is None else first
                if isinstance(other, int) and other != 1:
                    return None
                if isinstance(other, str) and other in summed:
                    factors = [rename(f, other, 1) for f in factors[:position] + factors[position + 1 :]]
                    summed.discard(other)
                    changed = True
                    break
                continue
            if first == second and not (isinstance(first, str) and first in summed):
                factors.pop(position)
                changed = True
                break
            if isinstance(first, int) and isinstance(second, int):
                return None
            for gone, kept in ((first, second), (second, first)):
                if isinstance(gone, str) and gone in summed and gone != kept:
                    factors = [rename(f, gone, kept) for f in factors[:position] + factors[position + 1 :]]
                    summed.discard(gone)
                    changed = True
                    break
            if changed:
                break
    return Term(term.coefficient, factors, summed)


def entry(expr: ir.Expr, row: Slot, column: Slot) -> Factor:
    if row is None and column is None:
        return Factor("scalar", expr)
    return Factor("entry", expr, (row, column))


def rename(factor: Factor, old: str, new: Slot) -> Factor:
    if old not in factor.indices:
        return factor
    return Factor(factor.kind, factor.expr, tuple(new if slot == old else slot for slot in factor.indices))


def flip(factor: Factor, deriver: Deriver) -> Factor:
    assert factor.expr is not None
    return Factor("entry", deriver.transposed(factor.expr), (factor.indices[1], factor.indices[0]))


def orient(factor: Factor, deriver: Deriver) -> list[Factor]:
    """Entries read naturally: ``A_{ji}`` for ``(A^T)_{ij}``, ``(A^T x)_k`` for the row ``(x^T A)_k``, and
    the scalars of a product outside the entry: ``(1^T y) s_k`` for ``(s 1^T y)_k``."""
    if factor.kind != "entry":
        return [factor]
    expr = factor.expr
    assert expr is not None
    row, column = factor.indices
    if isinstance(expr, ir.Prod) and not expr.dot:
        scalars, chain = deriver.segments(list(expr.factors))
        if scalars and chain:
            inner = deriver.simplify(product(*chain))
            if inner is not None:
                return [Factor("scalar", scalar) for scalar in scalars] + orient(entry(inner, row, column), deriver)
    if isinstance(expr, ir.Unary) and expr.op == "transpose":
        return [entry(expr.operand, column, row)]
    if (
        isinstance(expr, ir.Unary)
        and expr.op == "inverse"
        and isinstance(expr.operand, ir.Unary)
        and expr.operand.op == "transpose"
    ):
        return [entry(inverse(expr.operand.operand), column, row)]
    if row is None and column is not None:
        return orient(entry(deriver.transposed(expr), column, None), deriver)
    if row is not None and column is not None and not isinstance(expr, ir.Var):
        # (A^T(AX - B))_{kl} rather than ((X^T A^T - B^T) A)_{lk}: the orientation with fewer transposes.
        flipped = deriver.transposed(expr)
        fewer = transposes(flipped) < transposes(expr)
        in_order = transposes(flipped) == transposes(expr) and str(column) < str(row)
        if fewer or in_order:
            return [entry(flipped, column, row)]
    return [factor]


def transposes(expr: ir.Expr) -> int:
    return sum(1 for node in ir.walk(expr) if isinstance(node, ir.Unary) and node.op == "transpose")


def terms_to_ir(terms: list[Term]) -> ir.Expr:
    """The index form as IR: deltas, entries ``Index(A, (i, j))``, and ``∑`` over what stays summed."""
    if not terms:
        return ir.Const(0.0)
    parts: list[ir.Expr] = []
    signs: list[int] = []
    for term in terms:
        factors: list[ir.Expr] = []
        magnitude = abs(term.coefficient)
        if magnitude != 1.0 or not term.factors:
            factors.append(ir.Const(magnitude))
        for factor in term.factors:
            if factor.kind == "delta":
                first, second = (1 if slot is None else slot for slot in factor.indices)
                if isinstance(first, int) and isinstance(second, str):
                    first, second = second, first
                if isinstance(second, int):
                    factors.append(ir.Index(ir.Basis(second), (first,)))
                else:
                    factors.append(ir.Delta(first, second))
            elif factor.kind == "entry":
                assert factor.expr is not None
                refs = tuple(slot for slot in factor.indices if slot is not None)
                factors.append(ir.Index(factor.expr, refs))
            else:
                assert factor.expr is not None
                factors.append(factor.expr)
        reciprocals = [f for f in factors if isinstance(f, ir.Binary) and f.op == "div" and f.left == ir.Const(1.0)]
        others = [f for f in factors if not any(f is reciprocal for reciprocal in reciprocals)]
        body = others[0] if len(others) == 1 else (ir.Prod(tuple(others)) if others else ir.Const(1.0))
        if reciprocals:
            below = [f.right for f in reciprocals if isinstance(f, ir.Binary)]
            body = ir.Binary("div", body, product(*below))
        labels = tuple(sorted(label for label in term.summed if any(label in f.indices for f in term.factors)))
        if labels:
            body = ir.Sum(labels, None, 1, body)
        parts.append(body)
        signs.append(1 if term.coefficient > 0 else -1)
    if len(parts) == 1 and signs[0] > 0:
        return parts[0]
    if signs[0] < 0 and 1 in signs:
        first = signs.index(1)
        order = [first] + [index for index in range(len(parts)) if index != first]
        parts, signs = [parts[index] for index in order], [signs[index] for index in order]
    return ir.Add(tuple(parts), tuple(signs))


# Verification -------------------------------------------------------------------------------------------


def parse_expression(latex: str, env: Environment, config: Config, names_are_variables: bool = False) -> ir.Expr | None:
    """The IR of one printed expression, or None when it does not read back as one expression.

    With ``names_are_variables``, a capital letter before a parenthesis is a variable times a group
    (``C(Dx + e)``), not a call of an unknown function."""
    from tensorlint import syntax as ast
    from tensorlint.lower import lower, name_key
    from tensorlint.parse import parse_span

    result = parse_span(latex)
    if result.problems or len(result.statements) != 1:
        return None
    chain = result.statements[0].chain
    if chain.ops or chain.parts[0] is None:
        return None
    scope = env.scope(config)
    if names_are_variables:
        for node in ast.walk(chain.parts[0]):
            if isinstance(node, ast.Name) and len(node.text) == 1 and node.text.isupper():
                key = name_key(node, config.unify_fonts)
                if key not in scope.functions and key != "I":
                    scope.variables.add(key)
    return lower(chain.parts[0], scope)


# Random instances a derived form must match before it is shown. Two trials with different dimensions
# and values: a wrong symbolic form agreeing with the numeric derivative on both has probability zero.
CHECK_TRIALS = 2


def check(left: ir.Expr, right: ir.Expr, env: Environment, config: Config, layout: str, latex: str) -> Outcome:
    """``left = right`` checked like a claim of a note that uses ``layout``."""
    from tensorlint.verify import verify

    settled = replace(env, layout=layout, layout_fixed=True, layout_source="the derivation")
    trials = replace(config, trials=max(CHECK_TRIALS, config.trials), claim_timeout=max(config.claim_timeout, 4.0))
    # The form is meant for one layout: only that one is evaluated.
    return verify(left, right, "=", settled, trials, f"derive:{latex}", only_layout=layout)


def holds(outcome: Outcome, layout: str) -> bool:
    return outcome.verdict == "verified" and outcome.layout_used in (None, layout)


def verified_form(
    left: ir.Expr, expr: ir.Expr, env: Environment, config: Config, layout: str, style: Style, how: str
) -> Form:
    """Print ``expr``, parse the print back, and check it against ``left``: the form and its verdict."""
    try:
        latex = to_latex(expr, style)
        text = to_text(expr)
    except ValueError as error:
        return Form("", "", expr, False, f"cannot be printed ({error})")
    parsed = parse_expression(latex, env, config)
    trials = max(CHECK_TRIALS, config.trials)
    if parsed is not None:
        outcome = check(left, parsed, env, config, layout, latex)
        if holds(outcome, layout):
            return Form(latex, text, expr, True, f"{how}: matches the numeric derivative on {trials} random instances")
        if outcome.verdict in ("wrong", "shape", "layout"):
            return Form(latex, text, expr, False, f"failed its check ({outcome.message})")
    # What is printed does not read back in a checkable way (δ with a concrete index): check the IR.
    outcome = check(left, expr, env, config, layout, latex)
    if holds(outcome, layout):
        return Form(latex, text, expr, True, f"{how}: matches the numeric derivative on {trials} random instances")
    return Form(latex, text, expr, False, f"not verified ({outcome.message})")


# The entry point -----------------------------------------------------------------------------------------


def shape_text(dims: list[Dim]) -> str:
    if not dims:
        return "scalar"
    return "×".join(show_dim(dim) for dim in dims)


def _printed_as_row(kind: str, layout: str, f_shape: tuple, deriver: Deriver) -> bool:
    """Whether a derivative with one non-trivial axis is laid out as a 1×n row in ``layout``."""
    if kind == "gradient":
        return layout == "numerator"
    if kind == "derivative by a scalar" and len(f_shape) == 2:
        f_is_row = deriver.find(f_shape[0]) == 1
        return f_is_row == (layout == "numerator")
    return False


def derive(
    numerator: ir.Expr,
    wrt: ir.Wrt | str,
    env: Environment,
    config: Config,
    style: Style | None = None,
    layout: str | None = None,
    gradient: bool = False,
    index_labels: tuple[tuple[str, ...], tuple[str, ...]] | None = None,
    index_when_needed: bool = False,
) -> Derivative:
    """The derivative of ``numerator`` by ``wrt`` in the environment of a note.

    ``layout`` is ``numerator`` or ``denominator``; ``None`` takes the note's layout, else the usual reading
    (a gradient shaped like X for a scalar, the Jacobian for a vector). ``gradient`` is ``\\nabla_X``.
    ``index_labels`` names the free indices of F and X in the index form (else i, j and k, l).
    Never raises on bad input: what cannot be derived is absent, with the reason in ``notes``.
    """
    target = wrt if isinstance(wrt, ir.Wrt) else ir.Wrt(wrt)
    style = style or Style()
    deriver = Deriver(env, config, target.key)
    result = Derivative(numerator, target.key, 0, "", "", layout or "numerator")
    try:
        derive_into(
            result, deriver, numerator, target, env, config, style, layout, gradient, index_labels, index_when_needed
        )
    except (DeriveError, RecursionError) as error:
        result.notes.append(f"no derivative: {error}")
    except ValueError as error:
        # Something derived that the printer cannot write (an entry pattern left in the expression).
        result.notes.append(f"not shown: {error}")
    return result


def derive_into(
    result: Derivative,
    deriver: Deriver,
    numerator: ir.Expr,
    target: ir.Wrt,
    env: Environment,
    config: Config,
    style: Style,
    layout: str | None,
    gradient: bool,
    index_labels: tuple[tuple[str, ...], tuple[str, ...]] | None,
    index_when_needed: bool = False,
) -> None:
    expanded = deriver.expand(numerator)
    if any(isinstance(node, ir.Differential | ir.Deriv | ir.Pattern) for node in ir.walk(expanded)):
        raise DeriveError("the expression holds a differential, a derivative or an entry pattern")
    f_shape = deriver.shape(expanded)
    x_declared = deriver.shapes.name_shape(target.key)
    if x_declared is None:
        raise DeriveError(f"the shape of `{target.key}` is not known")
    x_shape = deriver.shapes.unifier.resolve(x_declared)
    if target.vec and len(x_shape) == 2:
        x_shape = (("*", x_shape[0], x_shape[1]), 1)
    f_natural, x_natural = deriver.natural(f_shape), deriver.natural(x_shape)
    order = len(f_natural) + len(x_natural)
    result.order = order
    dims = [deriver.find(dim) for dim in (*f_natural, *x_natural)]
    if order <= 2:
        result.shape = {0: "scalar", 1: f"{shape_text(dims)}-vector", 2: f"{shape_text(dims)} matrix"}[order]
    else:
        result.shape = f"{ORDER_NAMES.get(order, f'order-{order}')}-order tensor {shape_text(dims)}"
    scalar_f, scalar_x = not f_natural, not x_natural
    if scalar_f and not scalar_x:
        kind, natural_layout = "gradient", "denominator"
    elif scalar_x:
        kind, natural_layout = ("scalar" if scalar_f else "derivative by a scalar"), "numerator"
    elif len(f_natural) == 1 and len(x_natural) == 1:
        kind, natural_layout = "jacobian", "numerator"
    else:
        kind, natural_layout = "vec-jacobian", "numerator"
    chosen = layout or env.layout or natural_layout
    if gradient and kind in ("gradient", "jacobian"):
        chosen = "denominator"
    result.kind, result.layout = kind, chosen
    if order == 1 and _printed_as_row(kind, chosen, f_shape, deriver):
        # A numerator-layout gradient (or a row vector's derivative by a scalar) is written as a row.
        result.shape = f"1×{shape_text(dims)} row vector"

    # Labels for the index form: the claim's own, else i, j for F and k, l for X, avoiding names in use.
    names = {node.key.split("_")[0] for node in ir.walk(expanded) if isinstance(node, ir.Var)} | {target.key}
    deriver.used_labels = set(names) | {str(dim) for dim in env.dims}
    pool = [label for label in FREE_LABELS if label not in deriver.used_labels]
    f_labels: tuple[str, ...]
    x_labels: tuple[str, ...]
    if index_labels is not None:
        f_labels, x_labels = index_labels
    else:
        f_labels, x_labels = tuple(pool[: len(f_natural)]), tuple(pool[2 : 2 + len(x_natural)])
    deriver.used_labels |= set(f_labels) | set(x_labels)

    if target.vec and not deriver.is_vector(ir.Var(target.key)):
        raise DeriveError("a derivative by vec(X) is checked but not derived here")
    differential = deriver.simplify(deriver.differential(expanded))
    # What is shown is written with the definitions and entry patterns expanded (the note's W rather than
    # its matrix of w_{ij}); what is checked is the numerator as the note wrote it.
    shown = numerator if printable(numerator) else expanded
    if printable(shown) and (differential is None or printable(differential)):
        result.differential = f"d{_wrapped(shown, style)} = " + (to_latex(differential, style) if differential else "0")
        result.differential_text = f"d{_wrapped_text(shown)} = " + (to_text(differential) if differential else "0")
    left = ir.Deriv(numerator, target, gradient)

    folds = deriver.folds()
    try:
        closed = closed_form(deriver, differential, kind)
    except DeriveError as error:
        closed = None
        result.notes.append(f"no closed form: {error}")
    if closed is not None:
        closed = deriver.present(deriver.fold(closed, folds))
        how = f"{kind} in {chosen} layout" if kind != "scalar" else "derivative"
        arranged = closed if chosen == natural_layout else deriver.transposed(closed)
        result.closed_form = verified_form(left, arranged, env, config, chosen, style, how)
        if not result.closed_form.verified:
            result.notes.append(f"closed form {result.closed_form.text} {result.closed_form.detail}")
            result.closed_form = None

    kept = result.closed_form
    plain = kept is not None and not any(isinstance(node, ir.Basis | ir.Index) for node in ir.walk(kept.expr))
    if index_when_needed and plain and result.order < 3 and index_labels is None:
        # An explanation of a matrix result shows its closed form; the index form (one more numeric check)
        # is only worked out where the message uses it.
        index = None
    else:
        index = index_form(deriver, numerator, differential, f_shape, x_shape, f_labels, x_labels, target)
    result.axes, result.orientation = result_axes(
        deriver, kind, chosen, natural_layout, f_shape, x_shape, f_labels, x_labels
    )
    if index is not None:
        index_left, index_right, result.index_terms = index
        index_right = deriver.present(deriver.fold(index_right, folds))
        assert isinstance(index_left, ir.Deriv)
        shown_left = replace(index_left, numerator=substitute_numerator(index_left.numerator, numerator, shown))
        result.index_left = to_latex(shown_left, style)
        result.index_left_text = to_text(shown_left)
        form = verified_form(index_left, index_right, env, config, chosen, style, "index form")
        if form.verified:
            result.index_form = form
        else:
            result.notes.append(f"index form {form.text} {form.detail}")


def closed_form(deriver: Deriver, differential: ir.Expr | None, kind: str) -> ir.Expr | None:
    """The closed form in the natural layout of ``kind``; raises ``DeriveError`` with the reason."""
    if differential is None:
        return ir.Const(0.0)
    if kind == "gradient":
        return deriver.gradient(differential) or ir.Const(0.0)
    if kind in ("scalar", "derivative by a scalar"):
        return deriver.by_scalar(differential) or ir.Const(0.0)
    return deriver.vec_jacobian(differential)


def index_form(
    deriver: Deriver,
    numerator: ir.Expr,
    differential: ir.Expr | None,
    f_shape: Shape,
    x_shape: Shape,
    f_labels: tuple[str, ...],
    x_labels: tuple[str, ...],
    target: ir.Wrt,
) -> tuple[ir.Expr, ir.Expr, list[Term]] | None:
    """``(∂F_{ij}/∂X_{kl}, its expression)`` as IR, or None when the differential cannot be expanded."""
    x_slots = _slots(deriver, x_shape, x_labels)
    f_slots = _slots(deriver, f_shape, f_labels)
    engine = IndexForm(deriver, x_slots)
    try:
        terms = [] if differential is None else engine.entries(differential, *f_slots)
        simplified = engine.simplify(terms)
    except DeriveError:
        return None
    right = terms_to_ir(simplified)
    left_numerator = numerator if not f_labels else ir.Index(numerator, f_labels)
    wrt = ir.Wrt(target.key, x_labels or None)
    return ir.Deriv(left_numerator, wrt), right, simplified


def result_axes(
    deriver: Deriver,
    kind: str,
    layout: str,
    natural_layout: str,
    f_shape: Shape,
    x_shape: Shape,
    f_labels: tuple[str, ...],
    x_labels: tuple[str, ...],
) -> tuple[tuple[Slot, ...], str]:
    """The index labels along the axes of the matrix-form result, and how a vector result stands."""
    if kind == "gradient":
        axes, source = x_labels, x_shape
    elif kind == "derivative by a scalar":
        axes, source = f_labels, f_shape
    elif kind == "jacobian":
        axes, source = (*f_labels, *x_labels), ()
    else:
        return (), "scalar" if kind == "scalar" else "matrix"
    orientation = "matrix"
    if len(axes) == 1:
        orientation = "row" if len(source) == 2 and deriver.is_one(source[0]) else "column"
    flipped = layout != natural_layout
    if flipped:
        axes = tuple(reversed(axes))
        orientation = {"row": "column", "column": "row"}.get(orientation, orientation)
    return tuple(axes), orientation


def literal_entries(result: Derivative, rows: int, columns: int, style: Style) -> str | None:
    """The result as an explicit ``rows``×``columns`` matrix, each entry from the index form at concrete
    positions (``y_{11}``, ``0``): how a note that wrote the matrix out gets it back, corrected."""
    if not result.index_terms and result.index_form is None:
        return None
    axes, orientation = result.axes, result.orientation
    if not axes or len(axes) > 2 or rows * columns > 64:
        return None
    if (orientation == "column" and columns != 1) or (orientation == "row" and rows != 1):
        return None
    cells: list[list[str]] = []
    for row in range(1, rows + 1):
        cells.append([])
        for column in range(1, columns + 1):
            if len(axes) == 2:
                values = {axes[0]: row, axes[1]: column}
            else:
                values = {axes[0]: row if orientation == "column" else column}
            terms = []
            for term in result.index_terms:
                factors = term.factors
                for label, value in values.items():
                    if isinstance(label, str):
                        factors = [rename(factor, label, value) for factor in factors]
                contracted = contract(Term(term.coefficient, factors, set(term.summed)))
                if contracted is not None:
                    terms.append(contracted)
            cells[-1].append(to_latex(terms_to_ir(terms), style))
    environment = style.matrix_environment
    body = " \\\\ ".join(" & ".join(row_cells) for row_cells in cells)
    return f"\\begin{{{environment}}}{body}\\end{{{environment}}}"


def _slots(deriver: Deriver, shape: Shape, labels: tuple[str, ...]) -> tuple[Slot, Slot]:
    if len(shape) != 2:
        return (None, None)
    remaining = list(labels)
    slots: list[Slot] = []
    for dim in shape:
        slots.append(None if deriver.is_one(dim) or not remaining else remaining.pop(0))
    return slots[0], slots[1]


def printable(expr: ir.Expr) -> bool:
    try:
        to_text(expr)
    except ValueError:
        return False
    return True


def substitute_numerator(expr: ir.Expr, original: ir.Expr, shown: ir.Expr) -> ir.Expr:
    if expr is original:
        return shown
    if isinstance(expr, ir.Index) and expr.base is original:
        return ir.Index(shown, expr.indices)
    return expr


def _wrapped(expr: ir.Expr, style: Style) -> str:
    text = to_latex(expr, style)
    return text if isinstance(expr, ir.Var) else f"({text})"


def _wrapped_text(expr: ir.Expr) -> str:
    text = to_text(expr)
    return text if isinstance(expr, ir.Var) else f"({text})"


# The command line ----------------------------------------------------------------------------------------


def latex_name_key(latex: str, config: Config) -> str | None:
    from tensorlint import syntax as ast
    from tensorlint.lower import name_key
    from tensorlint.parse import parse_span

    result = parse_span(latex)
    if len(result.statements) != 1 or result.statements[0].chain.ops:
        return None
    node = result.statements[0].chain.parts[0]
    return name_key(node, config.unify_fonts) if isinstance(node, ast.Name) else None


def assume_shapes(expr: ir.Expr, wrt: str, env: Environment) -> list[str]:
    """Declare the names the expression uses without a declaration, with named dimensions (n, m, …) so
    that every printed form can state sizes: what was assumed, as ``W \\in \\mathbb{R}^{n\\times m}``."""
    deriver = Deriver(env, _default_config(), wrt)
    with contextlib.suppress(DeriveError):
        deriver.shape(deriver.expand(expr))
    keys = sorted({node.key for node in ir.walk(expr) if isinstance(node, ir.Var)} | {wrt})
    used = set(env.dims) | {key.split("_")[0] for key in keys}
    names = iter(name for name in DIMENSION_NAMES if name not in used)
    chosen: dict[Dim, str] = {}
    assumed = []
    for key in keys:
        if key in env.declared or key in env.definitions:
            continue
        shape = deriver.shapes.name_shape(key)
        if shape is None:
            continue
        resolved: list[Dim] = []
        for dim in deriver.shapes.unifier.resolve(shape):
            if isinstance(dim, str) and dim.startswith("?"):
                if dim not in chosen:
                    chosen[dim] = next(names, f"d{len(chosen) + 1}")
                dim = chosen[dim]
            resolved.append(dim)
        env.declared[key] = Declared(tuple(resolved))
        env.dims |= {dim for dim in resolved if isinstance(dim, str)}
        env.known.add(key)
        assumed.append(f"{key.split('@')[0]} ∈ ℝ^{_space(resolved)}")
    return assumed


def _space(shape: list[Dim]) -> str:
    if not shape:
        return "1"
    if len(shape) == 2 and shape[1] == 1:
        return show_dim(shape[0])
    return "×".join(show_dim(dim) for dim in shape)


def _default_config() -> Config:
    from tensorlint.model import Config

    return Config()


def to_json(result: Derivative, expression: str, assumptions: list[str]) -> dict[str, Any]:
    def form(found: Form | None) -> dict[str, Any] | None:
        if found is None:
            return None
        return {"latex": found.latex, "text": found.text, "verified": found.verified, "how": found.detail}

    return {
        "expression": expression,
        "wrt": result.wrt,
        "assumptions": assumptions,
        "order": result.order,
        "shape": result.shape,
        "kind": result.kind,
        "layout": result.layout,
        "differential": result.differential,
        "closed_form": form(result.closed_form),
        "index_form": (
            None
            if result.index_form is None
            else {**(form(result.index_form) or {}), "left": result.index_left, "left_text": result.index_left_text}
        ),
        "notes": result.notes,
    }


def to_lines(result: Derivative, expression: str, assumptions: list[str]) -> Iterator[str]:
    wrt = result.wrt.split("@")[0]
    yield f"derivative   ∂({to_text(result.numerator)})/∂{wrt}"
    if assumptions:
        yield f"assuming     {', '.join(assumptions)}"
    yield f"shape        {result.shape}" + (f" ({result.kind}, {result.layout} layout)" if result.order else "")
    if result.differential:
        yield f"differential {result.differential}"
    if result.closed_form is not None:
        label = "closed form " if result.kind != "vec-jacobian" else "Kronecker   "
        yield f"{label} {result.closed_form.latex}"
        if result.kind == "vec-jacobian":
            yield f"             (∂vec F/∂vec Xᵀ{'' if result.layout == 'numerator' else ', transposed'})"
    else:
        yield "closed form  none verified"
    if result.index_form is not None:
        yield f"index form   {result.index_left} = {result.index_form.latex}"
    else:
        yield "index form   none verified"
    verified = [form for form in (result.closed_form, result.index_form) if form is not None]
    for found in verified:
        yield f"verified     {found.detail}"
    for note in result.notes:
        yield f"note         {note}"
