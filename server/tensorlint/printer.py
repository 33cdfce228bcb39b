"""Printing a ``syntax`` AST: back to LaTeX (``to_latex``) and as a compact s-expression (``to_sexpr``).

``to_latex`` is the inverse of parsing up to positions: for every AST the parser can produce,
``parse_span(to_latex(node))`` gives an equal AST. It prints a plain, conventional spelling (``^T`` for
every transpose, ``\\operatorname{tr}``, ``\\lvert``/``\\rvert`` only where a bare ``|`` would be
ambiguous) and adds braces where the grammar needs them. A group ``{…}`` with one item is transparent in
the AST, so braces are the one tool for precedence: ``{a + b} c`` is ``Juxt(BinOp(+, a, b), c)``.

``to_sexpr`` is the structure at a glance, for tests kept as data: ``x^T W`` is ``(juxt (T x) W)``. Two
nodes are equal exactly when their s-expressions are (transpose marks and positions aside; a statement's
chain of one part prints as that part).

Both printers walk the tree with an explicit stack, so a deep tree cannot overflow Python's stack.
"""

from __future__ import annotations

import re

from tensorlint import syntax as ast
from tensorlint.scan import WIDE_FUNCTIONS

# Binding strength of the grammar's levels (grammar/math.lark), loosest first.
CHAIN, SUM, FROBENIUS, SIGNED, ELEMENTWISE, PRODUCT, FACTOR, POSTFIX, ATOM = range(9)
# What follows a node where it is printed: a postfix mark (`^`, `_`, `'`), a product continuing
# (juxtaposition, `\\cdot`), or a Kronecker or Hadamard product continuing.
POSTFIX_FOLLOWS, PRODUCT_FOLLOWS, ELEMENTWISE_FOLLOWS = 1, 2, 4

RELATION_LATEX = {
    "=": "=", "ne": "\\ne", "def": "\\coloneqq", "<": "<", ">": ">", "le": "\\le", "ge": "\\ge",
    "approx": "\\approx", "in": "\\in", "to": "\\to",
}  # fmt: skip
BINARY_LATEX = {
    "+": "+", "-": "-", "frob": ":", "cdot": "\\cdot", "times": "\\times", "kron": "\\otimes",
    "hadamard": "\\odot", "div": "/",
}  # fmt: skip
BINARY_LEVEL = {
    "+": SUM, "-": SUM, "frob": FROBENIUS, "kron": ELEMENTWISE, "hadamard": ELEMENTWISE, "cdot": PRODUCT,
    "times": PRODUCT, "div": PRODUCT,
}  # fmt: skip
# The level of a binary operator's right operand (its left operand may be at its own level).
RIGHT_LEVEL = {SUM: FROBENIUS, FROBENIUS: SIGNED, ELEMENTWISE: PRODUCT, PRODUCT: FACTOR}
BINARY_SEXPR = {"frob": ":", "div": "/"}
FONT_COMMANDS = {
    "bf": "mathbf", "vec": "vec", "rm": "mathrm", "sf": "mathsf", "bb": "mathbb", "cal": "mathcal",
    "frak": "mathfrak", "hat": "hat", "bar": "bar", "tilde": "tilde", "dot": "dot", "ddot": "ddot",
    "tt": "mathtt", "check": "check",
}  # fmt: skip
# Function names that LaTeX spells as a command; the others are written with \operatorname.
FUNCTION_COMMANDS = {
    name: name
    for name in (
        "det", "log", "exp", "tanh", "sin", "cos", "tan", "max", "min", "sinh", "cosh", "lim", "sup",
        "inf", "dim", "ker", "arctan", "arcsin", "arccos", "sec", "csc", "cot", "deg", "lg",
    )
} | {"pr": "Pr"}  # fmt: skip
DELIMITERS = {
    "()": ("(", ")"), "[]": ("[", "]"), "{}": ("\\{", "\\}"), "||": ("|", "|"), "‖‖": ("\\|", "\\|"),
    "⟨⟩": ("\\langle ", "\\rangle"),
}  # fmt: skip
# Where a bare | or \| could be read the wrong way round, the explicit forms are used.
EXPLICIT_BARS = {"||": ("\\lvert ", "\\rvert"), "‖‖": ("\\lVert ", "\\rVert")}
SEPARATORS = {"\\ ": " \\ ", "\\mid": " \\mid ", "\\\\": " \\\\ "}
SEPARATOR_SEXPR = {"\\ ": "\\", "\\mid": "|", "\\\\": "\\\\"}
DELIMITER_SEXPR = {"()": "paren", "[]": "brack", "{}": "brace", "||": "bars", "‖‖": "norm", "⟨⟩": "angle"}
# Commands after which a closing bar is not recognised as closing (they are not values).
_NOT_VALUE_END = re.compile(r"\\(partial|nabla)$")
_COMMAND_END = re.compile(r"\\[A-Za-z]+$")


