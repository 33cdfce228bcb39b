"""`--fix` never harms: it never widens a suppression, it is idempotent on every note of the test corpora,
and an unknown directive is a diagnostic rather than a guess."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tensorlint.cli import main
from tensorlint.core import check_text
from tensorlint.explain import apply_fixes

ROOT = Path(__file__).parent.parent
NOTE_SUFFIXES = (".md", ".markdown", ".qmd", ".tex", ".ipynb")

DECLARED = "Let $A, B \\in \\mathbb{R}^{n\\times n}$ and $a, x \\in \\mathbb{R}^n$. We use denominator layout.\n\n"
FALSE_WITHOUT_FIX = "$$(AB)^T = A^T B^T$$\n"
FALSE_WITH_FIX = "$$\\frac{\\partial a^T x}{\\partial x} = 2a$$\n"


def fixed_once(text: str, path: str = "n.md") -> str:
    result = check_text(path, text)
    return apply_fixes(text, [d.fix for d in result.diagnostics if d.fix is not None])


# --------------------------------------------------------------------------------------------------------
# A fix never widens a suppression
# --------------------------------------------------------------------------------------------------------


def test_a_misspelt_suppression_is_reported_and_never_guessed(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """`disable-line` is close to `disable-file`: guessing would silence the unrelated false claim below."""
    text = DECLARED + "<!-- tensorlint: disable-line TL201 -->\n" + FALSE_WITH_FIX + "\n" + FALSE_WITHOUT_FIX
    [report] = [d for d in check_text("n.md", text).diagnostics if d.code == "TL004"]
    assert "disable-line" in report.message and report.fix is None
    note = tmp_path / "n.md"
    note.write_text(text)
    assert main(["check", "--fix", str(note)]) == 1
    out = capsys.readouterr().out
    assert "<!-- tensorlint: disable-line TL201 -->" in note.read_text()
    assert "= A^T B^T" in out and "error[TL201]" in out


@pytest.mark.parametrize(
    "body",
    [
        "disable-line TL201",
        "disable-nextline TL201",
        "disable-files TL201",
        "enable-file",
        "disabel TL201",
        "layuot=numerator",
        "layout=numeratr",
        "layout = numerator",
        "einstein=maybe",
        "frobnicate",
        "W is a matrix",
    ],
)
def test_an_unknown_or_misspelt_directive_is_a_diagnostic_without_a_fix(body: str) -> None:
    text = DECLARED + f"<!-- tensorlint: {body} -->\n" + FALSE_WITH_FIX
    reports = [d for d in check_text("n.md", text).diagnostics if d.code in ("TL004", "TL005")]
    assert len(reports) == 1, reports
    assert reports[0].fix is None
    assert text[reports[0].start : reports[0].end] == f"<!-- tensorlint: {body} -->"


@pytest.mark.parametrize(
    "body",
    [
        "layout=numerator",
        "layout=denominator",
        "einstein=on",
        "einstein=off -- index notation below",
        "W \\in \\mathbb{R}^{n\\times m}, x \\in \\mathbb{R}^m",
        "disable-next-line TL201",
    ],
)
def test_known_directives_are_not_reported(body: str) -> None:
    text = DECLARED + f"<!-- tensorlint: {body} -->\n" + FALSE_WITH_FIX
    assert not [d for d in check_text("n.md", text).diagnostics if d.code == "TL005"]


def test_removing_an_unused_code_never_adds_one() -> None:
    text = DECLARED + "<!-- tensorlint: disable-next-line TL201, TL203 -->\n" + FALSE_WITH_FIX
    fixed = fixed_once(text)
    assert "disable-next-line TL201 -->" in fixed


# --------------------------------------------------------------------------------------------------------
# Idempotence
# --------------------------------------------------------------------------------------------------------


def test_an_unused_disable_is_removed_with_its_enable() -> None:
    text = DECLARED + "<!-- tensorlint: disable TL206 -->\n$$a^T x = x^T a$$\n<!-- tensorlint: enable TL206 -->\n"
    fixed = fixed_once(text)
    assert fixed == DECLARED + "$$a^T x = x^T a$$\n"
    assert [d.code for d in check_text("n.md", fixed).diagnostics] == []


def test_an_enable_that_also_closes_a_used_disable_stays() -> None:
    text = (
        DECLARED
        + "<!-- tensorlint: disable TL201 -->\n"
        + "<!-- tensorlint: disable TL206 -->\n"
        + FALSE_WITHOUT_FIX
        + "<!-- tensorlint: enable -->\n"
    )
    fixed = fixed_once(text)
    assert "disable TL206" not in fixed and "<!-- tensorlint: enable -->" in fixed
    assert fixed_once(fixed) == fixed


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("<!-- tensorlint: disable-next-line TL203 --> <!-- a remark -->\n", "<!-- a remark -->\n"),
        ("Some words <!-- tensorlint: disable-next-line TL203 -->\n", "Some words\n"),
        ("Some <!-- tensorlint: disable-next-line TL203 --> words\n", "Some words\n"),
        ("<!-- tensorlint: disable-next-line TL203 -->\n", ""),
    ],
)
def test_a_removed_directive_leaves_no_stray_space(line: str, expected: str) -> None:
    text = DECLARED + line + "$$a^T x = x^T a$$\n"
    assert fixed_once(text) == DECLARED + expected + "$$a^T x = x^T a$$\n"


def corpus_notes() -> list[Path]:
    tests = ROOT / "tests"
    roots = [tests / "corpus" / "seeds", tests / "data", tests / "fixtures", ROOT / "examples"]
    shared = ROOT.parent / "shared" / "corpus"
    roots += [shared / "wild", shared / "wild2"]
    notes = [
        path for root in roots if root.is_dir() for path in sorted(root.rglob("*")) if path.suffix in NOTE_SUFFIXES
    ]
    return [path for path in notes if path.is_file()]


def test_fixing_every_corpus_note_twice_changes_nothing_the_second_time(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    notes = corpus_notes()
    assert len(notes) >= 25
    copies = []
    for number, note in enumerate(notes):
        copy = tmp_path / f"{number:03d}_{note.name}"
        shutil.copyfile(note, copy)
        copies.append(copy)
    main(["check", "--fix", "--isolated", str(tmp_path)])
    once = {copy.name: copy.read_bytes() for copy in copies}
    capsys.readouterr()
    main(["check", "--fix", "--isolated", str(tmp_path)])
    err = capsys.readouterr().err
    changed = [copy.name for copy in copies if copy.read_bytes() != once[copy.name]]
    assert changed == [], err
    assert "fixed" not in err
