"""Math that Markdown notes write in ways the Markdown plugins miss, and macros defined outside the math.

Cases are marked text (``⟦ ⟧`` around the source range each math span must cover, as in test_extract) or
small notes checked through ``core.check_text`` and the command line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tensorlint.cli import main
from tensorlint.core import check_text
from tensorlint.extract import extract
from tensorlint.model import Config
from test_extract import unmark

# Each note, with its math marked: every marked range is a span, and nothing else is.
FOUND = [
    # mdit-py-plugins 0.7.0 dropped `$…$` at the start of a paragraph, list item or heading that ends in a digit.
    "$⟦(AB)^T = B^T A^T⟧$ for n = 3\n",
    "1. $⟦(AB)^T = A^T B^T⟧$ for n = 3\n",
    "- $⟦x⟧$ and $⟦y⟧$ cost 2\n",
    "# $⟦(AB)^T⟧$ in section 2\n",
    "> $⟦a = b⟧$ on page 12\n",
    "Prices: costs 5 and 10\n",
    "$⟦x⟧$ is 5\n\n$⟦y⟧$ is 6\n",
    # Bookish displays: the backslash escaped for Markdown, `\\[ … \\]` (an inline `\\(` stays prose).
    "\\\\[⟦ (AB)^T = B^T A^T ⟧\\\\]\n",
    "Text \\\\[⟦\nx^T y\n⟧\\\\] more.\n",
    "\\\\[ never closed\n",
    # A front matter is neither math nor prose.
    "---\ntitle: The $x$ note\n---\n\nSee $⟦y⟧$.\n",
]


@pytest.mark.parametrize("marked", FOUND)
def test_math_is_found(marked: str) -> None:
    text, ranges = unmark(marked)
    document = extract("note.md", text)
    assert [(span.start, span.end) for span in document.spans] == ranges


# Each note and the verdicts of its claims, in order: the claims exist only if the macros were applied.
MACROS = [
    (
        "---\nheader-includes:\n  - \\newcommand{\\Rb}{\\mathbb{R}}\n---\n\n"
        "Let $A, B \\in \\Rb^{n\\times n}$. $(AB)^T = B^T A^T$ and $(AB)^T = A^T B^T$.\n",
        ["verified", "wrong"],
    ),
    (
        '---\nheader-includes: "\\\\newcommand{\\\\tp}{^\\\\top}"\n---\n\n'
        "Let $A, B \\in \\mathbb{R}^{n\\times n}$. $(AB)\\tp = B\\tp A\\tp$.\n",
        ["verified"],
    ),
    (
        '---\nmathjax:\n  tex:\n    macros:\n      vv: "\\\\mathbf{v}"\n      matr: ["\\\\mathbf{#1}", 1]\n'
        "title: x\n---\n\nLet $v \\in \\mathbb{R}^n$ and $M \\in \\mathbb{R}^{n\\times n}$. "
        "$\\vv^T \\vv = v^T v$ and $\\matr{M}^T \\vv = M^T v$.\n",
        ["verified", "verified"],
    ),
    (
        "\\( \\def\\matr#1{\\mathbf{#1}} \\)\n\nLet $A \\in \\mathbb{R}^{n\\times n}$. $\\matr{A}^T = A^T$.\n",
        ["verified"],
    ),
    (
        "$$\\newcommand{\\tr}{\\operatorname{tr}}$$\n\n"
        "Let $A, B \\in \\mathbb{R}^{n\\times n}$. $\\tr(AB) = \\tr(BA)$ and $\\tr(AB) = \\tr(A)\\tr(B)$.\n",
        ["verified", "wrong"],
    ),
    # `&=&` rows (eqnarray style) in a Markdown display.
    (
        "Let $A, B \\in \\mathbb{R}^{n\\times n}$.\n\n$$\\begin{aligned} (AB)^T &=& B^T A^T \\\\ &=& (A B)^T"
        " \\end{aligned}$$\n",
        ["verified", "verified"],
    ),
]


@pytest.mark.parametrize(("text", "verdicts"), MACROS)
def test_macros_and_rows_in_markdown(text: str, verdicts: list[str]) -> None:
    claims = [claim for claim in check_text("note.md", text).claims if claim.verdict != "definition"]
    assert [claim.verdict for claim in claims] == verdicts, [claim.latex for claim in claims]


def test_macros_from_the_configuration_text_apply_before_the_notes_own() -> None:
    text = "Let $A \\in \\mathbb{R}^{n\\times n}$. $\\Av^T = A^T$.\n"
    macros = "% shared symbols\n\\usepackage{amsmath}\n\\newcommand{\\Av}{\\mathbf{A}}\n"
    assert [claim.verdict for claim in check_text("n.md", text).claims] == []
    claims = check_text("n.md", text, Config(macros=macros)).claims
    assert [claim.verdict for claim in claims] == ["verified"]
    # The core reads no file: a note naming a file it \\input{}s gets nothing from it by itself.
    assert [claim.verdict for claim in check_text("n.tex", "\\input{m}\n$\\Av^T = A^T$\n").claims] == []


def _verdicts(capsys: pytest.CaptureFixture[str], path: Path) -> str:
    main(["check", "--format", "text", str(path)])
    return capsys.readouterr().out


@pytest.mark.parametrize(
    ("files", "note"),
    [
        # A file the note \input{}s, found next to it (with .tex added).
        ({"math_symbol.tex": "\\newcommand{\\Xv}{\\mathbf{X}}\n"}, "note.tex"),
        # A macros.tex next to the note.
        ({"macros.tex": "\\def\\Xv{\\mathbf{X}}\n"}, "note.md"),
        # The files of the `macros` setting, relative to the configuration file.
        (
            {"tex/defs.tex": "\\newcommand{\\Xv}{\\mathbf{X}}\n", "tensorlint.toml": 'macros = ["tex/defs.tex"]\n'},
            "note.md",
        ),
    ],
)
def test_macro_files_are_read_by_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], files: dict[str, str], note: str
) -> None:
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content)
    body = "Let $X, A \\in \\mathbb{R}^{n\\times n}$. $(\\Xv A)^T = A^T \\Xv^T$ and $(\\Xv A)^T = \\Xv^T A^T$.\n"
    if note.endswith(".tex"):
        body = "\\input{math_symbol}\n" + body
    (tmp_path / note).write_text(body)
    out = _verdicts(capsys, tmp_path / note)
    assert "2 claims: 1 verified, 1 wrong" in out, out
