r"""## What it does
Flags an inequality (`\le`, `\ge`, `<`, `>`) that a concrete instance, consistent with the document's
declarations, violates. The message shows the counterexample.

## Why is this bad?
Bounds are used to justify convergence, stability and error estimates. A false bound makes the argument
that rests on it false, however careful the rest is.

## Example
```latex
Let $A \in \mathbb{R}^{n\times n}$.
$$\operatorname{tr}(A^2) \ge 0$$
```
For $A = \begin{bmatrix} 0 & 1 \\ -1 & 0 \end{bmatrix}$ the left side is −2.

## Use instead
```latex
$$\operatorname{tr}(A^T A) \ge 0$$
```
or declare `A` symmetric, for which $\operatorname{tr}(A^2) \ge 0$ holds.
"""

from tensorlint.rules import Rule

RULE = Rule(
    code="TL206",
    name="inequality-false",
    severity="error",
    summary="an inequality that a concrete counterexample refutes",
    doc=__doc__,
)
