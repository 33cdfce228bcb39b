"""`tensorlint derive` side by side with SymPy's matrix derivatives, on the same expressions in one run.

The expressions are the standard ones of ``tests/data/derive/expressions.txt`` (Matrix Cookbook entries,
layout-table entries, backpropagation steps). For each, the expression is parsed and lowered once by
tensorlint; the same IR is then turned into a SymPy matrix expression (``MatrixSymbol`` with symbolic
dimensions, ``Trace``, ``Determinant``, ``Inverse``, ``HadamardProduct``, elementwise functions through
``applyfunc``), and SymPy's ``expr.diff(X)`` is timed against tensorlint's derivation.

Both answers are then checked numerically, the same way: on two random instances (dimensions 3, 4, 5, 2,
…; square matrices well conditioned, vectors positive so that every function is defined), the full
derivative tensor is computed by central differences of the expression, and an answer is **right** when it
equals that tensor in some arrangement (any order of the axes, which covers both layouts, or the
Jacobian of ``vec F`` by ``vec X`` and its transpose), **wrong** when it evaluates to something else, and
**failed** when there is no answer or it cannot be evaluated. tensorlint's closed form is evaluated with
its numeric evaluator, SymPy's with ``lambdify``; the central differences use tensorlint's evaluator for the
expression, cross-checked against SymPy's ``lambdify`` of the same expression.

Times: SymPy's ``diff`` alone against tensorlint's symbolic work alone (differential, closed form, index
form and printing, without the numeric verification), and tensorlint's full ``derive`` (which verifies every
form on random instances before it shows it) for reference.

    python benchmarks/derive_vs_sympy.py [--verbose]

A benchmark measures, it does not fail: the exit code is 0 whatever the numbers are (2 when tensorlint or
SymPy cannot be imported).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

REPOSITORY = Path(__file__).resolve().parent.parent
DATA = REPOSITORY / "tests" / "data" / "derive" / "expressions.txt"
SIZES = [3, 4, 5, 2, 6, 7, 8]
TRIALS = 2
STEP = 1e-6
TOLERANCE = 1e-4

try:
    import sympy as sp
    from sympy.matrices.expressions.diagonal import DiagMatrix
    from sympy.printing.numpy import NumPyPrinter as _NumPyPrinter

    from tensorlint import derive as derive_module
    from tensorlint import ir
    from tensorlint.derive import DeriveError, Deriver, derive_latex, environment, parse_expression
    from tensorlint.model import Config
    from tensorlint.numeric import Evaluator, Instance
except ImportError as error:  # pragma: no cover - reported, not raised
    sys.stderr.write(f"derive_vs_sympy: cannot import {error.name}\n")
    sys.exit(2)


@dataclass
class Case:
    expression: str
    wrt: str
    lets: list[str]


def read_cases() -> list[Case]:
    cases = []
    for line in DATA.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        expression, wrt, *lets = line.partition(" => ")[0].split(" :: ")
        cases.append(Case(expression, wrt, lets))
    return cases


# tensorlint IR to SymPy ---------------------------------------------------------------------------------


class Unconvertible(Exception):
    pass


class ToSympy:
    """The SymPy matrix expression of an IR expression; 1×1 products become scalars (their trace)."""

    functions: ClassVar[dict[str, Callable[[Any], Any]]] = {
        "exp": sp.exp,
        "log": sp.log,
        "sqrt": sp.sqrt,
        "tanh": sp.tanh,
        "sin": sp.sin,
        "cos": sp.cos,
        "sinh": sp.sinh,
        "cosh": sp.cosh,
        "sigmoid": lambda value: 1 / (1 + sp.exp(-value)),
    }

    def __init__(self, deriver: Deriver, root: ir.Expr) -> None:
        self.deriver = deriver
        self.root = root
        self.dimensions: dict[str, sp.Symbol] = {}
        self.symbols: dict[str, Any] = {}

    def constant_shape(self, expr: ir.Expr) -> tuple[Any, ...]:
        """The size of ``1`` or ``I`` comes from where it stands: infer the whole expression again."""
        self.deriver.shapes.infer(self.root)
        shape = self.deriver.shapes.const_shapes.get(id(expr))
        if shape is None:
            raise Unconvertible("a constant of unknown size")
        return tuple(self.dim(dim) for dim in shape)

    def dim(self, dim: Any) -> Any:
        found = self.deriver.find(dim)
        if isinstance(found, int):
            return sp.Integer(found)
        if isinstance(found, str) and not found.startswith("?"):
            return self.dimensions.setdefault(found, sp.Symbol(found, integer=True, positive=True))
        raise Unconvertible(f"dimension {found}")

    def shape(self, expr: ir.Expr) -> tuple[Any, ...]:
        if self.deriver.is_scalar(expr):
            return ()
        return tuple(self.dim(dim) for dim in self.deriver.shape(expr))

    def symbol(self, key: str) -> Any:
        if key not in self.symbols:
            shape = self.shape(ir.Var(key))
            name = key.replace("@", "_")
            self.symbols[key] = sp.Symbol(name) if not shape else sp.MatrixSymbol(name, *shape)
        return self.symbols[key]

    def scalar(self, value: Any) -> Any:
        return sp.Trace(value) if isinstance(value, sp.MatrixExpr) else value

    def convert(self, expr: ir.Expr) -> Any:
        value = self.node(expr)
        if isinstance(value, sp.MatrixExpr) and value.shape == (1, 1):
            return self.scalar(value)
        return value

    def node(self, expr: ir.Expr) -> Any:
        convert = self.convert
        if isinstance(expr, ir.Var):
            return self.symbol(expr.key)
        if isinstance(expr, ir.Const):
            return sp.nsimplify(expr.value)
        if isinstance(expr, ir.Identity):
            rows = self.constant_shape(expr) if expr.dim is None else (self.dim(expr.dim),)
            return sp.Identity(rows[0])
        if isinstance(expr, ir.Ones):
            shape = self.constant_shape(expr)
            return sp.OneMatrix(*shape)
        if isinstance(expr, ir.Prod):
            scalars, chain = self.deriver.segments(list(expr.factors))
            value: Any = sp.Integer(1)
            for factor in scalars:
                value = value * convert(factor)
            if chain:
                product = chain[0] if len(chain) == 1 else ir.Prod(tuple(chain))
                matrices = [self.node(factor) for factor in chain]
                chained = matrices[0] if len(matrices) == 1 else sp.MatMul(*matrices)
                value = value * (self.scalar(chained) if self.deriver.is_scalar(product) else chained)
            return value
        if isinstance(expr, ir.Add):
            shape = self.shape(expr)
            total: Any = sp.Integer(0) if not shape else sp.ZeroMatrix(*shape)
            for term, sign in zip(expr.terms, expr.signs, strict=True):
                if shape and derive_module.is_broadcast_constant(term) is not None:
                    part: Any = sp.nsimplify(derive_module.is_broadcast_constant(term)) * sp.OneMatrix(*shape)
                else:
                    part = convert(term)
                total = total + sign * part
            return total
        if isinstance(expr, ir.Unary):
            return self.unary(expr)
        if isinstance(expr, ir.Power):
            if isinstance(expr.base, ir.Norm) and expr.exponent == 2.0:
                inner = self.node(expr.base.operand)
                return self.scalar(inner.T * inner) if isinstance(inner, sp.MatrixExpr) else inner**2
            base = convert(expr.base)
            exponent = sp.nsimplify(expr.exponent)
            return sp.MatPow(base, exponent) if isinstance(base, sp.MatrixExpr) else base**exponent
        if isinstance(expr, ir.Norm):
            inner = self.node(expr.operand)
            return sp.sqrt(self.scalar(inner.T * inner)) if isinstance(inner, sp.MatrixExpr) else sp.Abs(inner)
        if isinstance(expr, ir.Binary):
            left, right = convert(expr.left), convert(expr.right)
            matrices = isinstance(left, sp.MatrixExpr) and isinstance(right, sp.MatrixExpr)
            if expr.op == "div":
                return left * right**-1
            if expr.op == "kron" and matrices:
                return sp.KroneckerProduct(left, right)
            if expr.op == "hadamard":
                return sp.HadamardProduct(left, right) if matrices else left * right
            if expr.op == "frob":
                return self.scalar(left.T * right) if matrices else left * right
        raise Unconvertible(type(expr).__name__)

    def unary(self, expr: ir.Unary) -> Any:
        op = expr.op
        operand = self.convert(expr.operand)
        matrix = isinstance(operand, sp.MatrixExpr)
        if op == "neg":
            return -operand
        if op == "transpose":
            return operand.T if matrix else operand
        if op == "inverse":
            return sp.Inverse(operand) if matrix else 1 / operand
        if op == "tr":
            return sp.Trace(operand) if matrix else operand
        if op in ("det", "abs") and matrix:
            return sp.Determinant(operand)
        if op == "logdet":
            return sp.log(sp.Determinant(operand))
        if op in ("diag", "diagm") and matrix:
            return DiagMatrix(operand)
        if op == "softmax" and matrix:
            exponentials = operand.applyfunc(sp.exp)
            ones = sp.OneMatrix(1, operand.shape[0])
            return exponentials * (1 / sp.Trace(ones * exponentials))
        if op in self.functions:
            function = self.functions[op]
            return operand.applyfunc(function) if matrix else function(operand)
        raise Unconvertible(op)


# Numbers ------------------------------------------------------------------------------------------------


class Numbers:
    """Concrete dimensions and values shared by every evaluation of one case."""

    def __init__(self, deriver: Deriver, keys: list[str], seed: int) -> None:
        self.deriver = deriver
        rng = np.random.default_rng(seed)
        self.sizes: dict[Any, int] = {}
        pool = iter(SIZES)
        symbols = sorted(
            {str(deriver.find(dim)) for key in keys for dim in (deriver.shapes.name_shape(key) or ())} - {"1"}
        )
        for symbol in symbols:
            self.sizes[symbol] = next(pool)
        self.values: dict[str, np.ndarray] = {}
        for key in keys:
            shape = self.shape_of(key)
            if shape is None:
                continue
            if len(shape) == 2 and shape[0] == shape[1] and shape[0] > 1:
                value = rng.standard_normal(shape) * 0.3 + np.eye(shape[0])
                if "symmetric" in deriver.env.structures.get(key, set()):
                    value = (value + value.T) / 2
            elif shape:
                value = rng.uniform(0.5, 1.5, shape)
            else:
                value = np.array(rng.uniform(0.5, 1.5))
            self.values[key] = value

    def size(self, dim: Any) -> int:
        found = self.deriver.find(dim)
        if isinstance(found, int):
            return found
        if isinstance(found, tuple):
            total = 1
            for part in found[1:]:
                total *= self.size(part)
            return total
        if str(found) in self.sizes:
            return self.sizes[str(found)]
        raise Unconvertible(f"size of {found}")

    def shape_of(self, key: str) -> tuple[int, ...] | None:
        shape = self.deriver.shapes.name_shape(key)
        return None if shape is None else tuple(self.size(dim) for dim in shape)

    def evaluate(self, expr: ir.Expr, overrides: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """``expr`` on these numbers with tensorlint's evaluator."""
        shapes = self.deriver.shapes
        shapes.infer(expr)

        def const_shape(node: ir.Expr) -> tuple[int, ...] | None:
            found = shapes.const_shapes.get(id(node))
            return None if found is None else tuple(self.size(dim) for dim in found)

        instance = Instance(
            dims=self.size,
            shape_of=self.shape_of,
            const_shape=const_shape,
            label_size=lambda label: None,
            rng=np.random.default_rng(0),
            positive=set(),
        )
        instance.values.update(
            {key: value.astype(complex) for key, value in {**self.values, **(overrides or {})}.items()}
        )
        evaluator = Evaluator(instance, lambda key: None, lambda key: (), lambda key: None, "numerator")
        with np.errstate(all="ignore"):
            return np.asarray(evaluator.eval(expr).data.real, dtype=float)

    def reference(self, numerator: ir.Expr, wrt: str) -> np.ndarray:
        """The full derivative by central differences: F's natural axes, then X's."""
        point = self.values[wrt]
        base = squeeze(self.evaluate(numerator))
        columns = []
        for flat in range(point.size):
            step = np.zeros(point.size)
            step[flat] = STEP
            plus = self.evaluate(numerator, {wrt: point + step.reshape(point.shape)})
            minus = self.evaluate(numerator, {wrt: point - step.reshape(point.shape)})
            columns.append(squeeze((plus - minus) / (2 * STEP)))
        stacked = np.stack(columns, axis=-1)
        return stacked.reshape(base.shape + squeeze(point).shape)


