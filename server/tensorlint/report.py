"""Turn checked files into what people and programs read: JSON (contract version 1), compiler-style text,
SARIF 2.1.0 for code scanning, and GitHub Actions workflow commands.

The core speaks in code-point offsets; this module is the edge where they become 1-based lines and columns
(columns counted in code points). A range's end is exclusive: ``end_line``/``end_column`` is the position
just past its last character, so a one-line range has ``end_column - column`` characters.

Shared by the command line and the language server; it prints nothing itself.
"""

from __future__ import annotations

import os
import re
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from tensorlint import rules
from tensorlint.model import Claim, Diagnostic, FileResult

JSON_VERSION = 1
VERDICTS = ("verified", "wrong", "layout", "shape", "uncheckable", "definition")

# LSP and editors end a line at "\r\n", "\n" or a lone "\r"; so do we, so that lines agree with the editor.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# Control characters would move the caret out of line or, worse, drive the terminal (ESC sequences).
# Each is shown as one replacement character, so columns still line up.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SOURCE_WIDTH = 160
_SOURCE_CONTEXT = 40


class LineIndex:
    """Maps code-point offsets in ``text`` to 1-based ``(line, column)`` and back, by bisection."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._line_starts = [0, *(match.end() for match in _LINE_BREAK.finditer(text))]

    @property
    def line_count(self) -> int:
        return len(self._line_starts)

    def position(self, offset: int) -> tuple[int, int]:
        """The 1-based line and column of ``offset``, clamped to the text."""
        offset = min(max(offset, 0), len(self.text))
        line = bisect_right(self._line_starts, offset) - 1
        return line + 1, offset - self._line_starts[line] + 1

    def offset(self, line: int, column: int) -> int:
        """The offset of a 1-based ``(line, column)``, clamped to the text."""
        line = min(max(line, 1), self.line_count)
        start = self._line_starts[line - 1]
        return min(start + max(column, 1) - 1, len(self.text))

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its line break."""
        start = self._line_starts[line - 1]
        end = self._line_starts[line] if line < self.line_count else len(self.text)
        return self.text[start:end].rstrip("\r\n")


# --------------------------------------------------------------------------------------------------------
# Ordering and selection
# --------------------------------------------------------------------------------------------------------


