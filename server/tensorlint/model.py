"""Plain data shared by every stage of the pipeline.

Positions inside the core are code-point offsets into the document text. They become 1-based lines and
columns only at the edge (``report.LineIndex``), so every stage can slice the text it was given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning", "info", "hint"]
Verdict = Literal["verified", "wrong", "layout", "shape", "uncheckable", "definition"]
SEVERITY_ORDER: dict[str, int] = {"hint": 0, "info": 1, "warning": 2, "error": 3}


@dataclass(frozen=True)
class MathSpan:
    """One piece of math found in a document.

    ``text`` is the LaTeX between the delimiters. Character ``k`` of ``text`` sits at document offset
    ``offsets[k]`` when ``offsets`` is given (text that was unescaped, as in a notebook's JSON), and at
    ``start + k`` otherwise. ``end`` is the document offset just past the last character.
    """

    text: str
    start: int
    end: int
    display: bool
    environment: str | None = None
    offsets: tuple[int, ...] | None = None

    def doc_offset(self, k: int) -> int:
        """Document offset of character ``k`` of ``text``; ``k == len(text)`` maps to ``end``."""
        if k >= len(self.text):
            return self.end
        if self.offsets is not None:
            return self.offsets[k]
        return self.start + k


@dataclass(frozen=True)
class Prose:
    """A run of prose between math spans, kept for declarations such as "let $W$ be a $n\\times m$ matrix".

    ``text`` has every math span replaced by ``$k$`` where ``k`` indexes ``Document.spans``.
    """

    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Directive:
    """A ``tensorlint: ...`` comment: its body after the colon, and where it stands."""

    body: str
    start: int
    end: int


@dataclass
class Document:
    """What extraction found in one file, in reading order."""

    path: str
    text: str
    spans: list[MathSpan] = field(default_factory=list)
    prose: list[Prose] = field(default_factory=list)
    directives: list[Directive] = field(default_factory=list)
    problems: list[Diagnostic] = field(default_factory=list)


@dataclass(frozen=True)
class Edit:
    """Replace ``[start, end)`` of the document text with ``new_text``, written as the file stores it.

    ``decoded`` is the replacement as the reader of the note sees it, when the file stores it encoded (in
    a notebook, ``new_text`` is escaped for the cell's JSON string); ``None`` when it is ``new_text``. A
    writer uses it to check that the file reads back as intended.
    """

    start: int
    end: int
    new_text: str
    decoded: str | None = None


@dataclass(frozen=True)
class Fix:
    title: str
    edits: tuple[Edit, ...]


@dataclass(frozen=True)
class Diagnostic:
    """A finding at a document range; ``code`` names a rule in ``tensorlint.rules``."""

    code: str
    message: str
    start: int
    end: int
    severity: Severity
    fix: Fix | None = None


@dataclass
class Claim:
    """One relation (or definition) found in the math, with its verdict."""

    start: int
    end: int
    latex: str
    verdict: Verdict
    message: str = ""
    layout: str | None = None
    # A suppression directive silenced the finding on this claim: the summary leaves it out of the counts.
    suppressed: bool = False


@dataclass(frozen=True)
class Symbol:
    """Where the note gives a name its meaning: ``kind`` is ``declared`` or ``defined``; ``shape`` is
    readable (``n×m matrix``, ``m-vector``, ``scalar``) or empty when unknown. For hovers and outlines."""

    name: str
    kind: str
    shape: str
    start: int
    end: int


@dataclass
class FileResult:
    path: str
    text: str
    claims: list[Claim] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    symbols: list[Symbol] = field(default_factory=list)


@dataclass(frozen=True)
class Config:
    """Settings that change what the checker does (not how results are printed)."""

    layout: Literal["auto", "numerator", "denominator"] = "auto"
    einstein: Literal["auto", "on", "off"] = "auto"
    unify_fonts: bool = True
    trials: int = 3
    tolerance: float = 1e-6
    claim_timeout: float = 2.0
    # LaTeX macro definitions the note relies on but does not contain (a `macros.tex` next to it, a file it
    # `\input`s, the files of the `macros` setting): their text, read by the command line or the language
    # server (``macro_files.with_macros``) since the core does no I/O. Applied before the note's own macros.
    macros: str = ""
    # The files of the `macros` setting, as absolute paths: read by the shells, never by the core.
    macro_files: tuple[str, ...] = ()
