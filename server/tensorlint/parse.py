"""Parsing: one math span in, a list of statements (``Chain`` ASTs) and the problems met out.

The span is scanned into tokens, split into statements at top-level separators (``\\quad``, ``\\\\``,
``\\cr``, ``,``, ``\\implies``, remarks in ``\\text{..}``), and each statement is parsed by the Lark LALR
grammar in ``grammar/math.lark`` with an embedded transformer that builds ``syntax`` nodes directly (no
parse tree, no recursion, so deep nesting cannot overflow the stack). Equation numbers such as ``(3)`` are
dropped, and what follows ``\\forall`` is a domain, not an equation.

A statement that does not parse is reported and skipped; the other statements of the span are still used.
The report points at the unreadable part, not at the whole statement: an unbalanced bracket and what it
encloses, or the innermost bracket around the token where reading stopped (or from that token to the end of
the statement). Input too large to read in bounded time (a span over ``MAX_SPAN_CHARACTERS``, brackets
nested more than ``scan.MAX_DEPTH`` deep, a statement over ``MAX_TOKENS_PER_STATEMENT`` tokens or nested
more than ``MAX_NESTING`` levels) is reported as such and skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, UnexpectedInput
from lark.lexer import Lexer

from tensorlint import syntax as ast
from tensorlint.scan import scan

OPENERS = {"LPAR", "FLPAR", "LSQB", "LCURLY", "LBRACE", "LBAR", "LNORM", "LANGLE", "MAT_BEGIN"}
CLOSERS = {"RPAR", "RSQB", "RCURLY", "RBRACE", "RBAR", "RNORM", "RANGLE", "MAT_END"}
# The openers each closer closes.
MATCHING = {
    "RPAR": ("LPAR", "FLPAR"), "RSQB": ("LSQB",), "RCURLY": ("LCURLY",), "RBRACE": ("LBRACE",),
    "RBAR": ("LBAR",), "RNORM": ("LNORM",), "RANGLE": ("LANGLE",), "MAT_END": ("MAT_BEGIN",),
}  # fmt: skip
SPLITTERS = {"QUAD", "SEP", "TEXT", "PERIOD", "SEMI", "ROW_END", "COMMA", "MID", "QUANT"}
RELATIONS = {
    "EQ": "=", "NE": "ne", "DEFEQ": "def", "LT": "<", "GT": ">", "LE": "le", "GE": "ge",
    "APPROX": "approx", "IN": "in", "TO": "to",
}  # fmt: skip
# The Loewner order between matrices, read as a relation of its own (a positive semidefinite difference).
LOEWNER = {"succeq": "succeq", "succcurlyeq": "succeq", "⪰": "succeq", "preceq": "preceq", "preccurlyeq": "preceq",
           "⪯": "preceq"}  # fmt: skip
# After one of these a statement is not finished, so a remark in words that follows belongs to it:
# `i = \text{from } 1 \text{ to } C` is one (unreadable) statement, not `i =` and two more.
DANGLING = set(RELATIONS) | {"PLUS", "MINUS", "CDOT", "TIMES", "OTIMES", "ODOT", "SLASH", "COLON"}
# A statement made of one of these alone mentions an operator in prose.
OPERATOR_MENTIONS = DANGLING | {"FUNC", "WIDEFUNC", "BIGOP", "SQRT", "FRAC", "BANG", "UNDERSCORE", "CARET", "PRIME"}
SEPARATOR_NAMES = {",": "COMMA", "\\ ": "ROWSEP", "\\mid": "MID", "\\\\": "ROW_END"}
MAX_SPAN_CHARACTERS = 200_000
MAX_TOKENS_PER_STATEMENT = 20_000
# Deeper trees are not built into claims: later stages walk them recursively.
MAX_NESTING = 400
# A number with more digits than this is not a size, an index or a value anything can be checked with
# (a double ends near 1.8e308), and Python refuses to convert more than 4,300 digits to an int.
MAX_NUMBER_DIGITS = 300


@dataclass
class Statement:
    """One parsed statement and the offsets (into the span text) it covers."""

    chain: ast.Chain
    start: int
    end: int
    # A statement inside a remark of its row (``& & \\text{from } x^T y = y^T x``, ``\\text{since } c = d``):
    # still a statement, but not one that the next row's ``= …`` continues.
    remark: bool = False


@dataclass
class ParseResult:
    statements: list[Statement] = field(default_factory=list)
    # (start, end, code, message) with offsets into the span text.
    problems: list[tuple[int, int, str, str]] = field(default_factory=list)


class _TokenLexer(Lexer):
    """The "text" given to ``Lark.parse`` is the statement's token list from ``scan``: it is fed as is."""

    def __init__(self, lexer_conf: Any) -> None:
        pass

    def lex(self, data: Any) -> Any:  # type: ignore[override]
        return iter(data)