def sorted_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Diagnostics by position, then code, then message: the same input always prints the same way."""
    return sorted(diagnostics, key=lambda d: (d.start, d.end, d.code, d.message))


def sorted_claims(claims: Iterable[Claim]) -> list[Claim]:
    """Claims in document order (stable for claims that start at the same place)."""
    return sorted(claims, key=lambda claim: (claim.start, claim.end))


def apply_selection(result: FileResult, selection: rules.Selection) -> FileResult:
    """Keep the diagnostics ``selection`` enables.

    TL000 is derived here from the claims verified by the checker, unless the checker already reported it
    for that claim, so that the core need not know what the user selected.
    """
    diagnostics = list(result.diagnostics)
    if selection.enabled("TL000"):
        reported = {(d.start, d.end) for d in diagnostics if d.code == "TL000"}
        for claim in result.claims:
            if claim.verdict == "verified" and (claim.start, claim.end) not in reported:
                message = claim.message or "verified"
                if claim.layout and claim.layout not in message:
                    message = f"{message} ({claim.layout} layout)"
                diagnostics.append(Diagnostic("TL000", message, claim.start, claim.end, "hint"))
    kept = [d for d in diagnostics if selection.enabled(d.code)]
    return replace(result, diagnostics=kept)


def rule_name(code: str) -> str:
    rule = rules.get(code)
    return rule.name if rule is not None else "unknown"


# --------------------------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------------------------


def _range(index: LineIndex, start: int, end: int) -> dict[str, int]:
    line, column = index.position(start)
    end_line, end_column = index.position(end)
    return {"line": line, "column": column, "end_line": end_line, "end_column": end_column}


def _claim_json(index: LineIndex, claim: Claim) -> dict[str, Any]:
    return {
        **_range(index, claim.start, claim.end),
        "latex": claim.latex,
        "verdict": claim.verdict,
        "layout": claim.layout,
        "message": claim.message,
        "suppressed": claim.suppressed,
    }


def _diagnostic_json(index: LineIndex, diagnostic: Diagnostic) -> dict[str, Any]:
    fix = None
    if diagnostic.fix is not None:
        fix = {
            "title": diagnostic.fix.title,
            "edits": [
                {**_range(index, edit.start, edit.end), "new_text": edit.new_text} for edit in diagnostic.fix.edits
            ],
        }
    return {
        "code": diagnostic.code,
        "name": rule_name(diagnostic.code),
        "severity": diagnostic.severity,
        **_range(index, diagnostic.start, diagnostic.end),
        "message": diagnostic.message,
        "fix": fix,
    }


def summary_counts(results: list[FileResult]) -> dict[str, int]:
    """Files, claims and one count per verdict, in the order of the JSON contract, then the claims whose
    finding a directive suppressed (counted there only, not as claims or under their verdict)."""
    counts = {"files": len(results), "claims": 0, **dict.fromkeys(VERDICTS, 0), "suppressed": 0}
    for result in results:
        for claim in result.claims:
            if claim.suppressed:
                counts["suppressed"] += 1
                continue
            counts["claims"] += 1
            if claim.verdict in counts:
                counts[claim.verdict] += 1
    return counts


def to_json(results: list[FileResult]) -> dict[str, Any]:
    """The ``--format json`` document, version 1 (see DESIGN.md, Contracts)."""
    files = []
    for result in results:
        index = LineIndex(result.text)
        files.append(
            {
                "path": result.path,
                "claims": [_claim_json(index, claim) for claim in sorted_claims(result.claims)],
                "diagnostics": [_diagnostic_json(index, d) for d in sorted_diagnostics(result.diagnostics)],
            }
        )
    return {"version": JSON_VERSION, "files": files, "summary": summary_counts(results)}


# --------------------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------------------

_RESET = "\x1b[0m"
_BOLD = "\x1b[1m"
_GUTTER = "\x1b[1;34m"
_SEVERITY_COLOR = {"error": "\x1b[1;31m", "warning": "\x1b[1;33m", "info": "\x1b[1;34m", "hint": "\x1b[1;36m"}


def format_text(results: list[FileResult], color: bool = False) -> str:
    """Compiler-style text: ``path:line:col: severity[CODE] message``, the source line with a caret
    underline (on the first line of a multi-line range), and a summary line."""

    def paint(style: str, text: str) -> str:
        return f"{style}{text}{_RESET}" if color else text

    blocks: list[str] = []
    for result in results:
        if not result.diagnostics:
            continue
        index = LineIndex(result.text)
        locate = None
        if result.path.endswith(".ipynb"):
            from tensorlint.extract import notebook_location

            locate = notebook_location(result.text)
        for diagnostic in sorted_diagnostics(result.diagnostics):
            line, column = index.position(diagnostic.start)
            end_line, end_column = index.position(diagnostic.end)
            style = _SEVERITY_COLOR.get(diagnostic.severity, _BOLD)
            cell = locate(diagnostic.start) if locate is not None else None
            # In a notebook, also say where a person finds it in Jupyter.
            where = f" (cell {cell[0]}, line {cell[1]})" if cell is not None else ""
            header = (
                f"{paint(_BOLD, f'{result.path}:{line}:{column}:')}{where} "
                f"{paint(style, f'{diagnostic.severity}[{diagnostic.code}]')} "
                f"{_printable(diagnostic.message, keep_newlines=True)}"
            )
            source = index.line_text(line)
            width = (end_column if end_line == line else len(source) + 1) - column
            shown, caret_start, caret_width = _window(source, column - 1, max(width, 1))
            gutter = " " * len(str(line))
            underline = "".join("\t" if char == "\t" else " " for char in shown[:caret_start])
            block = [
                header,
                f" {paint(_GUTTER, f'{line} |')} {shown}".rstrip(),
                f" {paint(_GUTTER, f'{gutter} |')} {underline}{paint(style, '^' * caret_width)}",
            ]
            if diagnostic.fix is not None:
                block.append(f" {paint(_GUTTER, f'{gutter} =')} fix: {_printable(diagnostic.fix.title)}")
            blocks.append("\n".join(block))
    blocks.append(summary_line(results))
    return "\n\n".join(blocks) + "\n"


def summary_line(results: list[FileResult]) -> str:
    """``3 files, 12 claims: 8 verified, 2 wrong, 1 layout, 0 shape, 1 uncheckable, 0 definitions``."""
    counts = summary_counts(results)
    verdicts = ", ".join(
        f"{counts[verdict]} {_plural(counts[verdict], verdict) if verdict == 'definition' else verdict}"
        for verdict in VERDICTS
    )
    files, claims = counts["files"], counts["claims"]
    suppressed = f" ({counts['suppressed']} suppressed)" if counts["suppressed"] else ""
    return f"{files} {_plural(files, 'file')}, {claims} {_plural(claims, 'claim')}: {verdicts}{suppressed}"


def _plural(count: int, word: str) -> str:
    return word if count == 1 else f"{word}s"


def _printable(text: str, keep_newlines: bool = False) -> str:
    if keep_newlines:
        return "\n".join(_CONTROL.sub("\ufffd", part) for part in text.split("\n"))
    return _CONTROL.sub("\ufffd", text.replace("\n", " "))


def _window(source: str, caret_start: int, caret_width: int) -> tuple[str, int, int]:
    """The part of a (possibly huge) source line to show, and where the carets go in it."""
    source = _CONTROL.sub("\ufffd", source)
    caret_start = min(caret_start, len(source))
    if len(source) <= _SOURCE_WIDTH:
        return source, caret_start, caret_width
    begin = max(0, min(caret_start - _SOURCE_CONTEXT, len(source) - _SOURCE_WIDTH))
    end = begin + _SOURCE_WIDTH
    shown = source[begin:end]
    if begin > 0:
        shown = "…" + shown
        caret_start = caret_start - begin + 1
    if end < len(source):
        shown += "…"
    caret_width = max(1, min(caret_width, len(shown) - caret_start))
    return shown, caret_start, caret_width


# --------------------------------------------------------------------------------------------------------
# Paths for CI
# --------------------------------------------------------------------------------------------------------


def source_root(start: str | None = None) -> str:
    """The folder that CI paths are relative to: the root of the git repository around ``start`` (the
    current folder by default), or ``start`` itself outside a repository."""
    directory = os.path.abspath(start or os.getcwd())
    probe = directory
    while True:
        if os.path.exists(os.path.join(probe, ".git")):
            return probe
        parent = os.path.dirname(probe)
        if parent == probe:
            return directory
        probe = parent


def relative_path(path: str, root: str) -> str | None:
    """``path`` relative to ``root`` with ``/`` separators, or ``None`` when it lies outside ``root``."""
    relative = os.path.relpath(os.path.abspath(path), root)
    if relative == ".." or relative.startswith(".." + os.sep) or os.path.isabs(relative):
        return None
    return relative.replace(os.sep, "/")


# --------------------------------------------------------------------------------------------------------
# SARIF 2.1.0
# --------------------------------------------------------------------------------------------------------

SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SARIF_ROOT = "%SRCROOT%"
_SARIF_LEVEL = {"error": "error", "warning": "warning", "info": "note", "hint": "note"}


def _sarif_region(index: LineIndex, start: int, end: int) -> dict[str, int]:
    line, column = index.position(start)
    end_line, end_column = index.position(max(start, end))
    return {"startLine": line, "startColumn": column, "endLine": end_line, "endColumn": end_column}


def _sarif_rule(rule: rules.Rule) -> dict[str, Any]:
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.summary},
        "help": {"text": rule.doc.strip(), "markdown": rule.doc.strip()},
        "defaultConfiguration": {
            "level": _SARIF_LEVEL.get(rule.severity, "warning"),
            "enabled": rule.enabled_by_default,
        },
        "properties": {"tags": ["matrix-calculus"], "severity": rule.severity},
    }


def _artifact(path: str, root: str) -> dict[str, str]:
    from pathlib import Path
    from urllib.parse import quote

    relative = relative_path(path, root)
    if relative is None:
        return {"uri": Path(os.path.abspath(path)).as_uri()}
    return {"uri": quote(relative), "uriBaseId": SARIF_ROOT}


def to_sarif(results: list[FileResult], root: str) -> dict[str, Any]:
    """A SARIF 2.1.0 log of one run: every rule of the registry with its documentation, and one result per
    diagnostic with its rule, level, message and region (1-based lines; columns in code points, as
    ``columnKind`` says). Paths are relative to ``root`` (``%SRCROOT%``), as GitHub code scanning wants."""
    from pathlib import Path

    from tensorlint import __version__

    registry = rules.all_rules()
    rule_index = {rule.code: position for position, rule in enumerate(registry)}
    sarif_results: list[dict[str, Any]] = []
    for result in results:
        index = LineIndex(result.text)
        location = _artifact(result.path, root)
        for diagnostic in sorted_diagnostics(result.diagnostics):
            entry: dict[str, Any] = {
                "ruleId": diagnostic.code,
                "level": _SARIF_LEVEL.get(diagnostic.severity, "warning"),
                "message": {"text": diagnostic.message or diagnostic.code},
                "locations": [
                    {
                        "physicalLocation": {
                            "artifactLocation": dict(location),
                            "region": _sarif_region(index, diagnostic.start, diagnostic.end),
                        }
                    }
                ],
            }
            if diagnostic.code in rule_index:
                entry["ruleIndex"] = rule_index[diagnostic.code]
            if diagnostic.fix is not None and diagnostic.fix.edits:
                entry["fixes"] = [
                    {
                        "description": {"text": diagnostic.fix.title},
                        "artifactChanges": [
                            {
                                "artifactLocation": dict(location),
                                "replacements": [
                                    {
                                        "deletedRegion": _sarif_region(index, edit.start, edit.end),
                                        "insertedContent": {"text": edit.new_text},
                                    }
                                    for edit in diagnostic.fix.edits
                                ],
                            }
                        ],
                    }
                ]
            sarif_results.append(entry)
    root_uri = Path(root).as_uri().rstrip("/") + "/"
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "tensorlint",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "rules": [_sarif_rule(rule) for rule in registry],
                    }
                },
                "originalUriBaseIds": {SARIF_ROOT: {"uri": root_uri}},
                "columnKind": "unicodeCodePoints",
                "results": sarif_results,
            }
        ],
    }


# --------------------------------------------------------------------------------------------------------
# GitHub Actions workflow commands
# --------------------------------------------------------------------------------------------------------

_GITHUB_LEVEL = {"error": "error", "warning": "warning", "info": "notice", "hint": "notice"}


def github_escape_data(text: str) -> str:
    """Escape the message of a workflow command (``%``, carriage return, line feed)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github_escape_property(text: str) -> str:
    """Escape a property of a workflow command (also ``:`` and ``,``, which delimit properties)."""
    return github_escape_data(text).replace(":", "%3A").replace(",", "%2C")


def format_github(results: list[FileResult], root: str) -> str:
    """One ``::error file=…,line=…,col=…,endLine=…,endColumn=…,title=…::message`` line per diagnostic
    (``warning`` for warnings, ``notice`` for hints), which GitHub Actions shows as annotations on the pull
    request, then the summary line. Paths are relative to ``root``."""
    lines = []
    for result in results:
        index = LineIndex(result.text)
        path = relative_path(result.path, root) or os.path.abspath(result.path)
        for diagnostic in sorted_diagnostics(result.diagnostics):
            line, column = index.position(diagnostic.start)
            end_line, end_column = index.position(max(diagnostic.start, diagnostic.end))
            properties = {
                "file": path,
                "line": str(line),
                "col": str(column),
                "endLine": str(end_line),
                "endColumn": str(end_column),
                "title": f"{diagnostic.code} {rule_name(diagnostic.code)}",
            }
            rendered = ",".join(f"{key}={github_escape_property(value)}" for key, value in properties.items())
            level = _GITHUB_LEVEL.get(diagnostic.severity, "warning")
            lines.append(f"::{level} {rendered}::{github_escape_data(diagnostic.message)}")
    lines.append(summary_line(results))
    return "\n".join(lines) + "\n"
