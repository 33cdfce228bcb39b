"""Language server latency on a long note of distinct claims, measured from a real client over stdio.

Method. ``lsp_note.generate`` writes a 3,000-line Markdown note with about 1,000 claims, no two alike
(each scaled by its own coefficient, each section declaring its own names), half of them followed by a
line of prose. ``tensorlint serve`` runs in a subprocess, driven by pygls' client the way an editor drives
it: incremental changes, versioned diagnostics pushed, the debounce set through the client's settings
(``--debounce``, 300 ms by default as in VS Code). After the note is opened and checked once, it measures:

- **typing in prose / in a claim / in a declaration**: one keystroke (a letter at the start of a prose
  line; a digit after a claim's first coefficient, which makes the claim false until it is taken out; a
  dimension changed in a section's declaration), then the keystroke that undoes it, each in a different
  place of the note. Reported: the time from sending the change to the diagnostics published for that
  version, minus the debounce (the server waits that long after the last keystroke before it checks).
- **a burst of 20 keystrokes** at 50 ms intervals into one prose line: the time from the last one to the
  diagnostics for the last version, minus the debounce. Only the last version may be published.
- **hover right after an edit**: a change, then at once a hover on a claim elsewhere in the note (the
  re-check is waiting for its debounce or running). And hover with nothing running, for comparison.

Medians with their spread (10th to 90th percentile, extremes) against the budgets: ≤ 100 ms after the
debounce for a keystroke, ≤ 150 ms for the burst, ≤ 50 ms for hover. Memory over 1,000 edits is measured
by ``lsp_memory.py``.

    python benchmarks/lsp_latency.py [--lines 3000] [--edits 10] [--bursts 5] [--hovers 30] [--debounce 300]

A benchmark measures, it does not fail: the exit code is 0 whatever the numbers are (2 only when the server
cannot be started).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lsp_note import Session, generate, memory_mb, summary, verdict

BUDGET_KEYSTROKE_MS = 100.0
BUDGET_BURST_MS = 150.0
BUDGET_HOVER_MS = 50.0
COEFFICIENT = re.compile(r"\d+")
DIMENSION = re.compile(r"\^\{([A-Za-z])\\times")


async def run(args: argparse.Namespace) -> int:
    try:
        import lsprotocol  # noqa: F401
        import pygls  # noqa: F401
    except ImportError as error:
        print(f"cannot run: {error}", file=sys.stderr)
        return 2
    note = generate(args.lines, args.seed)
    session = Session(note, args.debounce)
    await session.start()
    print(__doc__.split("\n\n")[1].replace("\n", " "))
    print()
    print(f"note: {len(note.lines)} lines, {note.claims} distinct claims; debounce {args.debounce} ms")
    print(f"open → first diagnostics (cold check of the whole note): {await session.open():.0f} ms")
    rng = random.Random(args.seed + 1)

    async def keystroke(line: int, start: int, end: int, text: str) -> float:
        sent = session.edit(line, start, end, text)
        return 1000 * (await session.wait_for(session.version) - sent) - args.debounce

    prose: list[float] = []
    claim: list[float] = []
    declaration: list[float] = []
    for _ in range(args.edits):
        line = rng.choice(note.prose_lines)
        prose.append(await keystroke(line, 0, 0, "A"))
        prose.append(await keystroke(line, 0, 1, ""))

        line = rng.choice(note.claim_lines)
        found = COEFFICIENT.search(session.lines[line])
        assert found is not None
        claim.append(await keystroke(line, found.end(), found.end(), "7"))
        claim.append(await keystroke(line, found.end(), found.end() + 1, ""))

        line = rng.choice(note.declaration_lines)
        found = DIMENSION.search(session.lines[line]) or re.search(r"\^\{([A-Za-z])\}", session.lines[line])
        assert found is not None
        old = found.group(1)
        declaration.append(await keystroke(line, found.start(1), found.end(1), "s" if old != "s" else "t"))
        declaration.append(await keystroke(line, found.start(1), found.end(1), old))

    burst: list[float] = []
    for _ in range(args.bursts):
        line = rng.choice(note.prose_lines)
        word = "gradients "
        sent = 0.0
        for index in range(20):
            sent = session.edit(line, index, index, word[index % len(word)])
            if index < 19:
                await asyncio.sleep(0.05)
        last = session.version
        burst.append(1000 * (await session.wait_for(last) - sent) - args.debounce)
        stale = [version for version in range(last - 19, last) if version in session.published]
        if stale:
            print(f"  note: diagnostics were published for superseded versions {stale}")
        # Take the word out again in one change.
        session.edit(line, 0, 20, "")
        await session.wait_for(session.version)

    def hover_place() -> tuple[int, int]:
        line = rng.choice(note.claim_lines)
        return line, rng.randrange(3, max(4, len(session.lines[line]) - 3))

    idle: list[float] = []
    after_edit: list[float] = []
    empty = 0
    for _ in range(args.hovers):
        elapsed, result = await session.hover(*hover_place())
        idle.append(elapsed)
        line = rng.choice(note.prose_lines)
        session.edit(line, 0, 0, "B")
        elapsed, result = await session.hover(*hover_place())
        after_edit.append(elapsed)
        empty += result is None
        await session.wait_for(session.version)
        session.edit(line, 0, 1, "")
        await session.wait_for(session.version)

    resident = memory_mb(session.pid)
    await session.stop()

    rows = (
        ("typing in prose", prose, BUDGET_KEYSTROKE_MS),
        ("typing in a claim", claim, BUDGET_KEYSTROKE_MS),
        ("typing in a declaration", declaration, BUDGET_KEYSTROKE_MS),
        ("burst of 20 keystrokes", burst, BUDGET_BURST_MS),
        ("hover right after an edit", after_edit, BUDGET_HOVER_MS),
        ("hover, nothing running", idle, BUDGET_HOVER_MS),
    )
    print()
    print("ms after the debounce (keystrokes, burst) or round trip (hover):")
    for label, values, budget in rows:
        print(f"  {label:<27} {summary(values)}  {verdict(statistics.median(values), budget)} (≤ {budget:.0f})")
    if empty:
        print(f"  hovers right after an edit that came back empty: {empty} of {len(after_edit)}")
    if resident is not None:
        print(f"server memory at the end: {resident:.0f} MB resident (see lsp_memory.py for growth)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=3000, help="lines in the note (default 3000)")
    parser.add_argument("--edits", type=int, default=10, help="keystroke pairs of each kind (default 10)")
    parser.add_argument("--bursts", type=int, default=5, help="bursts of 20 keystrokes (default 5)")
    parser.add_argument("--hovers", type=int, default=30, help="hovers of each kind (default 30)")
    parser.add_argument("--debounce", type=int, default=300, help="the server's debounce in ms (default 300)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    return asyncio.run(run(args))


if __name__ == "__main__":
    raise SystemExit(main())