def grammar_path() -> Path:
    """The grammar: ``tensorlint/grammar`` inside a wheel, ``grammar/`` at the top of a source checkout."""
    packaged = Path(__file__).with_name("grammar") / "math.lark"
    if packaged.exists():
        return packaged
    return Path(__file__).resolve().parents[2] / "grammar" / "math.lark"


def _font(token: Token) -> tuple[str, str]:
    text, _, font = str(token.value).partition("\x00")
    return text, font


def _cover(*parts: Any) -> Any:
    """The smallest range covering every token and node among ``parts`` (lists and tuples searched)."""
    start, end = None, None
    stack = list(parts)
    while stack:
        part = stack.pop()
        if isinstance(part, Token):
            low, high = part.start_pos, part.end_pos
        elif isinstance(part, ast.Node | _TopMark):
            low, high = part.start, part.end
        elif isinstance(part, (list, tuple)):
            stack.extend(part)
            continue
        else:
            continue
        if low is None or high is None or high < low:
            continue
        start = low if start is None else min(start, low)
        end = high if end is None else max(end, high)
    return {"start": start or 0, "end": end or 0}


def _at(token: Token) -> Any:
    return {"start": token.start_pos or 0, "end": token.end_pos or 0}


@v_args(inline=True)
class _Build(Transformer):
    """Builds ``syntax`` nodes as the LALR parser reduces; each method is one grammar alternative."""

    def start(self, chain: ast.Chain) -> ast.Chain:
        return chain

    def chain(self, *children: Any) -> ast.Node:
        parts: list[ast.Node | None] = []
        ops: list[str] = []
        expect_part = True
        for child in children:
            if isinstance(child, Token):
                if expect_part:
                    parts.append(None)
                ops.append(LOEWNER.get(str(child.value).lstrip("\\"), RELATIONS[child.type]))
                expect_part = True
            else:
                parts.append(child)
                expect_part = False
        if len(parts) == 1 and parts[0] is not None:
            return parts[0]
        return ast.Chain(tuple(parts), tuple(ops), **_cover(*children))

    def relation(self, token: Token) -> Token:
        return token

    def add(self, left: ast.Node, _: Token, right: ast.Node) -> ast.Node:
        return ast.BinOp("+", left, right, **_cover(left, _, right))

    def subtract(self, left: ast.Node, _: Token, right: ast.Node) -> ast.Node:
        return ast.BinOp("-", left, right, **_cover(left, _, right))

    def frobenius(self, left: ast.Node, _: Token, right: ast.Node) -> ast.Node:
        return ast.BinOp("frob", left, right, **_cover(left, _, right))

    def negate(self, _: Token, operand: ast.Node) -> ast.Node:
        return ast.Neg(operand, **_cover(_, operand))

    def positive(self, _: Token, operand: ast.Node) -> ast.Node:
        return operand

    def juxtapose(self, left: ast.Node, right: ast.Node) -> ast.Node:
        if isinstance(left, ast.Juxt):
            return ast.Juxt((*left.items, right), **_cover(left, right))
        return ast.Juxt((left, right), **_cover(left, right))

    def cdot(self, left: ast.Node, _: Token, right: ast.Node) -> ast.Node:
        return ast.BinOp("cdot", left, right, **_cover(left, _, right))

    def times(self, left: ast.Node, _: Token, right: ast.Node) -> ast.Node:
        return ast.BinOp("times", left, right, **_cover(left, _, right))

    def kron(self, left: ast.Node, _: Token, right: ast.Node) -> ast.Node:
        return ast.BinOp("kron", left, right, **_cover(left, _, right))

    def hadamard(self, left: ast.Node, _: Token, right: ast.Node) -> ast.Node:
        return ast.BinOp("hadamard", left, right, **_cover(left, _, right))

    def divide(self, left: ast.Node, _: Token, right: ast.Node) -> ast.Node:
        return ast.BinOp("div", left, right, **_cover(left, _, right))

    def divide_differential(self, left: ast.Node, _: Token, token: Token, operand: ast.Node) -> ast.Node:
        """``∂f/∂x``: the denominator is the product of the differential and what it acts on."""
        text, font = _font(token)
        differential: ast.Node = (
            ast.Name(text, font, **_at(token))
            if text.isascii() and text.isalpha() and len(text) == 1
            else ast.Partial(**_at(token))
        )
        denominator = ast.Juxt((differential, operand), **_cover(token, operand))
        return ast.BinOp("div", left, denominator, **_cover(left, _, operand))

    def bigop(self, token: Token, limits: tuple[Any, Any], body: ast.Node) -> ast.Node:
        op = "prod" if str(token.value) in ("prod", "∏") else "sum"
        return ast.BigOp(op, limits[0], limits[1], body, **_cover(token, limits, body))

    def limits(self, *children: Any) -> tuple[Any, Any]:
        lower = upper = None
        for index, child in enumerate(children):
            if isinstance(child, Token):
                target = _no_mark(children[index + 1])
                if child.type == "UNDERSCORE":
                    lower = target
                else:
                    upper = target
        return lower, upper

    def limits_swapped(self, _: Token, upper: ast.Node, __: Token, lower: ast.Node) -> tuple:
        return _no_mark(lower), _no_mark(upper)

    def func_scripts(self, *children: Any) -> tuple[Any, Any]:
        return self.limits(*children)

    def subscript(self, base: ast.Node, _: Token, index: ast.Node) -> ast.Node:
        return ast.Sub(base, _no_mark(index), **_cover(base, _, index))

    def superscript(self, base: ast.Node, _: Token, exponent: ast.Node) -> ast.Node:
        if isinstance(exponent, _TopMark):
            return ast.Transpose(base, inverse=exponent.inverse, mark=exponent.mark, **_cover(base, _, exponent))
        if isinstance(exponent, ast.Name) and exponent.text == "T" and exponent.font in ("", "rm", "sf"):
            return ast.Transpose(base, mark="^T", **_cover(base, _, exponent))
        if isinstance(exponent, ast.Neg) and isinstance(exponent.operand, ast.Name) and exponent.operand.text == "T":
            return ast.Transpose(base, inverse=True, mark="^{-T}", **_cover(base, _, exponent))
        return ast.Sup(base, exponent, **_cover(base, _, exponent))

    def prime(self, base: ast.Node, _: Token) -> ast.Node:
        return ast.Transpose(base, mark="'", **_cover(base, _))

    def unicode_transpose(self, base: ast.Node, _: Token) -> ast.Node:
        return ast.Transpose(base, mark="ᵀ", **_cover(base, _))

    def evaluated(self, base: ast.Node, _: Token, __: Token, point: ast.Node) -> ast.Node:
        return ast.Evaluated(base, _no_mark(point), **_cover(base, _, point))

    def factorial(self, base: ast.Node, token: Token) -> ast.Node:
        return ast.Func("factorial", base, **_cover(base, token))

    def top(self, *tokens: Token) -> _TopMark:
        mark = "^" + "".join(str(_font(token)[0]) for token in tokens)
        return _TopMark(False, mark, **_cover(tokens))

    def inverse_top(self, *tokens: Token) -> _TopMark:
        return _TopMark(True, "^{-T}", **_cover(tokens))

    def script_prime(self, token: Token) -> _TopMark:
        return _TopMark(False, "^'", **_cover(token))

    def name(self, token: Token) -> ast.Node:
        text, font = _font(token)
        return ast.Name(text, font, **_at(token))

    def number(self, token: Token) -> ast.Node:
        text, font = _font(token)
        return ast.Number(text, font, **_at(token))

    def group(self, _: Token, *rest: Any) -> ast.Node:
        if len(rest) == 1:
            return ast.Empty(**_cover(_, *rest))
        items, separator = rest[0]
        if len(items) == 1:
            # The braces belong to the item's extent, so a claim's range ends after `\\delta_{jl}`.
            return replace(items[0], **_cover(_, *rest))
        return ast.Delimited("{}", tuple(items), separator, **_cover(_, *rest))

    def items(self, *children: Any) -> tuple[list[ast.Node], str]:
        nodes = [child for child in children if not isinstance(child, Token)]
        kinds = {child.type for child in children if isinstance(child, Token)}
        if "ROW_END" in kinds and len(kinds) > 1:
            raise _Unreadable("a matrix written in brackets, with `\\\\` between rows and `,` in them")
        # One separator names the list: a column's `\\` wins, then a row vector's `\ `, a conditional bar, commas.
        separator = ""
        for text, kind in reversed(SEPARATOR_NAMES.items()):
            if kind in kinds:
                separator = text
                break
        return nodes, separator

    def slice(self, token: Token) -> ast.Node:
        return ast.Text(":", **_at(token))

    def parens(self, _: Token, items: Any, __: Token) -> ast.Node:
        return _delimited("()", _, items, __)

    def brackets(self, _: Token, items: Any, __: Token) -> ast.Node:
        return _delimited("[]", _, items, __)

    def braces(self, _: Token, items: Any, __: Token) -> ast.Node:
        return _delimited("{}", _, items, __)

    def bars(self, _: Token, items: Any, __: Token) -> ast.Node:
        return _delimited("||", _, items, __)

    def norm(self, _: Token, items: Any, __: Token) -> ast.Node:
        return _delimited("‖‖", _, items, __)

    def angle(self, _: Token, items: Any, __: Token) -> ast.Node:
        return _delimited("⟨⟩", _, items, __)

    def frac(self, _: Token, numerator: ast.Node, denominator: ast.Node) -> ast.Node:
        return ast.Frac(numerator, denominator, **_cover(_, numerator, denominator))

    def func_call(self, token: Token, scripts: tuple, _: Token, items: Any, __: Token) -> ast.Node:
        nodes, separator = items
        argument = ast.Delimited("()", tuple(nodes), separator, start=_.start_pos or 0, end=__.end_pos or 0)
        return ast.Func(
            str(token.value), argument, True, scripts[0], scripts[1], **_cover(token, scripts, _, items, __)
        )

    def func_apply(self, token: Token, scripts: tuple, argument: ast.Node) -> ast.Node:
        return ast.Func(str(token.value), argument, False, scripts[0], scripts[1], **_cover(token, scripts, argument))

    def func_apply_bigop(
        self, token: Token, scripts: tuple, operator: Token, limits: tuple[Any, Any], body: ast.Node
    ) -> ast.Node:
        argument = self.bigop(operator, limits, body)
        return ast.Func(str(token.value), argument, False, scripts[0], scripts[1], **_cover(token, scripts, argument))

    def sqrt(self, _: Token, argument: ast.Node) -> ast.Node:
        return ast.Sqrt(argument, **_cover(_, argument))

    def matrix(self, token: Token, rows: list[tuple], __: Token) -> ast.Node:
        # A trailing \\ leaves an empty last row; drop it.
        while rows and all(cell is None for cell in rows[-1]):
            rows = rows[:-1]
        return ast.Matrix(str(token.value), tuple(rows), **_cover(token, rows, __))

    def rows(self, *children: Any) -> list[tuple]:
        return [child for child in children if not isinstance(child, Token)]

    def row(self, *children: Any) -> tuple:
        return tuple(child for child in children if not isinstance(child, Token))

    def cell(self, *children: Any) -> ast.Node | None:
        return children[0] if children else None

    def dots(self, token: Token) -> ast.Node:
        return ast.Dots(str(token.value), **_at(token))

    def partial(self, token: Token) -> ast.Node:
        return ast.Partial(**_at(token))

    def nabla(self, token: Token) -> ast.Node:
        return ast.Nabla(**_at(token))

    def text(self, token: Token) -> ast.Node:
        return ast.Text(str(token.value), **_at(token))


