"""Explanations for findings: what the right result is, its shape, and a fix that makes the claim hold.

For a claim whose verdict is ``wrong``, ``shape`` or ``layout`` and whose one side is a derivative, the
other side is what the author claimed. ``explain`` derives the derivative (``derive.py``), states the
expected result in the message (in the document's layout; for a third- or fourth-order derivative, its order,
shape and index form), and offers a ``Fix`` that replaces the claimed side:

- with the verified closed form, printed in the author's style (``\\mathbf{x}``, ``^{\\text{T}}``);
- with the same matrix written entry by entry, when the author wrote an explicit matrix of concrete size;
- for a derivative of order three or more, with its Kronecker form, the Jacobian of ``vec F`` by ``vec X``
  that DESIGN.md says a matrix-form claim is compared with (the message gives the index form, which is the
  canonical answer);
- for a ``layout`` verdict, with the result in the document's layout (the transpose of what was written).

A claim without a derivative that fails on shapes gets the repairs a reader would try first: ``vec`` of the
matrix side when the other side is its vectorization, or a transpose.

Every fix is checked before it is offered: its text is parsed, lowered and verified against the other side
exactly as the claim itself was (``verify.verify`` in the same environment), and only a fix whose claim then
verifies is returned. ``apply_fixes`` applies fixes to a text (pure; the CLI writes the file).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from tensorlint import ir
from tensorlint.derive import (
    CHECK_TRIALS,
    Derivative,
    DeriveError,
    Deriver,
    derive,
    literal_entries,
    parse_expression,
)
from tensorlint.latex import Style, to_latex, to_text
from tensorlint.model import Edit, Fix

if TYPE_CHECKING:
    from tensorlint.env import Environment, Part
    from tensorlint.model import Config
    from tensorlint.verify import Outcome

FINDINGS = ("wrong", "shape", "layout")


@dataclass(frozen=True)
class Explanation:
    """What to add to a finding: the message with the expected result, and a verified fix."""

    message: str
    fix: Fix | None = None
    # The expected result as LaTeX in the author's style and as text, and its shape ("n×m matrix").
    expected: str | None = None
    expected_text: str | None = None
    shape: str | None = None


def explain(
    left: Part,
    right: Part,
    left_ir: ir.Expr,
    right_ir: ir.Expr,
    op: str,
    outcome: Outcome,
    env: Environment,
    config: Config,
    text: str,
    style: Style | None = None,
) -> Explanation | None:
    """The explanation of the finding ``outcome`` on the claim ``left op right``; None when there is
    nothing to add (a verdict that is not a finding, or no result that could be verified).

    ``left``/``right`` are the parts of the claim (syntax node and span), ``left_ir``/``right_ir`` their IR,
    ``env`` the document's environment at the claim, ``text`` the whole document (fix offsets index it),
    ``style`` an optional document-wide style to start from. Never raises: an explanation is an extra, and
    the finding stands without it.
    """
    if outcome.verdict not in FINDINGS or op != "=":
        return None
    try:
        return Explainer(left, right, left_ir, right_ir, outcome, env, config, text, style).run()
    except Exception:
        return None


class Explainer:
    def __init__(
        self,
        left: Part,
        right: Part,
        left_ir: ir.Expr,
        right_ir: ir.Expr,
        outcome: Outcome,
        env: Environment,
        config: Config,
        text: str,
        style: Style | None,
    ) -> None:
        self.left, self.right = left, right
        self.left_ir, self.right_ir = left_ir, right_ir
        self.outcome, self.env, self.config, self.text = outcome, env, config, text
        # Whether the claim is about entries (∂y_i/∂W_{kl}): its fix is an index form.
        self.component = False
        # The claim's own spelling first; what it does not show, from the rest of the document.
        self.style = Style()
        self.style.learn([left.node], left.span.text, config.unify_fonts)
        self.style.learn([right.node], right.span.text, config.unify_fonts)
        if style is not None:
            self.style.fill(style)
        scope = env.scope(config)
        self.style.variables = set(scope.variables)
        self.style.matrices = set(scope.matrices)

    def run(self) -> Explanation | None:
        for derivative_ir, claimed, claimed_ir, on_left in (
            (self.left_ir, self.right, self.right_ir, True),
            (self.right_ir, self.left, self.left_ir, False),
        ):
            if isinstance(derivative_ir, ir.Deriv):
                return self.derivative(derivative_ir, claimed, claimed_ir, on_left)
        if self.outcome.verdict == "shape":
            return self.repair_shape()
        return None

    # Derivatives ----------------------------------------------------------------------------------------

    def layout(self) -> str | None:
        return self.env.layout

    def derivative(self, deriv: ir.Deriv, claimed: Part, claimed_ir: ir.Expr, on_left: bool) -> Explanation | None:
        wrt = deriv.wrt
        names = {node.key for node in ir.walk(deriv.numerator) if isinstance(node, ir.Var)}
        if any(name not in self.env.declared and name not in self.env.definitions for name in names):
            # A loss L known only through its derivatives has no closed form to offer.
            return None
        labels = None
        if wrt.indices is not None:
            if any(isinstance(ref, tuple) or ref == ":" for ref in wrt.indices):
                return None
            labels = ((), tuple(str(ref) if isinstance(ref, str) else ref for ref in wrt.indices))
        self.component = wrt.indices is not None
        result = derive(
            deriv.numerator,
            wrt,
            self.env,
            self.config,
            self.style,
            self.layout(),
            deriv.gradient,
            labels,  # type: ignore[arg-type]
            index_when_needed=True,
        )
        if "?" in (result.shape or ""):
            # Shapes the note does not fix: nothing certain to say.
            return None
        message = self.message(result, deriv)
        fix = None
        for title, replacement in self.candidates(result, claimed, claimed_ir):
            fix = self.verified_fix(title, deriv, claimed, replacement, on_left)
            if fix is not None:
                break
        expected = result.closed_form.latex if result.closed_form is not None else None
        expected_text = result.closed_form.text if result.closed_form is not None else None
        if message == self.outcome.message and fix is None:
            return None
        return Explanation(message, fix, expected, expected_text, result.shape or None)

    def message(self, result: Derivative, deriv: ir.Deriv) -> str:
        base = self.outcome.message
        closed = result.closed_form
        index = result.index_form
        index_text = f"{result.index_left_text} = {index.text}" if index is not None else ""
        if result.order >= 3:
            if index is None:
                return base
            # The shape finding already names the order and shape (TL202); otherwise the message says it.
            extra = f": {index_text}" if "tensor" in base else f"; {self.name(deriv)} is a {result.shape}: {index_text}"
            if closed is not None:
                extra += f", as the Jacobian of vec: {closed.text} ({result.layout} layout)"
            return base + extra
        if closed is None:
            return base + (f"; expected {index_text}" if index is not None else "")
        shape = f" ({result.shape})" if result.shape else ""
        if self.outcome.verdict == "layout":
            return base + f"; in {result.layout} layout it is {closed.text}"
        layout = f" in {result.layout} layout" if result.kind in ("gradient", "jacobian") else ""
        # A closed form with basis vectors or entries reads better next to its index form.
        entries = any(isinstance(node, ir.Basis | ir.Index) for node in ir.walk(closed.expr))
        index_note = f": {index_text}" if entries and index is not None else ""
        return base + f"; expected {closed.text}{shape}{layout}{index_note}"

    def name(self, deriv: ir.Deriv) -> str:
        return f"d({to_text(deriv.numerator)})/d{deriv.wrt.key.split('@')[0]}"

    def candidates(self, result: Derivative, claimed: Part, claimed_ir: ir.Expr) -> list[tuple[str, str]]:
        """Replacement texts for the claimed side, best first, each with the title of its fix."""
        found: list[tuple[str, str]] = []
        closed = result.closed_form
        index = result.index_form
        if self.outcome.verdict == "layout":
            # The written result, transposed (with the author's names), then the derived one.
            deriver = Deriver(self.env, self.config, result.wrt)
            try:
                simplified = deriver.simplify(claimed_ir)
                if simplified is not None:
                    transposed = deriver.present(deriver.transposed(simplified))
                    found.append((f"transpose the result for {result.layout} layout", to_latex(transposed, self.style)))
            except (DeriveError, ValueError):
                pass
        if index is not None and isinstance(claimed_ir, ir.Expr) and self.component:
            found.append((f"replace with the verified index form {index.text}", index.latex))
        if isinstance(claimed_ir, ir.MatrixLit) and result.order <= 2:
            literal = literal_entries(result, len(claimed_ir.rows), len(claimed_ir.rows[0]), self.style)
            if literal is not None:
                found.append((f"write the derivative entry by entry ({result.layout} layout)", literal))
        if closed is not None:
            if result.order >= 3:
                title = f"replace with the Jacobian of vec in Kronecker form, {closed.text}"
            else:
                title = f"replace with the verified derivative {closed.text}"
            found.append((title, closed.latex))
        return found

    def source(self, part: Part) -> str | None:
        node = part.node
        return part.span.text[node.start : node.end] if node.end <= len(part.span.text) else None

    def verified_fix(self, title: str, deriv: ir.Deriv, claimed: Part, replacement: str, on_left: bool) -> Fix | None:
        """A fix replacing ``claimed`` with ``replacement``, if the claim then verifies in this environment."""
        from tensorlint.verify import verify

        new_ir = parse_expression(replacement, self.env, self.config)
        if new_ir is None:
            return None
        left, right = (deriv, new_ir) if on_left else (new_ir, deriv)
        # The replacement comes from a form already checked against the numeric derivative: this second check
        # is of the text as the note will read it, in the note's layout when it has one.
        config = replace(self.config, trials=min(self.config.trials, CHECK_TRIALS))
        outcome = verify(left, right, "=", self.env, config, replacement, only_layout=self.env.layout)
        if outcome.verdict != "verified":
            return None
        edit = self.edit(claimed, replacement)
        return None if edit is None else Fix(title, (edit,))

    def edit(self, part: Part, replacement: str) -> Edit | None:
        """The edit replacing ``part`` in the document with ``replacement``, as the reader sees it; None when
        the part is not one contiguous piece of the file."""
        start, end = part.start, part.end
        written = self.text[start:end]
        source = self.source(part)
        if source is None:
            return None
        if written == source or json.dumps(source, ensure_ascii=False)[1:-1] == written:
            # In a notebook the file holds the cell's JSON string: ``core`` encodes the replacement for it
            # (``extract.encode_notebook_fixes``), whether or not this part needed escapes.
            return Edit(start, end, replacement)
        return None

    # Claims without a derivative ----------------------------------------------------------------------------

    def repair_shape(self) -> Explanation | None:
        """``Xy = vec(Xy)`` with Xy a matrix: the vec of the matrix side, or a transpose, if that holds."""
        from tensorlint.verify import verify

        vec = self.style.function("vec")
        for part, part_ir, other_ir, on_left in (
            (self.left, self.left_ir, self.right_ir, True),
            (self.right, self.right_ir, self.left_ir, False),
        ):
            written = self.source(part)
            if written is None:
                continue
            grouped = written if isinstance(part_ir, ir.Var) else f"({written})"
            side = "left" if on_left else "right"
            for title, replacement in (
                (f"take vec of the {side} side", f"{vec}({written})"),
                (f"transpose the {side} side", grouped + self.style.transpose),
            ):
                new_ir = parse_expression(replacement, self.env, self.config)
                if new_ir is None:
                    continue
                left, right = (new_ir, other_ir) if on_left else (other_ir, new_ir)
                outcome = verify(left, right, "=", self.env, self.config, replacement)
                if outcome.verdict != "verified":
                    continue
                edit = self.edit(part, replacement)
                if edit is None:
                    continue
                message = f"{self.outcome.message}; with {to_text(new_ir)} on the {side} the claim holds"
                return Explanation(message, Fix(title, (edit,)), replacement, to_text(new_ir))
        return None


def apply_fixes(text: str, fixes: list[Fix]) -> str:
    """``text`` with every edit of ``fixes`` applied (see ``select_edits``); applying the fixes of a fixed
    text again changes nothing, since its claims then verify and carry no fixes."""
    return apply_edits(text, select_edits(text, fixes))


def select_edits(text: str, fixes: list[Fix]) -> list[Edit]:
    """The edits of ``fixes`` that can be applied together: those inside the text that do not overlap an
    earlier one (by position, then by the order given), so the result is well defined."""
    edits: list[Edit] = []
    for fix in fixes:
        for edit in fix.edits:
            if not 0 <= edit.start <= edit.end <= len(text):
                continue
            if any(edit.start < other.end and other.start < edit.end for other in edits):
                continue
            if any(edit.start == edit.end == other.start == other.end for other in edits):
                continue
            edits.append(edit)
    return edits


def apply_edits(text: str, edits: list[Edit]) -> str:
    """``text`` with non-overlapping ``edits`` applied."""
    pieces = []
    position = 0
    for edit in sorted(edits, key=lambda item: item.start):
        pieces.append(text[position : edit.start])
        pieces.append(edit.new_text)
        position = edit.end
    pieces.append(text[position:])
    return "".join(pieces)
