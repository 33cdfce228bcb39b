"""The language server: ``tensorlint serve``, a thin shell over the core on pygls 2.

This is the only module that imports pygls or lsprotocol. Everything it shows comes from
``core.check_text`` (claims, verdicts, diagnostics with their fixes); this module only decides *when* to
check and converts the core's data to protocol types at the edge:

- **Notes.** A text document (Markdown, LaTeX, Quarto, R Markdown) is one note. A notebook synced by the
  client is one note too: its Markdown cells are joined, so a declaration in one cell holds in the next,
  and each finding is sent back to the cell it falls in. A note is checked as a whole, with one
  ``interpret.ClaimCache`` that survives edits, so only the claims an edit touched are checked again.
- **When.** On open and save at once; on change after a debounce (``tensorlint.debounce``, 300 ms). Checks
  run in worker threads, one at a time per note. Every edit bumps the note's revision; a result is
  published only if it still belongs to the current revision, so a slow, stale check never overwrites a
  newer one. An edit also asks a running check to stop at its next claim.
- **Diagnostics** are pushed (``textDocument/publishDiagnostics``, with the document version) or, when
  the client can pull them (``textDocument/diagnostic``), pulled; never both, so nothing is shown twice.
  A fix from the core travels in the diagnostic's ``data`` (as ruff does) and becomes a code action.
- **Positions.** The core speaks in code-point offsets; they become LSP positions here, in the encoding
  the client negotiated (UTF-16 unless it offers UTF-8 or UTF-32).
- **Settings.** The client's ``tensorlint.*`` settings override the project's ``pyproject.toml`` /
  ``tensorlint.toml`` as command-line flags do (``config.Resolver``), read afresh for every check.
- **Robustness.** A malformed message gets an error reply, a handler bug a log message; a checker failure
  becomes a TL900 diagnostic and a log message. The server keeps running.

Hover on a name needs what the core does not return yet (where each name was declared, and its shape):
``_NameIndex`` rebuilds it by replaying the interpreter without checking claims, after the diagnostics are
published, until the core exposes it. Hover on a derivative asks ``derive.derive_latex`` under the
declarations in force at that point, and shows only the forms it verified.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import logging
import os
import re
import sys
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlparse

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcMethodNotFound
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol

from tensorlint import __version__, core, report, rules
from tensorlint.macro_files import with_macros
from tensorlint.model import Claim, Config, Diagnostic, FileResult

logger = logging.getLogger(__name__)

SOURCE = "tensorlint"
# Language identifiers a client may send for notes, and the suffix that tells ``extract`` their format.
LANGUAGE_SUFFIXES = {
    "markdown": ".md",
    "quarto": ".qmd",
    "rmarkdown": ".Rmd",
    "rmd": ".Rmd",
    "latex": ".tex",
    "tex": ".tex",
    "plaintex": ".tex",
}
NOTE_SUFFIXES = (".md", ".markdown", ".qmd", ".rmd", ".tex")
CELL_SEPARATOR = "\n\n"
# How long a request (hover, pull diagnostics, inlay hints) waits for the check of the current text.
REQUEST_WAIT_SECONDS = 30.0
# How long hover waits for the derivative under the cursor before it shows the rest.
DERIVE_SECONDS = 3.0
# The pause after publishing before the name index (for hover and inlay hints) is built, unless asked for.
NAMES_DELAY_SECONDS = 0.1

_SEVERITIES = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "info": types.DiagnosticSeverity.Information,
    "hint": types.DiagnosticSeverity.Hint,
}
_VERDICT_TITLES = {
    "verified": "verified",
    "wrong": "false",
    "layout": "holds only in the other layout",
    "shape": "shapes cannot agree",
    "uncheckable": "not checked",
    "definition": "definition",
}


# --------------------------------------------------------------------------------------------------------
# Settings: the client's ``tensorlint.*`` over the project's configuration
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """What the client asked for. ``None`` (or ``auto`` for layout and einstein) leaves a key to the
    project's configuration, so an editor's defaults never hide a ``pyproject.toml`` setting."""

    layout: str | None = None
    einstein: str | None = None
    trials: int | None = None
    tolerance: float | None = None
    claim_timeout: float | None = None
    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    debounce: float = 0.3
    verified_hints: bool = True
    shape_hints: bool = True

    def overrides(self) -> dict[str, Any]:
        """The keys the client set, named as in the configuration files: they override the project's
        values as command-line flags do."""
        values = {
            "layout": self.layout,
            "einstein": self.einstein,
            "trials": self.trials,
            "tolerance": self.tolerance,
            "claim-timeout": self.claim_timeout,
            "select": self.select,
        }
        overrides = {key: value for key, value in values.items() if value is not None}
        if self.extend_select:
            overrides["extend-select"] = self.extend_select
        if self.ignore:
            overrides["ignore"] = self.ignore
        return overrides


@dataclass(frozen=True)
class Effective:
    """What one check of one note uses: the checker's configuration and the codes to report."""

    config: Config
    selection: rules.Selection
    excluded_by: str | None = None
    problem: str | None = None


def effective_settings(path: str | None, settings: Settings) -> Effective:
    """The client's settings over the configuration of the project ``path`` belongs to (the closest
    ``tensorlint.toml`` or ``pyproject.toml`` with ``[tool.tensorlint]``), read afresh for every check so
    that an edited configuration file takes effect. An unsaved note has no project: only the client's
    settings apply. A broken configuration file is reported and passed over."""
    from tensorlint.config import ConfigError, Resolver

    overrides = settings.overrides()
    problem = None
    try:
        resolver = Resolver(overrides, isolated=path is None)
        project = resolver.settings_for(path or os.getcwd())
        selection = project.selection(path) if path is not None else project.base_selection()
        excluded_by = project.exclusion(path) if path is not None else None
        return Effective(project.checker_config(), selection, excluded_by)
    except ConfigError as error:
        problem = str(error)
    except Exception as error:  # A configuration bug must not stop the checks.
        problem = f"cannot read the project configuration: {error}"
    fallback = Resolver(overrides, isolated=True).settings_for(path or os.getcwd())
    return Effective(fallback.checker_config(), fallback.base_selection(), None, problem)


