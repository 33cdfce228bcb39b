r"""## What it does
Flags declarations that cannot all hold at the same point of the document: one name given two shapes in
the same sentence or equation, or a `tensorlint:` directive that contradicts the declaration next to it.

A declaration in a later paragraph is not a conflict: it replaces the earlier one from that point on.

## Why is this bad?
Every claim that uses the name depends on which declaration is meant, so tensorlint cannot check them, and
a reader cannot either.

## Example
```latex
Let $x \in \mathbb{R}^{n}$ and $A \in \mathbb{R}^{n\times n}$, where $x \in \mathbb{R}^{m\times k}$.
```

## Use instead
```latex
Let $x \in \mathbb{R}^{n}$ and $A \in \mathbb{R}^{n\times n}$, where $X \in \mathbb{R}^{m\times k}$.
```
"""

from tensorlint.rules import Rule

RULE = Rule(
    code="TL102",
    name="conflicting-declaration",
    severity="error",
    summary="declarations of one name that contradict each other",
    doc=__doc__,
)
