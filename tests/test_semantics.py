"""More notes as data (structured matrices, unknown functions): the same format as test_identities."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_identities import check_expectations

NOTES = sorted((Path(__file__).parent / "data" / "semantics").glob("*.md"))


@pytest.mark.parametrize("path", NOTES, ids=[path.stem for path in NOTES])
def test_verdicts(path):
    check_expectations(path)


def test_einstein_summation_can_be_switched_off():
    from tensorlint.core import check_text
    from tensorlint.model import Config

    text = (
        "Let $W \\in \\mathbb{R}^{n\\times m}$ and $x \\in \\mathbb{R}^{m}$.\n\n$$\\sum_j W_{ij} x_j = W_{ij} x_j$$\n"
    )
    on = [claim.verdict for claim in check_text("e.md", text).claims]
    off = [claim.verdict for claim in check_text("e.md", text, Config(einstein="off")).claims]
    assert on == ["verified"]
    assert off == ["uncheckable"]
