"""Fixes for false claims: the expected result in the message, and a fix that makes the claim hold.

``explain.explain`` is called on every claim the interpreter checks (a wrapper around ``verify``, with the
parts and IR the interpreter has at that point), so these tests run the real pipeline on real notes. Each
fix is then applied to the note and the note is checked again from scratch.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tensorlint import interpret
from tensorlint.core import check_text
from tensorlint.explain import Explanation, apply_fixes, explain
from tensorlint.model import Edit, FileResult, Fix
from tensorlint.report import LineIndex

SEEDS = Path(__file__).parent / "corpus" / "seeds"
FINDINGS = ("wrong", "shape", "layout")
# Every false claim of the seed notes that is about derivatives or vec (000 line 18 and 22: d(Wx)/dW is
# third-order; 003 line 15: the gradient of (Xy)_11; 003 line 30: Xy = vec(Xy); 002 line 134: the layout).
SEED_FINDINGS = [
    ("000_a2d71986ee5a6ed8.md", 18),
    ("000_a2d71986ee5a6ed8.md", 22),
    ("003_db1baccb7edcd7bd.md", 15),
    ("003_db1baccb7edcd7bd.md", 30),
    ("002_f4f61f4125ce9549.md", 134),
]


def check_explained(
    monkeypatch: pytest.MonkeyPatch, path: str, text: str
) -> tuple[FileResult, dict[tuple[int, int], Explanation]]:
    """Check a note, explaining every claim the interpreter sends to ``verify``: the result and the
    explanations by claim range."""
    found: dict[tuple[int, int], Explanation] = {}
    real = interpret.verify

    def verify_and_explain(left_ir, right_ir, op, env, config, latex, left=None, right=None):  # type: ignore[no-untyped-def]
        outcome = real(left_ir, right_ir, op, env, config, latex)
        if left is not None and right is not None:
            explanation = explain(left, right, left_ir, right_ir, op, outcome, env, config, text)
            if explanation is not None:
                start = left.start if left.continued_at is None else left.continued_at
                found[(start, right.end)] = explanation
        return outcome

    with monkeypatch.context() as patch:
        patch.setattr(interpret, "verify", verify_and_explain)
        result = check_text(path, text)
    return result, found


def findings_by_line(result: FileResult) -> dict[int, list[str]]:
    index = LineIndex(result.text)
    lines: dict[int, list[str]] = {}
    for claim in result.claims:
        if claim.verdict in FINDINGS:
            lines.setdefault(index.position(claim.start)[0], []).append(claim.verdict)
    return lines


def explanation_at(
    result: FileResult, explanations: dict[tuple[int, int], Explanation], line: int
) -> tuple[str, Explanation | None]:
    index = LineIndex(result.text)
    for claim in result.claims:
        if claim.verdict in FINDINGS and index.position(claim.start)[0] == line:
            return claim.verdict, explanations.get((claim.start, claim.end))
    raise AssertionError(f"no finding on line {line}")


@pytest.mark.parametrize(("name", "line"), SEED_FINDINGS, ids=[f"{name[:3]}:{line}" for name, line in SEED_FINDINGS])
def test_each_false_claim_in_the_seeds_gets_a_fix_that_makes_it_hold(
    monkeypatch: pytest.MonkeyPatch, name: str, line: int
) -> None:
    text = (SEEDS / name).read_text(encoding="utf-8")
    result, explanations = check_explained(monkeypatch, name, text)
    _, explanation = explanation_at(result, explanations, line)
    assert explanation is not None and explanation.fix is not None
    fixed = apply_fixes(text, [explanation.fix])
    after = check_text(name, fixed)
    verdicts = [claim.verdict for claim in after.claims if LineIndex(after.text).position(claim.start)[0] == line]
    assert verdicts and all(verdict == "verified" for verdict in verdicts), verdicts
    # Nothing else got worse: the other findings are the ones there were.
    before = findings_by_line(result)
    del before[line]
    assert findings_by_line(after) == before


@pytest.mark.parametrize("name", sorted(path.name for path in SEEDS.glob("*.md")))
def test_fixing_twice_changes_nothing(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    text = (SEEDS / name).read_text(encoding="utf-8")
    _, explanations = check_explained(monkeypatch, name, text)
    once = apply_fixes(text, [e.fix for e in explanations.values() if e.fix is not None])
    _, again = check_explained(monkeypatch, name, once)
    assert apply_fixes(once, [e.fix for e in again.values() if e.fix is not None]) == once


def test_the_third_order_message_states_order_shape_and_index_form(monkeypatch: pytest.MonkeyPatch) -> None:
    name = "000_a2d71986ee5a6ed8.md"
    result, explanations = check_explained(monkeypatch, name, (SEEDS / name).read_text(encoding="utf-8"))
    _, explanation = explanation_at(result, explanations, 22)
    assert explanation is not None
    assert explanation.message.startswith("d(Wx)/dW is a third-order tensor n×n×m")
    assert "∂(Wx)_i/∂W_kl = δ_ik x_l" in explanation.message
    assert explanation.fix is not None
    assert explanation.fix.edits[0].new_text == r"\mathbf{x}^{\text{T}} \otimes I_{n}"


def test_a_matrix_written_entry_by_entry_is_fixed_entry_by_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    name = "003_db1baccb7edcd7bd.md"
    result, explanations = check_explained(monkeypatch, name, (SEEDS / name).read_text(encoding="utf-8"))
    verdict, explanation = explanation_at(result, explanations, 15)
    assert verdict == "wrong" and explanation is not None and explanation.fix is not None
    assert "expected e_1 e_1ᵀ yᵀ (3×3 matrix)" in explanation.message
    expected = r"\begin{bmatrix}y_{11} & y_{21} & y_{31} \\ 0 & 0 & 0 \\ 0 & 0 & 0\end{bmatrix}"
    assert explanation.fix.edits[0].new_text == expected


def test_a_layout_mismatch_is_fixed_in_the_documents_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    name = "002_f4f61f4125ce9549.md"
    result, explanations = check_explained(monkeypatch, name, (SEEDS / name).read_text(encoding="utf-8"))
    verdict, explanation = explanation_at(result, explanations, 134)
    assert verdict == "layout" and explanation is not None and explanation.fix is not None
    assert explanation.message.endswith("; in numerator layout it is Wᵀ")
    assert explanation.fix.edits[0].new_text == "W^T"


NOTE = r"""Let $A \in \mathbb{R}^{n\times n}$ and $\mathbf{x} \in \mathbb{R}^{n}$.