def _delimited(kind: str, opening: Token, items: tuple[list[ast.Node], str], closing: Token) -> ast.Node:
    return ast.Delimited(kind, tuple(items[0]), items[1], **_cover(opening, closing))


class _Unreadable(ValueError):
    """Raised while building the AST for input the grammar accepts but that means nothing."""


def _no_mark(node: Any) -> Any:
    """A transpose mark belongs after ``^``; under ``_`` or on a ``\\sum`` it cannot be read."""
    if isinstance(node, _TopMark):
        raise _Unreadable("a transpose mark where no transpose can be")
    return node


@dataclass(frozen=True)
class _TopMark:
    """A transpose mark in a superscript, before it is attached to its base."""

    inverse: bool
    mark: str
    start: int = 0
    end: int = 0


@lru_cache(maxsize=1)
def _parser() -> Lark:
    # Positions come from the tokens, which the transformer reads directly (`_cover`), so Lark's
    # propagate_positions (which only fills in the meta of Tree nodes) is not needed and would cost a
    # wrapper call per reduction.
    return Lark(
        grammar_path().read_text(encoding="utf-8"),
        parser="lalr",
        lexer=_TokenLexer,
        transformer=_Build(),
        maybe_placeholders=False,
        # The LALR tables are cached in the temporary folder: building them costs ~50 ms at every start.
        cache=True,
    )