def _level(node: ast.Node) -> int:
    if isinstance(node, ast.Chain):
        return CHAIN
    if isinstance(node, ast.BinOp):
        return BINARY_LEVEL.get(node.op, PRODUCT)
    if isinstance(node, ast.Neg):
        return SIGNED
    if isinstance(node, ast.Juxt):
        return PRODUCT
    if isinstance(node, ast.BigOp) or _is_wide_application(node):
        return FACTOR
    if isinstance(node, ast.Sub | ast.Sup | ast.Transpose | ast.Evaluated) or _is_factorial(node):
        return POSTFIX
    return ATOM


def _is_factorial(node: ast.Node) -> bool:
    return (
        isinstance(node, ast.Func)
        and node.name == "factorial"
        and not node.call
        and node.sub is None
        and node.power is None
    )


def _is_application(node: ast.Node) -> bool:
    """A function applied without parentheses: ``\\log x``, ``\\operatorname{tr} A B``."""
    return isinstance(node, ast.Func) and not node.call and not _is_factorial(node)


def _is_wide_application(node: ast.Node) -> bool:
    return _is_application(node) and isinstance(node, ast.Func) and node.name in WIDE_FUNCTIONS


def _open_right(node: ast.Node, follows: int) -> bool:
    """Whether what follows would be read into ``node``'s last part: ``\\log x`` takes a following
    ``^2`` into its argument, and ``\\sum_i a`` a following factor into its body."""
    if follows & POSTFIX_FOLLOWS and _is_application(node):
        return True
    if not follows & (PRODUCT_FOLLOWS | ELEMENTWISE_FOLLOWS):
        return False
    while True:
        if isinstance(node, ast.BigOp):
            return True
        if _is_wide_application(node):
            if follows & PRODUCT_FOLLOWS:
                return True
            assert isinstance(node, ast.Func)
            node = node.arg
        elif isinstance(node, ast.Juxt):
            node = node.items[-1]
        elif isinstance(node, ast.BinOp) and BINARY_LEVEL.get(node.op) in (PRODUCT, ELEMENTWISE):
            node = node.right
        else:
            return False


def _is_differential(node: ast.Node) -> bool:
    """``\\partial`` or ``d`` alone: after ``/`` and before a name it would start ``∂f/∂x``'s denominator."""
    return isinstance(node, ast.Partial) or (
        isinstance(node, ast.Name) and node.text == "d" and node.font in ("", "rm")
    )


# Work items of the LaTeX printer: a string to emit, or a node with the loosest level it may have where
# it is printed and what follows it there.
_Work = str | tuple[ast.Node, int, int]


