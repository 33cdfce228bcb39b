"""Re-checking a note after an edit reuses the verdicts of everything the edit did not touch."""

from __future__ import annotations

from tensorlint.core import check_text
from tensorlint.interpret import ClaimCache

NOTE = """We use denominator layout. Let $A \\in \\mathbb{R}^{n\\times n}$, $x \\in \\mathbb{R}^{n}$.

$$\\frac{\\partial x^T A x}{\\partial x} = (A + A^T) x$$

$$\\operatorname{tr}(A) = \\operatorname{tr}(A^T)$$

$$y = A x$$

$$\\frac{\\partial y}{\\partial x} = A^T$$
"""


def verdicts(result):
    return [(claim.latex, claim.verdict) for claim in result.claims]


def test_an_unchanged_note_is_answered_from_the_cache():
    cache = ClaimCache()
    first = check_text("n.md", NOTE, cache=cache)
    cache.next_run()
    second = check_text("n.md", NOTE, cache=cache)
    assert verdicts(first) == verdicts(second)
    assert cache.hits == 3


def test_an_edit_rechecks_the_edited_claim_and_those_after_a_changed_definition():
    cache = ClaimCache()
    check_text("n.md", NOTE, cache=cache)
    cache.next_run()
    edited = NOTE.replace("(A + A^T) x", "2 A x").replace("y = A x", "y = A^T x")
    result = check_text("n.md", edited, cache=cache)
    # Only the trace identity is reused: the first claim changed, and the last depends on y's new definition.
    assert cache.hits == 1
    assert verdicts(result) == verdicts(check_text("n.md", edited))
    assert [verdict for _, verdict in verdicts(result)] == ["wrong", "verified", "definition", "layout"]


def test_declared_and_defined_names_are_listed_with_their_shapes():
    result = check_text("n.md", NOTE)
    listed = {(symbol.name, symbol.kind, symbol.shape) for symbol in result.symbols}
    assert listed == {("A", "declared", "n×n matrix"), ("x", "declared", "n-vector"), ("y", "defined", "n-vector")}
    (y,) = [symbol for symbol in result.symbols if symbol.name == "y"]
    assert NOTE[y.start : y.end] == "y = A x"