def split_statements(tokens: list[Token]) -> list[list[Token]]:
    """Split a span's tokens into statements at top-level separators; drop alignment marks and noise."""
    return [statement for statement, _ in split_with_remarks(tokens)]


def split_with_remarks(tokens: list[Token]) -> list[tuple[list[Token], bool]]:
    """The statements of a span, each with whether it sits in a remark of its row.

    A remark in words after an unfinished statement (``i = \\text{from } 1``) stays in it as a ``WORDS``
    token, so that the whole statement is reported as unreadable rather than cut into pieces. A remark in
    words after a finished one (``a &= b & & \\text{from } c = d``) starts the remark: what follows it in the
    row is a statement of its own, marked as a remark so that the next row's ``&= …`` continues ``a = b``.
    In ``eqnarray`` rows (``a &=& b``) an ``&`` right after the relation is an alignment point as well.
    """
    statements: list[tuple[list[Token], bool]] = []
    current: list[Token] = []
    depth = 0
    matrix_depth = 0
    skipping = False
    has_words = False
    # In a row of `align`, `&` alternates: an alignment point (dropped), then a column separator (a split),
    # so `x &= 1 & y &= 2` is two statements while `a &= b \\ &= c` keeps its chain.
    ampersands = 0
    # Whether this row already holds a statement, and whether a remark in words has started in it.
    row_has_statement = False
    in_remark = False

    def finish() -> None:
        nonlocal current, has_words, row_has_statement
        if current and not _is_equation_number(current):
            statements.append((current, in_remark))
            row_has_statement = True
        current = []
        has_words = False

    kind = ""
    # The kinds of the brackets open here, innermost last: `\\` inside `[ … ]` separates a column's entries.
    open_kinds: list[str] = []
    for position, token in enumerate(tokens):
        previous_kind, kind = kind, token.type
        if kind in OPENERS:
            depth += 1
            matrix_depth += kind == "MAT_BEGIN"
            open_kinds.append(kind)
        elif kind in CLOSERS:
            depth = max(0, depth - 1)
            matrix_depth = max(0, matrix_depth - (kind == "MAT_END"))
            if open_kinds:
                open_kinds.pop()
        if kind == "ROW_END" and open_kinds and open_kinds[-1] in ("LSQB", "LPAR"):
            # `[x_1 \\ \vdots \\ x_n]`: a column vector written in brackets.
            current.append(token)
            continue
        if depth == 0 and kind == "TEXT" and current and (has_words or current[-1].type in DANGLING):
            current.append(Token("WORDS", token.value, start_pos=token.start_pos, end_pos=token.end_pos))
            has_words = True
            continue
        if depth == 0 and (kind in SPLITTERS or (kind == "ROW_END" and matrix_depth == 0)):
            finish()
            if kind == "ROW_END":
                ampersands, row_has_statement, in_remark = 0, False, False
            elif kind == "TEXT" and row_has_statement and _opens_remark(str(token.value)):
                in_remark = True
            # What follows \forall up to the next separator is a domain, not an equation.
            skipping = kind == "QUANT"
            continue
        if skipping:
            continue
        if kind == "AMP" and matrix_depth == 0 and _eqnarray_amp(tokens, position):
            # `a &=& b` (eqnarray, and MathJax notes that copy it): the relation is a column of its own.
            continue
        if kind == "AMP" and matrix_depth == 0:
            ampersands += 1
            if ampersands % 2 == 1 and not current and row_has_statement and previous_kind == "AMP":
                # `a &= b & & c = d`: an empty column, then a remark column.
                in_remark = True
            if ampersands % 2 == 0:
                finish()
            continue
        if kind == "ROW_END" and matrix_depth == 0:
            finish()
            ampersands, row_has_statement, in_remark = 0, False, False
            continue
        if kind in ("QUAD", "SEP", "PERIOD", "QUANT") and depth > 0:
            continue
        if kind == "SEMI":
            token = Token("COMMA", ",", start_pos=token.start_pos, end_pos=token.end_pos)
        current.append(token)
    finish()
    return statements


