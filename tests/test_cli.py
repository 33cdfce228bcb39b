"""The command line and the report formats, through ``main([...])`` and the public report functions.

The checker is developed alongside, so these tests do not depend on its verdicts: they build results by
hand, or replace ``tensorlint.core.check_text`` with ``marker_checker``, which reports a diagnostic for
every ERROR, WARN and HINT written in a note and a verified claim for every ``$...$``.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

import tensorlint
from tensorlint import cli, core, report, rules
from tensorlint.model import Claim, Config, Diagnostic, Edit, FileResult, Fix

MARKERS = {"ERROR": ("TL201", "error"), "WARN": ("TL203", "warning"), "HINT": ("TL205", "hint")}


class MarkerChecker:
    """A stand-in for the core that records which files it was given."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __call__(self, path: str, text: str, config: Config | None = None) -> FileResult:
        self.calls.append((path, text))
        diagnostics = [
            Diagnostic(MARKERS[m.group()][0], f"marker {m.group()}", m.start(), m.end(), MARKERS[m.group()][1])
            for m in re.finditer(r"\b(ERROR|WARN|HINT)\b", text)
        ]
        claims = [Claim(m.start(1), m.end(1), m.group(1), "verified") for m in re.finditer(r"\$([^$]+)\$", text)]
        return FileResult(path, text, claims=claims, diagnostics=diagnostics)

    @property
    def paths(self) -> list[str]:
        return [path for path, _ in self.calls]


@pytest.fixture
def checker(monkeypatch: pytest.MonkeyPatch) -> MarkerChecker:
    fake = MarkerChecker()
    monkeypatch.setattr(core, "check_text", fake)
    return fake


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    status, out, _ = run(capsys, "check", "--format", "json", *argv)
    return status, json.loads(out)


# --------------------------------------------------------------------------------------------------------
# LineIndex
# --------------------------------------------------------------------------------------------------------


def test_line_index_counts_code_points_and_all_line_breaks() -> None:
    text = "ab\r\n𝐱∂y\rz\n\nlast"
    index = report.LineIndex(text)
    assert index.position(0) == (1, 1)
    assert index.position(text.index("𝐱")) == (2, 1)
    assert index.position(text.index("y")) == (2, 3)  # 𝐱 is one code point (two UTF-16 units)
    assert index.position(text.index("z")) == (3, 1)
    assert index.position(text.index("last") + 4) == (5, 5)
    assert index.line_count == 5
    assert [index.line_text(line) for line in range(1, 6)] == ["ab", "𝐱∂y", "z", "", "last"]
    for offset in range(len(text) + 1):
        assert index.offset(*index.position(offset)) == offset


def test_line_index_clamps_out_of_range_offsets() -> None:
    index = report.LineIndex("one\ntwo")
    assert index.position(-5) == (1, 1)
    assert index.position(1000) == (2, 4)
    assert report.LineIndex("").position(0) == (1, 1)


# --------------------------------------------------------------------------------------------------------
# JSON contract
# --------------------------------------------------------------------------------------------------------

NOTE = "Let $W$ be given.\n\n$$\\frac{\\partial W x}{\\partial W} = x$$\n"
CLAIM_START = NOTE.index("\\frac")
CLAIM_END = NOTE.index("= x") + 3
RIGHT_SIDE = NOTE.index("= x") + 2


def sample_result() -> FileResult:
    fix = Fix("write the index form", (Edit(RIGHT_SIDE, CLAIM_END, "\\delta_{ik} x_l"),))
    return FileResult(
        "notes/a.md",
        NOTE,
        claims=[
            Claim(CLAIM_START, CLAIM_END, NOTE[CLAIM_START:CLAIM_END], "wrong", "d(Wx)/dW is a tensor"),
            Claim(4, 7, "$W$", "definition", layout="numerator"),
        ],
        diagnostics=[
            Diagnostic("TL205", "cannot check", CLAIM_START, CLAIM_END, "hint"),
            Diagnostic("TL202", "d(Wx)/dW is a third-order tensor", CLAIM_START, CLAIM_END, "error", fix),
        ],
    )


