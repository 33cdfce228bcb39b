"""The prose reader: what a note states in words, with negation and scope.

Notes declare shapes, structures, conventions and meanings in words as often as in symbols ("let $W$ be a
$n\\times m$ matrix", "$A$ is real symmetric", "we use numerator layout", "$\\otimes$ denotes element-wise
multiplication"), and they hedge them ("non-symmetric", "if $A$ is symmetric, then", "plugging in $x = 1$").
Prose arrives as one paragraph with each math span replaced by ``$k$`` (k indexes ``Document.spans``).

The reader works as NegEx/ConText do in clinical text, in four steps:

1. **Tokens.** Words, math placeholders, bare names (``\\vec{x}``, one letter), punctuation and sentence ends;
   Chinese runs are cut into the longest words the vocabulary knows.
2. **Concepts.** Runs of words that the vocabulary (``grammar/prose-vocabulary.toml``, data, per language)
   knows become one concept token: ``positive definite`` → a structure, ``column vector`` → a head noun,
   ``not`` → a negation trigger, ``if`` → a hypothesis trigger, ``Hessian formulation`` → a layout.
3. **Scopes.** Each trigger governs the tokens after it up to the end of its clause (a comma, a semicolon,
   "but", "then", "则"), or only the next concept for a prefix such as "non-"; standing assumptions
   ("assume", "suppose") reach the end of the sentence.
4. **Readers.** Small token patterns read declarations (subject + copula + descriptor, descriptor + names,
   apposition, names + structure), dependences, operator meanings, conventions, hypotheses, equations to
   solve and algorithm steps. A fact whose predicate lies in a negation scope is ``negated``; one in the
   scope of a conditional ("if", "for", "given", a case or an evaluation point) holds for its ``sentence``
   only; "in this section" makes a fact hold for the ``section``.

The reader never raises, costs well under a millisecond per paragraph, and caches what it read.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 reads TOML with the tomli backport.
    import tomli as tomllib


@dataclass(frozen=True)
class ProseFact:
    """One thing prose said (kinds and values: ARCHITECTURE.md, "Prose facts").

    ``name`` is the subject as written in the prose: ``$k$`` for a math span or a bare name such as ``W`` or
    ``\\vec{x}``; ``rows``, ``columns`` and ``value`` carry the span's text when the caller passed the span
    texts, else the placeholder. Offsets are into the prose text."""

    kind: str
    name: str = ""
    rows: str = ""
    columns: str = ""
    value: str = ""
    offset: int = 0
    end: int = 0
    negated: bool = False
    spans: tuple[int, ...] = ()
    scope: str = "document"


SpanTexts = Sequence[str] | Mapping[int, str] | None

# Vocabulary =================================================================================================

# Tables whose phrases become concept tokens, in the order they win when one phrase is in two tables.
CONCEPT_TABLES = (
    "layout", "einstein", "depends", "operator", "operator_word", "structure", "head", "section", "solve",
    "redefine", "commute", "copula", "has", "negation", "hypothesis", "terminator", "algorithm", "layout_word",
    "layout_value", "follow", "size_word", "conjunction", "article",
)  # fmt: skip
# Hypothesis cues whose facts hold for their sentence (and the display it introduces) only.
SENTENCE_CUES = {"if", "for", "given", "case", "evaluation"}
# Words allowed between a copula and what it states: "$A$ is assumed symmetric", "$B$ is also diagonal".
FILLER = {
    "also", "always", "assumed", "further", "itself", "again", "then", "now", "here", "clearly", "obviously",
    "known", "required", "supposed", "generally", "just", "still", "usually", "often", "typically", "both",
    "all", "that", "to", "be", "taken", "chosen", "defined", "as", "either", "likewise", "too", "each", "does",
    "do", "did", "can", "cannot", "may", "might", "will", "would", "must", "should",
}  # fmt: skip
# Operators whose meaning prose may give, as they appear in a span's LaTeX: the first found names the span.
OPERATOR_SIGNS = (
    ("\\otimes", "\\otimes"), ("⊗", "\\otimes"), ("\\odot", "\\odot"), ("⊙", "\\odot"), ("\\circ", "\\circ"),
    ("∘", "\\circ"), ("\\ast", "\\ast"), ("\\star", "\\star"), ("\\cdot", "\\cdot"), ("\\times", "\\times"),
    ("\\|", "\\|"), ("‖", "\\|"), ("|", "|"), ("\\prime", "'"), ("'", "'"), ("\\sigma", "\\sigma"),
    ("\\sinh", "\\sinh"), ("\\sin", "\\sin"), ("\\cos", "\\cos"), ("\\tanh", "\\tanh"), ("\\exp", "\\exp"),
    ("\\log", "\\log"), ("\\ln", "\\ln"), ("\\sqrt", "\\sqrt"), ("\\phi", "\\phi"), ("\\varphi", "\\varphi"),
)  # fmt: skip
# Which meanings fit which operator: a phrase that gives \otimes the meaning "relu" is not about \otimes.
MEANINGS_OF = {
    "product": {"hadamard", "kronecker", "dot", "matrix-product", "composition", "elementwise"},
    "'": {"transpose", "derivative"},
    "|": {"count", "determinant", "abs", "norm"},
    "\\|": {"norm", "abs", "count"},
    "function": {"relu", "sigmoid", "tanh", "softmax", "unknown", "matrix-function", "elementwise"},
}
PRODUCT_SIGNS = {"\\otimes", "\\odot", "\\circ", "\\ast", "\\star", "\\cdot", "\\times"}
RELATION = re.compile(r"=|\\neq?\b|\\leq?\b|\\geq?\b|\\l[el]\b|\\g[eg]\b|\\succ|\\prec|[<>≤≥≠]|\\equiv|\\approx")
NAME_TEXT = (
    r"(?:\\(?:mathbf|boldsymbol|bm|vec|mathrm|mathit|textbf)\{\s*[A-Za-z]\s*\}|\\?[A-Za-z]+)(?:_\{?[\w']+\}?|')?"
)
# Sizes are plain letters ("$n > d$", "$d' \\ll d$"), never bold vectors.
SIZE_TEXT = r"[A-Za-z](?:_\{?\w+\}?|')?"
DIM_ORDER = re.compile(rf"^\s*({SIZE_TEXT})\s*(>=|<=|\\geq?|\\leq?|\\gg|\\ll|>|<|≥|≤)\s*({SIZE_TEXT})\s*$")
COMMUTING = re.compile(rf"^\s*({NAME_TEXT})\s*({NAME_TEXT})\s*=\s*({NAME_TEXT})\s*({NAME_TEXT})\s*$")
SELF_UPDATE = re.compile(r"^\s*([A-Za-z](?:_\{?\w+\}?)?)\s*(?:=|:=|\\leftarrow|\\gets)\s*\1\s*[+-]")
IN = re.compile(r"\\in(?![A-Za-z])|∈")
ASSIGNMENT = re.compile(r"\\leftarrow|\\gets|:=|←")
ZERO_TEXT = re.compile(r"^\s*(?:\\(?:mathbf|boldsymbol|bm|vec)\{\s*0\s*\}|0)\s*$")
ZERO_EQUATION = re.compile(r"=\s*(?:\\(?:mathbf|boldsymbol|bm|vec)\{\s*0\s*\}|0)\s*$")


@dataclass
class Vocabulary:
    """The phrases of every table: English by word tuples, Chinese by strings; and the size-context words."""

    english: dict[tuple[str, ...], tuple[str, str]] = field(default_factory=dict)
    chinese: dict[str, tuple[str, str]] = field(default_factory=dict)
    size_context: set[str] = field(default_factory=set)
    longest_english: int = 1
    longest_chinese: int = 1


def vocabulary_path() -> Path:
    """The vocabulary: inside the wheel next to the math grammar, or ``grammar/`` in a source checkout."""
    packaged = Path(__file__).with_name("grammar") / "prose-vocabulary.toml"
    if packaged.exists():
        return packaged
    return Path(__file__).resolve().parents[2] / "grammar" / "prose-vocabulary.toml"


@lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    found = Vocabulary()
    try:
        tables = tomllib.loads(vocabulary_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):  # pragma: no cover - a broken installation reads no prose, it never fails.
        return found
    for language, into in (("zh", found.chinese), ("en", found.english)):
        for kind in reversed(CONCEPT_TABLES):  # the first table wins: written last
            for phrase, value in tables.get(language, {}).get(kind, {}).items():
                key: object = phrase if language == "zh" else tuple(_words(phrase))
                into[key] = (kind, str(value))  # type: ignore[index]
        found.size_context |= {" ".join(_words(phrase)) for phrase in tables.get(language, {}).get("size_context", {})}
    found.longest_english = max((len(key) for key in found.english), default=1)
    found.longest_chinese = max((len(key) for key in found.chinese), default=1)
    return found


def _words(phrase: str) -> list[str]:
    return [word for word, _, _ in _split_words(phrase.lower(), 0)]


# Tokens =====================================================================================================


@dataclass
class Token:
    """One token of a sentence. ``kind`` is math, name, word, punct, or a concept table's name."""

    kind: str
    value: str
    start: int
    end: int
    index: int = -1  # the span number of a math placeholder
    written: str = ""  # the word as written, for bare names ("W")


