"""The language server: ``tensorlint serve``, a thin shell over the core on pygls 2.

This is the only module that imports pygls or lsprotocol. Everything it shows comes from
``core.check_text`` (claims, verdicts, diagnostics with their fixes); this module only decides *when* to
check and converts the core's data to protocol types at the edge:

- **Notes.** A text document (Markdown, LaTeX, Quarto, R Markdown) is one note. A notebook synced by the
  client is one note too: its Markdown cells are joined, so a declaration in one cell holds in the next,
  and each finding is sent back to the cell it falls in.
- **Where.** Every check, and the other real work (the math spans hovers need, derivatives for hovers),
  runs in a checker process (``lsp_worker``, ``Checker`` here), never on the event loop: a check can hold
  its interpreter lock for seconds in one step without delaying a message. The checker keeps each note's
  ``interpret.ClaimCache`` and explanations across edits, so only what an edit touched is checked again.
- **When.** On open and save at once; on change after a debounce (``tensorlint.debounce``, 300 ms), one
  check at a time per note. Every edit bumps the note's revision and cancels the running check of the
  note (it stops at its next claim; if it has not stopped ``STOP_SECONDS`` later, its process is ended
  and started again); a result is published only if it still belongs to the current revision.
- **Answers at once.** Hovers and code actions are answered from the last results while a newer text is
  being checked: a position is mapped back through the edit since (``map_offset``). Names and shapes come
  from the core's ``FileResult.symbols``; a derivative under the cursor is worked out in the checker and
  shown when it is ready (a hover waits for it ``DERIVE_WAIT_SECONDS`` at most). Code actions are offered
  only for diagnostics this server published, and a fix is taken from the server's own result.
- **Diagnostics** are pushed (``textDocument/publishDiagnostics``, with the document version) or, when
  the client can pull them (``textDocument/diagnostic``), pulled; never both, so nothing is shown twice.
  A fix from the core travels in the diagnostic's ``data`` (as ruff does) and becomes a code action.
- **Positions.** The core speaks in code-point offsets; they become LSP positions here, in the encoding
  the client negotiated (UTF-16 unless it offers UTF-8 or UTF-32).
- **Settings.** The client's ``tensorlint.*`` settings override the project's ``pyproject.toml`` /
  ``tensorlint.toml`` as command-line flags do (``config.Resolver``), read afresh for every check.
- **Protocol.** A malformed message gets an error reply, a request id that is not a number or a string
  ``InvalidRequest`` (-32600), a request after ``shutdown`` ``InvalidRequest``; ``exit`` ends with status 0
  after ``shutdown`` and 1 without. A handler bug is a log message; a checker failure a TL900 diagnostic
  and a log message. The server keeps running.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import itertools
import logging
import os
import pickle
import re
import sys
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlparse

from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidRequest, JsonRpcMethodNotFound
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol

from tensorlint import __version__, report, rules
from tensorlint.lsp_worker import DerivativeInfo
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
# How long a derivative under the cursor may take to work out (in the background), and how long a hover
# waits for it before it shows the rest (hover must stay within 50 ms).
DERIVE_SECONDS = 10.0
DERIVE_WAIT_SECONDS = 0.03
DERIVATIVES_KEPT = 256
# How long a cancelled check may take to stop before its process is ended, and the command of that process
# (tests replace it with a checker that fails on purpose).
STOP_SECONDS = 2.0
WORKER_COMMAND = [sys.executable, "-c", "from tensorlint.lsp_worker import main; raise SystemExit(main())"]
# What a hover says of a derivative still being worked out.
PENDING = "working out its closed and index forms: hover again in a moment"

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


class WorkerGone(Exception):
    """The checker process ended (it was stopped, or it crashed) before it answered."""


class Checker:
    """The checker process (``lsp_worker``), seen from the server's event loop: requests go out framed and
    pickled, answers come back to the futures that wait for them. Started on first use and again after it
    ends; ended when a cancelled check does not stop within ``STOP_SECONDS`` (it is stuck inside one step,
    such as a regular expression over a hostile note), and when the server shuts down."""

    def __init__(self, command: Sequence[str]) -> None:
        self.command = list(command)
        self.process: asyncio.subprocess.Process | None = None
        self.starting: asyncio.Future[asyncio.subprocess.Process] | None = None
        # Answers awaited by job number; the names that follow a check, by (job, "names").
        self.waiting: dict[Any, asyncio.Future[Any]] = {}
        self.jobs = itertools.count(1)
        self.closed = False

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    async def _process(self) -> asyncio.subprocess.Process:
        if self.process is not None and self.process.returncode is None:
            return self.process
        if self.starting is None:
            self.starting = asyncio.ensure_future(self._start())
        try:
            return await asyncio.shield(self.starting)
        finally:
            if self.starting is not None and self.starting.done():
                self.starting = None

    async def _start(self) -> asyncio.subprocess.Process:
        if self.closed:
            raise WorkerGone("the server is shutting down")
        process = await asyncio.create_subprocess_exec(
            *self.command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
        )
        self.process = process
        _keep(asyncio.ensure_future(self._read(process)))
        return process

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        from tensorlint.lsp_worker import HEADER

        assert process.stdout is not None
        try:
            while True:
                header = await process.stdout.readexactly(HEADER.size)
                (length,) = HEADER.unpack(header)
                body = await process.stdout.readexactly(length)
                try:
                    message = pickle.loads(body)
                except Exception as error:  # A message this server cannot read: its request stays unanswered.
                    logger.error("unreadable answer from the checker process: %s", error)
                    continue
                key = (message[1], "names") if message[0] == "names" else message[1]
                future = self.waiting.pop(key, None)
                if future is not None and not future.done():
                    future.set_result(message)
                if message[0] == "failed" or (message[0] == "checked" and message[2] is None):
                    names = self.waiting.pop((message[1], "names"), None)  # None will come.
                    if names is not None and not names.done():
                        names.set_result(("names", message[1], None, None))
        except (asyncio.IncompleteReadError, ConnectionError) as error:
            logger.info("the checker process ended: %s", error)
        finally:
            if self.process is process:
                self.process = None
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            for future in list(self.waiting.values()):
                if not future.done():
                    future.set_exception(WorkerGone("the checker process ended"))
            self.waiting.clear()

    def submit(self, kind: str, *arguments: Any) -> tuple[int, asyncio.Future[Any]]:
        """Send a request; its job number and the future of its answer (for a check, ``names(job)`` is the
        future of the names that follow it)."""
        from tensorlint.lsp_worker import frame

        job = next(self.jobs)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self.waiting[job] = future
        if kind == "check":
            names: asyncio.Future[Any] = loop.create_future()
            names.add_done_callback(lambda done: done.cancelled() or done.exception())  # Often not awaited.
            self.waiting[(job, "names")] = names

        async def send() -> None:
            try:
                process = await self._process()
                assert process.stdin is not None
                process.stdin.write(frame((kind, job, *arguments)))
                await process.stdin.drain()
            except Exception as error:
                for key in (job, (job, "names")):
                    waiting = self.waiting.pop(key, None)
                    if waiting is not None and not waiting.done():
                        waiting.set_exception(WorkerGone(str(error)))

        _keep(asyncio.ensure_future(send()))
        return job, future

    def names(self, job: int) -> asyncio.Future[Any] | None:
        return self.waiting.get((job, "names"))

    def cancel(self, job: int, future: asyncio.Future[Any]) -> None:
        """Stop a check at its next claim; end the process if it has not stopped ``STOP_SECONDS`` later."""
        from tensorlint.lsp_worker import frame

        process = self.process
        if process is None or process.stdin is None or future.done():
            return
        with contextlib.suppress(Exception):
            process.stdin.write(frame(("cancel", job)))

        def stuck() -> None:
            if not future.done() and self.process is process:
                logger.warning("a cancelled check did not stop: the checker process is restarted")
                with contextlib.suppress(ProcessLookupError):
                    process.kill()

        asyncio.get_running_loop().call_later(STOP_SECONDS, stuck)

    def close(self) -> None:
        self.closed = True
        process = self.process
        if process is not None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()


_TASKS: set[asyncio.Future[Any]] = set()


def _keep(task: asyncio.Future[Any]) -> None:
    """Hold a background task until it is done (the event loop keeps only weak references)."""
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)


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
    names_future: asyncio.Future[Any] | None = None  # The checker's answer with the math spans.

    def segment(self, uri: str) -> Segment | None:
        return next((segment for segment in self.segments if segment.uri == uri), None)

    async def wait_names(self) -> None:
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
    running: tuple[int, asyncio.Future[Any]] | None = None  # The check in the checker process, if any.
    checked: Checked | None = None
    named: Checked | None = None  # The newest result whose name index is built, for hovers.
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

    def offset_at(self, uri: str, position: types.Position) -> int | None:
        """The offset in the note's current text of ``position`` in the document ``uri``."""
        segment = next((segment for segment in self.segments if segment.uri == uri), None)
        return None if segment is None else segment.start + segment.lines.offset(position)


