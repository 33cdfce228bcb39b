r"""## What it does
Flags a derivative that is right only in the other layout: the document uses numerator layout (Jacobian
formulation) and the claim holds in denominator layout (gradient formulation), or the other way round. The
message names where the document's layout was set: a directive, a sentence, or the first claim that told
the two apart.

## Why is this bad?
Mixing layouts in one document is the commonest erratum in published machine learning texts. Each
formula looks right on its own, but chaining them with the chain rule gives transposed or ill-shaped
results.

## Example
```latex
We use numerator layout. Let $a, x \in \mathbb{R}^n$.
$$\frac{\partial\, a^T x}{\partial x} = a$$
```
In numerator layout the derivative of a scalar by a column vector is a row vector.

## Use instead
```latex
$$\frac{\partial\, a^T x}{\partial x} = a^T$$
```
or state the layout the note really uses (`<!-- tensorlint: layout=denominator -->`).
"""

from tensorlint.rules import Rule

RULE = Rule(
    code="TL203",
    name="layout-mismatch",
    severity="warning",
    summary="a derivative that holds only in the layout the document does not use",
    doc=__doc__,
)
