r"""## What it does
Flags a piece of math that the parser could not read, such as an unbalanced brace or a command cut in
half. The rest of the span is still used; only the unreadable piece is skipped.

## Why is this bad?
A claim that cannot be read cannot be checked, so an error in it goes unnoticed. Unreadable math often
also renders wrongly, or not at all, on the page.

## Example
```latex
$$\frac{\partial L}{\partial W = \delta\, x^T$$
```
The brace after `\partial W` is never closed, so the fraction swallows the rest of the line.

## Use instead
```latex
$$\frac{\partial L}{\partial W} = \delta\, x^T$$
```
"""

from tensorlint.rules import Rule

RULE = Rule(
    code="TL001",
    name="unreadable-math",
    severity="hint",
    summary="math that could not be parsed",
    doc=__doc__,
)
