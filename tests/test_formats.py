"""The output formats for CI and terminals: SARIF 2.1.0 (validated against the official schema), GitHub
workflow commands, and colour only where it belongs."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import jsonschema
import pytest

from tensorlint import cli, report, rules
from tensorlint.model import Claim, Diagnostic, Edit, FileResult, Fix

SCHEMA = json.loads((Path(__file__).parent / "schemas" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))

TEXT = "Let $W$ be given.\n\n$$\\frac{\\partial W x}{\\partial W} = x$$ and ∂𝐱 ERROR\n"
START = TEXT.index("\\frac")
END = TEXT.index("= x") + 3


def sample(path: str) -> FileResult:
    fix = Fix("write the index form", (Edit(END - 1, END, "\\delta_{ik} x_l"),))
    return FileResult(
        path,
        TEXT,
        claims=[Claim(START, END, TEXT[START:END], "wrong", "no")],
        diagnostics=[
            Diagnostic("TL202", "d(Wx)/dW is a third-order tensor\nsecond line", START, END, "error", fix),
            Diagnostic("TL203", "layout: 100% wrong, a:b", START, START, "warning"),
            Diagnostic("TL205", "not checked", TEXT.index("ERROR"), TEXT.index("ERROR") + 5, "hint"),
            Diagnostic("TL777", "a code from a newer checker", 0, 3, "info"),
        ],
    )


def validate(document: dict) -> None:
    jsonschema.Draft4Validator.check_schema(SCHEMA)
    errors = sorted(jsonschema.Draft4Validator(SCHEMA).iter_errors(document), key=str)
    assert not errors, "\n".join(f"{list(error.absolute_path)}: {error.message}" for error in errors)


# --------------------------------------------------------------------------------------------------------
# SARIF
# --------------------------------------------------------------------------------------------------------


def test_sarif_is_valid_against_the_official_schema(tmp_path: Path) -> None:
    root = str(tmp_path)
    results = [
        sample(str(tmp_path / "notes" / "a note.md")),
        FileResult(str(tmp_path / "empty.md"), "", diagnostics=[Diagnostic("TL003", "binary", 0, 0, "warning")]),
        sample("/elsewhere/outside.md"),
    ]
    document = report.to_sarif(results, root)
    validate(document)
    assert document["version"] == "2.1.0"
    assert json.loads(json.dumps(document)) == document


def test_sarif_rules_come_from_the_registry_with_their_docs(tmp_path: Path) -> None:
    [run] = report.to_sarif([], str(tmp_path))["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "tensorlint"
    assert [rule["id"] for rule in driver["rules"]] == rules.codes()
    for entry in driver["rules"]:
        rule = rules.get(entry["id"])
        assert rule is not None
        assert entry["name"] == rule.name
        assert entry["shortDescription"]["text"] == rule.summary
        assert entry["help"]["text"] == rule.doc.strip() and "## What it does" in entry["help"]["markdown"]
        assert entry["defaultConfiguration"]["enabled"] is rule.enabled_by_default
    levels = {entry["id"]: entry["defaultConfiguration"]["level"] for entry in driver["rules"]}
    assert (levels["TL201"], levels["TL203"], levels["TL205"]) == ("error", "warning", "note")
    assert run["results"] == []


def test_sarif_results_are_repo_relative_with_1_based_regions(tmp_path: Path) -> None:
    [run] = report.to_sarif([sample(str(tmp_path / "notes" / "a note.md"))], str(tmp_path))["runs"]
    assert run["columnKind"] == "unicodeCodePoints"
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == tmp_path.as_uri() + "/"
    by_rule = {result["ruleId"]: result for result in run["results"]}
    assert list(by_rule) == ["TL777", "TL203", "TL202", "TL205"]  # By start, end, then code.
    tl202 = by_rule["TL202"]
    assert tl202["level"] == "error"
    assert tl202["ruleIndex"] == rules.codes().index("TL202")
    assert "ruleIndex" not in by_rule["TL777"]  # An unknown code has no rule to point at.
    [location] = tl202["locations"]
    artifact = location["physicalLocation"]["artifactLocation"]
    assert artifact == {"uri": "notes/a%20note.md", "uriBaseId": "%SRCROOT%"}
    assert location["physicalLocation"]["region"] == {"startLine": 3, "startColumn": 3, "endLine": 3, "endColumn": 38}
    assert tl202["message"]["text"] == "d(Wx)/dW is a third-order tensor\nsecond line"
    [fix] = tl202["fixes"]
    [change] = fix["artifactChanges"]
    [replacement] = change["replacements"]
    assert replacement["insertedContent"]["text"] == "\\delta_{ik} x_l"
    assert replacement["deletedRegion"] == {"startLine": 3, "startColumn": 37, "endLine": 3, "endColumn": 38}
    # Columns count code points: "∂𝐱 " is three, whatever UTF-16 thinks of 𝐱.
    region = by_rule["TL205"]["locations"][0]["physicalLocation"]["region"]
    line = TEXT.splitlines()[2]
    assert region["startColumn"] == line.index("ERROR") + 1
    assert (by_rule["TL205"]["level"], by_rule["TL777"]["level"]) == ("note", "note")


def test_sarif_path_outside_the_root_is_an_absolute_file_uri(tmp_path: Path) -> None:
    [run] = report.to_sarif([sample("/elsewhere/outside.md")], str(tmp_path / "repo"))["runs"]
    artifact = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert artifact == {"uri": "file:///elsewhere/outside.md"}


def test_source_root_is_the_git_root_or_the_folder(tmp_path: Path) -> None:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "repo" / "docs" / "deep").mkdir(parents=True)
    assert report.source_root(str(tmp_path / "repo" / "docs" / "deep")) == str(tmp_path / "repo")
    (tmp_path / "plain").mkdir()
    assert report.source_root(str(tmp_path / "plain")) == str(tmp_path / "plain")


def test_sarif_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".git").mkdir()
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text(
        "We use denominator layout. Let $a, x \\in \\mathbb{R}^n$.\n\n$$\\frac{\\partial a^T x}{\\partial x} = 2a$$\n"
    )
    monkeypatch.chdir(notes)  # Paths are relative to the git root, not to the current folder.
    status = cli.main(["check", "--format", "sarif", "a.md"])
    document = json.loads(capsys.readouterr().out)
    assert status == 1
    validate(document)
    [result] = document["runs"][0]["results"]
    assert result["ruleId"] == "TL201"
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "notes/a.md"


# --------------------------------------------------------------------------------------------------------
# GitHub workflow commands
# --------------------------------------------------------------------------------------------------------


def test_github_escaping() -> None:
    assert report.github_escape_data("100% a:b, c\r\nd") == "100%25 a:b, c%0D%0Ad"
    assert report.github_escape_property("100% a:b, c\r\nd") == "100%25 a%3Ab%2C c%0D%0Ad"


def test_github_annotations(tmp_path: Path) -> None:
    output = report.format_github([sample(str(tmp_path / "dir, with: odd%name.md"))], str(tmp_path))
    lines = output.splitlines()
    assert lines[-1].startswith("1 file, 1 claim:")
    assert lines[:-1] == [
        "::notice file=dir%2C with%3A odd%25name.md,line=1,col=1,endLine=1,endColumn=4,"
        "title=TL777 unknown::a code from a newer checker",
        "::warning file=dir%2C with%3A odd%25name.md,line=3,col=3,endLine=3,endColumn=3,"
        "title=TL203 layout-mismatch::layout: 100%25 wrong, a:b",
        "::error file=dir%2C with%3A odd%25name.md,line=3,col=3,endLine=3,endColumn=38,"
        "title=TL202 impossible-derivative-shape::d(Wx)/dW is a third-order tensor%0Asecond line",
        f"::notice file=dir%2C with%3A odd%25name.md,line=3,col={TEXT.splitlines()[2].index('ERROR') + 1},"
        f"endLine=3,endColumn={TEXT.splitlines()[2].index('ERROR') + 6},title=TL205 uncheckable-claim::not checked",
    ]


def test_github_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.md").write_text(
        "We use denominator layout. Let $a, x \\in \\mathbb{R}^n$.\n\n$$\\frac{\\partial a^T x}{\\partial x} = 2a$$\n"
    )
    monkeypatch.chdir(tmp_path)
    status = cli.main(["check", "--format", "github", "."])
    out = capsys.readouterr().out
    assert status == 1
    assert out.startswith("::error file=a.md,line=3,col=3,endLine=3,endColumn=41,title=TL201 false-claim::false ")


# --------------------------------------------------------------------------------------------------------
# Colour
# --------------------------------------------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("choice", "tty", "environment", "expected"),
    [
        ("auto", True, {}, True),
        ("auto", False, {}, False),
        ("auto", True, {"NO_COLOR": "1"}, False),
        ("auto", True, {"NO_COLOR": ""}, True),  # no-color.org: only a non-empty value counts.
        ("auto", True, {"TERM": "dumb"}, False),
        ("always", False, {"NO_COLOR": "1"}, True),  # An explicit flag wins over the environment.
        ("never", True, {}, False),
    ],
)
def test_colour_only_on_a_terminal_and_never_with_no_color(
    monkeypatch: pytest.MonkeyPatch, choice: str, tty: bool, environment: dict[str, str], expected: bool
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    stream = Terminal() if tty else io.StringIO()
    assert cli._use_color(choice, stream) is expected


def test_text_output_on_a_terminal_is_coloured_unless_no_color(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.md").write_text(
        "We use denominator layout. Let $a, x \\in \\mathbb{R}^n$.\n\n$$\\frac{\\partial a^T x}{\\partial x} = 2a$$\n"
    )
    monkeypatch.setenv("TERM", "xterm")
    outputs = {}
    for no_color in ("", "1"):
        monkeypatch.setenv("NO_COLOR", no_color)
        terminal = Terminal()
        monkeypatch.setattr("sys.stdout", terminal)
        cli.main(["check", str(tmp_path)])
        outputs[no_color] = terminal.getvalue()
    assert "\x1b[" in outputs[""]
    assert "\x1b[" not in outputs["1"]
    assert outputs["1"].startswith(f"{os.path.join(str(tmp_path), 'a.md')}:3:3: error[TL201]")