def squeeze(array: np.ndarray) -> np.ndarray:
    return np.asarray(array, dtype=float).reshape(tuple(size for size in np.shape(array) if size != 1))


def matches(answer: np.ndarray, reference: np.ndarray, f_axes: int) -> bool:
    """Whether ``answer`` is the derivative in some arrangement: any order of the axes, or the Jacobian of
    vec F by vec X (columns stacked) and its transpose."""
    answer = squeeze(answer)
    scale = max(1.0, float(np.abs(reference).max(initial=0)))
    candidates = [np.transpose(reference, order) for order in itertools.permutations(range(reference.ndim))]
    if reference.ndim >= 3:
        f_shape, x_shape = reference.shape[:f_axes], reference.shape[f_axes:]
        order = list(reversed(range(f_axes))) + [f_axes + axis for axis in reversed(range(len(x_shape)))]
        jacobian = np.transpose(reference, order).reshape(int(np.prod(f_shape)), int(np.prod(x_shape)))
        candidates += [jacobian, jacobian.T]
    return any(
        candidate.shape == answer.shape and np.allclose(candidate, answer, rtol=TOLERANCE, atol=TOLERANCE * scale)
        for candidate in candidates
    )


# One case -----------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    ours: str = "failed"
    theirs: str = "failed"
    ours_seconds: float = 0.0
    ours_symbolic_seconds: float = 0.0
    theirs_seconds: float = 0.0
    note: str = ""


