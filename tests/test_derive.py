"""`tensorlint derive`: symbolic derivatives, each form verified numerically before it is shown.

The standard expressions live in ``tests/data/derive/expressions.txt``, one per line with the shape, closed
form and index form that ``derive`` must give, so a change in any of them shows up as a diff of data. To
accept the current output as the expected one (after checking the diff), run

    TENSORLINT_UPDATE=1 .venv/bin/pytest tests/test_derive.py

which rewrites the expected side of every line (and fills it in for a line that has only an expression)
before the tests are collected.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from tensorlint import ir
from tensorlint.cli import main
from tensorlint.derive import Derivative, parse_expression, verified_form
from tensorlint.derive_command import command, derive_latex, environment
from tensorlint.latex import Style
from tensorlint.model import Config

DATA = Path(__file__).parent / "data" / "derive" / "expressions.txt"
ARROW = " => "
SEPARATOR = " :: "
UPDATE = os.environ.get("TENSORLINT_UPDATE") == "1"


@dataclass(frozen=True)
class Case:
    line: int
    expression: str
    wrt: str
    lets: tuple[str, ...]
    expected: str | None

    def __str__(self) -> str:
        return f"line {self.line}: {self.expression} by {self.wrt}"


def read_cases() -> list[Case]:
    found = []
    for number, line in enumerate(DATA.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        question, arrow, expected = line.partition(ARROW)
        expression, wrt, *lets = question.split(SEPARATOR)
        found.append(Case(number, expression, wrt, tuple(lets), expected if arrow else None))
    return found


@cache
def derived(expression: str, wrt: str, lets: tuple[str, ...]) -> Derivative:
    result, _ = derive_latex(expression, wrt, list(lets))
    return result


def render(case: Case) -> str:
    """What ``derive`` gives for a case, in the data file's format."""
    result = derived(case.expression, case.wrt, case.lets)
    closed = result.closed_form.latex if result.closed_form is not None else "none"
    index = f"{result.index_left} = {result.index_form.latex}" if result.index_form is not None else "none"
    return SEPARATOR.join((result.shape, closed, index))


def update() -> None:
    lines = DATA.read_text(encoding="utf-8").splitlines()
    for case in read_cases():
        question = lines[case.line - 1].partition(ARROW)[0]
        lines[case.line - 1] = question + ARROW + render(case)
    DATA.write_text("\n".join(lines) + "\n", encoding="utf-8")


if UPDATE:
    update()

CASES = read_cases()


@pytest.mark.parametrize("case", CASES, ids=str)
def test_derivative(case: Case) -> None:
    assert case.expected is not None, "no expected result: run with TENSORLINT_UPDATE=1"
    assert render(case) == case.expected


def test_coverage_of_the_standard_expressions() -> None:
    """At least 60 expressions; a verified closed form for at least 90 % and an index form for all."""
    results = [derived(case.expression, case.wrt, case.lets) for case in CASES]
    assert len(results) >= 60
    closed = sum(result.closed_form is not None and result.closed_form.verified for result in results)
    indexed = sum(result.index_form is not None and result.index_form.verified for result in results)
    assert closed >= 0.9 * len(results), f"{closed} of {len(results)} closed forms"
    assert indexed == len(results), f"{indexed} of {len(results)} index forms"


def test_every_order_is_covered() -> None:
    orders = {derived(case.expression, case.wrt, case.lets).order for case in CASES}
    assert orders >= {0, 1, 2, 3, 4}


# Layouts, style and what is shown -----------------------------------------------------------------------


def test_numerator_layout_transposes_a_gradient_and_denominator_a_jacobian() -> None:
    gradient, _ = derive_latex(r"\mathbf{a}^T X \mathbf{b}", "X", layout="numerator")
    assert gradient.closed_form is not None and gradient.closed_form.latex == r"\mathbf{b} \mathbf{a}^T"
    jacobian, _ = derive_latex(r"A\mathbf{x}", r"\mathbf{x}", layout="denominator")
    assert jacobian.closed_form is not None and jacobian.closed_form.latex == "A^T"
    assert jacobian.layout == "denominator"


def test_the_authors_transpose_mark_and_fonts_are_kept() -> None:
    result, _ = derive_latex(r"\boldsymbol{a}^\top X \boldsymbol{b}", "X")
    assert result.closed_form is not None
    assert result.closed_form.latex == r"\boldsymbol{a} \boldsymbol{b}^\top"


