"""Cold start: how long `tensorlint check examples/` takes in a fresh process, and what it imports.

Each run is a new interpreter, so every run pays for interpreter start-up, imports and building the parser,
as a user at a terminal or a pre-commit hook does. The budget from DESIGN.md is 0.35 s wall for one small
note; the verdict is taken on the median. A benchmark measures, it does not fail: the exit code is 0
whatever the numbers are (2 only when the benchmark itself cannot run).

    python benchmarks/cold_start.py [--runs 10] [--path examples/]

The import check runs `python -X importtime -m tensorlint check examples/backprop.md` and reads the
import log on stderr: the check path must not import pygls or lsprotocol (about 0.7 s on their own), and
should import SymPy only when a closed form is needed.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
BUDGET_SECONDS = 0.35
# Packages that must stay off the check path (sympy: unless a closed form is needed).
FORBIDDEN = ("pygls", "lsprotocol", "sympy")
# Packages whose import cost is worth seeing next to the budget.
WATCHED = ("tensorlint", "numpy", "lark", "markdown_it", "mdit_py_plugins", *FORBIDDEN)
IMPORT_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)\s*$")


@dataclass
class Timing:
    label: str
    seconds: list[float]
    exit_codes: list[int]


def commands(path: str) -> list[tuple[str, list[str]]]:
    """The ways a user starts tensorlint: `python -m tensorlint` and the console script, if installed."""
    found = [("python -m tensorlint", [sys.executable, "-m", "tensorlint", "check", path])]
    scripts = Path(sys.executable).parent
    for name in ("tensorlint", "tensorlint.exe"):
        script = scripts / name
        if script.is_file() and os.access(script, os.X_OK):
            found.append(("tensorlint (console script)", [str(script), "check", path]))
            break
    return found


def time_runs(label: str, argv: list[str], runs: int, warmup: int) -> Timing:
    # The warm-up runs write bytecode caches, so that the measured runs are cold processes on a machine
    # where tensorlint has been run before: what a user sees, not what a first install sees.
    for _ in range(warmup):
        subprocess.run(argv, cwd=REPOSITORY, capture_output=True, check=False)
    timing = Timing(label, [], [])
    for _ in range(runs):
        started = time.perf_counter()
        completed = subprocess.run(argv, cwd=REPOSITORY, capture_output=True, check=False)
        timing.seconds.append(time.perf_counter() - started)
        timing.exit_codes.append(completed.returncode)
    return timing


def report_timing(timing: Timing) -> None:
    seconds = timing.seconds
    median = statistics.median(seconds)
    verdict = "PASS" if median <= BUDGET_SECONDS else "OVER"
    codes = sorted(set(timing.exit_codes))
    print(f"{timing.label}")
    print(
        f"  runs {len(seconds)}  min {min(seconds):.3f} s  median {median:.3f} s  max {max(seconds):.3f} s"
        f"  budget {BUDGET_SECONDS:.2f} s  {verdict} (median)"
    )
    note = "" if set(codes) <= {0, 1} else "  (2 means a usage or internal error: the timing is suspect)"
    print(f"  exit codes seen: {', '.join(map(str, codes))}{note}")


def import_costs(stderr: str) -> tuple[dict[str, int], int]:
    """Cumulative microseconds per top-level package, and for all imports, from an `-X importtime` log.

    The log lists each import after the imports it caused, indented one step deeper. A package's cost is
    the sum of its imports that no other import of the same package caused (``tensorlint.cli`` is not
    inside ``tensorlint``'s own line, so both count), which keeps nested imports from being counted twice.
    """
    entries = []
    for line in stderr.splitlines():
        match = IMPORT_LINE.match(line)
        if match is not None:
            depth = (len(match.group(3)) - 1) // 2
            entries.append((depth, match.group(4), int(match.group(2))))
    costs: dict[str, int] = {}
    total = 0
    # Read backwards, every import comes before the imports it caused, so a stack holds its ancestors.
    ancestors: list[tuple[int, str]] = []
    for depth, module, cumulative in reversed(entries):
        while ancestors and ancestors[-1][0] >= depth:
            ancestors.pop()
        package = module.split(".")[0]
        if depth == 0:
            total += cumulative
        if not any(ancestor == package for _, ancestor in ancestors):
            costs[package] = costs.get(package, 0) + cumulative
        ancestors.append((depth, package))
    return costs, total


def import_report(note: str) -> None:
    """Which packages the check path imports, and what each costs."""
    argv = [sys.executable, "-X", "importtime", "-m", "tensorlint", "check", note]
    completed = subprocess.run(argv, cwd=REPOSITORY, capture_output=True, text=True, check=False)
    costs, total = import_costs(completed.stderr)
    print(f"imports on the check path ({' '.join(argv[1:])}, exit code {completed.returncode})")
    if not costs:
        print("  no import log found on stderr; is tensorlint installed in this interpreter?")
        return
    print(f"  all imports      {total / 1e6:.3f} s cumulative (importtime inflates this a little)")
    for package in WATCHED:
        if package in costs:
            print(f"  {package:<16} imported   {costs[package] / 1e6:.3f} s cumulative")
        else:
            print(f"  {package:<16} not imported")
    offending = [package for package in FORBIDDEN if package in costs]
    if offending:
        print(f"  check path imports {', '.join(offending)}: OVER (DESIGN.md keeps them off the check path)")
    else:
        print(f"  check path imports none of {', '.join(FORBIDDEN)}: PASS")
    heaviest = sorted(costs.items(), key=lambda item: item[1], reverse=True)[:8]
    print("  heaviest packages: " + ", ".join(f"{name} {us / 1e6:.3f} s" for name, us in heaviest))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="measured runs per command (default 10)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured runs first (default 1)")
    parser.add_argument("--path", default="examples/", help="what to check, relative to the repository")
    parser.add_argument(
        "--note",
        default="examples/backprop.md",
        help="the note used for the import check (default %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    print(f"python {sys.version.split()[0]} at {sys.executable}")
    print(f"checking {args.path} in {REPOSITORY}\n")
    for label, command in commands(args.path):
        try:
            timing = time_runs(label, command, args.runs, args.warmup)
        except OSError as error:
            print(f"{label}: cannot run {command[0]}: {error}")
            return 2
        report_timing(timing)
    print()
    import_report(args.note)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
