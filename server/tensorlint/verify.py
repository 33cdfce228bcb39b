"""The numeric check of one claim: shapes first, then random instances under each layout convention.

A claim is ``wrong`` only when a concrete instance makes its sides differ; the message names the
dimensions, the entry and both values so a reader can check it by hand. Anything that cannot be evaluated
makes the claim ``uncheckable`` with the reason.
"""

from __future__ import annotations

import re
import time
import zlib
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from tensorlint import ir, symbolic
from tensorlint.numeric import EvalError, Evaluator, Instance, ShapeMismatch, Unsupported, Value, natural
from tensorlint.relations import INEQUALITIES
from tensorlint.relations import compare as compare_relation
from tensorlint.shapes import Declared, Dim, ShapeError, ShapeInference, show_dim, show_shape

if TYPE_CHECKING:
    from tensorlint.env import Environment
    from tensorlint.model import Config

POOLS = ([3, 4, 5, 2, 6, 7, 8, 9], [4, 2, 3, 5, 7, 6, 9, 8], [5, 3, 2, 4, 6, 8, 7, 9])
# Concrete sizes above this are not instantiated: W_{7,8} is fine, R^{10^{12}} is not.
MAX_DIMENSION = 64
# Square matrices that notes use as covariances or precisions without saying so: Σ, Λ.
CONVENTIONALLY_POSITIVE = ("Sigma", "Lambda")
POSITIVE_OPS = {"inverse", "logdet", "det", "log", "sqrt", "abs"}


@dataclass
class Outcome:
    verdict: str
    message: str = ""
    code: str | None = None
    layout_used: str | None = None
    # With layout_used: "gradient" (of a scalar) or "jacobian" (anything else), so the note's layout is
    # learnt per kind and the mixed ML habit (gradients like the variable, Jacobians numerator) is no conflict.
    layout_kind: str | None = None


@dataclass
class Result:
    status: str  # ok, wrong, shape, unsupported
    detail: str = ""


def first_unsupported(expr: ir.Expr) -> str | None:
    for node in ir.walk(expr):
        if isinstance(node, ir.Unsupported):
            return node.reason
    return None


def _whole_power(exponent: float | str | ir.Expr) -> bool:
    """A power defined for a base of any sign: a nonnegative integer or a dimension (x^2, det(A)^n). A
    negative, fractional or symbolic exponent (x^{-1}, x^{1/2}, p^y) asks for a positive base."""
    if isinstance(exponent, str):
        return True
    return isinstance(exponent, float | int) and exponent >= 0 and float(exponent).is_integer()


def has_derivative(expr: ir.Expr) -> bool:
    return any(isinstance(node, ir.Deriv) for node in ir.walk(expr))


def variables(expr: ir.Expr) -> set[str]:
    keys = {node.key for node in ir.walk(expr) if isinstance(node, ir.Var)}
    keys |= {node.wrt.key for node in ir.walk(expr) if isinstance(node, ir.Deriv)}
    return keys


