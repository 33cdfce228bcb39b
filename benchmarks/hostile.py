"""Hostile input: each case is checked in a fresh process, which reports its wall time and peak memory.

The budget of the design notes: bounded time and memory, a clear diagnostic, no crash. Here that is at
most 10 seconds of wall time (seconds, not minutes), 500 MB of peak resident memory and no TL900 per case. The
child process runs under an address-space limit (``--memory-limit``, 3 GiB by default), so a case that
would allocate gigabytes fails there (and is reported OVER) instead of taking the machine down.

    .venv/bin/python benchmarks/hostile.py              # every case
    .venv/bin/python benchmarks/hostile.py table-1.2mb  # some cases

Like the other benchmarks it measures and reports, and exits 0 either way (2 when it cannot run).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

TIME_BUDGET = 10.0
MEMORY_BUDGET_MB = 500


def _table() -> str:
    header = "| a | b | c |\n|---|---|---|\n"
    return header + "| $x_{1}$ | $A^T B$ | words here |\n" * 35_000  # about 1.2 MB


def _rows(size: int) -> str:
    return "\\\\".join("&".join("1" for _ in range(size)) for _ in range(size))


def _kronecker() -> str:
    declared = "Let $A, B, C, D, E, F \\in \\mathbb{R}^{24\\times 24}$.\n\n"
    return declared + "$$(A \\otimes B \\otimes C)(D \\otimes E \\otimes F) = AD \\otimes BE \\otimes CF$$\n"


CASES = {
    "ten-megabytes": lambda: "Let $A, B \\in \\mathbb{R}^{n\\times n}$.\n\n$$(AB)^T = B^T A^T$$\n\n" * 160_000,
    "deep-braces": lambda: "$$" + "{" * 10_000 + "x" + "}" * 10_000 + "$$\n",
    "literal-1000x1000": lambda: "$$A = \\begin{bmatrix}" + _rows(1000) + "\\end{bmatrix}$$\n",
    "dimension-10^12": lambda: "Let $x \\in \\mathbb{R}^{1000000000000}$.\n\n$$x^T x = x^T x$$\n",
    "integer-5000-digits": lambda: "$$x_{" + "9" * 5000 + "} = " + "7" * 5000 + "$$\n",
    "unclosed-comments-50000": lambda: "<!--\n" * 50_000,
    "table-1.2mb": _table,
    "kronecker-24x24": _kronecker,
}


def run_case(name: str, path: str) -> dict:
    from tensorlint.core import check_text

    check_text("warm-up.md", "Let $a \\in \\mathbb{R}$.\n\n$$a + a = 2a$$\n")  # Imports are not the case.
    text = CASES[name]()
    started = time.perf_counter()
    result = check_text(path, text)
    seconds = time.perf_counter() - started
    import resource

    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    codes = sorted({diagnostic.code for diagnostic in result.diagnostics})
    return {"seconds": seconds, "peak_mb": peak_kb / 1024, "claims": len(result.claims), "codes": codes}


def child(name: str, memory_limit: int) -> int:
    import resource

    if memory_limit:
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    print(json.dumps(run_case(name, "hostile.md")))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", choices=[*CASES, []], help="cases to run (default: all)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--memory-limit", type=int, default=3 << 30, help="address-space limit of a case, bytes")
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child, args.memory_limit)
    try:
        import tensorlint  # noqa: F401
    except ImportError:
        print("tensorlint is not installed in this interpreter", file=sys.stderr)
        return 2
    print(f"{'case':<26} {'wall':>8} {'peak':>9}  claims  codes / problem")
    for name in args.cases or list(CASES):
        started = time.perf_counter()
        completed = subprocess.run(
            [sys.executable, __file__, "--child", name, "--memory-limit", str(args.memory_limit)],
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - started
        if completed.returncode != 0 or not completed.stdout.strip():
            problem = (completed.stderr.strip().splitlines() or ["no output"])[-1]
            print(f"{name:<26} {wall:>7.1f}s {'?':>9}  {'?':>6}  OVER: {problem[:90]}")
            continue
        measured = json.loads(completed.stdout.strip().splitlines()[-1])
        # A TL900 is a crash the core caught (under the memory limit, often an allocation that failed).
        within = (
            measured["seconds"] <= TIME_BUDGET
            and measured["peak_mb"] <= MEMORY_BUDGET_MB
            and "TL900" not in measured["codes"]
        )
        print(
            f"{name:<26} {measured['seconds']:>7.2f}s {measured['peak_mb']:>7.0f}MB  {measured['claims']:>6}  "
            f"{', '.join(measured['codes']) or '-'}  {'PASS' if within else 'OVER'}"
        )
    print(f"\nbudget per case: at most {TIME_BUDGET:.0f} s and {MEMORY_BUDGET_MB} MB peak resident memory")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