def read_settings(raw: object) -> tuple[Settings, list[str]]:
    """Settings from the client's JSON (``{"layout": ..., "claimTimeout": ...}``), and a note for each
    value that was ignored because it is malformed. Never raises: a bad value keeps its default."""
    problems: list[str] = []
    if raw is None:
        return Settings(), problems
    if not isinstance(raw, dict):
        return Settings(), [f"tensorlint settings must be an object, not {type(raw).__name__}"]
    values: dict[str, Any] = {}

    def choice(key: str, field_name: str, allowed: tuple[str, ...]) -> None:
        value = raw.get(key)
        if value is None or value == "auto":
            return
        if value in allowed:
            values[field_name] = value
        else:
            problems.append(f"tensorlint.{key}: expected one of {', '.join(allowed)}, got {value!r}")

    def number(key: str, field_name: str, kind: type, minimum: float, scale: float = 1.0) -> None:
        value = raw.get(key)
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
            problems.append(f"tensorlint.{key}: expected a number of at least {minimum}, got {value!r}")
            return
        values[field_name] = kind(value * scale)

    def codes(key: str, field_name: str) -> None:
        value = raw.get(key)
        if value is None:
            return
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            problems.append(f"tensorlint.{key}: expected a list of codes, got {value!r}")
            return
        known, unknown = [], []
        for item in value:
            rule = None if rules.matching_codes(item) else rules.find(item)  # A name stands for its code.
            if rules.matching_codes(item) or rule is not None:
                known.append(rule.code if rule is not None else item.strip().upper())
            else:
                unknown.append(item)
        if unknown:
            problems.append(f"tensorlint.{key}: unknown codes {', '.join(unknown)} were left out")
        values[field_name] = tuple(known)

    choice("layout", "layout", ("numerator", "denominator"))
    choice("einstein", "einstein", ("on", "off"))
    number("trials", "trials", int, 1)
    number("tolerance", "tolerance", float, 0)
    number("claimTimeout", "claim_timeout", float, 0.01)
    number("debounce", "debounce", float, 0, scale=0.001)
    codes("select", "select")
    codes("extendSelect", "extend_select")
    codes("ignore", "ignore")
    hints = raw.get("inlayHints")
    if isinstance(hints, bool):
        values["verified_hints"] = values["shape_hints"] = hints
    elif isinstance(hints, dict):
        for key, field_name in (("verifiedClaims", "verified_hints"), ("shapes", "shape_hints")):
            if isinstance(hints.get(key), bool):
                values[field_name] = hints[key]
    elif hints is not None:
        problems.append(f"tensorlint.inlayHints: expected true, false or an object, got {hints!r}")
    return Settings(**values), problems


# --------------------------------------------------------------------------------------------------------
# Positions: code-point offsets in the core, LSP positions in the client's encoding
# --------------------------------------------------------------------------------------------------------


class TextLines:
    """Offsets of one text (a document or a notebook cell) to LSP positions and back.

    Lines end at ``\\r\\n``, ``\\n`` or a lone ``\\r`` (as in LSP, through ``report.LineIndex``); columns
    count UTF-16 code units, UTF-8 bytes or code points, as the client negotiated.
    """

    def __init__(self, text: str, encoding: str) -> None:
        self.index = report.LineIndex(text)
        self.encoding = encoding

    def _units(self, prefix: str) -> int:
        if prefix.isascii() or self.encoding == types.PositionEncodingKind.Utf32:
            return len(prefix)
        if self.encoding == types.PositionEncodingKind.Utf8:
            return len(prefix.encode("utf-8", errors="surrogatepass"))
        return len(prefix) + sum(1 for character in prefix if ord(character) > 0xFFFF)

    def position(self, offset: int) -> types.Position:
        line, column = self.index.position(offset)
        text = self.index.line_text(line)
        return types.Position(line=line - 1, character=self._units(text[: column - 1]))

    def range(self, start: int, end: int) -> types.Range:
        return types.Range(start=self.position(start), end=self.position(max(start, end)))

    def offset(self, position: types.Position) -> int:
        line = max(0, position.line) + 1
        if line > self.index.line_count:
            return len(self.index.text)
        text = self.index.line_text(line)
        units = max(0, position.character)
        column = 0
        if text.isascii() or self.encoding == types.PositionEncodingKind.Utf32:
            column = min(units, len(text))
        else:
            counted = 0
            for character in text:
                width = self._units(character)
                if counted + width > units:
                    break
                counted += width
                column += 1
        return self.index.offset(line, column + 1)


# --------------------------------------------------------------------------------------------------------
# Notes and their check results
# --------------------------------------------------------------------------------------------------------


@dataclass
class Segment:
    """One piece of a note's text that the client knows as a document: the whole of a text document, or
    one Markdown cell of a notebook, starting at ``start`` in the note's text."""

    uri: str
    start: int
    text: str
    version: int | None
    lines: TextLines

    @property
    def end(self) -> int:
        return self.start + len(self.text)


class _CheckCancelled(BaseException):
    """Raised inside the core (through the cache) when a newer edit makes a running check pointless.

    A ``BaseException``, so that the core's safety net (``except Exception``) lets it through.
    """


def _claim_cache_class() -> type:
    from tensorlint.interpret import ClaimCache

    class CancellableCache(ClaimCache):
        """A claim cache that stops the check using it, at its next claim, once ``stale()`` is true.

        An interrupted run keeps what both runs learnt, so the next run still reuses every verdict.
        """

        def __init__(self) -> None:
            super().__init__()
            self.stale: Callable[[], bool] = lambda: False
            self.interrupted = False

        def get(self, key: tuple[str, str, str, str]) -> Any:
            if self.stale():
                self.interrupted = True
                raise _CheckCancelled
            return super().get(key)

        def next_run(self) -> None:
            if self.interrupted:
                self.interrupted = False
                self.previous.update(self.current)
                self.current, self.hits = {}, 0
            else:
                super().next_run()

    return CancellableCache


@dataclass
class Checked:
    """The result of checking one revision of a note, converted for the client."""

    revision: int
    text: str
    result: FileResult
    segments: list[Segment]
    diagnostics: dict[str, list[types.Diagnostic]]
    result_id: str
    config: Config
    names: _NameIndex | None = None
    names_ready: asyncio.Event = field(default_factory=asyncio.Event)
    names_wanted: asyncio.Event = field(default_factory=asyncio.Event)

    def segment(self, uri: str) -> Segment | None:
        return next((segment for segment in self.segments if segment.uri == uri), None)

    async def wait_names(self) -> None:
        self.names_wanted.set()
        if not self.names_ready.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.names_ready.wait(), timeout=REQUEST_WAIT_SECONDS)


@dataclass
class Note:
    """One unit of checking: a text document, or the Markdown cells of a notebook."""

    key: str
    path: str
    segments: list[Segment]
    notebook: bool = False
    revision: int = 0
    cache: Any = None
    checked: Checked | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False

    @property
    def text(self) -> str:
        return CELL_SEPARATOR.join(segment.text for segment in self.segments)

    def current(self) -> Checked | None:
        """The result for the current text, or ``None`` while it is being checked."""
        checked = self.checked
        return checked if checked is not None and checked.revision == self.revision else None


def note_path(uri: str, language_id: str | None) -> str:
    """A file name for the core: the document's own when its suffix tells the format, else one that
    matches its language (an untitled LaTeX buffer becomes ``….tex``)."""
    parsed = urlparse(uri)
    path = unquote(parsed.path) if parsed.scheme in ("file", "") else unquote(parsed.path or uri)
    name = path or "untitled"
    if name.lower().endswith(NOTE_SUFFIXES):
        return name
    return name + LANGUAGE_SUFFIXES.get((language_id or "").lower(), ".md")


def is_tex(path: str) -> bool:
    return path.lower().endswith(".tex")


# --------------------------------------------------------------------------------------------------------
# The edge: core data to protocol types
# --------------------------------------------------------------------------------------------------------