def map_offset(offset: int, new: str, old: str) -> int | None:
    """Where ``offset`` of the text ``new`` was in the text ``old`` it was edited from, or ``None`` inside the
    part that changed. Both texts share a prefix and a suffix around the edited part, found by bisection
    over slice comparisons (C speed, no Python loop over characters)."""
    if new is old or new == old:
        return offset
    shortest = min(len(new), len(old))
    low, high = 0, shortest
    while low < high:  # The longest common prefix.
        middle = (low + high + 1) // 2
        if new[:middle] == old[:middle]:
            low = middle
        else:
            high = middle - 1
    prefix = low
    low, high = 0, shortest - prefix
    while low < high:  # The longest common suffix that does not overlap the prefix.
        middle = (low + high + 1) // 2
        if new[len(new) - middle :] == old[len(old) - middle :]:
            low = middle
        else:
            high = middle - 1
    suffix = low
    if offset < prefix:
        return offset
    if offset >= len(new) - suffix:
        return offset - len(new) + len(old)
    return None


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
# Names: where each is given its shape, from the core's ``FileResult.symbols``
# --------------------------------------------------------------------------------------------------------
# The core lists every name the note declares or defines (``model.Symbol``: name, kind, shape, range, and
# where the trust work adds them, whether the shape was stated or guessed, its line and its scope). Hover
# also needs the math spans, to find the name or derivative under the cursor: they come from ``extract``,
# run once per result in a worker, after the diagnostics are published.


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
    guessed: bool = False  # the core guessed the shape from how the name is used (not stated by the note)
    line: int | None = None  # 1-based, when the core gives it


