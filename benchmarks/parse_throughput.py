"""Parser throughput, side by side with SymPy's LaTeX parser on expressions both accept.

The expressions come from the notation suite (tests/data/notation/*.txt): every snippet, and each side of
every relation in it as tensorlint prints it back. An expression is used when tensorlint reads it without a
problem and SymPy's ``parse_latex(s, backend="lark")`` accepts it; the first ``--count`` of those (200 by
default, in file order) are timed, each parser on the same list in the same process. The budget from
DESIGN.md is at least 10 times SymPy's throughput. tensorlint is timed without its cache of parsed spans
(``parse_span`` remembers spans by text); the cached rate is printed apart, for comparison only.

    python benchmarks/parse_throughput.py [--count 200] [--seconds 1.0]

SymPy is imported here only; the tensorlint package never imports it on the parse path. A benchmark
measures, it does not fail: the exit code is 0 whatever the numbers are (2 only when tensorlint or SymPy
cannot be imported).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPOSITORY = Path(__file__).resolve().parent.parent
NOTATION = REPOSITORY / "tests" / "data" / "notation"
BUDGET_RATIO = 10.0
# Expressions shorter than this (`x`, `2`) measure call overhead more than parsing.
MIN_LENGTH = 5


def notation_snippets() -> list[str]:
    snippets = []
    for path in sorted(NOTATION.glob("*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                snippets.append(line.partition(" => ")[0])
    return snippets


def candidates(parse_span: Callable[[str], Any], to_latex: Callable[[Any], str]) -> list[str]:
    """Snippets tensorlint reads cleanly, and the sides of their relations, without repeats."""
    found: dict[str, None] = {}
    for snippet in notation_snippets():
        result = parse_span(snippet)
        if result.problems or not result.statements:
            continue
        found[snippet] = None
        for statement in result.statements:
            for part in statement.chain.parts:
                if part is not None:
                    found[to_latex(part)] = None
    return [text for text in found if len(text) >= MIN_LENGTH]


def sympy_accepts(parse_latex: Callable[..., Any], text: str) -> bool:
    try:
        parse_latex(text, backend="lark")
    except Exception:  # Any rejection: SymPy raises lark errors, VisitError, ValueError...
        return False
    return True


def rate(parse: Callable[[str], Any], expressions: list[str], seconds: float) -> float:
    """Expressions parsed per second, over whole passes through the list lasting at least ``seconds``."""
    for text in expressions:  # Warm-up: grammar tables, caches, imports.
        parse(text)
    passes = 0
    start = time.perf_counter()
    while True:
        for text in expressions:
            parse(text)
        passes += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return passes * len(expressions) / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200, help="expressions to time (default 200)")
    parser.add_argument("--seconds", type=float, default=1.0, help="minimum time per parser (default 1.0)")
    args = parser.parse_args(argv)
    try:
        from tensorlint.parse import parse_span
        from tensorlint.printer import to_latex
    except ImportError as error:
        print(f"cannot import tensorlint: {error}")
        return 2
    try:
        from sympy.parsing.latex import parse_latex
    except ImportError as error:
        print(f"cannot import SymPy's LaTeX parser: {error}")
        return 2

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pool = candidates(parse_span, to_latex)
        chosen: list[str] = []
        rejected = 0
        for text in pool:
            if len(chosen) == args.count:
                break
            if sympy_accepts(parse_latex, text):
                chosen.append(text)
            else:
                rejected += 1
        if not chosen:
            print("no expression is accepted by both parsers")
            return 2

        def sympy_parse(text: str) -> Any:
            return parse_latex(text, backend="lark")

        # parse_span keeps a cache of parsed spans by text (an editor re-checks the same spans): timing it
        # would time a dictionary lookup. The uncached function is what a first check of a note pays.
        uncached = getattr(parse_span, "__wrapped__", parse_span)
        ours = rate(uncached, chosen, args.seconds)
        cached = rate(parse_span, chosen, args.seconds)
        theirs = rate(sympy_parse, chosen, args.seconds)

    average = sum(len(text) for text in chosen) / len(chosen)
    print(f"python {sys.version.split()[0]}; {len(chosen)} expressions both parsers accept")
    print(f"  (from {len(pool)} candidates in {NOTATION.relative_to(REPOSITORY)}; SymPy rejected {rejected})")
    print(f"  average length {average:.0f} characters; e.g. {chosen[len(chosen) // 2]!r}\n")
    print(f"  tensorlint parse_span       {ours:10,.0f} expressions/s  ({1e6 / ours:8,.0f} µs each), uncached")
    print(f"  (from its span cache        {cached:10,.0f} expressions/s: not a parse, shown for comparison only)")
    print(f"  sympy parse_latex (lark)    {theirs:10,.0f} expressions/s  ({1e6 / theirs:8,.0f} µs each)")
    ratio = ours / theirs
    verdict = "PASS" if ratio >= BUDGET_RATIO else "OVER"
    print(f"\n  ratio {ratio:,.0f}x   budget >= {BUDGET_RATIO:.0f}x   {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
