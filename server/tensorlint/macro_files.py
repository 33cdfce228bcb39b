"""Macros a note uses but defines in other files: read here, outside the core, and handed to it as text.

The core does no I/O (ARCHITECTURE.md), so the command line and the language server call ``with_macros``
before ``core.check_text``: it reads the files of the ``macros`` setting, the files a note includes with
``\\input{…}``, ``\\include{…}`` or ``\\usepackage{…}`` (when a local ``.sty`` exists), and a ``macros.tex``
next to the note, and puts their text into ``Config.macros``. Extraction takes only the macro definitions
(``\\newcommand``, ``\\def``, ``\\DeclareMathOperator``, …) out of that text. Reading is bounded: a few
files, a megabyte each; a file that cannot be read is skipped.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace

from tensorlint.model import Config

MAX_FILES = 16
MAX_BYTES = 1_000_000
NEIGHBOUR_NAMES = ("macros.tex", "macros.sty")
_INCLUDE = re.compile(r"\\(input|include|usepackage)\s*(?:\[[^\]]*\])?\s*\{([^{}\n]{1,200})\}")


def with_macros(path: str, text: str, config: Config) -> Config:
    """``config`` with the text of the macro files that ``path`` relies on (unchanged when there are none)."""
    found = macro_text(path, text, config.macro_files)
    return replace(config, macros=found) if found else config


def macro_text(path: str, text: str, configured: tuple[str, ...] = ()) -> str:
    """The concatenated text of the macro files for the note at ``path`` whose text is ``text``."""
    folder = os.path.dirname(os.path.abspath(path)) if path and os.path.isfile(path) else None
    candidates: list[str] = list(configured)
    if folder is not None:
        candidates += [os.path.join(folder, name) for name in NEIGHBOUR_NAMES]
        for match in _INCLUDE.finditer(text):
            command, target = match.group(1), match.group(2).strip()
            for name in target.split(",") if command == "usepackage" else [target]:
                name = name.strip()
                if not name or os.path.isabs(name):
                    continue
                extensions = (".sty",) if command == "usepackage" else ("", ".tex")
                candidates += [os.path.join(folder, name + extension) for extension in extensions]
    pieces: list[str] = []
    seen: set[str] = set()
    own = os.path.abspath(path) if path else ""
    for candidate in candidates:
        resolved = os.path.abspath(candidate)
        if resolved in seen or resolved == own or len(seen) >= MAX_FILES:
            continue
        seen.add(resolved)
        piece = _read(resolved)
        if piece:
            pieces.append(piece)
    return "\n".join(pieces)


def _read(path: str) -> str:
    try:
        if not os.path.isfile(path) or os.path.getsize(path) > MAX_BYTES:
            return ""
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return ""
