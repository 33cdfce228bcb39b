"""`--fix` and the files it writes: notebooks through the JSON string encoding of their cells, validated
before they replace the original; links, modes, owners and read-only files respected; a file that cannot
be written is a warning, never a traceback, and the report is still printed."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tensorlint import cli
from tensorlint.cli import main

DECLARED = "We use denominator layout. Let $A \\in \\mathbb{R}^{n\\times n}$ and $x \\in \\mathbb{R}^n$.\n\n"
WRONG = "$$\\frac{\\partial x^T A x}{\\partial x} = 2 A x$$\n"
FIXED = "$$\\frac{\\partial x^T A x}{\\partial x} = (A + A^T) x$$\n"
NOTE = DECLARED + WRONG


def write_notebook(path: Path, cells: list[str], as_lines: bool = True) -> None:
    sources = [cell.splitlines(keepends=True) if as_lines else cell for cell in cells]
    document = {
        "cells": [{"cell_type": "markdown", "metadata": {}, "source": source} for source in sources],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def cell_texts(path: Path) -> list[str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return ["".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"] for cell in data["cells"]]


# --------------------------------------------------------------------------------------------------------
# Notebooks
# --------------------------------------------------------------------------------------------------------


def test_a_fix_with_backslashes_is_written_into_the_cells_json_string(tmp_path: Path) -> None:
    """`\\frac` written raw into JSON would read back as a form feed and `rac`."""
    cells = [
        "Let $x \\in \\mathbb{R}$ with $x > 0$.\n",
        'A "quoted" remark, $A \\otimes B$ and ünïcode.\n\n$$\\frac{d \\log x}{d x} = x$$\n',
    ]
    path = tmp_path / "n.ipynb"
    write_notebook(path, cells)
    main(["check", "--fix", str(path)])
    assert cell_texts(path) == [cells[0], cells[1].replace("= x$$", "= \\frac{1}{x}$$")]


def test_a_notebook_whose_fix_cannot_be_validated_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "n.ipynb"
    real = cli.apply_edits

    def unescaped(text: str, edits: list) -> str:
        # What the writer did before: the replacement spliced into the JSON as it is.
        return real(text, [replace(edit, new_text=edit.new_text.replace("\\\\", "\\")) for edit in edits])

    monkeypatch.setattr(cli, "apply_edits", unescaped)
    write_notebook(path, ["Let $x \\in \\mathbb{R}$ with $x > 0$.\n\n$$\\frac{d \\log x}{d x} = x$$\n"])
    original = path.read_bytes()
    status = main(["check", "--fix", str(path)])
    captured = capsys.readouterr()
    assert path.read_bytes() == original
    assert "not fixed" in captured.err and "Traceback" not in captured.err
    assert "TL201" in captured.out and status == 1


CELL_PIECES = [
    'Prose with a \\f, a \\n and a \\\\ written out, a "quote", a tab\there and ünïcödé ∂x/∂y.\n',
    "Kronecker $A \\otimes B$ and $\\mathbf{1}_n$, a $ \\frac12 $ and `code $x$`.\n",
    "$$\\frac{d \\log x}{d x} = x$$\n",
    "$$\\frac{\\partial x^T A x}{\\partial x} = 2 A x$$\n",
    "$$\\frac{d}{dx} \\sin x = \\sin x$$\n",
    "$$(AB)^T = B^T A^T$$\n",
    "<!-- tensorlint: disable-next-line TL203 -->\n$$x^T x = x^T x$$\n",
]
HEADER = "We use denominator layout. Let $A, B \\in \\mathbb{R}^{n\\times n}$, $x \\in \\mathbb{R}$ with $x > 0$.\n"


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.lists(st.sampled_from(CELL_PIECES), min_size=1, max_size=3), min_size=1, max_size=3),
    st.booleans(),
)
@example([[CELL_PIECES[0], CELL_PIECES[2]], [CELL_PIECES[3], CELL_PIECES[4]]], True)
def test_notebook_round_trip_matches_the_markdown_fix(tmp_path_factory, cells: list[list[str]], as_lines) -> None:
    """Fix a notebook and the same cells as one Markdown note: re-opened with json.load, every cell reads
    exactly as the fixed Markdown does (backslashes, quotes and Unicode included)."""
    folder = tmp_path_factory.mktemp("round")
    texts = [f"## Cell {number}\n\n{HEADER}\n" + "\n".join(pieces) for number, pieces in enumerate(cells)]
    notebook = folder / "n.ipynb"
    write_notebook(notebook, texts, as_lines)
    markdown = folder / "n.md"
    markdown.write_text("\n".join(texts), encoding="utf-8")
    main(["check", "--fix", "--isolated", str(notebook), str(markdown)])
    fixed_markdown = markdown.read_text(encoding="utf-8")
    expected = ["## Cell" + part for part in fixed_markdown.split("## Cell")[1:]]
    expected = [part[:-1] if number < len(expected) - 1 else part for number, part in enumerate(expected)]
    assert cell_texts(notebook) == expected


# --------------------------------------------------------------------------------------------------------
# Files: links, modes, owners, read-only, unwritable
# --------------------------------------------------------------------------------------------------------


def test_a_symlink_is_fixed_through_and_stays_a_link(tmp_path: Path) -> None:
    target = tmp_path / "real.md"
    target.write_text(NOTE)
    link = tmp_path / "link.md"
    link.symlink_to(target)
    main(["check", "--fix", str(link)])
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == DECLARED + FIXED


def test_a_hard_link_keeps_sharing_the_fixed_file(tmp_path: Path) -> None:
    first = tmp_path / "a.md"
    first.write_text(NOTE)
    second = tmp_path / "b.md"
    os.link(first, second)
    main(["check", "--fix", str(first)])
    assert first.read_text() == DECLARED + FIXED
    assert second.read_text() == DECLARED + FIXED
    assert os.stat(first).st_ino == os.stat(second).st_ino


def test_mode_is_kept(tmp_path: Path) -> None:
    note = tmp_path / "n.md"
    note.write_text(NOTE)
    note.chmod(0o640)
    main(["check", "--fix", str(note)])
    assert note.read_text() == DECLARED + FIXED
    assert stat.S_IMODE(note.stat().st_mode) == 0o640


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="changing a file's owner needs root")
def test_owner_is_kept(tmp_path: Path) -> None:
    note = tmp_path / "n.md"
    note.write_text(NOTE)
    os.chown(note, 4242, 4343)
    main(["check", "--fix", str(note)])
    assert note.read_text() == DECLARED + FIXED
    assert (note.stat().st_uid, note.stat().st_gid) == (4242, 4343)


def test_a_read_only_file_is_skipped_with_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Decided from the file's mode, so it holds for root too (who could write it anyway)."""
    note = tmp_path / "n.md"
    note.write_text(NOTE)
    note.chmod(0o444)
    status = main(["check", "--fix", str(note)])
    captured = capsys.readouterr()
    assert note.read_text() == NOTE and stat.S_IMODE(note.stat().st_mode) == 0o444
    assert "read-only" in captured.err and "not fixed" in captured.err
    assert "error[TL201]" in captured.out and status == 1


@pytest.mark.parametrize("failing", ["mkstemp", "replace", "open"])
def test_a_file_that_cannot_be_written_is_a_warning_and_the_report_is_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], failing: str
) -> None:
    """A read-only folder or an immutable file: the write fails with EACCES/EPERM. Root ignores folder
    modes, so the failure is injected where the operating system would raise it."""
    note = tmp_path / "n.md"
    note.write_text(NOTE)
    other = tmp_path / "other.md"
    other.write_text(NOTE)
    other_link = tmp_path / "other-link.md"
    os.link(other, other_link)  # Written in place, through open().

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    if failing == "mkstemp":
        monkeypatch.setattr(cli.tempfile, "mkstemp", refuse)
    elif failing == "replace":
        monkeypatch.setattr(cli.os, "replace", refuse)
    else:
        monkeypatch.setattr(cli, "_open_in_place", refuse)
    status = main(["check", "--fix", str(tmp_path)])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "internal error" not in captured.err
    assert "cannot write" in captured.err and "permission denied" in captured.err.lower()
    assert "error[TL201]" in captured.out and status == 1
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith(".")] == []