class Checker:
    def __init__(self, left: ir.Expr, right: ir.Expr, op: str, env: Environment, config: Config, latex: str) -> None:
        self.left, self.right, self.op = left, right, op
        self.env, self.config, self.latex = env, config, latex
        # Definitions that do not fit this claim's shapes: such a name is read as a fresh variable, as the
        # document reuses names with new shapes (a soft conflict starts a new binding).
        self.deadline = time.monotonic() + max(0.01, config.claim_timeout)
        self.only_layout: str | None = None
        # A reading of the guesses: shapes tried for names nothing declares (the scalar reading of letters
        # whose spelling suggests a vector). Guesses, never stated facts.
        self.overrides: dict[str, Declared] = {}
        self.dropped: set[str] = set()
        self.ignored: set[str] = set()
        # Unknown scalar functions (a loss L known only through its derivatives), as random stand-ins.
        self.unknowns: dict[str, ir.Expr] = self.unknown_losses()
        self.shapes = self.new_inference()

    # Environment lookups ----------------------------------------------------------------------------------

    def declared(self, key: str) -> Any:
        if key in self.ignored:
            return None
        if key in self.overrides:
            return self.overrides[key]
        return self.env.declared.get(key)

    def definition(self, key: str) -> ir.Expr | None:
        if key in self.unknowns:
            return self.unknowns[key]
        if key in self.dropped:
            return None
        found = self.env.definitions.get(key)
        if found is None:
            return None
        # A function written bare after J(w) := … is J at the current w: its body, read with the variables
        # of the parameters' names.
        return found.expr

    def definition_labels(self, key: str) -> tuple[str, ...]:
        return self.env.definition_labels(key)

    def function(self, key: str) -> tuple[tuple[str, ...], ir.Expr] | None:
        if key in self.dropped:
            return None
        return self.env.function(key)

    def unknown_losses(self) -> dict[str, ir.Expr]:
        """``∂L/∂W = (∂L/∂y) x^T`` with ``L`` never defined: L is a random smooth scalar function of the most
        downstream of the names it is differentiated by (y here, since y depends on W). Only an unknown used
        on both sides is instantiated: ``∂L/∂x = 0`` alone states a condition, not an identity."""
        by_name: dict[str, set[str]] = {}
        sides: dict[str, set[int]] = {}
        for side, expr in enumerate((self.left, self.right)):
            for node in ir.walk(expr):
                if isinstance(node, ir.Deriv) and isinstance(node.numerator, ir.Var):
                    key = node.numerator.key
                    if key in self.env.declared or key in self.env.definitions:
                        continue
                    by_name.setdefault(key, set()).add(node.wrt.key)
                    sides.setdefault(key, set()).add(side)
        unknowns: dict[str, ir.Expr] = {}
        for key, wrt in by_name.items():
            if sides[key] != {0, 1}:
                continue
            downstream = sorted(
                name for name in wrt if not any(name in self.reachable({other}) - {other} for other in wrt)
            )
            unknowns[key] = ir.RandomFunction(key, tuple(ir.Var(name) for name in downstream))
        return unknowns

    def unknown_function_shape(self, key: str) -> tuple[str | int, ...] | None:
        declared = self.env.declared.get(key)
        if declared is None or declared.arguments is None or key in self.env.definitions:
            return None
        on_left = any(isinstance(node, ir.Call) and node.key == key for node in ir.walk(self.left))
        on_right = any(isinstance(node, ir.Call) and node.key == key for node in ir.walk(self.right))
        return tuple(declared.shape) if on_left and on_right else None  # type: ignore[arg-type]

    def reachable(self, keys: set[str]) -> set[str]:
        """Every name used by ``keys`` through definitions, ``keys`` included."""
        seen: set[str] = set()
        stack = list(keys)
        while stack:
            key = stack.pop()
            if key in seen:
                continue
            seen.add(key)
            found = self.env.definitions.get(key)
            if found is not None:
                stack.extend(variables(found.expr))
        return seen

    # The check --------------------------------------------------------------------------------------------

    def run(self) -> Outcome:
        for _ in range(4):
            outcome = self.attempt()
            if outcome is not None:
                return outcome
        return Outcome("uncheckable", "not checked: the definitions used here do not fit together")

    def new_inference(self) -> ShapeInference:
        inference = ShapeInference(self.declared, self.definition, self.definition_labels, self.function)
        inference.ignored = set(self.ignored)
        return inference

    def soft_names(self, names: set[str]) -> set[str]:
        """Names declared only softly (by entries) that explicit ranges in this claim may override."""
        has_ranges = any(
            isinstance(node, ir.Sum) and node.upper is not None
            for expr in (self.left, self.right)
            for node in ir.walk(expr)
        )
        if not has_ranges:
            return set()
        return {key for key in names if (found := self.env.declared.get(key)) is not None and found.soft} - self.ignored

    def owner(self, expr: ir.Expr | None) -> str | None:
        """The defined name whose definition contains ``expr``."""
        if expr is None:
            return None
        for key, found in self.env.definitions.items():
            if key not in self.dropped and any(node is expr for node in ir.walk(found.expr)):
                return key
        return None

    def attempt(self) -> Outcome | None:
        reason = first_unsupported(self.left) or first_unsupported(self.right)
        if reason:
            return Outcome("uncheckable", f"not checked: {reason}")
        for expr in (self.left, self.right):
            for node in ir.walk(expr):
                if isinstance(node, ir.Deriv) and isinstance(node.numerator, ir.Var):
                    key = node.numerator.key
                    known = key in self.env.declared or key in self.env.definitions or key in self.unknowns
                    if not known:
                        return Outcome(
                            "uncheckable",
                            f"not checked: `{key}` is not defined in the note and appears on one side only, "
                            "so this is a condition on it rather than an identity",
                        )
        names = self.reachable(variables(self.left) | variables(self.right))
        for key in sorted(names):
            found = self.env.definitions.get(key)
            if found is not None:
                inner = first_unsupported(found.expr)
                if inner:
                    return Outcome("uncheckable", f"not checked: the definition of `{key}` uses {inner}")
        try:
            left_shape = self.shapes.infer(self.left)
            right_shape = self.shapes.infer(self.right)
            if left_shape is not None and right_shape is not None:
                self.same_shape(left_shape, right_shape)
            elif isinstance(self.left, ir.Deriv) and right_shape is not None:
                self.fit_derivative(self.left, right_shape)
            elif isinstance(self.right, ir.Deriv) and left_shape is not None:
                self.fit_derivative(self.right, left_shape)
        except ShapeError as error:
            own = {id(node) for node in ir.walk(self.left)} | {id(node) for node in ir.walk(self.right)}
            guessed = self.guessed_names(names)
            soft = self.soft_names(names)
            if soft:
                self.ignored |= soft
                self.shapes = self.new_inference()
                return None
            if self.op == "ne":
                return Outcome("verified", f"the two sides cannot be equal: {error}")
            if error.expr is not None and id(error.expr) in own and not guessed and "?" not in str(error):
                return Outcome("shape", f"the sides are not well-shaped: {error}", "TL101")
            owner = self.owner(error.expr)
            if owner is not None:
                self.dropped.add(owner)
                self.shapes = self.new_inference()
                return None
            return Outcome("uncheckable", f"not checked: {error}")
        layouts = (
            ["numerator", "denominator"] if has_derivative(self.left) or has_derivative(self.right) else ["numerator"]
        )
        if self.only_layout is not None and len(layouts) > 1:
            layouts = [self.only_layout]
        if len(layouts) > 1 and self.env.layout in layouts:
            # The note's own layout first: a claim that holds there is verified, whatever the other gives.
            first = self.trials(self.env.layout)
            if first.status == "ok":
                return self.decide({self.env.layout: first}, names)
            other = next(layout for layout in layouts if layout != self.env.layout)
            results = {self.env.layout: first, other: self.trials(other)}
            return self.decide(results, names)
        results = {layout: self.trials(layout) for layout in layouts}
        return self.decide(results, names)

    def fit_derivative(self, derivative: ir.Deriv, other: tuple) -> None:
        """Size the other side like the derivative in one of the layouts, so ``I`` in
        ``∂ tr(X)/∂X = I`` gets X's size. Nothing is decided here: the numeric check tries both layouts."""
        unifier = self.shapes.unifier
        numerator = self.shapes.infer(derivative.numerator)
        wrt = self.shapes.name_shape(derivative.wrt.key)
        if numerator is None or wrt is None or derivative.wrt.indices is not None:
            return
        if derivative.wrt.vec and len(wrt) == 2:
            wrt = (("*", wrt[0], wrt[1]), 1)
        candidates: list[tuple] = []

        def is_vector(shape: tuple) -> bool:
            return len(shape) == 2 and (unifier.find(shape[0]) == 1 or unifier.find(shape[1]) == 1)

        def length(shape: tuple) -> Dim:
            return shape[1] if unifier.find(shape[0]) == 1 else shape[0]

        scalar = numerator == () or (len(numerator) == 2 and all(unifier.find(d) == 1 for d in numerator))
        if scalar and len(wrt) == 2:
            candidates = [wrt, (wrt[1], wrt[0])]
        elif wrt == () and len(numerator) == 2:
            candidates = [numerator, (numerator[1], numerator[0])]
        elif is_vector(numerator) and is_vector(wrt):
            candidates = [(length(numerator), length(wrt)), (length(wrt), length(numerator))]
        for candidate in candidates:
            saved = dict(unifier.parent)
            try:
                self.same_shape(candidate, other)
                return
            except ShapeError:
                unifier.parent = saved

    def collapsed(self) -> set[str]:
        """Guessed names whose guessed shape the claim could fit only with a dimension of 1 (a vector guess
        used as a scalar, a matrix guess as 1×1): a reading no declaration supports (DESIGN.md, Evidence)."""
        unifier = self.shapes.unifier
        found = set()
        for key in self.guessed_names(set(self.shapes.names)):
            shape = self.shapes.names.get(key)
            if key in self.overrides or not shape:
                continue
            if any(isinstance(dim, str) and dim.startswith("?") and unifier.find(dim) == 1 for dim in shape):
                found.add(key)
        return found

    def guessed_names(self, names: set[str]) -> set[str]:
        """Names whose shape is only a guess from their spelling (nothing declares or defines them)."""
        env = self.env
        guessed = {key for key in names if key not in env.declared and key not in env.definitions}
        return guessed - set(self.unknowns)

    def same_shape(self, left: tuple, right: tuple) -> None:
        unifier = self.shapes.unifier
        left_natural = [dim for dim in left if unifier.find(dim) != 1]
        right_natural = [dim for dim in right if unifier.find(dim) != 1]
        if len(left_natural) != len(right_natural) or not all(
            unifier.unify(a, b) for a, b in zip(left_natural, right_natural, strict=True)
        ):
            raise ShapeError(
                f"the left side is a {show_shape(unifier.resolve(left))} and the right side a "
                f"{show_shape(unifier.resolve(right))}",
                self.left,
            )

    # Instances --------------------------------------------------------------------------------------------

    def instance(self, trial: int) -> tuple[Instance, dict[str, int]]:
        seed = zlib.crc32(f"{self.latex}#{trial}".encode())
        rng = np.random.default_rng(seed)
        unifier = self.shapes.unifier
        pool = list(POOLS[trial % len(POOLS)])
        assigned: dict[Any, int] = {}
        named: dict[str, int] = {}
        bounds: dict[Any, int] = {}
        for dim, position in unifier.bounds:
            root = unifier.find(dim)
            bounds[root] = max(bounds.get(root, 0), position)

        def size(dim: object) -> int:
            root = unifier.find(dim)  # type: ignore[arg-type]
            if isinstance(root, int):
                if root > MAX_DIMENSION:
                    raise Unsupported(f"a dimension of {root} is too large to test")
                return root
            if isinstance(root, tuple):
                total = 1
                for part in root[1:]:
                    total *= size(part)
                return total
            if root not in assigned:
                value = pool.pop(0) if pool else 2 + len(assigned)
                value = max(value, bounds.get(root, 0))
                if value > MAX_DIMENSION:
                    raise Unsupported(f"an index of {value} is too large to test")
                assigned[root] = value
                if isinstance(root, str) and not root.startswith("?"):
                    named[root] = value
            return assigned[root]

        def shape_of(key: str) -> tuple[int, ...] | None:
            shape = self.shapes.name_shape(key)
            return None if shape is None else tuple(size(dim) for dim in shape)

        def const_shape(expr: ir.Expr) -> tuple[int, ...] | None:
            shape = self.shapes.const_shapes.get(id(expr))
            return None if shape is None else tuple(size(dim) for dim in shape)

        def label_size(label: str) -> int | None:
            dim = self.shapes.labels.get(label)
            return None if dim is None else size(dim)

        # Resolve symbols in a stable order so the assignment does not depend on evaluation order.
        for symbol in sorted(self.env.dims):
            if symbol in {unifier.find(dim) for dim in self.all_dims()}:
                size(symbol)
        positive = self.positive_names()
        structures = {key: set(structure) for key, structure in self.env.structures.items()}
        if self.friendly:
            for key in self.reachable(variables(self.left) | variables(self.right)):
                shape = shape_of(key)
                if shape is None:
                    continue
                if all(size == 1 for size in shape):
                    positive.add(key)
                    continue
                square = len(shape) == 2 and shape[0] == shape[1]
                if square and key.split("@")[0].startswith(CONVENTIONALLY_POSITIVE):
                    structures.setdefault(key, set()).update(("symmetric", "positive"))
        instance = Instance(
            dims=size,
            shape_of=shape_of,
            const_shape=const_shape,
            label_size=label_size,
            rng=rng,
            positive=positive,
            all_ones=set(self.env.all_ones),
            structures=structures,
        )
        return instance, named

    def all_dims(self) -> list[Dim]:
        dims: list[Dim] = []
        for shape in self.shapes.names.values():
            if shape is not None:
                dims.extend(shape)
        return dims

    def positive_names(self) -> set[str]:
        exprs = [self.left, self.right]
        for key in self.reachable(variables(self.left) | variables(self.right)):
            found = self.env.definitions.get(key)
            if found is not None:
                exprs.append(found.expr)
        positive: set[str] = set()
        for expr in exprs:
            for node in ir.walk(expr):
                if isinstance(node, ir.Unary) and node.op in POSITIVE_OPS:
                    for inner in ir.walk(node.operand):
                        if isinstance(inner, ir.Var):
                            positive.add(inner.key)
                if isinstance(node, ir.Power) and not _whole_power(node.exponent):
                    for inner in ir.walk(node.base):
                        if isinstance(inner, ir.Var):
                            positive.add(inner.key)
        return positive

    def varying(self) -> set[str]:
        candidates = set()
        for expr in (self.left, self.right):
            for node in ir.walk(expr):
                if isinstance(node, ir.Differential):
                    operand = node.operand
                    while isinstance(operand, ir.Unary) and operand.op == "transpose":
                        operand = operand.operand
                    if isinstance(operand, ir.Var):
                        candidates.add(operand.key)
        independent = set()
        for key in candidates:
            depends = self.reachable({key}) - {key}
            if not depends & candidates:
                independent.add(key)
        return independent

    def readings(self) -> list[str]:
        """A gradient by a symmetric matrix has several readings in the literature; try each."""
        symmetric = {key for key, structure in self.env.structures.items() if "symmetric" in structure}
        for expr in (self.left, self.right):
            for node in ir.walk(expr):
                if isinstance(node, ir.Deriv) and node.wrt.key in symmetric and node.wrt.indices is None:
                    return ["unconstrained", "structured", "symmetrized"]
        return ["unconstrained"]

    def trials(self, layout: str) -> Result:
        results = []
        for reading in self.readings():
            result = self.reading_trials(layout, reading)
            if result.status == "ok":
                if reading != "unconstrained":
                    result.detail = f"with the {reading} reading of a derivative by a symmetric matrix"
                return result
            results.append(result)
        return results[0]

    def reading_trials(self, layout: str, reading: str) -> Result:
        self.current_layout = layout
        varying = self.varying()
        first_failure: Result | None = None
        for trial in range(max(1, self.config.trials)):
            try:
                instance, named = self.instance(trial)
                evaluator = Evaluator(instance, self.definition, self.definition_labels, self.function, layout, varying)
                evaluator.deadline = self.deadline
                evaluator.reading = reading
                evaluator.einstein = not self.einstein_off()
                evaluator.unknown_shape = self.unknown_function_shape
                with np.errstate(all="ignore"):
                    left = evaluator.eval_side(self.left, self.right)
                    evaluator.reset()
                    right = evaluator.eval_side(self.right, self.left)
            except ShapeMismatch as error:
                return Result("shape", str(error))
            except EvalError as error:
                return Result("unsupported", str(error))
            except (np.linalg.LinAlgError, ValueError, IndexError, ZeroDivisionError, OverflowError) as error:
                return Result("unsupported", f"evaluation failed ({type(error).__name__})")
            self.last_values = instance.values
            result = self.compare(left, right, named)
            if result.status == "unsupported":
                return result
            if result.status != "ok" and first_failure is None:
                first_failure = result
                break
        return first_failure or Result("ok")

    # Comparison -------------------------------------------------------------------------------------------

    def compare(self, left: Value, right: Value, named: dict[str, int]) -> Result:
        if left.tensor is not None or right.tensor is not None:
            return self.compare_tensor(left, right, named)
        one_sided = {label for label in left.repeated if label not in right.labels} | {
            label for label in right.repeated if label not in left.labels
        }
        left, right = self.contract(left, right), self.contract(right, left)
        if one_sided & (set(left.labels) ^ set(right.labels)):
            # With summation off, an index repeated on one side and absent from the other is an error
            # of notation, not a claim for every value of that index.
            return Result("unsupported", "the free indices of the two sides differ")
        if set(left.labels) != set(right.labels) and (
            not set(left.labels) <= set(right.labels) and not set(right.labels) <= set(left.labels)
        ):
            return Result("unsupported", "the free indices of the two sides differ")
        labels = tuple(dict.fromkeys(left.labels + right.labels))
        a = self.arrange(left, labels)
        b = self.arrange(right, labels)
        left_shape, right_shape = left.matrix_shape, right.matrix_shape
        for zero, other in ((a, b), (b, a)):
            # A written 0 is the zero of the other side's shape.
            if zero.ndim == len(labels) and not np.any(zero):
                zero_like = np.zeros_like(other)
                a, b = (zero_like, other) if zero is a else (other, zero_like)
                left_shape = right_shape = ()
                break
        if left_shape != right_shape:
            if natural(left_shape) == natural(right_shape) and natural(left_shape) == ():
                a = a.reshape(a.shape[: len(labels)])
                b = b.reshape(b.shape[: len(labels)])
            else:
                return Result("shape", f"a {describe(left_shape)} against a {describe(right_shape)}")
        try:
            a, b = np.broadcast_arrays(a, b)
        except ValueError:
            return Result("unsupported", "the index ranges of the two sides differ")
        return self.values(a, b, labels, named)

    def einstein_off(self) -> bool:
        """Whether Einstein summation is switched off, by a directive in the note or else the settings."""
        return (self.env.einstein or self.config.einstein) == "off"

    def contract(self, value: Value, other: Value) -> Value:
        """Einstein summation: an index repeated in a product and absent from the other side is summed."""
        data, labels = value.data, list(value.labels)
        if self.einstein_off():
            return Value(data, tuple(labels), frozenset(), value.tensor)
        for label in list(labels):
            if label in value.repeated and label not in other.labels:
                data = data.sum(axis=labels.index(label))
                labels.remove(label)
        return Value(data, tuple(labels), frozenset(), value.tensor)

    def arrange(self, value: Value, labels: tuple[str, ...]) -> np.ndarray:
        data = value.data
        order = [value.labels.index(label) for label in labels if label in value.labels]
        data = np.transpose(data, order + list(range(len(value.labels), data.ndim)))
        shape: list[int] = []
        sizes = iter(data.shape)
        for label in labels:
            shape.append(next(sizes) if label in value.labels else 1)
        shape.extend(data.shape[len(order) :])
        return data.reshape(shape)

    def values(self, a: np.ndarray, b: np.ndarray, labels: tuple[str, ...], named: dict[str, int]) -> Result:
        if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
            return Result("unsupported", "the values are not finite on the test instance")
        if self.op in INEQUALITIES:
            return self.inequality(a, b, named)
        a_real, b_real = a.real, b.real
        difference = np.abs(a_real - b_real)
        scale = max(1.0, float(np.abs(a_real).max(initial=0)), float(np.abs(b_real).max(initial=0)))
        tolerance = max(self.config.tolerance, 1e-9) * scale * 10
        if float(difference.max(initial=0)) <= tolerance:
            return Result("ok")
        position = np.unravel_index(int(np.argmax(difference)), difference.shape)
        entry = ", ".join(str(index + 1) for index in position)
        dims = ", ".join(f"{name}={value}" for name, value in sorted(named.items()))
        where = f" with {dims}" if dims else ""
        label_text = f" ({', '.join(labels)})" if labels else ""
        at = f" at entry{label_text} ({entry})" if position else ""
        return Result(
            "wrong",
            f"false{where}{at}: the left side is {a_real[position]:.4g}, the right side {b_real[position]:.4g}",
        )

    def compare_tensor(self, left: Value, right: Value, named: dict[str, int]) -> Result:
        tensor, other = (left, right) if left.tensor is not None else (right, left)
        if other.tensor is not None:
            if tensor.data.shape != other.data.shape:
                return Result("shape", "two derivative tensors of different shapes")
            return self.values(tensor.data, other.data, (), named)
        if other.labels:
            return Result("unsupported", "a derivative tensor compared with an indexed expression")
        assert tensor.tensor is not None
        f_shape, x_shape = tensor.tensor
        f_size, x_size = int(np.prod(f_shape)), int(np.prod(x_shape))
        data = tensor.data
        order = list(reversed(range(len(f_shape)))) + [len(f_shape) + axis for axis in reversed(range(len(x_shape)))]
        jacobian = np.transpose(data, order).reshape(f_size, x_size)
        form = jacobian if self.current_layout == "numerator" else jacobian.T
        if other.data.shape == form.shape:
            a, b = (form, other.data) if tensor is left else (other.data, form)
            return self.values(a, b, (), named)
        order_name = {3: "third", 4: "fourth"}.get(len(f_shape) + len(x_shape), f"order-{len(f_shape) + len(x_shape)}")
        return Result(
            "shape",
            f"is a {order_name}-order tensor; the other side is a {describe(other.matrix_shape)}",
        )

    def inequality(self, a: np.ndarray, b: np.ndarray, named: dict[str, int]) -> Result:
        """``a ≤ b`` (and friends) on one instance; see ``relations``."""
        scale = max(1.0, float(np.abs(a).max(initial=0)), float(np.abs(b).max(initial=0)))
        if max(float(np.abs(a.imag).max(initial=0)), float(np.abs(b.imag).max(initial=0))) > 1e-9 * scale:
            return Result("unsupported", "a side is not real on the test instance")
        tolerance = max(self.config.tolerance, 1e-9) * 10
        found = compare_relation(self.op, a.real, b.real, tolerance)
        if found.status == "ok":
            return Result("ok")
        if found.status == "undecided":
            return Result("unsupported", found.detail)
        dims = ", ".join(f"{name}={value}" for name, value in sorted(named.items()))
        where = f" with {dims}" if dims else ""
        values = ", ".join(self.shown_values())
        given = f" for {values}" if values else ""
        return Result("wrong", f"false{where}{given}: {found.detail}")

    def shown_values(self) -> list[str]:
        """The scalar values of the last instance, for a counterexample a reader can check by hand."""
        shown: list[str] = []
        for key, value in sorted(self.last_values.items()):
            if value.size == 1 and len(shown) < 6:
                shown.append(f"{key.split('@')[0]} = {float(value.real.reshape(-1)[0]):.4g}")
        return shown

    def friendly_counterexample(self, layout: str) -> Result:
        """The trials again with every scalar drawn positive (and Σ, Λ symmetric positive definite): the
        domain a note most often leaves implicit (step sizes, variances, probabilities, covariances)."""
        self.friendly = True
        try:
            return self.trials(layout)
        finally:
            self.friendly = False

    friendly = False
    last_values: dict[str, np.ndarray] = {}  # noqa: RUF012 (replaced per instance, never mutated)
    current_layout = "numerator"

    def decide(self, results: dict[str, Result], names: set[str]) -> Outcome:
        ok = [layout for layout, result in results.items() if result.status == "ok"]
        unsupported = [result for result in results.values() if result.status == "unsupported"]
        if self.op == "ne":
            if ok:
                # Equal on every instance is no proof that the sides are identical: tolerance never accuses.
                return Outcome("uncheckable", "not checked: the two sides are equal on every test instance")
            if unsupported:
                return Outcome("uncheckable", f"not checked: {unsupported[0].detail}")
            return Outcome("verified", "the two sides differ")
        if self.op in INEQUALITIES:
            return self.decide_inequality(results, names)
        if len(ok) == len(results):
            reading = next((result.detail for result in results.values() if result.detail), "")
            return Outcome("verified", f"holds on every test instance{' ' + reading if reading else ''}")
        if ok:
            layout = ok[0]
            env = self.env
            kind = self.derivative_kind()
            if env.layout is not None and env.layout != layout and layout_established(env, layout, kind):
                return Outcome(
                    "layout",
                    f"holds only in {layout} layout, but the document uses {env.layout} layout "
                    f"(set by {env.layout_source})",
                    "TL203",
                    layout,
                )
            reading = results[layout].detail
            if env.layout is not None and env.layout != layout:
                # The note never states its layout; earlier claims only suggested the other one (a guess).
                reading += f" (earlier claims read as {env.layout} layout; the note does not state one)"
            return Outcome(
                "verified",
                f"holds in {layout} layout{' ' + reading if reading else ''}",
                layout_used=layout,
                layout_kind=kind,
            )
        if unsupported:
            return Outcome("uncheckable", f"not checked: {unsupported[0].detail}")
        new_names = sorted(self.guessed_names(names) - self.env.known)
        wrong = [result for result in results.values() if result.status == "wrong"]
        if new_names:
            listed = ", ".join(f"`{name}`" for name in new_names)
            return Outcome("uncheckable", f"not checked: {listed} appears here for the first time")
        if wrong:
            return Outcome("wrong", wrong[0].detail, "TL201")
        layout = self.env.layout if self.env.layout in results else next(iter(results))
        detail = results[layout].detail + (f" (in {layout} layout)" if len(results) > 1 else "")
        guessed = sorted(self.guessed_names(names))
        if not guessed and self.unresolved():
            return Outcome("uncheckable", "not checked: the size of a constant such as I or 1 is not known here")
        if guessed:
            listed = ", ".join(f"`{name}`" for name in guessed)
            return Outcome("uncheckable", f"not checked: the shapes do not fit, but the shape of {listed} is a guess")
        return self.shape_outcome(detail)

    def derivative_kind(self) -> str:
        """``gradient`` when the claim's first derivative is of a scalar, else ``jacobian``."""
        for expr in (self.left, self.right):
            for node in ir.walk(expr):
                if isinstance(node, ir.Deriv):
                    try:
                        shape = self.shapes.infer(node.numerator)
                    except ShapeError:
                        return "jacobian"
                    if shape is not None:
                        resolved = self.shapes.unifier.resolve(shape)
                        if all(dim == 1 for dim in resolved):
                            return "gradient"
                    return "jacobian"
        return "jacobian"

    def decide_inequality(self, results: dict[str, Result], names: set[str]) -> Outcome:
        """Verified when the inequality holds on every instance in some layout; refuted (TL206) only when it
        fails in every layout, also with positive scalars (see ``friendly_counterexample``)."""
        ok = [layout for layout, result in results.items() if result.status == "ok"]
        if ok:
            where = f" in {ok[0]} layout" if len(results) > 1 and len(ok) < len(results) else ""
            return Outcome("verified", f"holds on every test instance{where}", layout_used=ok[0] if where else None)
        unsupported = [result for result in results.values() if result.status == "unsupported"]
        if unsupported:
            return Outcome("uncheckable", f"not checked: {unsupported[0].detail}")
        new_names = sorted(self.guessed_names(names) - self.env.known)
        if new_names:
            listed = ", ".join(f"`{name}`" for name in new_names)
            return Outcome("uncheckable", f"not checked: {listed} appears here for the first time")
        if any(result.status != "wrong" for result in results.values()):
            detail = next(iter(results.values())).detail
            return Outcome("uncheckable", f"not checked: {detail}")
        refutations = [self.friendly_counterexample(layout) for layout in results]
        friendly = refutations[0]
        if any(refutation.status != "wrong" for refutation in refutations):
            return Outcome(
                "uncheckable",
                "not checked: false for some values, but it holds when the scalars are positive (and Σ, Λ positive "
                "definite); state the domain "
                "of the variables to check it",
            )
        return Outcome("wrong", friendly.detail, "TL206")

    def is_scalar(self, key: str) -> bool:
        """Whether ``key`` is a scalar here (declared, defined or inferred as one; a guess is not enough)."""
        if key in self.guessed_names({key}):
            return False
        try:
            shape = self.shapes.name_shape(key)
        except ShapeError:
            return False
        if shape is None:
            return False
        unifier = self.shapes.unifier
        return all(unifier.find(dim) == 1 for dim in shape)

    def exact(self, outcome: Outcome) -> Outcome:
        """Refine a numeric verdict on a scalar claim with SymPy: "proved" for a verified one, an exact
        counterexample for a wrong one, and the proof that a ``\\neq`` claim's sides are identical (the only
        way one is refuted). SymPy never accuses alone: a wrong verdict needs the numeric check to agree."""
        equal_everywhere = self.op == "ne" and "equal on every test instance" in outcome.message
        if not (outcome.verdict in ("verified", "wrong") and self.op == "=") and not equal_everywhere:
            return outcome
        calculus = outcome.verdict == "verified"
        if self.unknowns or not symbolic.wanted(self.left, self.right, self.is_scalar, calculus):
            return outcome
        facts = symbolic.Facts(self.is_scalar, self.definition, self.function, self.positive_names())
        found = symbolic.decide(self.left, self.right, facts)
        if found is None:
            return outcome
        if equal_everywhere:
            if not found.proved:
                return outcome
            return Outcome("wrong", f"the two sides are identical ({found.message})", "TL206")
        if outcome.verdict == "verified":
            if not found.proved:
                return outcome
            return replace(outcome, message=f"{outcome.message}; {found.message}")
        if found.proved:
            # The numeric check and the proof disagree: a domain the instances missed. No accusation.
            return Outcome("uncheckable", "not checked: SymPy proves this identity but the numeric check disagrees")
        return replace(outcome, message=f"{outcome.message}; {found.message}")

    def unresolved(self) -> bool:
        """Whether a constant (I, 1, e_i) in the claim has a size nothing in the document fixes."""
        unifier = self.shapes.unifier
        for shape in self.shapes.const_shapes.values():
            for dim in unifier.resolve(shape):
                if isinstance(dim, str) and dim.startswith("?"):
                    return True
        return False

    def shape_outcome(self, detail: str) -> Outcome:
        derivative = next(
            (node for expr in (self.left, self.right) for node in ir.walk(expr) if isinstance(node, ir.Deriv)),
            None,
        )
        if derivative is not None and "tensor" in detail:
            numerator = self.shapes.infer(derivative.numerator)
            wrt = self.shapes.name_shape(derivative.wrt.key)
            on_left = any(node is derivative for node in ir.walk(self.left))
            other, side = (self.right, "right") if on_left else (self.left, "left")
            other_shape = self.shapes.infer(other)
            if numerator is not None and wrt is not None:
                unifier = self.shapes.unifier
                dims = [dim for dim in unifier.resolve(numerator) + unifier.resolve(wrt) if dim != 1]
                order = {3: "third", 4: "fourth"}.get(len(dims), f"order-{len(dims)}")
                text = "×".join(show_dim(dim) for dim in dims)
                other_text = show_shape(unifier.resolve(other_shape)) if other_shape is not None else "matrix"
                name = self.derivative_name(derivative)
                return Outcome(
                    "shape",
                    f"{name} is a {order}-order tensor {text}; the {side} side is {article(other_text)} {other_text}",
                    "TL202",
                )
        if derivative is None:
            return Outcome("shape", f"the two sides cannot be equal: {detail}", "TL101")
        return Outcome("shape", f"the derivative cannot have this shape: {detail}", "TL202")

    def derivative_name(self, derivative: ir.Deriv) -> str:
        numerator = self.latex_of(derivative.numerator)
        wrt = derivative.wrt.key.split("@")[0]
        return f"d({numerator})/d{wrt}"

    def latex_of(self, expr: ir.Expr) -> str:
        """A short plain rendering for messages: ``Wx``, ``W^Tx``, ``tr(AX)``; ``…`` when it gets long."""
        text = render(expr)
        return text if text and len(text) <= 40 else "…"