def test_json_follows_the_contract() -> None:
    document = report.to_json([sample_result()])
    json.dumps(document)  # Serializable as it is.
    assert set(document) == {"version", "files", "summary"}
    assert document["version"] == 1
    [file] = document["files"]
    assert set(file) == {"path", "claims", "diagnostics"}
    assert file["path"] == "notes/a.md"

    range_keys = {"line", "column", "end_line", "end_column"}
    for claim in file["claims"]:
        assert set(claim) == range_keys | {"latex", "verdict", "layout", "message", "suppressed"}
        assert all(type(claim[key]) is int for key in range_keys)
    assert [claim["verdict"] for claim in file["claims"]] == ["definition", "wrong"]  # Document order.
    wrong = file["claims"][1]
    assert (wrong["line"], wrong["column"], wrong["end_line"]) == (3, 3, 3)
    assert wrong["end_column"] - wrong["column"] == len(wrong["latex"])
    assert file["claims"][0]["layout"] == "numerator" and wrong["layout"] is None

    for diagnostic in file["diagnostics"]:
        assert set(diagnostic) == range_keys | {"code", "name", "severity", "message", "fix"}
    # Same range: ordered by code.
    assert [d["code"] for d in file["diagnostics"]] == ["TL202", "TL205"]
    first, second = file["diagnostics"]
    assert (first["name"], first["severity"]) == ("impossible-derivative-shape", "error")
    assert second["fix"] is None
    assert first["fix"]["title"] == "write the index form"
    [edit] = first["fix"]["edits"]
    assert set(edit) == range_keys | {"new_text"}
    assert (edit["line"], edit["end_column"], edit["new_text"]) == (
        3,
        wrong["end_column"],
        "\\delta_{ik} x_l",
    )

    assert document["summary"] == {
        "files": 1,
        "claims": 2,
        "verified": 0,
        "wrong": 1,
        "layout": 0,
        "shape": 0,
        "uncheckable": 0,
        "definition": 1,
        "suppressed": 0,
    }


# --------------------------------------------------------------------------------------------------------
# Text format
# --------------------------------------------------------------------------------------------------------


def test_text_format_snapshot() -> None:
    assert report.format_text([sample_result()]) == (
        "notes/a.md:3:3: error[TL202] d(Wx)/dW is a third-order tensor\n"
        " 3 | $$\\frac{\\partial W x}{\\partial W} = x$$\n"
        "   |   ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
        "   = fix: write the index form\n"
        "\n"
        "notes/a.md:3:3: hint[TL205] cannot check\n"
        " 3 | $$\\frac{\\partial W x}{\\partial W} = x$$\n"
        "   |   ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
        "\n"
        "1 file, 2 claims: 0 verified, 1 wrong, 0 layout, 0 shape, 0 uncheckable, 1 definition\n"
    )


def test_text_format_is_deterministic_and_sorted() -> None:
    result = sample_result()
    shuffled = FileResult(result.path, result.text, result.claims[::-1], result.diagnostics[::-1])
    assert report.format_text([shuffled]) == report.format_text([result])
    assert report.to_json([shuffled]) == report.to_json([result])


def test_multi_line_range_is_underlined_to_the_end_of_its_first_line() -> None:
    text = "x = $$a +\nb$$\n"
    result = FileResult("m.md", text, diagnostics=[Diagnostic("TL001", "broken", 4, 12, "hint")])
    lines = report.format_text([result]).splitlines()
    assert lines[:3] == ["m.md:1:5: hint[TL001] broken", " 1 | x = $$a +", "   |     ^^^^^"]


def test_text_format_colour_only_when_asked() -> None:
    assert "\x1b[" not in report.format_text([sample_result()], color=False)
    assert "\x1b[" in report.format_text([sample_result()], color=True)


def test_text_format_keeps_terminal_safe_and_short() -> None:
    text = "\x1b[31m" + "a" * 5000 + "ERROR" + "b" * 5000
    start = text.index("ERROR")
    result = FileResult("long.md", text, diagnostics=[Diagnostic("TL201", "x", start, start + 5, "error")])
    header, source, underline, *_ = report.format_text([result]).splitlines()
    assert header.startswith("long.md:1:5006: error[TL201]")
    assert "\x1b" not in source and len(source) < 200
    assert source.index("ERROR") == underline.index("^^^^^")


def test_summary_line() -> None:
    results = [
        FileResult("a.md", "", claims=[Claim(0, 0, "", verdict) for verdict in ("verified", "layout")]),
        FileResult("b.md", ""),
    ]
    assert report.summary_line(results) == (
        "2 files, 2 claims: 1 verified, 0 wrong, 1 layout, 0 shape, 0 uncheckable, 0 definitions"
    )


