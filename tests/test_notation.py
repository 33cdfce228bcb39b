"""The notation suite: real-world snippets, each with the structure it must parse to, kept as data.

Every ``tests/data/notation/*.txt`` file holds one snippet per line, then `` => `` and what parsing the
snippet gives: the statements as s-expressions (``tensorlint.printer.to_sexpr``, with ``remark`` before a
statement inside a remark of its row), separated by `` ; ``, then each problem as its code and the exact
text it points at, ``TL001 «(y +»``; ``nothing`` when the snippet holds neither (an operator named in prose,
``$\\otimes$``). Lines starting with ``#`` are comments.
Snippets are single lines; a span that had line breaks is written with spaces.

To accept the current output as the expected one (after checking the diff), run

    TENSORLINT_UPDATE=1 .venv/bin/pytest tests/test_notation.py

which rewrites the expected side of every line (and fills it in for a line that has only a snippet) before
the tests are collected.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from tensorlint.parse import parse_span
from tensorlint.printer import to_sexpr

DATA = Path(__file__).parent / "data" / "notation"
ARROW = " => "
UPDATE = os.environ.get("TENSORLINT_UPDATE") == "1"


@dataclass(frozen=True)
class Snippet:
    file: str
    line: int
    text: str
    expected: str | None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


def render(text: str) -> str:
    """What parsing ``text`` gives, in the notation files' format."""
    result = parse_span(text)
    # A statement inside a remark of its row (not continued by the next row) is marked `remark`.
    items = [("remark " if statement.remark else "") + to_sexpr(statement.chain) for statement in result.statements]
    items += [f"{code} «{text[start:end]}»" for start, end, code, _ in result.problems]
    return " ; ".join(items) or "nothing"


def snippets() -> list[Snippet]:
    found = []
    for path in sorted(DATA.glob("*.txt")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip() or line.startswith("#"):
                continue
            text, arrow, expected = line.partition(ARROW)
            found.append(Snippet(path.name, number, text, expected if arrow else None))
    return found


def _update(path: Path) -> None:
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            text = line.partition(ARROW)[0]
            line = f"{text}{ARROW}{render(text)}"
        lines.append(line)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


if UPDATE:
    for _path in sorted(DATA.glob("*.txt")):
        _update(_path)


def test_there_are_enough_snippets():
    assert len(snippets()) >= 300


def test_every_snippet_has_an_expectation():
    missing = [str(snippet) for snippet in snippets() if snippet.expected is None]
    assert not missing, f"snippets without ` => expected` (run with TENSORLINT_UPDATE=1): {missing}"


@pytest.mark.parametrize("snippet", snippets(), ids=str)
def test_snippet(snippet):
    if snippet.expected is None:
        pytest.skip("no expectation yet")
    assert render(snippet.text) == snippet.expected, snippet.text


# --------------------------------------------------------------------------------------------------------
# The seed notes: every span parses, or a TL001 hint points at exactly what cannot be read
# --------------------------------------------------------------------------------------------------------

SEEDS = Path(__file__).parent / "corpus" / "seeds"
UNREADABLE_IN_SEEDS = [
    ("002_f4f61f4125ce9549.md", r"j = \text{from } 1 \text{ to } D"),
    ("002_f4f61f4125ce9549.md", r"i = \text{from } 1 \text{ to } C"),
    (
        "002_f4f61f4125ce9549.md",
        r"\begin{bmatrix} | & | & & | \\ \vec{x}_1^T & \vec{x}_2^T & \dots & \vec{x}_N^T \\ | & | & & | \end{bmatrix}",
    ),
    ("003_db1baccb7edcd7bd.md", "?"),
]


def test_seed_notes_are_read_except_exactly_the_unreadable_parts():
    from tensorlint.core import check_text

    found = []
    for path in sorted(SEEDS.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        for diagnostic in check_text(str(path), text).diagnostics:
            assert diagnostic.code not in ("TL002", "TL900"), (path.name, diagnostic)
            if diagnostic.code == "TL001":
                found.append((path.name, text[diagnostic.start : diagnostic.end]))
    assert found == UNREADABLE_IN_SEEDS


# --------------------------------------------------------------------------------------------------------
# Hostile input: bounded work and a clear problem, never an exception or a tree too deep to walk
# --------------------------------------------------------------------------------------------------------


def problems_of(text: str) -> list[tuple[str, str, str]]:
    return [(code, text[start:end], message) for start, end, code, message in parse_span(text).problems]


def test_braces_nested_ten_thousand_deep():
    nested = "{" * 10_000 + "x" + "}" * 10_000
    result = parse_span("a = b \\quad c = " + nested)
    # The statement before the nesting is still read; the one holding it is the problem.
    assert [to_sexpr(statement.chain) for statement in result.statements] == ["(= a b)"]
    ((start, end, code, message),) = result.problems
    assert (code, start, end) == ("TL001", len("a = b \\quad "), len("a = b \\quad c = ") + len(nested))
    assert "nested more than 200 deep" in message


def test_literal_matrix_of_a_million_entries():
    rows = "\\\\".join("&".join("1" for _ in range(1000)) for _ in range(1000))
    ((code, _, message),) = problems_of("A = \\begin{bmatrix}" + rows + "\\end{bmatrix}")
    assert code == "TL002"
    assert "too long to read" in message


def test_ten_megabyte_span():
    text = "x + " * 2_500_000 + "x"
    ((code, unreadable, message),) = problems_of(text)
    assert (code, unreadable) == ("TL002", text)
    assert "10,000,001 characters" in message


def test_enormous_dimension_is_read():
    # Reading it is fine; the shapes stage declines to instantiate it (tests/test_robustness.py).
    assert render(r"x \in \mathbb{R}^{10^{12}}") == "(in x (sup R@bb (sup 10 12)))"


def test_long_statement_is_too_long_to_check():
    text = "x" + " + x" * 10_000
    assert problems_of(text) == [("TL002", text, "formula too long to check")]


@pytest.mark.parametrize("text", ["-" * 5_000 + "x", "a" + "^b" * 5_000, "x" + " + x" * 1_000])
def test_trees_too_deep_to_walk_are_not_built(text):
    ((code, unreadable, message),) = problems_of(text)
    assert (code, unreadable) == ("TL002", text)
    assert "nested more than" in message


@pytest.mark.parametrize(
    "text",
    [
        "|" * 5_000,
        "\\left(" * 5_000,
        "\\left" * 5_000,
        "\\hat{" * 500 + "x" + "}" * 500,
        "\\mathbf{" * 20_000,
        "\\\\" * 10_000,
        "&" * 10_000,
        "\\" * 9_999,
    ],
)
def test_degenerate_runs_are_bounded(text):
    result = parse_span(text)
    assert not result.statements
    assert all(code in ("TL001", "TL002") for _, _, code, _ in result.problems)