def symbolic_only(case: Case) -> float:
    """tensorlint's derivation with the numeric verification switched off: the symbolic work alone."""
    original = derive_module.verified_form

    def unverified(left: Any, expr: Any, env: Any, config: Any, layout: Any, style: Any, how: Any) -> Any:
        return derive_module.Form(derive_module.to_latex(expr, style), derive_module.to_text(expr), expr, True, how)

    derive_module.verified_form = unverified  # type: ignore[assignment]
    try:
        start = time.perf_counter()
        derive_latex(case.expression, case.wrt, case.lets)
        return time.perf_counter() - start
    finally:
        derive_module.verified_form = original  # type: ignore[assignment]


def run_case(case: Case) -> Outcome:
    outcome = Outcome()
    config = Config()
    start = time.perf_counter()
    result, _ = derive_latex(case.expression, case.wrt, case.lets)
    outcome.ours_seconds = time.perf_counter() - start
    outcome.ours_symbolic_seconds = symbolic_only(case)

    # The same setting again, for the conversion and the numbers.
    env, _ = environment(case.lets, config)
    numerator = parse_expression(case.expression, env, config, names_are_variables=True)
    assert numerator is not None
    wrt = result.wrt
    derive_module.assume_shapes(numerator, wrt, env)
    deriver = Deriver(env, config, wrt)
    try:
        expanded = deriver.expand(numerator)
        f_shape = deriver.shape(expanded)
    except DeriveError as error:
        outcome.note = str(error)
        return outcome
    f_axes = len(deriver.natural(f_shape))
    keys = sorted({node.key for node in ir.walk(expanded) if isinstance(node, ir.Var)} | {wrt})

    converter = ToSympy(deriver, expanded)
    try:
        sympy_expression = converter.convert(expanded)
        sympy_variable = converter.symbol(wrt)
    except (Unconvertible, DeriveError, TypeError, ValueError) as error:
        outcome.note = f"not expressible in SymPy ({error})"
        sympy_expression = None
    theirs: Any = None
    if sympy_expression is not None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                start = time.perf_counter()
                theirs = sympy_expression.diff(sympy_variable)
                outcome.theirs_seconds = time.perf_counter() - start
        except Exception as error:  # Any failure inside SymPy counts as a failure to answer.
            outcome.note = f"SymPy raised {type(error).__name__}"

    ours_right = result.closed_form is not None
    theirs_right = theirs is not None
    ours_evaluable = theirs_evaluable = True
    for trial in range(TRIALS):
        numbers = Numbers(deriver, keys, seed=trial)
        try:
            reference = numbers.reference(expanded, wrt)
        except Exception as error:
            outcome.note = f"no reference ({type(error).__name__})"
            return outcome
        if sympy_expression is not None and not cross_checked(sympy_expression, converter, numbers, expanded):
            outcome.note = "the SymPy form of the expression does not evaluate like tensorlint's"
        if result.closed_form is not None and ours_evaluable:
            try:
                ours_value = numbers.evaluate(result.closed_form.expr)
                ours_right = ours_right and matches(ours_value, reference, f_axes)
            except Exception:
                ours_evaluable = False
        if theirs is not None and theirs_evaluable:
            try:
                theirs_value = evaluate_sympy(theirs, converter, numbers)
                theirs_right = theirs_right and matches(theirs_value, reference, f_axes)
            except Exception:
                theirs_evaluable = False
    if result.closed_form is not None and ours_evaluable:
        outcome.ours = "right" if ours_right else "wrong"
    if theirs is not None and theirs_evaluable:
        outcome.theirs = "right" if theirs_right else "wrong"
    return outcome