@dataclass
class _NameIndex:
    spans: list[Any]
    bindings: list[Binding]
    unify_fonts: bool

    def _nodes_at(self, offset: int) -> tuple[Any, int, list[Any]] | None:
        """The math span around ``offset``, the offset within it, and the syntax nodes that contain it."""
        from tensorlint import syntax
        from tensorlint.parse import parse_span

        starts = [span.start for span in self.spans]
        index = bisect.bisect_right(starts, offset) - 1
        span = self.spans[index] if index >= 0 else None
        if span is None or not span.start <= offset < span.end:
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
            if binding.kind == "declared" and binding.start <= offset and not binding.guessed:
                latest[binding.key] = binding
        restated = []
        for key, binding in latest.items():
            statement = _declaration_latex(key, binding.dims)
            if statement is not None:
                restated.append(statement)
        return restated

    def bindings_of(self, key: str) -> list[Binding]:
        return [binding for binding in self.bindings if binding.key == key]


def name_index(
    math: Sequence[Any], directives: Sequence[tuple[int, int]], symbols: Sequence[Any], unify_fonts: bool
) -> _NameIndex:
    """The note's math spans and directive ranges (``extract``'s, from the checker process) with a binding
    for each of the core's symbols."""
    spans = sorted(math, key=lambda span: span.start)
    starts = [span.start for span in spans]

    def span_holding(offset: int) -> Any:
        index = bisect.bisect_right(starts, offset) - 1
        return spans[index] if index >= 0 and spans[index].start <= offset < spans[index].end else None

    bindings: list[Binding] = []
    for symbol in symbols:
        start, end = int(symbol.start), int(symbol.end)
        if any(first <= start <= last for first, last in directives):
            source = "directive"
        elif span_holding(start) is not None:
            source = "math"
        else:
            # Told in words: the fact starts at its sentence; the name is the first math span from there.
            source = "prose"
            index = bisect.bisect_left(starts, start)
            if index < len(spans) and spans[index].start <= start + 200:
                start, end = spans[index].start, spans[index].end
        kind = "defined" if symbol.kind == "defined" else "declared"
        function = symbol.kind == "function"
        shape = "function" if function else (symbol.shape or None)
        stated = getattr(symbol, "source", None)
        line = getattr(symbol, "line", None)
        bindings.append(
            Binding(
                key=symbol.name,
                kind=kind,
                shape=shape,
                source=source,
                start=start,
                end=end,
                written_out=source != "prose",
                dims=None if function or kind == "defined" else _dims_of(symbol.shape),
                guessed=stated == "guessed",
                line=line if isinstance(line, int) else None,
            )
        )
    return _NameIndex(spans, bindings, unify_fonts)


