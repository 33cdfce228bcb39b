"""Scoring the checker on the seed notes with the matching rules of tests/corpus/README.md."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from tensorlint.core import check_text
from tensorlint.report import to_json

CORPUS = Path(__file__).parent / "corpus"
SEEDS = CORPUS / "seeds"


def _squeeze(text: str) -> str:
    return re.sub(r"[\s&]", "", text)


@dataclass
class Score:
    held: dict[str, int] = field(default_factory=lambda: {"core": 0, "stretch": 0})
    total: dict[str, int] = field(default_factory=lambda: {"core": 0, "stretch": 0})
    failures: list[str] = field(default_factory=list)


def rows() -> list[dict]:
    lines = (SEEDS / "expected.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def claims_by_file() -> dict[str, list[dict]]:
    found = {}
    for path in sorted(SEEDS.glob("*.md")):
        result = check_text(str(path), path.read_text(encoding="utf-8"))
        found[path.name] = to_json([result])["files"][0]["claims"]
    return found


def score() -> Score:
    claims = claims_by_file()
    result = Score()
    for row in rows():
        snippet = _squeeze(row["snippet"])
        matching = [
            claim
            for claim in claims.get(row["file"], [])
            if claim["line"] <= row["line"] <= claim["end_line"] and snippet in _squeeze(claim["latex"])
        ]
        held = all(claim["verdict"] in row["expect"] for claim in matching) if matching else "none" in row["expect"]
        level = row["level"]
        result.total[level] += 1
        result.held[level] += held
        if not held:
            got = [claim["verdict"] for claim in matching] or ["no claim"]
            result.failures.append(
                f"{level} {row['file']}:{row['line']} {row['snippet']!r}: expected {row['expect']}, got {got}"
            )
    return result


if __name__ == "__main__":
    outcome = score()
    for failure in outcome.failures:
        print(failure)
    for level in ("core", "stretch"):
        print(f"{level}: {outcome.held[level]}/{outcome.total[level]}")