TOKEN = re.compile(
    r"(?P<math>\$(?P<number>\d+)\$)"
    r"|(?P<latex>\\(?:vec|mathbf|textbf|boldsymbol|bm|mathrm|mathit)\{[A-Za-z]\}|\\[A-Za-z]+)"
    r"|(?P<abbr>(?i:s\.t\.|e\.g\.|i\.e\.|cf\.|etc\.|resp\.|vs\.|w\.r\.t\.|wrt\.|eqs?\.|figs?\.|sec\.|ch\.))"
    r"|(?P<word>[A-Za-z][A-Za-z']*|\d+(?:\.\d+)?)"
    r"|(?P<cjk>[\u3400-\u4dbf\u4e00-\u9fff]+)"
    r"|(?P<stop>[.?!](?=\s|$|[\"')\]*_])|[。？！]|\n[ \t>]*\n)"
    r"|(?P<punct>[,;:()\[\]=，；：、（）])"
)
# Tokens read as one sentence at most (longer runs without a full stop are tables or lists, read in pieces).
MAX_SENTENCE = 200
CLAUSE_PUNCT = {",", ";", ":", "(", ")", "[", "]", "，", "；", "："}


def _split_words(text: str, base: int) -> list[tuple[str, int, int]]:
    """Words of a plain phrase with contractions opened: ``doesn't`` → ``does``, ``not``."""
    found: list[tuple[str, int, int]] = []
    for match in re.finditer(r"s\.t\.|[A-Za-z][A-Za-z']*|\d+(?:\.\d+)?|[\u3400-\u9fff]+", text):
        word = match.group().lower()
        start = base + match.start()
        if word.endswith("n't"):
            stem = {"can't": "can", "won't": "will"}.get(word, word[:-3])
            found.extend(((stem, start, start + len(stem)), ("not", start + len(stem), base + match.end())))
        else:
            word = word.removesuffix("'s").strip("'")
            found.append((word, start, base + match.end()))
    return found


def tokenize(text: str) -> list[list[Token]]:
    """The sentences of a prose text as lists of raw tokens (math, name, word, cjk, punct)."""
    sentences: list[list[Token]] = [[]]
    for match in TOKEN.finditer(text):
        group, start, end = match.lastgroup, match.start(), match.end()
        current = sentences[-1]
        if group == "math":
            current.append(Token("math", match.group(), start, end, int(match.group("number"))))
        elif group == "latex":
            # \vec{x} names a variable; \alpha in prose is a Greek name too.
            current.append(Token("name", match.group(), start, end))
        elif group == "abbr":
            word = match.group().lower()
            current.append(Token("word", "s.t." if word == "s.t." else word.rstrip("."), start, end))
        elif group == "word":
            for word, word_start, word_end in _split_words(match.group(), start):
                current.append(Token("word", word, word_start, word_end, written=text[word_start:word_end]))
        elif group == "cjk":
            current.append(Token("cjk", match.group(), start, end))
        elif group == "stop":
            if current:
                sentences.append([])
        else:
            current.append(Token("punct", match.group(), start, end))
    return [sentence for sentence in sentences if sentence]


def concepts(raw: list[Token]) -> list[Token]:
    """Raw tokens → concept tokens by the longest phrase of the vocabulary; names for bare letters."""
    words = vocabulary()
    out: list[Token] = []
    position = 0
    while position < len(raw):
        token = raw[position]
        if token.kind == "cjk":
            out.extend(_chinese(token, words))
            position += 1
            continue
        if token.kind != "word":
            out.append(token)
            position += 1
            continue
        matched = 0
        for length in range(min(words.longest_english, len(raw) - position), 0, -1):
            run = raw[position : position + length]
            if any(piece.kind != "word" for piece in run):
                continue
            found = words.english.get(tuple(piece.value for piece in run))
            if found is not None:
                out.append(Token(found[0], found[1], token.start, run[-1].end))
                matched = length
                break
        if matched:
            position += matched
            continue
        out.extend(_word(token, words, position == 0 and position + 1 < len(raw) and raw[1].kind == "word"))
        position += 1
    return out


