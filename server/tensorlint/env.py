"""The environment of a note at one point of reading: what it has declared, defined and set so far.

These are the facts shared by every stage after parsing: ``interpret`` builds an ``Environment`` while it
walks the document, ``verify``, ``derive`` and ``explain`` read it. ``Part`` is one side of a relation as the
interpreter found it (syntax node and span), which ``explain`` needs to place its fixes. This module sits
below interpretation in the import graph (ARCHITECTURE.md): it imports nothing that runs after it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from tensorlint import ir
from tensorlint import syntax as ast
from tensorlint.lower import Scope
from tensorlint.model import Config, MathSpan
from tensorlint.shapes import Declared


@dataclass
class Definition:
    expr: ir.Expr
    labels: tuple[str, ...] = ()
    parameters: tuple[str, ...] = ()


@dataclass(frozen=True)
class Origin:
    """Where a name's meaning was fixed: how (``stated`` in math, prose or a directive; ``guessed`` from
    usage), the document offset and line, and the section (the path of heading numbers, ``()`` before the
    first heading). A fact holds in its own section and the sections below it."""

    source: str
    at: int
    line: int
    section: tuple[int, ...] = ()

    def holds_in(self, section: tuple[int, ...]) -> bool:
        return section[: len(self.section)] == self.section


@dataclass
class Environment:
    declared: dict[str, Declared] = field(default_factory=dict)
    definitions: dict[str, Definition] = field(default_factory=dict)
    all_ones: set[str] = field(default_factory=set)
    dims: set[str] = field(default_factory=set)
    seen: set[str] = field(default_factory=set)
    # Names whose meaning the document has given: declared, defined, or used in a verified claim.
    known: set[str] = field(default_factory=set)
    # Einstein summation as a directive set it (``tensorlint: einstein=off``); None: the configuration's.
    einstein: str | None = None
    # The loss whose gradients d-names stand for, after ``dW = \\partial L / \\partial W``.
    gradient_loss: str | None = None
    # Declared structure of matrices: symmetric, diagonal, positive (definite), orthogonal.
    structures: dict[str, set[str]] = field(default_factory=dict)
    # Entry names of a matrix written by entries: x_{ij} are the entries of X.
    aliases: dict[str, str] = field(default_factory=dict)
    layout: str | None = None
    layout_where: int | None = None
    # Where the layout was set, for messages: "the claim on line 69", "the prose on line 3".
    layout_source: str = "the configuration"
    layout_fixed: bool = False
    # Verified claims that held in one layout only, by layout: a layout the note never states is evidence
    # only when its claims agree on it repeatedly (see verify.decide).
    layout_votes: dict[str, int] = field(default_factory=dict)
    # Where each declared or defined name got its meaning, and the section being read.
    origins: dict[str, Origin] = field(default_factory=dict)
    section: tuple[int, ...] = ()
    # Bumped on every change, so a claim checked twice in the same environment is checked once.
    version: int = 0
    _fingerprint: tuple[int, str] | None = None

    def definition(self, key: str) -> ir.Expr | None:
        """The right side a name is defined by (not for functions with parameters)."""
        found = self.definitions.get(key)
        return found.expr if found is not None and not found.parameters else None

    def definition_labels(self, key: str) -> tuple[str, ...]:
        """The free indices of an index-form definition (``f_i = W_{ij} x_j``)."""
        found = self.definitions.get(key)
        return found.labels if found is not None else ()

    def function(self, key: str) -> tuple[tuple[str, ...], ir.Expr] | None:
        """The parameters and body of a function defined as ``f(X) := …``."""
        found = self.definitions.get(key)
        return (found.parameters, found.expr) if found is not None and found.parameters else None

    def foreign(self, keys: set[str]) -> set[str]:
        """The names among ``keys`` whose meaning was fixed in another section than the one being read."""
        return {
            key for key in keys if (origin := self.origins.get(key)) is not None and not origin.holds_in(self.section)
        }

    def fingerprint(self) -> str:
        """A digest of everything a claim's verdict can depend on, stable across runs: two runs over notes
        that agree up to a claim give that claim the same fingerprint, so its verdict can be reused."""
        if self._fingerprint is not None and self._fingerprint[0] == self.version:
            return self._fingerprint[1]
        state = (
            sorted((key, repr(value)) for key, value in self.declared.items()),
            sorted((key, repr(value)) for key, value in self.definitions.items()),
            sorted((key, sorted(value)) for key, value in self.structures.items()),
            sorted(self.all_ones),
            sorted(self.aliases.items()),
            sorted(self.dims),
            sorted(self.known),
            self.layout,
            self.layout_source,
            sorted(self.layout_votes.items()),
            sorted((key, origin.section) for key, origin in self.origins.items()),
            self.section,
            self.gradient_loss,
            self.einstein,
        )
        digest = hashlib.blake2b(repr(state).encode(), digest_size=16).hexdigest()
        self._fingerprint = (self.version, digest)
        return digest

    def scope(self, config: Config) -> Scope:
        functions = {key for key, value in self.declared.items() if value.arguments is not None}
        functions |= {key for key, value in self.definitions.items() if value.parameters}
        variables = (set(self.declared) - functions) | {
            key for key, value in self.definitions.items() if not value.parameters
        }
        matrices = {key for key, value in self.declared.items() if len(value.shape) == 2 and 1 not in value.shape}
        scope = Scope(variables, functions, set(self.dims), matrices, set(self.all_ones), config.unify_fonts)
        scope.aliases = dict(self.aliases)
        scope.gradient_loss = self.gradient_loss
        return scope


@dataclass
class Part:
    """One side of a relation: its AST and the span it came from."""

    node: ast.Node
    span: MathSpan
    # For the earlier part a chain continues (``$$ = …$$`` after another display): where the claim's range
    # starts, the relation in the current display, since the part itself is in another one.
    continued_at: int | None = None

    @property
    def start(self) -> int:
        return self.span.doc_offset(self.node.start)

    @property
    def end(self) -> int:
        span = self.span
        last = span.doc_offset(max(self.node.start, self.node.end - 1)) + 1
        if span.offsets is not None and self.node.end < len(span.text):
            # The last character may come from a macro (\x for \mathbf{x}): end where the next one starts,
            # after the whole invocation.
            return max(last, span.doc_offset(self.node.end))
        return last
