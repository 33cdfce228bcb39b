"""Language server latency and memory on a long note, measured from a real client over stdio.

Generates a 3,000-line Markdown note with 1,000 claims (the templates of ``throughput.py``, with a line
of prose after many of them), starts ``tensorlint serve`` in a subprocess, drives it with pygls' client the
way an editor does, and reports against the budgets of DESIGN.md:

- **edit → diagnostics**: the time from a one-character edit inside a claim to the diagnostics published
  for that version, minus the debounce (the server waits ``tensorlint.debounce`` after the last keystroke
  before it checks; the edit is alone, so that wait is exactly the debounce). Budget: 100 ms.
- **hover** on claims and names across the note, round trip. Budget: 50 ms.
- **resident memory** of the server process after all of it (and its peak). Budget: 200 MB.

Also reported: the first (cold) check on opening the note, and an edit in prose.

    python benchmarks/lsp_latency.py [--claims 1000] [--lines 3000] [--edits 20] [--hovers 50] [--debounce 300]

A benchmark measures, it does not fail: the exit code is 0 whatever the numbers are (2 only when the server
cannot be started, for example without the ``lsp`` extra).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

BUDGET_EDIT_MS = 100.0
BUDGET_HOVER_MS = 50.0
BUDGET_MEMORY_MB = 200.0
PROSE = (
    "The step above follows from the product rule and the cyclic property of the trace.",
    "Here the shapes agree because the vector and the matrix were declared at the top of the note.",
    "Nothing new is introduced in this line; it only restates the previous result in words.",
)


def generate(claims: int, lines: int, seed: int) -> str:
    """A note with ``claims`` claims, padded with prose lines after claims to about ``lines`` lines."""
    from throughput import generate_note

    text, _ = generate_note(random.Random(seed), 1, claims)
    body = text.rstrip("\n").split("\n")
    missing = max(0, lines - len(body))
    claim_lines = [index for index, line in enumerate(body) if "$" in line and "\\" in line][2:]
    rng = random.Random(seed + 1)
    padded_after = set(rng.sample(claim_lines, min(missing, len(claim_lines))))
    out: list[str] = []
    for index, line in enumerate(body):
        out.append(line)
        if index in padded_after:
            out.append(rng.choice(PROSE))
    while len(out) < lines:
        out.append(rng.choice(PROSE))
    return "\n".join(out) + "\n"


def core_recheck_ms(text: str, lines: list[str], claim_lines: list[int], edits: int, seed: int) -> list[float]:
    """The core alone, in this process: a warm re-check (``ClaimCache`` from the previous run) after the
    same kind of one-character edit, to tell the checker's share of the latency from the server's."""
    from tensorlint.core import check_text
    from tensorlint.interpret import ClaimCache

    cache = ClaimCache()
    check_text("note.md", text, None, cache)
    rng = random.Random(seed)
    timings = []
    for _ in range(edits):
        line = rng.choice(claim_lines)
        edited = "\n".join([*lines[:line], "$$ " + lines[line][2:], *lines[line + 1 :]])
        for version in (edited, text):
            cache.next_run()
            started = time.perf_counter()
            check_text("note.md", version, None, cache)
            timings.append(1000 * (time.perf_counter() - started))
    return timings


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def summary(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):7.1f}   p90 {percentile(values, 0.9):7.1f}   "
        f"max {max(values):7.1f}   (n={len(values)})"
    )


def verdict(value: float, budget: float) -> str:
    return "PASS" if value <= budget else "OVER"


def memory_mb(pid: int) -> tuple[float | None, float | None]:
    """Resident and peak resident memory of a process, from /proc (Linux); None elsewhere."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except OSError:
        return None, None
    found: dict[str, float] = {}
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) / 1024
    return found.get("VmRSS"), found.get("VmHWM")


