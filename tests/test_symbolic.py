"""SymPy proves scalar calculus and gives exact counterexamples (that it stays off the check path otherwise is
tested in test_cli)."""

from __future__ import annotations

import pytest

from tensorlint.core import check_text

DECLARE = "Let $x, a, b \\in \\mathbb{R}$.\n\n"

CASES = [
    ("$$\\frac{d}{dx} \\sigma(x) = \\sigma(x)(1 - \\sigma(x))$$", "verified", "proved"),
    ("$$\\frac{d}{dx} \\tanh(x) = 1 - \\tanh(x)^2$$", "verified", "proved"),
    ("$$\\frac{d}{dx} x^3 = 3x$$", "wrong", "exactly at x = "),
    ("$$(a + b)^2 = a^2 + b^2$$", "wrong", "exactly at a = 1, b = 2: the left side is 9, the right side 5"),
    ("$$(a + b)^2 \\neq a^2 + 2ab + b^2$$", "wrong", "identical"),
]


@pytest.mark.parametrize(("claim", "verdict", "evidence"), CASES)
def test_scalar_claims_are_proved_or_refuted_exactly(claim: str, verdict: str, evidence: str) -> None:
    result = check_text("s.md", DECLARE + claim + "\n")
    assert [(found.verdict, evidence in found.message) for found in result.claims] == [(verdict, True)]


def test_a_vector_claim_is_not_sent_to_sympy() -> None:
    text = "Let $x \\in \\mathbb{R}^n$.\n\n$$\\frac{d}{dx} x^T x = 2x$$\n"
    (claim,) = check_text("v.md", text).claims
    assert claim.verdict == "verified"
    assert "proved" not in claim.message


HESSIANS = [
    # (expression, lets, a closed form the Hessian must print)
    ("x^T A x", ["A \\in \\mathbb{R}^{n\\times n}", "x \\in \\mathbb{R}^n"], "A + A^T"),
    ("b^T x", ["b \\in \\mathbb{R}^n", "x \\in \\mathbb{R}^n"], "0"),
    ("x^3", ["x \\in \\mathbb{R}"], "6 x"),
]


@pytest.mark.parametrize(("expression", "lets", "closed"), HESSIANS)
def test_derive_order_2_prints_the_verified_hessian(
    expression: str, lets: list[str], closed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from tensorlint.cli import main

    arguments = ["derive", expression, "--wrt", "x", "--order", "2"]
    for let in lets:
        arguments += ["--let", let]
    assert main(arguments) == 0
    printed = capsys.readouterr().out
    assert f"closed form  {closed}\n" in printed
    assert "second derivative" in printed


def test_derive_prints_a_shorter_sympy_form_of_a_scalar_derivative(capsys: pytest.CaptureFixture[str]) -> None:
    from tensorlint.cli import main

    lets = ["--let", "a \\in \\mathbb{R}", "--let", "x \\in \\mathbb{R}"]
    assert main(["derive", "\\log(1 + e^{a x})", "--wrt", "x", *lets, "--order", "2"]) == 0
    printed = capsys.readouterr().out
    simplified = next(line for line in printed.splitlines() if line.startswith("simplified"))
    closed = next(line for line in printed.splitlines() if line.startswith("closed form"))
    assert "a^{2}" in simplified
    assert len(simplified) < len(closed)
