"""Tests for ``tensorlint.extract``: math, prose and directives, with exact source offsets.

Most cases are written as marked text: ``⟦`` and ``⟧`` surround the source range every math span must
cover (its ``start`` and ``end``). The markers are removed before extraction, so the expected offsets
are those of the text as written, whatever the format does to it.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorlint.extract import extract
from tensorlint.model import Document, MathSpan

HERE = Path(__file__).parent
SEEDS = HERE / "corpus" / "seeds"
FIXTURES = HERE / "fixtures" / "extract"
OPEN, CLOSE = "⟦", "⟧"


def unmark(marked: str) -> tuple[str, list[tuple[int, int]]]:
    """The text without its ``⟦ ⟧`` markers, and the ranges the markers enclosed."""
    pieces: list[str] = []
    ranges: list[tuple[int, int]] = []
    length = 0
    opened_at = -1
    for piece in re.split(f"([{OPEN}{CLOSE}])", marked):
        if piece == OPEN:
            opened_at = length
        elif piece == CLOSE:
            ranges.append((opened_at, length))
        else:
            pieces.append(piece)
            length += len(piece)
    return "".join(pieces), ranges


def source_of(document: Document, span: MathSpan, k: int) -> str:
    """The file character that character ``k`` of the span's text came from."""
    return document.text[span.doc_offset(k)]


def assert_consistent(document: Document, *, expanded_macros: bool = False, notebook: bool = False) -> None:
    """What every span promises: its text is the file slice, or its offsets say where each character is."""
    for span in document.spans:
        assert 0 <= span.start <= span.end <= len(document.text)
        if span.offsets is None:
            assert document.text[span.start : span.end] == span.text
            continue
        assert len(span.offsets) == len(span.text)
        assert all(span.start <= offset < span.end for offset in span.offsets)
        if expanded_macros:
            continue
        for k, character in enumerate(span.text):
            found = source_of(document, span, k)
            if notebook and found == "\\":
                continue  # An escape in a JSON string: the character is spelled differently.
            assert found == character, (span, k)


def spans_of(path: str, marked: str) -> tuple[Document, list[tuple[str, bool, str | None]]]:
    text, ranges = unmark(marked)
    document = extract(path, text)
    assert_consistent(document, expanded_macros=path.endswith(".tex") or "newcommand" in marked)
    assert [(span.start, span.end) for span in document.spans] == ranges
    return document, [(span.text, span.display, span.environment) for span in document.spans]


# ---------------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------------

