"""Fuzzing: at least 10,000 generated notes (Markdown, LaTeX, notebooks) built from hostile pieces (broken
JSON, unclosed comments and delimiters, deep nesting, huge integers, odd directives, control characters)
go through ``core.check_text``, and a few hundred byte strings (invalid UTF-8, byte-order marks) through the
command line. None may raise, give a TL900 (a bug in tensorlint), or take more than 10 seconds.

The examples are derandomized: every run checks the same notes, so a failure reproduces. Each test
prints its count and time (``pytest -s``); the whole file runs in well under three minutes.
"""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tensorlint.cli import main
from tensorlint.core import check_text

SINGLE_RUN_BUDGET = 10.0
HUGE = "9" * 5000

# --------------------------------------------------------------------------------------------------------
# Pieces
# --------------------------------------------------------------------------------------------------------

CLAIMS = [
    "(AB)^T = B^T A^T",
    "(AB)^T = A^T B^T",
    "\\frac{\\partial a^T x}{\\partial x} = a",
    "\\frac{\\partial x^T A x}{\\partial x} = 2Ax",
    "\\operatorname{tr}(AB) = \\operatorname{tr}(BA)",
    "\\frac{\\partial \\log\\det X}{\\partial X} = X^{-T}",
    "\\nabla_x \\|x\\|^2 = 2x",
    "y = Wx",
    "\\frac{\\partial y}{\\partial W} = x^T",
    "A \\otimes B = B \\otimes A",
    "\\frac{d}{dx} \\sin x = \\cos x",
    "x^T A x \\ge 0",
    "y_i = W_{ij} x_j",
    "\\frac{\\partial y_i}{\\partial x_j} = W_{ij}",
    "\\sum_{i=1}^{n} x_i = \\mathbf{1}^T x",
    "\\begin{bmatrix} a & b \\\\ c & d \\end{bmatrix}^T = \\begin{bmatrix} a & c \\\\ b & d \\end{bmatrix}",
    "f(x) = \\sigma(Wx + b)",
    "dL = G : dX",
    "\\mathbb{R}^{n\\times m}",
]
DECLARATIONS = [
    "Let $A, B \\in \\mathbb{R}^{n\\times n}$ and $x, a \\in \\mathbb{R}^n$.",
    "Let $W$ be a $m\\times n$ matrix and $x$ an $n$-vector.",
    "We use numerator layout.",
    "We use denominator layout.",
    "Let $X$ be symmetric positive definite.",
    f"Let $W \\in \\mathbb{{R}}^{{{HUGE}\\times 3}}$.",
    "Let $x \\in \\mathbb{R}^{1000000000000}$.",
    "若A对称，设 $A$ 为 $n\\times n$ 矩阵。",
]
TOKENS = [
    "\\frac",
    "{",
    "}",
    "^",
    "_",
    "\\partial",
    "\\otimes",
    "\\left(",
    "\\right)",
    "(",
    ")",
    "[",
    "]",
    "|",
    "\\|",
    "&",
    "\\\\",
    "=",
    "+",
    "-",
    ",",
    "\\begin{bmatrix}",
    "\\end{bmatrix}",
    "\\begin{aligned}",
    "\\text{",
    "\\mathbf{",
    "\\operatorname{tr}",
    "\\sum_{i=1}^{n}",
    "\\in",
    "\\mathbb{R}",
    "\\times",
    "T",
    "x",
    "A",
    "W_{ij}",
    "\\delta_{ij}",
    "1",
    "0.5",
    HUGE,
    "∂",
    "ᵀ",
    "⊗",
    "\\cdots",
    "\\ddots",
    "\\frobnicate",
    "%",
    "#",
    "$",
    "\\",
    "'",
    "\\quad",
    "\\label{x}",
    "\x00",
    "\x1b[31m",
    "\ufeff",
    "\r",
    "\t",
]
DIRECTIVE_BODIES = [
    "layout=numerator",
    "layout=denominator",
    "layout=numeratr",
    "layuot=numerator",
    "layout = numerator",
    "einstein=on",
    "einstein=maybe",
    "disable-next-line TL201",
    "disable-line TL201",
    "disable TL205",
    "enable TL205",
    "enable",
    "disable-file",
    "disable-next-line TL999, TL2",
    "disable-nextline",
    "W \\in \\mathbb{R}^{n\\times m}",
    f"W \\in \\mathbb{{R}}^{{{HUGE}}}",
    "frobnicate -- reason",
    "",
    "-->",
    "\\frac{",
]

