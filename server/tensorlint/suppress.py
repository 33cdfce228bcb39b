"""Suppression directives: the last, pure step of the core, applied to a checked file.

```markdown
<!-- tensorlint: disable-next-line TL203 -->        the next non-blank line (and the math that starts on it)
<!-- tensorlint: disable TL205 --> … <!-- tensorlint: enable TL205 -->     a range (to the end without enable)
<!-- tensorlint: disable-file TL002 -->             the whole file
```

In LaTeX the same bodies follow `% tensorlint:`. Codes are separated by commas or spaces and may be codes
(`TL203`), prefixes (`TL2`), rule names (`layout-mismatch`) or `ALL`; no code at all means every code. Text
after ` -- ` is a reason for the reader and is ignored.

``apply(result, document)`` drops the diagnostics that a directive covers and reports, as TL004, every
directive that covered nothing: an unused code, an ``enable`` without a ``disable``, an unknown code or a
misspelt verb. Other directives (declarations, ``layout=``) belong to ``interpret`` and are left alone.

A ``disable-next-line`` placed just above a display (`$$`, `\\begin{equation}`) covers the whole display,
since that is what a person means by it; inside a multi-line display it covers only its next line.
"""

from __future__ import annotations

import difflib
import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from tensorlint import rules
from tensorlint.model import Diagnostic, Directive, Document, Edit, FileResult, Fix, MathSpan

VERBS = ("disable-next-line", "disable", "enable", "disable-file")
_VERB = re.compile(r"(?:disable|enable)[a-z-]*", re.IGNORECASE)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_SEPARATORS = re.compile(r"[\s,]+")
_ALL = "ALL"


@dataclass
class _Entry:
    """One code (or every code, ``pattern is None``) that one directive suppresses in ``[start, end]``."""

    directive: Directive
    kind: str  # "next-line", "range" or "file"
    pattern: str | None
    spelled: str | None  # The code as written, for messages and fixes.
    start: int
    end: int
    used: bool = False
    closer: Directive | None = None  # The ``enable`` that ends a range.

    def matches(self, code: str) -> bool:
        if self.pattern is None or self.pattern == _ALL:
            return True
        return code.upper().startswith(self.pattern)

    def covers(self, diagnostic: Diagnostic) -> bool:
        return self.start <= diagnostic.start <= self.end and self.matches(diagnostic.code)


@dataclass
class _Parsed:
    directive: Directive
    verb: str
    # (pattern, spelled) pairs; an empty tuple means "every code".
    codes: tuple[tuple[str, str], ...]
    reason: str
    # What is wrong with the directive itself: a message, and the misspelt verb or unknown code it is about.
    problems: list[tuple[str, str]] = field(default_factory=list)
    guess: str | None = None  # The verb a misspelt one probably meant.


