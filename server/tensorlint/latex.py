"""Printing IR back as LaTeX in the document's own style, and as plain text for messages.

The lowering unifies fonts (``x``, ``\\mathbf{x}`` and ``\\vec{x}`` name one variable), so the IR no longer
knows how the author wrote a name. ``Style`` recovers it from the source: ``Style.from_source`` walks a
syntax AST together with the text its offsets index and records the exact spelling of every name
(``\\mathbf{x}``), the transpose mark (``^\\top``, ``^{\\text{T}}``), the spelling of operators
(``\\operatorname{tr}``, ``\\mathrm{Tr}``), the Hadamard symbol and the all-ones vector.

``to_latex(expr, style)`` prints LaTeX that the parser reads back to the same IR (the derivation module
checks this by parsing what it prints before it shows anything); ``to_text(expr)`` prints the compact
Unicode form used in diagnostic messages (``2Aᵀ(Ax − b)``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tensorlint import ir
from tensorlint import syntax as ast
from tensorlint.lower import name_key
from tensorlint.scan import GREEK

# Binding strength, loosest first: a node printed where a tighter level is needed gets parentheses.
SUM, FROBENIUS, SIGNED, ELEMENTWISE, PRODUCT, POSTFIX, ATOM = range(7)

FONT_COMMANDS = {
    "bf": "\\mathbf", "vec": "\\vec", "rm": "\\mathrm", "sf": "\\mathsf", "bb": "\\mathbb", "cal": "\\mathcal",
    "frak": "\\mathfrak", "hat": "\\hat", "bar": "\\bar", "tilde": "\\tilde", "dot": "\\dot", "ddot": "\\ddot",
    "tt": "\\mathtt", "check": "\\check", "bm": "\\bm", "boldsymbol": "\\boldsymbol",
}  # fmt: skip
FUNCTION_LATEX = {
    "tr": "\\operatorname{tr}", "det": "\\det", "log": "\\log", "exp": "\\exp", "vec": "\\operatorname{vec}",
    "diag": "\\operatorname{diag}", "diagm": "\\operatorname{diag}", "softmax": "\\operatorname{softmax}",
    "sigmoid": "\\sigma", "tanh": "\\tanh", "sin": "\\sin", "cos": "\\cos", "sinh": "\\sinh", "cosh": "\\cosh",
}  # fmt: skip
FUNCTION_TEXT = {"sigmoid": "σ", "diagm": "diag", "logdet": "log det"}
GREEK_TEXT = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε", "zeta": "ζ",
    "eta": "η", "theta": "θ", "vartheta": "ϑ", "iota": "ι", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν",
    "xi": "ξ", "pi": "π", "rho": "ρ", "sigma": "σ", "tau": "τ", "upsilon": "υ", "phi": "φ", "varphi": "φ",
    "chi": "χ", "psi": "ψ", "omega": "ω", "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ",
    "Pi": "Π", "Sigma": "Σ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω", "ell": "ℓ",
}  # fmt: skip
SUPERSCRIPT_DIGITS = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


@dataclass
class Style:
    """How the author writes things; every field has the conventional default."""

    # Variable key → exact spelling in the source, e.g. "x" → "\\mathbf{x}".
    names: dict[str, str] = field(default_factory=dict)
    transpose: str = "^T"
    # Operator name → spelling, e.g. "tr" → "\\mathrm{Tr}".
    functions: dict[str, str] = field(default_factory=dict)
    hadamard: str = "\\odot"
    # The all-ones vector, and what goes before and after the subscript of a sized one: ``\\mathbf{1}_{n}``
    # is ("\\mathbf{1}", ""), ``\\mathbf{1_{n}}`` is ("\\mathbf{1", "}").
    ones: str = "\\mathbf{1}"
    ones_sized: tuple[str, str] = ("\\mathbf{1}", "")
    matrix_environment: str = "bmatrix"
    fraction: str = "\\frac"
    # Keys the document knows as variables: a bare name before ``(`` would otherwise read as a call.
    variables: set[str] = field(default_factory=set)
    # Keys known as matrices, and whether the author writes their entries y_{21} rather than y_{2,1}.
    matrices: set[str] = field(default_factory=set)
    compact_entries: bool = False

    # Which of the single-valued habits above were seen in the source (the others are defaults).
    learned: set[str] = field(default_factory=set)

    def fill(self, other: Style) -> None:
        """Take from ``other`` (the rest of the document) what this style (the claim) did not show."""
        for key, spelling in other.names.items():
            self.names.setdefault(key, spelling)
        for key, spelling in other.functions.items():
            self.functions.setdefault(key, spelling)
        for habit in other.learned - self.learned:
            if habit == "ones":
                self.ones, self.ones_sized = other.ones, other.ones_sized
            else:
                setattr(self, habit, getattr(other, habit))
            self.learned.add(habit)

    @classmethod
    def from_source(cls, nodes: list[ast.Node], text: str, unify_fonts: bool = True) -> Style:
        """The style of the author, read from syntax nodes and the text their offsets index."""
        style = cls()
        style.learn(nodes, text, unify_fonts)
        return style

    def learn(self, nodes: list[ast.Node], text: str, unify_fonts: bool = True) -> None:
        """Add what ``nodes`` show about the author's habits; what was learnt first wins."""
        for root in nodes:
            for node in ast.walk(root):
                source = text[node.start : node.end] if 0 <= node.start <= node.end <= len(text) else ""
                if isinstance(node, ast.Name):
                    key = name_key(node, unify_fonts)
                    source = _strip_group(source)
                    if source and _is_spelling_of(source, node) and key not in self.names:
                        self.names[key] = source
                elif isinstance(node, ast.Transpose) and not node.inverse:
                    mark = text[node.base.end : node.end].strip() if node.base.end <= node.end else ""
                    if mark and _is_transpose_mark(mark) and "transpose" not in self.learned:
                        self.transpose = mark
                        self.learned.add("transpose")
                elif isinstance(node, ast.Func):
                    spelling = text[node.start : node.arg.start].strip() if node.arg.start >= node.start else ""
                    if spelling and node.name not in self.functions and _is_function_spelling(spelling, node.name):
                        self.functions[node.name] = spelling
                elif isinstance(node, ast.BinOp) and node.op == "hadamard":
                    symbol = text[node.left.end : node.right.start].strip()
                    if symbol in ("\\odot", "\\circ", "⊙", "∘") and "hadamard" not in self.learned:
                        self.hadamard = symbol
                        self.learned.add("hadamard")
                elif (
                    isinstance(node, ast.Sub)
                    and isinstance(node.base, ast.Name)
                    and isinstance(node.index, ast.Number)
                    and len(node.index.text) == 2
                    and node.index.text.isdigit()
                ):
                    self.compact_entries = True
                    self.learned.add("compact_entries")
                elif isinstance(node, ast.Sub) and isinstance(node.base, ast.Number) and node.base.text == "1":
                    found = re.fullmatch(r"(\\math(?:bf|bb)\{\s*1)\s*_\s*\{?\s*\w+\s*\}?(\s*\})", source)
                    if "ones" in self.learned:
                        pass
                    elif found:
                        self.learned.add("ones")
                        self.ones_sized = (found.group(1), found.group(2))
                        self.ones = found.group(1) + found.group(2)
                    elif re.fullmatch(r"\\math(?:bf|bb)\{1\}_\{?\w+\}?", source):
                        self.learned.add("ones")
                        self.ones = source.split("_")[0]
                        self.ones_sized = (self.ones, "")
                elif isinstance(node, ast.Matrix) and node.env.rstrip("*") in ("bmatrix", "pmatrix", "matrix"):
                    if "matrix_environment" not in self.learned:
                        self.matrix_environment = node.env
                        self.learned.add("matrix_environment")
                elif isinstance(node, ast.Frac) and "fraction" not in self.learned:
                    self.fraction = source[:6] if source.startswith(("\\cfrac", "\\dfrac", "\\tfrac")) else "\\frac"
                    self.learned.add("fraction")

    def spelling(self, key: str) -> str:
        """How the variable ``key`` is written: the author's spelling, else a conventional one."""
        if key in self.names:
            return self.names[key]
        base, _, font = key.partition("@")
        name, underscore, subscript = base.partition("_")
        written = self.names.get(name) or _default_name(name)
        if font:
            command = FONT_COMMANDS.get(font, "\\mathrm")
            written = f"{command}{{{written}}}"
        if underscore:
            written += f"_{{{subscript}}}"
        return written

    def plain_spelling(self, key: str) -> str:
        """The variable as written without its font, for entries: ``x_l`` rather than ``\\mathbf{x}_l``."""
        base, _, font = key.partition("@")
        name, underscore, subscript = base.partition("_")
        written = _default_name(name)
        if font in ("bb", "cal", "frak", "hat", "bar", "tilde", "dot", "ddot", "check"):
            written = f"{FONT_COMMANDS[font]}{{{written}}}"
        if underscore:
            return f"({written}_{{{subscript}}})"
        return written

    def function(self, op: str) -> str:
        return self.functions.get(op) or FUNCTION_LATEX.get(op, f"\\operatorname{{{op}}}")