MACROS = ["\\newcommand{\\R}{\\mathbb{R}}", "\\def\\a{\\a\\a}", "\\newcommand{\\b}[1]{#1#1}"]

math_body = st.one_of(
    st.sampled_from(CLAIMS),
    st.lists(st.sampled_from(TOKENS), max_size=25).map(" ".join),
    st.integers(1, 600).map(lambda depth: "{" * depth + "x" + "}" * (depth // 2)),
    st.integers(1, 300).map(lambda depth: "\\left(" * depth + "x"),
)


@st.composite
def markdown_piece(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 15))
    body = draw(math_body)
    if kind == 0:
        return f"${body}$"
    if kind == 1:
        return f"$$\n{body}\n$$"
    if kind == 2:
        return f"\\[{body}\\]"
    if kind == 3:
        return f"\\begin{{equation}}{body}\\end{{equation}}"
    if kind == 4:
        return draw(st.sampled_from(["$$", "$", "\\[", "\\begin{align}", "\\(", "```", "`", "<!--"])) + body
    if kind == 5:
        return f"<!-- tensorlint: {draw(st.sampled_from(DIRECTIVE_BODIES))} -->"
    if kind == 6:
        return draw(st.sampled_from(DECLARATIONS))
    if kind == 7:
        return "<!--\n" * draw(st.integers(1, 400))
    if kind == 8:
        return f"| a | b |\n|---|---|\n| ${body}$ | x \\| y |"
    if kind == 9:
        return f"> ${body}$\n> $$\n> {body}\n> $$"
    if kind == 10:
        return f"- item ${body}$\n  - nested $$ {body} $$"
    if kind == 11:
        return f"```\n${body}$\n```"
    if kind == 12:
        return draw(st.text(max_size=40))
    if kind == 13:
        return f"# Heading ${body}$"
    if kind == 14:
        return "[" * draw(st.integers(1, 300)) + "x" + "*" * draw(st.integers(0, 300))
    return f"The function ${body}$ is written in words, and $$ = {body}$$ continues it."


markdown_note = st.lists(markdown_piece(), max_size=8).map("\n\n".join)


@st.composite
def latex_piece(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 9))
    body = draw(math_body)
    if kind == 0:
        return f"$ {body} $"
    if kind == 1:
        environment = draw(st.sampled_from(["equation", "align*", "gather", "multline", "eqnarray"]))
        return f"\\begin{{{environment}}}\n{body}\n\\end{{{environment}}}"
    if kind == 2:
        return f"% tensorlint: {draw(st.sampled_from(DIRECTIVE_BODIES))}"
    if kind == 3:
        return draw(
            st.sampled_from(["\\newcommand{\\R}{\\mathbb{R}}", "\\def\\a{\\a\\a}", "\\newcommand{\\b}[1]{#1#1}"])
        )
    if kind == 4:
        return "\\b{" * draw(st.integers(1, 50)) + "x"
    if kind == 5:
        return draw(st.sampled_from(["\\[", "\\begin{equation}", "$", "\\verb|", "\\begin{verbatim}"])) + body
    if kind == 6:
        return draw(st.sampled_from(DECLARATIONS))
    if kind == 7:
        return f"% $ {body} $"
    if kind == 8:
        return draw(st.text(max_size=40))
    return f"\\section{{Part}} Let $x$ be {body}."


latex_note = st.lists(latex_piece(), max_size=8).map("\n\n".join)


