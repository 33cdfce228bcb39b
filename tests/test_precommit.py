"""The pre-commit hook: ``.pre-commit-hooks.yaml`` is valid, and ``pre-commit try-repo`` installs this
repository into its own environment (with pip, from a local clone: no network but the package index) and
runs the hook on sample notes in a fresh git repository.

The repository is snapshotted first (tracked and untracked files, as git would list them), so the test sees
the working tree, committed or not; ``PRE_COMMIT_HOME`` is a temporary folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRE_COMMIT = Path(sys.executable).with_name("pre-commit")

pytestmark = pytest.mark.skipif(
    not PRE_COMMIT.exists() or shutil.which("git") is None or not (ROOT / ".git").exists(),
    reason="needs pre-commit (the dev extra), git and a git checkout",
)

WRONG = "We use denominator layout. Let $a, x \\in \\mathbb{R}^n$.\n\n$$\\frac{\\partial a^T x}{\\partial x} = 2a$$\n"
RIGHT = "We use denominator layout. Let $a, x \\in \\mathbb{R}^n$.\n\n$$\\frac{\\partial a^T x}{\\partial x} = a$$\n"


def git(*args: str, cwd: Path) -> str:
    environment = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    completed = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    return completed.stdout


def pre_commit(*args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never", "NO_COLOR": "1"}
    environment.pop("VIRTUAL_ENV", None)
    return subprocess.run(
        [str(PRE_COMMIT), *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A committed copy of the working tree."""
    target = tmp_path_factory.mktemp("tensorlint-snapshot")
    listed = git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT).split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    git("init", "-q", cwd=target)
    git("add", "-A", cwd=target)
    git("commit", "-q", "-m", "snapshot", cwd=target)
    return target


def test_manifest_and_config_are_valid(tmp_path: Path) -> None:
    for command, name in (
        ("validate-manifest", ".pre-commit-hooks.yaml"),
        ("validate-config", ".pre-commit-config.yaml"),
    ):
        completed = pre_commit(command, name, cwd=ROOT, home=tmp_path)
        assert completed.returncode == 0, completed.stdout + completed.stderr


def test_hook_types_are_known_to_identify() -> None:
    import yaml  # pre-commit depends on PyYAML and identify.
    from identify.identify import ALL_TAGS, tags_from_filename

    [hook] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "tensorlint" and hook["entry"] == "tensorlint check" and hook["language"] == "python"
    assert set(hook["types_or"]) == {"markdown", "tex", "quarto", "jupyter"}
    assert set(hook["types_or"]) <= ALL_TAGS
    for name in ("a.md", "a.markdown", "a.tex", "a.qmd", "a.ipynb"):
        assert tags_from_filename(name) & set(hook["types_or"]), name


def test_try_repo_runs_the_hook_on_sample_notes(snapshot: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "wrong.md").write_text(WRONG)
    (notes / "right.md").write_text(RIGHT)
    (notes / "paper.tex").write_text(RIGHT.replace("$$", "\\[", 1).replace("a$$", "a\\]"))
    (notes / "script.py").write_text("x = '$$\\frac{\\partial a^T x}{\\partial x} = 2a$$'\n")  # Not a note.
    (notes / "drafts").mkdir()
    (notes / "drafts" / "scratch.md").write_text(WRONG)
    (notes / "tensorlint.toml").write_text('exclude = ["drafts"]\n')
    git("init", "-q", cwd=notes)
    git("add", "-A", cwd=notes)
    home = tmp_path / "pre-commit-home"

    completed = pre_commit("try-repo", str(snapshot), "tensorlint", "--all-files", cwd=notes, home=home)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 1, output
    assert "wrong.md:3:3: error[TL201]" in output
    assert "right.md" not in output  # Checked, nothing to say.
    assert "scratch.md" not in output  # Excluded by the notes' configuration.
    assert "script.py" not in output
    assert "2 files, " in output or "3 files, " in output

    (notes / "wrong.md").write_text(RIGHT)
    git("add", "-A", cwd=notes)
    completed = pre_commit("try-repo", str(snapshot), "tensorlint", "--all-files", cwd=notes, home=home)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "tensorlint" in completed.stdout and "Passed" in completed.stdout
