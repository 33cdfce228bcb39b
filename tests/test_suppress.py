"""Suppression directives (DESIGN.md, "Directives"), as data: notes in ``tests/data/suppress`` say on each line
which codes must be reported there (``expect: TL201 TL004``); every other line must have none."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tensorlint import rules
from tensorlint.core import check_text
from tensorlint.model import Diagnostic, Directive, Document, FileResult
from tensorlint.report import LineIndex
from tensorlint.suppress import apply

DATA = Path(__file__).parent / "data" / "suppress"
NOTES = sorted(DATA.iterdir())
EXPECT = re.compile(r"expect: ((?:TL\d{3} ?)+)")


@pytest.mark.parametrize("path", NOTES, ids=[path.name for path in NOTES])
def test_reported_codes_match_the_expectations(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    result = check_text(path.name, text)
    index = LineIndex(text)
    got: dict[int, list[str]] = {}
    for diagnostic in result.diagnostics:
        got.setdefault(index.position(diagnostic.start)[0], []).append(diagnostic.code)
    expected = {
        number: match.group(1).split()
        for number, line in enumerate(text.splitlines(), 1)
        if (match := EXPECT.search(line))
    }
    assert {line: sorted(codes) for line, codes in got.items()} == {
        line: sorted(codes) for line, codes in expected.items()
    }, "\n".join(f"{index.position(d.start)[0]}: {d.code} {d.message}" for d in result.diagnostics)


def test_tl004_is_a_documented_warning() -> None:
    rule = rules.get("TL004")
    assert rule is not None and (rule.name, rule.severity) == ("unused-suppression", "warning")
    assert "disable-next-line" in rule.doc


# --------------------------------------------------------------------------------------------------------
# Messages and fixes
# --------------------------------------------------------------------------------------------------------

FALSE = "We use denominator layout. Let $a, x \\in \\mathbb{R}^n$.\n\n"
CLAIM = "$$\\frac{\\partial a^T x}{\\partial x} = 2a$$\n"


def tl004(text: str) -> list[Diagnostic]:
    return [d for d in check_text("n.md", text).diagnostics if d.code == "TL004"]


def apply_fix(text: str, diagnostic: Diagnostic) -> str:
    assert diagnostic.fix is not None
    for edit in sorted(diagnostic.fix.edits, key=lambda edit: edit.start, reverse=True):
        text = text[: edit.start] + edit.new_text + text[edit.end :]
    return text


def test_unused_directive_alone_on_its_line_is_removed_with_the_line() -> None:
    text = FALSE + "<!-- tensorlint: disable-next-line TL203 -->\n" + CLAIM
    [report] = tl004(text)
    assert report.message == "unused suppression: no TL203 diagnostic on line 4"
    assert report.fix is not None and report.fix.title == "remove the unused suppression"
    assert apply_fix(text, report) == FALSE + CLAIM


def test_unused_directive_after_text_is_removed_alone() -> None:
    text = FALSE + "Note. <!-- tensorlint: disable-next-line -->\n\nplain words\n"
    [report] = tl004(text)
    assert report.message == "unused suppression: no diagnostic on line 5"
    assert apply_fix(text, report) == FALSE + "Note.\n\nplain words\n"


def test_only_the_unused_codes_are_removed() -> None:
    text = FALSE + "% tensorlint: disable-next-line TL203, TL201 -- why\n" + CLAIM
    text = text.replace("$$\\frac", "\\[\\frac").replace("2a$$", "2a\\]")
    [report] = [d for d in check_text("n.tex", text).diagnostics if d.code == "TL004"]
    assert report.message == "unused suppression: no TL203 diagnostic on line 4"
    assert report.fix is not None and report.fix.title == "remove TL203 from the suppression"
    fixed = apply_fix(text, report)
    assert "% tensorlint: disable-next-line TL201 -- why\n" in fixed
    assert [d.code for d in check_text("n.tex", fixed).diagnostics] == []


def test_unused_display_suppression_names_the_lines() -> None:
    text = FALSE + "<!-- tensorlint: disable-next-line TL206 -->\n$$\n\\frac{\\partial a^T x}{\\partial x} = 2a\n$$\n"
    [report] = tl004(text)
    assert report.message == "unused suppression: no TL206 diagnostic on lines 4 to 6"


def test_directive_at_the_end_of_the_file() -> None:
    [report] = tl004(FALSE + "<!-- tensorlint: disable-next-line -->\n\n")
    assert report.message == "unused suppression: there is no line after it"


def test_suppression_in_a_notebook() -> None:
    cell = {
        "cell_type": "markdown",
        "metadata": {},
        "source": [
            "We use denominator layout. Let $a, x \\in \\mathbb{R}^n$.\n",
            "\n",
            "<!-- tensorlint: disable-next-line TL201 -->\n",
            "$$\\frac{\\partial a^T x}{\\partial x} = 2a$$\n",
            "\n",
            "$$\\frac{\\partial a^T x}{\\partial x} = 3a$$",
        ],
    }
    notebook = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    text = json.dumps(notebook, indent=1)
    result = check_text("n.ipynb", text)
    assert [d.code for d in result.diagnostics] == ["TL201"]
    assert "3a" in text[result.diagnostics[0].start : result.diagnostics[0].end]


def test_apply_is_pure_and_leaves_files_without_directives_alone() -> None:
    diagnostic = Diagnostic("TL201", "x", 0, 1, "error")
    result = FileResult("a.md", "x\n", diagnostics=[diagnostic])
    assert apply(result, Document("a.md", "x\n")) is result
    directive = Directive("disable-file", 10, 20)
    text = "x\n" + " " * 8 + "<!--...-->"
    suppressed = apply(
        FileResult("a.md", text, diagnostics=[diagnostic]), Document("a.md", text, directives=[directive])
    )
    assert suppressed.diagnostics == []
    assert result.diagnostics == [diagnostic]  # The input is not changed.


def test_misspelt_directive_names_its_likely_spelling_but_is_not_rewritten() -> None:
    # Correcting the verb would turn a directive that suppresses nothing into one that suppresses something:
    # a fix never widens a suppression (issue 13), so the author decides.
    text = FALSE + "<!-- tensorlint: disable-nextline TL201 -->\n" + CLAIM
    [report] = tl004(text)
    assert report.message.startswith("unknown suppression directive `disable-nextline` (did you mean")
    assert report.fix is None


def test_unknown_code_next_to_a_known_one_is_removed_alone() -> None:
    text = FALSE + "<!-- tensorlint: disable-next-line TL201 TL999 -->\n" + CLAIM
    [report] = tl004(text)  # TL201 was used: only the unknown code is reported.
    assert report.message.startswith("unknown code `TL999` in suppression")
    fixed = apply_fix(text, report)
    assert "<!-- tensorlint: disable-next-line TL201 -->" in fixed
    assert check_text("n.md", fixed).diagnostics == []
