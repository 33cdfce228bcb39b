"""Notebooks: findings point into the file, and the text output says which cell and line."""

from __future__ import annotations

import json

from tensorlint.core import check_text
from tensorlint.report import LineIndex, format_text


def notebook() -> str:
    cells = [
        {
            "cell_type": "markdown",
            "metadata": {},
            "source": ["# Intro\n", "Let $A, B \\in \\mathbb{R}^{n\\times n}$.\n"],
        },
        {"cell_type": "code", "metadata": {}, "source": ["x = '$(AB)^T = A^T B^T$'\n"], "outputs": []},
        {"cell_type": "markdown", "metadata": {}, "source": ["Transposes:\n", "\n", "$$(AB)^T = A^T B^T$$\n"]},
    ]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1)


def test_a_false_claim_in_a_markdown_cell_points_into_the_file():
    text = notebook()
    result = check_text("notes.ipynb", text)
    assert [claim.verdict for claim in result.claims] == ["wrong"]
    (finding,) = [item for item in result.diagnostics if item.code == "TL201"]
    assert text[finding.start : finding.end] == "(AB)^T = A^T B^T"
    line = LineIndex(text).position(finding.start)[0]
    assert "$$(AB)^T = A^T B^T$$" in text.splitlines()[line - 1]


def test_text_output_names_the_cell_and_its_line():
    output = format_text([check_text("notes.ipynb", notebook())])
    assert "(cell 3, line 3) error[TL201]" in output