def apply(result: FileResult, document: Document) -> FileResult:
    """``result`` without the diagnostics that suppression directives cover, plus TL004 for each directive
    (or code in one) that covered nothing. Never raises; a file without directives is returned as is."""
    unknown = [
        (directive, problem)
        for directive in document.directives
        if (problem := unknown_directive(directive.body)) is not None
    ]
    if unknown:
        rule = rules.get("TL005")
        severity = rule.severity if rule is not None else "warning"
        found = [Diagnostic("TL005", problem, d.start, d.end, severity) for d, problem in unknown]
        result = replace(result, diagnostics=[*result.diagnostics, *found])
    parsed = [p for p in (_parse(d) for d in document.directives) if p is not None]
    if not parsed:
        return result
    lines = _Lines(result.text)
    notebook = document.path.lower().endswith(".ipynb")
    entries: list[_Entry] = []
    unused_messages: list[tuple[Directive, str, Fix | None]] = []
    open_ranges: list[_Entry] = []

    for item in sorted(parsed, key=lambda p: p.directive.start):
        directive = item.directive
        for problem, token in item.problems:
            unused_messages.append((directive, problem, _problem_fix(result.text, item, token, notebook)))
        if item.verb == "enable":
            closing = _closing(open_ranges, item)
            if not closing and not item.problems:
                what = f"enable {_listing([s for _, s in item.codes])}" if item.codes else "enable"
                unused_messages.append(
                    (
                        directive,
                        f"`{what}` has no matching `disable` before it",
                        _removal(result.text, directive, notebook),
                    )
                )
            for entry in closing:
                entry.end = directive.start
                entry.closer = directive
                open_ranges.remove(entry)
            continue
        if item.verb not in ("disable-next-line", "disable", "disable-file"):
            continue
        if item.verb == "disable-next-line":
            region = lines.next_line_region(directive.end, document.spans)
            if region is None:
                unused_messages.append(
                    (
                        directive,
                        "unused suppression: there is no line after it",
                        _removal(result.text, directive, notebook),
                    )
                )
                continue
            kind, start, end = "next-line", region[0], region[1]
        elif item.verb == "disable":
            kind, start, end = "range", directive.end, len(result.text)
        else:
            kind, start, end = "file", 0, len(result.text)
        targets: Sequence[tuple[str | None, str | None]] = item.codes or ((None, None),)
        for pattern, spelled in targets:
            entry = _Entry(directive, kind, pattern, spelled, start, end)
            entries.append(entry)
            if kind == "range":
                open_ranges.append(entry)

    kept: list[Diagnostic] = []
    silenced_ranges: set[tuple[int, int]] = set()
    for diagnostic in result.diagnostics:
        covering = [entry for entry in entries if entry.covers(diagnostic)]
        for entry in covering:
            entry.used = True
        if not covering:
            kept.append(diagnostic)
        else:
            silenced_ranges.add((diagnostic.start, diagnostic.end))
    claims = [
        replace(claim, suppressed=True) if (claim.start, claim.end) in silenced_ranges else claim
        for claim in result.claims
    ]

    # A directive that names TL004 is there to silence reports about suppressions; it is never unused.
    for entry in entries:
        if entry.pattern is not None and entry.pattern != _ALL and "TL004".startswith(entry.pattern):
            entry.used = True
    unused_messages.extend(_unused_reports(result.text, lines, entries, notebook))

    rule = rules.get("TL004")
    severity = rule.severity if rule is not None else "warning"
    for directive, message, fix in sorted(unused_messages, key=lambda item: item[0].start):
        report = Diagnostic("TL004", message, directive.start, directive.end, severity, fix)
        silenced = [
            entry for entry in entries if entry.pattern is not None and entry.pattern != _ALL and entry.covers(report)
        ]
        if not silenced:
            kept.append(report)
    return replace(result, claims=claims, diagnostics=kept)


def _closing(open_ranges: list[_Entry], item: _Parsed) -> list[_Entry]:
    """The open ``disable`` entries that an ``enable`` closes: all of them without codes, else those with
    one of its codes."""
    if not item.codes:
        return list(open_ranges)
    wanted = {pattern for pattern, _ in item.codes}
    return [entry for entry in open_ranges if (entry.pattern or _ALL) in wanted]


def _unused_reports(
    text: str, lines: _Lines, entries: list[_Entry], notebook: bool = False
) -> list[tuple[Directive, str, Fix | None]]:
    by_directive: dict[int, list[_Entry]] = {}
    for entry in entries:
        by_directive.setdefault(id(entry.directive), []).append(entry)
    reports: list[tuple[Directive, str, Fix | None]] = []
    for group in by_directive.values():
        unused = [entry for entry in group if not entry.used]
        if not unused:
            continue
        first = group[0]
        directive = first.directive
        if first.kind == "next-line":
            start_line, end_line = lines.line(first.start), lines.line(first.end)
            where = f"on line {start_line}" if start_line == end_line else f"on lines {start_line} to {end_line}"
        elif first.kind == "range":
            end_line = lines.line(first.end)
            where = f"from line {lines.line(first.start)} to line {end_line}"
        else:
            where = "in this file"
        if unused[0].pattern is None:
            message = f"unused suppression: no diagnostic {where}"
        else:
            message = f"unused suppression: no {_listing([e.spelled or '' for e in unused])} diagnostic {where}"
        if len(unused) == len(group):
            fix = _removal(text, directive, notebook)
            # An `enable` that closes only unused ranges goes with them, or it would be reported next time.
            for closer in {id(entry.closer): entry.closer for entry in group if entry.closer is not None}.values():
                closed = [entry for entry in entries if entry.closer is closer]
                closer_fix = _removal(text, closer, notebook)
                if fix is not None and closer_fix is not None and not any(entry.used for entry in closed):
                    fix = Fix(fix.title, fix.edits + closer_fix.edits)
        else:
            fix = _without_codes(text, directive, {entry.spelled for entry in unused if entry.spelled}, notebook)
        reports.append((directive, message, fix))
    return reports


def _listing(codes: list[str]) -> str:
    if len(codes) <= 1:
        return "".join(codes)
    return ", ".join(codes[:-1]) + " or " + codes[-1]


# --------------------------------------------------------------------------------------------------------
# Reading a directive
# --------------------------------------------------------------------------------------------------------


