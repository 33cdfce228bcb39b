"""Step 1 of the pipeline: find the math in a note, the prose around it and the directive comments.

``extract(path, text)`` picks the format from the file name (``.tex`` is LaTeX, ``.ipynb`` a Jupyter
notebook, anything else Markdown) and returns a ``Document`` whose positions are code-point offsets into
``text``. It is pure and never raises: what it cannot read becomes a diagnostic in ``Document.problems``.

What a span holds:

- ``text`` is the LaTeX between the delimiters (``$``, ``$$``, ``\\(``, ``\\[``), or, for an environment
  (``equation``, ``align*``, ...), its body between ``\\begin{…}`` and ``\\end{…}``, with
  ``environment`` naming it, star included. Nested ``aligned``/``split`` stay inside the body.
- ``display`` is true for ``$$``, ``\\[`` and every environment but ``math``.
- ``offsets`` is ``None`` exactly when ``text == document[start:end]``. It is set when the text is not a
  plain slice of the file: JSON escapes in a notebook, container prefixes (``> ``, list indentation) inside
  a multi-line span, Windows line ends, LaTeX comments dropped from the math, and expanded macros (each
  character a macro produces sits at the macro's backslash; its arguments keep their own offsets).

What is dropped: empty math, StackExchange's comment markers ``$\\begingroup$``/``$\\endgroup$``, and
math that only defines macros (``$\\newcommand{\\R}{\\mathbb{R}}$``, common at the top of notebooks):
its definitions apply to the math after it, as do ``\\newcommand``/``\\def`` in a LaTeX preamble.

Prose: one ``Prose`` per paragraph, heading, list-item paragraph or table cell (Markdown) or per
paragraph (LaTeX), with each math span replaced by ``$k$`` (``k`` indexes ``Document.spans``). Markdown
markup (emphasis, links) is left out; a literal dollar is written ``\\$`` so it never reads as a
placeholder.

Markdown is read by markdown-it-py with the mdit-py-plugins ``dollarmath`` and ``amsmath`` rules. It
gives line ranges only, so the rules are wrapped to remember where each piece of math starts inside the
text they parse, and that text is aligned line by line with the file (see ``_MarkdownWalker.align``).
LaTeX is read by a small scanner: it only needs to tell math, comments, verbatim text and macro
definitions apart.
"""

from __future__ import annotations

import bisect
import functools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from itertools import accumulate
from typing import TYPE_CHECKING, Any, Protocol

from tensorlint.model import Diagnostic, Directive, Document, Edit, FileResult, Fix, MathSpan, Prose

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.rules_block import StateBlock
    from markdown_it.rules_inline import StateInline
    from markdown_it.token import Token

    InlineRule = Callable[[StateInline, bool], bool]
    BlockRule = Callable[[StateBlock, int, int, bool], bool]


def extract(path: str, text: str, macros: str = "") -> Document:
    """Find the math spans, prose and directives of one document; never raises.

    ``macros`` is the text of files the note takes macros from (``Config.macros``): its macro definitions
    apply to all the note's math, before the note's own.
    """
    try:
        kind = _format_of(path)
        if kind == "notebook":
            found = _extract_notebook(text)
        elif kind == "latex":
            found = _extract_latex(text)
        else:
            found = _extract_markdown_document(text)
        if macros:
            found.definitions[:0] = [(-1, macro) for macro in _definitions_in(_strip_comments(macros))]
        return _finish(path, text, found)
    except Exception as error:  # The core never raises on bad input.
        detail = f"{type(error).__name__}: {error}"
        problem = Diagnostic("TL900", f"cannot extract math: {detail}", 0, 0, "warning")
        return Document(path=path, text=text, problems=[problem])


def _format_of(path: str) -> str:
    lowered = path.lower()
    if lowered.endswith(".ipynb"):
        return "notebook"
    if lowered.endswith((".tex", ".latex", ".ltx")):
        return "latex"
    return "markdown"


# ---------------------------------------------------------------------------------------------------
# What the format readers hand to ``_finish``
# ---------------------------------------------------------------------------------------------------


@dataclass(eq=False)
class _Span:
    """A span before macro expansion and renumbering; ``offsets`` is ``None`` when it is ``start + k``."""

    text: str
    start: int
    end: int
    display: bool
    environment: str | None = None
    offsets: list[int] | None = None

    def offset_list(self) -> list[int]:
        if self.offsets is not None:
            return self.offsets
        return list(range(self.start, self.start + len(self.text)))


@dataclass
class _Paragraph:
    """Prose whose math is still referenced by object, to be numbered once the spans are final."""

    pieces: list[str | _Span]
    start: int
    end: int


@dataclass(frozen=True)
class _Macro:
    name: str
    arguments: int
    default: str | None
    body: str


@dataclass
class _Found:
    spans: list[_Span] = field(default_factory=list)
    paragraphs: list[_Paragraph] = field(default_factory=list)
    directives: list[Directive] = field(default_factory=list)
    problems: list[Diagnostic] = field(default_factory=list)
    # Macros defined outside math (a LaTeX preamble), with the offset of their definition.
    definitions: list[tuple[int, _Macro]] = field(default_factory=list)


class _Relocation(Protocol):
    """Maps offsets in a derived text (normalized line ends, an unescaped JSON string) to the file."""

    def start(self, position: int) -> int:
        """File offset of the character at ``position``."""
        ...

    def end(self, position: int) -> int:
        """File offset just past the character before ``position``."""
        ...

    def map_range(self, start: int, end: int) -> list[int] | None:
        """File offsets of the characters ``start`` to ``end``; None when they are consecutive."""
        ...


class _LineEndRelocation:
    """From text whose ``\\r\\n`` became ``\\n`` back to the original text."""

    def __init__(self, joined_newlines: list[int]) -> None:
        # Normalized positions of the "\n" characters that each lost the "\r" before them.
        self.joined_newlines = joined_newlines

    def start(self, position: int) -> int:
        return position + bisect.bisect_right(self.joined_newlines, position)

    def end(self, position: int) -> int:
        return self.start(position - 1) + 1 if position > 0 else self.start(0)

    def map_range(self, start: int, end: int) -> list[int] | None:
        joined = self.joined_newlines
        if bisect.bisect_left(joined, start) == bisect.bisect_left(joined, end):
            return None
        return [self.start(position) for position in range(start, end)]


class _RunRelocation:
    """From an unescaped string back to the file, through runs of characters.

    A run is ``(text offset, file offset, length, width)``: its characters are ``width`` file characters
    each, so a plain stretch is one run of width 1 and an escape such as ``\\n`` one run of length 1.
    """

    def __init__(self, runs: list[tuple[int, int, int, int]], tail: int) -> None:
        self.text_starts = [run[0] for run in runs]
        self.runs = runs
        self.tail = tail

    def start(self, position: int) -> int:
        index = bisect.bisect_right(self.text_starts, position) - 1
        if index < 0:
            return self.runs[0][1] if self.runs else self.tail
        text_start, file_start, length, width = self.runs[index]
        if position >= text_start + length:
            return self.tail if index + 1 == len(self.runs) else self.runs[index + 1][1]
        return file_start + (position - text_start) * width

    def end(self, position: int) -> int:
        if position <= 0:
            return self.start(0)
        index = bisect.bisect_right(self.text_starts, position - 1) - 1
        if index < 0:
            return self.start(0)
        text_start, file_start, length, width = self.runs[index]
        inside = min(position - 1 - text_start, length - 1)
        return file_start + (inside + 1) * width

    def map_range(self, start: int, end: int) -> list[int] | None:
        index = max(bisect.bisect_right(self.text_starts, start) - 1, 0)
        if index < len(self.runs):
            text_start, _, length, width = self.runs[index]
            if width == 1 and text_start <= start and end <= text_start + length:
                return None
        result: list[int] = []
        position = start
        while position < end and index < len(self.runs):
            text_start, file_start, length, width = self.runs[index]
            stop = min(end, text_start + length)
            if position < stop:
                base = file_start - text_start * width
                result.extend(range(base + position * width, base + stop * width, width))
                position = stop
            index += 1
        result.extend([self.tail] * (end - position))
        return result


def _relocate(found: _Found, relocation: _Relocation) -> _Found:
    moved: dict[int, _Span] = {}
    spans = []
    for span in found.spans:
        if span.offsets is None:
            offsets = relocation.map_range(span.start, span.start + len(span.text))
        else:
            offsets = [relocation.start(offset) for offset in span.offsets]
        new_span = _Span(
            span.text,
            relocation.start(span.start),
            relocation.end(span.end),
            span.display,
            span.environment,
            offsets,
        )
        moved[id(span)] = new_span
        spans.append(new_span)
    paragraphs = [
        _Paragraph(
            [moved.get(id(piece), piece) if isinstance(piece, _Span) else piece for piece in paragraph.pieces],
            relocation.start(paragraph.start),
            relocation.end(paragraph.end),
        )
        for paragraph in found.paragraphs
    ]
    directives = [
        Directive(directive.body, relocation.start(directive.start), relocation.end(directive.end))
        for directive in found.directives
    ]
    problems = [
        Diagnostic(
            problem.code,
            problem.message,
            relocation.start(problem.start),
            relocation.end(problem.end) if problem.end > problem.start else relocation.start(problem.start),
            problem.severity,
            problem.fix,
        )
        for problem in found.problems
    ]
    definitions = [(relocation.start(position), macro) for position, macro in found.definitions]
    return _Found(spans, paragraphs, directives, problems, definitions)


# ---------------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------------

# The top-level environments the amsmath plugin reads as blocks; inside a paragraph only those that
# put TeX in math mode by themselves are math.
_MARKDOWN_INLINE_ENVIRONMENTS = (
    "equation",
    "align",
    "gather",
    "multline",
    "eqnarray",
    "alignat",
    "flalign",
    "displaymath",
    "math",
)
_AMSMATH_ENVIRONMENTS = (
    *_MARKDOWN_INLINE_ENVIRONMENTS[:-2],
    "matrix",
    "pmatrix",
    "bmatrix",
    "Bmatrix",
    "vmatrix",
    "Vmatrix",
)
_AMSMATH_BEGIN = re.compile(r"\\begin\{(" + "|".join(_AMSMATH_ENVIRONMENTS) + r")(\*?)\}")
_INLINE_ENVIRONMENT_BEGIN = re.compile(r"\\begin\{(" + "|".join(_MARKDOWN_INLINE_ENVIRONMENTS) + r")(\*?)\}")
_ALIGNAT_ARGUMENT = re.compile(r"\s*\{[^{}]*\}")
# ``Ruler.at`` replaces a rule's options too, so the amsmath rule's own list is repeated here.
_AMSMATH_ALT = ["paragraph", "reference", "blockquote", "list", "footnote_def"]
_MARKDOWN_DIRECTIVE = re.compile(r"<!--[^\S\n]*tensorlint:(.*?)-->", re.DOTALL)
_INLINE_MATH_DISPLAY = {
    "math_inline": False,
    "math_inline_double": True,
    "tl_math_paren": False,
    "tl_math_bracket": True,
}