def _word(token: Token, words: Vocabulary, first: bool) -> list[Token]:
    value = token.value
    if value.startswith("non") and len(value) > 4:
        rest = words.english.get((value[3:],))
        if rest is not None and rest[0] == "structure":
            middle = token.start + 3
            return [Token("negation", "word", token.start, middle), Token(rest[0], rest[1], middle, token.end)]
    if len(value) == 1 and value.isalpha() and value not in ("a", "i") and not (first and token.written == "A"):
        return [Token("name", token.written or value, token.start, token.end)]
    return [token]


def _chinese(token: Token, words: Vocabulary) -> list[Token]:
    """A run of Chinese characters cut into the longest vocabulary words, other characters one by one."""
    out: list[Token] = []
    text, position = token.value, 0
    while position < len(text):
        for length in range(min(words.longest_chinese, len(text) - position), 0, -1):
            found = words.chinese.get(text[position : position + length])
            if found is not None:
                start = token.start + position
                out.append(Token(found[0], found[1], start, start + length))
                position += length
                break
        else:
            start = token.start + position
            out.append(Token("word", text[position], start, start + 1))
            position += 1
    return out


# Reading ====================================================================================================


@dataclass
class Size:
    """What a descriptor says about size: a span such as ``n\\times m``, rows and columns, a length."""

    span: str = ""
    rows: str = ""
    columns: str = ""
    length: str = ""
    square: bool = False

    def empty(self) -> bool:
        return not (self.span or self.rows or self.length)


@dataclass
class Descriptor:
    """What a name is said to be: structures (with where each was said), a head noun, a size."""

    structures: list[tuple[str, int]] = field(default_factory=list)
    head: str = ""
    head_at: int = -1
    size: Size = field(default_factory=Size)
    size_at: int = -1
    end: int = 0  # token index just past the descriptor

    def says_something(self) -> bool:
        return bool(self.structures or self.head or not self.size.empty())


