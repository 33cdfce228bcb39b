"""Declarations and conventions stated in prose.

Notes declare shapes in words as often as in symbols: "let $W$ be a $n\\times m$ matrix", "a column vector
\\vec{x} of length D", "a matrix W that is C rows by D columns", "an all-ones matrix $J$", "we use numerator
layout". Prose arrives with each math span replaced by ``$k$``; the patterns below read it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# A name written in prose: $k$ (a math span), \vec{x}, \mathbf{x}, or one bare letter.
NAME = r"(?:\$\d+\$|\\(?:vec|mathbf|textbf|boldsymbol|bm)\{[A-Za-z]\}|\b(?-i:[A-Z])\b)"
SIZE = r"(?:\$\d+\$|[A-Za-z0-9]+)"
STRUCTURE = r"(?:symmetric|diagonal|orthogonal|positive[- ]semi-?definite|positive[- ]definite|SPD|PSD)"
# A parenthetical remark after a name: "$\Sigma$ (the covariance)".
REMARK = r"(?:\s*\([^()]{0,40}\))?"
STRUCTURES = rf"{STRUCTURE}(?:(?:\s*,\s*|\s+and\s+|\s+){STRUCTURE})*"


@dataclass(frozen=True)
class ProseFact:
    """One thing prose said. ``kind`` is ``shape``, ``kind``, ``all-ones``, ``layout`` or ``einstein``."""

    kind: str
    name: str = ""
    rows: str = ""
    columns: str = ""
    value: str = ""
    offset: int = 0


# Every pattern needs one of these words; prose without any of them is skipped at once.
KEYWORDS = (
    "scalar",
    "matri", "vector", "array", "rows", "be ", " is ", " are ", "ones", "layout", "formulation", "einstein",
    "symmetric", "diagonal", "orthogonal", "definite", "spd", "psd",
)  # fmt: skip
PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    # "let $W$ be a $n\times m$ matrix", "$x$ is a $m\times 1$ vector"
    (
        "size",
        re.compile(rf"({NAME})\s+(?:be|is|are|denote)\s+(?:an?\s+)?(\$\d+\$)\s+(matrix|vector|array)", re.I),
    ),
    # "a matrix W that is C rows by D columns", "W ... a matrix with D rows and C columns"
    (
        "rows-columns",
        re.compile(
            rf"matrix\s+({NAME})?\s*(?:that\s+is|with|of)?\s*({SIZE})\s+rows\s+(?:by|and|x|×)\s+({SIZE})\s+columns",
            re.I,
        ),
    ),
    (
        "named-rows-columns",
        re.compile(
            rf"({NAME})\s+(?:is|will\s+be)\s+an?\s+[\w\s-]{{0,30}}?(?:matrix|array)\s+with\s+({SIZE})\s+rows"
            rf"\s+(?:by|and)\s+({SIZE})\s+columns",
            re.I,
        ),
    ),
    # "a column vector \vec{y} of length C", "another row vector \vec{x} with D components"
    (
        "vector-length",
        re.compile(
            rf"(row|column)?\s*vector\s+({NAME})\s+(?:of\s+length|with|of\s+size|of\s+dimension)\s+({SIZE})",
            re.I,
        ),
    ),
    # "Let \vec{y} be a *row vector* with C components"
    (
        "be-vector-length",
        re.compile(
            rf"({NAME})\s+be\s+an?\s+\*?(row|column)\s+vector\*?\s+(?:with|of\s+length)\s+({SIZE})",
            re.I,
        ),
    ),
    # "assuming \vec{y} and \vec{x} are column vectors"
    ("orientation", re.compile(rf"({NAME})\s+and\s+({NAME})\s+are\s+(row|column)\s+vectors", re.I)),
    # "an all-ones matrix $J$"
    # "a scalar $c$", "$\lambda$ is a scalar"
    ("scalar-before", re.compile(rf"\bscalars?\s+({NAME})", re.I)),
    ("scalar-after", re.compile(rf"({NAME})\s+(?:is|be)\s+an?\s+(?:real\s+|positive\s+)?scalar\b", re.I)),
    ("all-ones", re.compile(rf"all[- ]ones\s+(?:matrix|vector)\s+({NAME})", re.I)),
    # "$A$ is symmetric", "let $\Sigma$ be a symmetric positive definite matrix"
    (
        "structure-after",
        re.compile(rf"({NAME}){REMARK}\s+(?:is|be|are)\s+(?:an?\s+)?(?:square\s+)?({STRUCTURES})", re.I),
    ),
    # "$\Sigma$ (the covariance) and $\Lambda$ (the precision) be symmetric positive definite"
    (
        "structure-pair",
        re.compile(
            rf"({NAME}){REMARK}\s*(?:,|\s+and)\s+({NAME}){REMARK}\s+(?:are|be)\s+(?:both\s+)?({STRUCTURES})",
            re.I,
        ),
    ),
    # "... positive definite and $S$ symmetric"
    ("structure-and", re.compile(rf"(?:\band|,)\s+({NAME})\s+({STRUCTURES})\b", re.I)),
    # "a symmetric matrix $A$", "an orthogonal matrix Q"
    (
        "structure-before",
        re.compile(rf"({STRUCTURES})\s+(?:[\w-]+\s+){{0,2}}?matri(?:x|ces)\s+({NAME})", re.I),
    ),
    ("layout", re.compile(r"\b(numerator|denominator)[- ]layout|\b(Jacobian)\s+formulation", re.I)),
    ("einstein", re.compile(r"Einstein\s+summation", re.I)),
]


def read_name(token: str, spans: list[str]) -> str:
    """The LaTeX of a prose name: the math span's text for ``$k$``, else the name itself."""
    if token.startswith("$"):
        index = int(token.strip("$"))
        return spans[index] if 0 <= index < len(spans) else ""
    return token


