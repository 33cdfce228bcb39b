"""Numeric evaluation of IR on concrete instances, with derivatives by complex step.

A value is a ``Value``: a complex numpy array whose leading axes carry index labels (``W_{ij}`` has labels
``("i", "j")``) and whose trailing axes are the matrix part: nothing for a scalar, two axes for a matrix or
vector, more for a derivative tensor. Matrix operations broadcast over the labelled axes, so ``e_i^T X a``
is a batch of scalars indexed by ``i``.

Derivatives use the complex step f'(x) ≈ Im f(x + ih)/h, exact to rounding for the analytic operations
used here; inside another derivative they fall back to central differences. Everything is evaluated in
complex arithmetic for that reason; results are compared on the real part.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tensorlint import ir
from tensorlint.einstein import free_indices, labels_of

STEP = 1e-20
FD_STEP = 1e-6


class EvalError(Exception):
    """The instance could not be evaluated; the claim is uncheckable for the reason given."""


class Unsupported(EvalError):
    pass


class ShapeMismatch(EvalError):
    """An operation whose operands cannot fit under the layout being tried (a shape error there)."""


@dataclass
class Value:
    data: np.ndarray
    labels: tuple[str, ...] = ()
    # Labels that met twice in one product (candidates for Einstein summation).
    repeated: frozenset[str] = frozenset()
    # For a derivative tensor of order three or more: the natural shapes of F and X.
    tensor: tuple[tuple[int, ...], tuple[int, ...]] | None = None

    @property
    def matrix_shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape[len(self.labels) :])


def natural(shape: tuple[int, ...]) -> tuple[int, ...]:
    """``(n, 1)`` and ``(1, n)`` are n-vectors, ``(1, 1)`` is a scalar."""
    if len(shape) == 2:
        if shape == (1, 1):
            return ()
        if shape[1] == 1:
            return (shape[0],)
        if shape[0] == 1:
            return (shape[1],)
    return shape


def symmetric_reading(gradient: np.ndarray, reading: str) -> np.ndarray:
    transposed = np.swapaxes(gradient, -1, -2)
    if reading == "structured":
        diagonal = np.diagonal(gradient, axis1=-2, axis2=-1)
        return gradient + transposed - diagonal[..., None] * np.eye(gradient.shape[-1])
    return (gradient + transposed) / 2


def align(first: Value, second: Value) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], frozenset[str]]:
    """Both values' data with their labelled axes in one common order (size 1 where a label is absent)."""
    labels = first.labels + tuple(label for label in second.labels if label not in first.labels)
    shared = frozenset(first.labels) & frozenset(second.labels)

    def expand(value: Value) -> np.ndarray:
        data = value.data
        matrix_axes = data.ndim - len(value.labels)
        order = [value.labels.index(label) for label in labels if label in value.labels]
        data = np.transpose(data, order + list(range(len(value.labels), data.ndim)))
        shape = []
        sizes = iter(data.shape)
        for label in labels:
            shape.append(next(sizes) if label in value.labels else 1)
        shape.extend(data.shape[len(value.labels) :])
        del matrix_axes
        return data.reshape(shape)

    return expand(first), expand(second), labels, first.repeated | second.repeated | shared


@dataclass
class Instance:
    """One trial: concrete dimensions, values and differential directions."""

    dims: Callable[[object], int]
    shape_of: Callable[[str], tuple[int, ...] | None]
    # Concrete shapes of constants sized by their context (1_n, I, e_i), by id of the IR node.
    const_shape: Callable[[ir.Expr], tuple[int, ...] | None]
    # Range of each index label; labels inside a definition are keyed "name::label".
    label_size: Callable[[str], int | None]
    rng: np.random.Generator
    positive: set[str]
    all_ones: set[str] = field(default_factory=set)
    # Weights of the random functions that stand for unknown ones, per (name, input size, output size).
    functions: dict[tuple[str, int, int], tuple[np.ndarray, ...]] = field(default_factory=dict)
    # Declared structure of square matrices: symmetric, diagonal, positive (definite), orthogonal.
    structures: dict[str, set[str]] = field(default_factory=dict)
    values: dict[str, np.ndarray] = field(default_factory=dict)
    directions: dict[str, np.ndarray] = field(default_factory=dict)

    def random(self, key: str, shape: tuple[int, ...]) -> np.ndarray:
        if key in self.all_ones:
            return np.ones(shape, dtype=complex)
        structure = self.structures.get(key, set())
        square = len(shape) == 2 and shape[0] == shape[1]
        if structure and square:
            return self.structured(structure, shape[0], key in self.positive).astype(complex)
        if key in self.positive:
            if len(shape) == 2 and shape[0] == shape[1] and shape[0] > 1:
                # Positive definite in the sense x^T X x > 0 but not symmetric: det X > 0 and
                # X^{-T} ≠ X^{-1}, so a missing transpose in d log det X / dX cannot hide.
                a = self.rng.standard_normal(shape)
                skew = self.rng.standard_normal(shape)
                return (a @ a.T / shape[0] + np.eye(shape[0]) + 0.5 * (skew - skew.T)).astype(complex)
            return self.rng.uniform(0.5, 2.0, shape).astype(complex)
        return self.rng.standard_normal(shape).astype(complex)

    def structured(self, structure: set[str], size: int, positive: bool) -> np.ndarray:
        """A random matrix with the declared structure (and positive where a function needs it)."""
        rng = self.rng
        if "orthogonal" in structure:
            q, r = np.linalg.qr(rng.standard_normal((size, size)))
            return q * np.sign(np.diag(r))
        if "diagonal" in structure:
            if positive or "positive" in structure:
                return np.diag(rng.uniform(0.5, 2.0, size))
            return np.diag(rng.standard_normal(size))
        a = rng.standard_normal((size, size))
        if "positive" in structure or positive:
            return a @ a.T / size + np.eye(size)
        return (a + a.T) / 2