def to_latex(node: ast.Node | None) -> str:
    """LaTeX that parses back to ``node`` (positions aside); ``None``, an absent chain part, is empty."""
    if node is None:
        return ""
    if isinstance(node, ast.Chain) and not node.ops and len(node.parts) == 1 and node.parts[0] is not None:
        node = node.parts[0]
    pieces: list[str] = []
    # A statement that is only `(3)` reads as an equation number and is dropped; a group keeps it.
    top_level = ATOM + 1 if isinstance(node, ast.Delimited) and node.kind == "()" else CHAIN
    stack: list[_Work] = [(node, top_level, 0)]
    # How many bars of each kind enclose the current position: inside `\\lvert … \\rvert` a bare `|`
    # after a value would close the outer bar, so nested bars are always explicit.
    enclosing = {"||": 0, "‖‖": 0}
    while stack:
        work = stack.pop()
        if isinstance(work, str):
            if work in _ENTER:
                enclosing[_ENTER[work]] += 1
            elif work in _LEAVE:
                enclosing[_LEAVE[work]] -= 1
            else:
                _emit(pieces, work)
            continue
        current, minimum, follows = work
        if _level(current) < minimum or _open_right(current, follows):
            stack.extend(("}", (current, CHAIN, 0), "{"))
            continue
        if isinstance(current, ast.Delimited) and current.kind in enclosing:
            nested = enclosing[current.kind] > 0
            stack.extend(reversed(_delimited_parts(current, nested)))
            continue
        stack.extend(reversed(_latex_parts(current)))
    return "".join(pieces)


# Markers on the work stack (never emitted) for entering and leaving a pair of bars.
_ENTER = {"\x01": "||", "\x02": "‖‖"}
_LEAVE = {"\x03": "||", "\x04": "‖‖"}


def _emit(pieces: list[str], text: str) -> None:
    if not text:
        return
    # `\\det X`, not `\\detX`; `1 2`, not `12`.
    after_command = text[0].isalpha() and _COMMAND_END.search(pieces[-1]) if pieces else False
    between_digits = text[0].isdigit() and pieces[-1][-1:].isdigit() if pieces else False
    if after_command or between_digits:
        pieces.append(" ")
    pieces.append(text)


def _script(node: ast.Node) -> list[_Work]:
    """A script or a ``\\frac`` argument: a group; a list in braces is its own group (``_{i,j}``)."""
    if isinstance(node, ast.Delimited) and node.kind == "{}" and len(node.items) > 1 and node.separator == ",":
        return _delimited_parts(node, braces="{}")
    return ["{", (node, CHAIN, 0), "}"]