def test_the_third_order_derivative_of_wx_has_the_index_form_of_the_design() -> None:
    result, assumed = derive_latex(r"W\mathbf{x}", "W")
    assert assumed == ["W ∈ ℝ^n×m", "x ∈ ℝ^m"]
    assert result.shape == "third-order tensor n×n×m"
    assert result.index_form is not None
    assert f"{result.index_left_text} = {result.index_form.text}" == "∂(Wx)_i/∂W_kl = δ_ik x_l"
    assert result.closed_form is not None and result.closed_form.text == "xᵀ ⊗ I_n"


def test_what_sympy_gets_wrong() -> None:
    """SymPy 1.14 gives 0 for both (DESIGN.md): the derivatives are X^{-T} and I + 2X^T."""
    logdet, _ = derive_latex(r"\log\det X", "X")
    assert logdet.closed_form is not None and logdet.closed_form.latex == "X^{-T}"
    traces, _ = derive_latex(r"\operatorname{tr}(X) + \operatorname{tr}(X^2)", "X")
    assert traces.closed_form is not None and traces.closed_form.latex == "I_{n} + 2 X^T"


def test_declared_shapes_and_definitions_are_used() -> None:
    result, assumed = derive_latex(
        "z", "W", [r"W \in \mathbb{R}^{3\times 4}", r"\mathbf{x} \in \mathbb{R}^{4}", r"z = \|W\mathbf{x}\|^2"]
    )
    assert assumed == []
    assert result.shape == "3×4 matrix"
    assert result.closed_form is not None and result.closed_form.latex == r"2 W \mathbf{x} \mathbf{x}^T"


def test_a_form_that_fails_its_check_is_not_verified() -> None:
    config = Config()
    env, _ = environment([r"X \in \mathbb{R}^{n\times n}"], config)
    left = ir.Deriv(ir.Unary("logdet", ir.Var("X")), ir.Wrt("X"))
    wrong = parse_expression("X^{-1}", env, config)
    assert wrong is not None
    form = verified_form(left, wrong, env, config, "denominator", Style(), "gradient")
    assert not form.verified and "failed its check" in form.detail
    right = parse_expression("X^{-T}", env, config)
    assert right is not None
    assert verified_form(left, right, env, config, "denominator", Style(), "gradient").verified


def test_a_closed_form_that_needs_a_commutation_matrix_is_left_out() -> None:
    result, _ = derive_latex("X^T X", "X")
    assert result.closed_form is None
    assert result.index_form is not None
    assert result.index_form.text == "δ_il X_kj + δ_jl X_ki"


# The command ------------------------------------------------------------------------------------------


def test_command_prints_shape_closed_form_index_form_and_how_it_was_verified(capsys: pytest.CaptureFixture) -> None:
    assert command([r"\operatorname{tr}(AXB)", "--wrt", "X"]) == 0
    out = capsys.readouterr().out
    assert "shape        m×p matrix (gradient, denominator layout)" in out
    assert "closed form  A^T B^T" in out
    assert r"index form   \frac{\partial \operatorname{tr}(A X B)}{\partial X_{kl}} = (B A)_{lk}" in out
    assert "matches the numeric derivative on 3 random instances" in out


def test_command_json(capsys: pytest.CaptureFixture) -> None:
    arguments = [r"\log\det X", "--wrt", "X", "--let", r"X \in \mathbb{R}^{n\times n}", "--format", "json"]
    assert command([*arguments, "--layout", "numerator"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["shape"] == "n×n matrix"
    assert data["layout"] == "numerator"
    assert data["closed_form"]["latex"] == "X^{-1}"
    assert data["closed_form"]["verified"] is True
    assert data["index_form"]["latex"] == "(X^{-1})_{lk}"
    assert data["assumptions"] == []


@pytest.mark.parametrize(
    "arguments",
    [
        ["x^T", "--wrt", "x", "--let", r"\frac{"],
        [r"\frac{", "--wrt", "x"],
        ["x", "--wrt", "x + y"],
        ["x"],
    ],
    ids=["bad-let", "bad-expression", "bad-variable", "no-variable"],
)
def test_command_usage_errors_exit_2(arguments: list[str], capsys: pytest.CaptureFixture) -> None:
    assert command(arguments) == 2
    assert capsys.readouterr().err


def test_tensorlint_derive_runs_the_command(capsys: pytest.CaptureFixture) -> None:
    assert main(["derive", r"W\mathbf{x}", "--wrt", "W"]) == 0
    out = capsys.readouterr().out
    assert r"\delta_{ik} x_{l}" in out and "third-order tensor n×n×m" in out