async def run(args: argparse.Namespace) -> int:
    try:
        from lsprotocol import types
        from pygls.lsp.client import LanguageClient
    except ImportError as error:
        print(f"cannot run: {error} (pip install 'tensorlint[lsp]')", file=sys.stderr)
        return 2

    text = generate(args.claims, args.lines, args.seed)
    lines = text.split("\n")
    uri = Path(os.path.abspath("benchmark-note.md")).as_uri()
    published: dict[int, float] = {}
    counts: dict[int, int] = {}
    arrived = asyncio.Event()

    client = LanguageClient("lsp-latency", "1")

    @client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def on_diagnostics(params: types.PublishDiagnosticsParams) -> None:
        if params.uri == uri and params.version is not None:
            published[params.version] = time.perf_counter()
            counts[params.version] = len(params.diagnostics)
            arrived.set()

    @client.feature(types.WORKSPACE_CONFIGURATION)
    def configuration(params: types.ConfigurationParams) -> list[Any]:
        return [{"debounce": args.debounce} for _ in params.items]

    @client.feature(types.WINDOW_LOG_MESSAGE)
    def log_message(params: types.LogMessageParams) -> None:
        print(f"  server: {params.message}", file=sys.stderr)

    await client.start_io(sys.executable, "-m", "tensorlint", "serve")
    server = client._server  # The asyncio subprocess, for its memory.
    if server is None:
        print("cannot run: the server did not start", file=sys.stderr)
        return 2
    capabilities = types.ClientCapabilities(
        workspace=types.WorkspaceClientCapabilities(configuration=True),
        text_document=types.TextDocumentClientCapabilities(
            hover=types.HoverClientCapabilities(content_format=[types.MarkupKind.Markdown]),
            publish_diagnostics=types.PublishDiagnosticsClientCapabilities(version_support=True),
        ),
    )
    await client.initialize_async(types.InitializeParams(capabilities=capabilities, process_id=os.getpid()))
    client.initialized(types.InitializedParams())

    async def wait_for(version: int) -> float:
        while version not in published:
            arrived.clear()
            await asyncio.wait_for(arrived.wait(), timeout=600)
        return published[version]

    print(f"note: {len(lines) - 1} lines, {args.claims} claims; debounce {args.debounce} ms")
    started = time.perf_counter()
    client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "markdown", 1, text)))
    first = await wait_for(1)
    print(f"open → diagnostics (cold check):      {1000 * (first - started):7.1f} ms, {counts[1]} diagnostics")

    # One-character edits inside claims spread over the note: insert a space after `$$`, then take it out.
    rng = random.Random(args.seed + 2)
    claim_lines = [index for index, line in enumerate(lines) if line.startswith("$$")]
    prose_lines = [index for index, line in enumerate(lines) if line in PROSE]
    version = 1
    edit_ms: list[float] = []
    prose_ms: list[float] = []

    async def edit(line: int, character: int, new_text: str, delete: bool) -> float:
        nonlocal version
        version += 1
        end = types.Position(line, character + (1 if delete else 0))
        change = types.TextDocumentContentChangePartial(
            range=types.Range(types.Position(line, character), end), text=new_text
        )
        sent = time.perf_counter()
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(types.VersionedTextDocumentIdentifier(version=version, uri=uri), [change])
        )
        done = await wait_for(version)
        return 1000 * (done - sent) - args.debounce

    for _ in range(args.edits):
        line = rng.choice(claim_lines)
        edit_ms.append(await edit(line, 2, " ", delete=False))
        edit_ms.append(await edit(line, 2, "", delete=True))
    for _ in range(max(1, args.edits // 4)):
        line = rng.choice(prose_lines)
        prose_ms.append(await edit(line, 0, "A", delete=False))
        prose_ms.append(await edit(line, 0, "", delete=True))

    hover_ms: list[float] = []
    for _ in range(args.hovers):
        line = rng.choice(claim_lines)
        character = rng.randrange(3, max(4, len(lines[line]) - 3))
        sent = time.perf_counter()
        await client.text_document_hover_async(
            types.HoverParams(types.TextDocumentIdentifier(uri), types.Position(line, character))
        )
        hover_ms.append(1000 * (time.perf_counter() - sent))

    resident, peak = memory_mb(server.pid)
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()

    core_ms = core_recheck_ms(text, lines, claim_lines, args.edits, args.seed + 2)
    edit_median = statistics.median(edit_ms)
    hover_median = statistics.median(hover_ms)
    print(f"edit in a claim → diagnostics, ms:    {summary(edit_ms)}   {verdict(edit_median, BUDGET_EDIT_MS)}")
    print(f"  of which the core's warm re-check:  {summary(core_ms)}   (in process, same edits)")
    print(f"edit in prose → diagnostics, ms:      {summary(prose_ms)}")
    print(f"hover, ms:                            {summary(hover_ms)}   {verdict(hover_median, BUDGET_HOVER_MS)}")
    if resident is not None and peak is not None:
        print(
            f"server memory: resident {resident:.0f} MB, peak {peak:.0f} MB"
            f"   {verdict(peak, BUDGET_MEMORY_MB)} (budget {BUDGET_MEMORY_MB:.0f} MB)"
        )
    else:
        print("server memory: not measured (needs /proc)")
    print(
        f"budgets: edit → diagnostics ≤ {BUDGET_EDIT_MS:.0f} ms after the debounce, hover ≤ {BUDGET_HOVER_MS:.0f} ms "
        "(medians)"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=1000, help="claims in the note (default 1000)")
    parser.add_argument("--lines", type=int, default=3000, help="lines in the note (default 3000)")
    parser.add_argument("--edits", type=int, default=20, help="edit pairs (insert, delete) in claims")
    parser.add_argument("--hovers", type=int, default=50, help="hover requests")
    parser.add_argument("--debounce", type=int, default=300, help="the server's debounce in ms (default 300)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    return asyncio.run(run(args))


if __name__ == "__main__":
    raise SystemExit(main())
