r"""## What it does
Flags a derivative claimed to have a shape it cannot have under any layout. The message states the true
order and shape of the derivative and its index form.

## Why is this bad?
The derivative of a vector by a matrix is a third-order tensor; writing it as a vector or a matrix loses
information, and no layout convention rescues it. This is one of the commonest errors in notes on
backpropagation.

## Example
```latex
Let $W \in \mathbb{R}^{n\times m}$ and $x \in \mathbb{R}^{m}$.
$$\frac{\partial W x}{\partial W} = (x^T \mathbf{1}_m)\, \mathbf{1}_n$$
```
d(Wx)/dW is a third-order tensor (n×n×m); the right side is an n-vector.

## Use instead
The index form, or the differential:
```latex
$$\frac{\partial (W x)_i}{\partial W_{kl}} = \delta_{ik}\, x_l
\qquad\text{or}\qquad d(W x) = (dW)\, x$$
```
"""

from tensorlint.rules import Rule

RULE = Rule(
    code="TL202",
    name="impossible-derivative-shape",
    severity="error",
    summary="a derivative written with a shape it cannot have",
    doc=__doc__,
)