def test_verified_claims_become_tl000_only_when_selected() -> None:
    result = FileResult("a.md", "$x = x$", claims=[Claim(1, 6, "x = x", "verified", "holds")])
    assert report.apply_selection(result, rules.Selection()).diagnostics == []
    [tl000] = report.apply_selection(result, rules.Selection(extend_select=("TL000",))).diagnostics
    assert (tl000.code, tl000.start, tl000.end, tl000.severity) == ("TL000", 1, 6, "hint")


# --------------------------------------------------------------------------------------------------------
# check: exit codes and selection
# --------------------------------------------------------------------------------------------------------


def test_clean_note_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str], checker: MarkerChecker) -> None:
    (tmp_path / "a.md").write_text("all good $x$\n")
    status, out, err = run(capsys, "check", str(tmp_path))
    assert status == 0
    assert out == "1 file, 1 claim: 1 verified, 0 wrong, 0 layout, 0 shape, 0 uncheckable, 0 definitions\n"
    assert err == ""


def test_error_exits_1_and_is_printed_compiler_style(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], checker: MarkerChecker
) -> None:
    note = tmp_path / "a.md"
    note.write_text("fine\n  so ERROR here\n")
    status, out, _ = run(capsys, "check", str(note))
    assert status == 1
    assert out.startswith(f"{note}:2:6: error[TL201] marker ERROR\n 2 |   so ERROR here\n   |      ^^^^^\n")


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ([], 0),
        (["--fail-level", "warning"], 1),
        (["--fail-level", "hint"], 1),
        (["--fail-level", "info"], 1),
        (["--ignore", "TL203", "--fail-level", "warning"], 0),
        (["--select", "TL2", "--fail-level", "hint"], 1),
        (["--select", "TL201,TL205", "--fail-level", "warning"], 0),
    ],
)
def test_fail_level_and_selection_decide_the_exit_code(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    checker: MarkerChecker,
    arguments: list[str],
    expected: int,
) -> None:
    (tmp_path / "a.md").write_text("WARN and HINT\n")
    assert run(capsys, "check", str(tmp_path), *arguments)[0] == expected


def test_select_filters_the_output(tmp_path: Path, capsys: pytest.CaptureFixture[str], checker: MarkerChecker) -> None:
    (tmp_path / "a.md").write_text("ERROR WARN HINT $x$\n")
    _, document = run_json(capsys, str(tmp_path), "--select", "TL203", "--extend-select", "tl000")
    assert [d["code"] for d in document["files"][0]["diagnostics"]] == ["TL203", "TL000"]
    _, document = run_json(capsys, str(tmp_path), "--ignore", "TL2")
    assert document["files"][0]["diagnostics"] == []


def test_unknown_code_in_select_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], checker: MarkerChecker
) -> None:
    status, out, err = run(capsys, "check", str(tmp_path), "--select", "TL201,TL999")
    assert (status, out) == (2, "")
    assert "TL999" in err and len(err.splitlines()) == 1
    assert checker.calls == []


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "check", "--format", "yaml")[0] == 2
    assert run(capsys, "check", "--fail-level", "fatal")[0] == 2
    assert run(capsys, "frobnicate")[0] == 2
    status, _, err = run(capsys)
    assert status == 2 and "usage" in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--version") == (0, f"tensorlint {tensorlint.__version__}\n", "")


def test_missing_path_is_reported_and_the_rest_still_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], checker: MarkerChecker
) -> None:
    (tmp_path / "a.md").write_text("fine\n")
    missing = tmp_path / "nope.md"
    status, out, err = run(capsys, "check", str(missing), str(tmp_path / "a.md"))
    assert status == 2
    assert err == f"tensorlint: error: no such file or directory: {missing}\n"
    assert checker.paths == [str(tmp_path / "a.md")]
    assert out.startswith("1 file,")


def test_internal_error_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(path: str, text: str, config: Config | None = None) -> FileResult:
        raise RuntimeError("boom")

    monkeypatch.setattr(core, "check_text", broken)
    (tmp_path / "a.md").write_text("x\n")
    status, _, err = run(capsys, "check", str(tmp_path))
    assert status == 2
    assert err.startswith("tensorlint: error: internal error: RuntimeError('boom')")


