"""Interpretation: walk a document in reading order, keep its environment, and give every claim a verdict.

The environment holds what the document has said so far: declared shapes (hard facts), definitions (which
are substituted when a later claim uses the name), functions, the all-ones matrices named in prose, and the
layout convention. Each relation in the math becomes a ``Claim``; the numeric check (``verify.py``) decides
its verdict, and only a concrete counterexample makes a claim ``wrong``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from tensorlint import ir
from tensorlint import syntax as ast
from tensorlint.env import Definition, Environment, Origin, Part
from tensorlint.extract import describe_place, source_text
from tensorlint.latex import Style
from tensorlint.lower import layer_name, lower, name_key
from tensorlint.model import Claim, Config, Diagnostic, Document, FileResult, Fix, MathSpan, Severity, Symbol
from tensorlint.parse import parse_span
from tensorlint.prose import facts
from tensorlint.relations import INEQUALITIES, is_condition
from tensorlint.shapes import Declared, ShapeError, ShapeInference, show_shape
from tensorlint.verify import Outcome, variables, verify

__all__ = ["ClaimCache", "Definition", "Environment", "Explainer", "Interpreter", "Part", "check_document"]

MAX_SPAN_CHARACTERS = 200_000
# Words that make the equation after them a condition to solve rather than an identity.
CONDITION_CUE = re.compile(
    r"\b(?:setting|set (?:it|them|this|the \w+) (?:to|equal)|solv\w*|solution|optimum|optimal\w*|"
    r"minimi[sz]\w*|maximi[sz]\w*|stationary|normal equations?|such that|s\.t\.|constraints?|"
    r"equat\w* to zero|vanish\w*)\b",
    re.I,
)
MARKDOWN_HEADING = re.compile(r"[ \t]{0,3}(#{1,6})[ \t]+")
LATEX_HEADING = re.compile(r"\\(part|chapter|section|subsection|subsubsection|paragraph)\*?\s*\{")
SPAN_MARKER = re.compile(r"\$(\d+)\$")
SENTENCE_END = re.compile(r"[.!?;。；！？]\s|\n\s*\n")
DEFINITION_CUE = re.compile(r"\b(?:let|consider|define|defined|suppose|where|take|denote|write)\b|设|令", re.I)


@dataclass(frozen=True)
class Heading:
    """A section heading met in reading order (level 1 is the outermost)."""

    level: int


# A note with more claims than this is checked up to here, with one hint saying where it stopped: the run
# stays bounded (and deterministic, unlike a time limit) on generated or pasted megabyte-sized files.
MAX_CLAIMS_PER_FILE = 10_000
# Names that mean a constant unless the document declares them: never read as being defined.
CONSTANT_NAMES = {"I", "e", "delta", "pi", "0", "1", "infty"}


# Parsed spans are cached (parse.parse_span), so the same nodes come back run after run: their names are
# remembered by identity, with the node kept alive alongside so that an identity is never reused.
_NAMES: dict[tuple[int, bool], tuple[ast.Node, frozenset[str]]] = {}


def names_in(node: ast.Node, unify_fonts: bool) -> frozenset[str]:
    """The variables named anywhere in ``node``."""
    key = (id(node), unify_fonts)
    found = _NAMES.get(key)
    if found is not None and found[0] is node:
        return found[1]
    names = frozenset(name_key(inner, unify_fonts) for inner in ast.walk(node) if isinstance(inner, ast.Name))
    if len(_NAMES) > 50_000:
        _NAMES.clear()
    _NAMES[key] = (node, names)
    return names


def is_annotation(node: ast.Node | None) -> bool:
    """An equation number ``(3)``, a shape note ``(C,D)`` or a remark: not a term a chain can continue."""
    if isinstance(node, ast.Text):
        return True
    if isinstance(node, ast.Delimited) and node.kind == "()":
        return all(isinstance(item, ast.Number | ast.Name | ast.Text) for item in node.items)
    if isinstance(node, ast.Matrix):
        return all(cell is None or is_annotation(cell) for row in node.rows for cell in row)
    return False


def dims_of_set(node: ast.Node) -> tuple | None:
    """The shape in ``\\mathbb{R}^{n\\times m}``: ``("n", "m")``; ``("n", 1)`` for ``\\mathbb{R}^n``."""
    if isinstance(node, ast.Name) and node.text == "R":
        return ()
    if not (isinstance(node, ast.Sup) and isinstance(node.base, ast.Name) and node.base.text == "R"):
        return None
    exponent = node.exponent
    factors: list[ast.Node] = []
    while isinstance(exponent, ast.BinOp) and exponent.op in ("times", "cdot"):
        factors.insert(0, exponent.right)
        exponent = exponent.left
    factors.insert(0, exponent)
    if len(factors) == 1 and isinstance(factors[0], ast.Juxt):
        # R^{n x m}: an x between two sizes, as plain-text notes write it.
        items = factors[0].items
        if len(items) == 3 and isinstance(items[1], ast.Name) and items[1].text == "x":
            factors = [items[0], items[2]]
        else:
            return None
    dims: list[int | str] = []
    for factor in factors:
        if isinstance(factor, ast.Number) and is_small_integer(factor.text):
            dims.append(int(factor.text))
        elif isinstance(factor, ast.Name) and len(factor.text) == 1:
            dims.append(factor.text)
        else:
            return None
    if len(dims) == 1:
        return (dims[0], 1)
    return tuple(dims)


# A span's placeholder in prose text (``Prose.text``), ``$12$``.
_PROSE_MARKER = re.compile(r"\$(\d{1,9})\$")


def is_small_integer(text: str) -> bool:
    """ASCII digits that ``int`` converts quickly (``"²".isdigit()`` is true, but ``int("²")`` fails)."""
    return text.isascii() and text.isdigit() and len(text) <= 18


def size_text(text: str) -> tuple | None:
    """``n\\times m`` or ``m\\times1`` from prose: the two dimensions."""
    parts = [part.strip().strip("{}") for part in text.replace("\\times", "×").replace("x", "×").split("×")]
    if len(parts) != 2:
        return None
    dims: list[int | str] = []
    for part in parts:
        if is_small_integer(part):
            dims.append(int(part))
        elif len(part) == 1 and part.isalpha():
            dims.append(part)
        else:
            return None
    return tuple(dims)


def prose_name(text: str, config: Config) -> str | None:
    from tensorlint.parse import parse_span as parse

    result = parse(text)
    if not result.statements:
        return None
    # The last name of the span: "$x, y$ are vectors", "$X \in \mathbb{R}^{n\times n}$ is symmetric".
    chain = result.statements[-1].chain
    node = chain.parts[0]
    if chain.ops and chain.ops[0] not in ("in",):
        return None
    if isinstance(node, ast.Name):
        return name_key(node, config.unify_fonts)
    return None


class Explained(Protocol):
    """What an explanation adds to a finding (``explain.Explanation``): its message and a verified fix."""

    @property
    def message(self) -> str: ...

    @property
    def fix(self) -> Fix | None: ...


# Explains a finding: (left, right, left IR, right IR, relation, outcome, environment, config, document text,
# style) -> the explanation, or None. The orchestrating layer (``core``) passes ``explain.explain``; the
# interpreter never imports the explanation layer, which runs after the check (ARCHITECTURE.md).
Explainer = Callable[[Part, Part, ir.Expr, ir.Expr, str, Outcome, Environment, Config, str, Style], Explained | None]


@dataclass
class Checked:
    """What checking one claim found: the outcome, the names it uses, and the explanations of a finding
    by where the claim stands (a fix's edits are positions, so it is reused only where it was made)."""

    outcome: Outcome
    names: set[str]
    explanations: dict[tuple[int, int, int | None], Explained | None] = field(default_factory=dict)


class ClaimCache:
    """Verdicts by (left side, relation, right side, environment fingerprint).

    Within one run it saves checking a repeated claim twice. Across runs (the language server re-checking
    a note after an edit) pass the cache of the previous run: claims whose text and environment did not
    change reuse their verdicts, and only what the edit touched is checked again. Entries not used by a
    run are dropped when it ends, so the cache never outgrows the note.
    """

    def __init__(self) -> None:
        self.previous: dict[tuple[str, str, str, str], Checked] = {}
        self.current: dict[tuple[str, str, str, str], Checked] = {}
        self.hits = 0

    def get(self, key: tuple[str, str, str, str]) -> Checked | None:
        found = self.current.get(key) or self.previous.get(key)
        self.hits += found is not None
        return found

    def put(self, key: tuple[str, str, str, str], checked: Checked) -> None:
        self.current[key] = checked

    def next_run(self) -> None:
        """Start a new run: what the last run used stays available, the rest is forgotten."""
        self.previous, self.current, self.hits = self.current, {}, 0


class Interpreter:
    def __init__(
        self, document: Document, config: Config, cache: ClaimCache | None = None, explainer: Explainer | None = None
    ) -> None:
        self.document = document
        # Explains findings (message with the expected result, a fix); None: findings keep the check's message.
        self.explainer = explainer
        self.config = config
        self.env = Environment()
        self.claims: list[Claim] = []
        self.diagnostics: list[Diagnostic] = []
        self.previous_tail: Part | None = None
        self.cache = cache if cache is not None else ClaimCache()
        self.stopped = False
        # The prose read last, and the words that lead into the span being read ("setting it to zero gives").
        self.last_prose = ""
        self.lead_in = ""
        # How the author writes names, transposes and operators, so that fixes read like the note.
        self.style = Style()
        self.unlearnt: list[tuple[list[ast.Node], str]] = []
        # Where the statement being read stands, for the symbols it declares or defines.
        self.current_at: tuple[int, int] = (0, 0)
        self.symbols: list[Symbol] = []
        # The open sections, outermost first: (heading level, heading number).
        self.sections: list[tuple[int, int]] = []
        self.headings_seen = 0
        # The project's layout is a default for notes that say nothing: the note's own words (a directive,
        # then prose) replace it. ``layout_default`` is true while the layout is still that default.
        self.layout_default = config.layout != "auto"
        if self.layout_default:
            self.env.layout, self.env.layout_fixed = config.layout, True
            self.env.version += 1

    # Reading order ----------------------------------------------------------------------------------------

    def run(self) -> FileResult:
        document = self.document
        self.prose_markers: dict[int, int] | None = None
        events: list[tuple[int, int, object]] = []
        events.extend((span.start, 1, span) for span in document.spans)
        events.extend((prose.start, 0, prose) for prose in document.prose)
        events.extend((directive.start, 0, directive) for directive in document.directives)
        events.extend(self.headings())
        events.sort(key=lambda event: (event[0], event[1]))
        span_texts = [span.text for span in document.spans]
        span_numbers = {id(span): number for number, span in enumerate(document.spans)}
        for _, _, event in events:
            if isinstance(event, MathSpan):
                self.lead_in = self.prose_before(span_numbers[id(event)])
                self.span(event)
            elif isinstance(event, Heading):
                self.heading(event.level)
            elif hasattr(event, "body"):
                self.directive(event.body, event.start)  # type: ignore[attr-defined]
            else:
                self.last_prose = event.text  # type: ignore[attr-defined]
                self.prose_markers = None
                for fact in facts(event.text, span_texts, event.start):  # type: ignore[attr-defined]
                    self.prose_fact(fact)
        return FileResult(
            document.path, document.text, self.claims, list(document.problems) + self.diagnostics, self.symbols
        )

    def headings(self) -> list[tuple[int, int, object]]:
        """The section headings, as events: a Markdown heading is a prose run after ``#``…; a LaTeX
        ``\\section{…}`` (and below) takes effect before the next math span of its paragraph."""
        found: list[tuple[int, int, object]] = []
        text = self.document.text
        spans = self.document.spans
        for prose in self.document.prose:
            line_start = text.rfind("\n", 0, prose.start) + 1
            marks = MARKDOWN_HEADING.fullmatch(text[line_start : prose.start])
            if marks:
                found.append((prose.start, -1, Heading(len(marks.group(1)))))
                continue
            for match in LATEX_HEADING.finditer(prose.text):
                level = {"part": 1, "chapter": 1, "section": 2, "subsection": 3}.get(match.group(1), 4)
                after = SPAN_MARKER.search(prose.text, match.end())
                number = int(after.group(1)) if after else -1
                if 0 <= number < len(spans):
                    found.append((spans[number].start, -1, Heading(level)))
                else:
                    found.append((prose.end, -1, Heading(level)))
        return found

    def heading(self, level: int) -> None:
        """A heading of ``level`` ends the sections at that level or below and opens a new one."""
        while self.sections and self.sections[-1][0] >= level:
            self.sections.pop()
        self.headings_seen += 1
        self.sections.append((level, self.headings_seen))
        self.env.section = tuple(number for _, number in self.sections)
        self.env.version += 1

    def origin(self, source: str = "stated") -> Origin:
        at = self.current_at[0]
        return Origin(source, at, self.line(at), self.env.section)

    def prose_before(self, number: int) -> str:
        """The words just before span ``number``: in its own paragraph, or the end of the last one."""
        if self.prose_markers is None:
            # Where each span's ``$k$`` stands, found once per paragraph: a search per span was quadratic
            # in a paragraph of many spans (a table of 50,000 formulas).
            self.prose_markers = {}
            for marker in _PROSE_MARKER.finditer(self.last_prose):
                self.prose_markers.setdefault(int(marker.group(1)), marker.start())
        position = self.prose_markers.get(number, len(self.last_prose))
        return self.last_prose[max(0, position - 160) : position]

    def line(self, offset: int) -> int:
        return self.document.text.count("\n", 0, offset) + 1

    def place(self, offset: int) -> str:
        """Where ``offset`` is, as a reader finds it: ``on line 7``, or in a notebook ``in cell 2, line 3``."""
        return describe_place(self.document, offset)

    def directive(self, body: str, at: int) -> None:
        body = body.strip()
        if body.startswith("einstein="):
            value = body.split("=", 1)[1].partition(" -- ")[0].strip()
            if value in ("on", "off", "auto"):
                self.env.einstein = value
                self.env.version += 1
            return
        if body.startswith("layout="):
            value = body.split("=", 1)[1].partition(" -- ")[0].strip()
            if value in ("numerator", "denominator"):
                self.layout_default = False
                self.env.layout, self.env.layout_where, self.env.layout_fixed = value, at, True
                self.env.layout_source = f"a directive {self.place(at)}"
                self.env.version += 1
            return
        result = parse_span(body)
        for statement in result.statements:
            chain = statement.chain
            for index, op in enumerate(chain.ops):
                left, right = chain.parts[index], chain.parts[index + 1]
                if op == "in" and left is not None and right is not None:
                    self.declare(left, right)

    def prose_fact(self, fact: object) -> None:
        from tensorlint.prose import ProseFact

        assert isinstance(fact, ProseFact)
        config = self.config
        self.current_at = (fact.offset, fact.offset)
        if fact.kind == "layout" and (not self.env.layout_fixed or self.layout_default):
            self.layout_default = False
            self.env.layout, self.env.layout_where, self.env.layout_fixed = fact.value, fact.offset, True
            self.env.layout_source = f"the prose {self.place(fact.offset)}"
            self.env.version += 1
            return
        if fact.kind == "structure":
            key = prose_name(fact.name, config)
            if key:
                self.env.structures.setdefault(key, set()).update(fact.value.split(","))
                self.env.version += 1
            return
        if fact.kind == "all-ones":
            key = prose_name(fact.name, config)
            if key:
                self.env.all_ones.add(key)
                self.env.version += 1
                self.env.known.add(key)
            return
        key = prose_name(fact.name, config)
        if key is None:
            return
        shape: tuple | None = None
        if fact.kind == "size":
            shape = size_text(fact.value)
        elif fact.kind == "shape":
            shape = size_text(f"{fact.rows}×{fact.columns}")
        elif fact.kind == "scalar":
            shape = ()
        elif fact.kind == "orientation":
            current = self.env.declared.get(key)
            if current is not None and len(current.shape) == 2 and 1 in current.shape:
                length = current.shape[0] if current.shape[1] == 1 else current.shape[1]
                shape = (length, 1) if fact.value == "column" else (1, length)
        if shape is not None:
            self.set_declared(key, Declared(shape))

    def set_declared(self, key: str, declared: Declared) -> None:
        # A definition stays: the declaration states its shape, and the two are unified when the name is
        # used (a definition that no longer fits is set aside for that claim).
        self.env.declared[key] = declared
        self.env.origins[key] = self.origin()
        self.env.version += 1
        start, end = self.current_at
        kind = "function" if declared.arguments is not None else "declared"
        self.symbols.append(Symbol(key, kind, show_shape(declared.shape), start, end))
        for dim in declared.shape:
            if isinstance(dim, str):
                self.env.dims.add(dim)
        self.env.seen.add(key)
        self.env.known.add(key)

    # Math -------------------------------------------------------------------------------------------------

    def problem(self, span: MathSpan, start: int, end: int, code: str, message: str) -> None:
        severity: Severity = "hint"
        doc_start = span.doc_offset(start)
        doc_end = span.doc_offset(max(start, end - 1)) + 1 if end > start else doc_start
        self.diagnostics.append(Diagnostic(code, message, doc_start, doc_end, severity))

    def span(self, span: MathSpan) -> None:
        if self.stopped:
            return
        if len(self.claims) >= MAX_CLAIMS_PER_FILE:
            self.stopped = True
            message = f"this note has more than {MAX_CLAIMS_PER_FILE} claims; the rest of it is not checked"
            self.diagnostics.append(Diagnostic("TL002", message, span.start, span.start, "hint"))
            return
        if len(span.text) > MAX_SPAN_CHARACTERS:
            self.problem(span, 0, len(span.text), "TL002", "this formula is too long to check")
            return
        result = parse_span(span.text)
        # The author's style is learnt only when a fix needs it (see check): clean notes never pay for it.
        self.unlearnt.append(([statement.chain for statement in result.statements], span.text))
        for start, end, code, message in result.problems:
            self.problem(span, start, end, code, message)
        # "$x, y \in \mathbb{R}^n$" splits at the comma: names listed before a declaration share it.
        listed: list[ast.Node] = []
        for statement in result.statements:
            chain = statement.chain
            if not chain.ops and isinstance(chain.parts[0], ast.Name):
                listed.append(chain.parts[0])
            elif chain.ops[:1] == ("in",) and chain.parts[0] is not None and len(chain.parts) == 2 and listed:
                for name in listed:
                    self.declare(name, chain.parts[1])  # type: ignore[arg-type]
                listed = []
            else:
                listed = []
            tail = self.previous_tail
            try:
                self.statement(chain, span)
            except Exception as error:
                # A bug met while reading one statement costs that statement only, never the file.
                start, end = span.doc_offset(chain.start), span.doc_offset(max(chain.start, chain.end - 1)) + 1
                message = f"internal checker error: {describe(error)}"
                self.diagnostics.append(Diagnostic("TL900", message, start, end, "warning"))
            if statement.remark:
                # A remark's equation (`& & \text{from } x^T y = y^T x`) is not what the next row continues.
                self.previous_tail = tail

    def statement(self, chain: ast.Chain, span: MathSpan) -> None:
        parts: list[Part | None] = [Part(node, span) if node is not None else None for node in chain.parts]
        continued = bool(parts) and parts[0] is None and self.previous_tail is not None
        if continued and self.previous_tail is not None:
            tail = self.previous_tail
            at = span.doc_offset(chain.start) if tail.span is not span else None
            parts[0] = Part(tail.node, tail.span, at)
        for index, op in enumerate(chain.ops):
            left, right = parts[index], parts[index + 1]
            if left is None or right is None:
                continue
            if index > 0 and left.continued_at is None:
                left = self.aligned(left, right, span, chain.start)
            self.link(left, op, right, continuation=continued and index == 0)
        last = parts[-1] if parts else None
        if not (len(chain.parts) == 1 and is_annotation(chain.parts[0])):
            self.previous_tail = last
        for part in parts:
            if part is not None:
                self.mark_seen(part.node)

    def aligned(self, left: Part, right: Part, span: MathSpan, statement_start: int) -> Part:
        """In ``a = b &= c`` the text before ``&`` is the aligned left-hand side: the claim ``b = c`` is
        reported over ``a = b &= c`` (from the previous ``&`` on its line, if any)."""
        text = span.text
        between = text[left.node.end : right.node.start]
        if "&" not in between:
            return left
        before = text[statement_start : left.node.start]
        previous = before.rfind("&")
        start = statement_start if previous < 0 else statement_start + previous
        return Part(left.node, left.span, span.doc_offset(start))

    def mark_seen(self, node: ast.Node) -> None:
        self.env.seen |= names_in(node, self.config.unify_fonts)

    def declare(self, left: ast.Node, right: ast.Node) -> bool:
        shape = dims_of_set(right)
        if shape is None:
            return False
        targets = list(left.items) if isinstance(left, ast.Delimited) else [left]
        for target in targets:
            key = self.target_key(target)
            if key is None:
                call = self.call_target(target)
                if call is not None:
                    self.set_declared(call[0], Declared(shape, arguments=((),) * len(call[1])))
                continue
            self.set_declared(key, Declared(shape))
        return True

    def target_key(self, node: ast.Node) -> str | None:
        layer = layer_name(node, self.config.unify_fonts)
        if layer is not None and not layer[1]:
            return layer[0]
        if isinstance(node, ast.Name):
            return name_key(node, self.config.unify_fonts)
        if isinstance(node, ast.Sub) and isinstance(node.base, ast.Name):
            base = name_key(node.base, self.config.unify_fonts)
            if isinstance(node.base, ast.Number):
                return None
            index = node.index
            if isinstance(index, ast.Name | ast.Number):
                return f"{base}_{index.text}"
        return None

    def call_target(self, node: ast.Node) -> tuple[str, tuple[str, ...]] | None:
        """``f(X)`` on the left of a definition: the function's name and parameter names."""
        if (
            isinstance(node, ast.Juxt)
            and len(node.items) == 2
            and isinstance(node.items[0], ast.Name)
            and isinstance(node.items[1], ast.Delimited)
            and node.items[1].kind == "()"
        ):
            parameters = []
            for item in node.items[1].items:
                if not isinstance(item, ast.Name):
                    return None
                parameters.append(name_key(item, self.config.unify_fonts))
            return name_key(node.items[0], self.config.unify_fonts), tuple(parameters)
        return None

    def definition_target(self, node: ast.Node) -> tuple[str, tuple[str, ...]] | None:
        """A bare name, optionally with free index letters: ``y``, ``f_i``, ``C_{ij}``, ``Y_{i,j}``."""
        if isinstance(node, ast.Name) and node.text not in ("d",):
            return name_key(node, self.config.unify_fonts), ()
        layer = layer_name(node, self.config.unify_fonts)
        if layer is not None and not layer[1]:
            return layer[0], ()
        if isinstance(node, ast.Sub) and isinstance(node.base, ast.Name):
            key = name_key(node.base, self.config.unify_fonts)
            if key in ("delta", "e", "I"):
                return None
            index = node.index
            items = (
                list(index.items)
                if isinstance(index, ast.Delimited)
                else (list(index.items) if isinstance(index, ast.Juxt) else [index])
            )
            labels = []
            for item in items:
                if not (isinstance(item, ast.Name) and item.text.islower() and len(item.text) == 1):
                    return None
                labels.append(item.text)
            if len(set(labels)) != len(labels):
                return None
            return key, tuple(labels)
        return None

    def link(self, left: Part, op: str, right: Part, continuation: bool = False) -> None:
        self.current_at = (left.start, right.end)
        if continuation and op in ("=", "def", "ne"):
            # A continued chain compares with what came before: it never defines a name.
            self.check(left, op, right)
            return
        if op == "in":
            declared = self.declare(left.node, right.node)
            space = right.node
            is_space = isinstance(space, ast.Sup) and isinstance(space.base, ast.Name) and space.base.text == "R"
            if not declared and is_space:
                message = "the dimensions of this space are not understood, so the declaration is ignored"
                self.diagnostics.append(Diagnostic("TL002", message, right.start, right.end, "hint"))
            return
        if op == "to":
            self.signature(left.node, right.node)
            return
        if op == "approx":
            self.add_claim(left, right, "uncheckable", "approximations are not checked yet")
            return
        if op in INEQUALITIES:
            if is_condition(left.node, right.node, self.is_defined):
                self.add_claim(left, right, "uncheckable", "not checked: a condition on the values, not a claim")
                return
            self.check(left, op, right)
            return
        if op in ("=", "def"):
            call = self.call_target(left.node)
            if call is not None and (
                op == "def" or call[0] not in self.env.seen or self.introduces() or bool(self.env.foreign({call[0]}))
            ):
                assert call is not None
                scope = self.env.scope(self.config)
                scope.variables |= set(call[1])
                self.env.definitions[call[0]] = Definition(lower(right.node, scope), parameters=call[1])
                self.env.origins[call[0]] = self.origin()
                self.env.version += 1
                self.env.known.add(call[0])
                self.add_claim(left, right, "definition", f"defines `{call[0]}`")
                return
            loss = self.gradient_name(left.node, right.node)
            if loss is not None:
                self.env.gradient_loss = loss
                self.env.version += 1
                self.add_claim(left, right, "definition", f"d-names are gradients of `{loss}` from here on")
                return
            structure = self.structure_statement(left.node, right.node)
            if structure is not None:
                key, kind = structure
                if kind not in self.env.structures.get(key, set()):
                    self.env.structures.setdefault(key, set()).add(kind)
                    self.env.version += 1
                    self.add_claim(left, right, "definition", f"declares `{key}` {kind}")
                    return
            if self.entry_pattern(left.node, right.node):
                self.add_claim(left, right, "definition", "declares the shape by its entries")
                return
            if self.evaluation_point(left.node, right.node):
                # "Plugging in $x = 1$": a point where something is evaluated, not a claim or a definition.
                return
            target = self.definition_target(left.node)
            reverse = self.definition_target(right.node)
            if (
                target is None
                and reverse is not None
                and not reverse[1]
                and reverse[0] not in self.env.seen
                and reverse[0] not in CONSTANT_NAMES
            ):
                self.define(reverse, left)
                self.add_claim(left, right, "definition", f"defines `{reverse[0]}`")
                return
            if target is not None and (op == "def" or self.is_definition(target, left, right)):
                self.define(target, right)
                self.add_claim(left, right, "definition", f"defines `{target[0]}`")
                return
        self.check(left, op, right)

    def evaluation_point(self, left: ast.Node, right: ast.Node) -> bool:
        """``x = 1`` for a name the note already uses as a variable (and never defined): an evaluation point
        ("plugging in", "at"), a hypothesis that is neither checked nor kept as a definition."""
        value = right.operand if isinstance(right, ast.Neg) else right
        if not (isinstance(left, ast.Name) and isinstance(value, ast.Number) and not value.font):
            return False
        key = name_key(left, self.config.unify_fonts)
        return key in self.env.seen and key not in self.env.definitions and key not in CONSTANT_NAMES

    def introduces(self) -> bool:
        """Whether the words just before the math, in the same sentence, introduce a definition ("Let",
        "Consider", "Define", "Suppose", "where"): ``f(x) = …`` then (re)defines f rather than claiming."""
        sentence = SENTENCE_END.split(self.lead_in)[-1]
        return DEFINITION_CUE.search(sentence) is not None

    def is_defined(self, node: ast.Node) -> bool:
        """Whether a bare name (``J``, ``x_i``) has a definition in the note, so an inequality on it is a claim."""
        target = self.definition_target(node)
        return target is not None and target[0] in self.env.definitions

    def gradient_name(self, left: ast.Node, right: ast.Node) -> str | None:
        """``dW = \\frac{\\partial L}{\\partial W}``: from here on, ``dX`` means the gradient of L by X."""
        if not (isinstance(left, ast.Juxt) and len(left.items) == 2 and isinstance(left.items[1], ast.Name)):
            return None
        first = left.items[0]
        if not (isinstance(first, ast.Name) and first.text == "d"):
            return None
        derivative = lower(right, self.env.scope(self.config))
        if (
            isinstance(derivative, ir.Deriv)
            and isinstance(derivative.numerator, ir.Var)
            and derivative.wrt.key == name_key(left.items[1], self.config.unify_fonts)
            and derivative.wrt.indices is None
        ):
            return derivative.numerator.key
        return None

    def structure_statement(self, left: ast.Node, right: ast.Node) -> tuple[str, str] | None:
        """``A = A^T`` states that A is symmetric; ``Q^T Q = I`` that Q is orthogonal."""
        unify = self.config.unify_fonts
        for one, other in ((left, right), (right, left)):
            if (
                isinstance(one, ast.Name)
                and isinstance(other, ast.Transpose)
                and not other.inverse
                and isinstance(other.base, ast.Name)
                and name_key(one, unify) == name_key(other.base, unify)
            ):
                return name_key(one, unify), "symmetric"
            is_identity = isinstance(other, ast.Name) and other.text == "I"
            if is_identity and isinstance(one, ast.Juxt) and len(one.items) == 2:
                first, second = one.items
                for plain, transposed in ((first, second), (second, first)):
                    if (
                        isinstance(plain, ast.Name)
                        and isinstance(transposed, ast.Transpose)
                        and isinstance(transposed.base, ast.Name)
                        and name_key(plain, unify) == name_key(transposed.base, unify)
                    ):
                        return name_key(plain, unify), "orthogonal"
        return None

    def entry_pattern(self, left: ast.Node, right: ast.Node) -> bool:
        """``W = [W_{11} … W_{DC}]``: a matrix written by its entries declares its shape (D×C)."""
        if not isinstance(left, ast.Name):
            return False
        if isinstance(right, ast.Delimited) and right.kind == "[]" and len(right.items) > 1:
            return self.vector_entries(left, (tuple(right.items),))
        if not isinstance(right, ast.Matrix):
            return False
        if right.rows and all(len(row) == 1 for row in right.rows):
            return self.vector_entries(left, right.rows)
        letter = left.text.lower()
        last: tuple | None = None
        for row in right.rows:
            for cell in row:
                if cell is None or isinstance(cell, ast.Dots):
                    continue
                if not (isinstance(cell, ast.Sub) and isinstance(cell.base, ast.Name)):
                    return False
                if cell.base.text.lower() != letter:
                    return False
                index = cell.index
                parts: list[ast.Node]
                if isinstance(index, ast.Number) and len(index.text) == 2:
                    parts = [ast.Number(index.text[0]), ast.Number(index.text[1])]
                elif isinstance(index, ast.Juxt | ast.Delimited):
                    parts = list(index.items)
                else:
                    return False
                if len(parts) != 2:
                    return False
                last = tuple(parts)
        if last is None:
            return False
        dims: list[int | str] = []
        rows = len(right.rows)
        columns = max(len(row) for row in right.rows)
        for part, count in zip(last, (rows, columns), strict=True):
            if isinstance(part, ast.Number) and part.text.isdigit():
                dims.append(count)
            elif isinstance(part, ast.Name) and len(part.text) == 1:
                dims.append(part.text)
            else:
                return False
        key = name_key(left, self.config.unify_fonts)
        # Entries written with another letter (x_{ij} for X) name X's entries, unless that letter is
        # already a variable of its own (a vector x next to a data matrix X).
        entry_letters = {
            cell.base.text
            for row in right.rows
            for cell in row
            if isinstance(cell, ast.Sub) and isinstance(cell.base, ast.Name)
        }
        env = self.env
        for entry in entry_letters - {left.text}:
            if entry not in env.declared and entry not in env.definitions and entry not in env.known:
                env.aliases[entry] = key
        self.set_declared(key, Declared(tuple(dims), soft=True))
        return True

    def vector_entries(self, left: ast.Name, rows: tuple[tuple[ast.Node | None, ...], ...]) -> bool:
        """``x = [x_1 \\ x_2 \\ \\dots \\ x_D]`` declares a 1×D row; a one-column matrix, a column."""
        cells = [cell for row in rows for cell in row]
        if not any(isinstance(cell, ast.Dots) for cell in cells):
            return False
        last = None
        for cell in cells:
            if cell is None or isinstance(cell, ast.Dots):
                continue
            if not (isinstance(cell, ast.Sub) and isinstance(cell.base, ast.Name)):
                return False
            if cell.base.text.lower() != left.text.lower():
                return False
            last = cell.index
        if isinstance(last, ast.Number) and is_small_integer(last.text):
            size: int | str = int(last.text)
        elif isinstance(last, ast.Name) and len(last.text) == 1:
            size = last.text
        else:
            return False
        shape = (1, size) if len(rows) == 1 else (size, 1)
        self.set_declared(name_key(left, self.config.unify_fonts), Declared(shape, soft=True))
        return True

    def is_definition(self, target: tuple[str, tuple[str, ...]], left: Part, right: Part) -> bool:
        key, labels = target
        names = {name_key(node, self.config.unify_fonts) for node in ast.walk(right.node) if isinstance(node, ast.Name)}
        return not (key in names and not labels)

    def define(self, target: tuple[str, tuple[str, ...]], right: Part) -> None:
        key, labels = target
        scope = self.env.scope(self.config)
        expr = lower(right.node, scope)
        self.rebind(key, expr)
        self.env.definitions[key] = Definition(expr, labels)
        self.env.origins[key] = self.origin()
        start, end = self.current_at
        self.symbols.append(Symbol(key, "defined", self.shape_text(expr), start, end))
        self.env.version += 1
        self.env.known.add(key)
        self.env.seen.add(key)

    def shape_text(self, expr: ir.Expr) -> str:
        """The readable shape of a definition's right side, or "" when it is not known."""
        inference = self.inference(set())
        try:
            shape = inference.infer(expr)
        except ShapeError:
            return ""
        if shape is None:
            return ""
        text = show_shape(inference.unifier.resolve(shape))
        return "" if "?" in text else text

    def inference(self, ignored: set[str]) -> ShapeInference:
        """Shape inference over the current environment, with the declarations in ``ignored`` set aside."""
        env = self.env
        return ShapeInference(
            lambda key: None if key in ignored else env.declared.get(key),
            env.definition,
            env.definition_labels,
            env.function,
        )

    def fits(self, expr: ir.Expr, ignored: set[str]) -> bool:
        """Whether ``expr`` is well-shaped with the declarations in ``ignored`` set aside."""
        try:
            self.inference(ignored).infer(expr)
        except ShapeError:
            return False
        return True

    def rebind(self, key: str, expr: ir.Expr) -> None:
        """A definition that cannot be well-shaped with the declared shapes reuses names with new shapes
        (notes do this from one section to the next): those names get fresh, inferred shapes from here on."""
        if self.fits(expr, set()):
            return
        declared = sorted(
            name
            for name in variables(expr)
            if name != key and name in self.env.declared and self.env.declared[name].arguments is None
        )
        for name in declared:
            if self.fits(expr, {name}):
                del self.env.declared[name]
                self.env.version += 1
                return
        if declared and self.fits(expr, set(declared)):
            for name in declared:
                del self.env.declared[name]
            self.env.version += 1

    def signature(self, left: ast.Node, right: ast.Node) -> None:
        """``f : \\mathbb{R}^{m\\times n} \\to \\mathbb{R}^n``."""
        if not (isinstance(left, ast.BinOp) and left.op == "frob" and isinstance(left.left, ast.Name)):
            return
        domain, codomain = dims_of_set(left.right), dims_of_set(right)
        if domain is None or codomain is None:
            return
        key = name_key(left.left, self.config.unify_fonts)
        self.set_declared(key, Declared(codomain, arguments=(domain,)))

    # Claims -----------------------------------------------------------------------------------------------

    def add_claim(self, left: Part, right: Part, verdict: str, message: str, layout: str | None = None) -> Claim:
        start, end = left.start, right.end
        if left.continued_at is not None:
            start = left.continued_at
        if end < start:
            start, end = right.start, left.end
        latex = source_text(self.document, start, end)
        claim = Claim(start, end, latex, verdict, message, layout)  # type: ignore[arg-type]
        self.claims.append(claim)
        return claim

    def check(self, left: Part, op: str, right: Part) -> None:
        latex = self.document.text[left.start if left.continued_at is None else left.continued_at : right.end]
        # The same claim in the same environment gets the same verdict: check it once (and, across runs of
        # the language server, lower and check only what an edit changed).
        text = self.document.text
        key = (text[left.start : left.end], op, text[right.start : right.end], self.env.fingerprint())
        checked = self.cache.get(key)
        lowered: tuple[ir.Expr, ir.Expr] | None = None
        if checked is None:
            try:
                scope = self.env.scope(self.config)
                lowered = lower(left.node, scope), lower(right.node, scope)
                outcome = verify(lowered[0], lowered[1], op, self.env, self.config, latex, left, right)
                checked = Checked(outcome, variables(lowered[0]) | variables(lowered[1]))
            except Exception as error:
                # A bug met while checking this claim costs this claim only: uncheckable, with a TL900 at it.
                checked = Checked(Outcome("uncheckable", f"internal checker error: {describe(error)}", "TL900"), set())
                lowered = None
        self.cache.put(key, checked)
        outcome = checked.outcome
        if outcome.verdict in ("wrong", "shape") and (cue := CONDITION_CUE.search(self.lead_in)):
            # "Setting the gradient to zero gives (XᵀX + λI)w = Xᵀy": an equation to solve, not an identity.
            reason = f"not checked: the note introduces this as a condition (“{cue.group(0)}”), not an identity"
            outcome = Outcome("uncheckable", reason)
        if outcome.verdict == "wrong" and self.updates(left, right):
            # "k = k + 1", "w = w - η∇L": an algorithm step or an equation to solve for the name, not an identity.
            name = name_key(left.node, self.config.unify_fonts).split("@")[0]  # type: ignore[arg-type]
            outcome = Outcome(
                "uncheckable", f"not checked: an update of `{name}` or an equation for it, not an identity"
            )
        explanation = None
        if outcome.verdict in ("wrong", "shape", "layout") and self.explainer is not None:
            place = (left.start, right.end, left.continued_at)
            if place in checked.explanations:
                explanation = checked.explanations[place]
            else:
                # The correct result and a fix, verified before they are offered.
                for chains, span_text in self.unlearnt:
                    self.style.learn(chains, span_text, self.config.unify_fonts)
                self.unlearnt.clear()
                if lowered is None:
                    scope = self.env.scope(self.config)
                    lowered = lower(left.node, scope), lower(right.node, scope)
                try:
                    explanation = self.explainer(
                        left, right, lowered[0], lowered[1], op, outcome, self.env, self.config, text, self.style
                    )
                except Exception:  # An explanation is an extra: the finding stands without it.
                    explanation = None
                checked.explanations[place] = explanation
        self.record(left, right, outcome, checked.names, explanation)

    def updates(self, left: Part, right: Part) -> bool:
        """Whether ``left`` is a bare name that the right side uses too (``k = k + 1``)."""
        if not isinstance(left.node, ast.Name):
            return False
        return name_key(left.node, self.config.unify_fonts) in names_in(right.node, self.config.unify_fonts)

    def record(
        self, left: Part, right: Part, outcome: Outcome, names: set[str], explanation: Explained | None = None
    ) -> None:
        verdict = outcome.verdict
        env = self.env
        if outcome.layout_used and verdict == "verified" and not env.layout_fixed:
            vote = f"{outcome.layout_used}/{outcome.layout_kind}"
            env.layout_votes[vote] = env.layout_votes.get(vote, 0) + 1
            env.version += 1
        if outcome.layout_used and not env.layout_fixed and env.layout is None and verdict == "verified":
            env.layout, env.layout_where = outcome.layout_used, left.start
            env.layout_source = f"the claim {self.place(left.start)}"
            env.version += 1
        message = explanation.message if explanation is not None else outcome.message
        fix = explanation.fix if explanation is not None else None
        claim = self.add_claim(left, right, verdict, message, outcome.layout_used)
        if verdict == "verified":
            # The names of a verified claim have a meaning the document has shown to hold.
            before = len(env.known)
            env.known |= names
            env.version += len(env.known) != before
        codes = {
            "wrong": (outcome.code or "TL201", "error"),
            "shape": (outcome.code or "TL101", "error"),
            "layout": ("TL203", "warning"),
        }
        if verdict in codes:
            code, severity = codes[verdict]
            self.diagnostics.append(Diagnostic(code, message, claim.start, claim.end, severity, fix))  # type: ignore[arg-type]
        elif verdict == "uncheckable" and outcome.code == "TL900":
            self.diagnostics.append(Diagnostic("TL900", outcome.message, claim.start, claim.end, "warning"))
        elif verdict == "uncheckable":
            self.diagnostics.append(Diagnostic("TL205", outcome.message, claim.start, claim.end, "hint"))


def describe(error: BaseException) -> str:
    """``ValueError: axes don't match array``: the exception as one line, for a TL900 message."""
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def check_document(
    document: Document, config: Config, cache: ClaimCache | None = None, explainer: Explainer | None = None
) -> FileResult:
    """Every claim of the document with its verdict. Pass the same ``cache`` to successive runs over one
    note (``cache.next_run()`` in between) to re-check only what changed, and an ``explainer`` to explain
    findings (``core.check_text`` passes ``explain.explain``)."""
    return Interpreter(document, config, cache, explainer).run()
