"""Bad input gets a clear diagnostic at the right place and the run goes on; nothing raises."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from tensorlint.core import check_text
from tensorlint.report import LineIndex, to_json


def codes(text: str, path: str = "note.md") -> list[str]:
    return [diagnostic.code for diagnostic in check_text(path, text).diagnostics]


def test_unreadable_math_is_a_hint_at_the_statement():
    text = "Fine: $a = b$.\n\nBroken: $$x = (y + $$ and after it $c = d$.\n"
    result = check_text("note.md", text)
    unreadable = [item for item in result.diagnostics if item.code == "TL001"]
    assert len(unreadable) == 1
    assert text[unreadable[0].start : unreadable[0].end] == "(y +"
    assert unreadable[0].severity == "hint"
    # The statements around it are still read.
    assert [claim.latex for claim in result.claims] == ["a = b", "c = d"]


def test_unknown_command_is_named():
    result = check_text("note.md", "$$\\frobnicate{x} = y$$\n")
    unsupported = [item for item in result.diagnostics if item.code == "TL002"]
    assert unsupported and "\\frobnicate" in unsupported[0].message


def test_deeply_nested_braces():
    text = "$$" + "{" * 10_000 + "x" + "}" * 10_000 + "$$\n"
    assert codes(text) == ["TL001"]


def test_huge_literal_matrix():
    rows = "\\\\".join("&".join("1" for _ in range(1000)) for _ in range(1000))
    assert codes("$$A = \\begin{bmatrix}" + rows + "\\end{bmatrix}$$\n") == ["TL002"]


def test_enormous_dimension_is_not_instantiated():
    text = "Let $x \\in \\mathbb{R}^{1000000000000}$.\n\n$$x^T x = x^T x$$\n"
    result = check_text("note.md", text)
    assert [claim.verdict for claim in result.claims] == ["uncheckable"]
    assert "too large" in result.claims[0].message


def test_many_claims_stop_with_one_hint():
    text = "$$\\operatorname{tr}(AB) = \\operatorname{tr}(BA)$$\n\n" * 10_050
    result = check_text("note.md", text)
    assert len(result.claims) == 10_000
    assert [item.code for item in result.diagnostics] == ["TL002"]
    assert LineIndex(text).position(result.diagnostics[0].start)[0] == 20_001


def test_output_is_identical_on_every_run():
    from pathlib import Path

    seeds = sorted((Path(__file__).parent / "corpus" / "seeds").glob("*.md"))
    first = json.dumps(to_json([check_text(str(path), path.read_text(encoding="utf-8")) for path in seeds]))
    second = json.dumps(to_json([check_text(str(path), path.read_text(encoding="utf-8")) for path in seeds]))
    assert first == second


MATH_PIECES = st.sampled_from(
    [
        "x", "W", "A^T", "^", "_", "{", "}", "(", ")", "[", "]", "|", "\\|", "=", "\\ne", "+", "-", ":",
        "\\frac{\\partial", "}{\\partial", "\\partial", "d", "\\mathbf{x}", "\\otimes", "\\odot",
        "\\operatorname{tr}", "\\det", "\\log", "\\sum_{i=1}^n", "\\delta_{ij}", "1_n", "I", "\\cdots",
        "\\begin{bmatrix}", "\\end{bmatrix}", "&", "\\\\", "\\cr", "\\quad", "\\text{T}", "\\in",
        "\\mathbb{R}^{n\\times m}", "\\left(", "\\right)", "'", ",", "X^{-1}", "\\langle", "\\rangle", "2",
    ]
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(MATH_PIECES, max_size=25), st.lists(MATH_PIECES, max_size=25))
def test_random_math_never_breaks_the_checker(left, right):
    text = f"Let $W \\in \\mathbb{{R}}^{{n\\times m}}$.\n\n$${' '.join(left)}$$ and $$ {' '.join(right)} $$\n"
    result = check_text("fuzz.md", text)
    internal = [item.message for item in result.diagnostics if item.code == "TL900"]
    assert not internal, (text, internal)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_breaks_the_checker(text):
    for path in ("fuzz.md", "fuzz.tex", "fuzz.ipynb"):
        internal = [item.message for item in check_text(path, text).diagnostics if item.code == "TL900"]
        assert not internal, (path, text, internal)


def test_a_space_whose_dimensions_cannot_be_read_gets_a_hint():
    text = "Let $x \\in \\mathbb{R}^{10^{12}}$.\n"
    (hint,) = check_text("note.md", text).diagnostics
    assert hint.code == "TL002"
    assert text[hint.start : hint.end] == "\\mathbb{R}^{10^{12}}"