def render(expr: ir.Expr) -> str | None:
    if isinstance(expr, ir.Var):
        return expr.key.split("@")[0]
    if isinstance(expr, ir.Const):
        return f"{expr.value:g}"
    if isinstance(expr, ir.Prod):
        parts = [render(factor) for factor in expr.factors]
        return None if None in parts else "".join(part for part in parts if part)
    if isinstance(expr, ir.Unary):
        inner = render(expr.operand)
        if inner is None:
            return None
        wrapped = inner if len(inner) == 1 else f"({inner})"
        suffixes = {"transpose": "^T", "inverse": "^{-1}"}
        if expr.op in suffixes:
            return wrapped + suffixes[expr.op]
        if expr.op == "neg":
            return f"-{wrapped}"
        return f"{expr.op}({inner})"
    if isinstance(expr, ir.Pattern) and isinstance(expr.body, ir.Index):
        return render(expr.body.base)
    if isinstance(expr, ir.Add):
        parts = [render(term) for term in expr.terms]
        if None in parts:
            return None
        text = str(parts[0])
        for part, sign in zip(parts[1:], expr.signs[1:], strict=True):
            text += (" + " if sign > 0 else " - ") + str(part)
        return text
    return None


def article(noun: str) -> str:
    """``an n-vector``, ``a 3×4 matrix``: by the sound of the first letter or digit."""
    first = noun[:1]
    return "an" if first in "aefhilmnorsx8" or noun.startswith(("11", "18")) else "a"


