r"""## What it does
Flags notation that parses but that tensorlint does not understand yet: a macro defined elsewhere, an
operator it has no meaning for, or a construct outside the supported operations. Claims that use it are
left unchecked rather than guessed at.

## Why is this bad?
Nothing is wrong with the note. The hint says why a claim was not checked, so a silence is not mistaken
for approval.

## Example
```latex
$$\grad_W \mathcal{L} = \delta\, x^T$$
```
`\grad` is a private macro; tensorlint does not know it means a gradient.

## Use instead
```latex
$$\nabla_W \mathcal{L} = \delta\, x^T$$
```
or spell the derivative out with `\frac{\partial \mathcal{L}}{\partial W}`.
"""

from tensorlint.rules import Rule

RULE = Rule(
    code="TL002",
    name="unsupported-notation",
    severity="hint",
    summary="notation tensorlint does not understand yet",
    doc=__doc__,
)
