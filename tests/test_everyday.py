"""Everyday use: broken inputs are reported where they are and the run goes on; the small things a user
meets in the first week (stdin, the licence, notebook JSON, the summary, settings, messages)."""

from __future__ import annotations

import io
import json
import re
import sys
import time
from pathlib import Path

import pytest

from tensorlint.cli import main
from tensorlint.core import check_text

HUGE = "9" * 5000


def notebook(*sources: object, **extra: object) -> str:
    cells = [{"cell_type": "markdown", "metadata": {}, "source": source} for source in sources]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5, **extra}, indent=1)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


WRONG_NOTE = (
    "We use denominator layout. Let $a, x \\in \\mathbb{R}^n$.\n\n$$\\frac{\\partial a^T x}{\\partial x} = 2a$$\n"
)


# --------------------------------------------------------------------------------------------------------
# Broken notebooks and huge numbers: a diagnostic at their place, the rest of the run reported
# --------------------------------------------------------------------------------------------------------

BROKEN_NOTEBOOKS = {
    "bad-escape-key.ipynb": '{"\\x": 1}',
    "bad-escape-in-source.ipynb": '{"cells": [{"cell_type": "markdown", "source": ["$a\\q = b$"]}]}',
    "non-string-source.ipynb": notebook(["Fine $a = a$\n", 3, None], "$$(AB)^T = B^T A^T$$"),
    "number-source.ipynb": notebook(17, "$$(AB)^T = B^T A^T$$"),
    "huge-integer.ipynb": notebook("$$(AB)^T = B^T A^T$$").replace('"nbformat": 4', f'"big": {HUGE}, "nbformat": 4'),
}


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "github"])
def test_broken_notebooks_never_stop_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    for name, text in BROKEN_NOTEBOOKS.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "wrong.md").write_text(WRONG_NOTE)
    status, out, err = run(capsys, "check", "--format", fmt, str(tmp_path))
    assert status == 1, err
    assert "Traceback" not in err and "internal error" not in err
    # Each broken notebook is reported at its place (the one with a huge integer in its metadata is fine).
    for name in [*BROKEN_NOTEBOOKS, "wrong.md"]:
        assert name in out or (name == "huge-integer.ipynb" and fmt != "json"), (name, out)
    assert "TL201" in out and '"ruleId": "TL900"' not in out
    assert fmt == "sarif" or "TL900" not in out  # SARIF lists every rule, TL900 among them.
    if fmt == "text":
        assert "6 files, " in out


def test_a_notebook_with_non_string_sources_is_read_where_it_can_be() -> None:
    result = check_text("n.ipynb", BROKEN_NOTEBOOKS["non-string-source.ipynb"])
    assert [claim.verdict for claim in result.claims][-1] == "verified"
    codes = [diagnostic.code for diagnostic in result.diagnostics]
    assert "TL900" not in codes and "TL003" in codes
    problem = next(d for d in result.diagnostics if d.code == "TL003")
    assert "cell 1" in problem.message and problem.start > 0  # At the cell, not the top of the file.


def test_a_huge_integer_in_a_notebook_does_not_hide_its_math() -> None:
    result = check_text("n.ipynb", BROKEN_NOTEBOOKS["huge-integer.ipynb"])
    assert [claim.verdict for claim in result.claims] == ["verified"]
    assert not [d for d in result.diagnostics if d.code in ("TL900", "TL003")]