_markdown_parser_instance: MarkdownIt | None = None


def _markdown_parser() -> MarkdownIt:
    global _markdown_parser_instance
    if _markdown_parser_instance is None:
        _markdown_parser_instance = _build_markdown_parser()
    return _markdown_parser_instance


def _build_markdown_parser() -> MarkdownIt:
    from markdown_it import MarkdownIt
    from markdown_it.rules_inline import html_inline
    from mdit_py_plugins.amsmath import amsmath_block, amsmath_plugin
    from mdit_py_plugins.dollarmath import dollarmath_plugin
    from mdit_py_plugins.dollarmath.index import math_block_dollar, math_inline_dollar

    # Spaces inside dollars are allowed, as MathJax on StackExchange allows them; a digit right after
    # the closing dollar is not, so "costs $5 and $10" stays prose. Blank lines end ``$$`` as in TeX,
    # which also keeps an unclosed ``$$`` from scanning the rest of the file.
    settings = {"allow_space": True, "allow_digits": False, "double_inline": True}
    parser = MarkdownIt("commonmark", {"html": True}).enable("table")
    parser.use(dollarmath_plugin, allow_blank_lines=False, **settings)
    parser.use(amsmath_plugin)
    inline_dollar = _dollar_at_start(math_inline_dollar(settings["allow_space"], settings["allow_digits"], True))
    parser.inline.ruler.at("math_inline", _remember_inline_range(inline_dollar))
    parser.inline.ruler.at("html_inline", _remember_inline_range(html_inline))
    parser.inline.ruler.before("escape", "tl_latex_math", _inline_latex_math)
    block_dollar = math_block_dollar(allow_labels=True, allow_blank_lines=False)
    parser.block.ruler.at("math_block", _remember_block_segments(block_dollar))
    parser.block.ruler.at("amsmath", _guard_amsmath(amsmath_block), {"alt": _AMSMATH_ALT})
    return parser


def _dollar_at_start(rule: InlineRule) -> InlineRule:
    """Work around an mdit-py-plugins 0.7.0 bug in ``dollarmath``: with ``allow_digits=False`` it reads the
    character before a ``$`` at position 0 as ``src[-1]``, the last character of the paragraph, so a
    paragraph, list item or heading that starts with ``$…$`` and ends in a digit (``1. $(AB)^T = A^T B^T$
    for n = 3``) lost its math. At position 0 nothing precedes the ``$``: the rule sees a source that does
    not end in a digit (a space added past ``posMax``, where no rule reads)."""

    def fixed(state: StateInline, silent: bool) -> bool:
        source = state.src
        if state.pos != 0 or not source[-1:].isdigit():
            return rule(state, silent)
        state.src = source + " "
        try:
            return rule(state, silent)
        finally:
            state.src = source

    return fixed


def _remember_inline_range(rule: InlineRule) -> InlineRule:
    """Wrap an inline rule so the token it pushes knows where it stood in the inline source."""

    def remembering(state: StateInline, silent: bool) -> bool:
        start = state.pos
        count = len(state.tokens)
        if not rule(state, silent):
            return False
        if not silent and len(state.tokens) > count:
            token = state.tokens[-1]
            token.meta = {**(token.meta or {}), "tl_range": (start, state.pos)}
        return True

    return remembering


