"""Inequalities: a refuted one is TL206 with its counterexample; conditions are never accused, nor `\\neq`
by tolerance."""

from __future__ import annotations

import pytest

from tensorlint.core import check_text

DECLARE = "Let $a, b \\in \\mathbb{R}$, $A \\in \\mathbb{R}^{n\\times n}$ and $x \\in \\mathbb{R}^{n}$.\n\n"

REFUTED = [
    ("$$(a + b)^2 \\le a^2 + b^2$$", "the left side is"),
    ("$$\\operatorname{tr}(A^2) \\ge 0$$", "n="),
    ("$$A + A^T \\succeq 0$$", "eigenvalue"),
    ("$$a^2 > a^2 + b^2 + 1$$", "the right side"),
]


@pytest.mark.parametrize(("claim", "evidence"), REFUTED)
def test_a_false_inequality_is_tl206_with_a_counterexample(claim: str, evidence: str) -> None:
    result = check_text("n.md", DECLARE + claim + "\n")
    assert [claim.verdict for claim in result.claims] == ["wrong"]
    codes = [diagnostic.code for diagnostic in result.diagnostics if diagnostic.severity == "error"]
    assert codes == ["TL206"]
    assert evidence in result.claims[0].message
    assert result.diagnostics[0].fix is None


@pytest.mark.parametrize(
    "claim",
    [
        "$$a > 0$$",
        "$$\\lambda_1 \\ge \\lambda_2$$",
        "$$a^3 \\ge 0$$",
        "$$x^T x \\neq \\|x\\|^2$$",
        "$$\\log a \\le a$$",
    ],
)
def test_conditions_and_domains_are_not_accused(claim: str) -> None:
    result = check_text("n.md", DECLARE + claim + "\n")
    assert {claim.verdict for claim in result.claims} <= {"uncheckable", "verified"}
    assert not [diagnostic for diagnostic in result.diagnostics if diagnostic.severity == "error"]


def test_a_neq_claim_is_refuted_only_by_a_proof_that_its_sides_are_identical() -> None:
    result = check_text("n.md", DECLARE + "$$(a + b)^2 \\neq a^2 + 2ab + b^2$$\n")
    assert [claim.verdict for claim in result.claims] == ["wrong"]
    assert "proved" in result.claims[0].message
    assert [diagnostic.code for diagnostic in result.diagnostics] == ["TL206"]
