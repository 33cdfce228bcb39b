"""Lowering: from the notation-shaped AST (``syntax``) to the meaning-shaped IR (``ir``).

Every decision about what notation means lives here, and every one of them can be overridden by what the
document declared: ``d`` is a differential unless ``d`` is a declared variable, ``e_i`` is a basis vector
unless ``e`` is declared, and so on. Anything that cannot be given a meaning becomes ``ir.Unsupported``
with the reason, which later makes the claim ``uncheckable`` rather than wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tensorlint import ir
from tensorlint import syntax as ast
from tensorlint.patterns import matrix_pattern, sum_pattern

DISTINCT_FONTS = {"bb", "cal", "frak", "hat", "bar", "tilde", "dot", "ddot", "check"}
ELEMENTWISE = {
    "log",
    "exp",
    "sigmoid",
    "tanh",
    "sin",
    "cos",
    "sinh",
    "cosh",
    "sign",
    "relu",
    "softmax",
    "sqrt",
}
FUNCTION_NAMES = {"sigma": "sigmoid", "tanh": "tanh"}
MATRIX_FUNCTIONS = {"tr", "det", "logdet", "vec", "diag"} | ELEMENTWISE
# Operators whose value is an optimum or a limit: notation that is read, never checked.
OPTIMA = {"argmax", "argmin", "max", "min", "sup", "inf", "lim", "limsup", "liminf"}
# A power written after the parentheses of these applies to the value or to the argument: both are read.
POWER_AMBIGUOUS = {"tr"}
# Letters that, in an exponent, are a symbolic power (``x^n``, ``X^{p-1}``); ``k`` only on a matrix.
POWER_LETTERS = {"n", "m", "p", "q", "r", "N", "M"}
GREEK_EXPONENTS = {"alpha", "beta", "gamma", "kappa", "nu", "rho", "lambda", "mu", "eta", "theta", "omega"}


def name_key(node: ast.Name, unify_fonts: bool = True) -> str:
    """The variable a name refers to; fonts are unified except those making a new symbol (``\\mathbb{E}``)."""
    if node.font in DISTINCT_FONTS or (not unify_fonts and node.font):
        return f"{node.text}@{node.font}"
    return node.text


def layer_name(node: ast.Node, unify_fonts: bool = True) -> tuple[str, bool] | None:
    """``W^{(1)}`` (a layer index in parentheses) names its own variable ``W^(1)``; with ``^{(1)\\top}`` it is
    transposed. The key and whether it is transposed; None for anything else."""
    if not (isinstance(node, ast.Sup) and isinstance(node.base, ast.Name)):
        return None
    exponent, transposed = node.exponent, False
    if isinstance(exponent, ast.Transpose) and not exponent.inverse:
        exponent, transposed = exponent.base, True
    if not (isinstance(exponent, ast.Delimited) and exponent.kind == "()" and len(exponent.items) == 1):
        return None
    inner = exponent.items[0]
    if not isinstance(inner, ast.Name | ast.Number):
        return None
    return f"{name_key(node.base, unify_fonts)}^({inner.text})", transposed


def node_text(node: ast.Node) -> str | None:
    """A plain spelling of a small subscript such as ``0``, ``ij`` or ``3,7``; None if not that simple."""
    if isinstance(node, ast.Name):
        return node.text
    if isinstance(node, ast.Number):
        return node.text
    if isinstance(node, ast.Juxt):
        parts = [node_text(item) for item in node.items]
        return None if None in parts else "".join(part for part in parts if part)
    if isinstance(node, ast.Delimited) and node.kind == "{}":
        parts = [node_text(item) for item in node.items]
        return None if None in parts else ",".join(part for part in parts if part)
    return None


@dataclass
class Scope:
    """What the lowering needs to know about the document at this point."""

    variables: set[str] = field(default_factory=set)
    functions: set[str] = field(default_factory=set)
    dims: set[str] = field(default_factory=set)
    matrices: set[str] = field(default_factory=set)
    all_ones: set[str] = field(default_factory=set)
    unify_fonts: bool = True
    # When the note writes gradients as d-names (dW = ∂L/∂W, the CS231n habit): the loss L.
    gradient_loss: str | None = None
    aliases: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Operator:
    """Derivative operators applied in a row, outermost first: ``(wrt, gradient)`` each."""

    steps: tuple[tuple[ir.Wrt, bool], ...]
    layout: str | None = None


class Lowerer:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def unsupported(self, node: ast.Node, reason: str) -> ir.Expr:
        return ir.Unsupported(reason, start=node.start, end=node.end)

    # Names and subscripts --------------------------------------------------------------------------------

    def key(self, node: ast.Name) -> str:
        return name_key(node, self.scope.unify_fonts)

    def name(self, node: ast.Name) -> ir.Expr:
        key = self.key(node)
        where: Any = {"start": node.start, "end": node.end}
        if key == "I" and "I" not in self.scope.variables:
            return ir.Identity(None, **where)
        if key == "pi" and "pi" not in self.scope.variables:
            return ir.Const(3.141592653589793, **where)
        return ir.Var(key, **where)

    def dimension(self, node: ast.Node) -> str | int | None:
        if isinstance(node, ast.Number) and node.text.isdigit():
            return int(node.text)
        if isinstance(node, ast.Name):
            return node.text
        return None

    def index_refs(self, node: ast.Node, axes: int | None) -> tuple[ir.IndexRef, ...] | None:
        """Indices written in a subscript: ``ij``, ``3,7``, ``31`` (two indices of a matrix), ``i,:``."""
        items: list[ast.Node]
        if (isinstance(node, ast.Delimited) and node.kind == "{}") or isinstance(node, ast.Juxt):
            items = list(node.items)
        else:
            items = [node]
        refs: list[ir.IndexRef] = []
        for item in items:
            if isinstance(item, ast.Name) and not item.font:
                if item.text.isupper() and item.text in self.scope.dims:
                    refs.append(("dim", item.text))
                else:
                    refs.append(item.text)
            elif isinstance(item, ast.Number) and item.text.isdigit():
                if len(items) == 1 and axes == 2 and len(item.text) == 2:
                    refs.extend(int(digit) for digit in item.text)
                else:
                    refs.append(int(item.text))
            elif isinstance(item, ast.Text) and item.text == ":":
                refs.append(":")
            elif isinstance(item, ast.Juxt):
                inner = self.index_refs(item, None)
                if inner is None:
                    return None
                refs.extend(inner)
            else:
                return None
        return tuple(refs)

    def entry_alias(self, key: str) -> str | None:
        """``w_{ij}`` for the entries of a declared matrix ``W``, or ``x_{ij}`` after ``X = [x_{ij}]``."""
        if key in self.scope.aliases:
            return self.scope.aliases[key]
        scope = self.scope
        free = key not in scope.variables and key not in scope.functions
        if key.islower() and len(key) == 1 and free and key.upper() in scope.matrices:
            return key.upper()
        return None

    def subscript(self, node: ast.Sub) -> ir.Expr:
        base, index = node.base, node.index
        where: Any = {"start": node.start, "end": node.end}
        if isinstance(base, ast.Number) and base.text == "1":
            return ir.Ones(self.dimension(index), **where)
        if isinstance(base, ast.Number) and base.text == "0":
            return ir.Const(0.0, **where)
        if isinstance(base, ast.Delimited) and base.kind == "‖‖":
            kind = node_text(index) or "2"
            return ir.Norm(self.items_expr(base), kind, **where)
        if isinstance(base, ast.Name):
            key = self.key(base)
            spelled = node_text(index)
            if spelled is not None and f"{key}_{spelled}" in self.scope.variables:
                return ir.Var(f"{key}_{spelled}", **where)
            if key == "I" and "I" not in self.scope.variables:
                return ir.Identity(self.dimension(index), **where)
            if key == "e" and "e" not in self.scope.variables:
                refs = self.index_refs(index, 1)
                if refs and len(refs) == 1:
                    return ir.Basis(refs[0], **where)
            if key == "delta" and "delta" not in self.scope.variables:
                refs = self.index_refs(index, 2)
                if refs and len(refs) == 2:
                    return ir.Delta(refs[0], refs[1], **where)
                if not refs or len(refs) != 1:
                    return self.unsupported(node, "a Kronecker delta needs two indices")
                # \delta_k with one index: the note's own δ (a backprop error term), entry k of a vector.
                return ir.Index(ir.Var(key, start=base.start, end=base.end), refs, **where)
            if key == "1":
                return ir.Ones(self.dimension(index), **where)
        if isinstance(base, ast.Name) and (alias := self.entry_alias(self.key(base))) is not None:
            refs = self.index_refs(index, 2)
            if refs is None:
                return self.unsupported(node, "an entry with an unusual index")
            return ir.Index(ir.Var(alias, start=base.start, end=base.end), refs, **where)
        axes = 2 if isinstance(base, ast.Name) and self.key(base) in self.scope.matrices else None
        if isinstance(base, ast.Name) and base.text.isupper():
            axes = 2
        if not isinstance(base, ast.Name):
            axes = 2
        refs = self.index_refs(index, axes)
        if refs is None:
            return self.unsupported(node, "a subscript that is neither an index nor part of a name")
        return ir.Index(self.expr(base), refs, **where)

    # Products ----------------------------------------------------------------------------------------------

    def is_differential_d(self, node: ast.Node) -> bool:
        return isinstance(node, ast.Name) and node.text == "d" and "d" not in self.scope.variables

    def is_function_name(self, node: ast.Node) -> bool:
        if not isinstance(node, ast.Name):
            return False
        key = self.key(node)
        return key in self.scope.functions or (key in FUNCTION_NAMES and key not in self.scope.variables)

    def regroup(self, items: tuple[ast.Node, ...]) -> tuple[ast.Node, ...]:
        """Give operators written without parentheses the factors they act on.

        ``\\log \\sigma(z)`` and ``d\\,\\sigma(z)`` apply to the call ``\\sigma(z)``, not to the bare ``\\sigma``;
        ``\\log \\mathbf{1}^T e^{v}`` and ``\\operatorname{tr} A B`` take the whole product that follows, up to
        the next operator (so ``\\sin x \\cos x`` stays a product of two functions).
        """
        grouped: list[ast.Node] = []
        index = 0
        while index < len(items):
            item = items[index]
            following = items[index + 1] if index + 1 < len(items) else None
            if (
                len(items) > 2
                and self.is_function_name(item)
                and isinstance(following, ast.Delimited)
                and following.kind == "()"
            ):
                grouped.append(ast.Juxt((item, following), start=item.start, end=following.end))
                index += 2
                continue
            grouped.append(item)
            index += 1
        result: list[ast.Node] = []
        index = 0
        while index < len(grouped):
            item = grouped[index]
            if isinstance(item, ast.Func) and not item.call and item.sub is None and item.power is None:
                absorbed = [item.arg]
                index += 1
                while index < len(grouped) and not self.is_operator(grouped[index]):
                    absorbed.append(grouped[index])
                    index += 1
                if len(absorbed) > 1:
                    argument = ast.Juxt(tuple(absorbed), start=absorbed[0].start, end=absorbed[-1].end)
                    item = ast.Func(item.name, argument, False, start=item.start, end=argument.end)
                result.append(item)
                continue
            result.append(item)
            index += 1
        return tuple(result)

    def is_operator(self, node: ast.Node) -> bool:
        """Where a function written without parentheses stops taking factors."""
        if isinstance(node, ast.Func | ast.BigOp | ast.Frac | ast.Partial | ast.Nabla):
            return True
        if isinstance(node, ast.Sub) and isinstance(node.base, ast.Partial | ast.Nabla):
            return True
        if isinstance(node, ast.Juxt) and node.items and self.is_function_name(node.items[0]):
            return True
        return self.is_differential_d(node)

    def juxtaposition(self, items: tuple[ast.Node, ...], node: ast.Node) -> ir.Expr:
        items = self.regroup(items)
        factors: list[ir.Expr] = []
        index = 0
        while index < len(items):
            item = items[index]
            rest = items[index + 1 :]
            implicit = self.bare_gradient(item, rest)
            if implicit is not None:
                factors.append(implicit[0])
                index += 1 + implicit[1]
                continue
            jacobian = self.jacobian_call(item, rest[0] if rest else None)
            if jacobian is not None:
                factors.append(jacobian)
                index += 2
                continue
            operator = self.derivative_operator(item)
            if operator is not None:
                if not rest:
                    return self.unsupported(item, "a derivative operator with nothing to act on")
                operand = self.juxtaposition(rest, node) if len(rest) > 1 else self.expr(rest[0])
                factors.append(self.make_derivative(operand, operator, item))
                break
            if self.is_differential_d(item) and rest:
                operand = self.expr(rest[0])
                where: Any = {"start": item.start, "end": rest[0].end}
                loss = self.scope.gradient_loss
                transposed = isinstance(operand, ir.Unary) and operand.op == "transpose"
                target = operand.operand if isinstance(operand, ir.Unary) and transposed else operand
                if loss is not None and isinstance(target, ir.Var):
                    gradient: ir.Expr = ir.Deriv(ir.Var(loss, **where), ir.Wrt(target.key), **where)
                    factors.append(ir.Unary("transpose", gradient, **where) if transposed else gradient)
                else:
                    factors.append(ir.Differential(operand, **where))
                index += 2
                continue
            if isinstance(item, ast.Dots):
                return self.unsupported(item, "an ellipsis stands for terms that are not written out")
            call = self.function_call(item, rest[0] if rest else None)
            if call is None:
                call = self.dependence(item, rest[0] if rest else None)
            if call is not None:
                factors.append(call)
                index += 2
                continue
            factors.append(self.expr(item))
            index += 1
        if len(factors) == 1:
            return factors[0]
        return ir.Prod(tuple(factors), start=node.start, end=node.end)

    def function_call(self, item: ast.Node, following: ast.Node | None) -> ir.Expr | None:
        """``F(W)``, ``\\sigma(Wx)``, ``f_i(X)``: a name applied to a parenthesized argument."""
        if isinstance(item, ast.Transpose) and item.mark == "'" and not item.inverse:
            return self.primed_call(item, following)
        if isinstance(following, ast.Transpose) and isinstance(following.base, ast.Delimited):
            # F(W)^T: the transpose belongs to the value F(W), not to the argument.
            applied = self.function_call(item, following.base)
            if applied is None:
                return None
            span: Any = {"start": item.start, "end": following.end}
            inner: ir.Expr = ir.Unary("transpose", applied, **span)
            return ir.Unary("inverse", inner, **span) if following.inverse else inner
        if isinstance(following, ast.Sup) and isinstance(following.base, ast.Delimited):
            applied = self.function_call(item, following.base)
            exponent = following.exponent
            if applied is None or not isinstance(exponent, ast.Number):
                return None
            return ir.Power(applied, float(exponent.text), start=item.start, end=following.end)
        if not isinstance(following, ast.Delimited) or following.kind != "()":
            return None
        base = item.base if isinstance(item, ast.Sub) else item
        if not isinstance(base, ast.Name):
            return None
        key = self.key(base)
        where: Any = {"start": item.start, "end": following.end}
        args = tuple(self.expr(argument) for argument in following.items)
        if key in FUNCTION_NAMES and key not in self.scope.variables and len(args) == 1:
            return ir.Unary(FUNCTION_NAMES[key], args[0], **where)
        if key in self.scope.functions or (key not in self.scope.variables and key[:1].isalpha()):
            if key not in self.scope.functions and key.islower() and key not in ("f", "g", "h", "F", "G"):
                return None
            call: ir.Expr = ir.Call(key, args, **where)
            if isinstance(item, ast.Sub):
                refs = self.index_refs(item.index, 1)
                if refs is None:
                    return self.unsupported(item, "a subscript on a function that is not an index")
                call = ir.Index(call, refs, **where)
            return call
        return None

    def dependence(self, item: ast.Node, following: ast.Node | None) -> ir.Expr | None:
        """``\\mathbf{u}(\\mathbf{x})``: u as a function of x (its value, u), or the product u·x. Both readings;
        a note writes ``\\mathbf{u} = \\mathbf{u}(\\mathbf{x})`` to say that u depends on x."""
        if not (isinstance(item, ast.Name) and isinstance(following, ast.Delimited)):
            return None
        if following.kind != "()" or len(following.items) != 1 or not isinstance(following.items[0], ast.Name):
            return None
        key, argument = self.key(item), following.items[0]
        if key in ("I", "e", "pi", "d") or self.key(argument) == key or not key[:1].isalpha():
            return None
        where: Any = {"start": item.start, "end": following.end}
        value = self.expr(item)
        if not isinstance(value, ir.Var):
            return None
        product = ir.Prod((value, self.expr(argument)), **where)
        names = (f"{key} as a function of {self.key(argument)}", f"{key} times {self.key(argument)}")
        return ir.Readings((ir.Var(key, **where), product), names, **where)

    def primed_call(self, item: ast.Transpose, following: ast.Node | None) -> ir.Expr | None:
        """``f'(x)``, ``\\sigma'(z)``: the derivative of a function of a scalar, or the transpose of its value.
        The note may mean either (DESIGN.md, readings), so both are kept."""
        applied = self.function_call(item.base, following)
        if applied is None or not isinstance(following, ast.Delimited) or len(following.items) != 1:
            return None
        where: Any = {"start": item.start, "end": following.end}
        argument = following.items[0]
        if not isinstance(argument, ast.Name):
            return ir.Unsupported("the derivative of a function at an expression (f'(Wx)); name the argument", **where)
        derivative = ir.Deriv(applied, ir.Wrt(self.key(argument)), **where)
        transposed = ir.Unary("transpose", applied, **where)
        return ir.Readings((derivative, transposed), ("`'` as the derivative", "`'` as a transpose"), **where)

    def bare_gradient(self, item: ast.Node, rest: tuple[ast.Node, ...]) -> tuple[ir.Expr, int] | None:
        """``\\nabla f(x)``, ``\\nabla^2 f(x)``, ``J_f(x)``, ``\\operatorname{D}f(x)``: an operator without a
        subscript, by the one variable the function is applied to. ``J`` and ``D`` give the Jacobian
        (numerator layout, Magnus–Neudecker), ``\\nabla`` the gradient, ``\\nabla^2`` the Hessian."""
        order, gradient, layout = 0, False, None
        if isinstance(item, ast.Nabla):
            order, gradient = 1, True
        elif isinstance(item, ast.Sup) and isinstance(item.base, ast.Nabla):
            exponent = item.exponent
            order = 2 if isinstance(exponent, ast.Number) and exponent.text == "2" else 0
        elif isinstance(item, ast.Name) and item.text == "D" and item.font == "rm" and "D" not in self.scope.variables:
            order, layout = 1, "numerator"
        if order == 0 or not rest:
            return None
        operand = self.function_call(rest[0], rest[1]) if len(rest) >= 2 else None
        consumed = 2
        if operand is None:
            operand, consumed = self.expr(rest[0]), 1
        if not isinstance(operand, ir.Call) or len(operand.args) != 1 or not isinstance(operand.args[0], ir.Var):
            return None
        wrt = ir.Wrt(operand.args[0].key)
        where: Any = {"start": item.start, "end": operand.end}
        result: ir.Expr = operand
        for _ in range(order):
            result = ir.Deriv(result, wrt, gradient and order == 1, layout, **where)
        return result, consumed

    def jacobian_call(self, item: ast.Node, following: ast.Node | None) -> ir.Expr | None:
        """``J_f(x)``: the Jacobian of the function f at x (numerator layout), when J is not a name of the note."""
        if not (isinstance(item, ast.Sub) and isinstance(item.base, ast.Name) and item.base.text == "J"):
            return None
        if "J" in self.scope.variables or "J" in self.scope.functions or not isinstance(item.index, ast.Name):
            return None
        if self.key(item.index) not in self.scope.functions:
            return None
        applied = self.function_call(item.index, following)
        if not isinstance(applied, ir.Call) or len(applied.args) != 1 or not isinstance(applied.args[0], ir.Var):
            return None
        where: Any = {"start": item.start, "end": applied.end}
        return ir.Deriv(applied, ir.Wrt(applied.args[0].key), False, "numerator", **where)

    # Derivatives ------------------------------------------------------------------------------------------

    def derivative_operator(self, node: ast.Node) -> tuple[ir.Wrt, bool] | Operator | ir.Unsupported | None:
        """``\\frac{\\partial}{\\partial W}``, ``\\partial_X``, ``\\nabla_X``: operators on what follows; second
        derivatives ``\\frac{\\partial^2}{\\partial x\\,\\partial x^T}``, ``\\nabla^2_x`` give two."""
        if isinstance(node, ast.Frac) and self.is_bare_differential(node.numerator):
            return self.wrt(node.denominator)
        if isinstance(node, ast.BinOp) and node.op == "div" and self.is_bare_differential(node.left):
            # d/dx written inline, acting on what follows.
            return self.wrt(node.right)
        if isinstance(node, ast.Frac) and (functional := self.functional_derivative(node)) is not None:
            return self.derivative_operator(functional)
        if isinstance(node, ast.Frac) and self.is_second_differential(node.numerator):
            return self.second_wrt(node.denominator)
        hessian = self.hessian_operator(node)
        if hessian is not None:
            return hessian
        if isinstance(node, ast.Sub) and isinstance(node.base, ast.Partial | ast.Nabla):
            target = self.wrt_target(node.index)
            if target is None:
                return ir.Unsupported("a derivative with respect to something that is not a variable")
            return target[0], isinstance(node.base, ast.Nabla)
        return None

    def is_bare_differential(self, node: ast.Node) -> bool:
        return isinstance(node, ast.Partial) or self.is_differential_d(node)

    def is_second_differential(self, node: ast.Node) -> bool:
        """``\\partial^2`` or ``d^2``."""
        return (
            isinstance(node, ast.Sup)
            and self.is_bare_differential(node.base)
            and isinstance(node.exponent, ast.Number)
            and node.exponent.text == "2"
        )

    def second_wrt(self, denominator: ast.Node) -> Operator | ir.Unsupported:
        """The denominator of a second derivative: ``\\partial x^2``, ``\\partial x\\,\\partial x^T``, ``dx_i dx_j``.
        A transpose on a variable there only marks the Hessian's layout, which a scalar's Hessian (symmetric)
        does not need; the outer derivative comes first, as in ∂/∂x (∂f/∂y)."""
        items = list(denominator.items) if isinstance(denominator, ast.Juxt) else [denominator]
        targets: list[ast.Node] = []
        marked: list[int] = []
        index = 0
        while index < len(items):
            item = items[index]
            if not self.is_bare_differential(item) or index + 1 >= len(items):
                return ir.Unsupported("a second derivative whose denominator is not understood")
            target = items[index + 1]
            if isinstance(target, ast.Transpose) and not target.inverse:
                marked.append(len(targets))
                target = target.base
            if isinstance(target, ast.Sup) and isinstance(target.exponent, ast.Number) and target.exponent.text == "2":
                targets.extend((target.base, target.base))
            else:
                targets.append(target)
            index += 2
        if len(targets) != 2:
            return ir.Unsupported("a second derivative whose denominator is not two variables")
        found = [self.wrt_target(target) for target in targets]
        if any(one is None for one in found):
            return ir.Unsupported("a second derivative with respect to something that is not a variable")
        # ∂x ∂y^T puts x down the rows (the nested derivatives in denominator layout), ∂x^T ∂y across them.
        layout = "denominator" if marked == [1] else "numerator" if marked == [0] else None
        return Operator(tuple((one[0], False) for one in found if one is not None), layout)

    def hessian_operator(self, node: ast.Node) -> Operator | ir.Unsupported | None:
        """``\\nabla^2_x``, ``\\nabla_x^2``, ``\\nabla_x \\nabla_x^T``: the Hessian by x."""
        subscript: ast.Node | None = None
        if isinstance(node, ast.Sub) and isinstance(node.base, ast.Sup) and isinstance(node.base.base, ast.Nabla):
            power, subscript = node.base, node.index
        elif isinstance(node, ast.Sup) and isinstance(node.base, ast.Sub) and isinstance(node.base.base, ast.Nabla):
            power, subscript = node, node.base.index
        else:
            return None
        if not (isinstance(power.exponent, ast.Number) and power.exponent.text == "2"):
            return None
        target = self.wrt_target(subscript)
        if target is None:
            return ir.Unsupported("a Hessian with respect to something that is not a variable")
        return Operator(((target[0], False), (target[0], False)))

    def wrt(self, denominator: ast.Node) -> tuple[ir.Wrt, bool] | Operator | ir.Unsupported:
        if (
            isinstance(denominator, ast.Juxt)
            and len(denominator.items) == 2
            and self.is_bare_differential(denominator.items[0])
        ):
            variable = denominator.items[1]
            if isinstance(variable, ast.Transpose) and not variable.inverse:
                # ∂f/∂x^T and ∂f/∂x': the numerator-layout marker (Jacobian rows are f, columns x).
                marked = self.wrt_target(variable.base)
                if marked is not None:
                    return Operator((marked,), "numerator")
            target = self.wrt_target(variable)
            if target is not None:
                return target
        return ir.Unsupported("a derivative whose denominator is not ∂ of one variable")

    def wrt_target(self, node: ast.Node) -> tuple[ir.Wrt, bool] | None:
        layer = layer_name(node, self.scope.unify_fonts)
        if layer is not None and not layer[1]:
            return ir.Wrt(layer[0]), False
        if isinstance(node, ast.Func) and node.name == "vec":
            argument = node.arg
            if isinstance(argument, ast.Delimited) and len(argument.items) == 1:
                argument = argument.items[0]
            if isinstance(argument, ast.Name):
                return ir.Wrt(self.key(argument), vec=True), False
            return None
        if isinstance(node, ast.Name):
            return ir.Wrt(self.key(node)), False
        if isinstance(node, ast.Sub) and isinstance(node.base, ast.Name):
            key = self.key(node.base)
            spelled = node_text(node.index)
            if spelled is not None and f"{key}_{spelled}" in self.scope.variables:
                return ir.Wrt(f"{key}_{spelled}"), False
            alias = self.entry_alias(key)
            if alias is not None:
                key = alias
            axes = 2 if node.base.text.isupper() or key in self.scope.matrices else None
            refs = self.index_refs(node.index, axes)
            if refs is None:
                return None
            return ir.Wrt(key, refs), False
        return None

    def make_derivative(self, operand: ir.Expr, operator: object, node: ast.Node) -> ir.Expr:
        if isinstance(operator, ir.Unsupported):
            return ir.Unsupported(operator.reason, start=node.start, end=node.end)
        if isinstance(operator, Operator):
            # The innermost derivative is the last written: ∂²f/∂x∂y = ∂/∂x (∂f/∂y).
            for wrt, gradient in reversed(operator.steps):
                operand = ir.Deriv(operand, wrt, gradient, operator.layout, start=node.start, end=operand.end)
            return operand
        assert isinstance(operator, tuple)
        wrt, gradient = operator
        return ir.Deriv(operand, wrt, gradient, start=node.start, end=operand.end)

    def strip_differential(self, node: ast.Node) -> ast.Node | None:
        """``\\partial x \\odot x`` parses as ``(\\partial x) \\odot x``: the operand without its ∂."""
        if isinstance(node, ast.Juxt) and self.is_bare_differential(node.items[0]):
            rest = node.items[1:]
            return rest[0] if len(rest) == 1 else ast.Juxt(rest, start=rest[0].start, end=rest[-1].end)
        if isinstance(node, ast.BinOp):
            left = self.strip_differential(node.left)
            if left is not None:
                return ast.BinOp(node.op, left, node.right, start=left.start, end=node.end)
        return None

    def functional_derivative(self, node: ast.Frac) -> ast.Frac | None:
        """``\\frac{\\delta F}{\\delta X}`` (the variational spelling): the same fraction with ``\\partial``, when
        both the numerator and the denominator start with a plain δ and the note has no δ of its own."""
        if "delta" in self.scope.variables:
            return None

        def is_delta(item: ast.Node) -> bool:
            return isinstance(item, ast.Name) and item.text == "delta" and not item.font

        def replaced(part: ast.Node) -> ast.Node | None:
            if is_delta(part):
                return ast.Partial(start=part.start, end=part.end)
            if isinstance(part, ast.Juxt) and part.items and is_delta(part.items[0]):
                head = ast.Partial(start=part.items[0].start, end=part.items[0].end)
                return ast.Juxt((head, *part.items[1:]), start=part.start, end=part.end)
            return None

        numerator, denominator = replaced(node.numerator), replaced(node.denominator)
        if numerator is None or denominator is None or not isinstance(denominator, ast.Juxt):
            return None
        return ast.Frac(numerator, denominator, start=node.start, end=node.end)

    def fraction(self, node: ast.Frac) -> ir.Expr:
        functional = self.functional_derivative(node)
        if functional is not None:
            node = functional
        numerator = node.numerator
        if isinstance(numerator, ast.BinOp):
            stripped = self.strip_differential(numerator)
            if stripped is not None:
                return self.make_derivative(self.expr(stripped), self.wrt(node.denominator), node)
        if isinstance(numerator, ast.Juxt) and self.is_bare_differential(numerator.items[0]):
            operator = self.wrt(node.denominator)
            rest = numerator.items[1:]
            operand = self.juxtaposition(rest, numerator) if len(rest) > 1 else self.expr(rest[0])
            return self.make_derivative(operand, operator, node)
        if isinstance(numerator, ast.Juxt) and self.is_second_differential(numerator.items[0]):
            rest = numerator.items[1:]
            operand = self.juxtaposition(rest, numerator) if len(rest) > 1 else self.expr(rest[0])
            return self.make_derivative(operand, self.second_wrt(node.denominator), node)
        if isinstance(numerator, ast.Sup) and isinstance(numerator.base, ast.Partial):
            if self.is_second_differential(numerator):
                return self.unsupported(node, "a derivative operator with nothing to act on")
            return self.unsupported(node, "derivatives of order three or more are not checked yet")
        if self.is_bare_differential(numerator):
            return self.unsupported(node, "a derivative operator with nothing to act on")
        return ir.Binary("div", self.expr(numerator), self.expr(node.denominator), start=node.start, end=node.end)

    # Everything else -------------------------------------------------------------------------------------

    def items_expr(self, node: ast.Delimited) -> ir.Expr:
        if len(node.items) == 1:
            return self.expr(node.items[0])
        return self.unsupported(node, "a list where one expression was expected")

    def delimited(self, node: ast.Delimited) -> ir.Expr:
        where: Any = {"start": node.start, "end": node.end}
        if node.separator == "\\\\" and node.kind in ("()", "[]") and len(node.items) > 1:
            # [x_1 \\ \vdots \\ x_n]: a column vector written in brackets, like a one-column bmatrix.
            return self.matrix(ast.Matrix("bmatrix", tuple((item,) for item in node.items), **where))
        if node.kind in ("()", "{}") or (node.kind == "[]" and len(node.items) == 1):
            if len(node.items) != 1:
                return self.unsupported(node, "a tuple of several expressions")
            return self.expr(node.items[0])
        if node.kind == "[]":
            if any(isinstance(item, ast.Dots) for item in node.items):
                pattern = self.pattern((tuple(node.items),), node)
                return pattern or self.unsupported(node, "a row written with an ellipsis")
            return ir.MatrixLit((tuple(self.expr(item) for item in node.items),), **where)
        if node.kind == "||":
            return ir.Unary("abs", self.items_expr(node), **where)
        if node.kind == "‖‖":
            return ir.Norm(self.items_expr(node), "2", **where)
        if node.kind == "⟨⟩":
            if len(node.items) != 2:
                return self.unsupported(node, "an inner product needs two arguments")
            return ir.Binary("frob", self.expr(node.items[0]), self.expr(node.items[1]), **where)
        return self.unsupported(node, "an unknown bracket")

    def superscript(self, node: ast.Sup) -> ir.Expr:
        where: Any = {"start": node.start, "end": node.end}
        layer = layer_name(node, self.scope.unify_fonts)
        if layer is not None:
            variable = ir.Var(layer[0], **where)
            return ir.Unary("transpose", variable, **where) if layer[1] else variable
        exponent = node.exponent
        base_node = node.base
        is_e = isinstance(base_node, ast.Name) and base_node.text == "e" and not base_node.font
        if is_e and "e" not in self.scope.variables:
            return ir.Unary("exp", self.expr(exponent), **where)
        if isinstance(exponent, ast.Name) and exponent.text == "dagger" and not exponent.font:
            # X^\dagger, X^+: the Moore-Penrose pseudo-inverse.
            return ir.Unary("pinv", self.expr(base_node), **where)
        if (
            isinstance(base_node, ast.Func)
            and base_node.call
            and base_node.name in POWER_AMBIGUOUS
            and base_node.sub is None
            and base_node.power is None
        ):
            return self.function_power(base_node, exponent, node)
        return self.power(self.expr(base_node), base_node, exponent, node)

    def power(self, base: ir.Expr, base_node: ast.Node, exponent: ast.Node, node: ast.Node) -> ir.Expr:
        """``base`` raised to what ``exponent`` says: a number (``-1`` is the inverse, ``1/2`` a fractional
        power), a dimension (``det(A)^n``) or a symbolic integer such as ``n - 1`` or ``X^k``."""
        where: Any = {"start": node.start, "end": node.end}
        value = number_value(exponent)
        if value == -1.0:
            return ir.Unary("inverse", base, **where)
        if value is not None and value < 0 and value.is_integer():
            return ir.Power(ir.Unary("inverse", base, **where), -value, **where)
        if value is not None:
            return ir.Power(base, value, **where)
        if isinstance(exponent, ast.Name) and exponent.text in self.scope.dims:
            return ir.Power(base, exponent.text, **where)
        if self.symbolic_exponent(exponent, base_node):
            return ir.Power(base, self.expr(exponent), **where)
        return self.unsupported(node, "a superscript that is not a transpose, an inverse or a power")

    def symbolic_exponent(self, exponent: ast.Node, base_node: ast.Node) -> bool:
        """Whether ``exponent`` is arithmetic on numbers and on letters that name a power: ``n - 1``, ``2n``,
        ``\\alpha``, ``-n/2``; ``k`` only on a matrix (``X^k``: on a scalar or a vector it is as often an
        iterate, ``x^{k+1}``). ``t``, ``i``, ``j`` and ``l`` are iterates, indices or a transpose, never a power."""
        matrix = any(
            isinstance(inner, ast.Name) and inner.text[:1].isupper() and len(inner.text) == 1
            for inner in ast.walk(base_node)
        )
        for inner in ast.walk(exponent):
            if isinstance(inner, ast.Name):
                text = inner.text
                if text in self.scope.dims:
                    continue
                if inner.font in DISTINCT_FONTS or not (
                    text in POWER_LETTERS or text in GREEK_EXPONENTS or (text == "k" and matrix)
                ):
                    return False
            elif isinstance(inner, ast.BinOp):
                if inner.op not in ("+", "-", "div", "cdot"):
                    return False
            elif not isinstance(inner, ast.Number | ast.Neg | ast.Juxt | ast.Frac):
                return False
        return True

    def function_power(self, function: ast.Func, exponent: ast.Node, node: ast.Sup) -> ir.Expr:
        """``\\mathrm{tr}(X + A)^{-1}``: the power of the trace, or the trace of the power. Both readings."""
        where: Any = {"start": node.start, "end": node.end}
        outside = self.power(self.function(function), function, exponent, node)
        argument = function.arg
        if isinstance(argument, ast.Delimited) and len(argument.items) == 1:
            argument = argument.items[0]
        inside_power = self.power(self.expr(argument), argument, exponent, node)
        if isinstance(outside, ir.Unsupported) or isinstance(inside_power, ir.Unsupported):
            return outside
        inside = ir.Unary(function.name, inside_power, **where)
        written = _exponent_text(exponent)
        names = (f"{function.name}((…)^{written})", f"({function.name}(…))^{written}")
        return ir.Readings((inside, outside), names, **where)

    def big_operator(self, node: ast.BigOp) -> ir.Expr:
        where: Any = {"start": node.start, "end": node.end}
        labels: tuple[str, ...] = ()
        lower_bound = 1
        lower = node.lower
        upper_node = node.upper
        if isinstance(lower, ast.Chain) and len(lower.parts) == 2 and lower.ops == ("in",) and upper_node is None:
            # \sum_{k \in [m]}, \sum_{k \in \{1, \ldots, m\}}: k runs from 1 to m.
            label_node, domain = lower.parts
            upper_node = _range_end(domain) if label_node is not None and domain is not None else None
            if upper_node is None:
                return self.unsupported(node, "a sum over a set that is not 1 to n")
            lower = label_node
        if isinstance(lower, ast.Chain) and len(lower.parts) == 2 and lower.ops == ("=",):
            label_node, start_node = lower.parts
            if isinstance(start_node, ast.Number) and start_node.text.isdigit():
                lower_bound = int(start_node.text)
            lower = label_node
        if lower is not None:
            refs = self.index_refs(lower, None)
            if refs is None or not all(isinstance(ref, str) and ref != ":" for ref in refs):
                return self.unsupported(node, "a sum whose index is not a letter")
            labels = tuple(str(ref) for ref in refs)
        upper = self.dimension(upper_node) if upper_node is not None else None
        body = self.expr(node.body)
        return ir.Sum(labels, upper, lower_bound, body, node.op == "prod", **where)

    def function(self, node: ast.Func) -> ir.Expr:
        where: Any = {"start": node.start, "end": node.end}
        if node.name in OPTIMA:
            return self.unsupported(node, f"`{node.name}` (an optimum or a limit) is not checked")
        if node.power is not None or node.sub is not None:
            return self.unsupported(node, f"`{node.name}` with a script")
        argument = node.arg
        if isinstance(argument, ast.Delimited) and argument.kind == "()" and len(argument.items) != 1:
            return self.unsupported(node, f"`{node.name}` of several arguments")
        operand = self.expr(argument)
        if node.name in MATRIX_FUNCTIONS:
            if node.name == "log" and isinstance(operand, ir.Unary) and operand.op == "det":
                return ir.Unary("logdet", operand.operand, **where)
            return ir.Unary(node.name, operand, **where)
        return self.unsupported(node, f"the function `{node.name}`")

    def pattern(self, rows: tuple[tuple[ast.Node | None, ...], ...], node: ast.Node) -> ir.Expr | None:
        found = matrix_pattern(rows)
        if found is None:
            return None
        body, labels, sizes = found
        orientation = "matrix" if len(labels) == 2 else ("column" if labels == ("_r",) else "row")
        return ir.Pattern(self.expr(body), labels, sizes, orientation, start=node.start, end=node.end)

    def ellipsis_sum(self, terms: list[ast.Node] | None, node: ast.Node) -> ir.Expr:
        found = sum_pattern(terms, "_k") if terms is not None else None
        if found is None:
            return self.unsupported(node, "a sum written with an ellipsis whose pattern is not clear")
        general, upper = found
        return ir.Sum(("_k",), upper, 1, self.expr(general), start=node.start, end=node.end)

    def matrix(self, node: ast.Matrix) -> ir.Expr:
        if any(cell is None or isinstance(cell, ast.Dots) for row in node.rows for cell in row):
            pattern = self.pattern(node.rows, node)
            if pattern is not None:
                return pattern
        rows = []
        for row in node.rows:
            cells = []
            for cell in row:
                if cell is None or isinstance(cell, ast.Dots):
                    return self.unsupported(node, "a matrix written with an ellipsis pattern")
                cells.append(self.expr(cell))
            rows.append(tuple(cells))
        if len({len(row) for row in rows}) != 1:
            return self.unsupported(node, "a matrix whose rows have different lengths")
        literal = ir.MatrixLit(tuple(rows), start=node.start, end=node.end)
        if node.env.startswith("vmatrix"):
            return ir.Unary("det", literal, start=node.start, end=node.end)
        return literal

    def expr(self, node: ast.Node) -> ir.Expr:
        where: Any = {"start": node.start, "end": node.end}
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.Number) and node.text == "1" and node.font in ("bf", "bb"):
            # \mathbf{1} with no size: the all-ones vector of whatever size the context needs.
            return ir.Ones(None, **where)
        if isinstance(node, ast.Number):
            try:
                return ir.Const(float(node.text), **where)
            except ValueError:
                return self.unsupported(node, "a number that cannot be read")
        if isinstance(node, ast.Sub):
            return self.subscript(node)
        if isinstance(node, ast.Sup):
            return self.superscript(node)
        if isinstance(node, ast.Transpose):
            inner = ir.Unary("transpose", self.expr(node.base), **where)
            return ir.Unary("inverse", inner, **where) if node.inverse else inner
        if isinstance(node, ast.Juxt):
            return self.juxtaposition(node.items, node)
        # ∂f/∂x and dy/dx written with a slash are derivatives, like \frac.
        if (
            isinstance(node, ast.BinOp)
            and node.op == "div"
            and (self.strip_differential(node.left) is not None or self.is_bare_differential(node.left))
        ):
            return self.fraction(ast.Frac(node.left, node.right, start=node.start, end=node.end))
        if isinstance(node, ast.BinOp):
            left, right = self.expr(node.left), self.expr(node.right)
            if node.op in ("+", "-"):
                terms = _terms(node)
                if terms is not None and any(isinstance(term, ast.Dots) for term in terms):
                    return self.ellipsis_sum(terms, node)
                if isinstance(node.left, ast.Dots) or isinstance(node.right, ast.Dots):
                    return self.unsupported(node, "a sum written with an ellipsis and a minus sign")
                return _add(left, right, 1 if node.op == "+" else -1, node)
            if node.op in ("cdot", "times"):
                return ir.Prod((left, right), dot=node.op == "cdot", **where)
            return ir.Binary(node.op, left, right, **where)
        if isinstance(node, ast.Neg):
            return ir.Unary("neg", self.expr(node.operand), **where)
        if isinstance(node, ast.Frac):
            return self.fraction(node)
        if isinstance(node, ast.Delimited):
            return self.delimited(node)
        if isinstance(node, ast.Func):
            return self.function(node)
        if isinstance(node, ast.Sqrt):
            return ir.Unary("sqrt", self.expr(node.arg), **where)
        if isinstance(node, ast.BigOp):
            return self.big_operator(node)
        if isinstance(node, ast.Matrix):
            return self.matrix(node)
        if isinstance(node, ast.Dots):
            return self.unsupported(node, "an ellipsis stands for terms that are not written out")
        if isinstance(node, ast.Partial | ast.Nabla):
            return self.unsupported(node, "a derivative symbol outside a derivative")
        if isinstance(node, ast.Text):
            return self.unsupported(node, f"the remark `{node.text}`")
        if isinstance(node, ast.Chain):
            return self.unsupported(node, "a relation inside an expression")
        return self.unsupported(node, "notation that is not understood")


def _range_end(domain: ast.Node) -> ast.Node | None:
    """The n of ``[n]`` or ``\\{1, \\ldots, n\\}``; None for any other set."""
    if not isinstance(domain, ast.Delimited):
        return None
    items = domain.items
    if domain.kind == "[]" and len(items) == 1:
        return items[0]
    if domain.kind == "{}" and len(items) == 3 and isinstance(items[1], ast.Dots):
        first = items[0]
        if isinstance(first, ast.Number) and first.text == "1":
            return items[2]
    return None


def number_value(node: ast.Node) -> float | None:
    """The value of an exponent written with numbers only: ``2``, ``-1``, ``1/2``, ``-\\frac{1}{2}``, ``0.5``."""
    if isinstance(node, ast.Number) and not node.font:
        try:
            return float(node.text)
        except ValueError:
            return None
    if isinstance(node, ast.Neg):
        inner = number_value(node.operand)
        return None if inner is None else -inner
    if isinstance(node, ast.Frac) or (isinstance(node, ast.BinOp) and node.op == "div"):
        top = number_value(node.numerator if isinstance(node, ast.Frac) else node.left)
        bottom = number_value(node.denominator if isinstance(node, ast.Frac) else node.right)
        if top is None or not bottom:
            return None
        return top / bottom
    return None


def _exponent_text(node: ast.Node) -> str:
    value = number_value(node)
    if value is not None:
        text = f"{value:g}"
        return text if len(text) == 1 else "{" + text + "}"
    if isinstance(node, ast.Name):
        return node.text
    return "{…}"


def _terms(node: ast.Node) -> list[ast.Node] | None:
    """The terms of a sum written with ``+`` only; None when a ``-`` is involved."""
    terms: list[ast.Node] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.BinOp) and current.op in ("+", "-"):
            if current.op == "-":
                return None
            stack.extend((current.right, current.left))
        else:
            terms.append(current)
    return terms


def _add(left: ir.Expr, right: ir.Expr, sign: int, node: ast.Node) -> ir.Expr:
    terms: tuple[ir.Expr, ...] = (left,)
    signs: tuple[int, ...] = (1,)
    if isinstance(left, ir.Add):
        terms, signs = left.terms, left.signs
    terms = (*terms, right)
    if all(_is_number(term) for term in terms):
        # Arithmetic on numbers, (1+1) + (1+1)^2 = 6: the 1 is the number one.
        return ir.Add(terms, (*signs, sign), start=node.start, end=node.end)
    # In a sum, diag(X) of a matrix is the diagonal matrix (2X^{-1} - diag(X^{-1})), not the vector, and a
    # nonzero constant is that constant in every entry (1 - σ(x) elementwise).
    terms = tuple(_broadcast_constant(_diagonal_matrix(term)) for term in terms)
    return ir.Add(terms, (*signs, sign), start=node.start, end=node.end)


def _is_number(expr: ir.Expr) -> bool:
    """Whether ``expr`` is made of written numbers only: ``2``, ``(1+1)^2``, ``\\frac{1}{2}``, ``-3``."""
    if isinstance(expr, ir.Const):
        return True
    if isinstance(expr, ir.Add):
        return all(_is_number(term) for term in expr.terms)
    if isinstance(expr, ir.Prod):
        return all(_is_number(factor) for factor in expr.factors)
    if isinstance(expr, ir.Power):
        return isinstance(expr.exponent, float) and _is_number(expr.base)
    if isinstance(expr, ir.Unary):
        return expr.op in ("neg", "sqrt", "abs", "inverse") and _is_number(expr.operand)
    if isinstance(expr, ir.Binary):
        return expr.op == "div" and _is_number(expr.left) and _is_number(expr.right)
    return False


def _broadcast_constant(term: ir.Expr) -> ir.Expr:
    if isinstance(term, ir.Const) and term.value != 0:
        ones = ir.Ones(None, square=True, start=term.start, end=term.end)
        return ir.Prod((term, ones), start=term.start, end=term.end)
    return term


def _diagonal_matrix(term: ir.Expr) -> ir.Expr:
    if isinstance(term, ir.Unary) and term.op == "diag":
        return ir.Unary("diagm", term.operand, start=term.start, end=term.end)
    if isinstance(term, ir.Prod) and any(isinstance(f, ir.Unary) and f.op == "diag" for f in term.factors):
        factors = tuple(_diagonal_matrix(factor) for factor in term.factors)
        return ir.Prod(factors, term.dot, start=term.start, end=term.end)
    return term


def lower(node: ast.Node, scope: Scope) -> ir.Expr:
    """The meaning of one side of a relation. Never raises."""
    try:
        return Lowerer(scope).expr(node)
    except RecursionError:
        return ir.Unsupported("an expression nested too deeply", start=node.start, end=node.end)