def _latex_parts(node: ast.Node) -> list[_Work]:
    """The pieces of one node, children still to print, in source order."""
    if isinstance(node, ast.Name):
        spelled = node.text if len(node.text) == 1 else "\\" + node.text
        if node.font:
            command = f"\\{FONT_COMMANDS.get(node.font, 'mathrm')}{{{spelled}}}"
            # Right after `^{`, an upright T is a transpose mark; in a group of its own it is a name.
            return ["{" + command + "}" if node.text in ("T", "t") else command]
        return [spelled]
    if isinstance(node, ast.Number):
        if node.font:
            return [f"\\{FONT_COMMANDS.get(node.font, 'mathrm')}{{{node.text}}}"]
        return [node.text]
    if isinstance(node, ast.Empty):
        return ["{}"]
    if isinstance(node, ast.Partial):
        return ["\\partial"]
    if isinstance(node, ast.Nabla):
        return ["\\nabla"]
    if isinstance(node, ast.Dots):
        return ["\\" + node.kind]
    if isinstance(node, ast.Text):
        # A remark outside brackets separates statements, so it is kept inside a group.
        return ["{\\text{" + node.text + "}}"]
    if isinstance(node, ast.Chain):
        return _chain_parts(node)
    if isinstance(node, ast.BinOp):
        level = BINARY_LEVEL.get(node.op, PRODUCT)
        follows = {PRODUCT: PRODUCT_FOLLOWS, ELEMENTWISE: ELEMENTWISE_FOLLOWS}.get(level, 0)
        right: _Work = (node.right, RIGHT_LEVEL[level], 0)
        if node.op == "div" and _is_differential(node.right):
            # `a / {\partial} x`: braces keep a lone ∂ from starting the denominator of ∂f/∂x.
            right = (node.right, ATOM + 1, 0)
        return [(node.left, level, follows), " " + BINARY_LATEX[node.op] + " ", right]
    if isinstance(node, ast.Neg):
        return ["-", (node.operand, SIGNED, 0)]
    if isinstance(node, ast.Juxt):
        parts: list[_Work] = []
        last = len(node.items) - 1
        for index, item in enumerate(node.items):
            if index > 0:
                parts.append(" ")
            # The first item may be any product but a juxtaposition (it would be flattened into this one).
            minimum = PRODUCT if index == 0 and not isinstance(item, ast.Juxt) else FACTOR
            parts.append((item, minimum, PRODUCT_FOLLOWS if index < last else 0))
        return parts
    if isinstance(node, ast.BigOp):
        parts = ["\\" + node.op]
        if node.lower is not None:
            parts.extend(["_", *_script(node.lower)])
        if node.upper is not None:
            parts.extend(["^", *_script(node.upper)])
        parts.extend([" ", (node.body, ELEMENTWISE, 0)])
        return parts
    if isinstance(node, ast.Sub):
        return [(node.base, POSTFIX, POSTFIX_FOLLOWS), "_", *_script(node.index)]
    if isinstance(node, ast.Sup):
        return [(node.base, POSTFIX, POSTFIX_FOLLOWS), "^", *_script(node.exponent)]
    if isinstance(node, ast.Transpose):
        mark = "^{-T}" if node.inverse else ("'" if node.mark == "'" else "^T")
        return [(node.base, POSTFIX, POSTFIX_FOLLOWS), mark]
    if isinstance(node, ast.Evaluated):
        # The bar is read as an evaluation bar only after a value (a lone ∂ or ∇ is not one) and when no bar
        # is open around it, so the whole is kept in a group.
        base_level = ATOM + 1 if isinstance(node.base, ast.Partial | ast.Nabla) else POSTFIX
        return ["{", (node.base, base_level, POSTFIX_FOLLOWS), " \\right|_", *_script(node.point), "}"]
    if isinstance(node, ast.Frac):
        return ["\\frac", *_script(node.numerator), *_script(node.denominator)]
    if isinstance(node, ast.Sqrt):
        return ["\\sqrt", *_script(node.arg)]
    if isinstance(node, ast.Func):
        return _function_parts(node)
    if isinstance(node, ast.Delimited):
        return _delimited_parts(node)
    if isinstance(node, ast.Matrix):
        return _matrix_parts(node)
    raise TypeError(f"cannot print {type(node).__name__}")


def _chain_parts(node: ast.Chain) -> list[_Work]:
    parts: list[_Work] = []
    for index, part in enumerate(node.parts):
        if index > 0:
            parts.append(" " + RELATION_LATEX[node.ops[index - 1]] + " ")
        if part is not None:
            parts.append((part, SUM, 0))
    if parts and isinstance(parts[0], str):
        # A chain that continues the previous statement starts with its relation.
        parts[0] = parts[0].lstrip()
    return parts


def _function_parts(node: ast.Func) -> list[_Work]:
    if _is_factorial(node):
        return [(node.arg, POSTFIX, POSTFIX_FOLLOWS), "!"]
    name = node.name
    command = FUNCTION_COMMANDS.get(name)
    parts: list[_Work] = ["\\" + command if command else "\\operatorname{" + name + "}"]
    if node.sub is not None:
        parts.extend(["_", *_script(node.sub)])
    if node.power is not None:
        parts.extend(["^", *_script(node.power)])
    argument = node.arg
    if node.call and isinstance(argument, ast.Delimited) and argument.kind == "()":
        return [*parts, *_delimited_parts(argument)]
    # Without parentheses the argument is one postfix expression (the trace's a whole product); one that
    # starts with `(` is braced so that it is not read as a call.
    if _starts_with_paren(argument):
        return [*parts, " {", (argument, CHAIN, 0), "}"]
    level = PRODUCT if name in WIDE_FUNCTIONS else POSTFIX
    return [*parts, " ", (argument, level, 0)]