def _parse(directive: Directive) -> _Parsed | None:
    """The suppression in a directive body, or ``None`` when the directive is not a suppression."""
    body = directive.body.strip()
    verb_match = _VERB.match(body)
    if verb_match is None or (verb_match.end() < len(body) and not body[verb_match.end()].isspace()):
        return None
    verb = verb_match.group().lower()
    rest = body[verb_match.end() :]
    reason = ""
    if " -- " in f" {rest} ":
        rest, _, reason = f" {rest} ".partition(" -- ")
    problems: list[tuple[str, str]] = []
    if verb not in VERBS:
        close = difflib.get_close_matches(verb, VERBS, n=1)
        hint = f" (did you mean `{close[0]}`?)" if close else f" (known: {', '.join(VERBS)})"
        problems.append((f"unknown suppression directive `{verb}`{hint}; it suppresses nothing", verb))
        return _Parsed(directive, verb, (), reason.strip(), problems, close[0] if close else None)
    codes: list[tuple[str, str]] = []
    for token in _SEPARATORS.split(rest.strip()):
        if not token:
            continue
        pattern = _pattern(token)
        if pattern is None:
            problems.append((f"unknown code `{token}` in suppression; `tensorlint explain` lists the codes", token))
        else:
            codes.append((pattern, token))
    if problems and not codes:
        # Every code was unknown: the directive suppresses nothing.
        return _Parsed(directive, "unknown", (), reason.strip(), problems)
    return _Parsed(directive, verb, tuple(codes), reason.strip(), problems)


_SETTING = re.compile(r"([A-Za-z][\w-]*)\s*=\s*(\S*)")
SETTINGS = {"layout": ("numerator", "denominator"), "einstein": ("on", "off", "auto")}
_KNOWN = "declarations (W \\in \\mathbb{R}^{n\\times m}), layout=numerator|denominator, einstein=on|off|auto, " + (
    ", ".join(VERBS)
)


def unknown_directive(body: str) -> str | None:
    """What is wrong with a directive that is neither a suppression nor a setting nor a declaration that
    ``interpret`` reads, or ``None`` when it is one of those. Suppressions are judged by ``_parse``."""
    body = body.strip()
    if _VERB.match(body) is not None or not body:
        return None
    setting = _SETTING.fullmatch(body.partition(" -- ")[0].strip())
    if setting is not None:
        key, value = setting.group(1), setting.group(2)
        if key not in SETTINGS:
            close = difflib.get_close_matches(key, list(SETTINGS), n=1)
            hint = f" (did you mean `{close[0]}=`?)" if close else f" (known: {', '.join(SETTINGS)})"
            return f"unknown setting `{key}` in a directive{hint}; it does nothing"
        if value not in SETTINGS[key]:
            return f"`{key}=` takes {' or '.join(SETTINGS[key])}, not `{value}`; the directive does nothing"
        if not body.startswith(f"{key}="):
            return f"write `{key}={value}` without spaces; the directive does nothing"
        return None
    from tensorlint.parse import parse_span

    parsed = parse_span(body.partition(" -- ")[0])
    declares = any("in" in statement.chain.ops for statement in parsed.statements)
    if declares and not parsed.problems:
        return None
    word = body.split()[0]
    close = difflib.get_close_matches(word.lower(), VERBS, n=1)
    hint = f" (did you mean `{close[0]}`?)" if close else ""
    return f"unknown directive `{_shorten(body)}`{hint}; known: {_KNOWN}"


