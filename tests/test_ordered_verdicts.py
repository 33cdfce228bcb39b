"""Notes whose claims share lines (rows of an align continue each other), as data: each note in
``tests/data/ordered/`` starts with ``<!-- verdicts: … -->``, the verdict of every claim in document order,
definitions excluded."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tensorlint.core import check_text

NOTES = sorted((Path(__file__).parent / "data" / "ordered").glob("*.md"))
HEADER = re.compile(r"<!-- verdicts: ([a-z ]+) -->")


@pytest.mark.parametrize("path", NOTES, ids=[path.stem for path in NOTES])
def test_verdicts_in_order(path):
    text = path.read_text(encoding="utf-8")
    header = HEADER.search(text)
    assert header, "the note must start with <!-- verdicts: … -->"
    expected = header.group(1).split()
    claims = [claim for claim in check_text(path.name, text).claims if claim.verdict != "definition"]
    got = [f"{claim.verdict}: {claim.latex}" for claim in claims]
    assert [claim.verdict for claim in claims] == expected, "\n".join(got)
