r"""## What it does
Flags an operation whose operands cannot have compatible shapes, or a claim whose two sides cannot have the
same shape, given what the document declares. It is reported only when declared shapes conflict or when
one equation is inconsistent with itself; shapes guessed from usage in different equations never are.

## Why is this bad?
An ill-shaped expression has no meaning: the product is undefined or the equation compares a vector with
a matrix. It usually hides a missing transpose or a swapped dimension.

## Example
```latex
Let $W \in \mathbb{R}^{n\times m}$ and $x \in \mathbb{R}^{n}$.
$$y = W x$$
```
`W` has m columns but `x` has n rows.

## Use instead
```latex
Let $W \in \mathbb{R}^{n\times m}$ and $x \in \mathbb{R}^{n}$.
$$y = W^T x$$
```
or declare $x \in \mathbb{R}^{m}$ if that is what was meant.
"""

from tensorlint.rules import Rule

RULE = Rule(
    code="TL101",
    name="shape-mismatch",
    severity="error",
    summary="operands or sides whose shapes cannot agree",
    doc=__doc__,
)
