"""More notes as data (structured matrices, unknown functions): the same format as test_identities."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_identities import check_expectations

NOTES = sorted((Path(__file__).parent / "data" / "semantics").glob("*.md"))


@pytest.mark.parametrize("path", NOTES, ids=[path.stem for path in NOTES])
def test_verdicts(path):
    check_expectations(path)