def _eqnarray_amp(tokens: list[Token], position: int) -> bool:
    """Whether the ``&`` at ``position`` is one side of an ``&=&`` column."""
    before = tokens[position - 1].type if position > 0 else ""
    after = tokens[position + 1].type if position + 1 < len(tokens) else ""
    following = tokens[position + 2].type if position + 2 < len(tokens) else ""
    return (before in RELATIONS and position > 1 and tokens[position - 2].type == "AMP") or (
        after in RELATIONS and following == "AMP"
    )


# Words that open a justification or a side condition: the equation after them is a remark.
REMARK_WORDS = {
    "from", "since", "by", "using", "because", "as", "via", "where", "for", "if", "when", "with", "given",
    "cf", "see", "note", "due", "apply", "applying", "recall", "recalling", "(", "[",
}  # fmt: skip


def _opens_remark(text: str) -> bool:
    words = text.replace(",", " ").replace(":", " ").replace(".", " ").split()
    return bool(words) and words[0].lower() in REMARK_WORDS


def _is_equation_number(tokens: list[Token]) -> bool:
    """``(3)``, ``(4a)``, ``(A.1)``, ``(*)``: a statement that only numbers an equation."""
    if len(tokens) < 3 or tokens[0].type != "LPAR" or tokens[-1].type != "RPAR":
        return False
    inner = [token.type for token in tokens[1:-1]]
    if all(kind == "CDOT" for kind in inner):
        return True
    if len(inner) > 2 or "NUMBER" not in inner:
        return False
    return all(
        kind == "NUMBER" or (kind == "NAME" and len(str(token.value)) == 1)
        for kind, token in zip(inner, tokens[1:-1], strict=True)
    )


