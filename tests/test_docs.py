"""The documentation in ``docs/`` is linked from the README, its links resolve, and its examples are true:
configuration files load, the console output shown is what tensorlint prints, workflow and editor
snippets parse, and the suppression examples suppress what they say."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml

from tensorlint import cli, config
from tensorlint.core import check_text
from tensorlint.model import SEVERITY_ORDER

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
EXPECTED_PAGES = {"getting-started", "notation", "verdicts", "configuration", "editors", "pre-commit", "ci"}
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\]\(([^)\s]+)\)")


def blocks(page: str, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall((DOCS / page).read_text(encoding="utf-8")) if lang == language]


def anchors(text: str) -> set[str]:
    headings = re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading).strip().lower().replace(" ", "-") for heading in headings}


def test_every_page_exists_and_is_linked_from_the_readme() -> None:
    assert {page.stem for page in PAGES} >= EXPECTED_PAGES
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for page in PAGES:
        assert f"(docs/{page.name})" in readme, page.name


@pytest.mark.parametrize("page", [*PAGES, ROOT / "README.md"], ids=lambda page: page.name)
def test_relative_links_resolve(page: Path) -> None:
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.exists(), f"{page.name}: {target}"
        if anchor and resolved.suffix == ".md":
            assert anchor in anchors(resolved.read_text(encoding="utf-8")), f"{page.name}: {target}"


def test_the_documentation_math_is_clean(capsys: pytest.CaptureFixture[str]) -> None:
    """Wrong claims in the docs are examples inside code blocks, never claims of the docs themselves."""
    status = cli.main(["check", "--isolated", "--fail-level", "warning", str(DOCS), str(ROOT / "README.md")])
    assert status == 0, capsys.readouterr().out


# --------------------------------------------------------------------------------------------------------
# getting-started.md
# --------------------------------------------------------------------------------------------------------


def test_getting_started_output_is_what_tensorlint_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    note = blocks("getting-started.md", "markdown")[0]
    [console] = [body for body in blocks("getting-started.md", "console") if "tensorlint check notes.md" in body]
    command, _, shown = console.partition("\n")
    (tmp_path / "notes.md").write_text(note)
    monkeypatch.chdir(tmp_path)
    status = cli.main(["check", "--isolated", "notes.md"])
    assert capsys.readouterr().out == shown
    assert command == "$ tensorlint check notes.md" and status == 1
    fixed = note.replace("= 2Ax", "= (A + A^T) x")
    (tmp_path / "notes.md").write_text(fixed)
    assert cli.main(["check", "--isolated", "notes.md"]) == 0
    assert "1 verified" in capsys.readouterr().out


# --------------------------------------------------------------------------------------------------------
# configuration.md
# --------------------------------------------------------------------------------------------------------


def test_configuration_examples_load_and_agree(tmp_path: Path) -> None:
    pyproject_text, standalone_text = blocks("configuration.md", "toml")[:2]
    (tmp_path / "pyproject.toml").write_text(pyproject_text.replace("# pyproject.toml\n", ""))
    (tmp_path / "tensorlint.toml").write_text(standalone_text)
    from_pyproject = config.load_file(str(tmp_path / "pyproject.toml"))
    standalone = config.load_file(str(tmp_path / "tensorlint.toml"))
    assert from_pyproject is not None and standalone is not None
    assert dict(from_pyproject.values) == dict(standalone.values)
    assert from_pyproject.values["layout"] == "denominator"


def test_show_settings_example_is_what_tensorlint_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pyproject_text = blocks("configuration.md", "toml")[0]
    [console] = [body for body in blocks("configuration.md", "console") if "--show-settings" in body]
    command, _, shown = console.partition("\n")
    (tmp_path / "pyproject.toml").write_text(pyproject_text)
    monkeypatch.chdir(tmp_path)
    assert cli.main(command.removeprefix("$ tensorlint ").split()) == 0
    assert capsys.readouterr().out == shown


def test_configuration_error_examples_are_what_tensorlint_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    [console] = [body for body in blocks("configuration.md", "console") if "error:" in body]
    examples = re.findall(r"^\$ tensorlint check\n(tensorlint: error: (\S+): .*)$", console, flags=re.MULTILINE)
    assert len(examples) == 2
    settings = {"pyproject.toml": "[tool.tensorlint]\ntrials = 0\n", "tensorlint.toml": "fail_level = 'error'\n"}
    for message, where in examples:
        folder = tmp_path / where
        folder.mkdir()
        (folder / where).write_text(settings[where])
        monkeypatch.chdir(folder)
        assert cli.main(["check"]) == 2
        assert capsys.readouterr().err == message + "\n"


def test_configuration_documents_every_key_and_flag() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    for key in config.KEYS:
        assert f"| `{key}` |" in text, key
    check = next(
        action.choices["check"]
        for action in cli.build_parser()._actions
        if isinstance(getattr(action, "choices", None), dict) and "check" in action.choices
    )
    flags = {option for action in check._actions for option in action.option_strings if option.startswith("--")}
    for flag in flags - {"--help"}:
        assert f"`{flag}" in text or f"{flag}`" in text, flag


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_suppression_examples_leave_nothing_to_report(page: Path) -> None:
    for language, suffix in (("markdown", ".md"), ("latex", ".tex")):
        for body in blocks(page.name, language):
            if "tensorlint: disable" not in body:
                continue
            result = check_text(f"example{suffix}", body)
            reported = [d for d in result.diagnostics if SEVERITY_ORDER[d.severity] >= SEVERITY_ORDER["warning"]]
            assert not reported, (body, reported)
            assert result.claims, body  # The example has a claim for the directive to act on.


# --------------------------------------------------------------------------------------------------------
# ci.md, pre-commit.md, editors.md
# --------------------------------------------------------------------------------------------------------


def test_ci_workflow_uploads_sarif() -> None:
    workflows = [yaml.safe_load(body) for body in blocks("ci.md", "yaml")]
    workflow = next(flow for flow in workflows if isinstance(flow, dict) and "jobs" in flow)
    assert workflow["permissions"]["security-events"] == "write"
    [job] = workflow["jobs"].values()
    steps = job["steps"]
    check = next(step for step in steps if "tensorlint check" in step.get("run", ""))
    assert "--format sarif" in check["run"] and "> tensorlint.sarif" in check["run"]
    upload = next(step for step in steps if step.get("uses", "").startswith("github/codeql-action/upload-sarif@"))
    assert upload["with"]["sarif_file"] == "tensorlint.sarif"
    assert "always()" in upload["if"] or "cancelled()" in upload["if"]


def test_pre_commit_snippets_parse_and_match_the_hook() -> None:
    snippets = [yaml.safe_load(body) for body in blocks("pre-commit.md", "yaml")]
    [manifest] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert snippets[0]["repos"][0]["hooks"][0]["id"] == manifest["id"]
    text = (DOCS / "pre-commit.md").read_text(encoding="utf-8")
    for tag in manifest["types_or"]:
        assert f"`{tag}`" in text


def test_helix_configuration_parses() -> None:
    [helix] = [body for body in blocks("editors.md", "toml") if "language-server" in body]
    languages = tomllib.loads(helix)
    server = languages["language-server"]["tensorlint"]
    assert (server["command"], server["args"]) == ("tensorlint", ["serve"])
    assert all("tensorlint" in language["language-servers"] for language in languages["language"])


def test_editors_cover_the_four_editors() -> None:
    text = (DOCS / "editors.md").read_text(encoding="utf-8")
    for heading in ("## VS Code", "## Neovim", "## Helix", "## Emacs (eglot)"):
        assert heading in text
    assert "tensorlint serve" in text and "eglot-server-programs" in text