$$\frac{\partial \mathbf{x}^\top A \mathbf{x}}{\partial \mathbf{x}} = 2A\mathbf{x}$$
"""


def test_a_fix_is_written_in_the_authors_style(monkeypatch: pytest.MonkeyPatch) -> None:
    result, explanations = check_explained(monkeypatch, "note.md", NOTE)
    verdict, explanation = explanation_at(result, explanations, 3)
    assert verdict == "wrong" and explanation is not None and explanation.fix is not None
    assert explanation.fix.edits[0].new_text == r"(A + A^\top) \mathbf{x}"
    assert "expected (A + Aᵀ)x (n-vector) in denominator layout" in explanation.message
    assert check_text("note.md", apply_fixes(NOTE, [explanation.fix])).claims[-1].verdict == "verified"


def test_a_fix_in_a_notebook_is_escaped_as_json() -> None:
    # The explanation says what the cell should read; core.check_text encodes it for the cell's JSON string.
    cell = {"cell_type": "markdown", "metadata": {}, "source": NOTE.splitlines(keepends=True)}
    notebook = json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1)
    fixes = [d.fix for d in check_text("note.ipynb", notebook).diagnostics if d.fix is not None]
    assert len(fixes) == 1
    assert fixes[0].edits[0].new_text == r"(A + A^\\top) \\mathbf{x}"
    assert fixes[0].edits[0].decoded == r"(A + A^\top) \mathbf{x}"
    fixed = apply_fixes(notebook, fixes)
    json.loads(fixed)
    assert [claim.verdict for claim in check_text("note.ipynb", fixed).claims][-1] == "verified"


# apply_fixes ------------------------------------------------------------------------------------------


def test_apply_fixes_applies_every_edit_from_the_end() -> None:
    fixes = [Fix("a", (Edit(0, 1, "AA"),)), Fix("b", (Edit(4, 5, "E"),))]
    assert apply_fixes("abcde", fixes) == "AAbcdE"


def test_apply_fixes_skips_overlapping_and_out_of_range_edits() -> None:
    fixes = [
        Fix("first", (Edit(1, 3, "X"),)),
        Fix("overlaps the first", (Edit(2, 4, "Y"),)),
        Fix("past the end", (Edit(4, 99, "Z"),)),
    ]
    assert apply_fixes("abcde", fixes) == "aXde"


def test_apply_fixes_keeps_line_endings() -> None:
    text = "$$a = b$$\r\n$$c = d$$\r\n"
    assert apply_fixes(text, [Fix("t", (Edit(6, 7, "B^T"),))]) == "$$a = B^T$$\r\n$$c = d$$\r\n"