MARKDOWN_CASES = [
    pytest.param(
        "let $⟦W⟧$ be a $⟦n\\times m⟧$ matrix",
        [("W", False, None), ("n\\times m", False, None)],
        id="inline",
    ),
    pytest.param("a $⟦3^{rd}⟧$ order tensor", [("3^{rd}", False, None)], id="digit-after-opening"),
    pytest.param("spaces $⟦ x + y ⟧$ inside", [(" x + y ", False, None)], id="spaces-inside"),
    pytest.param("text\n\n$$⟦\n\\frac{a}{b}\n⟧$$\n", [("\n\\frac{a}{b}\n", True, None)], id="display-block"),
    pytest.param("$$⟦ x = y ⟧$$\n", [(" x = y ", True, None)], id="display-one-line"),
    pytest.param("$$⟦a=1⟧$$ (eq1)\n", [("a=1", True, None)], id="display-with-label"),
    pytest.param(
        "the gradient $$⟦\\frac{\\partial W}{\\partial W} \\ne 1⟧$$ as asserted $$⟦c=d⟧$$ end",
        [("\\frac{\\partial W}{\\partial W} \\ne 1", True, None), ("c=d", True, None)],
        id="several-double-dollars-inline",
    ),
    pytest.param(
        "- item $⟦x⟧$\n  continued $⟦y⟧$\n- $$⟦z⟧$$\n",
        [("x", False, None), ("y", False, None), ("z", True, None)],
        id="list",
    ),
    pytest.param("1. a\n   - b $⟦x^2⟧$\n", [("x^2", False, None)], id="nested-list"),
    pytest.param("- $⟦a +\n  b⟧$\n", [("a +\nb", False, None)], id="list-math-over-two-lines"),
    pytest.param("> quote $⟦a⟧$ and\n> more $⟦b⟧$\n", [("a", False, None), ("b", False, None)], id="blockquote"),
    pytest.param("> $⟦a +\n> b⟧$\n", [("a +\nb", False, None)], id="blockquote-math-over-two-lines"),
    pytest.param("> $$⟦\n> x\n⟧> $$\n", [("\nx\n", True, None)], id="blockquote-display-block"),
    pytest.param("> - $⟦x⟧$\n>   > $⟦y⟧$\n", [("x", False, None), ("y", False, None)], id="quote-list-quote"),
    pytest.param("# Title $⟦x⟧$ #\n\nSetext $⟦y⟧$\n===\n", [("x", False, None), ("y", False, None)], id="headings"),
    pytest.param("| a | b |\n|---|---|\n| $⟦x⟧$ | $⟦y⟧$ |\n", [("x", False, None), ("y", False, None)], id="table"),
    pytest.param("[see $⟦x⟧$](http://a.b) and *$⟦y⟧$*", [("x", False, None), ("y", False, None)], id="link-emphasis"),
    pytest.param("use `$x$` and $⟦y⟧$", [("y", False, None)], id="code-span"),
    pytest.param("```\n$x$\n```\n\n~~~tex\n$$y$$\n~~~\n\n$⟦z⟧$\n", [("z", False, None)], id="fences"),
    pytest.param("    $x$ indented code\n\n$⟦z⟧$\n", [("z", False, None)], id="indented-code"),
    pytest.param("<!-- $x$ -->\n\n<div>$y$</div>\n\n$⟦z⟧$\n", [("z", False, None)], id="html"),
    pytest.param("costs \\$5 and $⟦x⟧$, \\$y\\$", [("x", False, None)], id="escaped-dollars"),
    pytest.param("costs $5 and $10 today", [], id="money"),
    pytest.param(
        "inline \\(⟦a+b⟧\\) and display \\[⟦c⟧\\]", [("a+b", False, None), ("c", True, None)], id="parens-brackets"
    ),
    pytest.param("\\[⟦\n\\sum_i x_i\n⟧\\]\n", [("\n\\sum_i x_i\n", True, None)], id="brackets-over-lines"),
    pytest.param("escaped \\\\(no\\\\) math", [], id="escaped-backslash-paren"),
    pytest.param(
        "\\begin{align}⟦\na &= b \\\\\nc &= d\n⟧\\end{align}\n",
        [("\na &= b \\\\\nc &= d\n", True, "align")],
        id="amsmath-align",
    ),
    pytest.param(
        "- \\begin{equation*}⟦ x = 1 ⟧\\end{equation*}\n", [(" x = 1 ", True, "equation*")], id="amsmath-in-list"
    ),
    pytest.param("> \\begin{gather}⟦\n> a\n⟧> \\end{gather}\n", [("\na\n", True, "gather")], id="amsmath-in-quote"),
    pytest.param(
        "\\begin{equation}⟦ a = b ⟧\\end{equation} where $⟦c⟧$ is",
        [(" a = b ", True, "equation"), ("c", False, None)],
        id="environment-inside-paragraph",
    ),
    pytest.param(
        "\\begin{equation}⟦\\begin{split} a &= b \\end{split}⟧\\end{equation}\n",
        [("\\begin{split} a &= b \\end{split}", True, "equation")],
        id="split-stays-in-body",
    ),
    pytest.param("$\\begingroup$ comment $⟦x⟧$ $\\endgroup$ – user", [("x", False, None)], id="stackexchange-markers"),
    pytest.param(
        "⟦\\begin{bmatrix} 1 & 2 \\\\ 3 & 4 \\end{bmatrix}⟧\n",
        [("\\begin{bmatrix} 1 & 2 \\\\ 3 & 4 \\end{bmatrix}", True, None)],
        id="matrix-alone-is-whole",
    ),
    pytest.param("a column vector \\vec{y} of length C", [], id="bare-latex-is-prose"),
    pytest.param("unclosed $x and \\(y and \\begin{align} z", [], id="unclosed"),
    pytest.param(
        "$$\\newcommand{\\R}{\\mathbb{R}}$$\n\n$⟦x \\in \\R⟧$", [("x \\in \\mathbb{R}", False, None)], id="macro"
    ),
]


@pytest.mark.parametrize(("marked", "expected"), MARKDOWN_CASES)
def test_markdown_spans(marked: str, expected: list[tuple[str, bool, str | None]]) -> None:
    _, found = spans_of("note.md", marked)
    assert found == expected


@pytest.mark.parametrize("suffix", [".md", ".markdown", ".qmd", ".Rmd", ".txt", ""])
def test_markdown_is_the_default_format(suffix: str) -> None:
    document = extract("notes/a" + suffix, "% not a comment $x$\n")
    assert [span.text for span in document.spans] == ["x"]


