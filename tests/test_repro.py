"""The repro notes of ../shared/corpus/wild/repro: one short note per kind of false verdict seen on real notes.

Each note must get the verdicts its EXPECTED.md gives, written as data in tests/data/real/repro_expected.json
(per claim, the verdicts allowed). Expectations on constructs another part of the pipeline is still learning
are marked xfail there with the reason; they pass silently once it lands (strict=False). Skipped when the
shared corpus is absent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tensorlint.core import check_text
from tensorlint.report import to_json

HERE = Path(__file__).parent
REPRO = HERE.parent.parent / "shared" / "corpus" / "wild" / "repro"
EXPECTED = json.loads((HERE / "data" / "real" / "repro_expected.json").read_text(encoding="utf-8"))["notes"]
ACCUSATIONS = ("wrong", "shape", "layout")


def squeeze(text: str) -> str:
    return "".join(text.split()).replace("&", "")


def report(name: str) -> dict[str, Any]:
    path = REPRO / name
    if not path.is_file():
        pytest.skip("the shared repro corpus is absent")
    return to_json([check_text(str(path), path.read_text(encoding="utf-8"))])["files"][0]


def cases() -> list[Any]:
    found = []
    for note in EXPECTED:
        marks = [pytest.mark.xfail(reason=note["xfail"], strict=False)] if "xfail" in note else []
        found.append(pytest.param(note["note"], None, note, marks=marks, id=f"{note['note'][:3]}-note"))
        for number, claim in enumerate(note.get("claims", [])):
            marks = [pytest.mark.xfail(reason=claim["xfail"], strict=False)] if "xfail" in claim else []
            found.append(pytest.param(note["note"], claim, note, marks=marks, id=f"{note['note'][:3]}-{number}"))
    return found


@pytest.mark.parametrize(("name", "claim", "note"), cases())
def test_repro_verdicts(name: str, claim: dict[str, Any] | None, note: dict[str, Any]) -> None:
    result = report(name)
    claims = result["claims"]
    if claim is None:
        # The note as a whole: no internal error, and every claim no snippet names within `others` (by
        # default: no accusation).
        if not note.get("tl900", False):
            assert not [d for d in result["diagnostics"] if d["code"] == "TL900"], result["diagnostics"]
        named = [squeeze(item["snippet"]) for item in note.get("claims", [])]
        allowed = note.get("others", ["verified", "uncheckable", "definition"])
        rest = [c for c in claims if not any(snippet in squeeze(c["latex"]) for snippet in named)]
        assert all(c["verdict"] in allowed for c in rest), [(c["latex"], c["verdict"], c["message"]) for c in rest]
        return
    snippet = squeeze(claim["snippet"])
    matched = [c for c in claims if snippet in squeeze(c["latex"])]
    assert matched, f"no claim reads {claim['snippet']!r}: {[c['latex'] for c in claims]}"
    for found in matched:
        assert found["verdict"] in claim["allowed"], (found["latex"], found["verdict"], found["message"])


def test_every_repro_note_has_expectations() -> None:
    if not REPRO.is_dir():
        pytest.skip("the shared repro corpus is absent")
    notes = {path.name for path in REPRO.iterdir() if path.name.startswith("r")}
    assert notes == {note["note"] for note in EXPECTED}