# --------------------------------------------------------------------------------------------------------
# check: reading files
# --------------------------------------------------------------------------------------------------------


def test_invalid_utf8_is_reported_at_the_first_bad_byte_and_the_rest_is_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], checker: MarkerChecker
) -> None:
    note = tmp_path / "latin1.md"
    before = "line one ∂\nSch".encode()
    note.write_bytes(before + b"\xe4tzer \xff ERROR\n")
    status, document = run_json(capsys, str(note))
    assert status == 1  # The ERROR after the bad bytes was still checked.
    [tl003] = [d for d in document["files"][0]["diagnostics"] if d["code"] == "TL003"]
    assert (tl003["line"], tl003["column"], tl003["end_line"], tl003["end_column"]) == (2, 4, 2, 5)
    assert (tl003["name"], tl003["severity"]) == ("unreadable-file", "warning")
    assert "0xe4" in tl003["message"] and f"byte offset {len(before)}" in tl003["message"]
    [(_, text)] = checker.calls
    assert text == "line one ∂\nSch\ufffdtzer \ufffd ERROR\n"


def test_byte_order_mark_is_dropped(tmp_path: Path, capsys: pytest.CaptureFixture[str], checker: MarkerChecker) -> None:
    (tmp_path / "bom.md").write_bytes(b"\xef\xbb\xbfERROR\n")
    _, document = run_json(capsys, str(tmp_path))
    [diagnostic] = document["files"][0]["diagnostics"]
    assert (diagnostic["code"], diagnostic["column"]) == ("TL201", 1)


@pytest.mark.parametrize("data", [b"PNG\x00\x01\x02", "$x$".encode("utf-16")])
def test_binary_files_are_reported_not_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], checker: MarkerChecker, data: bytes
) -> None:
    (tmp_path / "weird.md").write_bytes(data)
    status, document = run_json(capsys, str(tmp_path))
    assert status == 0  # TL003 is a warning.
    assert [d["code"] for d in document["files"][0]["diagnostics"]] == ["TL003"]
    assert checker.calls == []


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads everything")
def test_unreadable_file_is_a_tl003(tmp_path: Path, capsys: pytest.CaptureFixture[str], checker: MarkerChecker) -> None:
    note = tmp_path / "secret.md"
    note.write_text("x")
    note.chmod(0)
    try:
        _, document = run_json(capsys, str(tmp_path))
    finally:
        note.chmod(0o644)
    [diagnostic] = document["files"][0]["diagnostics"]
    assert diagnostic["code"] == "TL003" and "permission denied" in diagnostic["message"]


def test_file_that_cannot_be_opened_is_a_tl003(tmp_path: Path, checker: MarkerChecker) -> None:
    result = cli.check_file(str(tmp_path), Config())  # A folder cannot be read as a file.
    [diagnostic] = result.diagnostics
    assert (diagnostic.code, diagnostic.start, diagnostic.severity) == ("TL003", 0, "warning")
    assert diagnostic.message.startswith("cannot read file: ")
    assert checker.calls == []


# --------------------------------------------------------------------------------------------------------
# check: finding files
# --------------------------------------------------------------------------------------------------------


def make_tree(root: Path, files: list[str]) -> None:
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x\n")


