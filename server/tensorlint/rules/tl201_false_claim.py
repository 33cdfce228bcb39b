r"""## What it does
Flags a claim that is false: a concrete instance, consistent with everything the document declares, makes
the two sides differ. The message shows the counterexample and, where tensorlint can find one, the correct
result (itself verified numerically before it is shown).

## Why is this bad?
A wrong derivative propagates: into code, into the next step of the derivation, into a reader's notes.
Matrix calculus errors look plausible on the page, which is why they survive review.

## Example
```latex
Let $A \in \mathbb{R}^{n\times n}$ and $x \in \mathbb{R}^{n}$.
$$\frac{\partial\, x^T A x}{\partial x} = 2 A x$$
```
This holds only for a symmetric `A`.

## Use instead
```latex
$$\frac{\partial\, x^T A x}{\partial x} = (A + A^T)\, x$$
```
or declare `A` symmetric, in which case `2Ax` is right.
"""

from tensorlint.rules import Rule

RULE = Rule(
    code="TL201",
    name="false-claim",
    severity="error",
    summary="a claim that a concrete counterexample refutes",
    doc=__doc__,
)