class NumPyPrinter(_NumPyPrinter):  # type: ignore[misc]
    """SymPy's NumPy printer, with what it lacks for matrix expressions in SymPy 1.14: the trace,
    elementwise functions and diagonal matrices (so an answer is not counted as failed for want of a
    printer)."""

    def _print_Trace(self, expr: Any) -> str:
        return f"numpy.trace({self._print(expr.arg)})"

    def _print_ElementwiseApplyFunction(self, expr: Any) -> str:
        # NumPy's functions apply elementwise already: (lambda d: numpy.exp(d))(M).
        function = expr.function
        variable = self._print(function.variables[0])
        return f"(lambda {variable}: {self._print(function.expr)})({self._print(expr.expr)})"

    def _print_Determinant(self, expr: Any) -> str:
        return f"numpy.linalg.det({self._print(expr.arg)})"

    def _print_DiagMatrix(self, expr: Any) -> str:
        return f"numpy.diag(numpy.ravel({self._print(expr.arg)}))"


def evaluate_sympy(expression: Any, converter: ToSympy, numbers: Numbers) -> np.ndarray:
    """A SymPy expression on the case's numbers: by ``lambdify``, else by substituting explicit matrices."""
    sizes = {symbol: numbers.sizes[name] for name, symbol in converter.dimensions.items()}
    concrete = expression.xreplace(sizes)
    keys = list(converter.symbols)
    arguments = [converter.symbols[key].xreplace(sizes) for key in keys]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            function = sp.lambdify(arguments, concrete, modules="numpy", printer=NumPyPrinter)
            value = function(*[numbers.values[key] for key in keys])
        except Exception:
            explicit = {
                argument: sp.ImmutableMatrix(numbers.values[key]) if numbers.values[key].ndim else numbers.values[key]
                for argument, key in zip(arguments, keys, strict=True)
            }
            value = concrete.xreplace(explicit).doit()
            value = value.tolist() if hasattr(value, "tolist") else value
    return np.asarray(value, dtype=float)


