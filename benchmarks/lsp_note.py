"""Shared by the language-server benchmarks: a long note of distinct claims, and a client session.

The note is about 3,000 lines in sections of about 30. Each section declares its own names (letters,
fonts, dimension symbols and transpose spelling picked at random), then states ten claims from the
templates of ``throughput.py``, each scaled by its own coefficient (``\\frac{\\partial 417 a^T x}{\\partial x}
= 417 \\cdot a``), so that no two claims of the note have the same text and no verdict is answered from a
cache filled by another claim. Every other claim is followed by a line of prose. The note depends only
on the seed.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from throughput import (
    DIMENSION_PAIRS,
    MATRIX_FONTS,
    MATRIX_LETTERS,
    PLACEHOLDER,
    TEMPLATES,
    TRANSPOSES,
    VECTOR_FONTS,
    VECTOR_LETTERS,
)

PROSE = (
    "the gradient follows from the product rule and the trace is cyclic so the shapes agree with what was "
    "declared above; each step restates the previous one in words while the layout stays as the note said "
    "and nothing new is introduced here except a reminder of why the chain rule applies to this composition"
)
WORDS = tuple(PROSE.split(" "))


@dataclass
class Note:
    text: str
    lines: list[str]
    claim_lines: list[int] = field(default_factory=list)  # 0-based lines that hold one claim
    prose_lines: list[int] = field(default_factory=list)
    declaration_lines: list[int] = field(default_factory=list)
    claims: int = 0


def _scaled(latex: str, coefficient: int) -> str:
    """The template times ``coefficient`` on both sides: inside the numerator of a derivative, around the
    whole of an identity."""
    left, right = latex.split(" = ", 1)
    if left.startswith(r"\frac{\partial}{\partial"):
        close = left.index("}", left.index(r"{\partial", 6) + 1) + 1
        left = f"{left[:close]} {coefficient} {left[close:].strip()}"
    elif left.startswith(r"\frac{\partial "):
        left = r"\frac{\partial " + f"{coefficient} " + left[len(r"\frac{\partial ") :]
    else:
        left = f"{coefficient} \\cdot ({left})"
    return f"{left} = {coefficient} \\cdot ({right})"


def generate(lines: int = 3000, seed: int = 0) -> Note:
    rng = random.Random(seed)
    out = ["# A long note", "", "We use denominator layout: the gradient of a scalar has the shape of the variable."]
    note = Note("", out)
    seen: set[str] = set()
    section = 0
    while len(out) < lines - 5:
        section += 1
        rows, columns = rng.choice(DIMENSION_PAIRS)
        matrices = rng.sample([c for c in MATRIX_LETTERS if c not in (rows, columns)], 4)
        vectors = rng.sample([c for c in VECTOR_LETTERS if c not in (rows, columns)], 4)
        vector_font, matrix_font = rng.choice(VECTOR_FONTS), rng.choice(MATRIX_FONTS)
        names = dict(zip("ABXW", (matrix_font.format(m) for m in matrices), strict=True))
        names |= dict(zip("xauv", (vector_font.format(v) for v in vectors), strict=True))
        names["T"] = rng.choice(TRANSPOSES)

        def fill(latex: str, names: dict[str, str] = names) -> str:
            return PLACEHOLDER.sub(lambda match: names[match.group(1)], latex)

        out += ["", f"## Section {section}", ""]
        note.declaration_lines.append(len(out))
        out.append(
            fill(
                f"Let $@A \\in \\mathbb{{R}}^{{{rows}\\times {rows}}}$, "
                f"$@B \\in \\mathbb{{R}}^{{{rows}\\times {rows}}}$, "
                f"$@X \\in \\mathbb{{R}}^{{{rows}\\times {rows}}}$ with positive determinant and "
                f"$@W \\in \\mathbb{{R}}^{{{rows}\\times {columns}}}$."
            )
        )
        note.declaration_lines.append(len(out))
        out.append(
            fill(
                f"Let $@x \\in \\mathbb{{R}}^{{{columns}}}$, $@a \\in \\mathbb{{R}}^{{{columns}}}$, "
                f"$@u \\in \\mathbb{{R}}^{{{rows}}}$ and $@v \\in \\mathbb{{R}}^{{{rows}}}$."
            )
        )
        for _ in range(10):
            while True:
                template = rng.choice(TEMPLATES)
                latex = fill(_scaled(template.latex, rng.randrange(2, 10_000)))
                if latex not in seen:
                    seen.add(latex)
                    break
            out.append("")
            note.claim_lines.append(len(out))
            out.append(f"$${latex}$$")
            note.claims += 1
            if rng.random() < 0.5:
                note.prose_lines.append(len(out))
                out.append(" ".join(rng.choice(WORDS) for _ in range(rng.randrange(10, 18))).capitalize() + ".")
    note.text = "\n".join(out) + "\n"
    return note


# --------------------------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def summary(values: list[float]) -> str:
    """Median with its spread: the 10th to 90th percentile, and the extremes."""
    return (
        f"median {statistics.median(values):7.1f}  "
        f"p10–p90 {percentile(values, 0.1):6.1f}–{percentile(values, 0.9):6.1f}"
        f"  min {min(values):6.1f}  max {max(values):7.1f}  (n={len(values)})"
    )


def verdict(value: float, budget: float) -> str:
    return "PASS" if value <= budget else "OVER"


def memory_mb(pid: int) -> float | None:
    """Resident memory of a process and its children, from /proc (Linux); None elsewhere."""
    total = 0.0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(child) for child in children]
    except OSError:
        pass
    for each in pids:
        try:
            status = Path(f"/proc/{each}/status").read_text(encoding="utf-8")
        except OSError:
            return None
        for line in status.splitlines():
            key, _, value = line.partition(":")
            if key == "VmRSS":
                total += int(value.split()[0]) / 1024
    return total


# --------------------------------------------------------------------------------------------------------
# A client session
# --------------------------------------------------------------------------------------------------------


class Session:
    """``tensorlint serve`` in a subprocess, driven by pygls' client as an editor drives it: incremental
    changes, pushed diagnostics with versions, the client's settings answered from ``settings``."""

    def __init__(self, note: Note, debounce_ms: int) -> None:
        self.note = note
        self.lines = list(note.lines)
        self.debounce_ms = debounce_ms
        self.uri = Path(os.path.abspath("lsp-benchmark-note.md")).as_uri()
        self.version = 0
        self.published: dict[int, float] = {}
        self.arrived = asyncio.Event()
        self.client: Any = None
        self.pid = 0

    async def start(self) -> None:
        from lsprotocol import types
        from pygls.lsp.client import LanguageClient

        client = LanguageClient("lsp-benchmark", "1")
        self.client = client

        @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def on_diagnostics(params: types.PublishDiagnosticsParams) -> None:
            if params.uri == self.uri and params.version is not None:
                self.published[params.version] = time.perf_counter()
                self.arrived.set()

        @client.feature(types.WORKSPACE_CONFIGURATION)
        def configuration(params: types.ConfigurationParams) -> list[Any]:
            return [{"debounce": self.debounce_ms} for _ in params.items]

        @client.feature(types.WINDOW_LOG_MESSAGE)
        def log_message(params: types.LogMessageParams) -> None:
            print(f"  server: {params.message}", file=sys.stderr)

        await client.start_io(sys.executable, "-m", "tensorlint", "serve")
        self.pid = client._server.pid
        capabilities = types.ClientCapabilities(
            workspace=types.WorkspaceClientCapabilities(configuration=True),
            text_document=types.TextDocumentClientCapabilities(
                hover=types.HoverClientCapabilities(content_format=[types.MarkupKind.Markdown]),
                publish_diagnostics=types.PublishDiagnosticsClientCapabilities(version_support=True),
            ),
        )
        await client.initialize_async(types.InitializeParams(capabilities=capabilities, process_id=os.getpid()))
        client.initialized(types.InitializedParams())

    async def open(self) -> float:
        """Open the note; the time to its first diagnostics, in ms."""
        from lsprotocol import types

        self.version = 1
        started = time.perf_counter()
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(types.TextDocumentItem(self.uri, "markdown", 1, self.note.text))
        )
        return 1000 * (await self.wait_for(1) - started)

    async def wait_for(self, version: int) -> float:
        while version not in self.published:
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), timeout=900)
        return self.published[version]

    def edit(self, line: int, start: int, end: int, text: str) -> float:
        """Send one incremental change; returns when it was sent."""
        from lsprotocol import types

        self.version += 1
        change = types.TextDocumentContentChangePartial(
            range=types.Range(types.Position(line, start), types.Position(line, end)), text=text
        )
        old = self.lines[line]
        self.lines[line] = old[:start] + text + old[end:]
        sent = time.perf_counter()
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                types.VersionedTextDocumentIdentifier(version=self.version, uri=self.uri), [change]
            )
        )
        return sent

    async def hover(self, line: int, character: int) -> tuple[float, Any]:
        from lsprotocol import types

        sent = time.perf_counter()
        result = await self.client.text_document_hover_async(
            types.HoverParams(types.TextDocumentIdentifier(self.uri), types.Position(line, character))
        )
        return 1000 * (time.perf_counter() - sent), result

    async def stop(self) -> None:
        await self.client.shutdown_async(None)
        self.client.exit(None)
        await self.client.stop()