def segment_at(segments: Sequence[Segment], offset: int) -> Segment:
    """The segment holding ``offset``; an offset between cells belongs to the cell before it."""
    starts = [segment.start for segment in segments]
    return segments[max(0, bisect.bisect_right(starts, offset) - 1)]


def to_lsp_diagnostic(diagnostic: Diagnostic, segment: Segment) -> types.Diagnostic:
    start = min(max(diagnostic.start - segment.start, 0), len(segment.text))
    end = min(max(diagnostic.end - segment.start, start), len(segment.text))
    rule = rules.get(diagnostic.code)
    data: dict[str, Any] = {"version": segment.version}
    if rule is not None:
        data["name"] = rule.name
    fix = diagnostic.fix
    if fix is not None:
        edits: list[dict[str, Any]] = []
        for edit in fix.edits:
            if not segment.start <= edit.start <= edit.end <= segment.end:
                edits = []  # An edit outside this cell cannot be offered from it.
                break
            edit_range = segment.lines.range(edit.start - segment.start, edit.end - segment.start)
            edits.append({"range": _range_json(edit_range), "newText": edit.new_text})
        if edits:
            data["fix"] = {"title": fix.title, "edits": edits}
    return types.Diagnostic(
        range=segment.lines.range(start, end),
        message=diagnostic.message,
        severity=_SEVERITIES.get(diagnostic.severity, types.DiagnosticSeverity.Warning),
        code=diagnostic.code,
        source=SOURCE,
        data=data,
    )


def _range_json(value: types.Range) -> dict[str, Any]:
    return {
        "start": {"line": value.start.line, "character": value.start.character},
        "end": {"line": value.end.line, "character": value.end.character},
    }


def _range_from_json(value: Any) -> types.Range | None:
    try:
        start, end = value["start"], value["end"]
        return types.Range(
            start=types.Position(line=int(start["line"]), character=int(start["character"])),
            end=types.Position(line=int(end["line"]), character=int(end["character"])),
        )
    except (KeyError, TypeError, ValueError):
        return None


def convert_result(result: FileResult, segments: list[Segment]) -> dict[str, list[types.Diagnostic]]:
    diagnostics: dict[str, list[types.Diagnostic]] = {segment.uri: [] for segment in segments}
    if not segments:
        return diagnostics  # A notebook without Markdown cells.
    for diagnostic in report.sorted_diagnostics(result.diagnostics):
        segment = segment_at(segments, diagnostic.start)
        diagnostics[segment.uri].append(to_lsp_diagnostic(diagnostic, segment))
    return diagnostics


# --------------------------------------------------------------------------------------------------------
# Names: where each is declared and its shape
# --------------------------------------------------------------------------------------------------------
# The core's FileResult has claims and diagnostics but not the environment. Until it exposes the
# declarations it read (name, shape, where), this index replays the interpreter without checking any claim
# (cheap: parsing is cached) and records how the environment changes at each math span, directive and
# prose sentence. Any failure leaves the index empty: hover then shows claims only.


@dataclass(frozen=True)
class Binding:
    key: str
    kind: str  # "declared" or "defined"
    shape: str | None
    source: str  # "math", "prose" or "directive"
    start: int
    end: int
    written_out: bool  # the shape is spelled in the source (``\\in \\mathbb{R}^{…}``), not told in words
    dims: tuple[Any, ...] | None = None  # the declared shape, for restating the declaration


@dataclass
class _NameIndex:
    spans: list[Any]
    bindings: list[Binding]
    unify_fonts: bool

    def _nodes_at(self, offset: int) -> tuple[Any, int, list[Any]] | None:
        """The math span around ``offset``, the offset within it, and the syntax nodes that contain it."""
        from tensorlint import syntax
        from tensorlint.parse import parse_span

        span = next((s for s in self.spans if s.start <= offset < s.end), None)
        if span is None:
            return None
        position = bisect.bisect_right(span.offsets, offset) - 1 if span.offsets is not None else offset - span.start
        around = [
            node
            for statement in parse_span(span.text).statements
            for part in statement.chain.parts
            if part is not None
            for node in syntax.walk(part)
            if node.start <= position < node.end
        ]
        return span, position, around

    def name_at(self, offset: int) -> tuple[str, int, int] | None:
        """The name under ``offset`` (its key and document range), if it is in a math span."""
        from tensorlint import syntax
        from tensorlint.lower import name_key

        found = self._nodes_at(offset)
        if found is None:
            return None
        span, _, around = found
        names = [node for node in around if isinstance(node, syntax.Name)]
        if not names:
            return None
        best = min(names, key=lambda node: node.end - node.start)
        return name_key(best, self.unify_fonts), span.doc_offset(best.start), span.doc_offset(best.end)

    def derivative_at(self, offset: int) -> tuple[str, str] | None:
        """The innermost derivative written as a fraction around ``offset``: the LaTeX of what is derived
        and of the variable, e.g. ``("W\\mathbf{x}", "W")`` for ``\\frac{\\partial W\\mathbf{x}}{\\partial W}``."""
        from tensorlint import syntax

        found = self._nodes_at(offset)
        if found is None:
            return None
        span, _, around = found
        fractions = sorted(
            (node for node in around if isinstance(node, syntax.Frac)), key=lambda node: node.end - node.start
        )
        for fraction in fractions:
            numerator = _unbraced(span.text[fraction.numerator.start : fraction.numerator.end])
            denominator = _unbraced(span.text[fraction.denominator.start : fraction.denominator.end])
            top, bottom = _PARTIAL.match(numerator), _PARTIAL.match(denominator)
            if top is None or bottom is None:
                top, bottom = _UPRIGHT_D.match(numerator), _UPRIGHT_D.match(denominator)
            if top is not None and bottom is not None and top.group(1).strip() and bottom.group(1).strip():
                return top.group(1).strip(), bottom.group(1).strip()
        return None

    def declarations_before(self, offset: int) -> list[str]:
        """The declarations in force at ``offset``, restated as ``W \\in \\mathbb{R}^{n\\times m}``."""
        latest: dict[str, Binding] = {}
        for binding in self.bindings:
            if binding.kind == "declared" and binding.start <= offset:
                latest[binding.key] = binding
        restated = []
        for key, binding in latest.items():
            statement = _declaration_latex(key, binding.dims)
            if statement is not None:
                restated.append(statement)
        return restated

    def bindings_of(self, key: str) -> list[Binding]:
        return [binding for binding in self.bindings if binding.key == key]