class Sentence:
    """One sentence being read: its tokens, the scopes of its triggers, and the facts found so far."""

    def __init__(self, tokens: list[Token], spans: SpanTexts, text: str) -> None:
        self.tokens = tokens
        self.spans = spans
        self.text = text
        self.facts: list[ProseFact] = []
        # Per token index: negated?, the hypothesis cue governing it.
        self.negated = [False] * len(tokens)
        self.cue: list[str] = [""] * len(tokens)
        self.section = any(token.kind == "section" for token in tokens)
        self.words = " " + " ".join(token.value for token in tokens if token.kind != "math") + " "

    # Helpers ----------------------------------------------------------------------------------------------

    def kind(self, at: int) -> str:
        return self.tokens[at].kind if 0 <= at < len(self.tokens) else ""

    def value(self, at: int) -> str:
        return self.tokens[at].value if 0 <= at < len(self.tokens) else ""

    def span_text(self, token: Token) -> str | None:
        """The LaTeX of a math token's span, when the caller gave the span texts."""
        if token.kind != "math" or self.spans is None:
            return None
        try:
            return self.spans[token.index] or None
        except (IndexError, KeyError):
            return None

    def written(self, token: Token) -> str:
        """How a size or a value is reported: the span's text when known, else the token as written."""
        text = self.span_text(token)
        return text.strip() if text is not None else token.value

    def is_name(self, at: int) -> bool:
        kind = self.kind(at)
        if kind == "name":
            return True
        if kind != "math":
            return False
        text = self.span_text(self.tokens[at])
        # "$A = ba^T$" and "$n\times m$" are not names; "$X \in \mathbb{R}^{n\times n}$" names X.
        if text is None:
            return True
        return IN.search(text) is not None or (RELATION.search(text) is None and not _product(text))

    def clause_end(self, at: int, sentence_wide: bool = False, strict: bool = False, negation: bool = False) -> int:
        """Index just past the clause that starts at ``at``; a comma between two names does not end it
        (unless ``strict``). A ``negation`` ends where a hypothesis begins ("not symmetric if …")."""
        for index in range(at, len(self.tokens)):
            token = self.tokens[index]
            if token.kind == "terminator" and index > at:
                return index
            if negation and token.kind == "hypothesis" and index > at and self.trigger(index):
                return index
            if sentence_wide:
                continue
            if token.kind == "punct" and token.value in CLAUSE_PUNCT:
                between_names = (
                    not strict and token.value in (",", "，") and self.is_name(index - 1) and self.is_name(index + 1)
                )
                if not between_names:
                    return index
        return len(self.tokens)

    def add(self, kind: str, first: int, last: int, predicate: int, **fields: object) -> None:
        """A fact read from tokens ``first..last``; its negation and scope come from where ``predicate`` is."""
        tokens = self.tokens
        negated = bool(fields.pop("negated", False)) or (0 <= predicate < len(tokens) and self.negated[predicate])
        cue = self.cue[predicate] if 0 <= predicate < len(tokens) else ""
        scope = "sentence" if cue in SENTENCE_CUES else "section" if self.section else "document"
        self.facts.append(
            ProseFact(
                kind,
                offset=tokens[first].start,
                end=tokens[min(last, len(tokens) - 1)].end,
                negated=negated,
                scope=scope,
                **fields,  # type: ignore[arg-type]
            )
        )

    # Scopes -----------------------------------------------------------------------------------------------

    def scopes(self) -> None:
        """Mark what each negation and hypothesis trigger governs (NegEx/ConText)."""
        tokens = self.tokens
        for at, token in enumerate(tokens):
            if token.kind == "negation":
                # "unlike $A$, $B$ is symmetric": a contrast ends at the first comma, even between names.
                contrast = token.value == "contrast"
                end = at + 2 if token.value == "word" else self.clause_end(at + 1, strict=contrast, negation=True)
                if contrast and self.value(end) in (",", "，") and self.raw(end + 1) == "which":
                    # "unlike the Cookbook, which uses denominator layout, we …": the relative clause too.
                    end = self.clause_end(end + 2, strict=True, negation=True)
                for index in range(at + 1, min(end, len(tokens))):
                    self.negated[index] = True
            cue = self.trigger(at)
            if cue:
                end = self.hypothesis_end(at, cue)
                for index in range(at + 1, end):
                    if not self.cue[index]:
                        self.cue[index] = cue

    def hypothesis_end(self, at: int, cue: str) -> int:
        """Where the scope of hypothesis trigger ``at`` ends: standing assumptions reach the end of the
        sentence; "for $j \\neq i$", "at $x = 1$" and "for symmetric $X$" govern only what they name; others
        reach the end of their clause."""
        word = self.text[self.tokens[at].start : self.tokens[at].end].lower()
        if word in ("for", "at"):
            if self.kind(at + 1) == "math":
                end = at + 1
                while self.kind(end) == "math" or (self.kind(end) == "conjunction" and self.kind(end + 1) == "math"):
                    end += 1
                return end
            found = self.descriptor(at + 1)
            return self.names(found.end)[1]
        return self.clause_end(at + 1, sentence_wide=cue in ("assume", "suppose"))

    def raw(self, at: int) -> str:
        """Token ``at`` as written, in lower case."""
        if not 0 <= at < len(self.tokens):
            return ""
        return self.text[self.tokens[at].start : self.tokens[at].end].lower()

    def trigger(self, at: int) -> str:
        """The hypothesis cue of token ``at``, if it is one here: "for" and "at" need math (or a structure)
        after them, "given" must open its clause ("a given matrix" is not a hypothesis)."""
        token = self.tokens[at]
        if token.kind == "has" and at == 0 and self.text[token.start : token.end].lower() == "with":
            return "given" if self.kind(at + 1) == "math" else ""  # "With $x \in \mathbb{R}^m$, I wrote:"
        if token.kind != "hypothesis":
            return ""
        cue = token.value
        after = self.kind(at + 1)
        if self.text[token.start : token.end].lower() == "for":
            following = [self.kind(index) for index in range(at + 1, min(at + 4, len(self.tokens)))]
            if after == "math" and self.relation(at + 1):
                return "for"
            described = [kind for kind in following if kind != "article"]
            if "structure" in following[:2] or (described and described[0] == "head"):
                return "for"  # "for symmetric $A$", "for a scalar $c$"
            return ""
        if self.text[token.start : token.end].lower() == "at":
            return "evaluation" if after == "math" and self.relation(at + 1) else ""
        if cue == "given" and at > 0 and self.kind(at - 1) not in ("punct", "terminator"):
            return ""
        if cue == "constraint" and at > 0 and self.value(at - 1) in ("a", "the") and after != "math":
            return ""
        return cue

    def relation(self, at: int, declarations: bool = False) -> bool:
        """Whether math token ``at`` is a relation (an equation, an inequality, with ``declarations`` also
        ``x \\in S``); unknown texts count."""
        token = self.tokens[at]
        if token.kind != "math":
            return False
        text = self.span_text(token)
        if text is None:
            return True
        return RELATION.search(text) is not None or (declarations and IN.search(text) is not None)

    # Names and descriptors --------------------------------------------------------------------------------

    def names(self, at: int) -> tuple[list[int], int]:
        """The names of a list starting at ``at`` ("$A$, $B$ and $C$", "$A$ (the covariance) and $B$"):
        their token indices and the index just past the list."""
        found: list[int] = []
        index = at
        while self.is_name(index):
            found.append(index)
            index += 1
            index = self.remark(index)
            same_scope = index + 1 < len(self.tokens) and self.negated[found[-1]] == self.negated[index + 1]
            if same_scope and (self.kind(index) == "conjunction" or self.value(index) in (",", "，", "、")):
                if self.is_name(index + 1):
                    index += 1
                    continue
                if self.kind(index) == "conjunction" and self.kind(index + 1) == "article" and self.is_name(index + 2):
                    index += 2
                    continue
            break
        return found, index

    def remark(self, at: int) -> int:
        """Skip a short parenthetical after a name: "$\\Sigma$ (the covariance)"."""
        if self.value(at) not in ("(", "（"):
            return at
        for index in range(at + 1, min(at + 10, len(self.tokens))):
            if self.value(index) in (")", "）"):
                return index + 1
        return at

    def descriptor(self, at: int, need_head: bool = False) -> Descriptor:
        """Read "a real symmetric $n\\times n$ matrix", "positive definite", "$n$-by-$n$", "an $n$-dimensional
        column vector", "实对称矩阵" from ``at``."""
        found = Descriptor()
        index, skipped = at, 0
        tokens = self.tokens
        while index < len(tokens):
            token = tokens[index]
            kind = token.kind
            if kind == "article" or (kind == "negation" and index > at) or (kind == "negation" and index == at):
                found.size.square |= token.value == "square"
                index += 1
                continue
            if kind == "structure":
                found.structures.append((token.value, index))
                index += 1
                continue
            if kind == "terminator" and token.value == "" and found.structures and self.kind(index + 1) == "negation":
                index += 1  # "symmetric but not positive definite"
                continue
            if kind == "conjunction" or token.value in (",", "，"):
                if self.kind(index + 1) in ("structure", "negation") and (found.structures or found.head):
                    index += 1
                    continue
                break
            if kind in ("math", "name") or (kind == "word" and token.value.isdigit()):
                step = self.size_before(index, found)
                if step:
                    index += step
                    continue
                break
            if kind == "head":
                found.head, found.head_at = token.value, index
                index += 1
                break
            if kind == "word" and skipped < 2 and (found.structures or found.size_at >= 0 or index > at):
                # "the $N\times D$ data matrix", "a symmetric weight matrix": nouns before the head.
                ahead = [self.kind(look) for look in range(index + 1, min(index + 3 - skipped, len(tokens)))]
                if "head" in ahead and all(k == "word" for k in ahead[: ahead.index("head")]):
                    skipped += 1
                    index += 1
                    continue
            break
        found.end = index
        if need_head and not found.head:
            return Descriptor(end=at)
        return found

    def size_before(self, at: int, found: Descriptor) -> int:
        """A size written before the head noun; how many tokens it took (0: none)."""
        token = self.tokens[at]
        after, after2 = self.kind(at + 1), self.value(at + 1)
        size = found.size
        if after == "size_word" and after2 == "by" and self.kind(at + 2) in ("math", "name", "word"):
            size.rows, size.columns = self.written(token), self.written(self.tokens[at + 2])
            found.size_at = at
            return 3
        if after == "size_word" and after2 == "length":
            size.length = self.written(token)
            found.size_at = at
            return 2
        if after2 == "rows" and self.value(at + 3) == "columns" and self.kind(at + 2) in ("math", "word", "name"):
            # Chinese "$d$行1列的列向量": d rows, 1 column.
            size.rows, size.columns = self.written(token), self.written(self.tokens[at + 2])
            found.size_at = at
            return 4
        if token.kind != "math":
            return 0
        # "$n\times m$ matrix", "$m\times 1$ vector", "an $n$-vector", "the $N\times D$ data matrix".
        ahead = [self.kind(look) for look in range(at + 1, min(at + 4, len(self.tokens)))]
        text = self.span_text(token)
        before_head = ahead[: ahead.index("head")] if "head" in ahead else ["none"]
        plain = text is None or _product(text) or re.fullmatch(r"\s*\w+\s*", text)
        if plain and all(kind in ("word", "article", "structure") for kind in before_head):
            size.span = self.written(token)
            found.size_at = at
            return 1
        if text is not None and _product(text) and not ahead:
            size.span = self.written(token)
            found.size_at = at
            return 1
        return 0

    def size_after(self, at: int, found: Descriptor) -> int:
        """Sizes written after a head or a name: "of order $n$", "of length $n$", "with $m$ rows and $n$
        columns", "that is C rows by D columns", "of shape $(H, D)$", "with $n$ entries". Returns the index
        just past them."""
        index = at
        size = found.size
        while index < len(self.tokens):
            kind, value = self.kind(index), self.value(index)
            if kind == "punct" and value in (",", "，") and self.kind(index + 1) == "negation":
                index += 2  # "a general matrix, not symmetric"
                continue
            if kind == "structure" and self.kind(index - 1) in ("has", "conjunction", "negation"):
                found.structures.append((value, index))  # "a matrix with orthonormal columns"
                index += 1
                continue
            if kind in ("has", "article", "follow") or (kind == "word" and value in ("that", "which")):
                index += 1
                continue
            if kind == "copula" and self.kind(index - 1) == "word":
                index += 1
                continue
            if kind == "size_word" and value in ("size", "order", "shape", "length") and self.is_size(index + 1):
                token = self.tokens[index + 1]
                if self.kind(index + 1) == "punct":
                    end = self.tuple_size(index + 1, size)
                    if end:
                        found.size_at = index
                        index = end
                        continue
                    break
                text = self.written(token)
                tuple_shape = _tuple(text)
                if tuple_shape is not None:
                    size.rows, size.columns = tuple_shape
                elif value == "order":
                    size.rows = size.columns = text
                elif _product(text):
                    size.span = text
                else:
                    size.length = text
                found.size_at = index
                index += 2
                continue
            if self.is_size(index) and self.kind(index + 1) == "size_word":
                word = self.value(index + 1)
                if word == "rows" and self.kind(index + 2) in ("conjunction", "size_word"):
                    other = index + 3 if self.kind(index + 2) == "conjunction" or self.value(index + 2) == "by" else -1
                    if other > 0 and self.is_size(other) and self.value(other + 1) == "columns":
                        size.rows = self.written(self.tokens[index])
                        size.columns = self.written(self.tokens[other])
                        found.size_at = index
                        index = other + 2
                        continue
                if word == "entries":
                    size.length = self.written(self.tokens[index])
                    found.size_at = index
                    index += 2
                    continue
            break
        return index

    def is_size(self, at: int) -> bool:
        kind = self.kind(at)
        return kind in ("math", "name") or (kind == "word" and self.value(at).isdigit()) or self.value(at) == "("

    def tuple_size(self, at: int, size: Size) -> int:
        """A shape written as a tuple in words: ``(H, D)``. Returns the index past it (0: not one)."""
        parts: list[str] = []
        index = at + 1
        while index < len(self.tokens) and len(parts) <= 3:
            if self.is_size(index) and self.value(index) != "(":
                parts.append(self.written(self.tokens[index]))
                index += 1
                if self.value(index) in (",", "，"):
                    index += 1
                    continue
                if self.value(index) == ")" and len(parts) == 2:
                    size.rows, size.columns = parts
                    return index + 1
            break
        return 0

    # Readers ----------------------------------------------------------------------------------------------

    def read(self) -> None:
        self.scopes()
        tokens = self.tokens
        index = 0
        while index < len(tokens):
            if self.is_name(index) and not (index > 0 and self.is_name(index - 1)):
                names, after = self.names(index)
                if names:
                    self.subject(names, after)
            if self.kind(index) in ("article", "structure", "head", "math", "negation"):
                self.described(index)
            index += 1
        self.dependences()
        self.operators()
        self.layouts()
        self.hypotheses()
        self.algorithm()
        self.math_conditions()
        self.redefinitions()

    def subject(self, names: list[int], after: int) -> None:
        """Facts about a list of names: "NAMES is/are/be …", "NAMES has …", "NAMES symmetric", "NAMES, the
        data matrix", "NAMES commute"."""
        skip = after
        while self.kind(skip) == "negation" or (self.kind(skip) == "word" and self.value(skip) in FILLER):
            skip += 1
        if self.kind(skip) in ("copula", "has") and skip > after:
            after = skip  # "$A$ need not be symmetric", "$X$ does not have full column rank"
        kind = self.kind(after)
        if kind == "copula" or (kind == "word" and self.value(after) in ("be", "being")):
            start = after + 1
            while self.kind(start) == "negation" or (self.kind(start) == "word" and self.value(start) in FILLER):
                start += 1
            found = self.descriptor(start)
            if found.head:
                found.end = self.size_after(found.end, found)
            if self.tokens[after].value == "redefine":
                for name in names:
                    self.add("redefine", names[0], after, after, name=self.tokens[name].value, spans=self.ids([name]))
            if found.says_something():
                self.declare(names, found, names[0], found.end - 1)
            return
        if kind == "has":
            found = Descriptor()
            end = self.size_after(after + 1, found)
            if found.size.empty():
                found = self.descriptor(after + 1)
                if found.head:  # "with orthonormal columns" reads "columns" as a size word, not a head
                    return
            if found.says_something():
                self.declare(names, found, names[0], max(end, found.end) - 1)
            return
        if self.kind(skip) == "structure":
            # "with $A$ symmetric", "若$A$对称", "and $S$ positive definite".
            found = self.descriptor(skip)
            # "with $A$ symmetric", "若$A$对称"; "$A$不是对称矩阵" (the copula inside the negation).
            if found.structures and (not found.head or self.kind(after) == "negation"):
                self.declare(names, found, names[0], found.end - 1)
            return
        if self.kind(skip) == "commute":
            after = skip  # "$A$ and $B$ do not commute"
            others, _ = self.names(after + 1)
            members = names + others
            if len(members) >= 2:
                written = ",".join(self.tokens[i].value for i in members)
                self.add("commute", names[0], after, after, name=written, spans=self.ids(members))
            return
        writes = self.kind(names[0] - 1) == "terminator" and self.value(names[0] - 1) == "use"
        if kind == "hypothesis" and self.raw(after) == "for" and writes:
            kind = "copula"  # "we write $M$ for an $m\times m$ matrix", "we use $X$ for the data matrix"
        if kind == "copula" and self.kind(after) != "copula":
            found = self.descriptor(after + 1, need_head=True)
            if found.head:
                found.end = self.size_after(found.end, found)
                self.declare(names, found, names[0], found.end - 1)
            return
        elided = any(self.kind(i) == "copula" for i in range(names[0])) or self.kind(names[0] - 1) == "has"
        if kind == "article" and elided:
            # Ellipsis: "Let $A$ be symmetric and $D$ a diagonal matrix".
            found = self.descriptor(after, need_head=True)
            if found.head:
                found.end = self.size_after(found.end, found)
                self.declare(names, found, names[0], found.end - 1)
            return
        if self.value(after) in (",", "，") and self.kind(after + 1) == "article":
            # Apposition: "$X$, the $N\times D$ data matrix, has full column rank".
            found = self.descriptor(after + 1, need_head=True)
            if found.head:
                found.end = self.size_after(found.end, found)
                self.declare(names, found, names[0], found.end - 1)
                if self.value(found.end) in (",", "，") and self.kind(found.end + 1) in ("copula", "has"):
                    self.subject(names, found.end + 1)

    def described(self, at: int) -> None:
        """ "a symmetric matrix $A$", "the $N\\times D$ data matrix $X$", "positive definite $\\Sigma$",
        "scalars $a$ and $b$", "a vector $x$ of length $n$", "矩阵$A$"."""
        if at > 0 and self.kind(at - 1) in ("article", "structure", "negation") and self.kind(at) != "article":
            return  # read from the start of the descriptor
        if self.kind(at) == "math" and self.kind(at - 1) in ("math", "copula", "has"):
            return
        found = self.descriptor(at)
        if not (found.head or found.structures) or not self.is_name(found.end):
            return
        if not found.head and self.kind(found.end - 1) != "structure":
            return
        names, after = self.names(found.end)
        if not names:
            return
        if found.head:
            after = self.size_after(after, found)
        elif self.kind(after) in ("copula", "has"):
            return  # "symmetric $A$ is …" is read from the subject
        self.declare(names, found, at, after - 1)

    def declare(self, names: list[int], found: Descriptor, first: int, last: int) -> None:
        """The facts a descriptor states about each name."""
        head, size = found.head, found.size
        predicate = found.head_at if found.head_at >= 0 else found.size_at
        if predicate < 0 and found.structures:
            predicate = found.structures[0][1]
        for name_at in names:
            name = self.tokens[name_at].value
            spans = self.ids([name_at])
            fields: dict[str, object] = {"name": name, "spans": spans}
            if head == "scalar":
                self.add("scalar", first, last, predicate, **fields)
            elif head in ("ones-matrix", "ones-vector"):
                self.add("all-ones", first, last, predicate, **fields)
            vector = head in ("vector", "column", "row", "ones-vector")
            if size.rows and size.columns:
                self.add("shape", first, last, predicate, rows=size.rows, columns=size.columns, **fields)
            elif size.span and (_product(size.span) or not vector or self.spans is None):
                self.add("size", first, last, predicate, value=size.span, **fields)
            elif size.length or (size.span and vector):
                length = size.length or size.span
                if head == "row":
                    self.add("shape", first, last, predicate, rows="1", columns=length, **fields)
                elif vector:
                    self.add("shape", first, last, predicate, rows=length, columns="1", **fields)
                elif head in ("", "matrix") and size.square:
                    self.add("shape", first, last, predicate, rows=length, columns=length, **fields)
            elif head in ("column", "row"):
                self.add("orientation", first, last, predicate, value=head, **fields)
            self.structures(found, first, last, fields)

    def structures(self, found: Descriptor, first: int, last: int, fields: dict[str, object]) -> None:
        stated: dict[bool, list[str]] = {True: [], False: []}
        at: dict[bool, int] = {}
        for value, index in found.structures:
            negated = self.negated[index]
            for part in value.split(","):
                if part not in stated[negated]:
                    stated[negated].append(part)
            at.setdefault(negated, index)
        for negated, values in stated.items():
            if values:
                value = ",".join(sorted(values))
                self.add("structure", first, last, at[negated], value=value, negated=negated, **fields)

    def ids(self, indices: list[int]) -> tuple[int, ...]:
        return tuple(self.tokens[index].index for index in indices if self.tokens[index].kind == "math")

    def dependences(self) -> None:
        """ "$u$ depends on $x$", "$z$ is any scalar that doesn't depend on $x$", "$A$与$X$无关"."""
        for at, token in enumerate(self.tokens):
            if token.kind != "depends":
                continue
            # "$\\mathbf{u} = \\mathbf{u}(\\mathbf{x})$ depends on $x$": any math can be the subject here.
            subject = next((i for i in range(at - 1, max(at - 8, -1), -1) if self.kind(i) in ("math", "name")), -1)
            if subject < 0:
                continue
            before = self.names(subject)[0] or [subject]
            while subject > 0 and self.is_name(subject - 2) and self.kind(subject - 1) == "conjunction":
                subject -= 2
                before, _ = self.names(subject)
            others, end = self.names(at + 1)
            if not others and self.kind(before[0] - 1) == "copula" and self.is_name(before[0] - 2):
                # "$f$是$x$的函数" (f is a function of x): the dependent name stands before the copula.
                before, others = [before[0] - 2], before
            if not others and len(before) >= 2:
                # Chinese puts the variables first: "$A$与$X$无关" (A does not depend on X).
                before, others = before[:1], before[1:]
            if not others:
                continue
            kind = token.value
            if self.negated[at]:
                kind = "independent" if kind == "depends" else "depends"
            values = ",".join(self.tokens[i].value for i in others)
            for name_at in before:
                spans = self.ids([name_at, *others])
                fields = {"name": self.tokens[name_at].value, "value": values, "spans": spans}
                self.add(kind, name_at, max(end - 1, at), -1, **fields)

    def operators(self) -> None:
        """ "$\\otimes$ denotes element-wise multiplication", "where $'$ is the transpose", "$\\sigma$ is the
        ReLU", "$|x|$ is the number of items in $x$", "the Hadamard product $\\odot$", "primes denote
        derivatives", "$\\sin(X)$ is the matrix function"."""
        for at, token in enumerate(self.tokens):
            if token.kind != "operator":
                continue
            meaning = token.value
            subject = -1
            # Before: "MATH (is|denotes|…) [the] [words] MEANING".
            for index in range(at - 1, max(at - 10, -1), -1):
                kind = self.kind(index)
                if kind in ("math", "operator_word"):
                    between = {self.kind(i) for i in range(index + 1, at)}
                    if "copula" in between or self.value(index + 1) == "applied":
                        subject = index
                        break
                    continue  # "$|S|$表示集合$S$中元素的个数": the subject is before the copula
                but = kind == "terminator" and self.text[self.tokens[index].start : self.tokens[index].end] == "but"
                if kind in ("punct", "terminator", "hypothesis") and not but:
                    break  # "$\otimes$ is not the Kronecker product but the element-wise product" reads on
            if subject < 0:
                # After: "the Hadamard product $\odot$", "element-wise multiplication ($\otimes$)".
                look = at + 1
                if self.value(look) in ("(", "（"):
                    look += 1
                if self.kind(look) == "math" or (self.kind(look) == "word" and self.value(look) == "denoted"):
                    if self.kind(look) == "word" and self.kind(look + 1) == "follow":
                        look += 1
                    subject = look + 1 if self.kind(look) == "word" and self.kind(look + 1) == "math" else look
            if subject < 0 or self.kind(subject) not in ("math", "operator_word"):
                continue
            name = self.operator_name(self.tokens[subject], meaning)
            if name:
                first, last, spans = min(subject, at), max(subject, at), self.ids([subject])
                self.add("operator", first, last, at, name=name, value=meaning, spans=spans)

    def operator_name(self, token: Token, meaning: str) -> str:
        """The operator a math token names, if the meaning fits it ("" when it does not)."""
        if token.kind == "operator_word":
            return token.value if meaning in MEANINGS_OF["'"] else ""
        text = self.span_text(token)
        if text is None:
            return token.value
        sign = next((name for written, name in OPERATOR_SIGNS if written in text), "")
        if sign in PRODUCT_SIGNS:
            family = "product"
        elif sign in ("'", "|", "\\|"):
            family = sign
        elif sign:
            family = "function"
        elif re.fullmatch(r"\s*\\?[A-Za-z]+\s*", text):
            sign, family = text.strip(), "function"  # "$f$ is the ReLU"
        else:
            return ""
        return sign if meaning in MEANINGS_OF[family] else ""

    def layouts(self) -> None:
        """Layout conventions: named ("numerator layout", "Hessian formulation", "分母布局"), after a colon
        ("Layout: denominator"), by a reference ("following the Matrix Cookbook"), by a habit ("gradients are
        laid out like the variable") or by an example ("the derivative of a scalar by a column vector is a
        row vector")."""
        found: list[tuple[str, int]] = []
        for at, token in enumerate(self.tokens):
            if token.kind == "layout":
                value = token.value
                if value == "cookbook":
                    before = {self.kind(i) for i in range(max(at - 4, 0), at)}
                    if "follow" not in before and "negation" not in before:
                        continue
                    value = "denominator"
                found.append((value, at))
            elif token.kind == "layout_word" and token.value == "":
                look = at + 1
                while self.value(look) in (":", "=", "：") or self.kind(look) in ("copula", "article"):
                    look += 1
                if self.kind(look) == "layout_value" and look > at + 1:
                    found.append((self.value(look), look))
        example = self.layout_example()
        if example:
            found.append(example)
        stated = {value for value, at in found if not self.negated[at]}
        if "mixed" in stated:
            # "Mixed layout: … Jacobians in numerator layout" describes the mixed layout.
            found = [(value, at) for value, at in found if value == "mixed" or self.negated[at]]
            stated = {"mixed"}
        if "habit" in stated:
            # "gradients have the same shape as the variable" is the mixed habit, unless a layout is named.
            value = "mixed" if stated == {"habit"} else ""
            found = [(value, at) if name == "habit" else (name, at) for name, at in found if name != "habit" or value]
            stated = {value} if value else stated - {"habit"}
        for value, at in found:
            self.add("layout", at, at, at, value=value)
        if len(stated) > 1:
            # "in numerator layout … while in denominator layout …": a comparison, not a convention.
            self.facts = [replace(f, scope="sentence") if f.kind == "layout" else f for f in self.facts]

    def layout_example(self) -> tuple[str, int] | None:
        """ "the derivative of a scalar by a column vector is a row vector": the layout it exhibits."""
        if not re.search(r" (?:derivative|gradient|partial)s? ", self.words):
            return None
        heads = [(token.value, at) for at, token in enumerate(self.tokens) if token.kind == "head"]
        shapes = {"scalar": "scalar", "column": "column", "row": "row", "vector": "column"}
        heads = [(shapes[value], at) for value, at in heads if value in shapes]
        if len(heads) != 3:
            return None
        (of, first), (by, second), (result, at) = heads
        # Only the sentence shape "the derivative of a A by a B is a C", within a few words.
        by_words = {self.raw(index) for index in range(first + 1, second)} | {
            self.value(index) for index in range(first + 1, second)
        }
        if at - first > 12 or not (by_words & {"by", "with", "wrt", "w.r.t"}):
            return None
        if not any(self.kind(index) == "copula" for index in range(second + 1, at)):
            return None
        transpose = {"column": "row", "row": "column", "scalar": "scalar"}
        if of == "scalar" and by in ("column", "row"):
            return ("numerator" if result == transpose[by] else "denominator", at)
        if by == "scalar" and of in ("column", "row"):
            return ("numerator" if result == of else "denominator", at)
        return None

    def hypotheses(self) -> None:
        """Math that states a hypothesis, a case, an evaluation point or a constraint, and the equations a
        sentence sets out to solve ("setting the gradient to zero gives $k$", "令上式等于零")."""
        tokens = self.tokens
        for at in range(len(tokens)):
            cue = self.trigger(at)
            if not cue:
                continue
            end = self.hypothesis_end(at, cue)
            # "Given $x \in \mathbb{R}^n$": a declaration for the sentence is a hypothesis too.
            given = cue == "given"
            spans = [i for i in range(at + 1, end) if self.kind(i) == "math" and self.relation(i, declarations=given)]
            if cue == "case" and not spans:
                continue
            if spans:
                self.add("hypothesis", at, end - 1, -1, value=cue, spans=self.ids(spans))
        zero = any(token.kind == "solve" and token.value == "zero" for token in tokens) or self.zero_mentioned()
        for at, token in enumerate(tokens):
            setting = (token.kind, token.value) in (("solve", "set"), ("article", "let"))
            if (token.kind, token.value) != ("solve", "solve") and not (setting and zero):
                continue
            spans = [i for i in range(at + 1, len(tokens)) if self.kind(i) == "math" and self.relation(i)]
            self.add("hypothesis", at, len(tokens) - 1, -1, value="solve", spans=self.ids(spans))
            break

    def zero_mentioned(self) -> bool:
        for token in self.tokens:
            if token.kind == "word" and token.value in ("0", "zero", "零"):
                return True
            text = self.span_text(token)
            if text is not None and (ZERO_TEXT.match(text) or ZERO_EQUATION.search(text)):
                return True
        return False

    def algorithm(self) -> None:
        """Assignments in a sentence that reads as an algorithm ("repeat", "update", "置$k=k+1$", "转步骤")."""
        steps = any(token.kind == "algorithm" for token in self.tokens)
        found = []
        for at, token in enumerate(self.tokens):
            if token.kind != "math":
                continue
            text = self.span_text(token)
            if (text is not None and (SELF_UPDATE.match(text) or ASSIGNMENT.search(text))) or (
                steps and self.relation(at) and (text is None or "=" in text)
            ):
                found.append(at)
        if found:
            self.add("algorithm", found[0], found[-1], -1, spans=self.ids(found))

    def math_conditions(self) -> None:
        """Conditions written in math inside prose: "$n > d$" among words about sizes, "$AB = BA$"."""
        sizes = any(f" {phrase} " in self.words for phrase in vocabulary().size_context)
        for at, token in enumerate(self.tokens):
            text = self.span_text(token)
            if text is None:
                continue
            order = DIM_ORDER.match(text)
            if order and sizes:
                left, relation, right = order.groups()
                strict = relation in (">", "<", "\\gg", "\\ll")
                bigger = relation in (">", ">=", "\\ge", "\\geq", "\\gg", "≥")
                if not bigger:
                    left, right = right, left
                value = f"{left.strip()}{'>' if strict else '>='}{right.strip()}"
                self.add("dim-order", at, at, at, value=value, spans=(token.index,))
                continue
            commuting = COMMUTING.match(text)
            # "Assume $AB = BA$", "since $AB = BA$": a stated assumption, not a claim or a hypothesis.
            stated = self.cue[at] in ("assume", "suppose") or self.raw(at - 1) in ("since", "because", "as")
            if commuting and not self.negated[at] and stated:
                a, b, c, d = (part.strip() for part in commuting.groups())
                if a == d and b == c and a != b:
                    self.add("commute", at, at, at, name=f"{a},{b}", spans=(token.index,))

    def redefinitions(self) -> None:
        """ "we redefine $z$", "$z$ is redefined", "from now on $z$ is …", "Now $z$ is any scalar …"."""
        for at, token in enumerate(self.tokens):
            if token.kind != "redefine":
                continue
            names, after = self.names(at + 1)
            if token.value == "now" and (not names or self.kind(after) != "copula"):
                continue
            if not names:
                before = at - 1
                while before >= 0 and self.kind(before) in ("copula", "word") and before > at - 3:
                    before -= 1
                if not self.is_name(before):
                    continue
                names = [before]
            for name_at in names:
                fields = {"name": self.tokens[name_at].value, "spans": self.ids([name_at])}
                self.add("redefine", min(at, name_at), max(at, name_at), -1, **fields)

    def einstein(self) -> None:
        for at, token in enumerate(self.tokens):
            if token.kind == "einstein":
                off = self.negated[at]
                self.add("einstein", at, at, -1, value="off" if off else "on", negated=off)