@dataclass
class _Failure:
    """Why a statement could not be read, and the index of the token where reading stopped (None: at the end)."""

    message: str
    index: int | None


def parse_statement(tokens: list[Token]) -> ast.Node | _Failure:
    """Parse one statement's tokens; on failure, what could not be read and where."""
    try:
        # The "text" Lark parses is the token list itself (see _TokenLexer); the transformer returns a Node.
        result: Any = _parser().parse(tokens)
        return result
    except UnexpectedInput as error:
        unexpected = getattr(error, "token", None)
        if unexpected is None or unexpected.type == "$END":
            return _Failure("the formula ends too early", None)
        index = next((position for position, token in enumerate(tokens) if token is unexpected), None)
        return _Failure(f"unexpected `{_font(unexpected)[0]}`", index)
    except _Unreadable as error:
        return _Failure(str(error), None)
    except (LarkError, RecursionError, ValueError, TypeError, IndexError, KeyError) as error:
        return _Failure(f"cannot read this formula ({type(error).__name__})", None)


def unreadable_range(tokens: list[Token], failure: _Failure) -> tuple[int, int, str]:
    """The part of a statement that could not be read: an unbalanced bracket with what it encloses, else
    the innermost bracket around the token where reading stopped, else from that token to the end."""
    statement_start = tokens[0].start_pos or 0
    statement_end = tokens[-1].end_pos or statement_start
    open_indices: list[int] = []
    pairs: list[tuple[int, int]] = []
    for index, token in enumerate(tokens):
        kind = token.type
        if kind in OPENERS:
            open_indices.append(index)
        elif kind in CLOSERS:
            wanted = MATCHING[kind]
            position = len(open_indices) - 1
            while position >= 0 and tokens[open_indices[position]].type not in wanted:
                position -= 1
            if position < 0:
                return token.start_pos or 0, token.end_pos or 0, f"`{_font(token)[0]}` closes nothing"
            if position < len(open_indices) - 1:
                unclosed = tokens[open_indices[position + 1]]
                end = tokens[index - 1].end_pos or 0
                return unclosed.start_pos or 0, end, f"`{_font(unclosed)[0]}` is never closed"
            pairs.append((open_indices.pop(), index))
    if open_indices:
        unclosed = tokens[open_indices[0]]
        return unclosed.start_pos or 0, statement_end, f"`{_font(unclosed)[0]}` is never closed"
    if failure.index is None or failure.index == 0:
        return statement_start, statement_end, failure.message
    innermost: tuple[int, int] | None = None
    for opener, closer in pairs:
        inside = opener < failure.index <= closer
        if inside and (innermost is None or opener > innermost[0]):
            innermost = (opener, closer)
    if innermost is not None:
        return tokens[innermost[0]].start_pos or 0, tokens[innermost[1]].end_pos or 0, failure.message
    return tokens[failure.index].start_pos or 0, statement_end, failure.message


