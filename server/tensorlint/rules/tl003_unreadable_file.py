r"""## What it does
Flags a file that cannot be read as UTF-8 text: bytes that are not valid UTF-8, a binary file (one that
contains NUL bytes, or a UTF-16 file), or a file that could not be opened at all (permission denied,
removed while the run was going on).

For invalid UTF-8 the diagnostic points at the first bad byte; the file is decoded with U+FFFD in place of
each undecodable sequence and the rest of it is still checked. A binary or unopenable file is not checked.

## Why is this bad?
Notes are text, and every editor, renderer and LaTeX engine involved must agree on how to read them. A
file saved in Latin-1 or Windows-1252 shows garbage in some tools, and its math may differ from what the
author sees.

## Example
```latex
% saved as Latin-1: the "ä" below is the single byte 0xE4
Der Schätzer $\hat\beta = (X^T X)^{-1} X^T y$ ist erwartungstreu.
```

## Use instead
Save the note as UTF-8, for example `iconv -f latin1 -t utf-8 note.tex > note.utf8.tex`:
```latex
Der Schätzer $\hat\beta = (X^T X)^{-1} X^T y$ ist erwartungstreu.
```
"""

from tensorlint.rules import Rule

RULE = Rule(
    code="TL003",
    name="unreadable-file",
    severity="warning",
    summary="a file that cannot be read or decoded as UTF-8",
    doc=__doc__,
)