def describe(shape: tuple[int, ...]) -> str:
    if shape == () or shape == (1, 1):
        return "scalar"
    if len(shape) == 2 and shape[1] == 1:
        return f"{shape[0]}-vector"
    if len(shape) == 2 and shape[0] == 1:
        return f"1×{shape[1]} row vector"
    return "×".join(str(size) for size in shape) + (" matrix" if len(shape) == 2 else " tensor")


def verify(
    left: ir.Expr,
    right: ir.Expr,
    op: str,
    env: Environment,
    config: Config,
    latex: str,
    *_: object,
    only_layout: str | None = None,
) -> Outcome:
    """The verdict on ``left op right`` (``op`` is ``=`` or ``ne``) in the document's environment.

    ``only_layout`` tries that layout alone: for checking a derived form that is meant for one layout.
    """
    checker = Checker(left, right, op, env, config, latex)
    checker.only_layout = only_layout
    try:
        implicit = implicit_intermediate(checker)
        if implicit is not None:
            return implicit
        # SymPy (symbolic.py) refines the numeric verdict of scalar calculus exactly (loaded only for such
        # claims); then the readings of guessed shapes and of names from other sections (Evidence, Scope).
        outcome = guess_readings(checker, checker.exact(checker.run()), only_layout)
        if outcome.verdict in FINDINGS:
            outcome = section_reading(checker, outcome, only_layout)
        return outcome
    except RecursionError:
        return Outcome("uncheckable", "not checked: the expression is nested too deeply")