@lru_cache(maxsize=16_384)
def _matches(text: str) -> tuple[tuple[str, tuple[Any, ...], int], ...]:
    """Every pattern's matches in a prose text: (kind, groups, start). Cached: prose rarely changes."""
    if not any(word in text.lower() for word in KEYWORDS):
        return ()
    return tuple(
        (kind, match.groups(), match.start()) for kind, pattern in PATTERNS for match in pattern.finditer(text)
    )


def facts(text: str, spans: list[str], offset: int) -> list[ProseFact]:
    """Everything the patterns find in one prose block. ``spans`` are the texts of the document's spans."""
    found: list[ProseFact] = []
    for kind, groups, start in _matches(text):
        at = offset + start
        if kind == "size":
            found.append(ProseFact("size", read_name(groups[0], spans), value=read_name(groups[1], spans), offset=at))
        elif kind in ("rows-columns", "named-rows-columns"):
            if groups[0] is None:
                continue
            found.append(
                ProseFact(
                    "shape",
                    read_name(groups[0], spans),
                    rows=read_name(groups[1], spans),
                    columns=read_name(groups[2], spans),
                    offset=at,
                )
            )
        elif kind == "vector-length":
            orientation, name, size = groups
            fact = _vector(read_name(name, spans), read_name(size, spans), orientation or "column", at)
            found.append(fact)
        elif kind == "be-vector-length":
            name, orientation, size = groups
            found.append(_vector(read_name(name, spans), read_name(size, spans), orientation, at))
        elif kind == "orientation":
            for name in groups[:2]:
                found.append(ProseFact("orientation", read_name(name, spans), value=groups[2].lower(), offset=at))
        elif kind in ("scalar-before", "scalar-after"):
            found.append(ProseFact("scalar", read_name(groups[0], spans), offset=at))
        elif kind.startswith("structure") and conditional(text, start):
            # "only holds when $A$ is symmetric": a condition, not a declaration.
            continue
        elif kind == "structure-pair":
            kinds = structure_words(groups[2])
            for name in groups[:2]:
                found.append(ProseFact("structure", read_name(name, spans), value=kinds, offset=at))
        elif kind in ("structure-after", "structure-before", "structure-and"):
            name, words = (groups[1], groups[0]) if kind == "structure-before" else (groups[0], groups[1])
            kinds = structure_words(words)
            found.append(ProseFact("structure", read_name(name, spans), value=kinds, offset=at))
        elif kind == "all-ones":
            found.append(ProseFact("all-ones", read_name(groups[0], spans), offset=at))
        elif kind == "layout":
            value = (groups[0] or "numerator").lower()
            found.append(ProseFact("layout", value=value, offset=at))
        elif kind == "einstein":
            found.append(ProseFact("einstein", offset=at))
    found.sort(key=lambda fact: fact.offset)
    return found


CONDITIONAL = re.compile(r"\b(?:if|iff|when|whenever|unless|only|provided|except)\b", re.I)


def conditional(text: str, start: int) -> bool:
    """Whether the sentence before ``start`` makes what follows a condition ("only when", "if")."""
    sentence = max(text.rfind(mark, 0, start) for mark in (". ", "? ", "! ", "\n\n")) + 1
    return CONDITIONAL.search(text, sentence, start) is not None


def structure_words(words: str) -> str:
    """``symmetric positive definite`` → ``symmetric,positive``."""
    lowered = words.lower()
    kinds = set()
    if "symmetric" in lowered:
        kinds.add("symmetric")
    if "definite" in lowered or "spd" in lowered or "psd" in lowered:
        kinds |= {"symmetric", "positive"}
    if "diagonal" in lowered:
        kinds.add("diagonal")
    if "orthogonal" in lowered:
        kinds.add("orthogonal")
    return ",".join(sorted(kinds))


def _vector(name: str, size: str, orientation: str, offset: int) -> ProseFact:
    if orientation.lower() == "row":
        return ProseFact("shape", name, rows="1", columns=size, offset=offset)
    return ProseFact("shape", name, rows=size, columns="1", offset=offset)
