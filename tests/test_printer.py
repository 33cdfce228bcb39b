"""Printing an AST back to LaTeX and parsing it again gives the same AST (positions aside).

Three sources of ASTs: every statement of the notation snippets and of the seed notes, random ASTs built
by a Hypothesis strategy that knows what the parser can produce, and random token soups that happen to
parse. Random and mutated inputs also check that parsing never lets an exception escape.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tensorlint import syntax as ast
from tensorlint.extract import extract
from tensorlint.parse import parse_span
from tensorlint.printer import to_latex, to_sexpr
from test_notation import snippets

SEEDS = Path(__file__).parent / "corpus" / "seeds"


def reparse(node: ast.Node) -> ast.Node | str:
    """The one statement that ``to_latex(node)`` parses to, or what went wrong."""
    latex = to_latex(node)
    result = parse_span(latex)
    if result.problems or len(result.statements) != 1:
        return f"{latex!r} gives {[statement.chain for statement in result.statements]} {result.problems}"
    chain = result.statements[0].chain
    if not chain.ops and len(chain.parts) == 1 and chain.parts[0] is not None:
        return chain.parts[0]
    return chain


def assert_round_trip(node: ast.Node) -> None:
    again = reparse(node)
    assert again == node, f"{to_sexpr(node)}\nprinted as {to_latex(node)!r}\nreads as {again}"


def statements_of(text: str) -> list[ast.Node]:
    found: list[ast.Node] = []
    for statement in parse_span(text).statements:
        chain = statement.chain
        found.append(chain.parts[0] if not chain.ops and chain.parts[0] is not None else chain)
    return found


def seed_spans() -> list[str]:
    spans = []
    for path in sorted(SEEDS.glob("*.md")):
        spans.extend(span.text for span in extract(str(path), path.read_text(encoding="utf-8")).spans)
    return spans


@pytest.mark.parametrize("snippet", snippets(), ids=str)
def test_notation_snippets_round_trip(snippet):
    for node in statements_of(snippet.text):
        assert_round_trip(node)


def test_seed_notes_round_trip():
    count = 0
    for text in seed_spans():
        for node in statements_of(text):
            assert_round_trip(node)
            count += 1
    assert count > 150


def test_printed_latex_is_plain():
    (node,) = statements_of(r"\frac{\partial \mathbf{x}^T A \mathbf{x}}{\partial \mathbf{x}} = (A + A^T)\mathbf{x}")
    assert to_latex(node) == r"\frac{\partial \mathbf{x}^T A \mathbf{x}}{\partial \mathbf{x}} = (A + A^T) \mathbf{x}"
    (node,) = statements_of(r"\|x\|_2^2 = \operatorname{tr}(x x^T)")
    assert to_latex(node) == r"\|x\|_{2}^{2} = \operatorname{tr}(x x^T)"


def test_braces_keep_precedence():
    # (a + b) c without parentheses in the AST: a group keeps the sum together.
    sum_node = ast.BinOp("+", ast.Name("a"), ast.Name("b"))
    node = ast.Juxt((sum_node, ast.Name("c")))
    assert to_latex(node) == "{a + b} c"
    assert_round_trip(node)
    # A function applied without parentheses takes a following superscript into its argument.
    power = ast.Sup(ast.Func("log", ast.Name("x")), ast.Number("2"))
    assert to_latex(power) == r"{\log x}^{2}"
    assert_round_trip(power)


# --------------------------------------------------------------------------------------------------------
# Random ASTs
# --------------------------------------------------------------------------------------------------------

LETTERS = st.sampled_from([*"abcdfxyzABWXYZ", "alpha", "sigma", "Sigma", "phi", "ell", "infty"])
FONTS = st.sampled_from(["", "", "", "bf", "vec", "rm", "bb", "cal", "hat", "bar", "tilde", "sf"])
NAMES = st.builds(lambda text, font: ast.Name(text, font), LETTERS, FONTS)
NUMBERS = st.builds(
    lambda text, font: ast.Number(text, font), st.sampled_from(["0", "1", "2", "12", "3.5"]),
    st.sampled_from(["", "", "bf", "bb"]),
)  # fmt: skip
FUNCTION_NAMES = st.sampled_from(["tr", "det", "log", "exp", "vec", "diag", "softmax", "max", "KL", "argmin"])
WORDS = st.sampled_from(["where", "for all ", " and ", "scalar", "1,C", "(N, D)"])
LEAVES = st.one_of(
    NAMES,
    NAMES,
    NUMBERS,
    st.builds(ast.Partial),
    st.builds(ast.Nabla),
    st.builds(ast.Empty),
    st.builds(ast.Dots, st.sampled_from(["cdots", "ldots", "vdots", "ddots", "dots"])),
    st.builds(ast.Text, WORDS),
)
RELATIONS = st.sampled_from(["=", "=", "ne", "def", "<", "le", "approx", "in", "to"])
BINARY = st.sampled_from(["+", "-", "frob", "cdot", "times", "kron", "hadamard", "div"])


def _is_transpose_exponent(node: ast.Node) -> bool:
    """``^T`` and ``^{-T}`` are always read as transposes, so ``Sup`` never has these exponents."""
    if isinstance(node, ast.Neg):
        return isinstance(node.operand, ast.Name) and node.operand.text == "T"
    return isinstance(node, ast.Name) and node.text == "T" and node.font in ("", "rm", "sf")


def _juxt(items: list[ast.Node]) -> ast.Node:
    # The parser flattens a juxtaposition that starts another one.
    while isinstance(items[0], ast.Juxt):
        items = [*items[0].items, *items[1:]]
    return ast.Juxt(tuple(items))


def _chain(first_missing: bool, parts: list[ast.Node], ops: list[str]) -> ast.Node:
    all_parts: list[ast.Node | None] = list(parts[: len(ops) + 1])
    while len(all_parts) < len(ops) + 1:
        all_parts.append(ast.Name("q"))
    if first_missing:
        all_parts[0] = None
    return ast.Chain(tuple(all_parts), tuple(ops))


def _delimited(kind: str, items: list[ast.Node], separator: str) -> ast.Node:
    if len(items) == 1:
        separator = ""
    elif separator == "\\ " and kind != "[]":
        separator = ","
    return ast.Delimited(kind, tuple(items), separator)


def _matrix(env: str, rows: list[list[ast.Node | None]]) -> ast.Node:
    # A trailing row of empty cells is dropped by the parser (it is what `\\` before `\end` leaves).
    while rows and all(cell is None for cell in rows[-1]):
        rows = rows[:-1]
    return ast.Matrix(env, tuple(tuple(row) for row in rows))


def _func(name: str, argument: ast.Node, call: bool, sub: ast.Node | None, power: ast.Node | None) -> ast.Node:
    if call:
        items = argument.items if isinstance(argument, ast.Delimited) and argument.kind == "()" else (argument,)
        argument = ast.Delimited("()", tuple(items), "," if len(items) > 1 else "")
    return ast.Func(name, argument, call, sub, power)


def _sup(base: ast.Node, exponent: ast.Node) -> ast.Node:
    if _is_transpose_exponent(exponent):
        exponent = ast.Number("2")
    return ast.Sup(base, exponent)


def _extend(children: st.SearchStrategy[ast.Node]) -> st.SearchStrategy[ast.Node]:
    maybe = st.one_of(st.none(), children)
    cells = st.lists(st.one_of(st.none(), children), min_size=1, max_size=3)
    return st.one_of(
        st.builds(_juxt, st.lists(children, min_size=2, max_size=4)),
        st.builds(ast.BinOp, BINARY, children, children),
        st.builds(ast.Neg, children),
        st.builds(ast.Frac, children, children),
        st.builds(ast.Sub, children, children),
        st.builds(_sup, children, children),
        st.builds(ast.Transpose, children, st.booleans()),
        st.builds(ast.Sqrt, children),
        st.builds(ast.BigOp, st.sampled_from(["sum", "prod"]), maybe, maybe, children),
        st.builds(_func, FUNCTION_NAMES, children, st.booleans(), maybe, maybe),
        st.builds(ast.Func, st.just("factorial"), children),
        st.builds(
            _delimited,
            st.sampled_from(["()", "[]", "{}", "||", "‖‖", "⟨⟩"]),
            st.lists(st.one_of(children, st.just(ast.Text(":"))), min_size=1, max_size=3),
            st.sampled_from([",", "\\ ", "\\mid"]),
        ),
        st.builds(
            _matrix,
            st.sampled_from(["bmatrix", "pmatrix", "matrix", "vmatrix", "array", "cases"]),
            st.lists(cells, max_size=3),
        ),
        st.builds(
            _chain,
            st.booleans(),
            st.lists(children, min_size=3, max_size=3),
            st.lists(RELATIONS, min_size=1, max_size=2),
        ),
        st.builds(ast.Evaluated, children, children),
    )


ASTS = st.recursive(LEAVES, _extend, max_leaves=14)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ASTS)
def test_random_asts_round_trip(node):
    assert_round_trip(node)


# --------------------------------------------------------------------------------------------------------
# Random token soups and mutated snippets
# --------------------------------------------------------------------------------------------------------

PIECES = st.sampled_from(
    [
        "x", "W", "A^T", "^", "_", "{", "}", "(", ")", "[", "]", "|", "\\|", "=", "\\ne", "+", "-", ":",
        "\\frac{\\partial", "}{\\partial", "\\partial", "d", "\\mathbf{x}", "\\otimes", "\\odot", "/",
        "\\operatorname{tr}", "\\det", "\\log", "\\sum_{i=1}^n", "\\delta_{ij}", "1_n", "I", "\\cdots",
        "\\begin{bmatrix}", "\\end{bmatrix}", "&", "\\\\", "\\cr", "\\quad", "\\text{T}", "\\in", "\\mid",
        "\\mathbb{R}^{n\\times m}", "\\left(", "\\right)", "\\right|_", "'", ",", "X^{-1}", "\\langle",
        "\\rangle", "2", "ᵀ", "⁻¹", "ₙ", "∂", "\\hat{\\mathbf{y}}", "\\tanh^2", "\\sqrt", "!", "\\,", "(3)",
        "\\text{ where }", "\\forall", "\\mathrm{d}", "\\cdot", "e_i", "\\Big|", "\\lvert", "\\rvert",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(PIECES, max_size=30))
def test_token_soups_that_parse_round_trip(pieces):
    for node in statements_of(" ".join(pieces)):
        assert_round_trip(node)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_arbitrary_text_never_raises(text):
    result = parse_span(text)
    for start, end, _, _ in result.problems:
        assert 0 <= start <= end <= len(text)
    for statement in result.statements:
        to_latex(statement.chain)
        to_sexpr(statement.chain)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([snippet.text for snippet in snippets()]), st.data())
def test_mutated_snippets_never_raise(text, data):
    # Delete, duplicate or swap a slice of a real snippet: the shapes of broken notes.
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, min(len(text), start + 12)))
    mutation = data.draw(st.sampled_from(["delete", "duplicate", "insert"]))
    if mutation == "delete":
        mutated = text[:start] + text[end:]
    elif mutation == "duplicate":
        mutated = text[:end] + text[start:end] + text[end:]
    else:
        mutated = text[:start] + data.draw(PIECES) + text[start:]
    result = parse_span(mutated)
    for low, high, _, _ in result.problems:
        assert 0 <= low <= high <= len(mutated)
    for statement in result.statements:
        assert_round_trip(statement.chain.parts[0] if not statement.chain.ops else statement.chain)