@pytest.mark.parametrize(
    "text",
    [
        f"$W \\in \\mathbb{{R}}^{{{HUGE}\\times 3}}$\n\n$$(AB)^T = B^T A^T$$",
        f"$$y_{{{HUGE}}} = W_{{{HUGE},1}} x_1$$\n\n$$(AB)^T = B^T A^T$$",
        f"$$I_{{{HUGE}}} = I$$\n\n$$(AB)^T = B^T A^T$$",
        f"$$\\delta_{{{HUGE} 1}} = 0$$\n\n$$(AB)^T = B^T A^T$$",
        f"$$\\mathbf{{1}}_{{{HUGE}}}^T x = 1$$\n\n$$(AB)^T = B^T A^T$$",
        f"Let $W$ be a ${HUGE}\\times {HUGE}$ matrix. $$(AB)^T = B^T A^T$$",
        f"<!-- tensorlint: W \\in \\mathbb{{R}}^{{{HUGE}}} -->\n$$(AB)^T = B^T A^T$$",
        "Let $W$ be a $²\\times 3$ matrix. $$(AB)^T = B^T A^T$$",
    ],
)
def test_a_huge_integer_is_a_hint_at_its_place(text: str) -> None:
    result = check_text("n.md", text)
    assert "TL900" not in [diagnostic.code for diagnostic in result.diagnostics], result.diagnostics
    assert result.claims and result.claims[-1].verdict == "verified"
    for diagnostic in result.diagnostics:
        assert diagnostic.start > 0 or diagnostic.end > 0


# --------------------------------------------------------------------------------------------------------
# Small things
# --------------------------------------------------------------------------------------------------------


def test_the_licence_matches_pyproject() -> None:
    root = Path(__file__).parent.parent
    pyproject = (root / "pyproject.toml").read_text()
    assert re.search(r'license = \{ text = "MIT" \}', pyproject)
    licence = (root / "LICENSE").read_text()
    assert licence.startswith("MIT License") and "WITHOUT WARRANTY OF ANY KIND" in licence


class _Stdin:
    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)


def test_check_dash_reads_standard_input(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", _Stdin(WRONG_NOTE.encode()))
    status, out, err = run(capsys, "check", "-")
    assert (status, err) == (1, "")
    assert out.startswith("<stdin>:3:3: error[TL201]")


def test_check_dash_cannot_be_mixed_with_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", _Stdin(b""))
    (tmp_path / "a.md").write_text("x\n")
    status, out, err = run(capsys, "check", "-", str(tmp_path / "a.md"))
    assert (status, out) == (2, "")
    assert "standard input" in err and "Traceback" not in err


def test_notebook_json_latex_is_the_cells_latex_and_the_layout_source_names_the_cell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = notebook(
        "We use denominator layout. Let $X \\in \\mathbb{R}^{n\\times n}$ be invertible.\n",
        'A "quoted" word.\n\n$$\\frac{\\partial \\log\\det X}{\\partial X} = X^{-1}$$\n',
    )
    path = tmp_path / "n.ipynb"
    path.write_text(text)
    _, out, _ = run(capsys, "check", "--format", "json", str(path))
    [file] = json.loads(out)["files"]
    [claim] = file["claims"]
    assert claim["latex"] == "\\frac{\\partial \\log\\det X}{\\partial X} = X^{-1}"
    assert claim["verdict"] == "layout"
    assert "cell 1, line 1" in claim["message"], claim["message"]


SUPPRESSED = (
    "Let $A, B \\in \\mathbb{R}^{n\\times n}$.\n\n"
    "<!-- tensorlint: disable-next-line TL201 -->\n$$(AB)^T = A^T B^T$$\n\n$$(AB)^T = B^T A^T$$\n"
)


def test_the_summary_does_not_count_suppressed_claims(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "n.md"
    path.write_text(SUPPRESSED)
    status, out, _ = run(capsys, "check", str(path))
    assert status == 0
    assert out.strip().endswith(
        "1 file, 1 claim: 1 verified, 0 wrong, 0 layout, 0 shape, 0 uncheckable, 0 definitions (1 suppressed)"
    ), out
    status, out, _ = run(capsys, "check", "--format", "json", str(path))
    summary = json.loads(out)["summary"]
    assert (summary["claims"], summary["wrong"], summary["verified"], summary["suppressed"]) == (1, 0, 1, 1)


def test_show_settings_takes_several_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "tensorlint.toml").write_text('layout = "numerator"\n')
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "tensorlint.toml").write_text('layout = "denominator"\n')
    first, second = str(tmp_path / "a" / "x.md"), str(tmp_path / "b" / "y.md")
    status, out, err = run(capsys, "check", "--show-settings", first, second)
    assert (status, err) == (0, "")
    assert first in out and second in out
    assert out.index("numerator") < out.index(second) < out.index("denominator")