def _starts_with_paren(node: ast.Node) -> bool:
    while True:
        if isinstance(node, ast.Sub | ast.Sup | ast.Transpose | ast.Evaluated):
            node = node.base
        elif _is_factorial(node) and isinstance(node, ast.Func):
            node = node.arg
        elif isinstance(node, ast.Juxt):
            node = node.items[0]
        elif isinstance(node, ast.BinOp) and BINARY_LEVEL.get(node.op) == PRODUCT:
            node = node.left
        else:
            return isinstance(node, ast.Delimited) and node.kind == "()"


def _delimited_parts(node: ast.Delimited, nested: bool = False, braces: str = "") -> list[_Work]:
    opening, closing = DELIMITERS[node.kind]
    if braces:
        opening, closing = braces[0], braces[1]
    enter: list[_Work] = []
    leave: list[_Work] = []
    if node.kind in EXPLICIT_BARS:
        if nested or not _bars_are_safe(node):
            opening, closing = EXPLICIT_BARS[node.kind]
        enter = [next(key for key, kind in _ENTER.items() if kind == node.kind)]
        leave = [next(key for key, kind in _LEAVE.items() if kind == node.kind)]
    separator = SEPARATORS.get(node.separator, ", ")
    parts: list[_Work] = [opening, *enter]
    for index, item in enumerate(node.items):
        if index > 0:
            parts.append(separator)
        if isinstance(item, ast.Text) and item.text == ":":
            parts.append(":")
        else:
            parts.append((item, CHAIN, 0))
    parts.extend([*leave, closing])
    return parts


def _bars_are_safe(node: ast.Delimited) -> bool:
    """Whether ``|…|`` reads back as these bars: no bar inside, and the content ends in a value."""
    inner = "".join(":" if isinstance(item, ast.Text) and item.text == ":" else to_latex(item) for item in node.items)
    if not inner or "|" in inner or "vert" in inner or "Vert" in inner:
        return False
    return not _NOT_VALUE_END.search(inner) and (inner[-1].isalnum() or inner[-1] in "})]'")


def _starts_with_bracket(node: ast.Node) -> bool:
    """Whether the printed ``node`` begins with ``[``."""
    while True:
        if isinstance(node, ast.Delimited) and node.kind == "[]":
            return True
        if isinstance(node, ast.Juxt) and node.items:
            node = node.items[0]
        elif isinstance(node, ast.Sub | ast.Sup | ast.Transpose):
            node = node.base
        elif isinstance(node, ast.BinOp):
            node = node.left
        else:
            return False


def _matrix_parts(node: ast.Matrix) -> list[_Work]:
    parts: list[_Work] = ["\\begin{" + node.env + "}"]
    if node.env in ("array", "subarray"):
        columns = max((len(row) for row in node.rows), default=1)
        parts.append("{" + "c" * columns + "}")
    for row_index, row in enumerate(node.rows):
        parts.append(" " if row_index == 0 else " \\\\ ")
        for cell_index, cell in enumerate(row):
            if cell_index > 0:
                parts.append(" & ")
            if cell is None:
                continue
            if row_index == 0 and cell_index == 0 and node.env.endswith("*") and _starts_with_bracket(cell):
                # A first cell starting with [ would read as the options of bmatrix* ([r]): brace it.
                parts.extend(["{", (cell, CHAIN, 0), "}"])
            else:
                parts.append((cell, CHAIN, 0))
    parts.append(" \\end{" + node.env + "}")
    return parts


# --------------------------------------------------------------------------------------------------------
# S-expressions
# --------------------------------------------------------------------------------------------------------