def test_folder_walk_finds_notes_in_sorted_order(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    checker: MarkerChecker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_tree(
        tmp_path,
        [
            "b.md",
            "a.tex",
            "sub/c.ipynb",
            "sub/d.Rmd",
            "sub/e.qmd",
            "sub/f.markdown",
            "sub/UPPER.MD",
            "sub/skip.txt",
            "sub/skip.py",
            ".hidden/g.md",
            ".hidden.md",
            "node_modules/pkg/readme.md",
            ".venv/lib/readme.md",
        ],
    )
    monkeypatch.chdir(tmp_path)
    status, out, _ = run(capsys, "check")  # Default: the current folder.
    assert status == 0
    expected = ["a.tex", "b.md", "sub/UPPER.MD", "sub/c.ipynb", "sub/d.Rmd", "sub/e.qmd", "sub/f.markdown"]
    assert checker.paths == [os.path.normpath(path) for path in expected]
    assert out.startswith("7 files,")


def test_gitignore_patterns_are_respected(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    checker: MarkerChecker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_tree(
        tmp_path,
        [
            "keep.md",
            "draft-1.md",
            "build/out.md",
            "docs/build/also-kept.md",
            "docs/_site/x.md",
            "docs/notes/keep.md",
            "docs/notes/tmp.md",
            "docs/notes/draft-keep.md",
            "deep/a/b/generated.tex",
        ],
    )
    (tmp_path / ".gitignore").write_text(
        "# comments and blank lines are skipped\n\ndraft-*.md\n/build/\n_site/\n**/b/generated.tex\n!draft-keep.md\n"
    )
    (tmp_path / "docs" / "notes" / ".gitignore").write_text("tmp.md\n")
    monkeypatch.chdir(tmp_path)
    run(capsys, "check", ".")
    assert checker.paths == [
        os.path.normpath(path)
        for path in ["docs/build/also-kept.md", "docs/notes/draft-keep.md", "docs/notes/keep.md", "keep.md"]
    ]


def test_gitignore_above_the_walked_folder_applies_inside_a_repository(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], checker: MarkerChecker
) -> None:
    make_tree(tmp_path, ["docs/a.md", "docs/generated/b.md"])
    (tmp_path / ".git").mkdir()
    (tmp_path / ".gitignore").write_text("generated/\n")
    run(capsys, "check", str(tmp_path / "docs"))
    assert checker.paths == [str(tmp_path / "docs" / "a.md")]


def test_files_named_explicitly_are_checked_even_if_ignored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], checker: MarkerChecker
) -> None:
    make_tree(tmp_path, ["draft.md", "notes.txt"])
    (tmp_path / ".gitignore").write_text("draft.md\n")
    draft, notes = str(tmp_path / "draft.md"), str(tmp_path / "notes.txt")
    run(capsys, "check", notes, draft, str(tmp_path), draft)
    assert checker.paths == sorted([draft, notes])  # Sorted, each file once.


def test_empty_folder_warns_and_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "check", str(tmp_path))
    assert status == 0
    assert out.startswith("0 files, 0 claims")
    assert err.startswith("tensorlint: warning: no notes found")


def test_output_is_deterministic(tmp_path: Path, capsys: pytest.CaptureFixture[str], checker: MarkerChecker) -> None:
    make_tree(tmp_path, ["z.md", "a/b.md", "m.tex"])
    for path in tmp_path.rglob("*.*"):
        path.write_text("HINT ERROR\nWARN $x$ $y$\n")
    for arguments in (["--format", "json"], ["--format", "text"]):
        first, second = (run(capsys, "check", str(tmp_path), *arguments)[1] for _ in range(2))
        assert first == second


def test_real_checker_runs_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Whatever the checker's verdicts, the command finishes with a summary and a meaningful exit code."""
    note = tmp_path / "a.md"
    note.write_text("Let $W \\in \\mathbb{R}^{n\\times m}$.\n\n$$\\frac{\\partial W x}{\\partial W} = x$$\n")
    status, out, _ = run(capsys, "check", str(note))
    assert status in (0, 1)
    assert re.search(r"^1 file, \d+ claims?: ", out, flags=re.MULTILINE)
    status, document = run_json(capsys, str(note))
    assert status in (0, 1) and document["version"] == 1


# --------------------------------------------------------------------------------------------------------
# explain, serve
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", rules.codes())
def test_explain_every_code(capsys: pytest.CaptureFixture[str], code: str) -> None:
    status, out, _ = run(capsys, "explain", code.lower())
    rule = rules.get(code)
    assert status == 0 and rule is not None
    assert out.startswith(f"# {code} {rule.name} ({rule.severity}")
    assert rule.doc.strip() in out


def test_explain_by_name_and_listing(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "explain", "false-claim")[1].startswith("# TL201 false-claim (error)")
    status, out, _ = run(capsys, "explain")
    assert status == 0
    assert [line.split()[0] for line in out.splitlines()] == rules.codes()


def test_explain_unknown_code(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "explain", "TL999")
    assert (status, out) == (2, "")
    assert err.startswith("tensorlint: error: unknown diagnostic code 'TL999'") and len(err.splitlines()) == 1