def test_a_numerator_layout_gradient_is_called_a_row_vector() -> None:
    text = (
        "We use numerator layout. Let $a, x \\in \\mathbb{R}^{n}$.\n\n$$\\frac{\\partial a^T x}{\\partial x} = x^T$$\n"
    )
    [finding] = [d for d in check_text("n.md", text).diagnostics if d.code == "TL201"]
    assert "(1×n row vector) in numerator layout" in finding.message, finding.message


# --------------------------------------------------------------------------------------------------------
# Layout precedence: the note's own words beat the project's default
# --------------------------------------------------------------------------------------------------------

GRADIENT = "Let $a, x \\in \\mathbb{R}^n$.\n\n$$\\frac{\\partial a^T x}{\\partial x} = a$$\n"  # denominator
LAYOUT_NOTES = {
    "prose": ("We use denominator layout. " + GRADIENT, "verified"),
    "directive": ("<!-- tensorlint: layout=denominator -->\n" + GRADIENT, "verified"),
    "directive-over-prose": (
        "<!-- tensorlint: layout=denominator -->\nWe use numerator layout. " + GRADIENT,
        "verified",
    ),
    "silent": (GRADIENT, "layout"),  # The project's default applies to a note that says nothing.
}


@pytest.mark.parametrize("name", list(LAYOUT_NOTES))
@pytest.mark.parametrize("setting", ["file", "flag"])
def test_the_notes_own_layout_beats_the_project_setting(
    name: str, setting: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, verdict = LAYOUT_NOTES[name]
    note = tmp_path / "n.md"
    note.write_text(text)
    if setting == "file":
        (tmp_path / "tensorlint.toml").write_text('layout = "numerator"\n')
        options = ["check"]
    else:
        options = ["check", "--isolated", "--layout", "numerator"]
    _, out, _ = run(capsys, *options, "--format", "json", str(note))
    [claim] = json.loads(out)["files"][0]["claims"]
    assert claim["verdict"] == verdict, claim
    run(capsys, *options, "--fix", str(note))
    if verdict == "verified":
        assert note.read_text() == text  # --fix never rewrites a claim that holds in the note's layout.
    else:
        assert "= a^T$$" in note.read_text()


# --------------------------------------------------------------------------------------------------------
# Linear scans (benchmarks/hostile.py measures them; these bounds are loose enough for a loaded machine
# and far below the minutes the quadratic scans took)
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("<!--\n" * 50_000, id="50000-unclosed-comments"),  # Took 55 s.
        pytest.param(
            "| a | b | c |\n|---|---|---|\n" + "| $x_{1}$ | $A^T B$ | words here |\n" * 20_000, id="table-of-formulas"
        ),  # A paragraph of 40,000 formulas: over a minute.
        pytest.param("| a | b | c |\n|---|---|---|\n" + "| alpha | beta | gamma |\n" * 40_000, id="table-of-words"),
    ],
)
def test_hostile_markdown_is_read_in_linear_time(text: str) -> None:
    check_text("warm-up.md", "$a = a$")
    started = time.perf_counter()
    result = check_text("n.md", text)
    assert time.perf_counter() - started < 20
    assert "TL900" not in [diagnostic.code for diagnostic in result.diagnostics]


def test_notebook_claim_latex_keeps_the_authors_macros() -> None:
    text = notebook(
        "$\\newcommand{\\bs}{\\boldsymbol}$ Let $A, B \\in \\mathbb{R}^{n\\times n}$.\n",
        "$$(\\bs{A}\\bs{B})^T = \\bs{B}^T \\bs{A}^T$$\n",
    )
    [claim] = check_text("n.ipynb", text).claims
    assert claim.latex == "(\\bs{A}\\bs{B})^T = \\bs{B}^T \\bs{A}^T"