def _product(text: str) -> bool:
    """Whether a span's text is a size product such as ``n\\times m``, ``m \\times 1``, ``n x m``."""
    return bool(re.search(r"\\times|×|\d\s*x\s*\w|\b\w\s+x\s+\w\b|\\cdot", text)) and "=" not in text


def _tuple(text: str) -> tuple[str, str] | None:
    """``(H, D)`` → ``("H", "D")``."""
    match = re.fullmatch(r"\s*(?:\\left)?\(\s*([^,()]+?)\s*,\s*([^,()]+?)\s*(?:\\right)?\)\s*", text)
    return (match.group(1), match.group(2)) if match else None


# Entry point ================================================================================================


def facts(text: str, spans: SpanTexts = None, offset: int = 0) -> list[ProseFact]:
    """Everything one prose text states. ``spans`` (optional) gives the LaTeX of the math spans by index, so
    that the reader can tell ``$n\\times m$`` from ``$A = B$`` and name operators; ``offset`` is added to
    every position. Never raises."""
    key: tuple[tuple[int, str], ...] | None
    if spans is None:
        key = None
    else:
        numbers = {int(number) for number in re.findall(r"\$(\d+)\$", text)}
        key = tuple(sorted((number, _lookup(spans, number)) for number in numbers))
    try:
        found = list(_read(text, key))
    except Exception:  # the core never raises on bad input: prose that cannot be read states nothing
        return []
    if offset:
        found = [replace(fact, offset=fact.offset + offset, end=fact.end + offset) for fact in found]
    return found