def _shorten(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _pattern(token: str) -> str | None:
    """A code, prefix or ``ALL`` (upper case) for a token written in a directive, or ``None``."""
    if token.upper() == _ALL:
        return _ALL
    rule = rules.find(token)
    if rule is not None:
        return rule.code
    if re.fullmatch(r"TL\d{0,3}", token.upper()) and rules.matching_codes(token):
        return token.upper()
    return None


# --------------------------------------------------------------------------------------------------------
# Lines and fixes
# --------------------------------------------------------------------------------------------------------


class _Lines:
    """Line starts of a text (``\\r\\n``, ``\\r`` or ``\\n`` end a line, as in the report)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0, *(match.end() for match in _LINE_BREAK.finditer(text))]

    def line(self, offset: int) -> int:
        return bisect_right(self.starts, offset)

    def bounds(self, line: int) -> tuple[int, int]:
        """``[start, end)`` of a 1-based line, without its line break."""
        start = self.starts[line - 1]
        end = self.starts[line] if line < len(self.starts) else len(self.text)
        return start, len(self.text[start:end].rstrip("\r\n")) + start

    def next_line_region(self, after: int, spans: Sequence[MathSpan]) -> tuple[int, int] | None:
        """The region a ``disable-next-line`` ending at ``after`` covers, or ``None`` at the end of the file."""
        line = self.line(after) + 1
        while line <= len(self.starts):
            start, end = self.bounds(line)
            if self.text[start:end].strip():
                # A display that starts on this line is covered to its end.
                for span in spans:
                    if start <= span.start <= end:
                        end = max(end, span.end)
                return start, end
            line += 1
        return None


def _problem_fix(text: str, item: _Parsed, token: str, notebook: bool = False) -> Fix | None:
    """The fix for a directive that is wrong in itself: the directive without an unknown code, or no
    directive at all when nothing in it is usable; none for a misspelt verb (the message names the likely
    one, and the author decides)."""
    directive = item.directive
    if item.guess is not None:
        # A misspelt verb is never corrected by a guess: any suppression it would become is wider than the
        # nothing it suppresses now (`disable-line` is as close to `disable-file` as to `disable-next-line`).
        return None
    if item.codes:
        return _without_codes(text, directive, {token}, notebook)
    return _removal(text, directive, notebook)


def _removal(text: str, directive: Directive, notebook: bool = False) -> Fix | None:
    """Delete a directive: its whole line when it stands alone on it, else just the comment. In a notebook
    the line is one of the cell's, inside its JSON string (ended by an escaped ``\\n``)."""
    if not _is_literal(text, directive):
        return None
    if notebook:
        line_start, line_end, break_end = _cell_line(text, directive.start, directive.end)
    else:
        line_start = max(text.rfind("\n", 0, directive.start), text.rfind("\r", 0, directive.start)) + 1
        line_end_match = _LINE_BREAK.search(text, directive.end)
        line_end = line_end_match.start() if line_end_match else len(text)
        break_end = line_end_match.end() if line_end_match else len(text)
    before, after = text[line_start : directive.start], text[directive.end : line_end]
    if not before.strip() and not after.strip():
        return Fix("remove the unused suppression", (Edit(line_start, break_end, ""),))
    if not before.strip():
        # First on its line: take the space after it, so the rest of the line does not start with one.
        end = directive.end + (len(after) - len(after.lstrip()))
        return Fix("remove the unused suppression", (Edit(directive.start, end, ""),))
    start = directive.start - (len(before) - len(before.rstrip()))
    return Fix("remove the unused suppression", (Edit(start, directive.end, ""),))


def _cell_line(text: str, start: int, end: int) -> tuple[int, int, int]:
    """In a notebook's JSON text, the line of a cell around ``[start, end)``: where it starts (after the
    string's opening quote or an escaped newline), where it ends, and where its escaped newline ends."""
    line_start = start
    while line_start > 0:
        before = text[line_start - 1]
        if before == '"' and not _escaped(text, line_start - 1):
            break
        if before == "n" and _escaped(text, line_start - 1):
            break
        line_start -= 1
    line_end = end
    while line_end < len(text):
        character = text[line_end]
        if character == '"' and not _escaped(text, line_end):
            return line_start, line_end, line_end
        if character == "\\":
            if text.startswith("n", line_end + 1):
                return line_start, line_end, line_end + 2
            line_end += 2
            continue
        line_end += 1
    return line_start, line_end, line_end


def _escaped(text: str, position: int) -> bool:
    """Whether the character at ``position`` follows an odd run of backslashes."""
    run = 0
    while position - run - 1 >= 0 and text[position - run - 1] == "\\":
        run += 1
    return run % 2 == 1


def _without_codes(text: str, directive: Directive, unused: set[str], notebook: bool = False) -> Fix | None:
    """Rewrite a directive without the codes it did not use."""
    if not _is_literal(text, directive):
        return None
    body_start = text.find(directive.body, directive.start, directive.end)
    if body_start < 0:
        return None
    body = directive.body
    verb_match = _VERB.match(body)
    if verb_match is None:
        return None
    rest, separator, reason = body[verb_match.end() :].partition(" -- ")
    kept = [token for token in _SEPARATORS.split(rest.strip()) if token and token not in unused]
    new_body = " ".join([verb_match.group(), ", ".join(kept)]) + (f" -- {reason}" if separator else "")
    title = f"remove {_listing(sorted(unused))} from the suppression"
    if not kept:
        return _removal(text, directive, notebook)
    return Fix(title, (Edit(body_start, body_start + len(body), new_body),))


def _is_literal(text: str, directive: Directive) -> bool:
    """Whether the directive stands in the text as written (not escaped inside a notebook's JSON)."""
    comment = text[directive.start : directive.end]
    return comment.lstrip().startswith(("<!--", "%")) and directive.body in comment