FINDINGS = ("wrong", "shape", "layout")


def layout_established(env: Environment, other: str, kind: str) -> bool:
    """Whether the note's layout is evidence against a claim of ``kind`` (gradient, jacobian) that holds only
    in ``other``: stated (prose, a directive, the configuration), or shown by an earlier claim of the same
    kind and contradicted by none. A layout learnt from a gradient says nothing about Jacobians: the mixed
    habit of ML notes lays them out differently (DESIGN.md, Readings)."""
    if env.layout_fixed:
        return True
    if env.layout is None:
        return False
    return env.layout_votes.get(f"{env.layout}/{kind}", 0) >= 1 and not env.layout_votes.get(f"{other}/{kind}")


def vector_guesses(checker: Checker) -> list[str]:
    """The names of the claim whose shape is a guess from a lowercase Latin letter (a column vector)."""
    names = checker.guessed_names(set(checker.shapes.names))
    # A letter with entries (x_i) is an array, whatever its spelling.
    indexed = {
        node.base.key
        for expr in (checker.left, checker.right)
        for node in ir.walk(expr)
        if isinstance(node, ir.Index) and isinstance(node.base, ir.Var)
    }
    found = []
    for key in sorted(names - indexed):
        base = key.split("@")[0].split("_")[0]
        if len(base) == 1 and base.isascii() and base.isalpha() and base.islower():
            shape = checker.shapes.names.get(key)
            if shape is not None and len(shape) == 2 and shape[1] == 1 and not written_bold(base, checker.latex):
                found.append(key)
    return found