def _default_name(name: str) -> str:
    if name in GREEK:
        return "\\" + name
    if len(name) == 1 or name.isdigit():
        return name
    return f"\\mathrm{{{name}}}"


def _strip_group(source: str) -> str:
    """``{\\mathbf{w}}`` (a subscript's group) is spelled ``\\mathbf{w}``."""
    source = source.strip()
    while source.startswith("{") and source.endswith("}"):
        depth = 0
        for position, character in enumerate(source):
            depth += {"{": 1, "}": -1}.get(character, 0)
            if depth == 0 and position < len(source) - 1:
                return source
        source = source[1:-1].strip()
    return source


def _is_spelling_of(source: str, node: ast.Name) -> bool:
    """A source slice that spells just the name (a command, a font, a letter), not a larger construct."""
    if not re.fullmatch(r"[\\A-Za-z{}\s]+|[^\W\d_]", source):
        return False
    return node.text in source or source.strip("\\") in GREEK


def _is_transpose_mark(mark: str) -> bool:
    return mark in ("'", "^T", "^\\top", "^\\intercal", "^\\mathsf{T}", "^{\\mathsf{T}}", "^{\\mathsf T}", "ᵀ") or (
        re.fullmatch(r"\^\{\s*(T|\\top|\\intercal|\\text\{T\}|\\mathrm\{T\}|\\mathsf\{T\}|\\mathsf T)\s*\}", mark)
        is not None
    )


