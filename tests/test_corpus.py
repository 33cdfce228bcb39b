"""The seed notes: the checker must never fall below the recorded number of rows held.

Raise the numbers in tests/corpus/ratchet.json when the checker improves; never lower them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corpus_score import CORPUS, claims_by_file, score

RATCHET = json.loads((CORPUS / "ratchet.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def outcome():
    return score()


@pytest.mark.parametrize("level", ["core", "stretch"])
def test_rows_held_never_drop(outcome, level):
    assert outcome.held[level] >= RATCHET[level], "\n".join(outcome.failures)


def test_no_true_claim_is_accused():
    """A `verified` row is a true statement: reporting it wrong or shape is the worst bug."""
    claims = claims_by_file()
    from corpus_score import _squeeze, rows

    for row in rows():
        if "wrong" in row["expect"] or "shape" in row["expect"]:
            continue
        snippet = _squeeze(row["snippet"])
        for claim in claims[row["file"]]:
            if claim["line"] <= row["line"] <= claim["end_line"] and snippet in _squeeze(claim["latex"]):
                assert claim["verdict"] not in ("wrong", "shape"), (row, claim)


def test_headline_error_of_seed_000():
    path = Path(CORPUS / "seeds" / "000_a2d71986ee5a6ed8.md")
    from tensorlint.core import check_text
    from tensorlint.report import to_json

    report = to_json([check_text(str(path), path.read_text(encoding="utf-8"))])["files"][0]
    line_22 = [item for item in report["diagnostics"] if item["line"] == 22]
    assert [item["code"] for item in line_22] == ["TL202"]
    message = line_22[0]["message"]
    assert "third-order tensor n×n×m" in message
    assert "n-vector" in message
