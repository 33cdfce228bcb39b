r"""## What it does
Reports every claim that tensorlint checked and found true, with the layout it holds in. This code is off
unless asked for (`--select TL000` or `--extend-select TL000`).

## Why is this bad?
It is not: a verified claim is good news. Turning the code on shows which claims were actually tested, as
opposed to skipped as definitions or as uncheckable, which is what a reviewer wants to know before trusting
a derivation.

## Example
```latex
Let $A \in \mathbb{R}^{n\times n}$ and $x \in \mathbb{R}^n$.
$$\frac{\partial\, x^T A x}{\partial x} = (A + A^T)\,x$$
```
gets `hint[TL000] verified in denominator layout on 3 random instances`.

## Use instead
Nothing to change. Leave the code off in CI and turn it on in an editor or when auditing a note.
"""

from tensorlint.rules import Rule

RULE = Rule(
    code="TL000",
    name="verified-claim",
    severity="hint",
    summary="a claim was checked numerically and holds",
    doc=__doc__,
    enabled_by_default=False,
)