def _is_function_spelling(spelling: str, name: str) -> bool:
    return re.fullmatch(r"\\?[A-Za-z]+(\{[A-Za-z]+\})?", spelling) is not None and name.lower() in spelling.lower()


def is_broadcast_constant(expr: ir.Expr) -> float | None:
    """``c·J`` with J the all-ones matrix of whatever shape the context needs: the constant ``c`` in a sum."""
    if (
        isinstance(expr, ir.Prod)
        and len(expr.factors) == 2
        and isinstance(expr.factors[0], ir.Const)
        and isinstance(expr.factors[1], ir.Ones)
        and expr.factors[1].square
        and expr.factors[1].dim is None
    ):
        return expr.factors[0].value
    return None


def number(value: float, text: bool = False) -> str:
    """``2``, ``\\frac{1}{2}``, ``0.3``: small fractions as fractions."""
    if float(value).is_integer():
        return str(int(value))
    for denominator in range(2, 13):
        numerator = value * denominator
        if abs(numerator - round(numerator)) < 1e-12:
            if text:
                return f"{round(numerator)}/{denominator}"
            return f"\\frac{{{round(numerator)}}}{{{denominator}}}"
    return f"{value:.6g}"


class Printer:
    """One IR expression to LaTeX (``mode="latex"``) or to Unicode text (``mode="text"``)."""

    def __init__(self, style: Style | None = None, mode: str = "latex") -> None:
        self.style = style or Style()
        self.text = mode == "text"

    # Levels -------------------------------------------------------------------------------------------

    def level(self, expr: ir.Expr) -> int:
        if isinstance(expr, ir.Add):
            return SUM
        if isinstance(expr, ir.Binary) and expr.op == "frob":
            return FROBENIUS
        if isinstance(expr, ir.Unary) and expr.op == "neg":
            return SIGNED
        if isinstance(expr, ir.Const) and expr.value < 0:
            return SIGNED
        if isinstance(expr, ir.Binary) and expr.op in ("kron", "hadamard"):
            return ELEMENTWISE
        if isinstance(expr, ir.Prod):
            return PRODUCT if len(expr.factors) > 1 else self.level(expr.factors[0])
        if isinstance(expr, ir.Sum):
            return PRODUCT
        if isinstance(expr, ir.Binary) and expr.op == "div" and self.text:
            return PRODUCT
        if isinstance(expr, ir.Unary) and expr.op in ("transpose", "inverse"):
            return POSTFIX
        if isinstance(expr, ir.Power | ir.Index):
            return POSTFIX
        if isinstance(expr, ir.Const) and not float(expr.value).is_integer() and self.text:
            return PRODUCT
        return ATOM

    def wrap(self, expr: ir.Expr, minimum: int) -> str:
        inner = self.expr(expr)
        if self.level(expr) < minimum:
            return f"({inner})"
        return inner

    # Printing -----------------------------------------------------------------------------------------

    def expr(self, expr: ir.Expr) -> str:
        method = getattr(self, "print_" + type(expr).__name__.lower(), None)
        if method is None:
            raise ValueError(f"cannot print {type(expr).__name__}")
        result: str = method(expr)
        return result

    def print_var(self, expr: ir.Var) -> str:
        if self.text:
            base, _, _ = expr.key.partition("@")
            name, underscore, subscript = base.partition("_")
            return GREEK_TEXT.get(name, name) + (f"_{subscript}" if underscore else "")
        return self.style.spelling(expr.key)

    def print_const(self, expr: ir.Const) -> str:
        if expr.value < 0:
            return "-" + number(-expr.value, self.text)
        return number(expr.value, self.text)

    def print_ones(self, expr: ir.Ones) -> str:
        if self.text:
            return "1" if expr.dim is None or expr.square else f"1_{expr.dim}"
        if expr.square:
            # The all-ones matrix stands for a constant broadcast in a sum (1 - σ(z)).
            return "1"
        if expr.dim is None:
            return self.style.ones
        before, after = self.style.ones_sized
        return f"{before}_{{{expr.dim}}}{after}"

    def print_identity(self, expr: ir.Identity) -> str:
        spelling = "I" if self.text else self.style.names.get("I", "I")
        if expr.dim is None:
            return spelling
        return f"{spelling}_{expr.dim}" if self.text else f"{spelling}_{{{expr.dim}}}"

    def print_basis(self, expr: ir.Basis) -> str:
        return f"e_{expr.index}" if self.text else f"e_{{{expr.index}}}"

    def indices(self, refs: tuple[ir.IndexRef, ...], compact: bool = False) -> str:
        parts = [ref[1] if isinstance(ref, tuple) else str(ref) for ref in refs]
        # Concrete positions are separated by commas (y_{1,1}) so they never read as one number, unless the
        # author writes y_{21} for an entry of a matrix (and every position is one digit).
        concrete = all(isinstance(ref, int) for ref in refs) and len(refs) > 1
        if concrete and not (compact and all(len(part) == 1 for part in parts)):
            joined = ",".join(parts)
        else:
            joined = "".join(parts)
        if self.text:
            return "_" + joined
        return f"_{{{joined}}}"

    def print_delta(self, expr: ir.Delta) -> str:
        return ("δ" if self.text else "\\delta") + self.indices((expr.first, expr.second))

    def print_index(self, expr: ir.Index) -> str:
        base = expr.base
        if isinstance(base, ir.Var):
            written = base.key if self.text else self.style.plain_spelling(base.key)
            if self.text:
                written = self.print_var(base)
                if "_" in written:
                    written = f"({written})"
            compact = self.style.compact_entries and base.key in self.style.matrices
            return written + self.indices(expr.indices, compact)
        if isinstance(base, ir.Basis) and len(expr.indices) == 1:
            # The entries of e_c are a Kronecker delta with a concrete index.
            return self.print_delta(ir.Delta(expr.indices[0], base.index))
        return f"({self.expr(base)})" + self.indices(expr.indices)

    def print_prod(self, expr: ir.Prod) -> str:
        factors = list(expr.factors)
        pieces: list[str] = []
        for position, factor in enumerate(factors):
            constant = is_broadcast_constant(factor)
            if constant is not None:
                pieces.append(number(constant, self.text))
                continue
            nested_product = isinstance(factor, ir.Prod) and len(factor.factors) > 1 and len(factors) > 1
            minimum = PRODUCT + 1 if nested_product else PRODUCT
            if position > 0 and isinstance(factor, ir.Const):
                minimum = ATOM
            if position > 0 and isinstance(factor, ir.Unary) and factor.op == "neg":
                minimum = ATOM
            piece = self.wrap(factor, minimum)
            if position == 0 and isinstance(factor, ir.Const) and factor.value == -1 and len(factors) > 1:
                piece = "-"
            elif position == 0 and isinstance(factor, ir.Const) and factor.value < 0:
                piece = "-" + number(-factor.value, self.text)
            elif position == 0 and isinstance(factor, ir.Const) and factor.value == 1 and len(factors) > 1:
                piece = ""
            if pieces and piece.startswith("(") and not self.text:
                previous = factors[position - 1]
                if self.would_call(previous):
                    piece = "\\left[" + piece[1:-1] + "\\right]"
            pieces.append(piece)
        joined = ""
        for piece in pieces:
            if not piece:
                continue
            if joined in ("", "-"):
                joined += piece
            elif expr.dot:
                joined += (" · " if self.text else " \\cdot ") + piece
            elif self.text:
                joined += (" " if _needs_space(joined, piece) else "") + piece
            else:
                joined += " " + piece
        return joined

    def would_call(self, expr: ir.Expr) -> bool:
        """A bare name followed by ``(`` reads as a function call unless the document knows it as a variable."""
        if not isinstance(expr, ir.Var):
            return False
        key = expr.key
        return key not in self.style.variables and (key[:1].isupper() or key in ("f", "g", "h"))

    def print_add(self, expr: ir.Add) -> str:
        text = ""
        for position, (term, sign) in enumerate(zip(expr.terms, expr.signs, strict=True)):
            constant = is_broadcast_constant(term)
            negative = sign < 0
            inner_term = term
            if isinstance(term, ir.Unary) and term.op == "neg":
                negative, inner_term = not negative, term.operand
            if constant is not None:
                piece = number(abs(constant), self.text)
                negative = negative != (constant < 0)
            else:
                piece = self.wrap(inner_term, FROBENIUS)
                if piece.startswith("-") and not piece.startswith("-(") and self.level(inner_term) >= PRODUCT:
                    negative, piece = not negative, piece[1:]
            if position == 0:
                text = ("-" if negative else "") + piece
            else:
                minus = " − " if self.text else " - "
                text += (minus if negative else " + ") + piece
        return text

    def print_unary(self, expr: ir.Unary) -> str:
        op, operand = expr.op, expr.operand
        if op == "neg":
            inner = self.wrap(operand, ELEMENTWISE)
            return ("−" if self.text else "-") + inner
        if op == "transpose":
            if isinstance(operand, ir.Unary) and operand.op == "inverse":
                return self.wrap(operand.operand, POSTFIX + 1) + ("⁻ᵀ" if self.text else "^{-T}")
            mark = "ᵀ" if self.text else self.style.transpose
            return self.wrap(operand, POSTFIX + 1) + mark
        if op == "inverse":
            if isinstance(operand, ir.Unary) and operand.op == "transpose":
                return self.wrap(operand.operand, POSTFIX + 1) + ("⁻ᵀ" if self.text else "^{-T}")
            return self.wrap(operand, POSTFIX + 1) + ("⁻¹" if self.text else "^{-1}")
        if op == "pinv":
            return self.wrap(operand, POSTFIX + 1) + ("⁺" if self.text else "^{+}")
        if op == "sqrt":
            return f"√({self.expr(operand)})" if self.text else f"\\sqrt{{{self.expr(operand)}}}"
        if op == "abs":
            return f"|{self.expr(operand)}|" if self.text else f"\\left|{self.expr(operand)}\\right|"
        if op == "logdet":
            if self.text:
                return f"log det({self.expr(operand)})"
            return f"{self.style.function('log')}\\det({self.expr(operand)})"
        if self.text:
            name = FUNCTION_TEXT.get(op, op)
            return f"{name}({self.expr(operand)})"
        return f"{self.style.function(op if op != 'diagm' else 'diag')}({self.expr(operand)})"

    def print_power(self, expr: ir.Power) -> str:
        exponent = expr.exponent
        if isinstance(exponent, ir.Expr):
            written = self.expr(exponent)
        else:
            written = number(exponent, self.text) if isinstance(exponent, float | int) else str(exponent)
        base = self.wrap(expr.base, POSTFIX + 1)
        if isinstance(expr.base, ir.Norm) or (isinstance(expr.base, ir.Index) and isinstance(expr.base.base, ir.Var)):
            base = self.expr(expr.base)
        if self.text:
            return base + (written.translate(SUPERSCRIPT_DIGITS) if written.lstrip("-").isdigit() else f"^{written}")
        return f"{base}^{{{written}}}"

    def print_binary(self, expr: ir.Binary) -> str:
        if expr.op == "div":
            if self.text:
                return f"{self.wrap(expr.left, PRODUCT + 1)}/{self.wrap(expr.right, POSTFIX)}"
            return f"{self.style.fraction}{{{self.expr(expr.left)}}}{{{self.expr(expr.right)}}}"
        if expr.op == "frob":
            return f"{self.wrap(expr.left, FROBENIUS)} : {self.wrap(expr.right, SIGNED)}"
        symbol = {"kron": ("⊗", "\\otimes"), "hadamard": ("⊙", self.style.hadamard)}[expr.op][0 if self.text else 1]
        # Both products are associative: a ⊙ (b ⊙ c) is written a ⊙ b ⊙ c.
        same = isinstance(expr.right, ir.Binary) and expr.right.op == expr.op
        right = self.expr(expr.right) if same else self.wrap(expr.right, PRODUCT)
        return f"{self.wrap(expr.left, ELEMENTWISE)} {symbol} {right}"

    def print_norm(self, expr: ir.Norm) -> str:
        inner = self.expr(expr.operand)
        if self.text:
            return f"‖{inner}‖" + ("_F" if expr.kind == "F" else "")
        return f"\\|{inner}\\|" + ("_F" if expr.kind == "F" else "")

    def print_call(self, expr: ir.Call) -> str:
        arguments = ", ".join(self.expr(argument) for argument in expr.args)
        return f"{self.print_var(ir.Var(expr.key))}({arguments})"

    def print_sum(self, expr: ir.Sum) -> str:
        labels = "".join(expr.labels)
        body = self.wrap(expr.body, PRODUCT)
        if self.text:
            return f"∑_{labels} {body}"
        return f"\\sum_{{{labels}}} {body}"

    def print_differential(self, expr: ir.Differential) -> str:
        inner = self.wrap(expr.operand, POSTFIX + 1)
        return f"d{inner}"

    def print_deriv(self, expr: ir.Deriv) -> str:
        numerator = self.wrap(expr.numerator, PRODUCT + 1)
        wrt = self.print_var(ir.Var(expr.wrt.key))
        if expr.wrt.indices:
            wrt = (expr.wrt.key if self.text else self.style.plain_spelling(expr.wrt.key)) + self.indices(
                expr.wrt.indices
            )
        if self.text:
            return f"∂{numerator}/∂{wrt}"
        return f"{self.style.fraction}{{\\partial {numerator}}}{{\\partial {wrt}}}"

    def print_matrixlit(self, expr: ir.MatrixLit) -> str:
        if self.text:
            return "[" + "; ".join(", ".join(self.expr(cell) for cell in row) for row in expr.rows) + "]"
        environment = self.style.matrix_environment
        rows = " \\\\ ".join(" & ".join(self.expr(cell) for cell in row) for row in expr.rows)
        return f"\\begin{{{environment}}}{rows}\\end{{{environment}}}"


def _needs_space(joined: str, piece: str) -> bool:
    """In plain text, factors are juxtaposed (``Wx``) unless that would merge a name with a function's name
    (``A tr(X)``), a subscript with what follows (``δ_ik x_l``), or two numbers."""
    word = re.match(r"[^\W\d_]{2,}\(", piece) is not None or piece.startswith(("log det", "∑"))
    subscript = re.search(r"_[\w,]+$", joined) is not None or re.search(r"\d/\d+$", joined) is not None
    ends_value = joined[-1:].isalnum() or joined[-1:] in ")ᵀ¹‖²"
    return ends_value and (word or subscript or (joined[-1:].isdigit() and piece[:1].isdigit()))


def to_latex(expr: ir.Expr, style: Style | None = None) -> str:
    """LaTeX for ``expr`` in ``style`` (conventional spelling where the style says nothing)."""
    return Printer(style, "latex").expr(expr)


def to_text(expr: ir.Expr) -> str:
    """Compact Unicode for messages: ``2Aᵀ(Ax − b)``, ``δ_ik x_l``."""
    return Printer(None, "text").expr(expr)