def build_name_index(path: str, text: str, config: Config, stale: Callable[[], bool] = lambda: False) -> _NameIndex:
    """Replay the note's reading order without checking claims; stops (``_CheckCancelled``) at the next math
    span once ``stale()`` is true."""
    from tensorlint.extract import extract
    from tensorlint.interpret import Interpreter
    from tensorlint.model import MathSpan
    from tensorlint.shapes import show_shape

    document = extract(path, text)
    bindings: list[Binding] = []

    class Recorder(Interpreter):
        def check(self, *args: Any, **kwargs: Any) -> None:
            """Claims are not verified here: only declarations and definitions matter."""

        def span(self, span: MathSpan) -> None:
            if stale():
                raise _CheckCancelled
            written = "\\in" in span.text or "∈" in span.text or "\\to" in span.text
            self._observe(lambda: super(Recorder, self).span(span), "math", span.start, span.end, written)

        def directive(self, body: str, at: int) -> None:
            self._observe(lambda: super(Recorder, self).directive(body, at), "directive", at, at, True)

        def prose_fact(self, fact: Any) -> None:
            offset = int(getattr(fact, "offset", 0))
            # The fact's offset is where its sentence starts; the name is the first math span from there.
            start, end = offset, offset
            for candidate in document.spans:
                if offset <= candidate.start <= offset + 200:
                    start, end = candidate.start, candidate.end
                    break
            self._observe(lambda: super(Recorder, self).prose_fact(fact), "prose", start, end, False)

        def _observe(self, step: Callable[[], None], source: str, start: int, end: int, written: bool) -> None:
            declared = dict(self.env.declared)
            definitions = dict(self.env.definitions)
            step()
            for key, declaration in self.env.declared.items():
                if declared.get(key) is not declaration:
                    function = declaration.arguments is not None
                    shape = "function" if function else show_shape(declaration.shape)
                    dims = None if function else tuple(declaration.shape)
                    bindings.append(Binding(key, "declared", shape, source, start, end, written, dims))
            for key, definition in self.env.definitions.items():
                if definitions.get(key) is not definition:
                    bindings.append(Binding(key, "defined", None, source, start, end, True))

    Recorder(document, config).run()
    return _NameIndex(list(document.spans), bindings, config.unify_fonts)


_PARTIAL = re.compile(r"^(?:\\partial|∂)(?![A-Za-z])\s*(.*)$", re.DOTALL)
_UPRIGHT_D = re.compile(r"^(?:\\mathrm\{d\}|\\operatorname\{d\}|\\text\{d\}|d)\s*(.*)$", re.DOTALL)


def _unbraced(text: str) -> str:
    text = text.strip()
    while text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    return text


def _declaration_latex(key: str, dims: tuple[Any, ...] | None) -> str | None:
    """``W \\in \\mathbb{R}^{n\\times m}`` for a name and a shape of plain dimensions, else ``None``."""
    if dims is None or "@" in key or not all(_plain_dim(dim) for dim in dims):
        return None
    name = f"\\{key}" if key in _GREEK else key
    if not dims:
        return f"{name} \\in \\mathbb{{R}}"
    if len(dims) == 2 and dims[1] == 1:
        return f"{name} \\in \\mathbb{{R}}^{{{dims[0]}}}"
    space = "\\times ".join(str(dim) for dim in dims)
    return f"{name} \\in \\mathbb{{R}}^{{{space}}}"


def _plain_dim(dim: Any) -> bool:
    return isinstance(dim, int) or (isinstance(dim, str) and dim.isidentifier())


@dataclass(frozen=True)
class DerivativeInfo:
    """What hover shows for a derivative, from ``derive.derive_latex``."""

    title: str
    shape: str
    closed_form: str | None
    index_form: str | None
    notes: tuple[str, ...]


def derive_for_hover(
    expression: str, wrt: str, lets: tuple[str, ...], layout: str | None, config: Config
) -> DerivativeInfo | None:
    """The shape, closed form and index form of ``∂expression/∂wrt`` under the note's declarations; only
    forms the core verified are shown. ``None`` when it cannot be derived."""
    try:
        from tensorlint.derive_command import derive_latex

        result, _ = derive_latex(expression, wrt, list(lets), layout, config)
    except Exception:  # Not derivable here (unknown notation, an undeclared name): hover goes without it.
        return None
    if not result.shape:
        return None
    closed = result.closed_form
    index = result.index_form
    closed_form = closed.latex if closed is not None and closed.verified else None
    index_form = f"{result.index_left} = {index.latex}" if index is not None and index.verified else None
    shape = f"{result.shape} ({result.kind}, {result.layout} layout)" if result.kind else result.shape
    return DerivativeInfo(f"∂({expression})/∂{wrt}", shape, closed_form, index_form, tuple(result.notes))


# --------------------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------------------


class _Protocol(LanguageServerProtocol):
    """pygls' protocol, except that a request whose parameters cannot be read gets an error reply (pygls
    would drop it, and the client would wait forever)."""

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as error:
            if isinstance(data, dict) and "id" in data and "method" in data:
                self._send_response(data["id"], error=error.to_response_error())
            raise


class TensorlintServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__(
            SOURCE,
            f"v{__version__}",
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            notebook_document_sync=types.NotebookDocumentSyncOptions(
                notebook_selector=[
                    types.NotebookDocumentFilterWithCells(
                        notebook="*", cells=[types.NotebookCellLanguage(language="markdown")]
                    )
                ],
                save=True,
            ),
            protocol_cls=_Protocol,
        )
        self.notes: dict[str, Note] = {}
        self.owners: dict[str, str] = {}  # segment uri → note key
        self.settings = Settings()
        self.settings_ready = asyncio.Event()
        self.generation = 0
        self.executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="tensorlint-check")
        self._reported: set[str] = set()  # Configuration problems already logged.
        self.derivatives: dict[tuple[Any, ...], DerivativeInfo | None] = {}
        self.tasks: set[asyncio.Future[None]] = set()

    # Client capabilities -----------------------------------------------------------------------------

    def _capability(self, dotted: str) -> Any:
        value: Any = self.client_capabilities
        for part in dotted.split("."):
            value = getattr(value, part, None)
            if value is None:
                return None
        return value

    @property
    def encoding(self) -> str:
        try:
            return str(self.workspace.position_encoding or types.PositionEncodingKind.Utf16)
        except RuntimeError:
            return types.PositionEncodingKind.Utf16

    @property
    def pull_diagnostics(self) -> bool:
        return self._capability("text_document.diagnostic") is not None

    @property
    def markdown_hover(self) -> bool:
        formats = self._capability("text_document.hover.content_format") or []
        return types.MarkupKind.Markdown in formats

    def log(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        try:
            self.window_log_message(types.LogMessageParams(type=kind, message=message))
        except Exception:  # Logging must never be the thing that fails.
            logger.warning("%s", message)

    def report_server_error(self, error: Exception, source: Any) -> None:
        """A bug or a malformed message is logged, not shown as a pop-up, and the server goes on."""
        logger.error("%s: %s", getattr(source, "__name__", source), error)
        if isinstance(error, JsonRpcMethodNotFound):
            return
        self.log(f"tensorlint: could not handle a message ({error}); the server keeps running", types.MessageType.Error)

    # Settings ----------------------------------------------------------------------------------------

    def apply_settings(self, raw: object) -> None:
        settings, problems = read_settings(raw)
        for problem in problems:
            self.log(problem, types.MessageType.Warning)
        changed = settings != self.settings
        self.settings = settings
        self.settings_ready.set()
        if changed:
            for note in list(self.notes.values()):
                self.touch(note, delay=0.0)
                note.cache = None  # Verdicts depend on trials and tolerance: start afresh.
            if self._capability("workspace.inlay_hint.refresh_support"):
                _quietly(self.workspace_inlay_hint_refresh(None))

    async def fetch_settings(self) -> None:
        if not self._capability("workspace.configuration"):
            self.settings_ready.set()
            return
        try:
            values = await asyncio.wait_for(
                self.workspace_configuration_async(
                    types.ConfigurationParams(items=[types.ConfigurationItem(section="tensorlint")])
                ),
                timeout=5.0,
            )
            self.apply_settings(values[0] if values else None)
        except Exception as error:
            self.log(f"tensorlint: could not read the client's settings ({error}); using defaults")
        finally:
            self.settings_ready.set()

    def effective(self, note: Note) -> Effective:
        effective = effective_settings(note.path if os.path.isabs(note.path) else None, self.settings)
        if effective.problem is not None and effective.problem not in self._reported:
            self._reported.add(effective.problem)
            self.log(f"tensorlint: {effective.problem}; using the defaults", types.MessageType.Warning)
        return effective

    # Notes -------------------------------------------------------------------------------------------

    def open_text(self, uri: str, language_id: str) -> None:
        # A note is known by its language, or by its file name when a client names the language otherwise
        # (Emacs calls Markdown "gfm"). Other documents are not checked.
        known_language = language_id.lower() in LANGUAGE_SUFFIXES
        if not known_language and not unquote(urlparse(uri).path).lower().endswith(NOTE_SUFFIXES):
            return
        document = self.workspace.get_text_document(uri)
        segment = Segment(uri, 0, document.source, document.version, TextLines(document.source, self.encoding))
        note = Note(uri, note_path(uri, language_id), [segment])
        self._replace(note)
        self.touch(note, delay=0.0)

    def change_text(self, uri: str) -> None:
        note = self.notes.get(uri)
        if note is None:
            return
        document = self.workspace.get_text_document(uri)
        note.segments = [Segment(uri, 0, document.source, document.version, TextLines(document.source, self.encoding))]
        self.touch(note, delay=self.settings.debounce)

    def sync_notebook(self, uri: str, opened: bool) -> None:
        notebook = self.workspace.get_notebook_document(notebook_uri=uri)
        if notebook is None:
            return
        segments: list[Segment] = []
        start = 0
        for cell in notebook.cells:
            if cell.kind != types.NotebookCellKind.Markup:
                continue
            document = self.workspace.text_documents.get(unquote(cell.document))
            if document is None:
                continue
            segments.append(
                Segment(
                    cell.document, start, document.source, document.version, TextLines(document.source, self.encoding)
                )
            )
            start += len(document.source) + len(CELL_SEPARATOR)
        note = self.notes.get(uri)
        if note is None or opened:
            note = Note(uri, note_path(uri, "markdown"), segments, notebook=True)
            self._replace(note)
        else:
            removed = {segment.uri for segment in note.segments} - {segment.uri for segment in segments}
            note.segments = segments
            for cell_uri in removed:
                self.owners.pop(cell_uri, None)
                self._clear(cell_uri)
        for segment in segments:
            self.owners[segment.uri] = uri
        self.touch(note, delay=0.0 if opened else self.settings.debounce)

    def _replace(self, note: Note) -> None:
        old = self.notes.get(note.key)
        if old is not None:
            self._close(old, clear=False)
        self.notes[note.key] = note
        for segment in note.segments:
            self.owners[segment.uri] = note.key

    def close(self, key: str) -> None:
        note = self.notes.get(key)
        if note is not None:
            self._close(note, clear=True)

    def _close(self, note: Note, clear: bool) -> None:
        note.closed = True
        note.revision += 1  # A running check sees that its revision is stale and stops.
        self.notes.pop(note.key, None)
        for segment in note.segments:
            if self.owners.get(segment.uri) == note.key:
                self.owners.pop(segment.uri, None)
            if clear:
                self._clear(segment.uri)

    def _clear(self, uri: str) -> None:
        if not self.pull_diagnostics:
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    def note_of(self, uri: str) -> Note | None:
        key = self.owners.get(uri, uri)
        return self.notes.get(key)

    # Checking ----------------------------------------------------------------------------------------

    def touch(self, note: Note, delay: float, edited: bool = True) -> None:
        """Schedule a check of the note's current text after ``delay`` seconds; an edit makes any result
        for the previous text stale and asks a running check to stop."""
        if edited or note.current() is None:
            note.revision += 1  # A running check sees that its revision is stale and stops.
            note.ready.clear()
        task = asyncio.ensure_future(self._check_later(note, note.revision, delay))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _check_later(self, note: Note, revision: int, delay: float) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        if note.revision != revision or note.closed:
            return  # A newer edit scheduled its own check.
        if not self.settings_ready.is_set():
            try:
                await asyncio.wait_for(self.settings_ready.wait(), timeout=2.0)
            except asyncio.TimeoutError:
                self.settings_ready.set()
        try:
            async with note.lock:
                if note.revision != revision or note.closed or note.current() is not None:
                    return
                checked = await self._check(note, revision)
            if checked is not None:
                await self._index_names(note, checked)
        except RuntimeError as error:  # The executor is gone: the server is shutting down.
            logger.info("check not run: %s", error)

    async def _check(self, note: Note, revision: int) -> Checked | None:
        """Check the note's text of ``revision`` and publish the result, unless it is stale by then."""
        if note.cache is None:
            note.cache = _claim_cache_class()()
        segments = list(note.segments)
        text, path, cache = note.text, note.path, note.cache
        cache.stale = lambda: note.revision != revision
        effective = self.effective(note)
        loop = asyncio.get_running_loop()
        if effective.excluded_by is not None:
            # The project excludes this file (``exclude`` in its configuration): nothing is reported.
            outcome: tuple[FileResult, str | None] | None = (FileResult(path, text), None)
        else:
            outcome = await loop.run_in_executor(self.executor, _run_check, path, text, effective.config, cache)
        if outcome is None or note.revision != revision or note.closed:
            return None  # Stopped, or the text changed meanwhile: the newer check publishes.
        result, failure = outcome
        if failure is not None:
            self.log(f"tensorlint: the checker failed on {path}:\n{failure}", types.MessageType.Error)
        for diagnostic in result.diagnostics:
            if diagnostic.code == "TL900":
                self.log(f"tensorlint: {path}: {diagnostic.message}", types.MessageType.Warning)
        result = report.apply_selection(result, effective.selection)
        self.generation += 1
        diagnostics = convert_result(result, segments)
        checked = Checked(revision, text, result, segments, diagnostics, str(self.generation), effective.config)
        note.checked = checked
        note.ready.set()
        if not self.pull_diagnostics:
            for segment in segments:
                self.text_document_publish_diagnostics(
                    types.PublishDiagnosticsParams(
                        uri=segment.uri, version=segment.version, diagnostics=diagnostics[segment.uri]
                    )
                )
        elif note.notebook and self._capability("workspace.diagnostics.refresh_support"):
            # A declaration in one cell changes the findings of the others: let the client pull them all.
            _quietly(self.workspace_diagnostic_refresh(None))
        return checked

    async def _index_names(self, note: Note, checked: Checked) -> None:
        """The name index for hover and inlay hints, built after publishing, off the critical path; a newer
        edit stops it, so that it never slows the next check."""
        revision = checked.revision
        loop = asyncio.get_running_loop()
        try:
            # While the author is typing the next edit usually follows at once: wait a moment, unless a
            # hover or inlay hint request asks for the index now.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(checked.names_wanted.wait(), timeout=NAMES_DELAY_SECONDS)
            if note.revision != revision:
                return
            checked.names = await loop.run_in_executor(
                self.executor,
                _run_name_index,
                note.path,
                checked.text,
                checked.config,
                lambda: note.revision != revision,
            )
        finally:
            checked.names_ready.set()

    async def wait_checked(self, uri: str) -> tuple[Note, Checked] | None:
        """The note holding ``uri`` and the result for its current text, once there is one."""
        note = self.note_of(uri)
        while note is not None and not note.closed:
            checked = note.current()
            if checked is not None:
                return note, checked
            try:
                await asyncio.wait_for(note.ready.wait(), timeout=REQUEST_WAIT_SECONDS)
            except asyncio.TimeoutError:
                return None
            note = self.note_of(uri)
        return None

    async def derivative_at(self, note: Note, checked: Checked, offset: int) -> DerivativeInfo | None:
        """The derivative around ``offset``, derived under the declarations in force there, in the layout
        of the claim it is part of; remembered, and given up after a few seconds."""
        names = checked.names
        found = names.derivative_at(offset) if names is not None else None
        if names is None or found is None:
            return None
        claim = claim_at(checked, offset)
        layout = claim.layout if claim is not None else None
        lets = tuple(names.declarations_before(offset))
        config = checked.config
        key = (*found, lets, layout, config)
        if key not in self.derivatives:
            if len(self.derivatives) > 256:
                self.derivatives.clear()
            loop = asyncio.get_running_loop()
            try:
                self.derivatives[key] = await asyncio.wait_for(
                    loop.run_in_executor(self.executor, derive_for_hover, *found, lets, layout, config),
                    timeout=DERIVE_SECONDS,
                )
            except asyncio.TimeoutError:
                return None
        return self.derivatives[key]

    def shutdown_checks(self) -> None:
        for note in self.notes.values():
            note.closed = True
            note.revision += 1
        self.executor.shutdown(wait=False, cancel_futures=True)


def _quietly(request: Any) -> None:
    """A request to the client whose answer does not matter: an error reply is dropped, not logged later."""
    with contextlib.suppress(Exception):
        request.add_done_callback(lambda done: done.cancelled() or done.exception())


def _run_check(path: str, text: str, config: Config, cache: Any) -> tuple[FileResult, str | None] | None:
    """One check in a worker thread: ``None`` when cancelled; a failure becomes a TL900 diagnostic."""
    try:
        cache.next_run()
        config = with_macros(path, text, config)
        return core.check_text(path, text, config, cache), None
    except _CheckCancelled:
        return None
    except Exception as error:  # The core should never raise; if it does, the note still gets a result.
        detail = traceback.format_exception_only(type(error), error)[-1].strip()
        diagnostic = Diagnostic("TL900", f"internal checker error: {detail}", 0, 0, "warning")
        return FileResult(path, text, diagnostics=[diagnostic]), traceback.format_exc()


def _run_name_index(path: str, text: str, config: Config, stale: Callable[[], bool]) -> _NameIndex | None:
    try:
        return build_name_index(path, text, config, stale)
    except _CheckCancelled:
        return None
    except Exception:
        logger.warning("no name index for %s:\n%s", path, traceback.format_exc())
        return None


# --------------------------------------------------------------------------------------------------------
# Features
# --------------------------------------------------------------------------------------------------------


def claim_at(checked: Checked, offset: int) -> Claim | None:
    """The innermost claim whose range holds ``offset``."""
    return min(
        (claim for claim in checked.result.claims if claim.start <= offset <= claim.end),
        key=lambda claim: claim.end - claim.start,
        default=None,
    )


def hover_text(
    checked: Checked, segment: Segment, offset: int, markdown: bool, derivative: DerivativeInfo | None = None
) -> str | None:
    """What hovering at ``offset`` shows: the name under it (shape, where declared), the derivative around
    it (shape, closed form, index form) and the claim (verdict, what is wrong)."""
    sections: list[str] = []

    def code(value: str) -> str:
        value = " ".join(value.split())
        if not markdown:
            return value
        fence = "``" if "`" in value else "`"
        return f"{fence}{value}{fence}"

    def where(binding: Binding) -> str:
        """``line 3 in words: `let $W$ be …` `` (in a notebook, the line of the cell it is in)."""
        holder = segment_at(checked.segments, binding.start)
        line = holder.lines.index.position(binding.start - holder.start)[0]
        cell = " of another cell" if holder is not segment else ""
        source = {"math": "", "prose": " in words", "directive": " by a directive"}[binding.source]
        snippet = holder.lines.index.line_text(line).strip()
        if len(snippet) > 100:
            snippet = snippet[:97] + "…"
        return f"line {line}{cell}{source}: {code(snippet)}"

    names = checked.names
    found = names.name_at(offset) if names is not None else None
    if names is not None and found is not None:
        key, _, _ = found
        display = key.split("@")[0]
        bindings = names.bindings_of(key)
        before = [binding for binding in bindings if binding.start <= offset]
        in_force = before[-1] if before else None
        declared = [binding for binding in before if binding.kind == "declared"]
        lines = []
        if declared:
            last = declared[-1]
            lines.append(f"{code(display)}: {last.shape}, declared on {where(last)}")
        if in_force is not None and in_force.kind == "defined":
            lines.append(f"defined on {where(in_force)}")
        if not lines:
            later = [binding for binding in bindings if binding.start > offset]
            if later:
                lines.append(f"{code(display)}: declared later, on {where(later[0])}")
            else:
                lines.append(f"{code(display)}: no declared shape; its shape is inferred from how it is used")
        if len([binding for binding in bindings if binding.kind == "declared"]) > 1:
            lines.append("(declared more than once in this note: the declaration before this point holds)")
        sections.append("\n\n".join(lines))

    if derivative is not None:
        title = f"**{derivative.title}**" if markdown else derivative.title
        lines = [f"{title}: {derivative.shape}"]
        if derivative.closed_form is not None:
            label = "as ∂vec F/∂vec Xᵀ" if "vec-jacobian" in derivative.shape else "closed form"
            lines.append(f"{label}: {code(derivative.closed_form)}")
        if derivative.index_form is not None:
            lines.append(f"index form: {code(derivative.index_form)}")
        lines.extend(derivative.notes)
        sections.append("\n\n".join(lines))

    claim = claim_at(checked, offset)
    if claim is not None:
        title = _VERDICT_TITLES.get(claim.verdict, claim.verdict)
        header = f"**tensorlint: {title}**" if markdown else f"tensorlint: {title}"
        if claim.layout and claim.verdict in ("verified", "layout"):
            header += f" ({claim.layout} layout)"
        lines = [header]
        related = [d for d in checked.result.diagnostics if d.start == claim.start and d.end == claim.end]
        for diagnostic in related:
            lines.append(f"{diagnostic.code} {report.rule_name(diagnostic.code)}: {diagnostic.message}")
            if diagnostic.fix is not None:
                replacement = " ".join(edit.new_text for edit in diagnostic.fix.edits).strip()
                if replacement:
                    lines.append(f"correct result: {code(replacement)}")
        if not related and claim.message:
            lines.append(claim.message)
        sections.append("\n\n".join(lines))
    if not sections:
        return None
    return ("\n\n---\n\n" if markdown else "\n\n").join(sections)


_NEW_NAMES = re.compile(r"not checked: (.*?) appears here for the first time")
_GUESSED = re.compile(r"the shape of (.*?) is a guess")
_BACKTICKED = re.compile(r"`([^`]+)`")
_GREEK = frozenset(
    {"alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta", "iota"}
    | {"kappa", "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "varphi", "chi", "psi"}
    | {"omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega"}
)


def unknown_names(message: str) -> list[str]:
    """Names whose shape a TL205 message says the note never gave."""
    found = _NEW_NAMES.search(message) or _GUESSED.search(message)
    if found is None:
        return []
    return [name for name in _BACKTICKED.findall(found.group(1)) if "@" not in name]


def declaration_for(name: str) -> str:
    """A declaration to start from; the dimensions are placeholders for the author to correct."""
    if name in _GREEK:
        return f"\\{name} \\in \\mathbb{{R}}"
    if name[:1].isupper():
        return f"{name} \\in \\mathbb{{R}}^{{n\\times m}}"
    return f"{name} \\in \\mathbb{{R}}^{{n}}"


def comment_line(tex: bool, body: str, indent: str) -> str:
    return f"{indent}% tensorlint: {body}\n" if tex else f"{indent}<!-- tensorlint: {body} -->\n"


def insertion_line(segment: Segment, line: int, spans: Sequence[Any] | None, tex: bool) -> int:
    """Where a directive for a finding on ``line`` (0-based) goes: the line above it, or in Markdown,
    above the display that contains it (a comment inside ``$$ … $$`` would break the math)."""
    if tex or not spans:
        return line
    start = segment.start + segment.lines.index.offset(line + 1, 1)
    for span in spans:
        if span.start < start < span.end:
            return segment.lines.position(max(0, span.start - segment.start)).line
    return line


def code_actions(
    ls: TensorlintServer, params: types.CodeActionParams, note: Note, segment: Segment
) -> list[types.CodeAction]:
    """For each of tensorlint's diagnostics in the request: the core's fix (carried in ``data``, offered only
    for the version it was computed for), a declaration directive for each name a TL205 hint says has no
    shape, and a ``disable-next-line`` directive."""
    uri = params.text_document.uri
    actions: list[types.CodeAction] = []
    tex = is_tex(note.path)
    checked = note.current()
    spans = checked.names.spans if checked is not None and checked.names is not None else None

    def edit(edits: list[types.TextEdit]) -> types.WorkspaceEdit:
        if ls._capability("workspace.workspace_edit.document_changes"):
            document = types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=segment.version)
            return types.WorkspaceEdit(document_changes=[types.TextDocumentEdit(document, list(edits))])
        return types.WorkspaceEdit(changes={uri: edits})

    def insert_above(line: int, body: str) -> list[types.TextEdit]:
        line = insertion_line(segment, line, spans, tex)
        line_text = segment.lines.index.line_text(line + 1) if line < segment.lines.index.line_count else ""
        indent = line_text[: len(line_text) - len(line_text.lstrip())]
        position = types.Position(line=line, character=0)
        return [types.TextEdit(types.Range(position, position), comment_line(tex, body, indent))]

    seen: set[str] = set()
    for diagnostic in params.context.diagnostics:
        if diagnostic.source != SOURCE or not isinstance(diagnostic.code, str):
            continue
        data = diagnostic.data if isinstance(diagnostic.data, dict) else {}
        fix = data.get("fix")
        current = data.get("version") in (None, segment.version)
        if isinstance(fix, dict) and current:
            edits: list[types.TextEdit] = []
            for item in fix.get("edits") or []:
                edit_range = _range_from_json(item.get("range")) if isinstance(item, dict) else None
                if edit_range is None or not isinstance(item.get("newText"), str):
                    edits = []
                    break
                edits.append(types.TextEdit(edit_range, item["newText"]))
            if edits:
                title = str(fix.get("title") or "")
                if not title:
                    title = (
                        "Switch layout (transpose)" if diagnostic.code == "TL203" else "Replace with the correct result"
                    )
                actions.append(
                    types.CodeAction(
                        title=title,
                        kind=types.CodeActionKind.QuickFix,
                        diagnostics=[diagnostic],
                        is_preferred=True,
                        edit=edit(edits),
                    )
                )
        if diagnostic.code == "TL205":
            for name in unknown_names(diagnostic.message):
                if f"declare:{name}" in seen:
                    continue
                seen.add(f"declare:{name}")
                actions.append(
                    types.CodeAction(
                        title=f"Declare the shape of {name} (then correct the dimensions)",
                        kind=types.CodeActionKind.QuickFix,
                        diagnostics=[diagnostic],
                        edit=edit(insert_above(diagnostic.range.start.line, declaration_for(name))),
                    )
                )
        key = f"suppress:{diagnostic.code}:{diagnostic.range.start.line}"
        if key not in seen:
            seen.add(key)
            body = f"disable-next-line {diagnostic.code}"
            actions.append(
                types.CodeAction(
                    title=f"Suppress {diagnostic.code} on this line",
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=[diagnostic],
                    edit=edit(insert_above(diagnostic.range.start.line, body)),
                )
            )
    return actions


def inlay_hints(checked: Checked, segment: Segment, settings: Settings, visible: types.Range) -> list[types.InlayHint]:
    """A ✓ after each verified claim, and the shape a declaration in words (or a matrix written out by its
    entries) gives, in the visible range."""
    hints: list[types.InlayHint] = []
    first = segment.start + segment.lines.offset(visible.start)
    last = segment.start + segment.lines.offset(visible.end)

    def add(offset: int, label: str, tooltip: str) -> None:
        if first <= offset <= last and segment.start <= offset <= segment.end:
            hints.append(
                types.InlayHint(
                    position=segment.lines.position(offset - segment.start),
                    label=label,
                    tooltip=tooltip,
                    padding_left=True,
                )
            )

    if settings.verified_hints:
        for claim in checked.result.claims:
            if claim.verdict == "verified":
                add(claim.end, "✓", f"tensorlint: {claim.message or 'verified'}")
    names = checked.names
    if settings.shape_hints and names is not None:
        for binding in names.bindings:
            if binding.kind == "declared" and not binding.written_out and binding.shape:
                display = binding.key.split("@")[0]
                add(binding.end, f"{display}: {binding.shape}", "tensorlint: the shape this sentence declares")
    hints.sort(key=lambda hint: (hint.position.line, hint.position.character))
    return hints


def create_server() -> TensorlintServer:
    """The server with every feature registered (each handler is a few lines over the methods above)."""
    server = TensorlintServer()

    @server.feature(types.INITIALIZE)
    def initialize(ls: TensorlintServer, params: types.InitializeParams) -> None:
        options = params.initialization_options
        if isinstance(options, dict):
            settings = options.get("settings", options)
            if isinstance(settings, dict):
                ls.apply_settings(settings.get("tensorlint", settings))

    @server.feature(types.INITIALIZED)
    async def initialized(ls: TensorlintServer, params: types.InitializedParams) -> None:
        await ls.fetch_settings()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: TensorlintServer, params: types.DidChangeConfigurationParams) -> None:
        settings = params.settings
        if isinstance(settings, dict) and isinstance(settings.get("tensorlint"), dict):
            ls.apply_settings(settings["tensorlint"])
        else:
            await ls.fetch_settings()
        if ls.pull_diagnostics and ls._capability("workspace.diagnostics.refresh_support"):
            _quietly(ls.workspace_diagnostic_refresh(None))

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: TensorlintServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.open_text(params.text_document.uri, params.text_document.language_id)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: TensorlintServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.change_text(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE, types.SaveOptions(include_text=False))
    def did_save(ls: TensorlintServer, params: types.DidSaveTextDocumentParams) -> None:
        note = ls.note_of(params.text_document.uri)
        if note is not None and note.current() is None:
            ls.touch(note, delay=0.0, edited=False)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: TensorlintServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.close(params.text_document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_OPEN)
    def notebook_did_open(ls: TensorlintServer, params: types.DidOpenNotebookDocumentParams) -> None:
        ls.sync_notebook(params.notebook_document.uri, opened=True)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
    def notebook_did_change(ls: TensorlintServer, params: types.DidChangeNotebookDocumentParams) -> None:
        ls.sync_notebook(params.notebook_document.uri, opened=False)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_SAVE)
    def notebook_did_save(ls: TensorlintServer, params: types.DidSaveNotebookDocumentParams) -> None:
        note = ls.notes.get(params.notebook_document.uri)
        if note is not None and note.current() is None:
            ls.touch(note, delay=0.0, edited=False)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CLOSE)
    def notebook_did_close(ls: TensorlintServer, params: types.DidCloseNotebookDocumentParams) -> None:
        ls.close(params.notebook_document.uri)

    @server.feature(
        types.TEXT_DOCUMENT_DIAGNOSTIC,
        types.DiagnosticOptions(identifier=SOURCE, inter_file_dependencies=False, workspace_diagnostics=False),
    )
    async def pull_diagnostics(ls: TensorlintServer, params: types.DocumentDiagnosticParams) -> Any:
        """Pulled diagnostics: the result for the current text, once its (debounced) check is done."""
        found = await ls.wait_checked(params.text_document.uri)
        if found is None:
            return types.RelatedFullDocumentDiagnosticReport(items=[])
        _, checked = found
        if params.previous_result_id == checked.result_id:
            return types.RelatedUnchangedDocumentDiagnosticReport(result_id=checked.result_id)
        items = checked.diagnostics.get(params.text_document.uri, [])
        return types.RelatedFullDocumentDiagnosticReport(items=items, result_id=checked.result_id)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: TensorlintServer, params: types.HoverParams) -> types.Hover | None:
        """On a name, its shape and declaration; on a claim, its verdict and what is wrong with it."""
        found = await ls.wait_checked(params.text_document.uri)
        if found is None:
            return None
        note, checked = found
        segment = checked.segment(params.text_document.uri)
        if segment is None:
            return None
        await checked.wait_names()
        offset = segment.start + segment.lines.offset(params.position)
        derivative = await ls.derivative_at(note, checked, offset)
        markdown = ls.markdown_hover
        value = hover_text(checked, segment, offset, markdown, derivative)
        if value is None:
            return None
        kind = types.MarkupKind.Markdown if markdown else types.MarkupKind.PlainText
        return types.Hover(contents=types.MarkupContent(kind=kind, value=value))

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]),
    )
    async def code_action(ls: TensorlintServer, params: types.CodeActionParams) -> list[types.CodeAction] | None:
        """Quick fixes for the diagnostics the client shows: the core's fix, a declaration, a suppression."""
        note = ls.note_of(params.text_document.uri)
        if note is None or not any(d.source == SOURCE for d in params.context.diagnostics):
            return None
        segment = next((s for s in note.segments if s.uri == params.text_document.uri), None)
        if segment is None:
            return None
        checked = note.current()
        if checked is not None:
            await checked.wait_names()  # Where the math spans are, so that a directive never lands inside one.
        return code_actions(ls, params, note, segment) or None

    @server.feature(types.TEXT_DOCUMENT_INLAY_HINT, types.InlayHintOptions(resolve_provider=False))
    async def inlay_hint(ls: TensorlintServer, params: types.InlayHintParams) -> list[types.InlayHint] | None:
        """A mark after each verified claim, and the shape a sentence in words declares."""
        if not (ls.settings.verified_hints or ls.settings.shape_hints):
            return None
        found = await ls.wait_checked(params.text_document.uri)
        if found is None:
            return None
        _, checked = found
        segment = checked.segment(params.text_document.uri)
        if segment is None:
            return None
        if ls.settings.shape_hints:
            await checked.wait_names()
        return inlay_hints(checked, segment, ls.settings, params.range)

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: TensorlintServer, params: None) -> None:
        ls.shutdown_checks()

    return server