@st.composite
def notebook_text(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.sampled_from(['{"\\x": 1}', '{ "cells": [ ', "[]", "null", '{"cells": "x"}', "{" * 2000]))
    cells: list[object] = []
    for _ in range(draw(st.integers(0, 4))):
        source: object = draw(markdown_note)
        shape = draw(st.integers(0, 5))
        if shape == 0:
            source = str(source).splitlines(keepends=True)
        elif shape == 1:
            source = [str(source), draw(st.sampled_from([3, None, {"a": 1}, ["x"]]))]
        elif shape == 2:
            source = draw(st.sampled_from([17, None, {"text": "x"}]))
        cell_type = draw(st.sampled_from(["markdown", "markdown", "code", "raw", None]))
        cells.append({"cell_type": cell_type, "metadata": {}, "source": source})
    document: dict[str, object] = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    text = json.dumps(document, indent=draw(st.sampled_from([None, 1])), ensure_ascii=draw(st.booleans()))
    if kind == 1:
        text = text.replace('"nbformat": 4', f'"big": {HUGE}, "nbformat": 4')
    elif kind == 2:
        text = text[: draw(st.integers(0, len(text)))]
    elif kind == 3:
        text = json.dumps({"worksheets": [{"cells": cells}], "nbformat": 3})
    elif kind == 4:
        text = text.replace('"source"', '"source": "dup", "source"', 1)
    return text


# --------------------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------------------


class Clock:
    """Counts and times the runs of one test, for its budget and its report."""

    def __init__(self) -> None:
        self.runs = 0
        self.total = 0.0

    def check(self, path: str, text: str) -> None:
        started = time.perf_counter()
        result = check_text(path, text)
        elapsed = time.perf_counter() - started
        self.runs += 1
        self.total += elapsed
        assert elapsed < SINGLE_RUN_BUDGET, (elapsed, path, text[:500])
        crashes = [d for d in result.diagnostics if d.code == "TL900"]
        assert not crashes, (crashes, path, text[:2000])


CLOCKS: dict[str, Clock] = {}


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )


def clock(name: str) -> Clock:
    return CLOCKS.setdefault(name, Clock())


@fuzz(4500)
@given(markdown_note)
def test_generated_markdown_never_breaks_the_checker(text: str) -> None:
    clock("markdown").check("note.md", text)


@fuzz(3000)
@given(latex_note)
def test_generated_latex_never_breaks_the_checker(text: str) -> None:
    clock("latex").check("note.tex", text)


@fuzz(2600)
@given(notebook_text())
def test_generated_notebooks_never_break_the_checker(text: str) -> None:
    clock("notebook").check("note.ipynb", text)


note_bytes = st.one_of(
    st.binary(max_size=200),
    markdown_note.map(lambda text: text.encode("utf-8", errors="surrogatepass")),
    st.tuples(markdown_note, st.binary(max_size=8), markdown_note).map(
        lambda parts: parts[0].encode("utf-8", "surrogatepass") + parts[1] + parts[2].encode("utf-8", "surrogatepass")
    ),
    st.sampled_from([b"\xef\xbb\xbf$x = x$", b"\xff\xfe$\x00", b"caf\xe9 $a = b$", b'{"\\x": 1}']),
)


@fuzz(150)
@given(note_bytes, st.sampled_from(["n.md", "n.tex", "n.ipynb"]), st.sampled_from(["text", "json", "sarif"]))
def test_generated_bytes_through_the_command_line(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, name: str, fmt: str
) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    note = folder / name
    note.write_bytes(data)
    started = time.perf_counter()
    status = main(["check", "--isolated", "--format", fmt, str(note)])
    elapsed = time.perf_counter() - started
    clock("command line").runs += 1
    clock("command line").total += elapsed
    assert status in (0, 1) and elapsed < SINGLE_RUN_BUDGET


def test_fuzz_report(capsys: pytest.CaptureFixture[str]) -> None:
    """Runs last in this file: the counts and times (at least 10,000 notes through check_text)."""
    if len(CLOCKS) < 4:
        pytest.skip("run with the whole file to get the report")
    with capsys.disabled():
        for name, measured in CLOCKS.items():
            print(f"\nfuzz {name}: {measured.runs} runs in {measured.total:.1f} s")
    assert sum(clock.runs for name, clock in CLOCKS.items() if name != "command line") >= 10_000
    assert sum(clock.total for clock in CLOCKS.values()) < 180
