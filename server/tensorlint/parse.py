"""Parsing: one math span in, a list of statements (``Chain`` ASTs) and the problems met out.

The span is scanned into tokens, split into statements at top-level separators (``\\quad``, ``\\\\``,
``\\cr``, ``,``, ``\\implies``, remarks in ``\\text{..}``), and each statement is parsed by the Lark LALR
grammar in ``grammar/math.lark`` with an embedded transformer that builds ``syntax`` nodes directly (no
parse tree, no recursion, so deep nesting cannot overflow the stack). A statement that does not parse is
reported and skipped; the other statements of the span are still used.
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
SPLITTERS = {"QUAD", "SEP", "TEXT", "PERIOD", "SEMI", "ROW_END", "COMMA"}
RELATIONS = {
    "EQ": "=", "NE": "ne", "DEFEQ": "def", "LT": "<", "GT": ">", "LE": "le", "GE": "ge",
    "APPROX": "approx", "IN": "in", "TO": "to",
}  # fmt: skip
MAX_TOKENS_PER_STATEMENT = 20_000


@dataclass
class Statement:
    """One parsed statement and the offsets (into the span text) it covers."""

    chain: ast.Chain
    start: int
    end: int


@dataclass
class ParseResult:
    statements: list[Statement] = field(default_factory=list)
    # (start, end, code, message) with offsets into the span text.
    problems: list[tuple[int, int, str, str]] = field(default_factory=list)


class _NoLexer(Lexer):
    """Tokens come from ``scan``; Lark's own lexer is never used."""

    def __init__(self, lexer_conf: Any) -> None:
        pass

    def lex(self, lexer_state: Any, parser_state: Any) -> Any:
        return iter(())


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
                ops.append(RELATIONS[child.type])
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

    def bigop(self, token: Token, limits: tuple[Any, Any], body: ast.Node) -> ast.Node:
        op = "prod" if str(token.value) in ("prod", "∏") else "sum"
        return ast.BigOp(op, limits[0], limits[1], body, **_cover(token, limits, body))

    def limits(self, *children: Any) -> tuple[Any, Any]:
        lower = upper = None
        for index, child in enumerate(children):
            if isinstance(child, Token):
                target = children[index + 1]
                if child.type == "UNDERSCORE":
                    lower = target
                else:
                    upper = target
        return lower, upper

    def limits_swapped(self, _: Token, upper: ast.Node, __: Token, lower: ast.Node) -> tuple:
        return lower, upper

    def func_scripts(self, *children: Any) -> tuple[Any, Any]:
        return self.limits(*children)

    def subscript(self, base: ast.Node, _: Token, index: ast.Node) -> ast.Node:
        return ast.Sub(base, index, **_cover(base, _, index))

    def superscript(self, base: ast.Node, _: Token, exponent: ast.Node) -> ast.Node:
        if isinstance(exponent, _TopMark):
            return ast.Transpose(
                base, inverse=exponent.inverse, mark=exponent.mark, **_cover(base, _, exponent)
            )
        if isinstance(exponent, ast.Name) and exponent.text == "T" and exponent.font in ("", "rm", "sf"):
            return ast.Transpose(base, mark="^T", **_cover(base, _, exponent))
        if (
            isinstance(exponent, ast.Neg)
            and isinstance(exponent.operand, ast.Name)
            and exponent.operand.text == "T"
        ):
            return ast.Transpose(base, inverse=True, mark="^{-T}", **_cover(base, _, exponent))
        return ast.Sup(base, exponent, **_cover(base, _, exponent))

    def prime(self, base: ast.Node, _: Token) -> ast.Node:
        return ast.Transpose(base, mark="'", **_cover(base, _))

    def unicode_transpose(self, base: ast.Node, _: Token) -> ast.Node:
        return ast.Transpose(base, mark="ᵀ", **_cover(base, _))

    def unicode_inverse(self, base: ast.Node, token: Token) -> ast.Node:
        return ast.Sup(base, ast.Neg(ast.Number("1", **_at(token)), **_at(token)), **_cover(base, token))

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
        text, _ = _font(token)
        return ast.Number(text, **_at(token))

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
        separators = {str(child.value) for child in children if isinstance(child, Token)}
        separator = "\\ " if "\\ " in separators else ("," if separators else "")
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
        return ast.Func(
            str(token.value), argument, False, scripts[0], scripts[1], **_cover(token, scripts, argument)
        )

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


