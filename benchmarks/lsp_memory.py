"""Language server memory over 1,000 edits of a long note of distinct claims.

Method. The note of ``lsp_note.generate`` (3,000 lines, about 1,000 distinct claims) is opened in
``tensorlint serve`` (a subprocess driven by pygls' client), then edited 1,000 times, each edit waiting for
its diagnostics, so that every edit is one full re-check: in turn a letter typed into a prose line (the
text keeps growing, so no version repeats), a new coefficient in a claim (a claim the server has never
seen), and a dimension of a declaration changed and changed back. The debounce is 0 (``--debounce``):
it changes when a check starts, not what is kept. The resident memory of the server process (and of any
worker processes it started) is read from /proc after the first check and every 100 edits.

Reported: the resident memory after the warm-up (the first 100 edits) and after all edits, the growth
between them, and the largest value seen, against the budgets: flat (±10 MB from 100 to 1,000 edits)
and ≤ 200 MB.

    python benchmarks/lsp_memory.py [--lines 3000] [--edits 1000] [--debounce 0]

A benchmark measures, it does not fail: the exit code is 0 whatever the numbers are.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lsp_note import Session, generate, memory_mb, verdict

BUDGET_GROWTH_MB = 10.0
BUDGET_MEMORY_MB = 200.0
COEFFICIENT = re.compile(r"\d+")
DIMENSION = re.compile(r"\^\{([A-Za-z])\\times")


async def run(args: argparse.Namespace) -> int:
    note = generate(args.lines, args.seed)
    session = Session(note, args.debounce)
    await session.start()
    print(__doc__.split("\n\n")[1].replace("\n", " "))
    print()
    print(f"note: {len(note.lines)} lines, {note.claims} distinct claims; debounce {args.debounce} ms")
    await session.open()
    samples = [(0, memory_mb(session.pid))]
    print(f"after opening: {samples[0][1]:.1f} MB", flush=True)
    rng = random.Random(args.seed + 3)
    started = time.perf_counter()
    for number in range(1, args.edits + 1):
        kind = number % 3
        if kind == 0:
            line = rng.choice(note.prose_lines)
            session.edit(line, 0, 0, rng.choice("abcdefghijklmnopqrstuvwxyz"))
        elif kind == 1:
            line = rng.choice(note.claim_lines)
            found = COEFFICIENT.search(session.lines[line])
            assert found is not None
            session.edit(line, found.start(), found.end(), str(rng.randrange(2, 10**6)))
        else:
            line = rng.choice(note.declaration_lines)
            found = DIMENSION.search(session.lines[line]) or re.search(r"\^\{([A-Za-z])\}", session.lines[line])
            assert found is not None
            session.edit(line, found.start(1), found.end(1), "s" if found.group(1) != "s" else "t")
        await session.wait_for(session.version)
        if number % 100 == 0:
            samples.append((number, memory_mb(session.pid)))
            elapsed = time.perf_counter() - started
            print(f"after {number:>5} edits: {samples[-1][1]:.1f} MB  ({elapsed:.0f} s)", flush=True)
    await session.stop()

    values = [value for _, value in samples if value is not None]
    if len(values) < 3:
        print("memory: not measured (needs /proc and at least 200 edits)")
        return 0
    warm, last = values[1], values[-1]
    growth = last - warm
    print()
    print(
        f"resident after {samples[1][0]} edits {warm:.1f} MB, after {samples[-1][0]} edits {last:.1f} MB: "
        f"growth {growth:+.1f} MB ({growth / max(1, samples[-1][0] - samples[1][0]) * 1000:+.1f} KB per edit)  "
        f"{verdict(abs(growth), BUDGET_GROWTH_MB)} (±{BUDGET_GROWTH_MB:.0f} MB)"
    )
    print(f"largest resident seen: {max(values):.1f} MB  {verdict(max(values), BUDGET_MEMORY_MB)} (≤ 200 MB)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=3000, help="lines in the note (default 3000)")
    parser.add_argument("--edits", type=int, default=1000, help="edits (default 1000)")
    parser.add_argument("--debounce", type=int, default=0, help="the server's debounce in ms (default 0)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    return asyncio.run(run(args))


if __name__ == "__main__":
    raise SystemExit(main())