def test_windows_line_ends_keep_exact_offsets() -> None:
    text = "a $x$\r\n\r\n$$\r\ny = 1\r\n$$\r\n\r\n> $a +\r\n> b$\r\n"
    document = extract("note.md", text)
    assert_consistent(document)
    assert [span.text for span in document.spans] == ["x", "\ny = 1\n", "a +\nb"]
    assert document.spans[0].start == text.index("x")
    display = document.spans[1]
    assert display.offsets is not None
    assert text[display.doc_offset(1)] == "y"
    assert display.end == text.index("$$", text.index("y = 1"))


def test_tabs_in_lists_keep_offsets() -> None:
    text = "- a\n\t$x$ b\n-\t$$\n\ty\n\t$$\n"
    document = extract("note.md", text)
    assert_consistent(document)
    assert [span.text.strip() for span in document.spans] == ["x", "y"]


# ---------------------------------------------------------------------------------------------------
# Prose
# ---------------------------------------------------------------------------------------------------


def test_prose_numbers_math_across_the_document() -> None:
    text = (
        "let $W$ be a $n\\times m$ matrix and $\\textbf{x}$ be a $m\\times1$ vector.\n\n"
        "# Then $y$\n\n"
        "- with **bold** and [a link](http://x) $z$\n"
    )
    document = extract("note.md", text)
    assert [prose.text for prose in document.prose] == [
        "let $0$ be a $1$ matrix and $2$ be a $3$ vector.",
        "Then $4$",
        "with bold and a link $5$",
    ]
    first = document.prose[0]
    assert text[first.start : first.end] == text.splitlines()[0]


def test_prose_skips_code_and_keeps_literal_dollars_apart() -> None:
    text = "costs \\$5\\$ and $x$\n\n```\n$y$ is code\n```\n\n$\\begingroup$ hi $z$ $\\endgroup$\n"
    document = extract("note.md", text)
    assert [prose.text for prose in document.prose] == ["costs \\$5\\$ and $0$", "hi $1$"]


def test_prose_of_a_list_item_and_a_quote() -> None:
    text = "- let $A$ be\n  symmetric\n\n> and $B$ too\n"
    document = extract("note.md", text)
    assert [prose.text for prose in document.prose] == ["let $0$ be\nsymmetric", "and $1$ too"]
    assert [text[prose.start : prose.end] for prose in document.prose] == ["let $A$ be\n  symmetric", "and $B$ too"]


def test_latex_prose_is_cut_at_blank_lines() -> None:
    text = (
        "\\documentclass{article}\n\\begin{document}\n"
        "Let $W$ be a $n \\times m$ matrix.\n\n"
        "Next % a comment\npara $x$ costs \\$5\n\\begin{align*} a &= b \\end{align*}\n"
        "\\end{document}\nignored $y$\n"
    )
    document = extract("paper.tex", text)
    assert [span.text for span in document.spans] == ["W", "n \\times m", "x", " a &= b "]
    assert [prose.text for prose in document.prose] == [
        "Let $0$ be a $1$ matrix.",
        "Next \npara $2$ costs \\$5\n$3$",
    ]
    assert text[document.prose[0].start : document.prose[0].end] == "Let $W$ be a $n \\times m$ matrix."


# ---------------------------------------------------------------------------------------------------
# Directives
# ---------------------------------------------------------------------------------------------------


def test_markdown_directives() -> None:
    text = (
        "<!-- tensorlint: layout=numerator -->\n\n"
        "text $x$ <!-- tensorlint: disable-next-line TL203 -->\n\n"
        "<!-- an ordinary comment -->\n\n"
        "```\n<!-- tensorlint: not a directive -->\n```\n\n"
        "`<!-- tensorlint: nor this -->`\n\n"
        "- <!--tensorlint: W \\in \\mathbb{R}^{n\\times m}, x \\in \\mathbb{R}^m-->\n"
    )
    document = extract("note.md", text)
    assert [directive.body for directive in document.directives] == [
        "layout=numerator",
        "disable-next-line TL203",
        "W \\in \\mathbb{R}^{n\\times m}, x \\in \\mathbb{R}^m",
    ]
    for directive in document.directives:
        comment = text[directive.start : directive.end]
        assert comment.startswith("<!--")
        assert comment.endswith("-->")


