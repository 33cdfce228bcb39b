r"""## What it does
Reports a bug in tensorlint: an unexpected error while checking a file or a claim. The rest of the run goes
on; only the part that failed is skipped.

## Why is this bad?
The note is probably fine; tensorlint is not. Until the bug is fixed, whatever failed was not checked.

## Example
```latex
$$\frac{\partial \log\det X}{\partial X} = X^{-T}$$
```
gets `warning[TL900] internal checker error: ...` if the checker crashed on it.

## Use instead
Nothing to change in the note. Please report the message and the smallest snippet that triggers it. In the
meantime the line can be skipped:
```latex
% tensorlint: disable-next-line TL900
$$\frac{\partial \log\det X}{\partial X} = X^{-T}$$
```
"""

from tensorlint.rules import Rule

RULE = Rule(
    code="TL900",
    name="checker-error",
    severity="warning",
    summary="an internal error in tensorlint while checking",
    doc=__doc__,
)