def _lookup(spans: Sequence[str] | Mapping[int, str], number: int) -> str:
    try:
        return spans[number]
    except (IndexError, KeyError):
        return ""


@lru_cache(maxsize=16_384)
def _read(text: str, spans: tuple[tuple[int, str], ...] | None) -> tuple[ProseFact, ...]:
    texts = dict(spans) if spans is not None else None
    found: list[ProseFact] = []
    sentences = tokenize(text)
    # A "sentence" of thousands of tokens (a table of formulas) is read in pieces: reading stays linear.
    pieces = [raw[start : start + MAX_SENTENCE] for raw in sentences for start in range(0, len(raw), MAX_SENTENCE)]
    for raw in pieces:
        sentence = Sentence(concepts(raw), texts, text)
        sentence.read()
        sentence.einstein()
        if any(cue in SENTENCE_CUES for cue in sentence.cue):
            # "If $A$ is invertible, $A^T$ is invertible too": the conclusion holds under the hypothesis only.
            sentence.facts = [
                fact if fact.kind == "hypothesis" else replace(fact, scope="sentence") for fact in sentence.facts
            ]
        found.extend(sentence.facts)
    unique = list({_key(fact): fact for fact in reversed(found)}.values())[::-1]
    unique.sort(key=lambda fact: (fact.offset, fact.kind))
    return tuple(unique)


def _key(fact: ProseFact) -> tuple[object, ...]:
    """What makes two facts the same fact (the first one read is kept, with its offsets)."""
    return (fact.kind, fact.name, fact.rows, fact.columns, fact.value, fact.negated, fact.scope, fact.spans)


def sentence_bounds(text: str, position: int) -> tuple[int, int]:
    """The sentence of a prose text that holds ``position``: (start, end) offsets."""
    start, end = 0, len(text)
    for match in TOKEN.finditer(text):
        if match.lastgroup != "stop":
            continue
        if match.end() <= position:
            start = match.end()
        elif match.start() >= position:
            end = match.end()
            break
    return start, end