def test_latex_directives() -> None:
    text = (
        "% tensorlint: layout=denominator\n"
        "a \\% tensorlint: not a directive\n"
        "$$ x %tensorlint: disable-next-line TL203\n = y $$\n"
        "%% tensorlint:  einstein=on  \n"
    )
    document = extract("paper.tex", text)
    assert [directive.body for directive in document.directives] == [
        "layout=denominator",
        "disable-next-line TL203",
        "einstein=on",
    ]
    assert text[document.directives[0].start : document.directives[0].end] == "% tensorlint: layout=denominator"


# ---------------------------------------------------------------------------------------------------
# LaTeX
# ---------------------------------------------------------------------------------------------------

LATEX_CASES = [
    pytest.param(
        "$⟦a⟧$, $$⟦b⟧$$, \\(⟦c⟧\\), \\[⟦d⟧\\]",
        [("a", False, None), ("b", True, None), ("c", False, None), ("d", True, None)],
        id="delimiters",
    ),
    pytest.param(
        "\\begin{equation}⟦x = y⟧\\end{equation} \\begin{align*}⟦a &= b \\\\ c &= d⟧\\end{align*}",
        [("x = y", True, "equation"), ("a &= b \\\\ c &= d", True, "align*")],
        id="equation-align",
    ),
    pytest.param(
        "\\begin{gather}⟦a⟧\\end{gather}\\begin{multline*}⟦b⟧\\end{multline*}\\begin{eqnarray}⟦c⟧\\end{eqnarray}",
        [("a", True, "gather"), ("b", True, "multline*"), ("c", True, "eqnarray")],
        id="gather-multline-eqnarray",
    ),
    pytest.param(
        "\\begin{alignat}{2}⟦a &= b⟧\\end{alignat} \\begin{math}⟦e⟧\\end{math}",
        [("a &= b", True, "alignat"), ("e", False, "math")],
        id="alignat-math",
    ),
    pytest.param(
        "\\begin{equation}⟦\n\\begin{aligned} a &= b \\\\ &= c \\end{aligned}\n⟧\\end{equation}",
        [("\n\\begin{aligned} a &= b \\\\ &= c \\end{aligned}\n", True, "equation")],
        id="nested-aligned",
    ),
    pytest.param("% $x$ is a comment\n$⟦y⟧$ \\% $⟦z⟧$", [("y", False, None), ("z", False, None)], id="comments"),
    pytest.param(
        "\\begin{align}⟦ x % \\end{align}\n y ⟧\\end{align}", [(" x \n y ", True, "align")], id="end-in-a-comment"
    ),
    pytest.param("line \\\\[2pt] text $⟦x⟧$", [("x", False, None)], id="line-break-is-not-display-math"),
    pytest.param("price \\$5 and $⟦x⟧$", [("x", False, None)], id="escaped-dollar"),
    pytest.param("$⟦a \\text{ if $b$ } c⟧$", [("a \\text{ if $b$ } c", False, None)], id="dollars-inside-text"),
    pytest.param("$⟦a⟧$$⟦b⟧$", [("a", False, None), ("b", False, None)], id="adjacent-inline"),
    pytest.param(
        "\\begin{verbatim}$x$\\end{verbatim} \\begin{lstlisting}\n$$y$$\n\\end{lstlisting} $⟦z⟧$",
        [("z", False, None)],
        id="verbatim-lstlisting",
    ),
    pytest.param(
        "\\begin{minted}{python}\nx = '$a$'\n\\end{minted}\n\\verb|$b$| \\verb*+$c$+ $⟦d⟧$",
        [("d", False, None)],
        id="minted-verb",
    ),
    pytest.param("a $ b\n\nc $⟦d⟧$", [("d", False, None)], id="unclosed-dollar-ends-at-blank-line"),
    pytest.param("\\begin{align} x \\\\ y", [], id="unclosed-environment"),
    pytest.param("\\begin{itemize} \\item $⟦x⟧$ \\end{itemize}", [("x", False, None)], id="other-environment"),
]


@pytest.mark.parametrize(("marked", "expected"), LATEX_CASES)
def test_latex_spans(marked: str, expected: list[tuple[str, bool, str | None]]) -> None:
    _, found = spans_of("paper.tex", marked)
    assert found == expected


def test_latex_comment_inside_math_is_dropped_with_offsets() -> None:
    text = "$$a % note $b$\n+ c$$"
    document = extract("paper.tex", text)
    assert_consistent(document)
    (span,) = document.spans
    assert span.text == "a \n+ c"
    assert (span.start, span.end) == (2, len(text) - 2)
    assert span.offsets is not None
    assert text[span.doc_offset(2)] == "\n"
    assert text[span.doc_offset(3)] == "+"


