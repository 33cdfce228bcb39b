r"""## What it does
Flags an index-notation claim whose free indices differ between the two sides: an index that appears once
on one side (so it is not summed) and not at all on the other.

## Why is this bad?
Each side of a component equation is a family of numbers indexed by its free indices. If the families are
indexed differently the equation does not say anything definite; usually an index was renamed halfway or a
sum was forgotten.

## Example
```latex
Let $y = W x$.
$$\frac{\partial y_i}{\partial x_j} = W_{ik}$$
```
The left side has free indices i, j; the right side has i, k.

## Use instead
```latex
$$\frac{\partial y_i}{\partial x_j} = W_{ij}$$
```
"""

from tensorlint.rules import Rule

RULE = Rule(
    code="TL204",
    name="unsummed-index-mismatch",
    severity="error",
    summary="free indices that differ between the two sides",
    doc=__doc__,
)
