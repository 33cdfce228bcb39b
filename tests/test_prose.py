"""The prose reader, table-driven: every sentence in ``tests/data/prose/*.txt`` with the facts it states.

The tables (format in ``tests/data/prose/README.md``) cover declarations, structures, conventions, operator
meanings, hypotheses, negations, scopes and Chinese prose. Through the public entry points, the facts the
interpreter takes in are checked on small notes below (``check_text``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tensorlint.core import check_text
from tensorlint.prose import ProseFact, facts

TABLES = Path(__file__).parent / "data" / "prose"


@dataclass(frozen=True)
class Row:
    file: str
    line: int
    sentence: str
    spans: tuple[str, ...] | None
    expected: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"{self.file}:{self.line}"


def render(fact: ProseFact) -> str:
    """A fact in the tables' notation: ``kind [name] [rows×columns] [=value] [!] [@scope] [#spans]``."""
    parts = [fact.kind]
    if fact.name:
        parts.append(fact.name)
    if fact.rows or fact.columns:
        parts.append(f"{fact.rows}×{fact.columns}")
    if fact.value:
        parts.append(f"={fact.value}")
    if fact.negated:
        parts.append("!")
    if fact.scope != "document":
        parts.append(f"@{fact.scope}")
    if fact.kind in ("hypothesis", "algorithm") and fact.spans:
        parts.append("#" + ",".join(str(span) for span in fact.spans))
    return " ".join(parts)


