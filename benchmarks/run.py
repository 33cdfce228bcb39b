"""Run every benchmark in turn (what `make bench` runs): cold start, claims per second, parse throughput,
parallel runs, hostile input.

Arguments are not passed through; run a benchmark on its own for its options. Exit code 0 unless a
benchmark could not run at all.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ("cold_start.py", "throughput.py", "parse_throughput.py", "parallel.py", "hostile.py")


def main() -> int:
    status = 0
    for name in BENCHMARKS:
        print(f"==> {name}", flush=True)
        completed = subprocess.run([sys.executable, str(HERE / name)], check=False)
        status = max(status, completed.returncode)
        print(flush=True)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
