"""``tensorlint derive``: the derivative of a LaTeX expression, with ``--let`` statements read like a note.

The derivation itself is ``derive.py``; this module is the command around it. It reads ``--let`` with the
interpreter (a declaration, a definition or a structure means what it means in a note), so it sits above
interpretation in the import graph, beside ``core`` (ARCHITECTURE.md): ``derive`` never imports the
interpreter.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import TYPE_CHECKING, Any

from tensorlint import ir
from tensorlint.derive import Derivative, assume_shapes, derive, latex_name_key, parse_expression, to_json, to_lines
from tensorlint.latex import Style

if TYPE_CHECKING:
    from tensorlint.env import Environment
    from tensorlint.model import Config


def environment(lets: list[str], config: Config) -> tuple[Environment, list[str]]:
    """The environment that ``--let`` statements set up, read like a note: declarations (``X \\in
    \\mathbb{R}^{n\\times n}``), definitions (``y = Wx``) and structure (``X symmetric``)."""
    from tensorlint.interpret import Interpreter
    from tensorlint.model import Document, MathSpan

    text, spans, structures = "", [], []
    for let in lets:
        words = re.fullmatch(r"\s*\$?([^$]+?)\$?\s+(?:is\s+)?(symmetric|positive definite|diagonal|orthogonal)\s*", let)
        if words:
            structures.append((words.group(1).strip(), words.group(2)))
            continue
        start = len(text) + 1
        text += f"${let}$\n"
        spans.append(MathSpan(let, start, start + len(let), display=False))
    interpreter = Interpreter(Document("<derive>", text, spans), config)
    result = interpreter.run()
    problems = [d.message for d in result.diagnostics if d.code in ("TL001", "TL002", "TL101", "TL102")]
    env = interpreter.env
    for name, structure in structures:
        key = latex_name_key(name, config)
        if key is None:
            problems.append(f"`{name}` is not a name")
            continue
        env.structures.setdefault(key, set()).add("positive" if structure == "positive definite" else structure)
    return env, problems


class UsageError(Exception):
    """The expression, the variable or a ``--let`` statement cannot be read."""


def derive_latex(
    expression: str,
    wrt: str,
    lets: list[str] | None = None,
    layout: str | None = None,
    config: Config | None = None,
    order: int = 1,
) -> tuple[Derivative, list[str]]:
    """The derivative of a LaTeX expression by the variable written ``wrt``, with ``lets`` read as the
    note's declarations: the result and the shapes assumed for undeclared names. ``order`` 2 gives the
    second derivative (the Hessian of a scalar): the derivative of the first one's verified closed form.
    Raises ``UsageError``."""
    from tensorlint.model import Config

    config = config or Config()
    env, problems = environment(lets or [], config)
    if problems:
        raise UsageError(f"--let: {problems[0]}")
    numerator = parse_expression(expression, env, config, names_are_variables=True)
    if numerator is None:
        raise UsageError("the expression does not read as one expression")
    wrt_key = latex_name_key(wrt, config)
    if wrt_key is None:
        raise UsageError(f"--wrt {wrt!r} is not a variable name")
    unsupported = next((node for node in ir.walk(numerator) if isinstance(node, ir.Unsupported)), None)
    if isinstance(unsupported, ir.Unsupported):
        raise UsageError(unsupported.reason)
    assumptions = assume_shapes(numerator, wrt_key, env)
    style = Style.from_source(_syntax_nodes(expression), expression, config.unify_fonts)
    for let in lets or []:
        style.learn(_syntax_nodes(let), let, config.unify_fonts)
    style.variables = set(env.declared) | set(env.definitions)
    result = derive(numerator, wrt_key, env, config, style, layout)
    if order == 2:
        result = second_derivative(result, wrt_key, env, config, style, layout)
    return result, assumptions


def second_derivative(
    first: Derivative, wrt_key: str, env: Environment, config: Config, style: Style, layout: str | None
) -> Derivative:
    """The derivative of the first derivative's closed form, which was verified against the numeric first
    derivative; so the second one, verified against the numeric derivative of that form, is the true one."""
    if first.closed_form is None:
        first.notes.insert(0, "no second derivative: the first derivative has no verified closed form")
        first.closed_form, first.index_form = None, None
        return first
    second = derive(first.closed_form.expr, wrt_key, env, config, style, layout)
    second.notes.insert(0, f"second derivative: the derivative of the first, {first.closed_form.latex}")
    return second


def simplified_form(result: Derivative, env: Environment, config: Config) -> str | None:
    """The closed form of a scalar result simplified by SymPy, when that is shorter and checks out numerically
    against the derivative (SymPy's LaTeX read back by our parser, as every printed form is)."""
    from tensorlint import symbolic
    from tensorlint.derive import check, holds

    form = result.closed_form
    if form is None or result.order != 0:
        return None

    def is_scalar(key: str) -> bool:
        declared = env.declared.get(key)
        return declared is not None and all(dim == 1 for dim in declared.shape)

    if not symbolic.wanted(form.expr, form.expr, is_scalar, calculus=False):
        return None
    definition = env.definitions.get
    facts = symbolic.Facts(
        is_scalar, lambda key: found.expr if (found := definition(key)) else None, env.function, set()
    )
    latex = symbolic.simplest(form.expr, facts)
    if latex is None or len(latex) >= len(form.latex):
        return None
    parsed = parse_expression(latex, env, config)
    if parsed is None:
        return None
    left = ir.Deriv(result.numerator, ir.Wrt(result.wrt))
    return latex if holds(check(left, parsed, env, config, result.layout, latex), result.layout) else None


def command(argv: list[str]) -> int:
    """``tensorlint derive 'LATEX' --wrt X [--let …] [--layout …] [--format text|json]``: exit 0 when a form
    was verified, 1 when none was, 2 on a usage error."""
    parser = argparse.ArgumentParser(
        prog="tensorlint derive",
        description="Print the derivative of a LaTeX expression: its shape, closed form and index form, "
        "each verified numerically before it is shown.",
    )
    parser.add_argument("expression", help="the expression in LaTeX, e.g. 'a^T X b'")
    parser.add_argument("--wrt", required=True, help="the variable to differentiate by, e.g. X")
    parser.add_argument(
        "--let",
        action="append",
        default=[],
        metavar="LATEX",
        help="a declaration, definition or structure: 'X \\in \\mathbb{R}^{n\\times n}', 'y = Wx', 'S symmetric'",
    )
    parser.add_argument("--layout", choices=["auto", "numerator", "denominator"], default="auto")
    parser.add_argument("--format", choices=["text", "json"], default="text")
    parser.add_argument("--order", type=int, choices=[1, 2], default=1, help="2 for the second derivative (Hessian)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_request:
        return 0 if exit_request.code in (0, None) else 2
    layout = None if args.layout == "auto" else args.layout
    try:
        result, assumptions = derive_latex(args.expression, args.wrt, args.let, layout, order=args.order)
    except UsageError as error:
        sys.stderr.write(f"tensorlint derive: {error}\n")
        return 2
    from tensorlint.model import Config

    config = Config()
    simplified = simplified_form(result, environment(args.let, config)[0], config)
    if args.format == "json":
        document = to_json(result, args.expression, assumptions)
        document["derivative_order"] = args.order
        document["simplified"] = simplified
        sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    else:
        lines = list(to_lines(result, args.expression, assumptions))
        if simplified is not None:
            lines.insert(
                next(i for i, line in enumerate(lines) if line.startswith("closed form")) + 1,
                f"simplified   {simplified}",
            )
        sys.stdout.write("\n".join(lines) + "\n")
    return 0 if result.closed_form is not None or result.index_form is not None else 1


def _syntax_nodes(latex: str) -> list[Any]:
    from tensorlint.parse import parse_span

    return [node for statement in parse_span(latex).statements for node in statement.chain.parts if node is not None]