# ---------------------------------------------------------------------------------------------------
# Macros
# ---------------------------------------------------------------------------------------------------


def expanded(text: str) -> Document:
    document = extract("paper.tex", text)
    assert_consistent(document, expanded_macros=True)
    return document


def test_macro_without_arguments() -> None:
    text = "\\newcommand{\\R}{\\mathbb{R}}\n$x \\in \\R^n$"
    (span,) = expanded(text).spans
    assert span.text == "x \\in \\mathbb{R}^n"
    macro_at = text.index("\\R^n")
    # Characters the macro produced sit at its backslash; the others keep their own offsets.
    assert [span.doc_offset(k) for k in range(len("x \\in "))] == list(range(span.start, macro_at))
    assert {span.doc_offset(k) for k in range(6, 6 + len("\\mathbb{R}"))} == {macro_at}
    assert text[span.doc_offset(len(span.text) - 1)] == "n"
    assert (span.start, span.end) == (text.index("x \\in"), len(text) - 1)


def test_macro_with_arguments_keeps_argument_offsets() -> None:
    text = "\\newcommand{\\pd}[2]{\\frac{\\partial #1}{\\partial #2}}\n$\\pd{f}{W}$"
    (span,) = expanded(text).spans
    assert span.text == "\\frac{\\partial f}{\\partial W}"
    argument = span.text.index("f}")
    assert text[span.doc_offset(argument)] == "f"
    assert span.doc_offset(argument) == text.index("{f}") + 1
    assert span.doc_offset(0) == text.index("\\pd{f}")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param("\\def\\x{\\mathbf{x}}$\\x^T$", "\\mathbf{x}^T", id="def"),
        pytest.param("\\def\\norm#1{\\|#1\\|}$\\norm{v}_2$", "\\|v\\|_2", id="def-with-argument"),
        pytest.param("\\newcommand\\R{\\mathbb R}$\\R$", "\\mathbb R", id="newcommand-without-braces"),
        pytest.param("\\newcommand{\\e}[1][i]{e_{#1}}$\\e + \\e[j]$", "e_{i} + e_{j}", id="optional-argument"),
        pytest.param("\\DeclareMathOperator{\\tr}{tr}$\\tr A$", "\\operatorname{tr} A", id="declare-operator"),
        pytest.param("\\newcommand{\\A}{\\B}\\newcommand{\\B}{b}$\\A$", "b", id="nested"),
        pytest.param("\\newcommand{\\A}{a}\\renewcommand{\\A}{b}$\\A$", "b", id="renewcommand"),
        pytest.param("$\\A$\\newcommand{\\A}{a}", "\\A", id="defined-after-use"),
        pytest.param("\\newcommand{\\pd}[2]{#1/#2}$\\pd x$", "\\pd x", id="missing-argument"),
        pytest.param("\\newcommand{\\Rn}{R^n}$\\R \\Rn$", "\\R R^n", id="whole-names-only"),
        pytest.param("\\newcommand{\\R}{\\mathbb{R}} % a comment\n$\\\\R$", "\\\\R", id="escaped-backslash"),
    ],
)
def test_macro_expansion(source: str, expected: str) -> None:
    document = expanded(source)
    assert [span.text for span in document.spans] == [expected]
    assert document.problems == []


def test_self_recursive_macro_is_left_unexpanded_with_a_hint() -> None:
    text = "\\def\\x{\\x}\n\\newcommand{\\R}{\\mathbb{R}}\n$\\x + \\R$ and $\\x$"
    started = time.perf_counter()
    document = expanded(text)
    assert time.perf_counter() - started < 5
    assert [span.text for span in document.spans] == ["\\x + \\mathbb{R}", "\\x"]
    assert [(problem.code, problem.severity) for problem in document.problems] == [("TL001", "hint")] * 2
    first_use = text.index("\\x +")
    assert (document.problems[0].start, document.problems[0].end) == (first_use, first_use + 2)


def test_exponential_macros_are_bounded() -> None:
    names = "abcdefghijklmnopqrstuvwxyz"
    definitions = "".join(
        f"\\def\\{name}{{\\{following}\\{following}}}" for name, following in itertools.pairwise(names)
    )
    document = expanded(definitions + "\\def\\z{zz}$\\a$")
    assert [span.text for span in document.spans] == ["\\a"]
    assert [problem.code for problem in document.problems] == ["TL001"]


