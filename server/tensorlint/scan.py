"""The LaTeX math scanner: one span of math text in, a list of grammar tokens out.

LaTeX cannot be tokenized by a context-free lexer: whether ``|`` opens or closes, whether ``\\ `` is a space
or the separator of a row vector ``[a \\ b]``, whether ``\\text{T}`` is a transpose or a remark, and which
``(`` belongs to ``\\operatorname{tr}`` all depend on what came before. This scanner makes those decisions
with a little state, drops typographic noise (``\\left``, ``\\,``, ``\\displaystyle``, ``\\label{..}``), and
hands Lark clean tokens whose positions are offsets into the span text.
"""

from __future__ import annotations

from dataclasses import dataclass

from lark import Token

GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta", "iota",
    "kappa", "lambda", "mu", "nu", "xi", "pi", "varpi", "rho", "varrho", "sigma", "varsigma", "tau",
    "upsilon", "phi", "varphi", "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi",
    "Sigma", "Upsilon", "Phi", "Psi", "Omega", "ell", "infty", "hbar", "imath", "jmath",
}  # fmt: skip
UNICODE_GREEK = {
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "ζ": "zeta", "η": "eta",
    "θ": "theta", "ι": "iota", "κ": "kappa", "λ": "lambda", "μ": "mu", "ν": "nu", "ξ": "xi", "π": "pi",
    "ρ": "rho", "σ": "sigma", "τ": "tau", "φ": "phi", "ϕ": "phi", "χ": "chi", "ψ": "psi", "ω": "omega",
    "Γ": "Gamma", "Δ": "Delta", "Θ": "Theta", "Λ": "Lambda", "Σ": "Sigma", "Φ": "Phi", "Ψ": "Psi",
    "Ω": "Omega", "∞": "infty",
}  # fmt: skip
# Operator names that read as functions, keyed by how they are spelled (lowercased).
FUNCTIONS = {
    "tr": "tr", "trace": "tr", "det": "det", "log": "log", "ln": "log", "exp": "exp", "vec": "vec",
    "diag": "diag", "softmax": "softmax", "sigmoid": "sigmoid", "tanh": "tanh", "sin": "sin", "cos": "cos",
    "sign": "sign", "sgn": "sign", "relu": "relu", "rank": "rank", "max": "max", "min": "min",
    "logdet": "logdet", "adj": "adj", "sinh": "sinh", "cosh": "cosh",
}  # fmt: skip
MATH_FONTS = {
    "mathbf": "bf", "boldsymbol": "bf", "bm": "bf", "pmb": "bf", "textbf": "bf", "vec": "vec",
    "mathrm": "rm", "mathit": "", "mathsf": "sf", "mathbb": "bb", "Bbb": "bb", "mathcal": "cal",
    "mathfrak": "frak", "mathscr": "cal", "hat": "hat", "widehat": "hat", "bar": "bar", "overline": "bar",
    "tilde": "tilde", "widetilde": "tilde", "dot": "dot", "ddot": "ddot", "underline": "",
    "operatorname": "rm", "mathnormal": "", "mathtt": "tt", "check": "check",
}  # fmt: skip
TEXT_COMMANDS = {"text", "mbox", "textrm", "textit", "textnormal", "textsf", "texttt", "hbox", "textup"}
SWITCH_FONTS = {"rm": "rm", "bf": "bf", "it": "", "sf": "sf", "tt": "tt", "cal": "cal", "Bbb": "bb"}
SKIPPED = {
    "left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr", "Biggl",
    "Biggr", "bigm", "Bigm", "middle", "displaystyle", "textstyle", "scriptstyle", "limits", "nolimits",
    "nonumber", "notag", "begingroup", "endgroup", "mathstrut", "strut", "hfill", "qed", "noindent",
    "medspace", "thickspace", "thinspace", "enspace", "negthinspace", "nobreak", "allowbreak", "relax",
    "mathopen", "mathclose", "mathord", "mathrel", "mathbin", "mathop", "mathpunct", "mathinner",
}  # fmt: skip
SKIPPED_WITH_ARGUMENT = {
    "label",
    "tag",
    "hspace",
    "vspace",
    "phantom",
    "hphantom",
    "vphantom",
    "eqref",
    "ref",
}
SPACES = {",", ";", ":", "!", ">", " "}
TRANSPOSE_WORDS = {"T", "\\top", "\\intercal", "\\mathsf{T}", "\\mathrm{T}", "\\text{T}", "\\rm T", "t"}
SEPARATOR_COMMANDS = {
    "implies", "Rightarrow", "Longrightarrow", "iff", "Leftrightarrow", "Longleftrightarrow", "therefore",
    "because", "leftarrow", "Leftarrow", "longleftarrow", "Longleftarrow", "forall", "exists", "quad",
    "qquad", "text", "where", "impliedby", "land", "wedge", "lor", "vee",
}  # fmt: skip
SIMPLE_COMMANDS = {
    "partial": "PARTIAL", "nabla": "NABLA", "cdot": "CDOT", "times": "TIMES", "otimes": "OTIMES",
    "odot": "ODOT", "circ": "ODOT", "ast": "CDOT", "star": "CDOT", "bullet": "CDOT",
    "ne": "NE", "neq": "NE", "le": "LE", "leq": "LE", "leqslant": "LE", "ge": "GE", "geq": "GE",
    "geqslant": "GE", "approx": "APPROX", "simeq": "APPROX", "sim": "APPROX", "cong": "APPROX",
    "propto": "APPROX", "in": "IN", "to": "TO", "rightarrow": "TO", "mapsto": "TO", "longrightarrow": "TO",
    "coloneqq": "DEFEQ", "equiv": "DEFEQ", "triangleq": "DEFEQ", "doteq": "DEFEQ", "eqqcolon": "DEFEQ",
    "sum": "BIGOP", "prod": "BIGOP", "cdots": "DOTS", "dots": "DOTS", "ldots": "DOTS", "vdots": "DOTS",
    "ddots": "DOTS", "dotsb": "DOTS", "dotsm": "DOTS", "dotsc": "DOTS", "cr": "ROW_END", "crcr": "ROW_END",
    "langle": "LANGLE", "rangle": "RANGLE", "lvert": "LBAR", "rvert": "RBAR", "lVert": "LNORM",
    "rVert": "RNORM", "lbrace": "LBRACE", "rbrace": "RBRACE", "sqrt": "SQRT", "prime": "PRIME",
    "lbrack": "LSQB", "rbrack": "RSQB", "lparen": "LPAR", "rparen": "RPAR",
}  # fmt: skip
UNICODE_SIMPLE = {
    "∂": "PARTIAL", "∇": "NABLA", "⊗": "OTIMES", "⊙": "ODOT", "∘": "ODOT", "·": "CDOT", "⋅": "CDOT",
    "×": "TIMES", "∑": "BIGOP", "∏": "BIGOP", "∈": "IN", "≠": "NE", "≤": "LE", "≥": "GE", "≈": "APPROX",
    "→": "TO", "⟨": "LANGLE", "⟩": "RANGLE", "…": "DOTS", "⋯": "DOTS", "⋮": "DOTS", "⋱": "DOTS",
    "ᵀ": "UTRANS", "≔": "DEFEQ", "≡": "DEFEQ", "≜": "DEFEQ", "⇒": "SEP", "⟹": "SEP", "⇔": "SEP",
    "−": "MINUS", "∗": "CDOT",
}  # fmt: skip
UNICODE_SUBSCRIPTS = {
    "₀": "0", "₁": "1", "₂": "2", "₃": "3", "₄": "4", "₅": "5", "₆": "6", "₇": "7", "₈": "8", "₉": "9",
    "ₙ": "n", "ₘ": "m", "ᵢ": "i", "ⱼ": "j", "ₖ": "k", "ₗ": "l", "ₐ": "a", "ₑ": "e", "ₒ": "o", "ₓ": "x",
    "ₚ": "p", "ₛ": "s", "ₜ": "t", "ᵣ": "r", "ᵤ": "u", "ᵥ": "v", "ₕ": "h",
}  # fmt: skip
UNICODE_SUPERSCRIPTS = {"²": "2", "³": "3", "¹": "1", "⁴": "4", "ⁿ": "n"}
PUNCTUATION = {
    "+": "PLUS", "-": "MINUS", "=": "EQ", "<": "LT", ">": "GT", "(": "LPAR", ")": "RPAR", "[": "LSQB",
    "]": "RSQB", "{": "LCURLY", "}": "RCURLY", ",": "COMMA", ":": "COLON", "^": "CARET", "_": "UNDERSCORE",
    "'": "PRIME", "/": "SLASH", "&": "AMP", "*": "CDOT", ".": "PERIOD", ";": "SEMI", "!": "BANG",
}  # fmt: skip
# Tokens after which a ``|`` closes an open bar rather than opening a new one.
VALUE_END = {
    "NAME", "NUMBER", "RPAR", "RSQB", "RCURLY", "RBAR", "RNORM", "RBRACE", "RANGLE", "TOP", "PRIME", "UTRANS",
    "UINV", "DOTS", "MAT_END", "FUNC_NAME",
}  # fmt: skip
MATRIX_ENVIRONMENTS = {
    "bmatrix", "pmatrix", "matrix", "vmatrix", "Vmatrix", "Bmatrix", "smallmatrix", "array", "cases",
    "bmatrix*", "pmatrix*", "matrix*", "vmatrix*",
}  # fmt: skip
MAX_DEPTH = 200


