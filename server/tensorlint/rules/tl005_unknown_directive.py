r"""## What it does
Flags a `tensorlint:` directive that tensorlint cannot read: a misspelt setting (`layuot=numerator`), a value
it does not know (`layout=numeratr`, `einstein=maybe`), a setting written with spaces around `=`, a
misspelt suppression verb that does not start like one (`disabel`), or words that are not a declaration.

The known directives are declarations (`W \in \mathbb{R}^{n\times m}`), `layout=numerator` or
`layout=denominator`, `einstein=on|off|auto`, and the suppressions (`disable-next-line`, `disable`,
`enable`, `disable-file`; misspelt ones of these are TL004).

There is no automatic fix: a guess could change what the note means or what it silences.

## Why is this bad?
The directive does nothing. The author believes the note is in numerator layout, or that a shape is
declared, and tensorlint checks the note as if the comment were not there.

## Example
```latex
% tensorlint: layout=numeratr
```

## Use instead
```latex
% tensorlint: layout=numerator
```
"""

from tensorlint.rules import Rule

RULE = Rule(
    code="TL005",
    name="unknown-directive",
    severity="warning",
    summary="a tensorlint: directive that tensorlint cannot read",
    doc=__doc__,
)