def _nesting(node: ast.Node, limit: int) -> int:
    """How deep the tree under ``node`` goes, counting no further than ``limit``."""
    deepest = 0
    stack = [(node, 1)]
    while stack:
        current, depth = stack.pop()
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                return deepest
        stack.extend((child, depth + 1) for child in ast.children(current))
    return deepest


@lru_cache(maxsize=8192)
def parse_span(text: str) -> ParseResult:
    """All statements of one math span. Never raises. The result is cached and shared: do not mutate it."""
    result = ParseResult()
    if len(text) > MAX_SPAN_CHARACTERS:
        message = f"this formula is too long to read ({len(text):,} characters)"
        result.problems.append((0, len(text), "TL002", message))
        return result
    scanned = scan(text)
    tokens = scanned.tokens
    statements_tokens: list[tuple[list[Token], bool]]
    if scanned.problems:
        # Read what comes before the first problem; the statement it falls in is part of the problem.
        problem_start, _, message = min(scanned.problems)
        kept = [token for token in tokens if (token.end_pos or 0) <= problem_start]
        statements_tokens = split_with_remarks(kept)
        if statements_tokens and kept and statements_tokens[-1][0][-1] is kept[-1]:
            problem_start = statements_tokens.pop()[0][0].start_pos or 0
        problem = (problem_start, len(text), "TL001", message)
    else:
        statements_tokens = split_with_remarks(tokens)
        problem = None
    for statement, remark in statements_tokens:
        _parse_one(statement, result, remark)
    if problem is not None:
        result.problems.append(problem)
    return result