def written_bold(letter: str, latex: str) -> bool:
    """Whether the claim writes ``letter`` bold or with an arrow (``\\mathbf{x}``, ``\vec x``): a vector by
    notation, not a letter that may as well be a scalar."""
    pattern = r"\\(?:mathbf|boldsymbol|bm|vec|bf|mathbfit|pmb)\s*\{?\s*" + letter + r"(?![A-Za-z])"
    return re.search(pattern, latex) is not None


def listed(keys: list[str] | set[str]) -> str:
    return ", ".join(f"`{key.split('@')[0]}`" for key in sorted(keys))


def implicit_intermediate(checker: Checker) -> Outcome | None:
    """``dy/du`` where the note defined ``u = g(x)`` and ``y = f(g(x))`` (or ``y = sin(x^2)`` after
    ``u = x^2``): y depends on u through what u stands for, not by name, so reading u as independent
    (dy/du = 0) is not what the note means. Such a claim is not judged."""
    env = checker.env
    for expr in (checker.left, checker.right):
        for node in ir.walk(expr):
            if not (isinstance(node, ir.Deriv) and isinstance(node.numerator, ir.Var)):
                continue
            numerator, wrt = node.numerator.key, node.wrt.key
            if wrt not in env.definitions or numerator not in env.definitions or node.wrt.indices is not None:
                continue
            through_numerator = checker.reachable({numerator})
            if wrt in through_numerator:
                continue
            if (checker.reachable({wrt}) - {wrt}) & through_numerator:
                return Outcome(
                    "uncheckable",
                    f"not checked: `{numerator.split('@')[0]}` depends on `{wrt.split('@')[0]}` only through what "
                    f"`{wrt.split('@')[0]}` stands for; write `{numerator.split('@')[0]}` in terms of it to check this",
                )
    return None