def cross_checked(expression: Any, converter: ToSympy, numbers: Numbers, expanded: ir.Expr) -> bool:
    try:
        theirs = squeeze(evaluate_sympy(expression, converter, numbers))
        ours = squeeze(numbers.evaluate(expanded))
    except Exception:
        return False
    return theirs.shape == ours.shape and np.allclose(theirs, ours, rtol=1e-8, atol=1e-8)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--verbose", action="store_true", help="one line per expression")
    args = parser.parse_args()
    # SymPy warns about its own deprecations while it evaluates some of its answers.
    warnings.simplefilter("ignore")
    cases = read_cases()
    # Warm-up: imports, the grammar, SymPy's caches for the first expression.
    derive_latex("x^T x", "x")
    outcomes = []
    for case in cases:
        outcome = run_case(case)
        outcomes.append(outcome)
        if args.verbose:
            print(
                f"{outcome.ours:>6} {outcome.theirs:>6}  {case.expression} by {case.wrt}"
                + (f"  ({outcome.note})" if outcome.note else "")
            )
    count = len(outcomes)

    def tally(attribute: str, value: str) -> int:
        return sum(getattr(outcome, attribute) == value for outcome in outcomes)

    ours_symbolic = sum(outcome.ours_symbolic_seconds for outcome in outcomes)
    ours_total = sum(outcome.ours_seconds for outcome in outcomes)
    theirs_total = sum(outcome.theirs_seconds for outcome in outcomes)
    print(f"\n{count} expressions from {DATA.relative_to(REPOSITORY)}, each checked on {TRIALS} random instances\n")
    print("| | right | wrong | failed | time |")
    print("| --- | ---: | ---: | ---: | ---: |")
    print(
        f"| tensorlint derive | {tally('ours', 'right')} | {tally('ours', 'wrong')} | {tally('ours', 'failed')} "
        f"| {ours_symbolic:.2f} s symbolic, {ours_total:.2f} s with verification |"
    )
    print(
        f"| SymPy {sp.__version__} `diff` | {tally('theirs', 'right')} | {tally('theirs', 'wrong')} "
        f"| {tally('theirs', 'failed')} | {theirs_total:.2f} s |"
    )
    if ours_symbolic:
        print(
            f"\ntime ratio, SymPy diff / tensorlint symbolic: {theirs_total / ours_symbolic:.2f}; "
            f"tensorlint with verification / SymPy diff: {ours_total / max(theirs_total, 1e-9):.2f}"
        )
    notes = [outcome.note for outcome in outcomes if outcome.note.startswith("not expressible")]
    if notes:
        print(f"{len(notes)} expressions could not be written in SymPy (counted as SymPy failures)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
