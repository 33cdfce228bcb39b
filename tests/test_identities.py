"""Notes as data: every claim line ends with `<!-- expect: verdict ... -->`; the checker must agree."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tensorlint.core import check_text
from tensorlint.report import LineIndex

DATA = Path(__file__).parent / "data"
EXPECT = re.compile(r"<!-- expect: ([a-z ]+) -->")


def check_expectations(path: Path) -> None:
    """Every line with an expectation holds claims, all with an expected verdict."""
    text = path.read_text(encoding="utf-8")
    result = check_text(path.name, text)
    index = LineIndex(text)
    by_line: dict[int, list[str]] = {}
    for claim in result.claims:
        by_line.setdefault(index.position(claim.start)[0], []).append(f"{claim.verdict}: {claim.message}")
    problems = []
    lines = text.splitlines()
    for number, line in enumerate(lines, 1):
        match = EXPECT.search(line)
        if not match:
            continue
        expected = set(match.group(1).split())
        got = by_line.get(number, [])
        if not got or any(verdict.split(":")[0] not in expected for verdict in got):
            problems.append(f"line {number}: expected {sorted(expected)}, got {got}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "name",
    [
        "denominator_layout.md",
        "numerator_layout.md",
        "index_notation.md",
        "cookbook_denominator.md",
        "cookbook_numerator.md",
        "backprop.md",
        "index_forms.md",
    ],
)
def test_verdicts(name):
    check_expectations(DATA / name)


def test_false_claims_carry_a_counterexample():
    text = (DATA / "denominator_layout.md").read_text(encoding="utf-8")
    wrong = [claim for claim in check_text("d.md", text).claims if claim.verdict == "wrong"]
    assert wrong
    for claim in wrong:
        assert "left side is" in claim.message and "right side" in claim.message, claim.message