def rows() -> list[Row]:
    found = []
    for path in sorted(TABLES.glob("*.txt")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip() or line.startswith("#"):
                continue
            left, expected = line.rsplit(" => ", 1)
            sentence, _, spans = left.partition(" || ")
            span_texts = tuple(spans.split(" ; ")) if spans else None
            wanted = () if expected.strip() == "nothing" else tuple(part.strip() for part in expected.split(" ; "))
            found.append(Row(path.name, number, sentence, span_texts, wanted))
    return found


ROWS = rows()


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_sentence(row: Row) -> None:
    got = sorted(render(fact) for fact in facts(row.sentence, row.spans))
    assert got == sorted(row.expected), f"{row.sentence!r}"


def test_the_tables_are_large_and_hedged() -> None:
    """At least 400 sentences, 60 of them negated or conditional, some in Chinese, some stating nothing."""
    hedged = [row for row in ROWS if any(mark in fact for fact in row.expected for mark in ("!", "@sentence", "hypo"))]
    chinese = [row for row in ROWS if any("\u4e00" <= char <= "\u9fff" for char in row.sentence)]
    assert len(ROWS) >= 400
    assert len(hedged) >= 60
    assert len(chinese) >= 30
    assert sum(not row.expected for row in ROWS) >= 40


def test_offsets_cover_the_phrase() -> None:
    text = "We use numerator layout. Let $0$ be a $1$ matrix."
    layout, size = facts(text, ["W", "n\\times m"], offset=100)
    assert text[layout.offset - 100 : layout.end - 100] == "numerator layout"
    assert text[size.offset - 100 : size.end - 100] == "$0$ be a $1$ matrix"


@pytest.mark.parametrize(
    "text",
    ["", "$", "$$", "$0", "((((", "不" * 5000, "not " * 3000, "$99$ is $98$", "\\vec{", "s.t. s.t.", "\n\n\n"],
)
def test_never_raises(text: str) -> None:
    assert isinstance(facts(text, ["A"]), list)
    assert isinstance(facts(text), list)


# What the checker does with what prose says (through check_text) ============================================

# Phrasings the regex reader understood before this reader: their declarations still reach the symbol table.
EARLIER_PHRASINGS = [
    ("Let $W$ be a $n\\times m$ matrix.", "W", "n×m matrix"),
    ("Let $x$ be a $m\\times 1$ vector.", "x", "m-vector"),
    ("Take a matrix W that is C rows by D columns.", "W", "C×D matrix"),
    ("The matrix W has D rows and C columns, so W is a matrix with D rows and C columns.", "W", "D×C matrix"),
    ("Let \\vec{y} be a *row vector* with C components.", "\\vec{y}", "1×C row vector"),
    ("Take a column vector \\vec{y} of length C.", "\\vec{y}", "C-vector"),
    ("Let $c$ be a scalar.", "c", "scalar"),
    ("Here $\\lambda$ is a scalar.", "\\lambda", "scalar"),
]


@pytest.mark.parametrize(("text", "name", "shape"), EARLIER_PHRASINGS)
def test_declarations_in_words_reach_the_symbol_table(text: str, name: str, shape: str) -> None:
    result = check_text("note.md", text + "\n\n$$" + name + " = " + name + "$$\n")
    symbols = {symbol.name.replace("\\vec{y}", "y"): symbol.shape for symbol in result.symbols}
    assert symbols.get(name.replace("\\vec{y}", "y").replace("\\lambda", "lambda")) == shape, symbols


def verdicts(text: str) -> list[str]:
    return [claim.verdict for claim in check_text("note.md", text).claims]


SYMMETRIC_ONLY = "$$\\frac{\\partial x^T A x}{\\partial x} = 2 A x$$"
NOTE_HEAD = "We use denominator layout. Let $A \\in \\mathbb{R}^{n\\times n}$ and $x \\in \\mathbb{R}^n$. "


@pytest.mark.parametrize(
    ("prose", "expected"),
    [
        ("Here $A$ is symmetric.", "verified"),
        ("Here $A$ is real symmetric.", "verified"),
        ("Here $A$ is not symmetric.", "wrong"),
        ("We do not assume that $A$ is symmetric.", "wrong"),
        ("Here $A$ is non-symmetric, and $x$ is a vector.", "wrong"),
        ("Here $A$ is skew-symmetric.", "uncheckable"),
    ],
)
def test_structures_stated_and_denied(prose: str, expected: str) -> None:
    assert verdicts(NOTE_HEAD + prose + "\n\n" + SYMMETRIC_ONLY + "\n") == [expected]


def test_a_denied_structure_is_not_inferred_from_a_claim() -> None:
    text = NOTE_HEAD + "We do not assume $A$ is symmetric.\n\n$$A = A^T$$\n\n" + SYMMETRIC_ONLY + "\n"
    assert verdicts(text)[-1] == "wrong"


def test_a_structure_under_if_holds_for_the_display_it_introduces_only() -> None:
    text = NOTE_HEAD + "If $A$ is symmetric, then\n$$\\frac{\\partial x^T A x}{\\partial x} = 2 A x$$\n"
    text += "\nIn general it is not.\n\n" + SYMMETRIC_ONLY + "\n"
    assert verdicts(text) == ["verified", "wrong"]


def test_chinese_condition_binds_its_display() -> None:
    text = "我们使用分母布局。设$A \\in \\mathbb{R}^{n\\times n}$，$x \\in \\mathbb{R}^n$。若$A$对称，则\n"
    text += "$$\\frac{\\partial x^T A x}{\\partial x} = 2 A x$$\n"
    assert verdicts(text) == ["verified"]


@pytest.mark.parametrize(
    ("prose", "claim", "expected"),
    [
        # ⊗ as Hadamard commutes; as Kronecker it does not.
        ("Here $\\otimes$ denotes element-wise multiplication.", "A \\otimes B = B \\otimes A", "verified"),
        ("Here $\\otimes$ is the Kronecker product.", "A \\otimes B = B \\otimes A", "wrong"),
        # σ as the ReLU is not the sigmoid; a claim about it is not judged as one.
        ("Here $\\sigma$ is the ReLU.", "\\sigma(a) = \\frac{1}{1 + e^{-a}}", "uncheckable"),
        ("Here $\\sigma$ is the logistic function.", "\\sigma(a) = \\frac{1}{1 + e^{-a}}", "verified"),
        # |x| as a count is neither a determinant nor an absolute value.
        ("Here $|x|$ is the number of items in $x$.", "|x| = |x|^2", "uncheckable"),
        ("Here $|a|$ is the absolute value of $a$.", "|a| = |a|^2", "wrong"),
    ],
)
def test_operator_meanings_are_honoured(prose: str, claim: str, expected: str) -> None:
    head = "Let $A, B \\in \\mathbb{R}^{n\\times n}$, $x \\in \\mathbb{R}^n$ and $a \\in \\mathbb{R}$. "
    assert verdicts(head + prose + "\n\n$$" + claim + "$$\n") == [expected]