def test_serve_without_a_language_server(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorlint.lsp", None)  # Importing it now fails.
    status, out, err = run(capsys, "serve", "--stdio")
    assert (status, out) == (2, "")
    assert err.startswith("tensorlint: error:") and "language server" in err


def test_serve_starts_the_language_server(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[list[str]] = []
    fake = types.ModuleType("tensorlint.lsp")
    fake.main = lambda argv: started.append(argv)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tensorlint.lsp", fake)
    monkeypatch.setattr(tensorlint, "lsp", fake, raising=False)
    assert run(capsys, "serve")[0] == 0
    assert run(capsys, "serve", "--stdio")[0] == 0
    assert run(capsys, "serve", "--tcp", "--port", "2099")[0] == 0
    assert started == [[], [], ["--tcp", "--host", "127.0.0.1", "--port", "2099"]]


# --------------------------------------------------------------------------------------------------------
# As a program
# --------------------------------------------------------------------------------------------------------


def modules_imported_by_check(tmp_path: Path, text: str) -> set[str]:
    """The modules `python -m tensorlint check` imports on a note with ``text`` (from ``-X importtime``)."""
    note = tmp_path / "a.md"
    note.write_text(text, encoding="utf-8")
    package_root = str(Path(tensorlint.__file__).resolve().parent.parent)
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([package_root, os.environ.get("PYTHONPATH", "")]),
    }
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "tensorlint", "check", str(note)],
        capture_output=True,
        text=True,
        env=environment,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    assert completed.returncode in (0, 1), completed.stderr
    assert "1 file, " in completed.stdout
    return {line.rsplit("|", 1)[-1].strip() for line in completed.stderr.splitlines() if "|" in line}


def test_python_m_tensorlint_runs_without_importing_the_lsp_stack(tmp_path: Path) -> None:
    imported = modules_imported_by_check(tmp_path, "$$\\frac{\\partial a^T x}{\\partial x} = a$$\n")
    assert "tensorlint.cli" in imported
    assert not {name for name in imported if name.split(".")[0] in ("pygls", "lsprotocol", "sympy")}


def test_sympy_is_loaded_only_for_a_note_with_scalar_calculus(tmp_path: Path) -> None:
    matrices = "Let $W \\in \\mathbb{R}^{n\\times m}$, $x \\in \\mathbb{R}^m$.\n\n"
    matrices += "$$\\frac{\\partial x^T W^T W x}{\\partial x} = 2W^T W x$$\n"
    assert "sympy" not in modules_imported_by_check(tmp_path, matrices)
    scalars = "Let $x \\in \\mathbb{R}$.\n\n$$\\frac{d}{dx} \\tanh(x) = 1 - \\tanh(x)^2$$\n"
    assert "sympy" in modules_imported_by_check(tmp_path, scalars)


# --------------------------------------------------------------------------------------------------------
# Bad input: one clear line each, the run goes on, the exit code says what happened
# --------------------------------------------------------------------------------------------------------


def test_folder_without_notes_says_which(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], checker: MarkerChecker
) -> None:
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "code.py").write_text("x = 1\n")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.md").write_text("ERROR\n")
    status, out, err = run(capsys, "check", str(tmp_path / "empty"), str(tmp_path / "notes"))
    assert status == 1  # The other folder was still checked.
    assert err == (
        f"tensorlint: warning: no notes found in {tmp_path / 'empty'} "
        "(looked for .md, .markdown, .qmd, .rmd, .tex, .ipynb)\n"
    )
    assert out.startswith(f"{tmp_path / 'notes' / 'a.md'}:1:1: error[TL201]")


