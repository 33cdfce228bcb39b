"""The LaTeX math scanner: one span of math text in, a list of grammar tokens out.

LaTeX cannot be tokenized by a context-free lexer: whether ``|`` opens or closes, whether ``\\ `` is a space
or the separator of a row vector ``[a \\ b]``, whether ``\\text{T}`` is a transpose or a remark, and which
``(`` belongs to ``\\operatorname{tr}`` all depend on what came before. This scanner makes those decisions
with a little state, drops typographic noise (``\\left``, ``\\,``, ``\\displaystyle``, ``\\label{..}``), and
hands Lark clean tokens whose positions are offsets into the span text.

The decisions, each marked where it is made:

- ``|`` closes the innermost open bar when it follows a value, and opens one otherwise; a bar left open
  inside ``( … )`` is the conditional bar of ``p(x | θ)`` (``MID``); a bar that closes nothing and is followed
  by ``_`` is the evaluation bar of ``\\left. f \\right|_{x=0}`` (``EVALBAR``).
- ``\\ `` separates the entries of ``[a \\ b \\ c]`` (``ROWSEP``) and is a space elsewhere.
- ``^{\\text{T}}``, ``^\\top``, ``^{\\mathsf T}`` are transposes (``TOP``); ``\\text{tr}`` is the trace.
- A ``(`` right after a function name and its scripts (``\\log_2(x)``) is the call's parenthesis (``FLPAR``).
- ``\\partial`` and ``d`` right after ``/`` and before a name are the denominator of ``∂f/∂x`` (``DEN_D``).
- ``\\operatorname{tr}`` and its spellings take the whole product that follows (``WIDEFUNC``):
  ``\\operatorname{tr} X^T X`` is the trace of ``X^T X``.
- A cell of a matrix that is only ``|`` or ``-`` is a rule drawn beside the rows or columns of a matrix
  written by its rows (``RULE``): not math, and not a bar that opens.
- Fonts fold into the name: ``\\mathbf{x}`` is one ``NAME`` token carrying ``bf``; a decoration such as
  ``\\hat`` wins over a style such as ``\\mathbf`` (``\\hat{\\mathbf{y}}`` is ``y`` with font ``hat``).
- Unicode maps to the same tokens as the LaTeX spelling (``∂ ∇ ᵀ ⊗``); sub- and superscript characters
  become scripts (``1ₙ`` is ``1_n``, ``X⁻¹`` is ``X^{-1}``).

Nesting deeper than ``MAX_DEPTH`` stops the scan with a problem instead of building a tree Python cannot
walk.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from lark import Token

GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta", "iota",
    "kappa", "lambda", "mu", "nu", "xi", "pi", "varpi", "rho", "varrho", "sigma", "varsigma", "tau",
    "upsilon", "phi", "varphi", "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi",
    "Sigma", "Upsilon", "Phi", "Psi", "Omega", "ell", "infty", "hbar", "imath", "jmath", "dagger",
}  # fmt: skip
UNICODE_GREEK = {
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "ζ": "zeta", "η": "eta",
    "θ": "theta", "ι": "iota", "κ": "kappa", "λ": "lambda", "μ": "mu", "ν": "nu", "ξ": "xi", "π": "pi",
    "ρ": "rho", "σ": "sigma", "τ": "tau", "φ": "phi", "ϕ": "phi", "χ": "chi", "ψ": "psi", "ω": "omega",
    "Γ": "Gamma", "Δ": "Delta", "Θ": "Theta", "Λ": "Lambda", "Σ": "Sigma", "Φ": "Phi", "Ψ": "Psi",
    "Ω": "Omega", "∞": "infty", "ϵ": "epsilon", "ℓ": "ell", "ϑ": "vartheta", "υ": "upsilon", "Ξ": "Xi",
    "Π": "Pi", "ς": "varsigma", "ϱ": "varrho",
}  # fmt: skip
# Operator names that read as functions, keyed by how they are spelled (lowercased).
FUNCTIONS = {
    "tr": "tr", "trace": "tr", "det": "det", "log": "log", "ln": "log", "exp": "exp", "vec": "vec",
    "diag": "diag", "softmax": "softmax", "sigmoid": "sigmoid", "tanh": "tanh", "sin": "sin", "cos": "cos",
    "sign": "sign", "sgn": "sign", "relu": "relu", "rank": "rank", "max": "max", "min": "min",
    "logdet": "logdet", "adj": "adj", "sinh": "sinh", "cosh": "cosh", "lim": "lim", "sup": "sup",
    "inf": "inf", "argmax": "argmax", "argmin": "argmin", "arg": "arg", "dim": "dim", "ker": "ker",
    "tan": "tan", "arctan": "arctan", "arcsin": "arcsin", "arccos": "arccos", "sec": "sec", "csc": "csc",
    "cot": "cot", "deg": "deg", "pr": "pr", "erf": "erf", "var": "var", "cov": "cov", "lg": "lg",
}  # fmt: skip
# Functions whose argument without parentheses is the whole product that follows.
WIDE_FUNCTIONS = {"tr"}
# Words written without a backslash that read as a function when a parenthesis follows: `tr(AᵀB)`.
BARE_FUNCTION_WORDS = {
    "tr", "Tr", "trace", "det", "log", "ln", "exp", "diag", "vec", "softmax", "tanh", "sigmoid", "relu",
    "ReLU", "logdet", "sign", "sgn",
}  # fmt: skip
LONGEST_FUNCTION_WORD = max(len(word) for word in BARE_FUNCTION_WORDS)
MATH_FONTS = {
    "mathbf": "bf", "boldsymbol": "bf", "bm": "bf", "pmb": "bf", "textbf": "bf", "vec": "vec",
    "mathrm": "rm", "mathit": "", "mathsf": "sf", "mathbb": "bb", "Bbb": "bb", "mathcal": "cal",
    "mathfrak": "frak", "mathscr": "cal", "hat": "hat", "widehat": "hat", "bar": "bar", "overline": "bar",
    "tilde": "tilde", "widetilde": "tilde", "dot": "dot", "ddot": "ddot", "underline": "",
    "operatorname": "rm", "mathnormal": "", "mathtt": "tt", "check": "check", "overrightarrow": "vec",
    "textit": "", "mathbfit": "bf", "symbf": "bf", "symbfit": "bf", "mathbbm": "bb", "vv": "vec",
}  # fmt: skip
# Fonts a digit keeps: a bold or double-struck 1 is the ones vector, an upright 1 is just 1.
NUMBER_FONTS = {"bf", "bb"}
# Fonts that make a new symbol (``\hat{x}`` is not ``x``); they win over a style when nested.
DECORATIONS = {"hat", "bar", "tilde", "dot", "ddot", "check", "bb", "cal", "frak"}
TEXT_COMMANDS = {"text", "mbox", "textrm", "textnormal", "textsf", "texttt", "hbox", "textup"}
SWITCH_FONTS = {"rm": "rm", "bf": "bf", "it": "", "sf": "sf", "tt": "tt", "cal": "cal", "Bbb": "bb"}
SKIPPED = {
    "left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr", "Biggl",
    "Biggr", "bigm", "Bigm", "middle", "displaystyle", "textstyle", "scriptstyle", "scriptscriptstyle",
    "limits", "nolimits", "nonumber", "notag", "begingroup", "endgroup", "mathstrut", "strut", "hfill", "qed",
    "noindent", "medspace", "thickspace", "thinspace", "enspace", "negthinspace", "negmedspace",
    "negthickspace", "nobreak", "allowbreak", "relax", "mathopen", "mathclose", "mathord", "mathrel",
    "mathbin", "mathop", "mathpunct", "mathinner", "smash", "centering", "newline", "linebreak",
    "nolinebreak", "bigstrut",
}  # fmt: skip
SKIPPED_WITH_ARGUMENT = {
    "label", "tag", "hspace", "vspace", "phantom", "hphantom", "vphantom", "eqref", "ref", "color",
    "mspace", "hskip", "kern", "mkern", "intertext", "shortintertext",
}  # fmt: skip
# Commands whose one argument is math drawn with an ornament: the ornament is dropped.
TRANSPARENT_ARGUMENT = {"boxed", "cancel", "bcancel", "xcancel", "fbox", "mathclap", "mathllap", "mathrlap"}
# Commands whose argument is math with a note under or over it; the note's script is dropped.
ANNOTATED_ARGUMENT = {"underbrace": "_", "overbrace": "^", "underbracket": "_", "overbracket": "^"}
SPACES = {",", ";", ":", "!", ">", " ", "/"}
SEPARATOR_COMMANDS = {
    "implies", "Rightarrow", "Longrightarrow", "iff", "Leftrightarrow", "Longleftrightarrow", "therefore",
    "because", "leftarrow", "Leftarrow", "longleftarrow", "Longleftarrow", "quad", "qquad", "where",
    "impliedby", "land", "wedge", "lor", "vee", "leftrightarrow", "text",
}  # fmt: skip
# Quantifiers: what follows them up to the next separator is a domain, not an equation.
QUANTIFIERS = {"forall", "exists", "nexists"}
SIMPLE_COMMANDS = {
    "partial": "PARTIAL", "nabla": "NABLA", "cdot": "CDOT", "times": "TIMES", "otimes": "OTIMES",
    "odot": "ODOT", "circ": "ODOT", "ast": "CDOT", "star": "CDOT", "bullet": "CDOT", "cdotp": "CDOT",
    "ne": "NE", "neq": "NE", "le": "LE", "leq": "LE", "leqslant": "LE", "ge": "GE", "geq": "GE",
    "geqslant": "GE", "succeq": "GE", "succcurlyeq": "GE", "preceq": "LE", "preccurlyeq": "LE",
    "approx": "APPROX", "simeq": "APPROX", "sim": "APPROX", "cong": "APPROX",
    "propto": "APPROX", "in": "IN", "to": "TO", "rightarrow": "TO", "mapsto": "TO", "longrightarrow": "TO",
    "longmapsto": "TO", "coloneqq": "DEFEQ", "equiv": "DEFEQ", "triangleq": "DEFEQ", "doteq": "DEFEQ",
    "eqqcolon": "DEFEQ", "coloneq": "DEFEQ", "eqdef": "DEFEQ", "defeq": "DEFEQ",
    "sum": "BIGOP", "prod": "BIGOP", "cdots": "DOTS", "dots": "DOTS", "ldots": "DOTS", "vdots": "DOTS",
    "ddots": "DOTS", "dotsb": "DOTS", "dotsm": "DOTS", "dotsc": "DOTS", "dotsi": "DOTS", "dotso": "DOTS",
    "hdots": "DOTS", "iddots": "DOTS", "cr": "ROW_END", "crcr": "ROW_END",
    "langle": "LANGLE", "rangle": "RANGLE", "lvert": "LBAR", "rvert": "RBAR", "lVert": "LNORM",
    "rVert": "RNORM", "lbrace": "LBRACE", "rbrace": "RBRACE", "sqrt": "SQRT", "prime": "PRIME",
    "lbrack": "LSQB", "rbrack": "RSQB", "lparen": "LPAR", "rparen": "RPAR", "colon": "COLON", "mid": "MID",
    "lt": "LT", "gt": "GT",
}  # fmt: skip
UNICODE_SIMPLE = {
    "∂": "PARTIAL", "∇": "NABLA", "⊗": "OTIMES", "⊙": "ODOT", "∘": "ODOT", "·": "CDOT", "⋅": "CDOT",
    "×": "TIMES", "∑": "BIGOP", "∏": "BIGOP", "∈": "IN", "≠": "NE", "≤": "LE", "≥": "GE", "≈": "APPROX",
    "→": "TO", "↦": "TO", "⟨": "LANGLE", "⟩": "RANGLE", "…": "DOTS", "⋯": "DOTS", "⋮": "DOTS", "⋱": "DOTS",
    "≔": "DEFEQ", "≡": "DEFEQ", "≜": "DEFEQ", "⇒": "SEP", "⟹": "SEP", "⇔": "SEP", "⟺": "SEP",
    "−": "MINUS", "∗": "CDOT", "∣": "MID", "∀": "QUANT", "∃": "QUANT", "∼": "APPROX", "≃": "APPROX",
    "∝": "APPROX", "⪰": "GE", "⪯": "LE",
}  # fmt: skip
UNICODE_DOTS = {"…": "ldots", "⋯": "cdots", "⋮": "vdots", "⋱": "ddots"}
UNICODE_BLACKBOARD = {"ℝ": "R", "ℕ": "N", "ℤ": "Z", "ℂ": "C", "ℚ": "Q", "ℍ": "H", "ℙ": "P"}
UNICODE_SUBSCRIPTS = {
    "₀": "0", "₁": "1", "₂": "2", "₃": "3", "₄": "4", "₅": "5", "₆": "6", "₇": "7", "₈": "8", "₉": "9",
    "ₙ": "n", "ₘ": "m", "ᵢ": "i", "ⱼ": "j", "ₖ": "k", "ₗ": "l", "ₐ": "a", "ₑ": "e", "ₒ": "o", "ₓ": "x",
    "ₚ": "p", "ₛ": "s", "ₜ": "t", "ᵣ": "r", "ᵤ": "u", "ᵥ": "v", "ₕ": "h", "₋": "-", "₊": "+", "ᵦ": "beta",
    "ᵧ": "gamma", "ᵨ": "rho", "ᵩ": "phi", "ᵪ": "chi", "₍": "(", "₎": ")",
}  # fmt: skip
UNICODE_SUPERSCRIPTS = {
    "⁰": "0", "¹": "1", "²": "2", "³": "3", "⁴": "4", "⁵": "5", "⁶": "6", "⁷": "7", "⁸": "8", "⁹": "9",
    "⁻": "-", "⁺": "+", "ⁿ": "n", "ⁱ": "i", "ʲ": "j", "ᵏ": "k", "ˡ": "l", "ᵐ": "m", "ᵃ": "a", "ᵇ": "b",
    "ᶜ": "c", "ᵈ": "d", "ᵉ": "e", "ᶠ": "f", "ᵍ": "g", "ʰ": "h", "ᵒ": "o", "ᵖ": "p", "ʳ": "r", "ˢ": "s",
    "ᵗ": "t", "ᵘ": "u", "ᵛ": "v", "ʷ": "w", "ˣ": "x", "ʸ": "y", "ᶻ": "z", "ᵀ": "T", "⁽": "(", "⁾": ")",
}  # fmt: skip
SCRIPT_PUNCTUATION = {"-": "MINUS", "+": "PLUS", "(": "LPAR", ")": "RPAR"}
PUNCTUATION = {
    "+": "PLUS", "-": "MINUS", "=": "EQ", "<": "LT", ">": "GT", "(": "LPAR", ")": "RPAR", "[": "LSQB",
    "]": "RSQB", "{": "LCURLY", "}": "RCURLY", ",": "COMMA", ":": "COLON", "^": "CARET", "_": "UNDERSCORE",
    "'": "PRIME", "/": "SLASH", "&": "AMP", "*": "CDOT", ".": "PERIOD", ";": "SEMI", "!": "BANG",
}  # fmt: skip
# Tokens after which a ``|`` closes an open bar rather than opening a new one.
VALUE_END = {
    "NAME", "NUMBER", "RPAR", "RSQB", "RCURLY", "RBAR", "RNORM", "RBRACE", "RANGLE", "TOP", "PRIME", "UTRANS",
    "DOTS", "MAT_END", "TEXT", "BANG",
}  # fmt: skip
MATRIX_ENVIRONMENTS = {
    "bmatrix", "pmatrix", "matrix", "vmatrix", "Vmatrix", "Bmatrix", "smallmatrix", "array", "cases",
    "bmatrix*", "pmatrix*", "matrix*", "vmatrix*", "Vmatrix*", "Bmatrix*", "dcases", "rcases", "psmallmatrix",
    "bsmallmatrix", "subarray", "vsmallmatrix",
}  # fmt: skip
# Token kinds that end a matrix cell: a lone `|` or `-` before one of them is a drawn rule.
CELL_START = {"MAT_BEGIN", "AMP", "ROW_END"}
# The optional spacing argument of a line break, ``\\[2pt]``.
LINE_SPACING = re.compile(r"\[\s*-?[\d.]+\s*(pt|em|ex|mm|cm|in|bp|mu|pc|dd|sp)\s*\]")
SPACING_IN_NAME = re.compile(r"\\[,;:!> ]|\\(?:quad|qquad|thinspace|medspace)\b|\s+")
MAX_DEPTH = 200
# Fonts inside fonts (`\\hat{\\mathbf{x}}`) are scanned by a scanner inside the scanner; this bounds the depth.
MAX_FONT_DEPTH = 16


@dataclass
class ScanResult:
    tokens: list[Token]
    problems: list[tuple[int, int, str]]


def _token(kind: str, value: str, start: int, end: int) -> Token:
    return Token(kind, value, start_pos=start, end_pos=end, line=1, column=start + 1)


def _compose_fonts(outer: str, inner: str) -> str:
    """The font of ``\\outer{\\inner{x}}``: a decoration wins over a style, the outer one over the inner."""
    if outer in DECORATIONS or not inner:
        return outer
    return inner


def _mathematical_letter(character: str) -> tuple[str, str] | None:
    """``𝐱`` is ``x`` in ``bf``, ``𝔼`` is ``E`` in ``bb``: the Unicode mathematical alphanumerics."""
    if character in UNICODE_BLACKBOARD:
        return UNICODE_BLACKBOARD[character], "bb"
    if not "\U0001d400" <= character <= "\U0001d7ff":
        return None
    name = unicodedata.name(character, "")
    if not name.startswith("MATHEMATICAL "):
        return None
    words = name.split()
    letter = words[-1]
    if "DIGIT" in words:
        digits = {"ZERO": "0", "ONE": "1", "TWO": "2", "THREE": "3", "FOUR": "4", "FIVE": "5", "SIX": "6"}
        digits |= {"SEVEN": "7", "EIGHT": "8", "NINE": "9"}
        font = "bb" if "DOUBLE-STRUCK" in words else "bf" if "BOLD" in words else ""
        return digits.get(letter, "0"), font
    if len(letter) != 1:
        greek = letter.lower().capitalize() if "CAPITAL" in words else letter.lower()
        if greek not in GREEK:
            return None
        return greek, "bf" if "BOLD" in words else ""
    if "SMALL" in words:
        letter = letter.lower()
    font = ""
    if "DOUBLE-STRUCK" in words:
        font = "bb"
    elif "FRAKTUR" in words:
        font = "frak"
    elif "SCRIPT" in words:
        font = "cal"
    elif "BOLD" in words:
        font = "bf"
    elif "SANS-SERIF" in words:
        font = "sf"
    elif "MONOSPACE" in words:
        font = "tt"
    return letter, font


class Scanner:
    """Turns one math span into tokens. Use :func:`scan`."""

    def __init__(self, text: str, font_depth: int = 0) -> None:
        self.text = text
        self.font_depth = font_depth
        self.position = 0
        self.tokens: list[Token] = []
        self.problems: list[tuple[int, int, str]] = []
        # Each entry is the kind of an open delimiter and the index of its token (-1 when it has none):
        # "{", "{*" (a transparent brace such as \eqalign's), "{_" and "{^" (transparent, with a note in a
        # script after it), "(", "[", "|", "‖", "⟨", "\\{", "matrix".
        self.open: list[tuple[str, int]] = []
        # Where each open delimiter starts in the text, for the range of a too-deep nesting.
        self.open_starts: list[int] = []
        # Font of the NAME token at each index, for \mathbf{x} and friends.
        self.fonts: dict[int, str] = {}

    # Small helpers -----------------------------------------------------------------------------------------

    def emit(self, kind: str, value: str, start: int, end: int) -> None:
        self.tokens.append(_token(kind, value, start, end))

    def previous_kind(self) -> str:
        return self.tokens[-1].type if self.tokens else ""

    def push(self, kind: str, start: int, token_index: int = -1) -> None:
        self.open.append((kind, token_index))
        self.open_starts.append(start)

    def top(self) -> str:
        return self.open[-1][0] if self.open else ""

    def skip_spaces(self, position: int) -> int:
        text = self.text
        while position < len(text) and text[position] in " \t\r\n":
            position += 1
        return position

    def read_command(self, position: int) -> tuple[str, int]:
        """At a backslash: the command name (``cdot``, or one symbol such as ``{``) and the end offset.

        A star right after a command name belongs to it: ``\\tag*``, ``\\operatorname*``.
        """
        text = self.text
        end = position + 1
        if end >= len(text):
            return "", end
        if text[end].isalpha() and text[end].isascii():
            while end < len(text) and text[end].isalpha() and text[end].isascii():
                end += 1
            name = text[position + 1 : end]
            if end < len(text) and text[end] == "*" and name in STARRED:
                return name, end + 1
            return name, end
        return text[end], end + 1

    def read_group(self, position: int) -> tuple[str, int, int] | None:
        """A braced argument (or a single token) starting at ``position``: (content, content start, end)."""
        position = self.skip_spaces(position)
        text = self.text
        if position >= len(text):
            return None
        if text[position] == "{":
            depth = 0
            index = position
            limit = min(len(text), position + 10_000)
            while index < limit:
                character = text[index]
                if character == "\\":
                    index += 2
                    continue
                if character == "{":
                    depth += 1
                elif character == "}":
                    depth -= 1
                    if depth == 0:
                        return text[position + 1 : index], position + 1, index + 1
                index += 1
            return None
        if text[position] == "\\":
            name, end = self.read_command(position)
            return "\\" + name, position, end
        if text[position] in "}&^_":
            # `\text}` has no argument: the brace closes an enclosing group.
            return None
        return text[position], position, position + 1

    def next_character(self, position: int) -> str:
        position = self.skip_spaces(position)
        return self.text[position] if position < len(self.text) else ""

    def starts_name(self, position: int) -> bool:
        """Whether a name (a letter, a Greek letter, a font command) starts at ``position``."""
        position = self.skip_spaces(position)
        text = self.text
        if position >= len(text):
            return False
        character = text[position]
        if character == "\\":
            name, _ = self.read_command(position)
            return name in GREEK or name in MATH_FONTS
        return character.isalpha()

    # The main loop -----------------------------------------------------------------------------------------

    def run(self) -> ScanResult:
        text = self.text
        while self.position < len(text):
            character = text[self.position]
            start = self.position
            if character in " \t\r\n~":
                self.position += 1
            elif character == "\\":
                self.command(start)
            elif "a" <= character <= "z" or "A" <= character <= "Z":
                self.letter(start)
            elif "0" <= character <= "9":
                self.number(start)
            elif character == "%":
                newline = text.find("\n", start)
                self.position = len(text) if newline < 0 else newline + 1
            elif character in "|-" and self.is_drawn_rule(start + 1):
                self.emit("RULE", character, start, start + 1)
                self.position += 1
            elif character in PUNCTUATION:
                self.punctuation(character, start)
            elif character == "|":
                self.bar("|", start, start + 1)
            elif character == "‖":
                self.bar("‖", start, start + 1)
            elif character in UNICODE_GREEK:
                self.emit("NAME", UNICODE_GREEK[character], start, start + 1)
                self.position += 1
            elif character in UNICODE_SUBSCRIPTS:
                self.unicode_scripts(start, UNICODE_SUBSCRIPTS, "UNDERSCORE")
            elif character in UNICODE_SUPERSCRIPTS and character != "ᵀ":
                self.unicode_scripts(start, UNICODE_SUPERSCRIPTS, "CARET")
            elif character in ("⊤", "ᵀ"):
                self.transpose_mark(start, start + 1, character)
            elif character in UNICODE_DOTS:
                self.emit("DOTS", UNICODE_DOTS[character], start, start + 1)
                self.position += 1
            elif character in UNICODE_SIMPLE:
                kind = UNICODE_SIMPLE[character]
                if kind == "PARTIAL" and self.previous_kind() == "SLASH" and self.starts_name(start + 1):
                    kind = "DEN_D"
                self.emit(kind, character, start, start + 1)
                self.position += 1
            elif (letter := _mathematical_letter(character)) is not None:
                kind = "NUMBER" if letter[0].isdigit() else "NAME"
                self.emit(kind, letter[0], start, start + 1)
                if letter[1]:
                    self.fonts[len(self.tokens) - 1] = letter[1]
                self.position += 1
            elif character.isalpha():
                self.emit("NAME", character, start, start + 1)
                self.position += 1
            else:
                self.emit("UNKNOWN", character, start, start + 1)
                self.position += 1
            if len(self.open) > MAX_DEPTH:
                outermost = self.open_starts[0]
                self.problems.append((outermost, len(text), f"brackets nested more than {MAX_DEPTH} deep"))
                break
        return ScanResult(self.tokens, self.problems)

    def letter(self, start: int) -> None:
        """One letter is one name, except a function word such as ``tr`` right before ``(``."""
        text = self.text
        end = start + 1
        # Only a whole word can be a function word, and none is longer than the longest one.
        previous = text[start - 1] if start > 0 else ""
        if not (previous.isascii() and previous.isalpha()):
            while (
                end < len(text) and end - start <= LONGEST_FUNCTION_WORD and text[end].isascii() and text[end].isalpha()
            ):
                end += 1
        word = text[start:end]
        if end - start > 1 and word in BARE_FUNCTION_WORDS and self.next_character(end) == "(":
            self.function_token(FUNCTIONS[word.lower()], start, end)
            self.position = end
            return
        kind = "NAME"
        if text[start] == "d" and self.previous_kind() == "SLASH" and self.starts_name(start + 1):
            kind = "DEN_D"
        self.emit(kind, text[start], start, start + 1)
        self.position = start + 1

    def function_token(self, name: str, start: int, end: int) -> None:
        self.emit("WIDEFUNC" if name in WIDE_FUNCTIONS else "FUNC", name, start, end)

    def number(self, start: int) -> None:
        text = self.text
        end = start + 1
        # After ``_``, ``^`` or ``\frac`` without braces, TeX takes a single digit: ``W_31`` is ``W_3`` times
        # 1, ``\frac12`` is one half.
        previous = self.previous_kind()
        single = previous in ("UNDERSCORE", "CARET", "FRAC", "SQRT") or (
            previous == "NUMBER" and len(self.tokens) > 1 and self.tokens[-2].type == "FRAC"
        )
        if not single:
            while end < len(text) and "0" <= text[end] <= "9":
                end += 1
            if end + 1 < len(text) and text[end] == "." and "0" <= text[end + 1] <= "9":
                end += 1
                while end < len(text) and "0" <= text[end] <= "9":
                    end += 1
        self.emit("NUMBER", text[start:end], start, end)
        self.position = end

    def is_drawn_rule(self, after: int) -> bool:
        """A cell of a matrix holding only ``|`` or ``-``: the rules drawn around the columns of a matrix."""
        if self.top() != "matrix" or self.previous_kind() not in CELL_START:
            return False
        position = self.skip_spaces(after)
        text = self.text
        return (
            position >= len(text)
            or text[position] == "&"
            or text.startswith("\\\\", position)
            or text.startswith("\\cr", position)
            or text.startswith("\\end", position)
        )

    def punctuation(self, character: str, start: int) -> None:
        text = self.text
        kind = PUNCTUATION[character]
        end = start + 1
        definition_mark = (character == ":" and text.startswith(":=", start)) or (
            character == "=" and text.startswith("=:", start) and not text.startswith("=:=", start)
        )
        if definition_mark:
            kind, end = "DEFEQ", start + 2
        elif character == "{" and self.font_switch_group(start):
            return
        elif character == "{":
            if self.previous_kind() == "TRANSPARENT_OPEN":
                opener = self.tokens.pop()
                self.push(str(opener.value) or "{*", start)
                self.position = end
                return
            self.push("{", start, len(self.tokens))
        elif character == "}":
            if self.top().startswith("{") and self.top() != "{":
                kind_of_group = self.top()
                self.pop()
                self.position = end
                if kind_of_group in ("{_", "{^"):
                    self.skip_annotation(kind_of_group[1])
                return
            self.close("{")
        elif character in "([":
            if character == "(" and self.follows_function():
                kind = "FLPAR"
            self.push(character, start, len(self.tokens))
        elif character in ")]":
            self.close("(" if character == ")" else "[")
        elif character == "'" and self.previous_kind() == "CARET":
            kind = "PRIME"
        elif character == "*" and self.after_caret():
            # `A^*` and `A^{*}`: the conjugate transpose, a name in the exponent.
            kind = "NAME"
            self.emit("NAME", "ast", start, end)
            self.position = end
            return
        elif character == "+" and self.exponent_alone(end):
            # `X^+` and `X^{+}`: the pseudo-inverse, spelled like `X^\dagger`.
            self.emit("NAME", "dagger", start, end)
            self.position = end
            return
        self.emit(kind, text[start:end], start, end)
        self.position = end

    def follows_function(self) -> bool:
        """Whether the tokens so far end in a function name with optional scripts: ``\\log``, ``\\log_2^{3}``."""
        tokens = self.tokens
        index = len(tokens) - 1
        for _ in range(2):
            if index < 0:
                return False
            if tokens[index].type in ("FUNC", "WIDEFUNC"):
                return True
            # Step back over one script: a single token or a braced group, after `_` or `^`.
            if tokens[index].type == "RCURLY":
                depth = 0
                while index >= 0:
                    kind = tokens[index].type
                    depth += kind == "RCURLY"
                    depth -= kind == "LCURLY"
                    index -= 1
                    if depth == 0:
                        break
            elif tokens[index].type in ("NAME", "NUMBER", "TOP", "PRIME"):
                index -= 1
            else:
                return False
            if index < 0 or tokens[index].type not in ("UNDERSCORE", "CARET"):
                return False
            index -= 1
        return index >= 0 and tokens[index].type in ("FUNC", "WIDEFUNC")

    def skip_annotation(self, script: str) -> None:
        """After ``\\underbrace{…}``, its note ``_{\\text{…}}`` is dropped."""
        position = self.skip_spaces(self.position)
        if position < len(self.text) and self.text[position] == script:
            group = self.read_group(position + 1)
            if group is not None:
                self.position = group[2]

    def font_switch_group(self, start: int) -> bool:
        """``{\\rm vec}`` and ``{\\bf x}``: a group whose first word switches the font."""
        inside = self.skip_spaces(start + 1)
        if not self.text.startswith("\\", inside):
            return False
        switch, switch_end = self.read_command(inside)
        if switch not in SWITCH_FONTS:
            return False
        group = self.read_group(start)
        if group is None:
            return False
        content = self.text[switch_end : group[2] - 1]
        self.name_with_font(content, SWITCH_FONTS[switch], start, group[2], switch_end)
        return True

    def pop(self) -> None:
        self.open.pop()
        self.open_starts.pop()

    def close(self, opener: str) -> None:
        """Close the innermost ``opener``; bars left open inside ``( … )`` were conditional bars."""
        if not any(kind == opener for kind, _ in self.open):
            return
        while self.open and self.open[-1][0] != opener:
            kind, index = self.open[-1]
            if kind == "|" and opener == "(" and index >= 0 and self.tokens[index].type == "LBAR":
                bar = self.tokens[index]
                self.tokens[index] = _token("MID", "|", bar.start_pos or 0, bar.end_pos or 0)
            self.pop()
        if self.open:
            self.pop()

    def bar(self, kind: str, start: int, end: int, side: str = "") -> None:
        """``|`` and ``‖`` open or close depending on what precedes them."""
        opener = "LBAR" if kind == "|" else "LNORM"
        closer = "RBAR" if kind == "|" else "RNORM"
        is_open = self.top() == kind
        evaluation = (
            kind == "|"
            and not is_open
            and side != "open"
            and self.previous_kind() in VALUE_END
            and self.next_character(end) == "_"
        )
        if not side:
            side = "close" if is_open and self.previous_kind() in VALUE_END else "open"
        if evaluation:
            # `\left. f \right|_{x=0}`: a bar that closes nothing, with a point under it.
            self.emit("EVALBAR", self.text[start:end], start, end)
        elif side == "open":
            self.push(kind, start, len(self.tokens))
            self.emit(opener, self.text[start:end], start, end)
        else:
            self.close(kind)
            self.emit(closer, self.text[start:end], start, end)
        self.position = end

    def unicode_scripts(self, start: int, table: dict[str, str], kind: str) -> None:
        """``xᵢⱼ`` is ``x_{ij}``, ``X⁻¹`` is ``X^{-1}``, ``x₁₂`` is ``x_{12}`` (digits make one number)."""
        text = self.text
        end = start
        while end < len(text) and text[end] in table:
            end += 1
        pieces: list[tuple[str, str, int, int]] = []
        index = start
        while index < end:
            value = table[text[index]]
            if value.isdigit():
                stop = index
                while stop < end and table[text[stop]].isdigit():
                    stop += 1
                digits = "".join(table[text[position]] for position in range(index, stop))
                pieces.append(("NUMBER", digits, index, stop))
                index = stop
                continue
            piece_kind = SCRIPT_PUNCTUATION.get(value, "NAME")
            pieces.append((piece_kind, value, index, index + 1))
            index += 1
        self.emit(kind, text[start], start, start + 1)
        if len(pieces) == 1 and pieces[0][0] in ("NUMBER", "NAME"):
            self.emit(*pieces[0])
        else:
            self.emit("LCURLY", "{", start, start + 1)
            for piece in pieces:
                self.emit(*piece)
            self.emit("RCURLY", "}", end - 1, end)
        self.position = end

    def after_caret(self) -> bool:
        """Right after ``^``, ``^{`` or ``^{-`` (where ``\\top`` in ``X^{-\\top}`` is a transpose mark)."""
        previous = self.previous_kind()
        kinds = [token.type for token in self.tokens[-3:]]
        return (
            previous == "CARET"
            or kinds[-2:] == ["CARET", "LCURLY"]
            or (kinds == ["CARET", "LCURLY", "MINUS"] and self.top() == "{")
        )

    def exponent_alone(self, end: int) -> bool:
        """Whether the character ending at ``end`` is a whole exponent: ``^+`` or ``^{+}``."""
        if self.previous_kind() == "CARET":
            return True
        kinds = [token.type for token in self.tokens[-2:]]
        return kinds == ["CARET", "LCURLY"] and self.text[self.skip_spaces(end) : self.skip_spaces(end) + 1] == "}"

    def transpose_mark(self, start: int, end: int, mark: str) -> None:
        self.emit("TOP" if self.after_caret() else "UTRANS", mark, start, end)
        self.position = end

    def name_with_font(self, content: str, font: str, start: int, end: int, content_start: int) -> None:
        """``\\mathbf{x}`` and friends: one NAME when the content is one symbol, else a group to scan."""
        stripped = content.strip()
        if len(stripped) == 1 and (stripped.isalpha() or stripped.isdigit()):
            kind = "NUMBER" if stripped.isdigit() else "NAME"
            if kind == "NAME" and stripped == "d" and font == "rm" and self.previous_kind() == "SLASH":
                kind = "DEN_D" if self.starts_name(end) else kind
            self.emit(kind, stripped, start, end)
            if kind == "NAME" or font in NUMBER_FONTS:
                self.fonts[len(self.tokens) - 1] = font
        elif stripped.startswith("\\") and stripped[1:] in GREEK:
            self.emit("NAME", stripped[1:], start, end)
            self.fonts[len(self.tokens) - 1] = font
        elif SPACING_IN_NAME.sub("", stripped).lower() in FUNCTIONS and font in ("rm", ""):
            self.function_token(FUNCTIONS[SPACING_IN_NAME.sub("", stripped).lower()], start, end)
        elif self.font_depth >= MAX_FONT_DEPTH:
            self.problems.append((start, end, f"fonts nested more than {MAX_FONT_DEPTH} deep"))
        else:
            # Scan the content in place: its characters keep their own offsets.
            inner = Scanner(content, self.font_depth + 1)
            result = inner.run()
            if result.problems:
                self.problems.extend(
                    (low + content_start, high + content_start, message) for low, high, message in result.problems
                )
            self.emit("LCURLY", "{", start, content_start)
            offset = len(self.tokens)
            for token in result.tokens:
                self.tokens.append(
                    _token(
                        token.type,
                        token.value,
                        token.start_pos + content_start,  # type: ignore[operator]
                        token.end_pos + content_start,  # type: ignore[operator]
                    )
                )
            for index in range(offset, len(self.tokens)):
                kind = self.tokens[index].type
                if kind == "NAME" or (kind == "NUMBER" and font in NUMBER_FONTS):
                    self.fonts[index] = _compose_fonts(font, inner.fonts.get(index - offset, ""))
            self.emit("RCURLY", "}", end - 1, end)
        self.position = end

    def command(self, start: int) -> None:
        name, end = self.read_command(start)
        text = self.text
        if name in SPACES:
            if name == " " and self.top() == "[":
                self.emit("ROWSEP", "\\ ", start, end)
            self.position = end
        elif name == "\\":
            self.emit("ROW_END", "\\\\", start, end)
            self.position = end
            # An optional spacing argument such as \\[2pt] belongs to the line break.
            after = self.skip_spaces(end)
            spacing = LINE_SPACING.match(text, after)
            if spacing is not None:
                self.position = spacing.end()
        elif name in ("|", "Vert"):
            self.bar("‖", start, end)
        elif name == "vert":
            if self.is_drawn_rule(end):
                self.emit("RULE", "|", start, end)
                self.position = end
            else:
                self.bar("|", start, end)
        elif name in ("{", "}"):
            kind = "LBRACE" if name == "{" else "RBRACE"
            if name == "{":
                self.push("\\{", start, len(self.tokens))
            else:
                self.close("\\{")
            self.emit(kind, text[start:end], start, end)
            self.position = end
        elif name in SIZED:
            self.sized_delimiter(name, start, end)
        elif name in SKIPPED:
            self.position = end
        elif name.rstrip("*") in SKIPPED_WITH_ARGUMENT:
            group = self.read_group(end)
            self.position = group[2] if group else end
        elif name in ("eqalign", "displaylines", "aligned", "eqalignno", "leqalignno", "gathered"):
            # `\eqalign{ a &= b \cr }`: its braces are transparent, so its rows split statements.
            if self.next_character(end) == "{":
                self.emit("TRANSPARENT_OPEN", "{*", start, end)
            self.position = end
        elif name in TRANSPARENT_ARGUMENT or name in ANNOTATED_ARGUMENT or name in ("textcolor", "colorbox"):
            self.transparent_argument(name, start, end)
        elif name in ("begin", "end"):
            self.environment(name, start, end)
        elif name in QUANTIFIERS:
            self.emit("QUANT", name, start, end)
            self.position = end
        elif name in SEPARATOR_COMMANDS and name not in TEXT_COMMANDS:
            kind = "QUAD" if name in ("quad", "qquad") else "SEP"
            self.emit(kind, name, start, end)
            self.position = end
        elif name in ("frac", "cfrac", "dfrac", "tfrac", "dfrac"):
            self.emit("FRAC", name, start, end)
            self.position = end
        elif name == "sqrt" and self.next_character(end) == "[":
            close = text.find("]", end)
            stop = close + 1 if close > 0 else end
            self.emit("UNKNOWN", text[start:stop], start, stop)
            self.position = stop
        elif name in GREEK:
            self.emit("NAME", name, start, end)
            self.position = end
        elif name in ("top", "intercal", "mathsf") and self._is_transpose(name, end):
            self.transpose_command(name, start, end)
        elif name in TEXT_COMMANDS:
            self.text_command(start, end)
        elif name in ("stackrel", "overset", "underset"):
            self.stacked(name, start, end)
        elif name in MATH_FONTS or name == "operatorname*":
            self.font_command(name, start, end)
        elif name in SWITCH_FONTS:
            self.position = end
        elif name == "not" and text.startswith("=", self.skip_spaces(end)):
            equals = self.skip_spaces(end)
            self.emit("NE", "\\not=", start, equals + 1)
            self.position = equals + 1
        elif name == "arg" and text.startswith(("\\min", "\\max"), self.skip_spaces(end)):
            word_start = self.skip_spaces(end)
            word, word_end = self.read_command(word_start)
            self.function_token("arg" + word, start, word_end)
            self.position = word_end
        elif name.lower() in FUNCTIONS and name not in ("vec",):
            self.function_token(FUNCTIONS[name.lower()], start, end)
            self.position = end
        elif name in ("ast", "star") and self.after_caret():
            self.emit("NAME", "ast", start, end)
            self.position = end
        elif name in SIMPLE_COMMANDS:
            self.simple_command(name, start, end)
        elif name in ("R", "Reals", "RR"):
            self.emit("NAME", "R", start, end)
            self.fonts[len(self.tokens) - 1] = "bb"
            self.position = end
        else:
            self.emit("UNKNOWN", text[start:end], start, end)
            self.position = end

    def simple_command(self, name: str, start: int, end: int) -> None:
        kind = SIMPLE_COMMANDS[name]
        self.position = end
        if kind in ("LBAR", "RBAR", "LNORM", "RNORM"):
            self.bar("|" if kind in ("LBAR", "RBAR") else "‖", start, end, "open" if kind[0] == "L" else "close")
            return
        if kind == "LBRACE":
            self.push("\\{", start, len(self.tokens))
        elif kind == "RBRACE":
            self.close("\\{")
        elif kind == "LANGLE":
            self.push("⟨", start, len(self.tokens))
        elif kind == "RANGLE":
            self.close("⟨")
        elif kind == "LPAR":
            self.push("(", start, len(self.tokens))
        elif kind == "RPAR":
            self.close("(")
        elif kind == "LSQB":
            self.push("[", start, len(self.tokens))
        elif kind == "RSQB":
            self.close("[")
        elif kind == "PARTIAL" and self.previous_kind() == "SLASH" and self.starts_name(end):
            kind = "DEN_D"
        elif kind == "MID" and self.is_drawn_rule(end):
            self.emit("RULE", "|", start, end)
            return
        self.emit(kind, name, start, end)

    def font_command(self, name: str, start: int, end: int) -> None:
        text = self.text
        group = self.read_group(end)
        if group is None:
            self.emit("UNKNOWN", text[start:end], start, end)
            self.position = end
            return
        content, content_start, group_end = group
        stripped = content.strip()
        if name in ("mathrm", "mathsf") and stripped in ("T", "\\top") and self.after_caret():
            self.emit("TOP", stripped, start, group_end)
            self.position = group_end
            return
        if name.startswith("operatorname"):
            word = SPACING_IN_NAME.sub("", stripped)
            if len(word) == 1 and word.isalpha():
                # `\operatorname{d}` is the upright d of a differential, not a function.
                self.name_with_font(word, "rm", start, group_end, content_start)
                return
            if word.lower() not in FUNCTIONS:
                self.function_token(word, start, group_end)
                self.position = group_end
                return
            self.function_token(FUNCTIONS[word.lower()], start, group_end)
            self.position = group_end
            return
        self.name_with_font(content, MATH_FONTS[name], start, group_end, content_start)

    def transparent_argument(self, name: str, start: int, end: int) -> None:
        """``\\boxed{x}`` is ``x``; ``\\underbrace{x}_{\\text{note}}`` is ``x``; ``\\textcolor{red}{x}`` too."""
        position = end
        if name in ("textcolor", "colorbox"):
            color = self.read_group(position)
            position = color[2] if color else position
        position = self.skip_spaces(position)
        if position < len(self.text) and self.text[position] == "{":
            kind = "{_" if ANNOTATED_ARGUMENT.get(name) == "_" else "{^" if name in ANNOTATED_ARGUMENT else "{*"
            self.push(kind, position)
            self.position = position + 1
            return
        self.position = position

    def _is_transpose(self, name: str, end: int) -> bool:
        if name in ("top", "intercal"):
            return True
        group = self.read_group(end)
        return group is not None and group[0].strip() == "T" and self.after_caret()

    def transpose_command(self, name: str, start: int, end: int) -> None:
        if name == "mathsf":
            group = self.read_group(end)
            end = group[2] if group else end
        self.transpose_mark(start, end, "\\" + name)

    def text_command(self, start: int, end: int) -> None:
        group = self.read_group(end)
        if group is None:
            self.position = end
            return
        content, _, group_end = group
        stripped = content.strip()
        if stripped in ("T", "\\top", "t") and self.after_caret():
            self.emit("TOP", stripped, start, group_end)
        elif stripped.lower() in FUNCTIONS:
            self.function_token(FUNCTIONS[stripped.lower()], start, group_end)
        elif len(stripped) == 1 and stripped.isalpha():
            self.emit("NAME", stripped, start, group_end)
            self.fonts[len(self.tokens) - 1] = "rm"
        elif stripped == "" or stripped in ",.;":
            pass
        else:
            self.emit("TEXT", content, start, group_end)
        self.position = group_end

    def stacked(self, name: str, start: int, end: int) -> None:
        """``\\stackrel{\\text{def}}{=}`` is a definition; ``\\underset{x}{\\arg\\min}`` is ``\\arg\\min``."""
        first = self.read_group(end)
        second = self.read_group(first[2]) if first else None
        if first is None or second is None:
            self.emit("UNKNOWN", self.text[start:end], start, end)
            self.position = end
            return
        remark, relation = first[0], second[0].strip()
        if relation == "=":
            is_definition = any(word in remark for word in ("def", "triangle", ":", "Delta"))
            self.emit("DEFEQ" if is_definition else "EQ", "=", start, second[2])
            self.position = second[2]
        elif self.text[second[1] - 1 : second[1]] == "{":
            # The base is scanned in place as a transparent group; the note on top of it is dropped.
            self.push("{*", second[1] - 1)
            self.position = second[1]
        else:
            self.position = second[1]

    def sized_delimiter(self, name: str, start: int, end: int) -> None:
        """``\\left(`` is ``(``; ``\\left.`` is nothing; ``\\big|`` decides open or close like ``|``."""
        text = self.text
        position = self.skip_spaces(end)
        if position >= len(text):
            self.position = end
            return
        side = ""
        if name in ("left", "bigl", "Bigl", "biggl", "Biggl"):
            side = "open"
        elif name in ("right", "bigr", "Bigr", "biggr", "Biggr"):
            side = "close"
        character = text[position]
        if character == ".":
            self.position = position + 1
        elif character in "<>":
            # `\left< x \right>` is an angle bracket, not a comparison.
            if character == "<":
                self.push("⟨", start, len(self.tokens))
            else:
                self.close("⟨")
            self.emit("LANGLE" if character == "<" else "RANGLE", character, start, position + 1)
            self.position = position + 1
        elif character == "|":
            self.bar("|", start, position + 1, side)
        elif character == "\\":
            delimiter, delimiter_end = self.read_command(position)
            if delimiter == "|" or delimiter in ("Vert", "lVert", "rVert"):
                self.bar("‖", start, delimiter_end, side)
            elif delimiter in ("vert", "lvert", "rvert"):
                self.bar("|", start, delimiter_end, side)
            elif delimiter in SIZED:
                # `\left\big(` is noise twice over; the main loop reads what follows.
                self.position = position
            else:
                # \left\{ \left\langle \left\lbrack and friends: scan the delimiter itself.
                count = len(self.tokens)
                self.position = position
                self.command(position)
                if len(self.tokens) > count:
                    self.tokens[-1].start_pos = start
        else:
            self.position = position
        # An ordinary delimiter such as ( or ] is scanned by the main loop on the next turn.

    def environment(self, name: str, start: int, end: int) -> None:
        group = self.read_group(end)
        if group is None:
            self.emit("UNKNOWN", self.text[start:end], start, end)
            self.position = end
            return
        environment, _, group_end = group
        environment = environment.strip()
        if environment in MATRIX_ENVIRONMENTS:
            if name == "begin":
                self.push("matrix", start, len(self.tokens))
                self.emit("MAT_BEGIN", environment, start, group_end)
                # Skip the column specification of an array, {cc|c}, and options such as bmatrix*'s [r].
                after = self.skip_spaces(group_end)
                if environment in ("array", "subarray"):
                    spec = self.read_group(group_end)
                    if spec is not None:
                        group_end = spec[2]
                elif environment.endswith("*") and self.text.startswith("[", after):
                    close = self.text.find("]", after)
                    if 0 < close - after < 12:
                        group_end = close + 1
            else:
                self.close("matrix")
                self.emit("MAT_END", environment, start, group_end)
        # aligned, split, gathered, equation, align... are transparent: their & and \\ split statements.
        self.position = group_end


# Commands whose starred form means the same to this scanner: `\tag*{..}`, `\operatorname*{arg\,min}`.
STARRED = {"tag", "operatorname", "hspace", "vspace"}
SIZED = {
    "left", "right", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr", "Biggl", "Biggr", "big", "Big", "bigg",
    "Bigg", "bigm", "Bigm", "biggm", "Biggm", "middle",
}  # fmt: skip


def scan(text: str) -> ScanResult:
    """Tokens for one math span; never raises. A name's font rides on its token value after a NUL."""
    scanner = Scanner(text)
    result = scanner.run()
    for index, token in enumerate(result.tokens):
        font = scanner.fonts.get(index)
        if font:
            token.value = f"{token.value}\x00{font}"
    return result