def _mentions_an_operator(tokens: list[Token], failure: _Failure) -> bool:
    """Prose that names an operator, "the Kronecker product $\\otimes$", "elementwise $\\exp$", "$\\sum_i$":
    nothing to check and nothing unreadable."""
    first = tokens[0].type
    if len(tokens) == 1 and first in OPERATOR_MENTIONS:
        return True
    if first not in ("FUNC", "WIDEFUNC", "BIGOP") or failure.index is not None:
        return False
    operand = Token("NAME", "x", start_pos=tokens[-1].end_pos, end_pos=tokens[-1].end_pos)
    return not isinstance(parse_statement([*tokens, operand]), _Failure)


def _parse_one(tokens: list[Token], result: ParseResult, remark: bool = False) -> None:
    start = tokens[0].start_pos or 0
    end = tokens[-1].end_pos or start
    for token in tokens:
        if token.type == "NUMBER" and len(str(token.value)) > MAX_NUMBER_DIGITS:
            digits = sum(character.isdigit() for character in str(token.value))
            message = f"a number of {digits:,} digits is too long to check"
            result.problems.append((token.start_pos or 0, token.end_pos or 0, "TL002", message))
            return
        if token.type == "UNKNOWN":
            value = str(token.value)
            if value.startswith("\\"):
                result.problems.append(
                    (token.start_pos or 0, token.end_pos or 0, "TL002", f"unsupported notation `{value}`")
                )
            else:
                result.problems.append(
                    (token.start_pos or 0, token.end_pos or 0, "TL001", f"cannot read `{value}` in a formula")
                )
            return
    rule = next((index for index, token in enumerate(tokens) if token.type == "RULE"), None)
    if rule is not None:
        failure = _Failure("a matrix drawn with rules (`|`, `-`) around its rows or columns", rule)
        low, high, message = unreadable_range(tokens, failure)
        result.problems.append((low, high, "TL001", f"cannot read this math: {message}"))
        return
    words = next((token for token in tokens if token.type == "WORDS"), None)
    if words is not None:
        message = f"cannot read this math: words inside a formula (`{str(words.value).strip()}`)"
        result.problems.append((start, end, "TL001", message))
        return
    if len(tokens) > MAX_TOKENS_PER_STATEMENT:
        result.problems.append((start, end, "TL002", "formula too long to check"))
        return
    parsed = parse_statement(tokens)
    if isinstance(parsed, _Failure) and _mentions_an_operator(tokens, parsed):
        return
    if isinstance(parsed, _Failure):
        low, high, message = unreadable_range(tokens, parsed)
        result.problems.append((low, high, "TL001", f"cannot read this math: {message}"))
        return
    if len(tokens) > MAX_NESTING and _nesting(parsed, MAX_NESTING) > MAX_NESTING:
        result.problems.append((start, end, "TL002", f"formula nested more than {MAX_NESTING} levels deep"))
        return
    if not isinstance(parsed, ast.Chain):
        parsed = ast.Chain((parsed,), (), start=parsed.start, end=parsed.end)
    result.statements.append(Statement(parsed, start, end, remark))