@dataclass(frozen=True)
class _TopMark:
    """A transpose mark in a superscript, before it is attached to its base."""

    inverse: bool
    mark: str
    start: int = 0
    end: int = 0


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(
        grammar_path().read_text(encoding="utf-8"),
        parser="lalr",
        lexer=_NoLexer,
        propagate_positions=True,
        transformer=_Build(),
        maybe_placeholders=False,
        # The LALR tables are cached in the temporary folder: building them costs ~50 ms at every start.
        cache=True,
    )


def split_statements(tokens: list[Token]) -> list[list[Token]]:
    """Split a span's tokens into statements at top-level separators; drop alignment marks and noise."""
    statements: list[list[Token]] = []
    current: list[Token] = []
    depth = 0
    matrix_depth = 0
    for token in tokens:
        kind = token.type
        if kind in OPENERS:
            depth += 1
            matrix_depth += kind == "MAT_BEGIN"
        elif kind in CLOSERS:
            depth = max(0, depth - 1)
            matrix_depth = max(0, matrix_depth - (kind == "MAT_END"))
        if depth == 0 and kind in SPLITTERS:
            if current:
                statements.append(current)
            current = []
            continue
        if kind == "AMP" and matrix_depth == 0:
            continue
        if kind == "ROW_END" and matrix_depth == 0:
            if current:
                statements.append(current)
            current = []
            continue
        if kind in ("QUAD", "SEP", "PERIOD") and depth > 0:
            continue
        if kind == "SEMI":
            token = Token("COMMA", ",", start_pos=token.start_pos, end_pos=token.end_pos)
        current.append(token)
    if current:
        statements.append(current)
    return statements


def parse_statement(tokens: list[Token]) -> ast.Chain | ast.Node | str:
    """Parse one statement's tokens; on failure, a message naming what could not be read."""
    interactive = _parser().parse_interactive("")
    try:
        for token in tokens:
            interactive.feed_token(token)
        result: ast.Node = interactive.feed_eof()
        return result
    except UnexpectedInput as error:
        unexpected = getattr(error, "token", None)
        if unexpected is None or unexpected.type == "$END":
            return "the formula ends too early"
        return f"unexpected `{_font(unexpected)[0]}`"
    except (LarkError, RecursionError, ValueError, TypeError, IndexError, KeyError) as error:
        return f"cannot read this formula ({type(error).__name__})"


def parse_span(text: str) -> ParseResult:
    """All statements of one math span. Never raises."""
    result = ParseResult()
    scanned = scan(text)
    for start, end, message in scanned.problems:
        result.problems.append((start, end, "TL001", message))
    if scanned.problems:
        return result
    for tokens in split_statements(scanned.tokens):
        start = tokens[0].start_pos or 0
        end = tokens[-1].end_pos or start
        unknown = [token for token in tokens if token.type == "UNKNOWN"]
        if unknown:
            first = unknown[0]
            result.problems.append(
                (first.start_pos or 0, first.end_pos or 0, "TL002", f"unsupported notation `{first.value}`")
            )
            continue
        if len(tokens) > MAX_TOKENS_PER_STATEMENT:
            result.problems.append((start, end, "TL002", "formula too long to check"))
            continue
        parsed = parse_statement(tokens)
        if isinstance(parsed, str):
            result.problems.append((start, end, "TL001", f"cannot read this math: {parsed}"))
            continue
        if not isinstance(parsed, ast.Chain):
            parsed = ast.Chain((parsed,), (), start=parsed.start, end=parsed.end)
        result.statements.append(Statement(parsed, start, end))
    return result
