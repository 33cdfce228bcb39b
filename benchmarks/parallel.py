"""Parallel runs: `tensorlint check -j 1` against `-j N` on a folder of generated notes.

Generates a folder of notes (500 by default, `--notes`) with the generator of `throughput.py` (true and
false identities, a different notation in every note), then runs the command line on it in fresh
processes, once per run with `-j 1` and once with `-j N` (`--jobs`, default 2), alternating so that both
see the same machine load. Reports the wall times (minimum of `--runs` runs), the speedup and whether the
two outputs (JSON, which lists every claim and diagnostic) are byte for byte identical. The budget: at
least 1.7x on 2 cores (DESIGN.md: "-j N scales with cores").

    python benchmarks/parallel.py [--notes 500] [--claims-per-note 10] [--jobs 2] [--runs 3] [--seed 0]

A benchmark measures, it does not fail: the exit code is 0 whatever the numbers are (2 only when tensorlint
cannot be run).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUDGET_SPEEDUP = 1.7

sys.path.insert(0, str(HERE))
from throughput import generate_corpus  # noqa: E402  (the benchmarks share the corpus generator)


def run_check(folder: Path, jobs: int) -> tuple[float, int, bytes, bytes]:
    """One cold run of the command line: wall seconds, exit code, standard output and error."""
    command = [sys.executable, "-m", "tensorlint", "check", "--isolated", "--format", "json", "-j", str(jobs), "."]
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=folder, capture_output=True, check=False, stdin=subprocess.DEVNULL)
    return time.perf_counter() - started, completed.returncode, completed.stdout, completed.stderr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notes", type=int, default=500, help="notes to generate (default 500)")
    parser.add_argument("--claims-per-note", type=int, default=10, help="claims per note (default 10)")
    parser.add_argument("--jobs", type=int, default=2, help="processes of the parallel run (default 2)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each, the minimum is reported (default 3)")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    args = parser.parse_args(argv)

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="tensorlint-parallel-") as name:
        folder = Path(name)
        corpus = generate_corpus(folder, args.notes, args.claims_per_note, args.seed)
        generated = sum(len(claims) for _, claims in corpus)
        print(f"corpus: {len(corpus)} notes, {generated} generated claims (seed {args.seed}); {cpus} CPUs")

        # One unmeasured run writes the bytecode and grammar caches, as on a machine that has run it before.
        _, status, _, error = run_check(folder, 1)
        if status not in (0, 1):
            print(f"tensorlint check failed (exit {status}):\n{error.decode(errors='replace')}")
            return 2

        serial: list[float] = []
        parallel: list[float] = []
        outputs: dict[int, set[bytes]] = {1: set(), args.jobs: set()}
        statuses: dict[int, set[int]] = {1: set(), args.jobs: set()}
        for _ in range(max(1, args.runs)):
            for jobs, times in ((1, serial), (args.jobs, parallel)):
                seconds, status, output, _ = run_check(folder, jobs)
                times.append(seconds)
                outputs[jobs].add(output)
                statuses[jobs].add(status)

    best_serial, best_parallel = min(serial), min(parallel)
    speedup = best_serial / best_parallel if best_parallel > 0 else 0.0
    identical = len(outputs[1] | outputs[args.jobs]) == 1 and statuses[1] == statuses[args.jobs]
    print(f"-j 1: {best_serial:.2f} s (runs: {', '.join(f'{t:.2f}' for t in serial)})")
    print(f"-j {args.jobs}: {best_parallel:.2f} s (runs: {', '.join(f'{t:.2f}' for t in parallel)})")
    verdict = "PASS" if speedup >= BUDGET_SPEEDUP else "OVER"
    note = "" if cpus >= args.jobs else f" (only {cpus} CPUs: the budget assumes {args.jobs})"
    print(f"speedup: {speedup:.2f}x; budget >= {BUDGET_SPEEDUP}x on {args.jobs} cores: {verdict}{note}")
    print(f"outputs identical: {'yes' if identical else 'NO'} ({len(next(iter(outputs[1])))} bytes of JSON)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