def to_sexpr(node: ast.Node | None) -> str:
    """The structure of ``node`` as a compact s-expression; ``_`` for an absent part."""
    pieces: list[str] = []
    stack: list[_SexprWork] = [node]
    while stack:
        work = stack.pop()
        if isinstance(work, str):
            pieces.append(work)
        elif work is None:
            pieces.append("_")
        elif isinstance(work, tuple):
            # One row of a matrix: its cells in brackets.
            stack.append("]")
            for index in range(len(work) - 1, -1, -1):
                stack.append(work[index])
                if index > 0:
                    stack.append(" ")
            stack.append("[")
        else:
            head, children = _sexpr_parts(work)
            if children is None:
                pieces.append(head)
                continue
            stack.append(")")
            for child in reversed(children):
                stack.append(child)
                stack.append(" ")
            stack.append("(" + head)
    return "".join(pieces)


# Work items of the s-expression printer: literal text, a node, an absent part, or a matrix row.
_SexprWork = str | ast.Node | None | tuple[ast.Node | None, ...]


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _sexpr_parts(node: ast.Node) -> tuple[str, list[_SexprWork] | None]:
    """The head of a node's s-expression and its children (``None`` for a leaf)."""
    if isinstance(node, ast.Name):
        return (node.text + ("@" + node.font if node.font else "")), None
    if isinstance(node, ast.Number):
        return (node.text + ("@" + node.font if node.font else "")), None
    if isinstance(node, ast.Empty):
        return "{}", None
    if isinstance(node, ast.Partial):
        return "∂", None
    if isinstance(node, ast.Nabla):
        return "∇", None
    if isinstance(node, ast.Dots):
        return node.kind, None
    if isinstance(node, ast.Text):
        return _quote(node.text), None
    if isinstance(node, ast.Chain):
        if not node.ops:
            if len(node.parts) == 1:
                return ("_", None) if node.parts[0] is None else _sexpr_parts(node.parts[0])
            return "chain", list(node.parts)
        if len(set(node.ops)) == 1:
            return node.ops[0], list(node.parts)
        mixed: list[_SexprWork] = [node.parts[0]]
        for op, part in zip(node.ops, node.parts[1:], strict=True):
            mixed.extend([op, part])
        return "chain", mixed
    if isinstance(node, ast.BinOp):
        return BINARY_SEXPR.get(node.op, node.op), [node.left, node.right]
    if isinstance(node, ast.Neg):
        return "neg", [node.operand]
    if isinstance(node, ast.Juxt):
        return "juxt", list(node.items)
    if isinstance(node, ast.Frac):
        return "frac", [node.numerator, node.denominator]
    if isinstance(node, ast.Sub):
        return "sub", [node.base, node.index]
    if isinstance(node, ast.Sup):
        return "sup", [node.base, node.exponent]
    if isinstance(node, ast.Transpose):
        return ("-T" if node.inverse else "T"), [node.base]
    if isinstance(node, ast.Sqrt):
        return "sqrt", [node.arg]
    if isinstance(node, ast.Evaluated):
        return "at", [node.base, node.point]
    if isinstance(node, ast.BigOp):
        return node.op, [node.lower, node.upper, node.body]
    if isinstance(node, ast.Func):
        children: list[_SexprWork] = [node.name]
        if node.call and isinstance(node.arg, ast.Delimited) and node.arg.kind == "()":
            children.extend(node.arg.items)
            if node.arg.separator in SEPARATOR_SEXPR:
                children.append(":sep" + SEPARATOR_SEXPR[node.arg.separator])
        else:
            children.append(node.arg)
        if node.sub is not None:
            children.extend([":sub", node.sub])
        if node.power is not None:
            children.extend([":pow", node.power])
        return ("call" if node.call else "fn"), children
    if isinstance(node, ast.Delimited):
        head = DELIMITER_SEXPR.get(node.kind, node.kind)
        head += SEPARATOR_SEXPR.get(node.separator, "")
        return head, list(node.items)
    if isinstance(node, ast.Matrix):
        return node.env, list(node.rows)
    raise TypeError(f"cannot print {type(node).__name__}")