# --------------------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server over stdio (what ``tensorlint serve`` does), or over TCP for debugging.

    ``python -m tensorlint.lsp --tcp --port 2087`` serves one client on a port.
    """
    parser = argparse.ArgumentParser(prog="tensorlint serve", description="Run the tensorlint language server.")
    parser.add_argument("--stdio", action="store_true", help="talk over stdin and stdout (the default)")
    parser.add_argument("--tcp", action="store_true", help="listen on a TCP port instead (for debugging)")
    parser.add_argument("--host", default="127.0.0.1", help="the address to listen on with --tcp")
    parser.add_argument("--port", type=int, default=2087, help="the port to listen on with --tcp")
    parser.add_argument("--log-level", default="WARNING", help="server log level on stderr (default: WARNING)")
    try:
        args = parser.parse_args([] if argv is None else list(argv))
    except SystemExit as exit_request:
        return 0 if exit_request.code in (0, None) else 2
    logging.basicConfig(stream=sys.stderr, level=str(args.log_level).upper(), format="%(name)s: %(message)s")
    # Checks are CPU-bound threads; the thread reading the client's messages must get the interpreter lock
    # quickly, or an edit waits behind a running check before it can even cancel it.
    sys.setswitchinterval(0.001)
    server = create_server()
    if args.tcp:
        server.start_tcp(args.host, args.port)
    else:
        server.start_io()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