def test_bad_inputs_each_get_one_line_and_the_run_goes_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The real checker on a folder of broken files, next to a note with a false claim."""
    (tmp_path / "broken.ipynb").write_text('{ "cells": [ ')
    (tmp_path / "binary.md").write_bytes(b"\x89PNG\x00\x00\x01")
    (tmp_path / "utf16.tex").write_bytes("$x = x$".encode("utf-16"))
    (tmp_path / "latin1.md").write_bytes(b"caf\xe9 $x = x$\n")
    (tmp_path / "wrong.md").write_text(
        "We use denominator layout. Let $a, x \\in \\mathbb{R}^n$.\n\n$$\\frac{\\partial a^T x}{\\partial x} = 2a$$\n"
    )
    status, out, err = run(capsys, "check", "--format", "json", str(tmp_path), str(tmp_path / "missing.md"))
    assert status == 2  # A missing path is a usage error, even with findings.
    assert err == f"tensorlint: error: no such file or directory: {tmp_path / 'missing.md'}\n"
    files = {Path(entry["path"]).name: entry["diagnostics"] for entry in json.loads(out)["files"]}
    assert set(files) == {"broken.ipynb", "binary.md", "utf16.tex", "latin1.md", "wrong.md"}
    for name in ("broken.ipynb", "binary.md", "utf16.tex", "latin1.md"):
        [diagnostic] = files[name]
        assert diagnostic["code"] == "TL003" and "\n" not in diagnostic["message"], (name, diagnostic)
    assert "notebook" in files["broken.ipynb"][0]["message"]
    assert [d["code"] for d in files["wrong.md"]] == ["TL201"]
    # Without the missing path: findings make it 1; without the false claim, warnings alone make it 0.
    assert run(capsys, "check", str(tmp_path))[0] == 1
    (tmp_path / "wrong.md").unlink()
    assert run(capsys, "check", str(tmp_path))[0] == 0
    assert run(capsys, "check", "--fail-level", "warning", str(tmp_path))[0] == 1


# --------------------------------------------------------------------------------------------------------
# --stdin-filename
# --------------------------------------------------------------------------------------------------------


class Stdin:
    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)


def test_stdin_is_checked_under_the_given_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], checker: MarkerChecker, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "tensorlint.toml").write_text('ignore = ["TL203"]\n')  # Found from the name's folder.
    monkeypatch.setattr(sys, "stdin", Stdin(b"ERROR WARN\n"))
    name = str(tmp_path / "notes" / "draft.md")  # Need not exist.
    status, out, err = run(capsys, "check", "--stdin-filename", name)
    assert (status, err) == (1, "")
    assert checker.calls == [(name, "ERROR WARN\n")]
    assert out.startswith(f"{name}:1:1: error[TL201] marker ERROR\n")
    assert "TL203" not in out


def test_stdin_with_invalid_utf8_and_a_dash(
    capsys: pytest.CaptureFixture[str], checker: MarkerChecker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", Stdin(b"caf\xe9\n"))
    status, document = run_json(capsys, "--stdin-filename", "note.tex", "-")
    assert status == 0
    [file] = document["files"]
    assert file["path"] == "note.tex"
    assert [d["code"] for d in file["diagnostics"]] == ["TL003"]


def test_stdin_with_paths_is_a_usage_error(capsys: pytest.CaptureFixture[str], checker: MarkerChecker) -> None:
    status, out, err = run(capsys, "check", "--stdin-filename", "a.md", "b.md")
    assert (status, out) == (2, "")
    assert "--stdin-filename" in err and len(err.splitlines()) == 1


def test_stdin_format_follows_the_name(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """With the real checker: a `%` comment hides math in LaTeX, not in Markdown."""
    note = b"% $$\\frac{\\partial a^T x}{\\partial x} = 2a$$\n"
    claims = {}
    for name in ("a.tex", "a.md"):
        monkeypatch.setattr(sys, "stdin", Stdin(note))
        _, document = run_json(capsys, "--stdin-filename", name)
        claims[name] = len(document["files"][0]["claims"])
    assert claims == {"a.tex": 0, "a.md": 1}


# --------------------------------------------------------------------------------------------------------
# derive
# --------------------------------------------------------------------------------------------------------


def test_derive_forwards_its_arguments(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    received: list[list[str]] = []
    fake = types.ModuleType("tensorlint.derive_command")

    def command(argv: list[str]) -> int:
        received.append(argv)
        print("derived")
        return 3

    fake.command = command  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tensorlint.derive_command", fake)
    argv = ["x^T A x", "--wrt", "x", "--let", "A \\in \\mathbb{R}^{n\\times n}", "--help"]
    assert run(capsys, "derive", *argv) == (3, "derived\n", "")
    assert received == [argv]


def test_derive_without_the_module(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorlint.derive_command", None)  # Importing it now fails.
    status, out, err = run(capsys, "derive", "x", "--wrt", "x")
    assert (status, out) == (2, "")
    assert err.startswith("tensorlint: error: this version of tensorlint has no `derive` command")
    assert len(err.splitlines()) == 1


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "--help")
    assert status == 0
    for command in ("check", "explain", "serve", "derive"):
        assert re.search(rf"^    {command} ", out, flags=re.MULTILINE), out
