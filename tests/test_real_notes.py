"""Real public notes (../shared/corpus/wild and wild2): trust, measured against labels.

- no internal error (TL900) on any document;
- every accusation (wrong, shape, layout) is a real error: a label says so, from the shared labels
  (../shared/corpus/wild*/labels.jsonl) or the project's own (tests/data/real/labels.jsonl, each with its
  numeric evidence in `why`). An accusation without such a label fails: judge it, then label it or fix it;
- the number of decided claims (verified or rightly accused) per document never drops below
  tests/data/real/ratchet.json. Raise the numbers when the checker improves; never lower them.
Skipped when the shared corpus is absent.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tensorlint.core import check_text
from tensorlint.report import to_json

HERE = Path(__file__).parent
CORPUS = HERE.parent.parent / "shared" / "corpus"
FOLDERS = ("wild", "wild2")
RATCHET = json.loads((HERE / "data" / "real" / "ratchet.json").read_text(encoding="utf-8"))
# Known failures, each with the work that removes it: {document: {"tl900" | "accusations": reason}}.
PENDING = json.loads((HERE / "data" / "real" / "pending.json").read_text(encoding="utf-8"))
ACCUSATIONS = ("wrong", "shape", "layout")


def squeeze(text: str) -> str:
    return "".join(text.split()).replace("&", "")


def read_labels(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@cache
def labels() -> tuple[dict[str, Any], ...]:
    found = read_labels(HERE / "data" / "real" / "labels.jsonl")
    for folder in FOLDERS:
        found += read_labels(CORPUS / folder / "labels.jsonl")
    return tuple(found)


def documents() -> list[str]:
    names = []
    for folder in FOLDERS:
        if (CORPUS / folder).is_dir():
            names += [
                f"{folder}/{path.name}"
                for path in sorted((CORPUS / folder).iterdir())
                if path.is_file() and path.name not in ("README.md", "labels.jsonl")
            ]
    return names


@cache
def report(name: str) -> dict[str, Any]:
    path = CORPUS / name
    return to_json([check_text(str(path), path.read_text(encoding="utf-8"))])["files"][0]


def label_of(file: str, claim: dict[str, Any]) -> dict[str, Any] | None:
    """The label that names this claim: same file, its line within the claim, its snippet in the claim."""
    for label in labels():
        if (
            label["file"] == file
            and claim["line"] <= label["line"] <= claim["end_line"]
            and squeeze(label["snippet"]) in squeeze(claim["latex"])
        ):
            return label
    return None


def real_error(file: str, claim: dict[str, Any]) -> bool:
    label = label_of(file, claim)
    return label is not None and label["truth"] != "correct"


def decided(name: str) -> int:
    """Verified claims and accusations that a label proves right."""
    file = name.split("/", 1)[1]
    claims = report(name)["claims"]
    return sum(c["verdict"] == "verified" or (c["verdict"] in ACCUSATIONS and real_error(file, c)) for c in claims)


def pending(name: str, test: str) -> list[Any]:
    """An xfail mark for a known failure that work in progress elsewhere removes (tests/data/real/pending.json)."""
    reason = PENDING.get(name, {}).get(test)
    return [pytest.mark.xfail(reason=reason, strict=False)] if reason else []


def cases(test: str) -> list[Any]:
    return [pytest.param(name, marks=pending(name, test), id=name) for name in NAMES]


NAMES = documents()
pytestmark = pytest.mark.skipif(not NAMES, reason="the shared real-note corpus is absent")


@pytest.mark.parametrize("name", cases("tl900"))
def test_no_internal_error(name: str) -> None:
    errors = [d for d in report(name)["diagnostics"] if d["code"] == "TL900"]
    assert not errors, errors


@pytest.mark.parametrize("name", cases("accusations"))
def test_every_accusation_is_a_labelled_real_error(name: str) -> None:
    file = name.split("/", 1)[1]
    unproven = []
    for claim in report(name)["claims"]:
        if claim["verdict"] not in ACCUSATIONS:
            continue
        label = label_of(file, claim)
        if label is None or label["truth"] == "correct":
            unproven.append((claim["line"], claim["verdict"], claim["latex"][:80], claim["message"][:120]))
    assert not unproven, unproven


@pytest.mark.parametrize("name", NAMES)
def test_decided_claims_never_drop(name: str) -> None:
    assert decided(name) >= RATCHET.get(name, 0), f"{name}: {decided(name)} decided, ratchet {RATCHET.get(name)}"


def test_ratchet_names_real_documents() -> None:
    assert set(RATCHET) <= set(NAMES)
    assert set(PENDING) <= set(NAMES)


def test_project_labels_carry_evidence() -> None:
    for label in read_labels(HERE / "data" / "real" / "labels.jsonl"):
        assert {"file", "line", "snippet", "truth", "why"} <= set(label), label
        assert label["truth"] in ("correct", "wrong", "ill-posed"), label
        assert "numpy" in label["why"] or "np." in label["why"], f"no numeric evidence: {label}"