def _remember_block_segments(rule: BlockRule) -> BlockRule:
    """Wrap the ``$$`` block rule so its token knows where each character of its content stood."""

    def remembering(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
        count = len(state.tokens)
        if not rule(state, start_line, end_line, silent):
            return False
        if not silent and len(state.tokens) > count:
            token = state.tokens[-1]
            segments = _math_block_segments(state, start_line, token.content)
            if segments is not None:
                token.meta = {**(token.meta or {}), "tl_segments": segments}
        return True

    return remembering


def _math_block_segments(state: StateBlock, start_line: int, content: str) -> list[tuple[int, int]] | None:
    """Source ranges ``(offset, length)`` that, joined, give the content of a ``$$`` block.

    This follows ``dollarmath._math_block_content``: the first line after ``$$``, whole middle lines
    (after any container prefix), and the start of the closing line.
    """
    opening = state.bMarks[start_line] + state.tShift[start_line] + 2
    last_line = state.line - 1
    if last_line <= start_line:
        segments = [(opening, len(content))]
    else:
        segments = [(opening, state.eMarks[start_line] - opening), (state.eMarks[start_line], 1)]
        for line in range(start_line + 1, last_line):
            segments.append((state.bMarks[line], state.eMarks[line] - state.bMarks[line]))
            segments.append((state.eMarks[line], 1))
        used = sum(length for _, length in segments)
        segments.append((state.bMarks[last_line], len(content) - used))
    source = state.src
    if any(length < 0 for _, length in segments):
        return None
    if "".join(source[offset : offset + length] for offset, length in segments) != content:
        return None
    return segments


def _guard_amsmath(rule: BlockRule) -> BlockRule:
    """Wrap the amsmath block rule so a ``\\begin`` without a closing line costs nothing.

    The plugin looks for the closing line over the whole rest of the block, line by line, and it is
    tried at every line of a paragraph; thousands of unclosed ``\\begin{align}`` would take quadratic
    time. One cached regular-expression search answers whether a closing line exists at all.
    """

    def guarded(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
        begin = state.bMarks[start_line] + state.tShift[start_line]
        if not state.src.startswith("\\begin{", begin):
            return False
        opening = _AMSMATH_BEGIN.match(state.src, begin)
        if opening is None:
            return False
        closing = "\\end{" + opening.group(1) + opening.group(2) + "}"
        closing_at = _next_closing_line(state, closing, begin)
        if closing_at < 0 or closing_at > state.eMarks[end_line - 1]:
            return False
        return rule(state, start_line, end_line, silent)

    return guarded


_closing_line_patterns: dict[str, re.Pattern[str]] = {}


def _next_closing_line(state: StateBlock, closing: str, start: int) -> int:
    """Offset of the first ``closing`` at or after ``start`` that ends its line, or -1."""
    pattern = _closing_line_patterns.get(closing)
    if pattern is None:
        pattern = re.compile(re.escape(closing) + r"[^\S\n]*(?:\n|\Z)")
        _closing_line_patterns[closing] = pattern
    cache: dict[str, tuple[int, int]] = state.env.setdefault("tl_closing_lines", {})
    cached = cache.get(closing)
    if cached is not None:
        searched_from, found_at = cached
        if searched_from <= start and (found_at < 0 or found_at >= start):
            return found_at
    match = pattern.search(state.src, start)
    found_at = match.start() if match else -1
    cache[closing] = (start, found_at)
    return found_at


def _inline_latex_math(state: StateInline, silent: bool) -> bool:
    """Inline rule for ``\\(…\\)``, ``\\[…\\]`` and math environments written inside a paragraph."""
    source = state.src
    position = state.pos
    if source[position] != "\\" or position + 1 >= state.posMax:
        return False
    kind = source[position + 1]
    if kind == "b":
        return _inline_environment(state, silent)
    # `\\[ … \\]`: the bookish habit of escaping the backslash for Markdown, which MathJax then sees as
    # `\[ … \]`. (An inline `\\( … \\)` stays prose: it is as often a literal backslash and parenthesis.)
    doubled = kind == "\\" and source[position + 2 : position + 3] == "["
    if doubled:
        kind = source[position + 2]
    if kind == "(":
        closer, token_type = "\\)", "tl_math_paren"
    elif kind == "[":
        closer, token_type = "\\]", "tl_math_bracket"
    else:
        return False
    if doubled:
        closer = "\\" + closer
    body_start = position + 2 + doubled
    body_end = _find_inline_closer(state, closer, body_start)
    if body_end <= body_start:
        return False
    if not silent:
        token = state.push(token_type, "math", 0)
        token.content = source[body_start:body_end]
        token.markup = "\\" + kind
        token.meta = {"tl_inner": (body_start, body_end)}
    state.pos = body_end + len(closer)
    return True


def _inline_environment(state: StateInline, silent: bool) -> bool:
    source = state.src
    opening = _INLINE_ENVIRONMENT_BEGIN.match(source, state.pos, state.posMax)
    if opening is None:
        return False
    name = opening.group(1) + opening.group(2)
    body_start = opening.end()
    if opening.group(1) == "alignat":
        argument = _ALIGNAT_ARGUMENT.match(source, body_start, state.posMax)
        if argument:
            body_start = argument.end()
    closing = "\\end{" + name + "}"
    body_end = _find_inline_closer(state, closing, body_start)
    if body_end < 0:
        return False
    if not silent:
        token = state.push("tl_math_environment", "math", 0)
        token.content = source[body_start:body_end]
        token.markup = opening.group(0)
        token.meta = {"tl_inner": (body_start, body_end), "tl_environment": name}
    state.pos = body_end + len(closing)
    return True


def _find_inline_closer(state: StateInline, closer: str, start: int) -> int:
    """The first ``closer`` at or after ``start`` whose backslash is not escaped, or -1.

    Answers are cached per inline source, so a paragraph full of unclosed ``\\(`` stays linear.
    """
    source = state.src
    limit = state.posMax
    caches: dict[tuple[int, str, int], tuple[str, int, int]] = state.env.setdefault("tl_closers", {})
    key = (id(source), closer, limit)
    cached = caches.get(key)
    # The cache keeps the source alive, so its id cannot be reused for another text meanwhile.
    if cached is not None and cached[0] is source:
        searched_from, found_at = cached[1], cached[2]
        if searched_from <= start and (found_at < 0 or found_at >= start):
            return found_at
    position = start
    found_at = -1
    while True:
        index = source.find(closer, position, limit)
        if index < 0:
            break
        backslashes = 0
        while index - backslashes - 1 >= start and source[index - backslashes - 1] == "\\":
            backslashes += 1
        if backslashes % 2 == 0:
            found_at = index
            break
        position = index + 1
    caches[key] = (source, start, found_at)
    return found_at


def _normalize_line_ends(text: str) -> tuple[str, list[int] | None]:
    """markdown-it's own line-end normalization, done here so the offsets it changes can be mapped back.

    A lone ``\\r`` (a line end too) and NUL (read as U+FFFD) keep their offsets; ``_MarkdownWalker``
    replaces them and puts the original characters back into the math.
    """
    joined_newlines = None
    if "\r\n" in text:
        parts = text.split("\r\n")
        joined_newlines = list(accumulate(len(part) + 1 for part in parts[:-1]))
        joined_newlines = [position - 1 for position in joined_newlines]
        text = "\n".join(parts)
    return text, joined_newlines


def _line_starts(text: str) -> list[int]:
    starts = [0]
    starts.extend(accumulate(len(line) + 1 for line in text.split("\n")[:-1]))
    return starts


def _escape_prose_dollars(text: str) -> str:
    return text.replace("$", "\\$") if "$" in text else text


class _ContentMap:
    """Where each character of a block's content sits in the source.

    markdown-it hands inline rules the content of a paragraph without its container prefixes (``> ``,
    list indentation) and with the first and last line trimmed; runs of ``(content offset, source
    offset, length)`` undo that.
    """

    def __init__(self, runs: list[tuple[int, int, int]], fallback: int) -> None:
        self.content_starts = [run[0] for run in runs]
        self.source_starts = [run[1] for run in runs]
        self.lengths = [run[2] for run in runs]
        self.fallback = fallback

    def source(self, position: int) -> int:
        index = bisect.bisect_right(self.content_starts, position) - 1
        if index < 0:
            return self.fallback
        inside = min(position - self.content_starts[index], self.lengths[index] - 1)
        return self.source_starts[index] + inside

    def source_end(self, position: int) -> int:
        return self.source(position - 1) + 1 if position > 0 else self.source(0)

    def offsets(self, start: int, end: int) -> list[int]:
        result: list[int] = []
        index = max(bisect.bisect_right(self.content_starts, start) - 1, 0)
        position = start
        while position < end and index < len(self.content_starts):
            run_start = self.content_starts[index]
            run_end = run_start + self.lengths[index]
            if position < run_start:
                result.append(self.source_starts[index])
                position += 1
                continue
            stop = min(end, run_end)
            if position < stop:
                base = self.source_starts[index] - run_start
                result.extend(range(base + position, base + stop))
                position = stop
            index += 1
        while position < end:
            result.append(result[-1] if result else self.fallback)
            position += 1
        return result


def _html_comments(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """The ``<!-- … -->`` comments in ``text[start:end]``, in one pass. (The regular expression
    ``<!--.*?-->`` looks for a closer from every opener, which is quadratic in unclosed openers: 50,000 of
    them took about a minute.) Nothing after an opener without a closer can close, so the scan stops there."""
    position = start
    while True:
        opening = text.find("<!--", position, end)
        if opening < 0:
            return
        closing = text.find("-->", opening + 4, end)
        if closing < 0:
            return
        yield opening, closing + 3
        position = closing + 3


class _MarkdownWalker:
    """Turns markdown-it's tokens into spans, paragraphs and directives with source offsets."""

    def __init__(self, source: str) -> None:
        # markdown-it reads a lone "\r" as "\n" and NUL as U+FFFD: the source is aligned with what it
        # read, and math gets the original characters back.
        self.original = source if "\0" in source or "\r" in source else None
        self.source = source.replace("\r", "\n").replace("\0", "\ufffd") if self.original else source
        self.line_starts = _line_starts(self.source)
        # How far each line has been consumed, for table rows that hold several inline tokens.
        self.line_cursors: dict[int, int] = {}
        self.found = _Found()

    def walk(self, tokens: list[Token]) -> _Found:
        for token in tokens:
            kind = token.type
            if kind == "inline":
                self.inline(token)
            elif kind in ("math_block", "math_block_label"):
                self.display_block(token)
            elif kind == "amsmath":
                self.environment_block(token)
            elif kind == "html_block":
                self.html_block(token)
        return self.found

    def line_bounds(self, line: int) -> tuple[int, int]:
        if line >= len(self.line_starts):
            return len(self.source), len(self.source)
        start = self.line_starts[line]
        if line + 1 < len(self.line_starts):
            return start, self.line_starts[line + 1] - 1
        return start, len(self.source)

    def align(self, content: str, first_line: int) -> _ContentMap:
        """Map content whose line ``i`` comes from source line ``first_line + i``.

        Each content line is normally a piece of its source line (a suffix once a container prefix is
        cut), so one ``find`` places it. Otherwise (a tab expanded to spaces, a table cell's ``\\|``
        unescaped) characters are matched one by one, skipping a few source characters at most.
        """
        runs: list[tuple[int, int, int]] = []
        content_position = 0
        lines = content.split("\n")
        for index, content_line in enumerate(lines):
            line_number = first_line + index
            line_start, line_end = self.line_bounds(line_number)
            low = max(line_start, self.line_cursors.get(line_number, line_start))
            if content_line:
                found_at = self.source.find(content_line, low, line_end)
                if found_at >= 0:
                    runs.append((content_position, found_at, len(content_line)))
                    self.line_cursors[line_number] = found_at + len(content_line)
                else:
                    line_runs, cursor = self.align_characters(content_line, content_position, low, line_end)
                    runs.extend(line_runs)
                    self.line_cursors[line_number] = cursor
            content_position += len(content_line)
            if index + 1 < len(lines):
                runs.append((content_position, line_end, 1))
                content_position += 1
        fallback = self.line_bounds(first_line)[0]
        return _ContentMap(runs, fallback)

    def align_characters(
        self, content_line: str, content_position: int, low: int, high: int
    ) -> tuple[list[tuple[int, int, int]], int]:
        """Runs of length one for a line that is not a plain piece of its source line, and the cursor."""
        source = self.source
        mapped = [low] * len(content_line)
        if content_line[0].isspace():
            # Leading spaces may come from a tab: match from the right, where the text is unchanged.
            cursor = high - 1
            for index in range(len(content_line) - 1, -1, -1):
                found_at = source.rfind(content_line[index], max(low, cursor - 8), cursor + 1)
                if found_at >= 0:
                    mapped[index] = found_at
                    cursor = found_at - 1
                else:
                    mapped[index] = max(low, min(cursor, high - 1))
            last = high
        else:
            cursor = low
            for index, character in enumerate(content_line):
                found_at = source.find(character, cursor, min(high, cursor + 8))
                if found_at >= 0:
                    mapped[index] = found_at
                    cursor = found_at + 1
                else:
                    mapped[index] = min(cursor, max(high - 1, low))
            last = cursor
        runs = [(content_position + index, offset, 1) for index, offset in enumerate(mapped)]
        return runs, last

    def make_span(self, text: str, offsets: list[int], display: bool, environment: str | None = None) -> _Span | None:
        if not offsets:
            return None
        if self.original is not None:
            original, read = self.original, self.source
            text = "".join(
                original[offset] if character == read[offset] else character
                for character, offset in zip(text, offsets, strict=False)
            )
        start = offsets[0]
        end = offsets[-1] + 1
        source = self.original or self.source
        contiguous = end - start == len(text) and source[start:end] == text and offsets == list(range(start, end))
        return _Span(text, start, end, display, environment, None if contiguous else offsets)

    def inline(self, token: Token) -> None:
        content = token.content
        if not content or token.map is None:
            return
        content_map = self.align(content, token.map[0])
        pieces: list[str | _Span] = []
        search_from = 0
        for child in token.children or []:
            kind = child.type
            if kind == "text":
                pieces.append(_escape_prose_dollars(child.content))
            elif kind in ("softbreak", "hardbreak"):
                pieces.append("\n")
            elif kind == "code_inline":
                pieces.append(_escape_prose_dollars(child.content))
            elif kind in _INLINE_MATH_DISPLAY or kind == "tl_math_environment":
                inner = self.inner_range(child, content, search_from)
                if inner is None:
                    continue
                search_from = inner[1]
                environment = child.meta.get("tl_environment")
                display = _INLINE_MATH_DISPLAY.get(kind, environment != "math")
                offsets = content_map.offsets(*inner)
                span = self.make_span(child.content, offsets, display, environment)
                if span is not None:
                    self.found.spans.append(span)
                    pieces.append(span)
            elif kind == "html_inline":
                self.html_inline(child, content_map)
        self.found.paragraphs.append(_Paragraph(pieces, content_map.source(0), content_map.source_end(len(content))))

    @staticmethod
    def inner_range(child: Token, content: str, search_from: int) -> tuple[int, int] | None:
        """Where the math of an inline token lies in its paragraph's content."""
        meta = child.meta or {}
        inner = meta.get("tl_inner")
        if inner is None and "tl_range" in meta:
            start = meta["tl_range"][0] + len(child.markup)
            inner = (start, start + len(child.content))
        if inner is not None and content[inner[0] : inner[1]] == child.content:
            return inner
        found_at = content.find(child.content, search_from)
        if found_at < 0:
            return None
        return found_at, found_at + len(child.content)

    def display_block(self, token: Token) -> None:
        segments = (token.meta or {}).get("tl_segments")
        content = token.content
        if segments:
            offsets = [offset for start, length in segments for offset in range(start, start + length)]
        else:
            line_start = self.line_bounds(token.map[0])[0] if token.map else 0
            found_at = self.source.find(content, line_start)
            if found_at < 0:
                return
            offsets = list(range(found_at, found_at + len(content)))
        span = self.make_span(content, offsets, True)
        if span is not None:
            self.found.spans.append(span)

    def environment_block(self, token: Token) -> None:
        content = token.content
        if token.map is None:
            return
        opening = _AMSMATH_BEGIN.search(content)
        if opening is None:
            return
        name = opening.group(1) + opening.group(2)
        closing = "\\end{" + name + "}"
        body_start = opening.end()
        if opening.group(1) == "alignat":
            argument = _ALIGNAT_ARGUMENT.match(content, body_start)
            if argument:
                body_start = argument.end()
        body_end = content.rfind(closing)
        if body_end < body_start:
            return
        content_map = self.align(content, token.map[0])
        environment: str | None = name
        if opening.group(1) not in _MARKDOWN_INLINE_ENVIRONMENTS:
            # A matrix standing alone is math as a whole: its body alone would lose the brackets.
            environment = None
            body_start, body_end = opening.start(), body_end + len(closing)
        offsets = content_map.offsets(body_start, body_end)
        span = self.make_span(content[body_start:body_end], offsets, True, environment)
        if span is not None:
            self.found.spans.append(span)

    def html_block(self, token: Token) -> None:
        if token.map is None:
            return
        start = self.line_bounds(token.map[0])[0]
        end = self.line_bounds(token.map[1] - 1)[1]
        for comment_start, comment_end in _html_comments(self.source, start, end):
            self.add_directive(self.source[comment_start:comment_end], comment_start, comment_end)

    def html_inline(self, child: Token, content_map: _ContentMap) -> None:
        meta = child.meta or {}
        if "tl_range" not in meta:
            return
        start, end = meta["tl_range"]
        self.add_directive(child.content, content_map.source(start), content_map.source_end(end))

    def add_directive(self, html: str, start: int, end: int) -> None:
        directive = _MARKDOWN_DIRECTIVE.match(html)
        if directive is not None:
            self.found.directives.append(Directive(directive.group(1).strip(), start, end))


# markdown-it-py costs up to about 10 microseconds per line or markup character on hostile input (a
# million tiny paragraphs, a paragraph of a million ``$``), so a note is read by it only while this many
# of those are left; the rest is read by ``_PlainMarkdownScanner``. Ordinary notes of a megabyte or two
# stay well inside the budget.
_MARKDOWN_COST_BUDGET = 150_000
_MARKDOWN_COSTLY_CHARACTERS = "\n$\\`*_[<"


@dataclass
class _MarkdownBudget:
    remaining: int = _MARKDOWN_COST_BUDGET
    reported: bool = False


def _markdown_cost(text: str) -> int:
    # A table cell costs markdown-it (and the alignment of its content) about as much as ten markup
    # characters: a 1.2 MB table would otherwise be read cell by cell for most of a minute.
    return sum(text.count(character) for character in _MARKDOWN_COSTLY_CHARACTERS) + 10 * text.count("|")


# A YAML front matter block at the very top of a Markdown or Quarto file.
_FRONT_MATTER = re.compile(r"\A---[^\S\n]*\n(.*?\n)(?:---|\.\.\.)[^\S\n]*(?:\n|\Z)", re.DOTALL)
# MathJax macros in a front matter: `name: "\\mathbf{v}"` or `name: ["\\mathbf{#1}", 1]` under `macros:`.
_YAML_MACRO = re.compile(
    r"""^(?P<indent>[^\S\n]*)(?P<name>[A-Za-z]+)[^\S\n]*:[^\S\n]*"""
    r"""(?:(?P<quote>["'])(?P<body>.*)(?P=quote)|\[[^\S\n]*(?P<lquote>["'])(?P<lbody>.*)(?P=lquote)[^\S\n]*,[^\S\n]*(?P<count>\d)[^\S\n]*\])"""
    r"""[^\S\n]*$"""
)


def _extract_markdown_document(text: str) -> _Found:
    """A Markdown file, with its front matter: macros defined there (``header-includes``, MathJax ``macros``)
    apply to the whole note, and the block itself is neither math nor prose."""
    front = _FRONT_MATTER.match(text)
    if front is None:
        return _extract_markdown(text)
    blanked = re.sub(r"[^\n]", " ", text[: front.end()]) + text[front.end() :]
    found = _extract_markdown(blanked)
    found.definitions[:0] = [(0, macro) for macro in _front_matter_macros(front.group(1))]
    return found


def _front_matter_macros(block: str) -> list[_Macro]:
    """Macro definitions in a YAML front matter: LaTeX definitions anywhere in it (``header-includes``, in
    plain or double-quoted scalars) and MathJax's ``macros:`` table."""
    unquoted = block.replace("\\\\", "\\") if '"' in block else block
    macros = _definitions_in(unquoted)
    table_indent: int | None = None
    for line in block.splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if stripped.endswith("macros:") and stripped.replace(" ", "") in ("macros:", "-macros:"):
            table_indent = indent
            continue
        if table_indent is None or not stripped:
            continue
        if indent <= table_indent:
            table_indent = None
            continue
        entry = _YAML_MACRO.match(line)
        if entry is None:
            continue
        quote = entry.group("quote") or entry.group("lquote")
        body = entry.group("body") if entry.group("quote") else entry.group("lbody")
        if quote == '"':
            body = body.replace("\\\\", "\\")
        count = int(entry.group("count") or 0)
        macros.append(_Macro(entry.group("name"), count, None, body))
    return macros


def _extract_markdown(text: str, budget: _MarkdownBudget | None = None) -> _Found:
    budget = budget or _MarkdownBudget()
    cost = _markdown_cost(text)
    if cost > budget.remaining:
        found = _PlainMarkdownScanner(text).run()
        if not budget.reported:
            budget.reported = True
            message = (
                f"file too large to read its Markdown structure in time ({cost} lines and markup "
                "characters); math was found by a plain scan that ignores lists, quotes and tables"
            )
            found.problems.append(Diagnostic("TL002", message, 0, 0, "hint"))
        return found
    budget.remaining -= cost
    normalized, joined_newlines = _normalize_line_ends(text)
    walker = _MarkdownWalker(normalized)
    found = walker.walk(_markdown_parser().parse(walker.source, {}))
    if joined_newlines:
        found = _relocate(found, _LineEndRelocation(joined_newlines))
    return found


# Bounds on what one file may cost a plain scan; real notes stay far below them.
_MAX_SPANS = 100_000
_MAX_EVENTS = 1_000_000
_PLAIN_MARKDOWN_EVENT = re.compile(
    r"^[ \t>]*(?P<fence>`{3,}|~{3,})"
    r"|(?P<code>`+)"
    r"|(?P<comment><!--)"
    r"|\\(?:(?P<bracket>[(\[])|(?P<environment>begin\{(?:"
    + "|".join(_MARKDOWN_INLINE_ENVIRONMENTS)
    + r")\*?\})|[^A-Za-z\s])"
    r"|\$\$?",
    re.MULTILINE,
)
_PLAIN_MATH_STOP = re.compile(r"\\[\\$()\[\]]|\$\$?|\n[^\S\n]*\n")


def _find_plain_math_end(text: str, position: int, closer: str, failures: dict[str, tuple[int, int]]) -> int:
    """Where Markdown math opened just before ``position`` closes (never past a blank line), or -1.

    ``failures`` remembers ranges known to hold no ``closer``, as in ``_find_tex_math_end``.
    """
    cached = failures.get(closer)
    if cached is not None and cached[0] <= position < cached[1]:
        return -1
    search_start = position
    while True:
        match = _PLAIN_MATH_STOP.search(text, position)
        if match is None or match.group()[0] == "\n":
            failures[closer] = (search_start, len(text) if match is None else match.start())
            return -1
        token = match.group()
        if token == closer or (closer == "$" and token == "$$"):
            return match.start()
        position = match.end()


class _PlainMarkdownScanner:
    """A plain scan for math in Markdown too large for markdown-it: it knows code, escapes and math
    delimiters but not block structure, so a span keeps any ``> `` prefix inside it."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.found = _Found()
        self.regions: list[tuple[int, int, _Span | None]] = []
        self.closing_cache: dict[str, tuple[int, int]] = {}
        self.failed_closers: dict[str, tuple[int, int]] = {}
        self.tick_patterns: dict[str, re.Pattern[str]] = {}
        self.fence_patterns: dict[str, re.Pattern[str]] = {}

    def run(self) -> _Found:
        text = self.text
        position = 0
        events = 0
        while position < len(text):
            events += 1
            if len(self.found.spans) >= _MAX_SPANS or events > _MAX_EVENTS:
                self.found.problems.append(_scan_stopped(position, events > _MAX_EVENTS))
                break
            match = _PLAIN_MARKDOWN_EVENT.search(text, position)
            if match is None:
                break
            if match.group("fence") is not None:
                position = self.fence(match)
            elif match.group("code") is not None:
                position = self.code_span(match)
            elif match.group("comment") is not None:
                position = self.comment(match)
            elif match.group("bracket") is not None:
                closer = "\\)" if match.group("bracket") == "(" else "\\]"
                position = self.math(match, closer, match.group("bracket") == "[")
            elif match.group("environment") is not None:
                position = self.environment(match)
            elif match.group()[0] == "$":
                position = self.math(match, match.group(), match.group() == "$$")
            else:
                position = match.end()
        builder = _ParagraphBuilder(self.found.paragraphs)
        _add_prose_between_regions(builder, text, self.regions, 0, len(text), self.found.problems)
        return self.found

    def fence(self, match: re.Match[str]) -> int:
        marker = match.group("fence")
        closing = self.fence_patterns.get(marker)
        if closing is None:
            closing = re.compile(r"^[ \t>]*" + re.escape(marker[0]) + "{" + str(len(marker)) + r",}[ \t]*$", re.M)
            self.fence_patterns[marker] = closing
        line_end = self.text.find("\n", match.end())
        if line_end < 0:
            line_end = len(self.text)
        end_match = closing.search(self.text, line_end)
        end = end_match.end() if end_match else len(self.text)
        self.regions.append((match.start(), end, None))
        return end

    def code_span(self, match: re.Match[str]) -> int:
        ticks = match.group("code")
        closing = self.tick_patterns.get(ticks)
        if closing is None:
            closing = re.compile(r"(?<!`)" + ticks + r"(?!`)")
            self.tick_patterns[ticks] = closing
        failed = self.failed_closers.get(ticks)
        if failed is not None and failed[0] <= match.end() < failed[1]:
            return match.end()
        end_match = closing.search(self.text, match.end())
        if end_match is None:
            self.failed_closers[ticks] = (match.end(), len(self.text))
            return match.end()
        if _BLANK_LINE.search(self.text, match.end(), end_match.start()):
            return match.end()
        self.regions.append((match.start(), end_match.end(), None))
        return end_match.end()

    def comment(self, match: re.Match[str]) -> int:
        failed = self.failed_closers.get("-->")
        if failed is not None and failed[0] <= match.end():
            return match.end()
        end = self.text.find("-->", match.end())
        if end < 0:
            self.failed_closers["-->"] = (match.end(), len(self.text))
            return match.end()
        end += 3
        directive = _MARKDOWN_DIRECTIVE.match(self.text, match.start(), end)
        if directive is not None:
            self.found.directives.append(Directive(directive.group(1).strip(), match.start(), end))
        self.regions.append((match.start(), end, None))
        return end

    def math(self, match: re.Match[str], closer: str, display: bool) -> int:
        text = self.text
        inner_start = match.end()
        inner_end = _find_plain_math_end(text, inner_start, closer, self.failed_closers)
        if inner_end <= inner_start:
            return match.end()
        after = inner_end + len(closer)
        if closer == "$" and after < len(text) and text[after].isdigit():
            # "costs $5 and $10" is money, as in the dollarmath settings above.
            return match.end()
        self.add_span(match.start(), inner_start, inner_end, after, display, None)
        return after

    def environment(self, match: re.Match[str]) -> int:
        name = match.group("environment")[len("begin{") : -1]
        closing = "\\end{" + name + "}"
        cached = self.closing_cache.get(closing)
        if cached is not None and cached[0] <= match.end() and (cached[1] < 0 or cached[1] >= match.end()):
            body_end = cached[1]
        else:
            body_end = self.text.find(closing, match.end())
            self.closing_cache[closing] = (match.end(), body_end)
        if body_end < 0:
            return match.end()
        after = body_end + len(closing)
        self.add_span(match.start(), match.end(), body_end, after, name.rstrip("*") != "math", name)
        return after

    def add_span(
        self, region_start: int, start: int, end: int, region_end: int, display: bool, environment: str | None
    ) -> None:
        span = _Span(self.text[start:end], start, end, display, environment)
        self.found.spans.append(span)
        self.regions.append((region_start, region_end, span))


def _scan_stopped(position: int, too_many_events: bool) -> Diagnostic:
    if too_many_events:
        what = f"more than {_MAX_EVENTS} delimiters, escapes and comments"
    else:
        what = f"more than {_MAX_SPANS} math spans"
    message = f"{what}; the rest of the file is not read"
    return Diagnostic("TL002", message, position, position, "hint")


def _add_prose_between_regions(
    builder: _ParagraphBuilder,
    text: str,
    regions: list[tuple[int, int, _Span | None]],
    body_start: int,
    body_end: int,
    problems: list[Diagnostic],
) -> None:
    """Prose is the text between the regions (math, comments, code), cut into paragraphs at blank lines."""
    cursor = body_start
    for start, end, span in regions:
        if builder.full:
            break
        if end <= body_start:
            continue
        if start >= body_end:
            break
        _add_prose_text(builder, text, cursor, start)
        if span is not None:
            builder.add(span, start, end)
        cursor = max(cursor, end)
    _add_prose_text(builder, text, cursor, body_end)
    builder.flush()
    if builder.full:
        position = builder.paragraphs[-1].end if builder.paragraphs else 0
        message = f"more than {_MAX_PARAGRAPHS} paragraphs; the prose after them is not read"
        problems.append(Diagnostic("TL002", message, position, position, "hint"))


def _add_prose_text(builder: _ParagraphBuilder, text: str, start: int, end: int) -> None:
    if start >= end:
        return
    position = start
    for blank in _BLANK_LINE.finditer(text, start, end):
        builder.add(text[position : blank.start()], position, blank.start())
        builder.flush()
        if builder.full:
            return
        position = blank.end()
    builder.add(text[position:end], position, end)


# ---------------------------------------------------------------------------------------------------
# LaTeX
# ---------------------------------------------------------------------------------------------------

_TEX_MATH_ENVIRONMENTS = frozenset(
    ("equation", "align", "gather", "multline", "eqnarray", "alignat", "flalign", "displaymath", "math")
)
_TEX_VERBATIM_ENVIRONMENTS = frozenset(("verbatim", "Verbatim", "lstlisting", "minted", "comment"))
# The next thing the text-mode scanner must look at. A backslash followed by a non-letter is consumed
# with it, so ``\\$``, ``\\%`` and ``\\\\[2pt]`` never start math or a comment.
_TEX_EVENT = re.compile(
    r"%"
    r"|\$\$?"
    r"|\\(?:"
    r"begin\s*\{(?P<environment>[^{}\n]{1,40})\}"
    r"|(?P<end_document>end\s*\{document\})"
    r"|(?P<definition>newcommand|renewcommand|providecommand|DeclareMathOperator|def|gdef)(?![A-Za-z@])"
    r"|(?P<verb>verb)(?![A-Za-z@])"
    r"|(?P<bracket>[(\[])"
    r"|[^A-Za-z@\s]"
    r")"
)
# Inside math: escapes, braces (a ``$`` inside ``\text{…}`` does not close), comments, closers, and the
# blank line that ends a paragraph and with it any unclosed math.
_TEX_MATH_STOP = re.compile(r"\\[\\$%()\[\]{}]|[{}%]|\$\$?|\n[^\S\n]*\n")
_TEX_COMMENT_SCAN = re.compile(r"\\[\\%]|%")
_TEX_DIRECTIVE = re.compile(r"%+[^\S\n]*tensorlint:(.*)")
_TEX_UNESCAPED_PERCENT = re.compile(r"(?:^|[^\\])(?:\\\\)*%", re.MULTILINE)
_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")
_TEX_PROSE_DOLLAR = re.compile(r"\\.|\$", re.DOTALL)


def _find_tex_math_end(
    text: str, position: int, closer: str, failures: dict[str, tuple[int, int]]
) -> tuple[int, list[tuple[int, int]]] | None:
    """Where math opened just before ``position`` closes, and the comments inside it.

    A failed search means no ``closer`` at all before the blank line (or end) where it stopped, so
    ``failures`` remembers that range: a line of a million unclosed ``\\(`` stays linear.
    """
    cached = failures.get(closer)
    if cached is not None and cached[0] <= position < cached[1]:
        return None
    search_start = position
    stopped_at = len(text)
    comments: list[tuple[int, int]] = []
    depth = 0
    unbalanced_close = -1
    comments_before_unbalanced = 0
    while True:
        match = _TEX_MATH_STOP.search(text, position)
        if match is None:
            break
        token = match.group()
        position = match.end()
        if token == "{":
            depth += 1
        elif token == "}":
            depth = max(depth - 1, 0)
        elif token == "%":
            line_end = text.find("\n", match.start())
            line_end = len(text) if line_end < 0 else line_end
            comments.append((match.start(), line_end))
            position = line_end
        elif token[0] == "\n":
            stopped_at = match.start()
            break
        elif token == closer or (closer == "$" and token == "$$"):
            if depth == 0:
                return match.start(), comments
            if unbalanced_close < 0:
                unbalanced_close = match.start()
                comments_before_unbalanced = len(comments)
    if unbalanced_close >= 0:
        # Unbalanced braces: close where TeX would have closed had the braces been right.
        return unbalanced_close, comments[:comments_before_unbalanced]
    failures[closer] = (search_start, stopped_at)
    return None


def _tex_comments(text: str, start: int, end: int) -> list[tuple[int, int]]:
    comments: list[tuple[int, int]] = []
    position = start
    while True:
        match = _TEX_COMMENT_SCAN.search(text, position, end)
        if match is None:
            return comments
        if match.group() == "%":
            line_end = text.find("\n", match.start(), end)
            line_end = end if line_end < 0 else line_end
            comments.append((match.start(), line_end))
            position = line_end
        else:
            position = match.end()


class _LatexScanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.found = _Found()
        # Pieces of text that are not prose: ``(start, end, span)`` with the span for math, else None.
        self.regions: list[tuple[int, int, _Span | None]] = []
        self.find_cache: dict[str, tuple[int, int]] = {}
        self.body_start = 0
        self.body_end = len(text)
        self.definitions_stopped = False
        self.failed_closers: dict[str, tuple[int, int]] = {}

    def run(self) -> _Found:
        text = self.text
        position = 0
        events = 0
        while position < len(text):
            events += 1
            if len(self.found.spans) >= _MAX_SPANS or events > _MAX_EVENTS:
                self.found.problems.append(_scan_stopped(position, events > _MAX_EVENTS))
                break
            match = _TEX_EVENT.search(text, position)
            if match is None:
                break
            token = match.group()
            if token == "%":
                position = self.comment(match.start())
            elif token[0] == "$":
                position = self.dollar_math(match)
            elif match.group("environment") is not None:
                position = self.environment(match, match.group("environment").strip())
            elif match.group("end_document") is not None:
                # TeX reads nothing after \end{document}.
                self.body_end = match.start()
                break
            elif match.group("definition") is not None:
                position = self.definition(match)
            elif match.group("verb") is not None:
                position = self.verb(match)
            elif match.group("bracket") is not None:
                position = self.bracket_math(match)
            else:
                position = match.end()
        self.build_paragraphs()
        return self.found

    def comment(self, start: int) -> int:
        line_end = self.text.find("\n", start)
        line_end = len(self.text) if line_end < 0 else line_end
        self.note_directive(start, line_end)
        self.regions.append((start, line_end, None))
        return line_end

    def note_directive(self, start: int, end: int) -> None:
        directive = _TEX_DIRECTIVE.match(self.text, start, end)
        if directive is not None:
            comment_end = start + len(self.text[start:end].rstrip())
            self.found.directives.append(Directive(directive.group(1).strip(), start, comment_end))

    def dollar_math(self, match: re.Match[str]) -> int:
        closer = match.group()
        inner_start = match.end()
        closing = _find_tex_math_end(self.text, inner_start, closer, self.failed_closers)
        if closing is None:
            return match.end()
        inner_end, comments = closing
        if inner_end > inner_start:
            self.add_math(match.start(), inner_start, inner_end, inner_end + len(closer), comments, closer == "$$")
        return inner_end + len(closer)

    def bracket_math(self, match: re.Match[str]) -> int:
        display = match.group("bracket") == "["
        closer = "\\]" if display else "\\)"
        inner_start = match.end()
        closing = _find_tex_math_end(self.text, inner_start, closer, self.failed_closers)
        if closing is None:
            return match.end()
        inner_end, comments = closing
        self.add_math(match.start(), inner_start, inner_end, inner_end + len(closer), comments, display)
        return inner_end + len(closer)

    def environment(self, match: re.Match[str], name: str) -> int:
        base = name.rstrip("*")
        if name == "document":
            self.body_start = match.end()
            return match.end()
        if base in _TEX_VERBATIM_ENVIRONMENTS:
            closing = "\\end{" + name + "}"
            closing_at = self.text.find(closing, match.end())
            after = len(self.text) if closing_at < 0 else closing_at + len(closing)
            self.regions.append((match.start(), after, None))
            return after
        if base not in _TEX_MATH_ENVIRONMENTS:
            return match.end()
        body_start = match.end()
        if base == "alignat":
            argument = _ALIGNAT_ARGUMENT.match(self.text, body_start)
            if argument:
                body_start = argument.end()
        closing = "\\end{" + name + "}"
        body_end = self.find_outside_comments(closing, body_start)
        if body_end < 0:
            return match.end()
        after = body_end + len(closing)
        comments = _tex_comments(self.text, body_start, body_end)
        self.add_math(match.start(), body_start, body_end, after, comments, base != "math", name)
        return after

    def find_outside_comments(self, needle: str, start: int) -> int:
        """The next ``needle`` at or after ``start`` that is not inside a comment, or -1 (cached)."""
        text = self.text
        cached = self.find_cache.get(needle)
        if cached is not None and cached[0] <= start and (cached[1] < 0 or cached[1] >= start):
            found_at = cached[1]
        else:
            found_at = text.find(needle, start)
            self.find_cache[needle] = (start, found_at)
        while found_at >= 0:
            line_start = text.rfind("\n", 0, found_at) + 1
            if not _TEX_UNESCAPED_PERCENT.search(text, line_start, found_at):
                return found_at
            found_at = text.find(needle, found_at + 1)
        return -1

    def definition(self, match: re.Match[str]) -> int:
        if self.definitions_stopped:
            return match.end()
        parsed = _parse_definition(self.text, match.start())
        if parsed is None:
            if _NEWCOMMAND.match(self.text, match.start()) or _DEF.match(self.text, match.start()):
                # TeX would read the rest of the file as the body; reading on would rescan it each time.
                self.definitions_stopped = True
                message = "macro definition does not close its braces; later definitions are ignored"
                self.found.problems.append(Diagnostic("TL001", message, match.start(), match.end(), "hint"))
            return match.end()
        macro, end = parsed
        self.found.definitions.append((match.start(), macro))
        self.regions.append((match.start(), end, None))
        return end

    def verb(self, match: re.Match[str]) -> int:
        text = self.text
        position = match.end()
        if text.startswith("*", position):
            position += 1
        if position >= len(text) or text[position].isalpha() or text[position].isspace():
            return match.end()
        delimiter = text[position]
        closing_at = text.find(delimiter, position + 1)
        line_end = text.find("\n", position + 1)
        if closing_at < 0 or (0 <= line_end < closing_at):
            return position + 1
        self.regions.append((match.start(), closing_at + 1, None))
        return closing_at + 1

    def add_math(
        self,
        region_start: int,
        inner_start: int,
        inner_end: int,
        region_end: int,
        comments: list[tuple[int, int]],
        display: bool,
        environment: str | None = None,
    ) -> None:
        text = self.text
        for comment_start, comment_end in comments:
            self.note_directive(comment_start, comment_end)
        if not comments:
            span = _Span(text[inner_start:inner_end], inner_start, inner_end, display, environment)
        else:
            pieces = []
            offsets: list[int] = []
            position = inner_start
            for comment_start, comment_end in comments:
                pieces.append(text[position:comment_start])
                offsets.extend(range(position, comment_start))
                position = comment_end
            pieces.append(text[position:inner_end])
            offsets.extend(range(position, inner_end))
            span = _Span("".join(pieces), inner_start, inner_end, display, environment, offsets)
        self.found.spans.append(span)
        self.regions.append((region_start, region_end, span))

    def build_paragraphs(self) -> None:
        builder = _ParagraphBuilder(self.found.paragraphs)
        _add_prose_between_regions(
            builder, self.text, self.regions, self.body_start, self.body_end, self.found.problems
        )


_MAX_PARAGRAPHS = 100_000


class _ParagraphBuilder:
    """Collects the pieces of one paragraph of a plain scan, then trims it and escapes its dollars."""

    def __init__(self, paragraphs: list[_Paragraph]) -> None:
        self.paragraphs = paragraphs
        self.pieces: list[tuple[str | _Span, int, int]] = []
        self.full = False

    def add(self, piece: str | _Span, start: int, end: int) -> None:
        if piece:
            self.pieces.append((piece, start, end))

    def flush(self) -> None:
        pieces = self.pieces
        self.pieces = []
        first_kept = 0
        while first_kept < len(pieces) and _is_blank_piece(pieces[first_kept][0]):
            first_kept += 1
        last_kept = len(pieces)
        while last_kept > first_kept and _is_blank_piece(pieces[last_kept - 1][0]):
            last_kept -= 1
        pieces = pieces[first_kept:last_kept]
        if not pieces or self.full:
            return
        if len(self.paragraphs) >= _MAX_PARAGRAPHS:
            self.full = True
            return
        first, start, first_end = pieces[0]
        if isinstance(first, str):
            trimmed = first.lstrip()
            start += len(first) - len(trimmed)
            pieces[0] = (trimmed, start, first_end)
        last, last_start, end = pieces[-1]
        if isinstance(last, str):
            trimmed = last.rstrip()
            end -= len(last) - len(trimmed)
            pieces[-1] = (trimmed, last_start, end)
        self.paragraphs.append(
            _Paragraph(
                [_escape_tex_prose(piece) if isinstance(piece, str) else piece for piece, _, _ in pieces],
                start,
                end,
            )
        )


def _is_blank_piece(piece: str | _Span) -> bool:
    return isinstance(piece, str) and not piece.strip()


def _escape_tex_prose(text: str) -> str:
    """Write a bare ``$`` (math that never closed) as ``\\$``, like the escaped dollars around it."""
    if "$" not in text:
        return text
    if "\\" not in text:
        return text.replace("$", "\\$")
    return _TEX_PROSE_DOLLAR.sub(lambda match: "\\$" if match.group() == "$" else match.group(), text)


def _extract_latex(text: str) -> _Found:
    return _LatexScanner(text).run()


# ---------------------------------------------------------------------------------------------------
# Macros: ``\newcommand``, ``\renewcommand``, ``\providecommand``, ``\DeclareMathOperator``, ``\def``
# ---------------------------------------------------------------------------------------------------

_NEWCOMMAND = re.compile(
    r"\\(?:(?P<command>newcommand|renewcommand|providecommand)|(?P<operator>DeclareMathOperator))"
    r"\s*(?P<star>\*)?\s*"
    r"(?:\{\s*\\(?P<braced>[A-Za-z@]+|[^A-Za-z@\s])\s*\}|\\(?P<bare>[A-Za-z@]+|[^A-Za-z@\s]))"
    r"\s*(?:\[\s*(?P<arguments>\d)\s*\])?\s*"
)
_DEF = re.compile(r"\\g?def\s*\\(?P<name>[A-Za-z@]+|[^A-Za-z@\s])(?P<parameters>(?:\s*#\d)*)\s*(?=\{)")
_DEFINITION_START = re.compile(
    r"\s*\\(?:newcommand|renewcommand|providecommand|DeclareMathOperator|g?def)(?![A-Za-z@])"
)
_CONTROL_SEQUENCE = re.compile(r"\\([A-Za-z@]+|.)", re.DOTALL)
_BRACE_SCAN = re.compile(r"\\.|[{}]", re.DOTALL)
_BRACKET_SCAN = re.compile(r"\\.|[{}\]]", re.DOTALL)
_PARAMETER = re.compile(r"#([1-9#])")
_MAX_GROUP_LENGTH = 20_000
_MAX_EXPANSION_DEPTH = 32
_MAX_EXPANSION_GROWTH = 50_000


class _ScanBudgetSpent(Exception):
    """A macro argument never closes its braces, or reading arguments scanned more than the math is
    worth; TeX would stop there too (a runaway argument)."""


def _read_group(text: str, position: int, budget: list[int] | None = None) -> tuple[int, int] | None:
    """For a brace group opening at ``position``: the end of its content and the offset after it.

    ``budget`` counts the characters all such reads may still scan; a group never closed within
    ``_MAX_GROUP_LENGTH`` characters is no group.
    """
    if not text.startswith("{", position):
        return None
    depth = 0
    limit = min(len(text), position + _MAX_GROUP_LENGTH)
    for match in _BRACE_SCAN.finditer(text, position, limit):
        token = match.group()
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
            if depth == 0:
                _spend(budget, match.end() - position)
                return match.start(), match.end()
    _spend(budget, limit - position)
    return None


def _read_optional(text: str, position: int, budget: list[int] | None = None) -> tuple[int, int] | None:
    """For ``[…]`` opening at ``position``: the end of its content and the offset after it.

    A ``]`` inside braces does not close it, as in LaTeX.
    """
    if not text.startswith("[", position):
        return None
    depth = 0
    limit = min(len(text), position + _MAX_GROUP_LENGTH)
    for match in _BRACKET_SCAN.finditer(text, position + 1, limit):
        token = match.group()
        if token == "{":
            depth += 1
        elif token == "}":
            depth = max(depth - 1, 0)
        elif token == "]" and depth == 0:
            _spend(budget, match.end() - position)
            return match.start(), match.end()
    _spend(budget, limit - position)
    return None


def _spend(budget: list[int] | None, amount: int) -> None:
    if budget is not None:
        budget[0] -= amount
        if budget[0] < 0:
            raise _ScanBudgetSpent


def _strip_comments(body: str) -> str:
    if "%" not in body:
        return body
    pieces = []
    position = 0
    for start, end in _tex_comments(body, 0, len(body)):
        pieces.append(body[position:start])
        position = end + 1 if end < len(body) else end
    pieces.append(body[position:])
    return "".join(pieces)


def _parse_definition(text: str, position: int) -> tuple[_Macro, int] | None:
    """Read the macro definition starting at ``position``: the macro and the offset after it."""
    newcommand = _NEWCOMMAND.match(text, position)
    if newcommand is not None:
        name = newcommand.group("braced") or newcommand.group("bare")
        after = newcommand.end()
        default = None
        if newcommand.group("operator"):
            arguments = 0
        else:
            arguments = int(newcommand.group("arguments") or 0)
            if arguments and text.startswith("[", after):
                optional = _read_optional(text, after)
                if optional is None:
                    return None
                default = text[after + 1 : optional[0]]
                after = optional[1]
                while after < len(text) and text[after].isspace():
                    after += 1
        group = _read_group(text, after)
        if group is None:
            return None
        body = _strip_comments(text[after + 1 : group[0]])
        if newcommand.group("operator"):
            star = "*" if newcommand.group("star") else ""
            body = "\\operatorname" + star + "{" + body + "}"
        return _Macro(name, arguments, default, body), group[1]
    definition = _DEF.match(text, position)
    if definition is not None:
        parameters = re.findall(r"#(\d)", definition.group("parameters"))
        if parameters != [str(number) for number in range(1, len(parameters) + 1)]:
            return None
        group = _read_group(text, definition.end())
        if group is None:
            return None
        body = _strip_comments(text[definition.end() + 1 : group[0]])
        return _Macro(definition.group("name"), len(parameters), None, body), group[1]
    return None


def _definitions_in(text: str) -> list[_Macro]:
    """Every macro definition in ``text`` (a macros file, a front matter), whatever surrounds them."""
    macros: list[_Macro] = []
    position = 0
    limit = 2_000
    for match in _DEFINITION_ANYWHERE.finditer(text):
        if match.start() < position:
            continue
        parsed = _parse_definition(text, match.start())
        if parsed is not None:
            macros.append(parsed[0])
            position = parsed[1]
        if len(macros) >= limit:
            break
    return macros


_DEFINITION_ANYWHERE = re.compile(
    r"\\(?:newcommand|renewcommand|providecommand|DeclareMathOperator|g?def)(?![A-Za-z@])"
)


def _parse_definitions_only(text: str) -> list[_Macro] | None:
    """The macros of math that holds nothing but definitions, else None."""
    macros: list[_Macro] = []
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            return macros or None
        parsed = _parse_definition(text, position)
        if parsed is None:
            return None
        macros.append(parsed[0])
        position = parsed[1]


class _RunawayMacro(Exception):
    """A macro kept expanding past the depth or size bound (most likely it calls itself)."""


class _MacroExpander:
    """Expands the macros defined so far inside math, keeping a document offset for every character."""

    def __init__(self) -> None:
        self.macros: dict[str, _Macro] = {}
        self.runaway: set[str] = set()
        self.scan_budget = [0]

    def define(self, macro: _Macro) -> None:
        self.macros[macro.name] = macro
        self.runaway.discard(macro.name)

    def expand(self, text: str, offsets: list[int], problems: list[Diagnostic]) -> tuple[str, list[int]] | None:
        """Expand every known macro in ``text``; None when nothing changed.

        A macro that does not stop (it calls itself, or grows without bound) gets a TL001 hint at each
        use, and that use is left as written.
        """
        out_text: list[str] = []
        out_offsets: list[int] = []
        self.scan_budget = [4 * len(text) + 10_000]
        try:
            changed = self.expand_into(text, offsets, 0, [0], out_text, out_offsets, problems)
        except _ScanBudgetSpent:
            message = "a macro argument in this math does not close its braces; its macros are left unexpanded"
            problems.append(
                Diagnostic("TL001", message, offsets[0] if offsets else 0, offsets[-1] + 1 if offsets else 0, "hint")
            )
            return None
        if not changed:
            return None
        return "".join(out_text), out_offsets

    def expand_into(
        self,
        text: str,
        offsets: list[int],
        depth: int,
        budget: list[int],
        out_text: list[str],
        out_offsets: list[int],
        problems: list[Diagnostic] | None,
    ) -> bool:
        """Append the expansion of ``text`` to the output; ``problems`` is given at the top level only,
        where a runaway expansion is caught."""
        position = 0
        flushed = 0
        changed = False
        while True:
            match = _CONTROL_SEQUENCE.search(text, position)
            if match is None:
                break
            position = match.end()
            macro = self.macros.get(match.group(1))
            if macro is None:
                continue
            invocation = offsets[match.start()]
            if problems is not None:
                budget = [_MAX_EXPANSION_GROWTH]
            expansion_text: list[str] = []
            expansion_offsets: list[int] = []
            try:
                if macro.name in self.runaway or depth >= _MAX_EXPANSION_DEPTH:
                    raise _RunawayMacro(macro.name)
                arguments = _read_arguments(text, offsets, match.end(), macro, invocation, self.scan_budget)
                if arguments is None:
                    continue
                values, after = arguments
                body_text, body_offsets = _substitute(macro, values, invocation)
                budget[0] -= len(body_text) + 1
                if budget[0] < 0:
                    raise _RunawayMacro(macro.name)
                self.expand_into(body_text, body_offsets, depth + 1, budget, expansion_text, expansion_offsets, None)
            except _RunawayMacro:
                if problems is None:
                    raise
                self.runaway.add(macro.name)
                problems.append(_runaway_problem(macro.name, invocation, offsets[match.end() - 1] + 1))
                continue
            out_text.append(text[flushed : match.start()])
            out_offsets.extend(offsets[flushed : match.start()])
            out_text.extend(expansion_text)
            out_offsets.extend(expansion_offsets)
            flushed = position = after
            changed = True
        out_text.append(text[flushed:])
        out_offsets.extend(offsets[flushed:])
        return changed


def _runaway_problem(name: str, start: int, end: int) -> Diagnostic:
    message = f"macro \\{name} keeps expanding (does it call itself?); its uses are left unexpanded"
    return Diagnostic("TL001", message, start, max(end, start), "hint")


def _read_arguments(
    text: str, offsets: list[int], position: int, macro: _Macro, invocation: int, budget: list[int]
) -> tuple[list[tuple[str, list[int]]], int] | None:
    values: list[tuple[str, list[int]]] = []
    for index in range(macro.arguments):
        before_spaces = position
        while position < len(text) and text[position] in " \t\n":
            position += 1
        if index == 0 and macro.default is not None:
            if not text.startswith("[", position):
                # Keep the space after "\e" in "\e + x" when the optional argument is left out.
                position = before_spaces
            if text.startswith("[", position):
                optional = _read_optional(text, position, budget)
                if optional is None:
                    return None
                values.append((text[position + 1 : optional[0]], offsets[position + 1 : optional[0]]))
                position = optional[1]
            else:
                values.append((macro.default, [invocation] * len(macro.default)))
            continue
        if position >= len(text):
            return None
        character = text[position]
        if character == "{":
            group = _read_group(text, position, budget)
            if group is None:
                raise _ScanBudgetSpent
            values.append((text[position + 1 : group[0]], offsets[position + 1 : group[0]]))
            position = group[1]
        elif character == "\\":
            control = _CONTROL_SEQUENCE.match(text, position)
            end = control.end() if control else position + 1
            values.append((text[position:end], offsets[position:end]))
            position = end
        elif character == "}":
            return None
        else:
            values.append((character, offsets[position : position + 1]))
            position += 1
    return values, position


def _substitute(macro: _Macro, values: list[tuple[str, list[int]]], invocation: int) -> tuple[str, list[int]]:
    pieces: list[str] = []
    offsets: list[int] = []
    position = 0
    body = macro.body
    for parameter in _PARAMETER.finditer(body):
        pieces.append(body[position : parameter.start()])
        offsets.extend([invocation] * (parameter.start() - position))
        if parameter.group(1) == "#":
            pieces.append("#")
            offsets.append(invocation)
        else:
            index = int(parameter.group(1)) - 1
            if index < len(values):
                pieces.append(values[index][0])
                offsets.extend(values[index][1])
        position = parameter.end()
    pieces.append(body[position:])
    offsets.extend([invocation] * (len(body) - position))
    return "".join(pieces), offsets


# ---------------------------------------------------------------------------------------------------
# Jupyter notebooks
# ---------------------------------------------------------------------------------------------------

_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+', re.DOTALL)


def _notebook_source_literals(
    text: str, sources: dict[tuple[Any, ...], int] | None = None
) -> dict[tuple[Any, ...], list[tuple[int, int]]]:
    """For each cell (by its JSON path), the file ranges of the string literals of its ``source``.

    Never raises, whatever the text. ``sources``, when given, receives for each cell the offset where the
    value of its ``source`` starts, so that a problem with a cell can be reported there."""
    literals: dict[tuple[Any, ...], list[tuple[int, int]]] = {}
    value_of: tuple[Any, ...] | None = None
    path: list[Any] = []
    containers: list[str] = []
    expect_key = False
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        first = token[0]
        if first == "{":
            containers.append("{")
            path.append(None)
            expect_key = True
        elif first == "[":
            containers.append("[")
            path.append(0)
            expect_key = False
        elif first in "}]":
            if containers:
                containers.pop()
                path.pop()
            expect_key = False
        elif first == ",":
            if containers and containers[-1] == "[":
                path[-1] += 1
            else:
                expect_key = True
        elif first == ":":
            expect_key = False
        elif first == '"':
            if expect_key and containers and containers[-1] == "{":
                path[-1] = _json_key(token)
                expect_key = False
            elif len(path) >= 3 and path[-1] == "source" and path[-3] == "cells":
                literals.setdefault(tuple(path[:-1]), []).append((match.start(), match.end()))
            elif len(path) >= 4 and path[-2] == "source" and path[-4] == "cells":
                literals.setdefault(tuple(path[:-2]), []).append((match.start(), match.end()))
        if value_of is not None and sources is not None:
            sources.setdefault(value_of, match.start())
        value_of = None
        if first == ":" and len(path) >= 3 and path[-1] == "source" and path[-3] == "cells":
            # The next token (``[``, a string, a number) is where the value of ``source`` starts.
            value_of = tuple(path[:-1])
    return literals


def _json_key(token: str) -> Any:
    """The key a JSON string token spells; a token that is not valid JSON is kept as written (the file
    does not parse then, and is reported as unreadable elsewhere)."""
    if "\\" not in token:
        return token[1:-1]
    try:
        return json.loads(token)
    except ValueError:
        return token


def _decode_json_literal(
    text: str, start: int, end: int, text_offset: int, runs: list[tuple[int, int, int, int]]
) -> str:
    """Unescape the JSON string literal ``text[start:end]`` (quotes included).

    Appends to ``runs`` where its characters came from (see ``_RunRelocation``); the decoded string
    starts at ``text_offset`` in the cell's text. The literal is valid JSON (the file parsed), so an
    escape is ``\\uXXXX`` (twice for a surrogate pair, which decodes to one character) or two
    characters.
    """
    decoded = json.loads(text[start:end])
    file_position = start + 1
    stop = end - 1
    text_position = text_offset
    while True:
        backslash = text.find("\\", file_position, stop)
        if backslash < 0:
            break
        if backslash > file_position:
            runs.append((text_position, file_position, backslash - file_position, 1))
            text_position += backslash - file_position
        width = 2
        if text[backslash + 1] == "u":
            width = 6
            if _is_surrogate_pair(text, backslash):
                width = 12
        runs.append((text_position, backslash, 1, width))
        text_position += 1
        file_position = backslash + width
    if file_position < stop:
        runs.append((text_position, file_position, stop - file_position, 1))
        text_position += stop - file_position
    if text_position - text_offset != len(decoded):
        raise ValueError("a JSON escape was not understood")
    return str(decoded)


def _is_surrogate_pair(text: str, backslash: int) -> bool:
    try:
        high = int(text[backslash + 2 : backslash + 6], 16)
        if not 0xD800 <= high < 0xDC00 or not text.startswith("\\u", backslash + 6):
            return False
        return 0xDC00 <= int(text[backslash + 8 : backslash + 12], 16) < 0xE000
    except ValueError:
        return False


def notebook_location(text: str) -> Callable[[int], tuple[int, int] | None]:
    """For a notebook's file text: a function from a file offset to (cell number, line within the cell),
    both 1-based, as a person finds them in Jupyter; None outside markdown and code sources."""
    cells = sorted(_notebook_source_literals(text).items(), key=lambda item: item[1][0][0] if item[1] else 0)

    def locate(offset: int) -> tuple[int, int] | None:
        for path, literals in cells:
            if not literals or not literals[0][0] <= offset < literals[-1][1]:
                continue
            line = 1
            for start, end in literals:
                if offset < start:
                    break
                # Each escaped newline before the offset ends one line of the cell.
                line += text.count("\\n", start, min(offset, end))
            cell = path[-1] + 1 if isinstance(path[-1], int) else 1
            return cell, line
        return None

    return locate


@functools.lru_cache(maxsize=4)
def _cached_location(text: str) -> Callable[[int], tuple[int, int] | None]:
    return notebook_location(text)


def describe_place(document: Document, offset: int) -> str:
    """Where ``offset`` is, as a reader finds it: ``on line 7``, or in a notebook ``in cell 2, line 3``."""
    if _format_of(document.path) == "notebook":
        cell = _cached_location(document.text)(offset)
        if cell is not None:
            return f"in cell {cell[0]}, line {cell[1]}"
    return f"on line {document.text.count(chr(10), 0, offset) + 1}"


@functools.lru_cache(maxsize=4)
def _source_literals(text: str) -> list[tuple[int, int]]:
    return sorted(literal for literals in _notebook_source_literals(text).values() for literal in literals)


def source_text(document: Document, start: int, end: int) -> str:
    """The text the author wrote between two document offsets: the file's text, except in a notebook,
    where it is the cell's text (JSON escapes undone, macros as written)."""
    if _format_of(document.path) != "notebook":
        return document.text[start:end]
    text = document.text
    literals = _source_literals(text)
    first = max(bisect.bisect_right(literals, (start, len(text))) - 1, 0)
    decoded = []
    try:
        for literal_start, literal_end in literals[first:]:
            if literal_start >= end:
                break
            low, high = max(start, literal_start + 1), min(end, literal_end - 1)
            if low < high:
                decoded.append(json.loads(f'"{text[low:high]}"'))
        if decoded:
            return "".join(decoded)
    except ValueError:
        pass
    # Not inside the cells' strings as expected: the math spans that cover the range say what it reads.
    pieces = []
    for span in document.spans:
        if span.end <= start or span.start >= end:
            continue
        if span.offsets is None:
            pieces.append(document.text[max(start, span.start) : min(end, span.end)])
        else:
            located = zip(span.text, span.offsets, strict=False)
            pieces.append("".join(character for character, at in located if start <= at < end))
    return " ".join(piece for piece in pieces if piece) or document.text[start:end]


def encode_notebook_fixes(result: FileResult) -> FileResult:
    """Fixes say what a note should read; in a notebook their edits replace text inside a cell's JSON
    string, so each replacement goes through the JSON string encoding (``\\frac`` becomes ``\\\\frac``,
    a quote ``\\"``) and ``Edit.decoded`` keeps the text the cell will read. Other files are returned as is."""
    if _format_of(result.path) != "notebook" or not any(d.fix is not None for d in result.diagnostics):
        return result
    diagnostics = []
    for diagnostic in result.diagnostics:
        fix = diagnostic.fix
        if fix is not None:
            edits = tuple(
                edit
                if edit.decoded is not None
                else Edit(edit.start, edit.end, json.dumps(edit.new_text, ensure_ascii=False)[1:-1], edit.new_text)
                for edit in fix.edits
            )
            diagnostic = replace(diagnostic, fix=Fix(fix.title, edits))
        diagnostics.append(diagnostic)
    return replace(result, diagnostics=diagnostics)


def check_fixed_notebook(old_text: str, new_text: str, edits: list[Edit]) -> str | None:
    """Why ``new_text`` is not ``old_text`` with ``edits`` applied as intended, or ``None`` when it is.

    Intended means: the new file is valid JSON, nothing outside the cells' sources changed, and every
    cell's source reads exactly as its old text with each edit's replacement (``Edit.decoded``, the text
    the reader sees) spliced in. This catches a replacement not escaped for JSON (``\\frac`` written raw
    reads back as a form feed and ``rac``) and an edit that cuts through an escape or a string.
    """
    try:
        old = json.loads(old_text, parse_int=_json_integer, parse_constant=str)
        new = json.loads(new_text, parse_int=_json_integer, parse_constant=str)
    except (ValueError, RecursionError):
        return "the fixed notebook would not be valid JSON"
    expected = _sources_after(old_text, edits)
    if expected is None:
        return "a fix does not lie inside the text of one cell"
    old_cells, new_cells = _notebook_cells(old), _notebook_cells(new)
    if [path for path, _ in old_cells] != [path for path, _ in new_cells]:
        return "the fixed notebook would not have the same cells"
    for (path, old_cell), (_, new_cell) in zip(old_cells, new_cells, strict=True):
        if not isinstance(old_cell, dict) or not isinstance(new_cell, dict):
            if old_cell != new_cell:
                return f"cell {_cell_number(path)} would change"
            continue
        if {**old_cell, "source": None} != {**new_cell, "source": None}:
            return f"cell {_cell_number(path)} would change outside its source"
        wanted = expected.get(path, _joined_source(old_cell.get("source")))
        if _joined_source(new_cell.get("source")) != wanted:
            return f"cell {_cell_number(path)} would not read as the fix intends"
    if _without_cells(old) != _without_cells(new):
        return "the notebook would change outside its cells"
    return None


def _sources_after(text: str, edits: list[Edit]) -> dict[tuple[Any, ...], str] | None:
    """Each edited cell's source text after ``edits``, worked out on the decoded text; ``None`` when an edit
    is not inside one string literal of a cell's source or cuts through an escape."""
    literals = _notebook_source_literals(text)
    placed: dict[tuple[int, int], list[Edit]] = {}
    owner: dict[tuple[int, int], tuple[Any, ...]] = {}
    for path, ranges in literals.items():
        for literal in ranges:
            owner[literal] = path
    for edit in edits:
        inside = next((item for item in owner if item[0] < edit.start and edit.end < item[1]), None)
        if inside is None:
            return None
        placed.setdefault(inside, []).append(edit)
    result: dict[tuple[Any, ...], str] = {}
    try:
        for path in {owner[literal] for literal in placed}:
            pieces = []
            for start, end in literals[path]:
                position = start + 1
                for edit in sorted(placed.get((start, end), []), key=lambda item: item.start):
                    pieces.append(json.loads(f'"{text[position : edit.start]}"'))
                    pieces.append(edit.decoded if edit.decoded is not None else edit.new_text)
                    position = edit.end
                pieces.append(json.loads(f'"{text[position : end - 1]}"'))
            result[path] = "".join(pieces)
    except ValueError:
        return None
    return result


def _joined_source(source: Any) -> Any:
    if isinstance(source, list) and all(isinstance(piece, str) for piece in source):
        return "".join(source)
    return source


def _without_cells(data: Any) -> Any:
    if not isinstance(data, dict):
        return data
    rest = {key: value for key, value in data.items() if key not in ("cells", "worksheets")}
    worksheets = data.get("worksheets")
    if isinstance(worksheets, list):
        rest["worksheets"] = [
            {key: value for key, value in sheet.items() if key != "cells"} if isinstance(sheet, dict) else sheet
            for sheet in worksheets
        ]
    return rest


def _notebook_cells(data: Any) -> list[tuple[tuple[Any, ...], Any]]:
    """The cells of an nbformat 4 notebook (``cells``) or an nbformat 3 one (``worksheets``)."""
    if not isinstance(data, dict):
        return []
    cells = data.get("cells")
    if isinstance(cells, list):
        return [(("cells", index), cell) for index, cell in enumerate(cells)]
    result: list[tuple[tuple[Any, ...], Any]] = []
    worksheets = data.get("worksheets")
    if isinstance(worksheets, list):
        for sheet_index, sheet in enumerate(worksheets):
            sheet_cells = sheet.get("cells") if isinstance(sheet, dict) else None
            if isinstance(sheet_cells, list):
                result.extend(
                    (("worksheets", sheet_index, "cells", index), cell) for index, cell in enumerate(sheet_cells)
                )
    return result


def _json_integer(digits: str) -> int | float:
    """A JSON integer, or infinity for one longer than Python converts (4,300 digits by default)."""
    if len(digits.lstrip("-")) > 4000:
        return float("-inf") if digits.startswith("-") else float("inf")
    return int(digits)


def _cell_number(path: tuple[Any, ...]) -> int | str:
    """The 1-based number of a cell, as a person counts them in Jupyter."""
    return path[-1] + 1 if isinstance(path[-1], int) else "?"


def _extract_notebook(text: str) -> _Found:
    found = _Found()
    try:
        # An integer too long for Python to convert (metadata, an output) says nothing about the markdown.
        data = json.loads(text, parse_int=_json_integer)
    except (ValueError, RecursionError) as error:
        # A notebook that is not JSON is a file that cannot be read, not an error of the checker.
        found.problems.append(Diagnostic("TL003", f"cannot read notebook: {error}", 0, 0, "warning"))
        return found
    if not isinstance(data, dict) or not (
        isinstance(data.get("cells"), list) or isinstance(data.get("worksheets"), list)
    ):
        found.problems.append(
            Diagnostic("TL003", "cannot read notebook: this JSON is not a Jupyter notebook", 0, 0, "warning")
        )
        return found
    cells = [
        (path, cell)
        for path, cell in _notebook_cells(data)
        if isinstance(cell, dict) and cell.get("cell_type") == "markdown"
    ]
    if not cells:
        return found
    sources: dict[tuple[Any, ...], int] = {}
    literals = _notebook_source_literals(text, sources)
    # One budget for the whole notebook, so a huge one is not read cell by cell at full cost.
    budget = _MarkdownBudget()
    for path, cell in cells:
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(piece, str) for piece in source):
            expected = "".join(source)
        elif isinstance(source, str):
            expected = source
        else:
            # Jupyter itself would not open this cell; say so there and read the other cells.
            where = sources.get(path, 0)
            message = f"cannot read markdown cell {_cell_number(path)}: its source is not text"
            found.problems.append(Diagnostic("TL003", message, where, where + 1 if where else 0, "warning"))
            continue
        if not expected:
            continue
        pieces: list[str] = []
        runs: list[tuple[int, int, int, int]] = []
        decoded_length = 0
        cell_literals = literals.get(path, [])
        try:
            for literal_start, literal_end in cell_literals:
                piece = _decode_json_literal(text, literal_start, literal_end, decoded_length, runs)
                pieces.append(piece)
                decoded_length += len(piece)
        except ValueError:
            pieces = []
        if "".join(pieces) != expected or not cell_literals:
            # A cell written twice (duplicate keys) or escaped in a way the file map cannot follow.
            where = sources.get(path, 0)
            message = f"cannot read markdown cell {_cell_number(path)}: its source cannot be located in the file"
            found.problems.append(Diagnostic("TL003", message, where, where + 1 if where else 0, "warning"))
            continue
        relocation = _RunRelocation(runs, cell_literals[-1][1] - 1)
        cell_found = _relocate(_extract_markdown(expected, budget), relocation)
        found.spans.extend(cell_found.spans)
        found.paragraphs.extend(cell_found.paragraphs)
        found.directives.extend(cell_found.directives)
        found.problems.extend(cell_found.problems)
    return found


# ---------------------------------------------------------------------------------------------------
# From what the readers found to the Document
# ---------------------------------------------------------------------------------------------------

_NOISE_MATH = frozenset(("\\begingroup", "\\endgroup"))


def _finish(path: str, text: str, found: _Found) -> Document:
    document = Document(path=path, text=text, directives=list(found.directives))
    problems = list(found.problems)
    expander = _MacroExpander()
    definitions = sorted(found.definitions, key=lambda item: item[0])
    next_definition = 0
    index_of: dict[int, int] = {}
    for span in sorted(found.spans, key=lambda item: item.start):
        while next_definition < len(definitions) and definitions[next_definition][0] < span.start:
            expander.define(definitions[next_definition][1])
            next_definition += 1
        stripped = span.text.strip()
        if not stripped or stripped in _NOISE_MATH:
            continue
        if _DEFINITION_START.match(stripped):
            macros = _parse_definitions_only(stripped)
            if macros is not None:
                for macro in macros:
                    expander.define(macro)
                continue
        span_text = span.text
        offsets = span.offsets
        if expander.macros and "\\" in span_text:
            expanded = expander.expand(span_text, span.offset_list(), problems)
            if expanded is not None:
                span_text, offsets = expanded
        index_of[id(span)] = len(document.spans)
        document.spans.append(_math_span(text, span, span_text, offsets))
    for paragraph in found.paragraphs:
        prose_text = "".join(
            piece if isinstance(piece, str) else (f"${index_of[id(piece)]}$" if id(piece) in index_of else "")
            for piece in paragraph.pieces
        )
        prose_text = prose_text.strip()
        if prose_text:
            document.prose.append(Prose(prose_text, paragraph.start, paragraph.end))
    document.prose.sort(key=lambda prose: prose.start)
    document.directives.sort(key=lambda directive: directive.start)
    document.problems = sorted(problems, key=lambda problem: problem.start)
    return document


def _math_span(document_text: str, span: _Span, span_text: str, offsets: list[int] | None) -> MathSpan:
    start, end = span.start, span.end
    if offsets is not None and len(offsets) == len(span_text):
        plain = (
            end - start == len(span_text)
            and document_text[start:end] == span_text
            and all(offset == start + index for index, offset in enumerate(offsets))
        )
        if not plain:
            return MathSpan(span_text, start, end, span.display, span.environment, tuple(offsets))
    return MathSpan(span_text, start, end, span.display, span.environment)