def section_reading(checker: Checker, outcome: Outcome, only_layout: str | None) -> Outcome:
    """Scope (DESIGN.md): a finding that uses names whose meaning was fixed in another section stands only
    if it also fails with those names read fresh, as the examples of a new section reuse names."""
    env = checker.env
    names = checker.reachable(variables(checker.left) | variables(checker.right))
    # Functions too: ``y = f(g(x))`` uses f and g through y's definition.
    exprs = [checker.left, checker.right] + [env.definitions[key].expr for key in names if key in env.definitions]
    names |= {node.key for expr in exprs for node in ir.walk(expr) if isinstance(node, ir.Call)}
    foreign = env.foreign(names)
    if not foreign:
        return outcome
    fresh = Checker(checker.left, checker.right, checker.op, env, checker.config, checker.latex)
    fresh.only_layout = only_layout
    fresh.ignored = set(foreign)
    fresh.dropped = {key for key in foreign if key in env.definitions}
    fresh.shapes = fresh.new_inference()
    other = guess_readings(fresh, fresh.exact(fresh.run()), only_layout)
    if other.verdict in FINDINGS:
        return outcome
    where = ", ".join(f"{listed([key])} (line {env.origins[key].line})" for key in sorted(foreign))
    return Outcome(
        "uncheckable",
        f"not checked: false with the meaning given in another section to {where}; "
        "state it in this section to check it",
    )


