r"""## What it does
Flags a suppression directive that suppresses nothing: a `disable-next-line` whose next line has no
diagnostic with the codes it names, a `disable` … `enable` range or a `disable-file` that never matched, an
`enable` with no `disable` before it, a code in a directive that tensorlint does not know, or a misspelt
directive (`disable-nextline`).

A directive that names several codes is reported for the ones it did not use; the fix removes those codes,
or the whole directive when none was used, and corrects a misspelt directive.

## Why is this bad?
A suppression is a promise that something below it is known and accepted. Once the claim is fixed or
removed, a leftover suppression hides the next real finding at that place, and a misspelt one never
worked in the first place.

## Example
```latex
% tensorlint: disable-next-line TL201
$$\frac{\partial\, a^T x}{\partial x} = a$$
```
The claim is true, so there is nothing for TL201 to suppress.

## Use instead
Remove the directive:
```latex
$$\frac{\partial\, a^T x}{\partial x} = a$$
```
"""

from tensorlint.rules import Rule

RULE = Rule(
    code="TL004",
    name="unused-suppression",
    severity="warning",
    summary="a suppression directive that suppresses nothing",
    doc=__doc__,
)
