r"""## What it does
Marks a claim that tensorlint could not check, and says why: an unknown function whose signature cannot be
inferred, an unsupported construct, an ambiguous intent, or a claim that ran out of its time budget.

## Why is this bad?
Nothing is known to be wrong. The hint is there so that an unchecked claim is not taken for a verified
one; it is quiet (a hint) on purpose.

## Example
```latex
$$\frac{\partial f}{\partial X} = g(X)$$
```
Neither `f` nor `g` is defined anywhere, so there is nothing to compare.

## Use instead
Define the functions, or declare the shapes involved:
```latex
Let $X \in \mathbb{R}^{n\times n}$ and $f(X) = \operatorname{tr}(X^T X)$.
$$\frac{\partial f}{\partial X} = 2X$$
```
"""

from tensorlint.rules import Rule

RULE = Rule(
    code="TL205",
    name="uncheckable-claim",
    severity="hint",
    summary="a claim that could not be checked, with the reason",
    doc=__doc__,
)