def guess_readings(checker: Checker, outcome: Outcome, only_layout: str | None) -> Outcome:
    """Evidence (DESIGN.md): a verdict that rests on guessed shapes stands only if it holds in every reading
    of the guesses that usage allows. The readings tried: the spelling guesses, and the letters guessed to be
    vectors read as scalars. A reading that fits the claim only by giving a guessed name a dimension of 1 is
    no reading. A verdict that differs between readings is a hint that says what to declare."""
    vectors = vector_guesses(checker)
    collapsed = checker.collapsed()
    if not vectors and not collapsed:
        return outcome
    if outcome.verdict not in ("verified", *FINDINGS) and not collapsed:
        return outcome
    readings: list[tuple[str, Outcome, bool]] = [("as guessed", outcome, not collapsed)]
    # (the name "with `x` scalar" of the second reading appears in a verification's message)
    if vectors:
        scalar = Checker(checker.left, checker.right, checker.op, checker.env, checker.config, checker.latex)
        scalar.only_layout = only_layout
        scalar.overrides = {key: Declared(()) for key in vectors}
        scalar.shapes = scalar.new_inference()
        other = scalar.exact(scalar.run())
        readings.append((f"with {listed(vectors)} scalar", other, not scalar.collapsed()))
    valid = [(name, found) for name, found, ok in readings if ok and found.verdict in ("verified", *FINDINGS)]
    if not valid:
        if collapsed and outcome.verdict in ("verified", *FINDINGS):
            return Outcome(
                "uncheckable",
                f"not checked: the sides fit only if {listed(collapsed)} had a dimension of 1; "
                "declare the shapes to check it",
            )
        return outcome
    verdicts = {found.verdict for _, found in valid}
    undecided = [name for name, found, ok in readings if ok and found.verdict not in ("verified", *FINDINGS)]
    if verdicts == {"verified"}:
        name, found = valid[0]
        if name == "as guessed" or len(valid) > 1:
            return found
        return Outcome("verified", f"{found.message} ({name})", found.code, found.layout_used)
    if verdicts <= set(FINDINGS) and not undecided:
        # False in every reading of the guesses: the refutation does not rest on them.
        return valid[0][1]
    guessed = sorted(set(vectors) | collapsed)
    vector_reading = (
        f"if {listed(vectors or guessed)} {'is a vector' if len(vectors or guessed) == 1 else 'are vectors'}"
    )
    scalar_reading = f"if {listed(vectors)} {'is a scalar' if len(vectors) == 1 else 'are scalars'}"

    def said(name: str) -> str:
        return vector_reading if name == "as guessed" else scalar_reading

    holds = [name for name, found in valid if found.verdict == "verified"]
    fails = [name for name, found in valid if found.verdict in FINDINGS]
    if holds and fails:
        detail = f"true {said(holds[0])}, false {said(fails[0])}"
    elif fails:
        detail = f"false {said(fails[0])}"
    else:
        detail = "the guessed shapes decide it"
    return Outcome("uncheckable", f"not checked: {detail}; declare the shape to check it")