@dataclass
class ScanResult:
    tokens: list[Token]
    problems: list[tuple[int, int, str]]


def _token(kind: str, value: str, start: int, end: int) -> Token:
    return Token(kind, value, start_pos=start, end_pos=end, line=1, column=start + 1)


class Scanner:
    """Turns one math span into tokens. Use :func:`scan`."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0
        self.tokens: list[Token] = []
        self.problems: list[tuple[int, int, str]] = []
        # Each entry is the kind of an open delimiter: "{", "{*" (a transparent brace such as \eqalign's),
        # "(", "[", "|", "‖", "⟨", "\\{", "matrix".
        self.open: list[str] = []
        # Font of the NAME token at each index, for \mathbf{x} and friends.
        self.fonts: dict[int, str] = {}

    # Small helpers -----------------------------------------------------------------------------------------

    def emit(self, kind: str, value: str, start: int, end: int) -> None:
        self.tokens.append(_token(kind, value, start, end))

    def previous_kind(self) -> str:
        return self.tokens[-1].type if self.tokens else ""

    def skip_spaces(self, position: int) -> int:
        text = self.text
        while position < len(text) and text[position] in " \t\r\n":
            position += 1
        return position

    def read_command(self, position: int) -> tuple[str, int]:
        """At a backslash: the command name (``cdot``, or one symbol such as ``{``) and the end offset."""
        text = self.text
        end = position + 1
        if end >= len(text):
            return "", end
        if text[end].isalpha():
            while end < len(text) and text[end].isalpha():
                end += 1
            return text[position + 1 : end], end
        return text[end], end + 1

    def read_group(self, position: int) -> tuple[str, int, int] | None:
        """A braced argument (or a single token) starting at ``position``: (content, content start, end)."""
        position = self.skip_spaces(position)
        text = self.text
        if position >= len(text):
            return None
        if text[position] == "{":
            depth = 0
            for index in range(position, min(len(text), position + 10_000)):
                character = text[index]
                if character == "\\":
                    continue
                if character == "{" and (index == 0 or text[index - 1] != "\\"):
                    depth += 1
                elif character == "}" and text[index - 1] != "\\":
                    depth -= 1
                    if depth == 0:
                        return text[position + 1 : index], position + 1, index + 1
            return None
        if text[position] == "\\":
            name, end = self.read_command(position)
            return "\\" + name, position, end
        return text[position], position, position + 1

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
            elif character.isalpha() and character.isascii():
                self.emit("NAME", character, start, start + 1)
                self.position += 1
            elif character.isdigit():
                self.number(start)
            elif character == "%":
                newline = text.find("\n", start)
                self.position = len(text) if newline < 0 else newline + 1
            elif character in PUNCTUATION:
                self.punctuation(character, start)
            elif character == "|":
                self.bar("|", start, start + 1)
            elif character == "‖":
                self.bar("‖", start, start + 1)
            elif character in UNICODE_GREEK:
                self.emit("NAME", UNICODE_GREEK[character], start, start + 1)
                self.position += 1
            elif character == "ℝ":
                self.emit("NAME", "R", start, start + 1)
                self.fonts[len(self.tokens) - 1] = "bb"
                self.position += 1
            elif character in UNICODE_SUBSCRIPTS:
                self.unicode_scripts(start, UNICODE_SUBSCRIPTS, "UNDERSCORE")
            elif character in UNICODE_SUPERSCRIPTS:
                self.unicode_scripts(start, UNICODE_SUPERSCRIPTS, "CARET")
            elif character == "⁻" and text.startswith("⁻¹", start):
                self.emit("UINV", "⁻¹", start, start + 2)
                self.position += 2
            elif character == "⊤":
                self.transpose_mark(start, start + 1, "⊤")
            elif character in UNICODE_SIMPLE:
                kind = UNICODE_SIMPLE[character]
                self.emit(kind, character, start, start + 1)
                self.position += 1
            elif character.isalpha():
                self.emit("NAME", character, start, start + 1)
                self.position += 1
            else:
                self.emit("UNKNOWN", character, start, start + 1)
                self.position += 1
            if len(self.open) > MAX_DEPTH:
                self.problems.append((start, len(text), f"brackets nested more than {MAX_DEPTH} deep"))
                break
        return ScanResult(self.tokens, self.problems)

    def number(self, start: int) -> None:
        text = self.text
        end = start + 1
        # After ``_`` or ``^`` without braces, TeX takes a single digit: ``W_31`` is ``W_3`` times 1.
        if self.previous_kind() not in ("UNDERSCORE", "CARET"):
            while end < len(text) and text[end].isdigit():
                end += 1
            if end + 1 < len(text) and text[end] == "." and text[end + 1].isdigit():
                end += 1
                while end < len(text) and text[end].isdigit():
                    end += 1
        self.emit("NUMBER", text[start:end], start, end)
        self.position = end

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
            transparent = self.previous_kind() == "TRANSPARENT_OPEN"
            if transparent:
                self.tokens.pop()
            self.open.append("{*" if transparent else "{")
            if transparent:
                self.position = end
                return
        elif character == "}":
            if self.open and self.open[-1] == "{*":
                self.open.pop()
                self.position = end
                return
            self.close("{")
        elif character in "([":
            self.open.append(character)
            if character == "(" and self.previous_kind() == "FUNC":
                kind = "FLPAR"
        elif character in ")]":
            self.close("(" if character == ")" else "[")
        elif character == "'" and self.previous_kind() == "CARET":
            kind = "PRIME"
        self.emit(kind, text[start:end], start, end)
        self.position = end

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

    def close(self, opener: str) -> None:
        if opener in self.open:
            while self.open and self.open[-1] != opener:
                self.open.pop()
            if self.open:
                self.open.pop()

    def bar(self, kind: str, start: int, end: int, side: str = "") -> None:
        """``|`` and ``‖`` open or close depending on what precedes them."""
        opener = "LBAR" if kind == "|" else "LNORM"
        closer = "RBAR" if kind == "|" else "RNORM"
        if not side:
            is_open = bool(self.open) and self.open[-1] == kind
            side = "close" if is_open and self.previous_kind() in VALUE_END else "open"
        if side == "open":
            self.open.append(kind)
            self.emit(opener, self.text[start:end], start, end)
        else:
            self.close(kind)
            self.emit(closer, self.text[start:end], start, end)
        self.position = end

    def unicode_scripts(self, start: int, table: dict[str, str], kind: str) -> None:
        text = self.text
        end = start
        while end < len(text) and text[end] in table:
            end += 1
        self.emit(kind, text[start], start, start + 1)
        if end - start == 1:
            value = table[text[start]]
            self.emit("NUMBER" if value.isdigit() else "NAME", value, start, end)
        else:
            self.emit("LCURLY", "{", start, start + 1)
            for index in range(start, end):
                value = table[text[index]]
                self.emit("NUMBER" if value.isdigit() else "NAME", value, index, index + 1)
            self.emit("RCURLY", "}", end - 1, end)
        self.position = end

    def transpose_mark(self, start: int, end: int, mark: str) -> None:
        if self.previous_kind() == "CARET" or (
            self.previous_kind() == "LCURLY" and len(self.tokens) > 1 and self.tokens[-2].type == "CARET"
        ):
            self.emit("TOP", mark, start, end)
        else:
            self.emit("UTRANS", mark, start, end)
        self.position = end

    def name_with_font(self, content: str, font: str, start: int, end: int, content_start: int) -> None:
        """``\\mathbf{x}`` and friends: one NAME when the content is one symbol, else a group to scan."""
        stripped = content.strip()
        if len(stripped) == 1 and (stripped.isalpha() or stripped.isdigit()):
            self.emit("NUMBER" if stripped.isdigit() else "NAME", stripped, start, end)
            self.fonts[len(self.tokens) - 1] = font
        elif stripped.startswith("\\") and stripped[1:] in GREEK:
            self.emit("NAME", stripped[1:], start, end)
            self.fonts[len(self.tokens) - 1] = font
        elif stripped.lower() in FUNCTIONS and font in ("rm", ""):
            self.emit("FUNC", FUNCTIONS[stripped.lower()], start, end)
        elif stripped == "d" or stripped == "D":
            self.emit("NAME", stripped, start, end)
            self.fonts[len(self.tokens) - 1] = "rm"
        else:
            # Scan the content in place: its characters keep their own offsets.
            inner = Scanner(content)
            result = inner.run()
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
            for index, inner_font in inner.fonts.items():
                self.fonts[offset + index] = inner_font or font
            for index in range(offset, len(self.tokens)):
                if self.tokens[index].type == "NAME" and index not in self.fonts:
                    self.fonts[index] = font
            self.emit("RCURLY", "}", end - 1, end)
        self.position = end

    def command(self, start: int) -> None:
        name, end = self.read_command(start)
        text = self.text
        if name in SPACES:
            if name == " " and self.open and self.open[-1] == "[":
                self.emit("ROWSEP", "\\ ", start, end)
            self.position = end
        elif name == "\\":
            self.emit("ROW_END", "\\\\", start, end)
            self.position = end
            # An optional spacing argument such as \\[2pt] belongs to the line break.
            after = self.skip_spaces(end)
            if text.startswith("[", after):
                close = text.find("]", after)
                if 0 < close - after < 12 and any(
                    unit in text[after:close] for unit in ("pt", "em", "ex", "mm")
                ):
                    self.position = close + 1
        elif name in ("|", "Vert"):
            self.bar("‖", start, end)
        elif name == "vert":
            self.bar("|", start, end)
        elif name in ("{", "}"):
            kind = "LBRACE" if name == "{" else "RBRACE"
            if name == "{":
                self.open.append("\\{")
            else:
                self.close("\\{")
            self.emit(kind, text[start:end], start, end)
            self.position = end
        elif name in ("left", "right", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr", "big", "Big"):
            self.sized_delimiter(name, start, end)
        elif name in SKIPPED:
            self.position = end
        elif name in SKIPPED_WITH_ARGUMENT:
            group = self.read_group(end)
            self.position = group[2] if group else end
        elif name == "eqalign" or name == "displaylines" or name == "aligned":
            self.emit("TRANSPARENT_OPEN", "", start, end)
            self.position = end
        elif name in ("begin", "end"):
            self.environment(name, start, end)
        elif name in SEPARATOR_COMMANDS and name not in TEXT_COMMANDS:
            kind = "QUAD" if name in ("quad", "qquad") else "SEP"
            self.emit(kind, name, start, end)
            self.position = end
        elif name in ("frac", "cfrac", "dfrac", "tfrac"):
            self.emit("FRAC", name, start, end)
            self.position = end
        elif name in GREEK:
            self.emit("NAME", name, start, end)
            self.position = end
        elif name in ("top", "intercal", "mathsf") and self._is_transpose(name, end):
            self.transpose_command(name, start, end)
        elif name in TEXT_COMMANDS:
            self.text_command(start, end)
        elif name in ("stackrel", "overset", "underset"):
            self.stacked_relation(start, end)
        elif name in MATH_FONTS:
            group = self.read_group(end)
            if group is None:
                self.emit("UNKNOWN", text[start:end], start, end)
                self.position = end
                return
            content, content_start, group_end = group
            if name in ("mathrm", "mathsf") and content.strip() in ("T", "\\top") and self._after_caret():
                self.emit("TOP", content.strip(), start, group_end)
                self.position = group_end
                return
            if name == "operatorname" and content.strip().lower() not in FUNCTIONS:
                stripped = content.strip()
                self.emit("FUNC", stripped, start, group_end)
                self.position = group_end
                return
            self.name_with_font(content, MATH_FONTS[name], start, group_end, content_start)
        elif name in SWITCH_FONTS:
            self.position = end
        elif name == "not" and text.startswith("=", self.skip_spaces(end)):
            equals = self.skip_spaces(end)
            self.emit("NE", "\\not=", start, equals + 1)
            self.position = equals + 1
        elif name.lower() in FUNCTIONS and name not in ("vec",):
            self.emit("FUNC", FUNCTIONS[name.lower()], start, end)
            self.position = end
        elif name in SIMPLE_COMMANDS:
            kind = SIMPLE_COMMANDS[name]
            if kind == "LBAR":
                self.bar("|", start, end, "open")
                return
            if kind == "RBAR":
                self.bar("|", start, end, "close")
                return
            if kind == "LNORM":
                self.bar("‖", start, end, "open")
                return
            if kind == "RNORM":
                self.bar("‖", start, end, "close")
                return
            if kind == "LBRACE":
                self.open.append("\\{")
            elif kind == "RBRACE":
                self.close("\\{")
            elif kind == "LANGLE":
                self.open.append("⟨")
            elif kind == "RANGLE":
                self.close("⟨")
            elif kind == "PRIME" and self.previous_kind() != "CARET":
                kind = "PRIME"
            self.emit(kind, name, start, end)
            self.position = end
        elif name in ("R", "Reals", "RR"):
            self.emit("NAME", "R", start, end)
            self.fonts[len(self.tokens) - 1] = "bb"
            self.position = end
        else:
            self.emit("UNKNOWN", text[start:end], start, end)
            self.position = end

    def _after_caret(self) -> bool:
        previous = self.previous_kind()
        return previous == "CARET" or (
            previous == "LCURLY" and len(self.tokens) > 1 and self.tokens[-2].type == "CARET"
        )

    def _is_transpose(self, name: str, end: int) -> bool:
        if name in ("top", "intercal"):
            return True
        group = self.read_group(end)
        return group is not None and group[0].strip() == "T" and self._after_caret()

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
        if stripped in ("T", "\\top", "t") and self._after_caret():
            self.emit("TOP", stripped, start, group_end)
        elif stripped.lower() in FUNCTIONS:
            self.emit("FUNC", FUNCTIONS[stripped.lower()], start, group_end)
        elif len(stripped) == 1 and stripped.isalpha():
            self.emit("NAME", stripped, start, group_end)
            self.fonts[len(self.tokens) - 1] = "rm"
        elif stripped == "" or stripped in ",.;":
            pass
        else:
            self.emit("TEXT", content, start, group_end)
        self.position = group_end

    def stacked_relation(self, start: int, end: int) -> None:
        """``\\stackrel{\\text{def}}{=}`` and ``\\overset{!}{=}``: a relation with a remark on top."""
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
        else:
            self.emit("UNKNOWN", self.text[start : second[2]], start, second[2])
        self.position = second[2]

    def sized_delimiter(self, name: str, start: int, end: int) -> None:
        """``\\left(`` is ``(``; ``\\left.`` is nothing; ``\\big|`` decides open or close like ``|``."""
        text = self.text
        position = self.skip_spaces(end)
        if position >= len(text):
            self.position = end
            return
        side = "open" if name in ("left", "bigl", "Bigl", "biggl") else "close" if name != "big" else ""
        if name in ("big", "Big"):
            side = ""
        character = text[position]
        if character == ".":
            self.position = position + 1
        elif character == "|":
            self.bar("|", start, position + 1, side)
        elif character == "\\":
            delimiter, delimiter_end = self.read_command(position)
            if delimiter == "|" or delimiter in ("Vert", "lVert", "rVert"):
                self.bar("‖", start, delimiter_end, side)
            elif delimiter in ("vert", "lvert", "rvert"):
                self.bar("|", start, delimiter_end, side)
            else:
                # \left\{ \left\langle \left\lbrack and friends: scan the delimiter itself.
                self.position = position
                self.command(position)
                if self.tokens:
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
                self.open.append("matrix")
                self.emit("MAT_BEGIN", environment, start, group_end)
                if environment == "array":
                    # Skip the column specification, e.g. {cc|c}.
                    spec = self.read_group(group_end)
                    if spec is not None:
                        group_end = spec[2]
            else:
                self.close("matrix")
                self.emit("MAT_END", environment, start, group_end)
        # aligned, split, gathered, equation, align... are transparent: their & and \\ split statements.
        self.position = group_end


def scan(text: str) -> ScanResult:
    """Tokens for one math span; never raises. Fonts are attached as ``token.font``-style side data."""
    scanner = Scanner(text)
    result = scanner.run()
    for index, token in enumerate(result.tokens):
        font = scanner.fonts.get(index)
        if font:
            token.value = f"{token.value}\x00{font}"
    return result