def test_definition_only_math_in_markdown_defines_macros() -> None:
    text = "$\\newcommand{\\R}{\\mathbb{R}} \\def\\v#1{\\mathbf{#1}}$\n\nLet $\\v{x} \\in \\R^n$.\n"
    document = extract("note.md", text)
    assert [span.text for span in document.spans] == ["\\mathbf{x} \\in \\mathbb{R}^n"]
    assert [prose.text for prose in document.prose] == ["Let $0$."]


# ---------------------------------------------------------------------------------------------------
# Notebooks
# ---------------------------------------------------------------------------------------------------


def notebook(*cells: dict[str, object], ensure_ascii: bool = True) -> str:
    return json.dumps(
        {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1, ensure_ascii=ensure_ascii
    )


@pytest.mark.parametrize("ensure_ascii", [True, False])
def test_notebook_offsets_point_into_the_json(ensure_ascii: bool) -> None:
    cell_source = [
        'Let $W$ be a "matrix", $\\text{é}$ and $x😀y$\n',
        "$$\\frac{a}{b}$$\n",
        "> quote $x +\n",
        "> y$\n",
    ]
    text = notebook(
        {"cell_type": "code", "metadata": {}, "source": ["$not = math$"], "outputs": [], "execution_count": None},
        {"cell_type": "markdown", "metadata": {}, "source": cell_source},
        {"cell_type": "markdown", "metadata": {}, "source": "one string $z$"},
        ensure_ascii=ensure_ascii,
    )
    document = extract("nb.ipynb", text)
    assert_consistent(document, notebook=True)
    assert [(span.text, span.display) for span in document.spans] == [
        ("W", False),
        ("\\text{é}", False),
        ("x😀y", False),
        ("\\frac{a}{b}", True),
        ("x +\ny", False),
        ("z", False),
    ]
    w, text_e, emoji, fraction, two_lines, z = document.spans
    assert w.offsets is None
    assert text[w.start] == "W"
    # In the file the backslash of \frac is written "\\", so "f" is two characters after it.
    assert fraction.offsets is not None
    assert text[fraction.doc_offset(0) : fraction.doc_offset(0) + 2] == "\\\\"
    assert text[fraction.doc_offset(1)] == "f"
    assert text[fraction.end] == "$"
    assert text[text_e.doc_offset(6)] == ("\\" if ensure_ascii else "é")
    assert text[emoji.doc_offset(2)] == "y"
    assert text[two_lines.doc_offset(4)] == "y"
    assert text[two_lines.doc_offset(3) : two_lines.doc_offset(3) + 2] == "\\n"
    assert text[z.start] == "z"
    assert [prose.text for prose in document.prose] == [
        'Let $0$ be a "matrix", $1$ and $2$\n$3$',
        "quote $4$",
        "one string $5$",
    ]


def test_notebook_directives_and_nbformat_3() -> None:
    text = json.dumps(
        {
            "worksheets": [
                {"cells": [{"cell_type": "markdown", "source": ["<!-- tensorlint: layout=numerator -->\n", "$x$"]}]}
            ],
            "nbformat": 3,
        }
    )
    document = extract("old.ipynb", text)
    assert [span.text for span in document.spans] == ["x"]
    (directive,) = document.directives
    assert directive.body == "layout=numerator"
    assert text[directive.start : directive.start + 4] == "<!--"
    assert text[directive.end - 3 : directive.end] == "-->"


@pytest.mark.parametrize("text", ["", "{", "not json", '{"cells": [', "[1, 2", "\x00\x01binary"])
def test_broken_notebook_gives_one_warning(text: str) -> None:
    document = extract("broken.ipynb", text)
    assert document.spans == []
    assert [(problem.code, problem.severity) for problem in document.problems] == [("TL003", "warning")]
    assert document.problems[0].message.startswith("cannot read notebook: ")
    assert (document.problems[0].start, document.problems[0].end) == (0, 0)


def test_odd_cells_have_no_math() -> None:
    document = extract("odd.ipynb", '{"cells": [{"cell_type": "markdown"}, 7]}')
    assert document.spans == []
    assert document.problems == []


def test_fixture_notebook() -> None:
    text = (FIXTURES / "gradients.ipynb").read_text(encoding="utf-8")
    document = extract("gradients.ipynb", text)
    assert_consistent(document, notebook=True)
    assert [span.text for span in document.spans] == [
        "X \\in \\mathbb{R}^{n\\times n}",
        "\\frac{\\partial}{\\partial X} \\log\\det X = X^{-T}",
        "\\nabla_x \\|Ax - b\\|_2^2 = 2A^T(Ax - b)",
    ]
    assert [directive.body for directive in document.directives] == ["layout=denominator"]
    assert "let $0$ be invertible" in document.prose[0].text.lower()


def test_fixture_tex() -> None:
    text = (FIXTURES / "least_squares.tex").read_text(encoding="utf-8")
    document = extract("least_squares.tex", text)
    assert_consistent(document, expanded_macros=True)
    assert [(span.text.strip(), span.environment) for span in document.spans] == [
        ("A \\in \\mathbb{R}^{m\\times n}", None),
        ("\\mathbf{b} \\in \\mathbb{R}^m", None),
        ("f(\\mathbf{x}) = \\|A\\mathbf{x} - \\mathbf{b}\\|_2^2", "equation"),
        (
            "\\frac{\\partial f}{\\partial \\mathbf{x}} &= 2A^T(A\\mathbf{x} - \\mathbf{b}) \\\\\n"
            "  &= 2A^TA\\mathbf{x} - 2A^T\\mathbf{b}",
            "align*",
        ),
    ]
    assert [directive.body for directive in document.directives] == ["layout=denominator"]
    assert document.prose[0].text.startswith("Let $0$ and $1$.")


# ---------------------------------------------------------------------------------------------------
# The seed notes
# ---------------------------------------------------------------------------------------------------

SEED_FILES = sorted(SEEDS.glob("*.md"))


def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


@pytest.mark.parametrize("path", SEED_FILES, ids=[path.name[:3] for path in SEED_FILES])
def test_seed_spans_are_exact_slices(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    document = extract(path.name, text)
    assert document.spans
    assert document.problems == []
    assert_consistent(document)
    for span in document.spans:
        assert span.text == text[span.start : span.end]


def test_seed_000_headline_claims() -> None:
    path = SEEDS / "000_a2d71986ee5a6ed8.md"
    text = path.read_text(encoding="utf-8")
    document = extract(path.name, text)
    on_line_22 = [span for span in document.spans if line_of(text, span.start) == 22]
    assert len(on_line_22) == 1
    assert on_line_22[0].display
    assert "\\cfrac{\\partial W\\mathbf{x}}{\\partial W}" in on_line_22[0].text
    on_line_41 = [span for span in document.spans if line_of(text, span.start) == 41]
    assert [(span.text, span.display) for span in on_line_41] == [
        ("\\frac{\\partial W}{\\partial W} \\ne 1_n1_m^T", True),
        ("\\frac{\\partial W_{ij}}{\\partial W_{kl}}=\\delta_{ik}\\,\\delta_{jl}", True),
    ]
    assert document.prose[0].text == (
        "let $0$ be a $1$ matrix and $2$ be a $3$ vector. How do we calculate the following then?"
    )


def test_seed_001_equation_inside_a_paragraph() -> None:
    path = SEEDS / "001_3d8cef38fce4a4b5.md"
    text = path.read_text(encoding="utf-8")
    document = extract(path.name, text)
    (equation,) = [span for span in document.spans if span.environment == "equation"]
    assert line_of(text, equation.start) == 10
    assert "\\frac{\\partial z}{\\partial y} \\cdot \\frac{\\partial y}{\\partial W}" in equation.text


def squashed(latex: str) -> str:
    return re.sub(r"[\s&]", "", latex)


def expected_rows() -> list[dict[str, object]]:
    lines = (SEEDS / "expected.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.mark.parametrize("row", expected_rows(), ids=lambda row: f"{row['file']}:{row['line']}")
def test_every_expected_claim_is_inside_a_span(row: dict[str, object]) -> None:
    """Each claim the corpus expects a verdict for lies in one extracted span on its line."""
    text = (SEEDS / str(row["file"])).read_text(encoding="utf-8")
    document = extract(str(row["file"]), text)
    snippet = squashed(str(row["snippet"]))
    matching = [
        span
        for span in document.spans
        if line_of(text, span.start) <= int(str(row["line"])) <= line_of(text, span.end)
        and snippet in squashed(span.text)
    ]
    assert matching


# ---------------------------------------------------------------------------------------------------
# Robustness
# ---------------------------------------------------------------------------------------------------

HOSTILE = [
    "",
    "$",
    "$$",
    "\\",
    "\\(",
    "\\[",
    "$$$",
    "`",
    "```",
    "<!--",
    "\\begin{align}\n" * 200,
    "{" * 10_000,
    "$" + "{" * 10_000 + "$",
    "$" + "}" * 10_000 + "$",
    "\\begin{equation}" + "\\begin{aligned}" * 2_000,
    ">" * 5_000 + " $x$",
    "".join("  " * depth + "- $x$\n" for depth in range(200)),
    "\x00\r\n\r\r\n\ufeff\u2028\u2029$x\x00$",
    "\ud800 lone surrogate $\udfff$",
    bytes(range(256)).decode("latin-1") * 20,
    "\\newcommand{\\x}{" * 200,
    "\\newcommand{\\p}[1]{#1}$" + "\\p{" * 1000 + "$",
    "\\def\\x{\\x\\x}$\\x$",
    "\\def\\x#1{\\x{#1#1}}$\\x{a}$",
    "% tensorlint:",
    "<!-- tensorlint: -->",
    "\\verb",
    "\\begin{verbatim}",
    "$\\begin{bmatrix}" + "1 & " * 5_000 + "\\end{bmatrix}$",
    "| a |\n|---|\n| $\\|x\\|$ |\n",
]


@pytest.mark.parametrize("path", ["a.md", "a.tex", "a.ipynb"])
@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_input_does_not_raise(path: str, text: str) -> None:
    document = extract(path, text)
    assert_consistent(document, expanded_macros=True)
    assert not any(problem.message.startswith("cannot extract math") for problem in document.problems)


def test_hostile_input_inside_a_notebook() -> None:
    cells = [{"cell_type": "markdown", "metadata": {}, "source": text} for text in HOSTILE]
    document = extract("a.ipynb", notebook(*cells))
    assert_consistent(document, notebook=True)
    assert not any(problem.message.startswith("cannot") for problem in document.problems)


@pytest.mark.parametrize(
    ("path", "text"),
    [
        pytest.param("a.md", "\\begin{align}\n" * 150_000, id="md-unclosed-environments"),
        pytest.param("a.md", "$$ a\n\n" * 200_000, id="md-unclosed-displays"),
        pytest.param("a.md", "\\( a " * 300_000, id="md-unclosed-parens"),
        pytest.param("a.md", "`a <!-- " * 200_000, id="md-unclosed-code-and-comments"),
        pytest.param("a.tex", "\\begin{align}\n" * 300_000, id="tex-unclosed-environments"),
        pytest.param("a.tex", "\\( a " * 300_000, id="tex-unclosed-parens"),
        pytest.param("a.tex", "\\newcommand{\\x}{" * 150_000, id="tex-unclosed-definitions"),
    ],
)
def test_large_hostile_input_stays_linear(path: str, text: str) -> None:
    """Quadratic behaviour would take minutes here; the bound is loose on purpose (not a benchmark)."""
    started = time.perf_counter()
    extract(path, text)
    assert time.perf_counter() - started < 20


def test_large_markdown_falls_back_to_a_plain_scan() -> None:
    paragraph = "Let $W$ be a $n\\times m$ matrix.\n\n> quoted $x$ and `$code$`\n\n"
    text = paragraph * 30_000
    document = extract("big.md", text)
    assert_consistent(document)
    assert len(document.spans) == 3 * 30_000
    assert [problem.code for problem in document.problems] == ["TL002"]
    assert document.prose[0].text == "Let $0$ be a $1$ matrix."


alphabet = st.sampled_from([*"ab $\\`>-*_[]()|{}\n\t %#<!", "$$", "\\(", "\\)", "\\[", "\\]", "\n\n", "- ", "> "])


@settings(max_examples=300, deadline=None)
@given(st.lists(alphabet, max_size=60).map("".join), st.sampled_from(["a.md", "a.tex"]))
def test_random_markup_keeps_offsets_exact(text: str, path: str) -> None:
    document = extract(path, text)
    assert_consistent(document, expanded_macros=path.endswith(".tex"))
    assert not any(problem.message.startswith("cannot") for problem in document.problems)
    for prose in document.prose:
        assert 0 <= prose.start <= prose.end <= len(text)


@pytest.mark.parametrize("text", ['{"cells": 3}', "[]", '{"metadata": {}}', "null"])
def test_json_that_is_not_a_notebook_gives_one_warning(text: str) -> None:
    document = extract("not-a-notebook.ipynb", text)
    assert [(problem.code, problem.message) for problem in document.problems] == [
        ("TL003", "cannot read notebook: this JSON is not a Jupyter notebook")
    ]
