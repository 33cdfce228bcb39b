"""The grammar ships inside the wheel and is found there, not only in a source checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tensorlint.parse import grammar_path

ROOT = Path(__file__).resolve().parents[1]


def test_grammar_is_found_from_the_checkout():
    assert grammar_path().is_file()
    assert grammar_path().read_text(encoding="utf-8").startswith("// The grammar of one math statement")


def test_wheel_contains_the_grammar(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("tensorlint-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        assert "tensorlint/grammar/math.lark" in names
        assert "tensorlint/parse.py" in names
        packaged = archive.read("tensorlint/grammar/math.lark").decode("utf-8")
    assert packaged == (ROOT / "grammar" / "math.lark").read_text(encoding="utf-8")
