"""`tensorlint check --fix`: verified corrections written in place, atomically, keeping the file's bytes."""

from __future__ import annotations

from pathlib import Path

from tensorlint.cli import main

NOTE = (
    "We use denominator layout. Let $A \\in \\mathbb{R}^{n\\times n}$ and $x \\in \\mathbb{R}^{n}$.\n"
    "\n"
    "$$\\frac{\\partial x^T A x}{\\partial x} = 2 A x$$\n"
    "\n"
    "$$\\operatorname{tr}(AB) = \\operatorname{tr}(BA)$$\n"
)


def test_fix_replaces_the_false_result_and_a_second_run_changes_nothing(tmp_path: Path, capsys) -> None:
    note = tmp_path / "note.md"
    note.write_bytes(NOTE.encode())
    assert main(["check", "--fix", str(note)]) == 0
    fixed = note.read_bytes().decode()
    assert "= (A + A^T) x$$" in fixed
    assert fixed.replace("(A + A^T) x", "2 A x") == NOTE
    assert "fixed 1 finding in 1 file" in capsys.readouterr().err
    assert main(["check", "--fix", str(note)]) == 0
    assert note.read_bytes().decode() == fixed
    assert [path.name for path in tmp_path.iterdir()] == ["note.md"]


def test_fix_keeps_line_endings_and_the_byte_order_mark(tmp_path: Path) -> None:
    note = tmp_path / "note.md"
    original = b"\xef\xbb\xbf" + NOTE.replace("\n", "\r\n").encode()
    note.write_bytes(original)
    main(["check", "--fix", str(note)])
    data = note.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.count(b"\r\n") == original.count(b"\r\n")
    assert b"(A + A^T) x" in data


def test_a_file_that_is_not_clean_utf8_is_not_rewritten(tmp_path: Path) -> None:
    note = tmp_path / "note.md"
    original = NOTE.encode() + b"\nbroken \xff byte\n"
    note.write_bytes(original)
    main(["check", "--fix", str(note)])
    assert note.read_bytes() == original
