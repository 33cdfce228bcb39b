"""Layer indices (W^{(1)}) name their own variables, and claim ranges cover whole macro invocations."""

from __future__ import annotations

from pathlib import Path

from tensorlint.core import check_text

NOTE = Path(__file__).parent / "fixtures" / "semantics" / "layers.tex"


def test_layer_indices_and_macros():
    text = NOTE.read_text(encoding="utf-8")
    result = check_text(str(NOTE), text)
    verdicts = [(claim.latex, claim.verdict) for claim in result.claims]
    assert ("\\mathbf{h} = \\mathbf{W}^{(1)} \\x", "definition") in verdicts
    assert ("\\frac{\\partial \\mathbf{h}}{\\partial \\x} = \\mathbf{W}^{(1)\\top}", "verified") in verdicts
    assert ("\\frac{\\partial \\mathbf{h}}{\\partial \\x} = \\x^\\top", "shape") in verdicts