def _dims_of(shape: str) -> tuple[Any, ...] | None:
    """The dimensions a shape text of the core (``shapes.show_shape``) spells: ``n×m matrix`` → (n, m),
    ``n-vector`` → (n, 1), ``1×n row vector`` → (1, n), ``scalar`` → (); ``None`` for anything else."""
    if shape == "scalar":
        return ()
    if shape.endswith("-vector") and " " not in shape:
        return (_dim(shape[: -len("-vector")]), 1)
    size, _, kind = shape.partition(" ")
    if kind == "row vector" and size.startswith("1×"):
        return (1, _dim(size[2:]))
    if kind in ("matrix", "tensor"):
        return tuple(_dim(part) for part in size.split("×"))
    return None


def _dim(text: str) -> Any:
    return int(text) if text.isdigit() else text


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


# --------------------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------------------


class _Protocol(LanguageServerProtocol):
    """pygls' protocol, with the replies JSON-RPC and LSP ask for where pygls stays silent:

    - a request whose parameters cannot be read gets an error reply (pygls drops it, and the client would
      wait forever);
    - a request whose ``id`` is neither a number nor a string (``"id": {}``) gets ``InvalidRequest``
      (-32600) with a null id, as JSON-RPC 2.0 says for an id that cannot be read;
    - a request after ``shutdown`` gets ``InvalidRequest`` (pygls drops it).
    """

    def structure_message(self, data: dict[str, Any]) -> Any:
        if isinstance(data, dict) and "jsonrpc" in data and "id" in data and "method" in data:
            request_id = data["id"]
            if isinstance(request_id, bool) or not isinstance(request_id, (int, str)):
                error = JsonRpcInvalidRequest("the request id must be a number or a string")
                # Written out: pygls leaves a null id out of a reply, and JSON-RPC wants it there.
                reply = {"jsonrpc": "2.0", "id": None, "error": {"code": error.code, "message": error.message}}
                self._send_data(reply)
                raise error
        try:
            return super().structure_message(data)
        except JsonRpcException as error:
            if isinstance(data, dict) and "id" in data and "method" in data:
                self._send_response(data["id"], error=error.to_response_error())
            raise

    def handle_message(self, message: Any) -> None:
        method = getattr(message, "method", None)
        if self._shutdown and method not in (None, types.EXIT) and getattr(message, "id", None) is not None:
            error = JsonRpcInvalidRequest(f"the server is shutting down: {method} is not accepted after shutdown")
            self._send_response(message.id, error=error.to_response_error())
            return
        super().handle_message(message)


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
        # Every check, name index and derivative runs in the checker process, never on the event loop.
        self.checker = Checker(WORKER_COMMAND)
        self.exit_code = 0
        self._reported: set[str] = set()  # Configuration problems already logged.
        self.derivatives: OrderedDict[tuple[Any, ...], DerivativeInfo | None] = OrderedDict()  # LRU
        self.deriving: dict[tuple[Any, ...], asyncio.Future[Any]] = {}
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
                self.forget(note)  # Verdicts depend on trials and tolerance: start afresh.
                self.touch(note, delay=0.0)
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
        note.revision += 1
        self._stop(note)
        self.forget(note)
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
        for the previous text stale and stops a running check of the note."""
        if edited or note.current() is None:
            note.revision += 1
            note.ready.clear()
            self._stop(note)
        task = asyncio.ensure_future(self._check_later(note, note.revision, delay))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _stop(self, note: Note) -> None:
        """A newer text supersedes the check that is running: it stops at its next claim (or its process
        is ended, if it does not)."""
        if note.running is not None:
            self.checker.cancel(*note.running)

    def forget(self, note: Note) -> None:
        """Drop the verdicts the checker keeps for the note."""
        if not self.checker.closed:
            _, future = self.checker.submit("forget", note.key)
            future.add_done_callback(lambda done: done.cancelled() or done.exception())

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
        async with note.lock:
            if note.revision != revision or note.closed or note.current() is not None:
                return
            checked = await self._check(note, revision)
        if checked is not None:
            await self._index_names(note, checked)

    async def _check(self, note: Note, revision: int) -> Checked | None:
        """Check the note's text of ``revision`` in the checker process and publish the result, unless it is
        stale by then. A check lost with its process (ended because another check was stuck) is tried
        again."""
        segments = list(note.segments)
        text, path = note.text, note.path
        effective = self.effective(note)
        result: FileResult | None = None
        failure: str | None = None
        names: asyncio.Future[Any] | None = None
        if effective.excluded_by is not None:
            # The project excludes this file (``exclude`` in its configuration): nothing is reported.
            result = FileResult(path, text)
        for _ in range(3):
            if result is not None or note.revision != revision or note.closed or self.checker.closed:
                break
            job, future = self.checker.submit("check", note.key, path, text, effective.config)
            names = self.checker.names(job)
            note.running = (job, future)
            try:
                answer = await future
            except WorkerGone as error:
                logger.info("check of %s lost: %s", path, error)
                continue
            finally:
                if note.running is not None and note.running[0] == job:
                    note.running = None
            if answer[0] == "checked":
                result, failure = answer[2], answer[3]
                if result is None:
                    return None  # Cancelled: the newer text has its own check.
            else:
                failure = str(answer[2])
                diagnostic = Diagnostic("TL900", "internal checker error: the checker process failed", 0, 0, "warning")
                result = FileResult(path, text, diagnostics=[diagnostic])
        if result is None or note.revision != revision or note.closed:
            return None  # Stopped, or the text changed meanwhile: the newer check publishes.
        if failure is not None:
            self.log(f"tensorlint: the checker failed on {path}:\n{failure}", types.MessageType.Error)
        for diagnostic in result.diagnostics:
            if diagnostic.code == "TL900":
                self.log(f"tensorlint: {path}: {diagnostic.message}", types.MessageType.Warning)
        result = report.apply_selection(result, effective.selection)
        self.generation += 1
        diagnostics = convert_result(result, segments)
        checked = Checked(revision, text, result, segments, diagnostics, str(self.generation), effective.config)
        checked.names_future = names
        previous = note.named
        if previous is not None and previous.text == text and previous.config == checked.config:
            checked.names = previous.names  # The same text (an edit undone): the same names.
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
        """The name index for hover and inlay hints, from the math spans the checker sends right after the
        diagnostics; hovers use the newest result that has one (``Note.named``)."""
        try:
            if checked.names is not None:
                note.named = checked
                return
            future = checked.names_future
            if future is None:
                _, future = self.checker.submit("names", note.path, checked.text)
            try:
                answer = await future
            except WorkerGone:
                return
            if answer[0] != "names" or answer[2] is None:
                return
            names = name_index(answer[2], answer[3], checked.result.symbols, checked.config.unify_fonts)
            checked.names = names
            if note.named is None or note.named.revision <= checked.revision:
                note.named = checked
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

    async def first_result(self, uri: str) -> Note | None:
        """The note holding ``uri``, once it has a result: only before the first result of a note (and the
        name index that follows it at once) is there anything to wait for."""
        note = self.note_of(uri)
        if note is None or note.closed:
            return None
        if note.checked is None:
            found = await self.wait_checked(uri)
            if found is None:
                return None
            note = found[0]
        if note.named is None and note.checked is not None:
            await note.checked.wait_names()
        return note

    async def derivative_at(self, names: _NameIndex, checked: Checked, offset: int) -> DerivativeInfo | str | None:
        """The derivative around ``offset``, derived under the declarations in force there, in the layout
        of the claim it is part of. A hover waits for it only briefly (``DERIVE_WAIT_SECONDS``): one that is
        not ready goes on in the background and is remembered for the next hover (``PENDING``)."""
        found = names.derivative_at(offset)
        if found is None:
            return None
        claim = claim_at(checked, offset)
        layout = claim.layout if claim is not None else None
        lets = tuple(names.declarations_before(offset))
        config = checked.config
        key = (*found, lets, layout, config)
        if key in self.derivatives:
            self.derivatives.move_to_end(key)
            return self.derivatives[key]
        future = self.deriving.get(key)
        if future is None:
            _, answer = self.checker.submit("derive", *found, lets, layout, config)
            future = asyncio.ensure_future(asyncio.wait_for(answer, timeout=DERIVE_SECONDS))
            self.deriving[key] = future

            def remember(done: asyncio.Future[Any]) -> None:
                self.deriving.pop(key, None)
                if not done.cancelled() and done.exception() is None:
                    self.derivatives[key] = _derived(done.result())
                    while len(self.derivatives) > DERIVATIVES_KEPT:
                        self.derivatives.popitem(last=False)

            future.add_done_callback(remember)
        try:
            return _derived(await asyncio.wait_for(asyncio.shield(future), timeout=DERIVE_WAIT_SECONDS))
        except asyncio.TimeoutError:
            return PENDING if not future.done() else None
        except Exception:
            return None

    def shutdown_checks(self) -> None:
        for note in self.notes.values():
            note.closed = True
            note.revision += 1
        self.checker.close()


def _derived(answer: Any) -> DerivativeInfo | None:
    return answer[2] if isinstance(answer, tuple) and answer[0] == "derived" else None


def _quietly(request: Any) -> None:
    """A request to the client whose answer does not matter: an error reply is dropped, not logged later."""
    with contextlib.suppress(Exception):
        request.add_done_callback(lambda done: done.cancelled() or done.exception())


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
    checked: Checked | None,
    offset: int | None,
    markdown: bool,
    derivative: DerivativeInfo | str | None = None,
    named: tuple[Checked, int] | None = None,
) -> str | None:
    """What hovering shows: the name under it (shape, where the note states it) and the derivative around
    it (shape, closed form, index form), from ``named`` (a result with a name index, and the offset in its
    text), and the claim (verdict, what is wrong) at ``offset`` of ``checked``. Either may be missing: the
    newest result may have no name index yet, and a hover inside an edited part has no claim."""
    sections: list[str] = []
    if named is None and checked is not None and checked.names is not None and offset is not None:
        named = (checked, offset)

    def code(value: str) -> str:
        value = " ".join(value.split())
        if not markdown:
            return value
        fence = "``" if "`" in value else "`"
        return f"{fence}{value}{fence}"

    def where(binding: Binding, result: Checked, here: Segment) -> str:
        """``line 3 in words: `let $W$ be …` `` (in a notebook, the line of the cell it is in)."""
        holder = segment_at(result.segments, binding.start)
        line = holder.lines.index.position(binding.start - holder.start)[0]
        cell = " of another cell" if holder is not here else ""
        source = {"math": "", "prose": " in words", "directive": " by a directive"}[binding.source]
        snippet = holder.lines.index.line_text(line).strip()
        if len(snippet) > 100:
            snippet = snippet[:97] + "…"
        return f"line {line}{cell}{source}: {code(snippet)}"

    names = named[0].names if named is not None else None
    found = names.name_at(named[1]) if names is not None and named is not None else None
    if names is not None and named is not None and found is not None:
        result, at = named
        here = segment_at(result.segments, at)

        def stated(binding: Binding) -> str:
            return where(binding, result, here)

        key, _, _ = found
        display = key.split("@")[0]
        bindings = names.bindings_of(key)
        before = [binding for binding in bindings if binding.start <= at]
        in_force = before[-1] if before else None
        declared = [binding for binding in before if binding.kind == "declared"]
        lines = []
        if declared:
            last = declared[-1]
            if last.guessed:
                lines.append(f"{code(display)}: {last.shape}, guessed from usage (the note does not state it)")
            else:
                lines.append(f"{code(display)}: {last.shape}, stated on {stated(last)}")
        if in_force is not None and in_force.kind == "defined":
            lines.append(f"defined on {stated(in_force)}")
        if not lines:
            later = [binding for binding in bindings if binding.start > at and not binding.guessed]
            if later:
                lines.append(f"{code(display)}: stated later, on {stated(later[0])}")
            else:
                lines.append(f"{code(display)}: shape not stated in the note; guessed from usage")
        if len([binding for binding in bindings if binding.kind == "declared" and not binding.guessed]) > 1:
            lines.append("(stated more than once in this note: the statement before this point holds)")
        sections.append("\n\n".join(lines))

    if isinstance(derivative, str):
        sections.append(derivative)
    elif derivative is not None:
        title = f"**{derivative.title}**" if markdown else derivative.title
        lines = [f"{title}: {derivative.shape}"]
        if derivative.closed_form is not None:
            label = "as ∂vec F/∂vec Xᵀ" if "vec-jacobian" in derivative.shape else "closed form"
            lines.append(f"{label}: {code(derivative.closed_form)}")
        if derivative.index_form is not None:
            lines.append(f"index form: {code(derivative.index_form)}")
        lines.extend(derivative.notes)
        sections.append("\n\n".join(lines))

    claim = claim_at(checked, offset) if checked is not None and offset is not None else None
    if checked is not None and claim is not None:
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


def _diagnostic_key(diagnostic: types.Diagnostic) -> tuple[Any, ...]:
    start, end = diagnostic.range.start, diagnostic.range.end
    return (diagnostic.code, diagnostic.message, start.line, start.character, end.line, end.character)


def _edits_from_json(fix: Any) -> list[types.TextEdit]:
    """The edits of a fix as this server put it in a diagnostic's ``data``; none if any is unreadable."""
    edits: list[types.TextEdit] = []
    for item in fix.get("edits") or [] if isinstance(fix, dict) else []:
        edit_range = _range_from_json(item.get("range")) if isinstance(item, dict) else None
        if edit_range is None or not isinstance(item.get("newText"), str):
            return []
        edits.append(types.TextEdit(edit_range, item["newText"]))
    return edits