class Evaluator:
    """Evaluates IR for one instance under one layout convention."""

    def __init__(
        self,
        instance: Instance,
        definition: Callable[[str], ir.Expr | None],
        definition_labels: Callable[[str], tuple[str, ...]],
        function: Callable[[str], tuple[tuple[str, ...], ir.Expr] | None],
        layout: str,
        varying: set[str] | None = None,
    ) -> None:
        self.instance = instance
        self.definition = definition
        self.definition_labels = definition_labels
        self.function = function
        self.layout = layout
        self.overrides: dict[str, np.ndarray] = {}
        self.cache: dict[str, Value] = {}
        self.depth = 0
        self.in_progress: set[str] = set()
        self.varying = varying or set()
        # Index labels inside a definition live in their own namespace, "name::".
        self.scope = ""
        # How a gradient by a symmetric matrix is read: "unconstrained" (every entry independent),
        # "structured" (the Matrix Cookbook's G + Gᵀ − diag G) or "symmetrized" ((G + Gᵀ)/2).
        self.reading = "unconstrained"
        # Whether an index repeated in a product and free nowhere else is summed (Einstein's convention).
        self.einstein = True
        # Labels that Einstein's convention must not sum here (see ``einstein.py``): the other side's free
        # indices, an enclosing sum's labels, the indices of the variable a derivative is taken by.
        self.kept: frozenset[str] = frozenset()
        # time.monotonic() after which evaluation gives up (the claim becomes uncheckable).
        self.deadline = float("inf")
        # Output shapes of declared functions that the note never defines (instantiated at random).
        self.unknown_shape: Callable[[str], tuple[str | int, ...] | None] = lambda key: None

    def reset(self) -> None:
        """Forget cached values before evaluating the other side of a claim."""
        self.overrides, self.cache, self.depth, self.scope = {}, {}, 0, ""

    def eval_side(self, expr: ir.Expr, other: ir.Expr) -> Value:
        """One side of a claim: a dummy index is summed within its own term, unless the other side has it
        free (``(x \\odot y)_i = x_i y_i`` is elementwise)."""
        self.kept = free_indices(other)
        self.seed_exponents(expr, other)
        try:
            return self.eval(expr)
        finally:
            self.kept = frozenset()

    def seed_exponents(self, *exprs: ir.Expr) -> None:
        """A letter in a symbolic exponent (``x^{n-1}``, ``X^k``) is an integer: it gets the value a dimension
        of that name would get, everywhere in the claim (so ``n x^{n-1}`` uses one n)."""
        instance = self.instance
        for expr in exprs:
            for node in ir.walk(expr):
                if not (isinstance(node, ir.Power) and isinstance(node.exponent, ir.Expr)):
                    continue
                for inner in ir.walk(node.exponent):
                    if not isinstance(inner, ir.Var) or inner.key in instance.values or self.definition(inner.key):
                        continue
                    shape = instance.shape_of(inner.key)
                    if shape is not None and natural(shape) == ():
                        instance.values[inner.key] = np.full(shape, self.size(inner.key), dtype=complex)

    def keeping(self, labels: frozenset[str], replace: bool = False) -> frozenset[str]:
        """Add ``labels`` to the kept ones (or replace them); returns the previous set to restore."""
        saved = self.kept
        self.kept = labels if replace else saved | labels
        return saved

    def summed(self, value: Value) -> Value:
        """A finished product term: its repeated indices that are not kept are summed (Einstein)."""
        if not self.einstein or not value.repeated or value.tensor is not None:
            return value
        data, labels = value.data, list(value.labels)
        for label in sorted(value.repeated - self.kept):
            if label in labels:
                data = data.sum(axis=labels.index(label))
                labels.remove(label)
        return Value(data, tuple(labels), value.repeated & self.kept, value.tensor)

    # Names ----------------------------------------------------------------------------------------------

    def variable(self, key: str) -> Value:
        if key in self.overrides:
            return Value(self.overrides[key])
        if key in self.cache:
            return self.cache[key]
        definition = self.definition(key)
        if definition is not None:
            if key in self.in_progress:
                raise Unsupported(f"`{key}` is defined in terms of itself")
            self.in_progress.add(key)
            saved_scope, self.scope = self.scope, f"{key}::"
            saved_kept = self.keeping(frozenset(self.definition_labels(key)), replace=True)
            try:
                value = self.eval(definition)
                value = self.index_definition(key, value)
            finally:
                self.in_progress.discard(key)
                self.scope = saved_scope
                self.kept = saved_kept
            self.cache[key] = value
            return value
        return Value(self.base_value(key))

    def index_definition(self, key: str, value: Value) -> Value:
        """``f_i = W_{ij} x_j`` defines the vector f: its labelled axes become ordinary axes."""
        labels = self.definition_labels(key)
        if not labels:
            if value.labels:
                raise Unsupported(f"`{key}` is defined with free indices")
            return value
        data, current = value.data, list(value.labels)
        # Einstein summation: an index repeated in a product and not on the left is summed.
        for label in list(current):
            if label not in labels:
                if label not in value.repeated or not self.einstein:
                    raise Unsupported(f"the index {label} is free on the right of the definition of `{key}`")
                data = data.sum(axis=current.index(label))
                current.remove(label)
        if value.matrix_shape and natural(value.matrix_shape) != ():
            raise Unsupported(f"`{key}` is defined by indices with a matrix on the right")
        data = data.reshape(data.shape[: len(current)])
        for label in labels:
            if label not in current:
                size = self.label_size(label)
                data = np.broadcast_to(data[..., None], (*data.shape, size)).copy()
                current.append(label)
        data = np.transpose(data, [current.index(label) for label in labels])
        if len(labels) == 1:
            data = data.reshape(-1, 1)
        return Value(data)

    def base_value(self, key: str) -> np.ndarray:
        instance = self.instance
        if key not in instance.values:
            shape = instance.shape_of(key)
            if shape is None:
                raise Unsupported(f"the shape of `{key}` is unknown")
            instance.values[key] = instance.random(key, shape)
        return instance.values[key]

    def direction(self, key: str) -> np.ndarray:
        instance = self.instance
        if key not in instance.directions:
            shape = self.point(key).shape
            instance.directions[key] = instance.rng.standard_normal(shape).astype(complex)
        return instance.directions[key]

    def point(self, key: str) -> np.ndarray:
        """The value of a variable (or of a defined name treated as a variable) at the base point."""
        if key in self.overrides:
            return self.overrides[key]
        value = self.variable(key)
        if value.labels or value.tensor is not None:
            raise Unsupported(f"`{key}` is not a plain vector or matrix")
        return value.data

    def size(self, dim: object) -> int:
        return self.instance.dims(dim)

    def label_size(self, label: str) -> int:
        size = self.instance.label_size(self.scope + label)
        if size is None:
            raise Unsupported(f"the range of the index {label} is unknown")
        return size

    # Perturbation -------------------------------------------------------------------------------------

    def perturbed(self, changes: dict[str, np.ndarray], expr: ir.Expr) -> Value:
        saved_overrides, saved_cache = dict(self.overrides), self.cache
        self.overrides.update(changes)
        self.cache = {}
        self.depth += 1
        try:
            return self.eval(expr)
        finally:
            self.overrides, self.cache = saved_overrides, saved_cache
            self.depth -= 1

    def directional(self, expr: ir.Expr, points: dict[str, np.ndarray], directions: dict[str, np.ndarray]) -> Value:
        """d/dt expr(points + t·directions) at t = 0."""
        if self.depth == 0:
            changes = {key: points[key] + 1j * STEP * directions[key] for key in points}
            value = self.perturbed(changes, expr)
            return Value(value.data.imag / STEP + 0j, value.labels, value.repeated, value.tensor)
        plus = self.perturbed({key: points[key] + FD_STEP * directions[key] for key in points}, expr)
        minus = self.perturbed({key: points[key] - FD_STEP * directions[key] for key in points}, expr)
        if plus.labels != minus.labels or plus.data.shape != minus.data.shape:
            raise Unsupported("a derivative whose shape changes")
        return Value((plus.data - minus.data) / (2 * FD_STEP), plus.labels, plus.repeated, plus.tensor)

    # The evaluator ------------------------------------------------------------------------------------

    def eval(self, expr: ir.Expr) -> Value:
        if isinstance(expr, ir.Var):
            return self.variable(expr.key)
        if isinstance(expr, ir.Const):
            return Value(np.array(expr.value, dtype=complex))
        if isinstance(expr, ir.Ones | ir.Identity | ir.Basis):
            return self.sized(expr)
        if isinstance(expr, ir.Unsupported):
            raise Unsupported(expr.reason)
        if isinstance(expr, ir.Delta):
            return self.delta(expr)
        if isinstance(expr, ir.Index):
            return self.summed(self.index(self.eval(expr.base), expr.indices))
        if isinstance(expr, ir.Prod):
            value = self.eval(expr.factors[0])
            for factor in expr.factors[1:]:
                value = self.multiply(value, self.eval(factor), expr.dot)
            return self.summed(value)
        if isinstance(expr, ir.Add):
            value = self.eval(expr.terms[0])
            for term, sign in zip(expr.terms[1:], expr.signs[1:], strict=True):
                value = self.add(value, self.eval(term), sign)
            return value
        if isinstance(expr, ir.Unary):
            return self.unary(expr.op, self.eval(expr.operand))
        if isinstance(expr, ir.Power):
            if isinstance(expr.exponent, ir.Expr):
                return self.power(self.eval(expr.base), self.scalar(self.eval(expr.exponent), "an exponent"))
            exponent = self.size(expr.exponent) if isinstance(expr.exponent, str) else expr.exponent
            return self.power(self.eval(expr.base), exponent)
        if isinstance(expr, ir.Readings):
            raise Unsupported(f"the notation has several readings ({' or '.join(expr.names)})")
        if isinstance(expr, ir.Binary):
            return self.binary(expr.op, self.eval(expr.left), self.eval(expr.right))
        if isinstance(expr, ir.Norm):
            return self.norm(self.eval(expr.operand), expr.kind)
        if isinstance(expr, ir.Call):
            return self.call(expr)
        if isinstance(expr, ir.Deriv):
            return self.derivative(expr)
        if isinstance(expr, ir.Differential):
            return self.differential(expr)
        if isinstance(expr, ir.Sum):
            return self.sum(expr)
        if isinstance(expr, ir.MatrixLit):
            return self.matrix(expr)
        if isinstance(expr, ir.Pattern):
            return self.pattern(expr)
        if isinstance(expr, ir.RandomFunction):
            return self.random_function(expr.key, [self.eval(argument) for argument in expr.args], expr.shape)
        raise Unsupported(f"cannot evaluate {type(expr).__name__}")

    def sized(self, expr: ir.Expr) -> Value:
        """Constants whose size comes from their context: ``1_n``, ``I``, ``e_i``."""
        shape = self.instance.const_shape(expr)
        if shape is None:
            raise Unsupported("a constant whose size is not known")
        if isinstance(expr, ir.Ones):
            return Value(np.ones(shape, dtype=complex))
        if isinstance(expr, ir.Identity):
            return Value(np.eye(shape[0], dtype=complex))
        assert isinstance(expr, ir.Basis)
        size = shape[0]
        if isinstance(expr.index, int):
            if not 1 <= expr.index <= size:
                raise Unsupported(f"e_{expr.index} with vectors of size {size}")
            return Value(np.eye(size, dtype=complex)[:, expr.index - 1 : expr.index])
        if isinstance(expr.index, str) and expr.index != ":":
            return Value(np.eye(size, dtype=complex).reshape(size, size, 1), (expr.index,))
        raise Unsupported("a basis vector with an unusual index")

    def delta(self, expr: ir.Delta) -> Value:
        first, second = expr.first, expr.second
        if isinstance(first, str) and isinstance(second, str) and first != ":" and second != ":":
            size = self.label_size(first)
            if first == second:
                return Value(np.ones(size, dtype=complex), (first,))
            return Value(np.eye(size, dtype=complex), (first, second))
        raise Unsupported("a Kronecker delta with concrete indices")

    def index(self, value: Value, refs: tuple[ir.IndexRef, ...]) -> Value:
        shape = value.matrix_shape
        if value.tensor is not None:
            raise Unsupported("indices on a derivative tensor")
        data = value.data
        lead = len(value.labels)
        if len(shape) == 2 and len(refs) == 1 and 1 in shape:
            data = data.reshape((*data.shape[:lead], max(shape)))
            shape = (max(shape),)
        if len(shape) != len(refs):
            raise Unsupported(f"{len(refs)} indices on a value with {len(shape)} axes")
        labels = list(value.labels)
        if ":" in refs:
            return self.slice(value, data, refs, shape, lead)
        selectors, new_labels = self.select(refs, shape, lead, "a slice such as Y_{i,:}")
        data = data[tuple(selectors)]
        repeated = set(value.repeated)
        for label in new_labels:
            if label in labels:
                raise Unsupported(f"the index {label} repeated within one name")
        # X_{ii} where the other side has i free: the diagonal entry for each i. Elsewhere it is the trace
        # (Einstein) or still the diagonal entry for each i (F_{i,j,i} = x_j): not judged.
        for position in range(len(new_labels) - 1, 0, -1):
            label = new_labels[position]
            first = new_labels.index(label)
            if first < position:
                if label not in self.kept:
                    raise Unsupported(f"the index {label} repeated within one name (summed, or for each {label}?)")
                data = np.moveaxis(np.diagonal(data, axis1=lead + first, axis2=lead + position), -1, lead + first)
                del new_labels[position]
                repeated.add(label)
        return Value(data, tuple(labels + new_labels), frozenset(repeated))

    def slice(
        self, value: Value, data: np.ndarray, refs: tuple[ir.IndexRef, ...], shape: tuple[int, ...], lead: int
    ) -> Value:
        """``Y_{i,:}`` is row i of Y (a row vector for each i); ``Y_{:,j}`` is column j."""
        if len(refs) != 2 or refs.count(":") != 1:
            raise Unsupported("a slice other than a row or a column of a matrix")
        position = refs.index(":")
        other = refs[1 - position]
        selectors: list[Any] = [slice(None)] * (lead + 2)
        labels = list(value.labels)
        if isinstance(other, str):
            if other in labels:
                raise Unsupported(f"the index {other} repeated within one name")
            labels.append(other)
            data = np.moveaxis(data, lead + 1 - position, lead)
        else:
            index = other - 1 if isinstance(other, int) else self.size(other[1]) - 1
            if not 0 <= index < shape[1 - position]:
                raise Unsupported(f"index {index + 1} is out of range for size {shape[1 - position]}")
            selectors[lead + 1 - position] = index
            data = data[tuple(selectors)]
        batch = data.shape[: len(labels)]
        kept = data.reshape((*batch, 1, -1) if position == 1 else (*batch, -1, 1))
        return Value(kept, tuple(labels), value.repeated)

    def select(
        self, refs: tuple[ir.IndexRef, ...], sizes: tuple[int, ...], lead: int, slice_reason: str
    ) -> tuple[list[Any], list[str]]:
        """NumPy selectors for indices on the axes after ``lead`` labelled ones, and the new labels."""
        selectors: list[Any] = [slice(None)] * lead
        new_labels: list[str] = []
        for ref, size in zip(refs, sizes, strict=True):
            if ref == ":":
                raise Unsupported(slice_reason)
            if isinstance(ref, int):
                if not 1 <= ref <= size:
                    raise Unsupported(f"index {ref} is out of range for size {size}")
                selectors.append(ref - 1)
            elif isinstance(ref, tuple):
                selectors.append(self.size(ref[1]) - 1)
            else:
                selectors.append(slice(None))
                new_labels.append(ref)
        return selectors, new_labels

    def multiply(self, left: Value, right: Value, dot: bool = False) -> Value:
        if left.tensor is not None or right.tensor is not None:
            raise Unsupported(
                "a product with a third- or higher-order derivative (a contraction, not a matrix product)"
            )
        a, b, labels, repeated = align(left, right)
        left_shape, right_shape = left.matrix_shape, right.matrix_shape
        if left_shape == () or right_shape == ():
            if left_shape == ():
                a = a.reshape(a.shape + (1,) * len(right_shape))
            else:
                b = b.reshape(b.shape + (1,) * len(left_shape))
            return Value(a * b, labels, repeated)
        if dot and left_shape == right_shape and 1 in left_shape:
            return Value((a * b).sum(axis=(-2, -1)), labels, repeated)
        if left_shape[1] == right_shape[0]:
            return Value(np.matmul(a, b), labels, repeated)
        if left_shape == (1, 1):
            return Value(a[..., 0:1, 0:1] * b, labels, repeated)
        if right_shape == (1, 1):
            return Value(a * b[..., 0:1, 0:1], labels, repeated)
        raise ShapeMismatch(f"cannot multiply a {left_shape} by a {right_shape} array")

    def add(self, left: Value, right: Value, sign: int) -> Value:
        if left.tensor is not None or right.tensor is not None:
            raise Unsupported("a sum involving a derivative tensor")
        a, b, labels, _ = align(left, right)
        if left.matrix_shape != right.matrix_shape:
            if natural(left.matrix_shape) == () and natural(right.matrix_shape) == ():
                a = a.reshape(a.shape[: len(labels)])
                b = b.reshape(b.shape[: len(labels)])
            elif left.matrix_shape == () and np.all(a == 0):
                a = a.reshape(a.shape + (1,) * len(right.matrix_shape))
            elif right.matrix_shape == () and np.all(b == 0):
                b = b.reshape(b.shape + (1,) * len(left.matrix_shape))
            else:
                raise ShapeMismatch(f"adding a {left.matrix_shape} and a {right.matrix_shape} array")
        return Value(a + sign * b, labels, left.repeated | right.repeated)

    def unary(self, op: str, value: Value) -> Value:
        data, labels = value.data, value.labels
        shape = value.matrix_shape
        if value.tensor is not None and op not in ("neg",):
            raise Unsupported(f"`{op}` of a derivative tensor")
        if op == "neg":
            return Value(-data, labels, value.repeated, value.tensor)
        if op == "transpose":
            if len(shape) == 2:
                return Value(np.swapaxes(data, -1, -2), labels, value.repeated)
            if len(shape) == 0:
                return value
            raise Unsupported("transpose of a tensor")
        square = len(shape) == 2 and shape[0] == shape[1]
        if op == "inverse":
            if shape == ():
                return Value(1 / data, labels, value.repeated)
            if not square:
                raise Unsupported("inverse of a non-square matrix")
            return Value(np.linalg.inv(data), labels, value.repeated)
        if op == "pinv":
            # The Moore-Penrose inverse of a full-rank matrix, written with plain transposes so that the
            # complex step stays exact: (AᵀA)⁻¹Aᵀ for a tall A, Aᵀ(AAᵀ)⁻¹ for a wide one.
            if natural(shape) == ():
                raise Unsupported("x^+ of a scalar (the pseudo-inverse, or the positive part?)")
            if len(shape) != 2:
                raise Unsupported("the pseudo-inverse of something that is not a matrix")
            transposed = np.swapaxes(data, -1, -2)
            if shape[0] >= shape[1]:
                return Value(np.linalg.solve(transposed @ data, transposed), labels, value.repeated)
            return Value(np.swapaxes(np.linalg.solve(data @ transposed, data), -1, -2), labels, value.repeated)
        if op == "tr":
            if not square:
                raise Unsupported("trace of a non-square matrix")
            return Value(np.trace(data, axis1=-2, axis2=-1), labels, value.repeated)
        if op in ("det", "abs"):
            if shape == () or shape == (1, 1):
                scalar = data.reshape(data.shape[: len(labels)])
                if op == "abs":
                    return Value(np.sqrt(scalar * scalar), labels, value.repeated)
                return Value(scalar, labels, value.repeated)
            if not square:
                raise Unsupported("determinant of a non-square matrix")
            return Value(np.linalg.det(data), labels, value.repeated)
        if op == "logdet":
            if not square:
                raise Unsupported("log-determinant of a non-square matrix")
            return Value(np.log(np.linalg.det(data)), labels, value.repeated)
        if op == "vec":
            if labels:
                raise Unsupported("vec of an indexed expression")
            if len(shape) != 2:
                return value
            return Value(data.T.reshape(-1, 1), labels)
        if op == "diagm":
            if labels:
                raise Unsupported("diag of an indexed expression")
            if len(shape) == 2 and shape[1] == 1:
                return Value(np.diag(data[:, 0]))
            if square:
                return Value(np.diag(np.diag(data)))
            raise Unsupported("diag of a non-square matrix")
        if op == "diag":
            if labels:
                raise Unsupported("diag of an indexed expression")
            if len(shape) == 2 and shape[1] == 1:
                return Value(np.diag(data[:, 0]))
            if square:
                return Value(np.diag(data).reshape(-1, 1))
            raise Unsupported("diag of a non-square matrix")
        functions: dict[str, Callable[[np.ndarray], np.ndarray]] = {
            "log": np.log,
            "exp": np.exp,
            "sqrt": np.sqrt,
            "tanh": np.tanh,
            "sin": np.sin,
            "cos": np.cos,
            "sinh": np.sinh,
            "cosh": np.cosh,
            "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
        }
        if op in ("exp", "log", "sqrt") and square and shape[0] > 1:
            # e^{A} of a square matrix is the matrix exponential in linear algebra and elementwise in much of
            # machine learning: a claim about it cannot be judged without knowing which.
            raise Unsupported(f"`{op}` of a square matrix (elementwise, or the matrix function?)")
        if op in functions:
            return Value(functions[op](data), labels, value.repeated)
        if op == "softmax":
            if labels or len(shape) != 2:
                raise Unsupported("softmax of something that is not a vector")
            exponentials = np.exp(data - data.real.max())
            return Value(exponentials / exponentials.sum())
        raise Unsupported(f"the operation `{op}`")

    def scalar(self, value: Value, what: str) -> complex:
        if value.labels or value.tensor is not None or natural(value.matrix_shape) != ():
            raise Unsupported(f"{what} that is not a number")
        return complex(value.data.reshape(-1)[0])

    def power(self, value: Value, exponent: float | complex) -> Value:
        shape = value.matrix_shape
        if natural(shape) == ():
            return Value(value.data**exponent, value.labels, value.repeated)
        if len(shape) != 2 or shape[0] != shape[1]:
            raise Unsupported("a power of a non-square matrix")
        power = complex(exponent)
        if power.imag != 0 or not power.real.is_integer():
            raise Unsupported("a matrix power whose exponent is not an integer")
        return Value(np.linalg.matrix_power(value.data, int(power.real)), value.labels, value.repeated)

    def binary(self, op: str, left: Value, right: Value) -> Value:
        if left.tensor is not None or right.tensor is not None:
            raise Unsupported(f"a {op} product with a derivative tensor")
        if op == "kron":
            if left.labels or right.labels:
                raise Unsupported("a Kronecker product of indexed expressions")
            a, b = left.data, right.data
            a = a.reshape(1, 1) if a.ndim == 0 else a
            b = b.reshape(1, 1) if b.ndim == 0 else b
            return Value(np.kron(a, b))
        a, b, labels, repeated = align(left, right)
        if op == "hadamard":
            if left.matrix_shape != right.matrix_shape:
                raise Unsupported("a Hadamard product of different shapes")
            return Value(a * b, labels, repeated)
        if op == "frob" and not left.labels and not right.labels:
            if len(left.matrix_shape) == 4 and left.matrix_shape[2:] == right.matrix_shape:
                return Value(np.tensordot(left.data, right.data, axes=([2, 3], [0, 1])))
            if len(right.matrix_shape) == 4 and right.matrix_shape[:2] == left.matrix_shape:
                return Value(np.tensordot(left.data, right.data, axes=([0, 1], [0, 1])))
        if op == "frob":
            if left.matrix_shape != right.matrix_shape:
                raise Unsupported("a Frobenius product of different shapes")
            axes = tuple(range(len(labels), a.ndim))
            return Value((a * b).sum(axis=axes), labels, repeated)
        if op == "div":
            if natural(right.matrix_shape) != ():
                raise Unsupported("division by a matrix")
            b = b.reshape(b.shape[: len(labels)] + (1,) * len(left.matrix_shape)) if right.matrix_shape else b
            if right.matrix_shape and not left.matrix_shape:
                b = b.reshape(b.shape[: len(labels)])
            return Value(a / b, labels, repeated)
        raise Unsupported(f"the operation `{op}`")

    def norm(self, value: Value, kind: str) -> Value:
        if value.labels:
            raise Unsupported("a norm of an indexed expression")
        shape = value.matrix_shape
        if kind in ("2", "F", "") and (kind == "F" or 1 in shape or len(shape) == 0):
            return Value(np.sqrt((value.data * value.data).sum()))
        raise Unsupported(f"the {kind}-norm of a matrix")

    def random_function(self, key: str, arguments: list[Value], shape: tuple[str | int, ...]) -> Value:
        """tanh(M v + b) + (N v)²/10 on the stacked arguments v: smooth, analytic (so the complex step is
        exact), nonlinear, and the same function for every use within one trial."""
        if any(argument.labels or argument.tensor is not None for argument in arguments):
            raise Unsupported(f"the unknown function `{key}` applied to an indexed expression")
        parts = [argument.data.reshape(-1) for argument in arguments]
        stacked = np.concatenate(parts) if parts else np.zeros(1, dtype=complex)
        sizes = tuple(self.size(dim) for dim in shape)
        out = int(np.prod(sizes)) if sizes else 1
        weights = self.instance.functions.get((key, stacked.size, out))
        if weights is None:
            rng = self.instance.rng
            weights = (
                rng.standard_normal((out, stacked.size)) / np.sqrt(stacked.size),
                rng.standard_normal(out),
                rng.standard_normal((out, stacked.size)) / np.sqrt(stacked.size),
            )
            self.instance.functions[(key, stacked.size, out)] = weights
        linear, offset, quadratic = weights
        values = np.tanh(linear @ stacked + offset) + (quadratic @ stacked) ** 2 / 10
        return Value(values.reshape(sizes) if sizes else values.reshape(()))

    def call(self, expr: ir.Call) -> Value:
        found = self.function(expr.key)
        if found is None and self.unknown_shape(expr.key) is not None:
            shape = self.unknown_shape(expr.key)
            assert shape is not None
            return self.random_function(expr.key, [self.eval(argument) for argument in expr.args], shape)
        if found is None:
            raise Unsupported(f"`{expr.key}` is an unknown function")
        parameters, body = found
        if len(parameters) != len(expr.args):
            raise Unsupported(f"`{expr.key}` called with {len(expr.args)} arguments")
        arguments = {}
        for parameter, argument in zip(parameters, expr.args, strict=True):
            value = self.eval(argument)
            if value.labels:
                raise Unsupported("a function applied to an indexed expression")
            arguments[parameter] = value.data
        saved = dict(self.overrides), self.cache
        self.overrides.update(arguments)
        self.cache = {}
        try:
            return self.eval(body)
        finally:
            self.overrides, self.cache = saved

    def sum(self, expr: ir.Sum) -> Value:
        saved = self.keeping(frozenset(expr.labels))
        try:
            body = self.eval(expr.body)
        finally:
            self.kept = saved
        data, labels = body.data, list(body.labels)
        for label in expr.labels:
            if label in labels:
                position = labels.index(label)
                data = data.prod(axis=position) if expr.product else data.sum(axis=position)
                labels.pop(position)
            else:
                size = self.label_size(label)
                data = data**size if expr.product else data * size
        return Value(data, tuple(labels), body.repeated - set(expr.labels))

    def pattern(self, expr: ir.Pattern) -> Value:
        """The matrix whose entry at the pattern's indices is its body."""
        body = self.eval(expr.body)
        if natural(body.matrix_shape) != () or body.tensor is not None:
            raise Unsupported("a matrix pattern whose entries are not scalars")
        data: np.ndarray = body.data.reshape(body.data.shape[: len(body.labels)])
        labels = list(body.labels)
        extra = [label for label in labels if label not in expr.labels]
        if extra:
            raise Unsupported(f"the index {extra[0]} is free inside a matrix pattern")
        for label in expr.labels:
            if label not in labels:
                data = np.broadcast_to(data[..., None], (*data.shape, self.label_size(label))).copy()
                labels.append(label)
        data = np.transpose(data, [labels.index(label) for label in expr.labels])
        if expr.orientation == "column":
            data = data.reshape(-1, 1)
        elif expr.orientation == "row":
            data = data.reshape(1, -1)
        return Value(data)

    def matrix(self, expr: ir.MatrixLit) -> Value:
        cells = [[self.eval(cell) for cell in row] for row in expr.rows]
        for row in cells:
            for cell in row:
                if cell.labels or natural(cell.matrix_shape) != ():
                    raise Unsupported("a block matrix or a matrix of indexed entries")
        data = np.array([[cell.data.reshape(()) for cell in row] for row in cells], dtype=complex)
        return Value(data)

    # Derivatives --------------------------------------------------------------------------------------

    def jacobian(self, numerator: ir.Expr, key: str) -> tuple[Value, np.ndarray]:
        """The full derivative of ``numerator`` by the variable ``key``: the numerator's axes, then X's."""
        point = self.point(key)
        columns = []
        probe: Value | None = None
        for flat in range(point.size):
            if time.monotonic() > self.deadline:
                raise Unsupported("the time budget for this claim ran out")
            direction = np.zeros(point.size, dtype=complex)
            direction[flat] = 1
            column = self.directional(numerator, {key: point}, {key: direction.reshape(point.shape)})
            probe = probe or column
            columns.append(column.data)
        if probe is None:
            raise Unsupported("a derivative by an empty variable")
        stacked = np.stack(columns, axis=-1).reshape(probe.data.shape + point.shape)
        return Value(stacked, probe.labels, probe.repeated), point

    def derivative(self, expr: ir.Deriv) -> Value:
        if expr.layout is not None and expr.layout != self.layout:
            # The notation fixes this derivative's layout (∂f/∂x^T): arrange it so, whatever is being tried.
            tried, self.layout = self.layout, expr.layout
            try:
                return self.derivative(expr)
            finally:
                self.layout = tried
        wrt = expr.wrt
        saved = self.keeping(frozenset(labels_of(wrt.indices or ())))
        try:
            full, point = self.jacobian(expr.numerator, wrt.key)
        finally:
            self.kept = saved
        if wrt.vec and point.ndim == 2:
            # The variable's axes, flattened by columns, as for vec(X).
            data = np.swapaxes(full.data, -1, -2)
            data = data.reshape((*data.shape[:-2], point.size, 1))
            full = Value(data, full.labels, full.repeated)
            point = point.T.reshape(-1, 1)
        lead = len(full.labels)
        numerator_shape = full.data.shape[lead : full.data.ndim - point.ndim]
        if wrt.indices is not None:
            return self.component_derivative(full, numerator_shape, point.shape, wrt.indices)
        f_natural, x_natural = natural(numerator_shape), natural(point.shape)
        data = full.data.reshape(full.data.shape[:lead] + f_natural + x_natural)
        f_order, x_order = len(f_natural), len(x_natural)
        batch = full.data.shape[:lead]
        if f_order == 0 and x_order == 0:
            return Value(data, full.labels, full.repeated)
        if f_order == 0:
            gradient = data.reshape(batch + point.shape)
            symmetric = "symmetric" in self.instance.structures.get(wrt.key, set())
            if self.reading != "unconstrained" and symmetric:
                gradient = symmetric_reading(gradient, self.reading)
            if self.layout == "numerator" and not expr.gradient:
                gradient = np.swapaxes(gradient, -1, -2)
            return Value(gradient, full.labels, full.repeated)
        if x_order == 0:
            shaped = data.reshape(batch + tuple(numerator_shape))
            if self.layout == "denominator" and len(numerator_shape) == 2:
                shaped = np.swapaxes(shaped, -1, -2)
            return Value(shaped, full.labels, full.repeated)
        if f_order == 1 and x_order == 1:
            if self.layout == "denominator" or expr.gradient:
                data = np.swapaxes(data, -1, -2)
            return Value(data, full.labels, full.repeated)
        if full.labels:
            raise Unsupported("an indexed derivative tensor")
        return Value(data, (), frozenset(), tensor=(f_natural, x_natural))

    def component_derivative(
        self,
        full: Value,
        numerator_shape: tuple[int, ...],
        point_shape: tuple[int, ...],
        refs: tuple[ir.IndexRef, ...],
    ) -> Value:
        """A derivative by entries (``W_{kl}``, ``x_7``) or slices (``X_{i,:}``) of a variable."""
        lead = len(full.labels)
        f_natural, x_natural = natural(numerator_shape), natural(point_shape)
        if len(x_natural) != len(refs):
            raise Unsupported("the indices in a derivative do not match the variable")
        if len(f_natural) > 1:
            raise Unsupported("a derivative of a matrix by part of a variable")
        data = full.data.reshape(full.data.shape[:lead] + f_natural + x_natural)
        # What each axis is: ("label", name), ("f", 0) for the numerator's axis, ("kept", position) for a slice.
        axes: list[tuple[str, Any]] = [("label", label) for label in full.labels] + [("f", 0)] * len(f_natural)
        selectors: list[Any] = [slice(None)] * len(axes)
        for position, (ref, size) in enumerate(zip(refs, x_natural, strict=True)):
            if ref == ":":
                selectors.append(slice(None))
                axes.append(("kept", position))
            elif isinstance(ref, str):
                selectors.append(slice(None))
                axes.append(("label", ref))
            else:
                index = ref - 1 if isinstance(ref, int) else self.size(ref[1]) - 1
                if not 0 <= index < size:
                    raise Unsupported(f"index {index + 1} is out of range for size {size}")
                selectors.append(index)
        data = data[tuple(selectors)]
        # An index in both numerator and denominator is not summed, nor one written twice in the
        # denominator (∂X_{ii}, one diagonal entry): take the diagonal.
        for position in range(len(axes) - 1, lead - 1, -1):
            kind, name = axes[position]
            if kind == "label" and ("label", name) in axes[:position]:
                first = axes.index(("label", name))
                data = np.moveaxis(np.diagonal(data, axis1=first, axis2=position), -1, first)
                del axes[position]
        labels = [name for kind, name in axes if kind == "label"]
        order = [index for index, (kind, _) in enumerate(axes) if kind == "label"]
        order += [index for index, (kind, _) in enumerate(axes) if kind == "f"]
        order += [index for index, (kind, _) in enumerate(axes) if kind == "kept"]
        data = np.transpose(data, order)
        kept = [name for kind, name in axes if kind == "kept"]
        batch = data.shape[: len(labels)]
        if not kept and not f_natural:
            return Value(data, tuple(labels), full.repeated)
        if len(kept) > 1:
            raise Unsupported("a derivative by a block of a matrix")
        if not kept:
            # A vector by one entry: shaped like the vector (numerator layout) or its transpose.
            column = data.reshape((*batch, -1, 1))
            return Value(column if self.layout == "numerator" else np.swapaxes(column, -1, -2), tuple(labels))
        if not f_natural:
            # A scalar by a row or column slice: shaped like the slice (denominator layout) or its transpose.
            row_slice = kept[0] == len(refs) - 1 and len(refs) == 2
            shaped = data.reshape((*batch, 1, -1) if row_slice else (*batch, -1, 1))
            return Value(shaped if self.layout == "denominator" else np.swapaxes(shaped, -1, -2), tuple(labels))
        # A vector by a slice: the Jacobian (numerator layout) or its transpose.
        return Value(data if self.layout == "numerator" else np.swapaxes(data, -1, -2), tuple(labels))

    def differential(self, expr: ir.Differential) -> Value:
        operand = expr.operand
        if isinstance(operand, ir.Var) and operand.key in self.varying:
            return Value(self.direction(operand.key))
        if (
            isinstance(operand, ir.Unary)
            and operand.op == "transpose"
            and isinstance(operand.operand, ir.Var)
            and operand.operand.key in self.varying
        ):
            return self.unary("transpose", Value(self.direction(operand.operand.key)))
        if not self.varying:
            raise Unsupported("a differential with nothing said to vary")
        points = {key: self.point(key) for key in self.varying}
        directions = {key: self.direction(key) for key in self.varying}
        return self.directional(operand, points, directions)