def code_actions(
    ls: TensorlintServer, params: types.CodeActionParams, note: Note, segment: Segment, checked: Checked
) -> list[types.CodeAction]:
    """For each diagnostic in the request that this server published (in its last result for the note): the
    core's fix (offered only while the text is the one it was computed for), a declaration directive for
    each name a TL205 hint says has no shape, and a ``disable-next-line`` directive. A diagnostic the server
    did not produce, even one that says it comes from tensorlint, gets nothing; the fix always comes from
    the server's own result, never from the ``data`` a client sends back."""
    uri = params.text_document.uri
    actions: list[types.CodeAction] = []
    tex = is_tex(note.path)
    ours = {_diagnostic_key(diagnostic): diagnostic for diagnostic in checked.diagnostics.get(uri, [])}
    named = checked if checked.names is not None else note.named
    spans = named.names.spans if named is not None and named.names is not None else None
    checked_segment = checked.segment(uri)
    fresh = checked_segment is not None and checked_segment.text == segment.text

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
        own = ours.get(_diagnostic_key(diagnostic)) if diagnostic.source == SOURCE else None
        if own is None or not isinstance(own.code, str):
            continue
        data = own.data if isinstance(own.data, dict) else {}
        fix = data.get("fix")
        edits = _edits_from_json(fix) if fresh else []
        if edits and isinstance(fix, dict):
            title = str(fix.get("title") or "")
            if not title:
                title = "Switch layout (transpose)" if own.code == "TL203" else "Replace with the correct result"
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
        """On a name, its shape and where the note states it; on a claim, its verdict and what is wrong with
        it. Answered at once from the last results, even while the note is being checked again: a position
        is mapped back through the edits since (``map_offset``); inside an edited part there is nothing to
        say. The claim comes from the newest result, the name from the newest one with a name index."""
        uri = params.text_document.uri
        note = await ls.first_result(uri)
        if note is None or note.checked is None:
            return None
        now = note.offset_at(uri, params.position)
        if now is None:
            return None
        text = note.text
        checked, named = note.checked, note.checked if note.checked.names is not None else note.named

        def mapped(result: Checked | None) -> int | None:
            segment = result.segment(uri) if result is not None else None
            if result is None or segment is None:
                return None
            offset = map_offset(now, text, result.text)
            return offset if offset is not None and segment.start <= offset <= segment.end else None

        offset, named_offset = mapped(checked), mapped(named)
        names = named.names if named is not None and named_offset is not None else None
        derivative = None
        if names is not None and named is not None and named_offset is not None:
            derivative = await ls.derivative_at(names, named, named_offset)
        markdown = ls.markdown_hover
        pair = (named, named_offset) if named is not None and named_offset is not None else None
        value = hover_text(checked, offset, markdown, derivative, pair)
        if value is None:
            return None
        kind = types.MarkupKind.Markdown if markdown else types.MarkupKind.PlainText
        return types.Hover(contents=types.MarkupContent(kind=kind, value=value))

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]),
    )
    async def code_action(ls: TensorlintServer, params: types.CodeActionParams) -> list[types.CodeAction] | None:
        """Quick fixes for the diagnostics this server published and the client shows: the core's fix, a
        declaration, a suppression. Answered at once from the last results."""
        note = ls.note_of(params.text_document.uri)
        if note is None or note.checked is None:
            return None
        segment = next((s for s in note.segments if s.uri == params.text_document.uri), None)
        if segment is None:
            return None
        checked = note.checked
        if note.named is None:
            # Where the math spans are, so that a directive never lands inside one: only the first result
            # of a note has none yet, and its index is a moment away.
            await checked.wait_names()
        return code_actions(ls, params, note, segment, checked) or None

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

    @server.feature(types.EXIT)
    def exit_(ls: TensorlintServer, params: None) -> None:
        """``exit``: status 0 after ``shutdown``, 1 without it (as LSP says); pygls ends the loop."""
        ls.exit_code = 0 if ls.protocol._shutdown else 1
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
        # pygls reads stdin in a worker thread that may still be blocked in a read, which would hold the
        # interpreter open until the client closes the pipe: after ``exit``, end at once with its status.
        server.checker.close()
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(server.exit_code)
    return server.exit_code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
