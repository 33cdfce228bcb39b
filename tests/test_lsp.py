"""End-to-end tests of the language server: the real ``tensorlint serve`` in a subprocess, driven by pytest-lsp.

Each feature is exercised the way an editor uses it: open, edit, save, hover, code actions, inlay hints,
pulled diagnostics, notebooks, settings, and what must never happen (a stale result shown over a newer
one, a crash on a malformed message).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pytest_lsp")

import pytest_lsp
from lsprotocol import types
from pygls.protocol import default_converter
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

pytestmark = pytest.mark.asyncio(loop_scope="module")

SEED = Path(__file__).parent / "corpus" / "seeds" / "000_a2d71986ee5a6ed8.md"
SERVE = [sys.executable, "-m", "tensorlint", "serve", "--stdio"]
WAIT = 60.0

DECLARED = "Let $A$ be a $n\\times n$ matrix and $x \\in \\mathbb{R}^{n}$.\n\n"
FALSE_CLAIM = "$$\\frac{\\partial x^T A x}{\\partial x} = 2 A x$$\n"
TRUE_CLAIM = "$$\\frac{\\partial x^T A x}{\\partial x} = (A + A^T) x$$\n"
# True in denominator layout only: the layout the project or the client sets decides.
GRADIENT = r"""Let $a \in \mathbb{R}^{n}$ and $x \in \mathbb{R}^{n}$.

$$\frac{\partial a^T x}{\partial x} = a$$
"""
NEW_NAME = "$$\\frac{\\partial v^T x}{\\partial x} = 2 v$$\n"


# --------------------------------------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------------------------------------


class RecordingClient(LanguageClient):
    """pytest-lsp's client, keeping every published diagnostics message (not only the last per document)."""

    published: list[types.PublishDiagnosticsParams]


def make_client() -> LanguageClient:
    client = RecordingClient(converter_factory=default_converter)
    client.published = []

    def publish(client: RecordingClient, params: types.PublishDiagnosticsParams) -> None:
        client.diagnostics[params.uri] = params.diagnostics
        client.published.append(params)

    def refresh_inlay_hints(client: RecordingClient, params: None) -> None:
        client.inlay_hint_refreshes = getattr(client, "inlay_hint_refreshes", 0) + 1

    features = {
        **DEFAULT_CLIENT_FEATURES,
        types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS: publish,
        types.WORKSPACE_INLAY_HINT_REFRESH: refresh_inlay_hints,
    }
    register_lsp_features(client, features)
    return client


def config(command: list[str] = SERVE) -> ClientServerConfig:
    return ClientServerConfig(server_command=command, client_factory=make_client)


def vscode_capabilities() -> types.ClientCapabilities:
    """VS Code as pytest-lsp records it (push diagnostics, UTF-16), with inlay hints and notebooks."""
    capabilities = client_capabilities("visual-studio-code")
    assert capabilities.text_document is not None
    capabilities.text_document.inlay_hint = types.InlayHintClientCapabilities()
    capabilities.notebook_document = types.NotebookDocumentClientCapabilities(
        synchronization=types.NotebookDocumentSyncClientCapabilities()
    )
    assert capabilities.workspace is not None
    capabilities.workspace.inlay_hint = types.InlayHintWorkspaceClientCapabilities(refresh_support=True)
    return capabilities


async def start(client: LanguageClient, capabilities: types.ClientCapabilities, settings: dict[str, Any]) -> None:
    client.set_configuration({"tensorlint": settings})
    await client.initialize_session(types.InitializeParams(capabilities=capabilities, root_uri=NOTES.as_uri()))


@pytest_lsp.fixture(config=config(), scope="module")
async def client(lsp_client: LanguageClient):
    """VS Code-like: diagnostics pushed, UTF-16 positions, a short debounce."""
    await start(lsp_client, vscode_capabilities(), {"debounce": 50})
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=config(), scope="module")
async def pulling(lsp_client: LanguageClient):
    """Neovim 0.11: diagnostics pulled, UTF-8 positions first in its list."""
    await start(lsp_client, client_capabilities("neovim@v0.11"), {"debounce": 50})
    yield
    await lsp_client.shutdown_session()


# --------------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------------

_uris = iter(range(10**6))
# Notes live (in name only) outside the repository, so that its configuration never applies to them.
NOTES = Path(tempfile.mkdtemp(prefix="tensorlint-lsp-"))


def uri_for(suffix: str = ".md") -> str:
    return (NOTES / f"note-{next(_uris)}{suffix}").as_uri()


def open_note(client: LanguageClient, text: str, suffix: str = ".md", language: str = "markdown") -> str:
    uri = uri_for(suffix)
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(types.TextDocumentItem(uri=uri, language_id=language, version=1, text=text))
    )
    return uri


def change(client: LanguageClient, uri: str, version: int, text: str) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


async def published(client: LanguageClient, uri: str, version: int | None = None) -> list[types.Diagnostic]:
    """The diagnostics published for ``uri`` (for ``version``, when given), once they arrive."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        for params in reversed(client.published):  # type: ignore[attr-defined]
            if params.uri == uri and (version is None or params.version == version):
                return list(params.diagnostics)
        await asyncio.sleep(0.02)
    raise AssertionError(f"no diagnostics for {uri} version {version}")


def codes(diagnostics: list[types.Diagnostic]) -> list[tuple[Any, int]]:
    return [(diagnostic.code, diagnostic.range.start.line) for diagnostic in diagnostics]


async def hover_at(client: LanguageClient, uri: str, line: int, character: int) -> str:
    result = await client.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier(uri), types.Position(line, character))
    )
    assert result is not None
    assert isinstance(result.contents, types.MarkupContent)
    return result.contents.value


async def actions_for(client: LanguageClient, uri: str, diagnostics: list[types.Diagnostic]) -> list[types.CodeAction]:
    result = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri),
            range=diagnostics[0].range,
            context=types.CodeActionContext(diagnostics=diagnostics),
        )
    )
    return [action for action in result or [] if isinstance(action, types.CodeAction)]


def edits_of(action: types.CodeAction) -> list[types.TextEdit]:
    assert action.edit is not None
    if action.edit.changes:
        return [edit for edits in action.edit.changes.values() for edit in edits]
    changes = action.edit.document_changes or []
    return [edit for change in changes if isinstance(change, types.TextDocumentEdit) for edit in change.edits]  # type: ignore[misc]


# --------------------------------------------------------------------------------------------------------
# Diagnostics
# --------------------------------------------------------------------------------------------------------


async def test_the_seed_note_gets_its_error_on_line_22(client: LanguageClient):
    uri = open_note(client, SEED.read_text(encoding="utf-8"))
    diagnostics = await published(client, uri, version=1)
    errors = [d for d in diagnostics if d.severity == types.DiagnosticSeverity.Error]
    assert ("TL202", 21) in codes(errors)
    line_22 = next(d for d in errors if d.range.start.line == 21)
    assert "third-order tensor n×n×m" in line_22.message
    assert line_22.source == "tensorlint"
    assert (line_22.range.start.character, line_22.range.end.character) == (3, 97)
    assert line_22.data["name"] == "impossible-derivative-shape"


async def test_quick_edits_publish_once_for_the_last_version(client: LanguageClient):
    uri = open_note(client, DECLARED + TRUE_CLAIM)
    assert codes(await published(client, uri, version=1)) == []
    change(client, uri, 2, DECLARED + FALSE_CLAIM)
    change(client, uri, 3, DECLARED + TRUE_CLAIM)
    change(client, uri, 4, DECLARED + FALSE_CLAIM)
    assert codes(await published(client, uri, version=4)) == [("TL201", 2)]
    await asyncio.sleep(0.3)
    versions = [p.version for p in client.published if p.uri == uri]  # type: ignore[attr-defined]
    assert versions == [1, 4], "intermediate versions within the debounce are never published"


async def test_save_checks_at_once_without_waiting_for_the_debounce(client: LanguageClient):
    client.set_configuration({"tensorlint": {"debounce": 60_000}})
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    try:
        uri = open_note(client, DECLARED + TRUE_CLAIM)
        await published(client, uri, version=1)
        change(client, uri, 2, DECLARED + FALSE_CLAIM)
        await asyncio.sleep(0.3)
        assert not [p for p in client.published if p.uri == uri and p.version == 2]  # type: ignore[attr-defined]
        client.text_document_did_save(types.DidSaveTextDocumentParams(types.TextDocumentIdentifier(uri)))
        assert codes(await published(client, uri, version=2)) == [("TL201", 2)]
    finally:
        client.set_configuration({"tensorlint": {"debounce": 50}})
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))


async def test_closing_a_note_clears_its_diagnostics(client: LanguageClient):
    uri = open_note(client, DECLARED + FALSE_CLAIM)
    assert codes(await published(client, uri, version=1)) == [("TL201", 2)]
    count = len(client.published)  # type: ignore[attr-defined]
    client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri)))
    deadline = time.monotonic() + WAIT
    while not [p for p in client.published[count:] if p.uri == uri and not p.diagnostics]:  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "the diagnostics of a closed note were not cleared"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize(
    ("language", "suffix", "text"),
    [
        ("quarto", ".qmd", "---\ntitle: q\n---\n\n" + DECLARED + FALSE_CLAIM),
        ("rmd", ".Rmd", DECLARED + FALSE_CLAIM),
        ("latex", ".tex", "\\begin{document}\n" + DECLARED + FALSE_CLAIM.replace("$$", "\\[", 1)[:-3] + "\\]\n"),
        ("latex", "", DECLARED + FALSE_CLAIM),  # An untitled LaTeX buffer: its language gives the format.
        ("gfm", ".md", DECLARED + FALSE_CLAIM),  # Emacs' name for Markdown: the file name tells.
    ],
)
async def test_every_note_language_is_checked(client: LanguageClient, language: str, suffix: str, text: str):
    uri = open_note(client, text, suffix=suffix, language=language)
    assert [code for code, _ in codes(await published(client, uri, version=1))] == ["TL201"]


async def test_other_languages_are_left_alone(client: LanguageClient):
    uri = open_note(client, DECLARED + FALSE_CLAIM, suffix=".py", language="python")
    await asyncio.sleep(0.3)
    assert not [p for p in client.published if p.uri == uri]  # type: ignore[attr-defined]


async def test_positions_count_utf16_code_units(client: LanguageClient):
    # 𝐀 (outside the Basic Multilingual Plane) is two UTF-16 code units, one code point.
    text = DECLARED + "Note 𝐀: " + FALSE_CLAIM.replace("$$", "$").rstrip() + "\n"
    uri = open_note(client, text)
    (diagnostic,) = await published(client, uri, version=1)
    assert diagnostic.range.start == types.Position(2, len("Note 𝐀: $") + 1)


# --------------------------------------------------------------------------------------------------------
# Hover
# --------------------------------------------------------------------------------------------------------


async def test_hover_on_a_false_claim_names_the_verdict_and_the_reason(client: LanguageClient):
    uri = open_note(client, SEED.read_text(encoding="utf-8"))
    await published(client, uri, version=1)
    line = SEED.read_text(encoding="utf-8").splitlines()[21]
    text = await hover_at(client, uri, 21, line.index("\\partial W") + 2)
    assert "**tensorlint: shapes cannot agree**" in text
    assert "TL202 impossible-derivative-shape: d(Wx)/dW is a third-order tensor n×n×m" in text


async def test_hover_on_a_name_gives_its_shape_and_where_it_was_declared(client: LanguageClient):
    uri = open_note(client, SEED.read_text(encoding="utf-8"))
    await published(client, uri, version=1)
    line = SEED.read_text(encoding="utf-8").splitlines()[21]
    text = await hover_at(client, uri, 21, line.index("\\partial W") + len("\\partial "))
    assert text.startswith("`W`: n×m matrix, stated on line 1 in words")
    assert "tensorlint: shapes cannot agree" in text  # The claim around the name follows.


async def test_hover_on_a_derivative_gives_its_shape_and_verified_forms(client: LanguageClient):
    uri = open_note(client, SEED.read_text(encoding="utf-8"))
    await published(client, uri, version=1)
    line = SEED.read_text(encoding="utf-8").splitlines()[21]
    # A hover never waits long for a derivative: the first may say it is being worked out; a later one
    # shows the forms.
    for _ in range(int(WAIT / 0.1)):
        text = await hover_at(client, uri, 21, line.index("\\cfrac") + 2)
        if "working out" not in text:
            break
        await asyncio.sleep(0.1)
    derivative = text.split("---")[0]
    assert derivative.startswith("**∂(W\\mathbf{x})/∂W**: third-order tensor n×n×m")
    assert "index form: `\\frac{\\partial (W \\mathbf{x})_{i}}{\\partial W_{kl}} = \\delta_{ik} x_{l}`" in derivative


async def test_hover_on_a_verified_claim_and_on_prose(client: LanguageClient):
    uri = open_note(client, DECLARED + TRUE_CLAIM)
    await published(client, uri, version=1)
    text = await hover_at(client, uri, 2, TRUE_CLAIM.index("(A + A^T)"))
    assert text.startswith("**tensorlint: verified** (denominator layout)")
    assert "holds" in text
    result = await client.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier(uri), types.Position(0, 1))
    )
    assert result is None


async def test_hover_on_a_name_with_a_declaration_in_math(client: LanguageClient):
    uri = open_note(client, DECLARED + TRUE_CLAIM)
    await published(client, uri, version=1)
    text = await hover_at(client, uri, 2, TRUE_CLAIM.index("x^T"))
    assert text.startswith("`x`: n-vector, stated on line 1: ")


# --------------------------------------------------------------------------------------------------------
# Code actions
# --------------------------------------------------------------------------------------------------------


async def test_a_finding_can_be_suppressed_on_its_line(client: LanguageClient):
    uri = open_note(client, DECLARED + "- item\n\n  " + FALSE_CLAIM)
    diagnostics = await published(client, uri, version=1)
    actions = await actions_for(client, uri, diagnostics)
    suppress = next(action for action in actions if action.title == "Suppress TL201 on this line")
    (edit,) = edits_of(suppress)
    assert edit.new_text == "  <!-- tensorlint: disable-next-line TL201 -->\n"
    assert edit.range.start == edit.range.end == types.Position(4, 0)


async def test_a_suppression_in_latex_is_a_comment(client: LanguageClient):
    text = r"""Let $W \in \mathbb{R}^{n\times m}$, $x \in \mathbb{R}^m$.
\[ \frac{\partial W x}{\partial W} = x^T \]
"""
    uri = open_note(client, text, suffix=".tex", language="latex")
    diagnostics = await published(client, uri, version=1)
    actions = await actions_for(client, uri, diagnostics)
    (edit,) = edits_of(next(action for action in actions if action.title.startswith("Suppress TL202")))
    assert edit.new_text == "% tensorlint: disable-next-line TL202\n"
    assert edit.range.start == types.Position(1, 0)


async def test_a_suppression_for_math_inside_a_display_goes_above_the_display(client: LanguageClient):
    text = DECLARED + "$$\n" + FALSE_CLAIM.strip("$\n") + "\n$$\n"
    uri = open_note(client, text)
    diagnostics = await published(client, uri, version=1)
    assert codes(diagnostics) == [("TL201", 3)]
    actions = await actions_for(client, uri, diagnostics)
    (edit,) = edits_of(next(action for action in actions if action.title.startswith("Suppress")))
    assert edit.range.start == types.Position(2, 0)


async def test_a_name_of_unknown_shape_can_be_declared(client: LanguageClient):
    uri = open_note(client, DECLARED + NEW_NAME)
    diagnostics = await published(client, uri, version=1)
    assert codes(diagnostics) == [("TL205", 2)]
    actions = await actions_for(client, uri, diagnostics)
    declare = next(action for action in actions if action.title.startswith("Declare the shape of v"))
    (edit,) = edits_of(declare)
    assert edit.new_text == "<!-- tensorlint: v \\in \\mathbb{R}^{n} -->\n"
    assert edit.range.start == types.Position(2, 0)


async def test_a_fix_from_the_core_becomes_the_preferred_quick_fix(client: LanguageClient):
    """The checker's fix travels in the diagnostic's data; the action applies it as it is."""
    uri = open_note(client, DECLARED + FALSE_CLAIM)
    (diagnostic,) = await published(client, uri, version=1)
    fix = diagnostic.data["fix"]
    actions = await actions_for(client, uri, [diagnostic])
    preferred = actions[0]
    assert (preferred.title, preferred.is_preferred, preferred.kind) == (
        fix["title"],
        True,
        types.CodeActionKind.QuickFix,
    )
    assert [edit["newText"] for edit in fix["edits"]] == ["(A + A^T) x"], fix
    assert [(_range(edit.range), edit.new_text) for edit in edits_of(preferred)] == [
        (edit["range"], edit["newText"]) for edit in fix["edits"]
    ]
    # Once the text has changed, the fix (computed for the old text) is no longer offered.
    change(client, uri, 2, DECLARED + "\n" + FALSE_CLAIM)
    assert all(not action.is_preferred for action in await actions_for(client, uri, [diagnostic]))


async def test_code_actions_only_for_diagnostics_the_server_published(client: LanguageClient):
    """A client may send back any diagnostic that says it comes from tensorlint: only the server's own get
    actions, and a fix is never taken from the data a client sends."""
    uri = open_note(client, DECLARED + FALSE_CLAIM)
    (diagnostic,) = await published(client, uri, version=1)
    replacement = types.Range(types.Position(2, 3), types.Position(2, 8))
    forged_fix = {"version": 1, "fix": {"title": "Delete", "edits": [{"range": _range(replacement), "newText": ""}]}}
    forgeries = [
        types.Diagnostic(diagnostic.range, "made up", code="TL201", source="tensorlint", data=forged_fix),
        types.Diagnostic(replacement, diagnostic.message, code="TL201", source="tensorlint", data=forged_fix),
        types.Diagnostic(diagnostic.range, diagnostic.message, code="TL203", source="tensorlint", data=forged_fix),
        types.Diagnostic(diagnostic.range, diagnostic.message, code=diagnostic.code, source="other"),
    ]
    for forged in forgeries:
        assert await actions_for(client, uri, [forged]) == [], forged
    # The server's own diagnostic with forged data: the server's fix, not the client's.
    own = types.Diagnostic(diagnostic.range, diagnostic.message, code="TL201", source="tensorlint", data=forged_fix)
    actions = await actions_for(client, uri, [own])
    assert actions and actions[0].title != "Delete"
    assert [edit.new_text for edit in edits_of(actions[0])] == [e["newText"] for e in diagnostic.data["fix"]["edits"]]


def _range(value: types.Range) -> dict[str, Any]:
    return {
        "start": {"line": value.start.line, "character": value.start.character},
        "end": {"line": value.end.line, "character": value.end.character},
    }


# --------------------------------------------------------------------------------------------------------
# Inlay hints, settings
# --------------------------------------------------------------------------------------------------------


async def test_inlay_hints_mark_verified_claims_and_shapes_told_in_words(client: LanguageClient):
    text = DECLARED + TRUE_CLAIM + "\n" + FALSE_CLAIM
    uri = open_note(client, text)
    await published(client, uri, version=1)
    hints = await client.text_document_inlay_hint_async(
        types.InlayHintParams(
            text_document=types.TextDocumentIdentifier(uri),
            range=types.Range(types.Position(0, 0), types.Position(10, 0)),
        )
    )
    assert hints is not None
    labels = [(hint.position.line, hint.label) for hint in hints]
    assert (2, "✓") in labels
    assert (0, "A: n×n matrix") in labels
    assert not [label for line, label in labels if line == 4], "no mark on a false claim"


async def test_inlay_hints_can_be_turned_off(client: LanguageClient):
    uri = open_note(client, DECLARED + TRUE_CLAIM)
    await published(client, uri, version=1)
    visible = types.Range(types.Position(0, 0), types.Position(10, 0))
    request = types.InlayHintParams(text_document=types.TextDocumentIdentifier(uri), range=visible)
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"tensorlint": {"debounce": 50, "inlayHints": False}})
    )
    try:
        for _ in range(int(WAIT / 0.05)):
            if not await client.text_document_inlay_hint_async(request):
                break
            await asyncio.sleep(0.05)
        assert not await client.text_document_inlay_hint_async(request)
    finally:
        client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"tensorlint": {"debounce": 50}})
        )
    await asyncio.sleep(0.2)
    assert await client.text_document_inlay_hint_async(request)


async def test_client_settings_change_the_checks(client: LanguageClient):
    uri = open_note(client, GRADIENT)
    assert codes(await published(client, uri, version=1)) == []
    # Settings pulled with workspace/configuration after a change notification.
    count = len(client.published)  # type: ignore[attr-defined]
    client.set_configuration({"tensorlint": {"debounce": 50, "layout": "numerator"}})
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    (diagnostic,) = await published_after(client, uri, count)
    assert diagnostic.code == "TL203" and "set by the configuration" in diagnostic.message
    # Settings pushed with the notification itself; a malformed value is reported and ignored.
    count = len(client.published)  # type: ignore[attr-defined]
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"tensorlint": {"debounce": 50, "trials": "many"}})
    )
    assert await published_after(client, uri, count) == []
    assert any("tensorlint.trials" in message.message for message in client.log_messages)
    client.set_configuration({"tensorlint": {"debounce": 50}})


async def published_after(client: LanguageClient, uri: str, count: int) -> list[types.Diagnostic]:
    """The first diagnostics published for ``uri`` after the first ``count`` messages."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        later = [params for params in client.published[count:] if params.uri == uri]  # type: ignore[attr-defined]
        if later:
            return list(later[0].diagnostics)
        await asyncio.sleep(0.02)
    raise AssertionError(f"no new diagnostics for {uri}")


async def test_the_project_configuration_applies_under_the_client_settings(client: LanguageClient, tmp_path: Path):
    (tmp_path / "tensorlint.toml").write_text('layout = "numerator"\nexclude = ["drafts"]\n', encoding="utf-8")
    text = GRADIENT
    note = (tmp_path / "note.md").as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(types.TextDocumentItem(uri=note, language_id="markdown", version=1, text=text))
    )
    assert codes(await published(client, note, version=1)) == [("TL203", 2)]
    draft = (tmp_path / "drafts" / "draft.md").as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(types.TextDocumentItem(uri=draft, language_id="markdown", version=1, text=text))
    )
    assert await published(client, draft, version=1) == []
    # The client's layout wins over the project's, as a command-line flag does.
    count = len(client.published)  # type: ignore[attr-defined]
    client.set_configuration({"tensorlint": {"debounce": 50, "layout": "denominator"}})
    client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    try:
        assert await published_after(client, note, count) == []
    finally:
        client.set_configuration({"tensorlint": {"debounce": 50}})
        client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))


# --------------------------------------------------------------------------------------------------------
# Notebooks
# --------------------------------------------------------------------------------------------------------


async def test_notebook_markdown_cells_are_one_note(client: LanguageClient):
    notebook = uri_for(".ipynb")
    cells = [
        ("markdown", DECLARED),
        ("python", "x = 1  # $not math$\n"),
        ("markdown", "Then\n\n" + FALSE_CLAIM),
    ]
    cell_uris = [f"vscode-notebook-cell:{notebook[len('file:') :]}#{index}" for index in range(len(cells))]
    client.notebook_document_did_open(
        types.DidOpenNotebookDocumentParams(
            notebook_document=types.NotebookDocument(
                uri=notebook,
                notebook_type="jupyter-notebook",
                version=1,
                cells=[
                    types.NotebookCell(
                        kind=types.NotebookCellKind.Markup if language == "markdown" else types.NotebookCellKind.Code,
                        document=cell_uri,
                    )
                    for cell_uri, (language, _) in zip(cell_uris, cells, strict=True)
                ],
            ),
            cell_text_documents=[
                types.TextDocumentItem(uri=cell_uri, language_id=language, version=1, text=text)
                for cell_uri, (language, text) in zip(cell_uris, cells, strict=True)
            ],
        )
    )
    # The claim in the third cell uses the declarations of the first.
    assert codes(await published(client, cell_uris[2], version=1)) == [("TL201", 2)]
    assert codes(await published(client, cell_uris[0], version=1)) == []
    text = await hover_at(client, cell_uris[2], 2, FALSE_CLAIM.index("x^T"))
    assert text.startswith("`x`: n-vector, stated on line 1 of another cell: ")
    assert "tensorlint: false" in text

    client.notebook_document_did_change(
        types.DidChangeNotebookDocumentParams(
            notebook_document=types.VersionedNotebookDocumentIdentifier(version=2, uri=notebook),
            change=types.NotebookDocumentChangeEvent(
                cells=types.NotebookDocumentCellChanges(
                    text_content=[
                        types.NotebookDocumentCellContentChanges(
                            document=types.VersionedTextDocumentIdentifier(uri=cell_uris[2], version=2),
                            changes=[types.TextDocumentContentChangeWholeDocument(text="Then\n\n" + TRUE_CLAIM)],
                        )
                    ]
                )
            ),
        )
    )
    assert codes(await published(client, cell_uris[2], version=2)) == []


# --------------------------------------------------------------------------------------------------------
# Pulled diagnostics (Neovim 0.11 capabilities: pull, UTF-8)
# --------------------------------------------------------------------------------------------------------


async def test_diagnostics_are_pulled_when_the_client_can(pulling: LanguageClient):
    uri = open_note(pulling, "Note é: " + DECLARED + FALSE_CLAIM)
    report = await pulling.text_document_diagnostic_async(
        types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri))
    )
    assert isinstance(report, types.RelatedFullDocumentDiagnosticReport)
    assert codes(list(report.items)) == [("TL201", 2)]
    again = await pulling.text_document_diagnostic_async(
        types.DocumentDiagnosticParams(
            text_document=types.TextDocumentIdentifier(uri), previous_result_id=report.result_id
        )
    )
    assert isinstance(again, types.RelatedUnchangedDocumentDiagnosticReport)
    change(pulling, uri, 2, "Note é: " + DECLARED + TRUE_CLAIM)
    fresh = await pulling.text_document_diagnostic_async(
        types.DocumentDiagnosticParams(
            text_document=types.TextDocumentIdentifier(uri), previous_result_id=report.result_id
        )
    )
    assert isinstance(fresh, types.RelatedFullDocumentDiagnosticReport)
    assert list(fresh.items) == []
    assert not [p for p in pulling.published if p.uri == uri], "never pushed as well"  # type: ignore[attr-defined]


async def test_positions_count_utf8_bytes_when_negotiated(pulling: LanguageClient):
    text = "Note é: " + FALSE_CLAIM.replace("$$", "$").rstrip() + "\n"
    uri = open_note(pulling, DECLARED + text)
    report = await pulling.text_document_diagnostic_async(
        types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri))
    )
    assert isinstance(report, types.RelatedFullDocumentDiagnosticReport)
    (diagnostic,) = report.items
    assert diagnostic.range.start == types.Position(2, len("Note é: $".encode()))


# --------------------------------------------------------------------------------------------------------
# Robustness: bad input, malformed messages, checker failures, cancellation
# --------------------------------------------------------------------------------------------------------


async def test_hostile_notes_get_diagnostics_not_a_crash(client: LanguageClient):
    for text in ("$" + "{" * 10_000 + "$\n", "$$\\mathbb{R}^{10^{12}}$$\n\x00\x1b[31m", "$$" * 5001, ""):
        uri = open_note(client, text)
        await published(client, uri, version=1)
    uri = open_note(client, DECLARED + FALSE_CLAIM)
    assert codes(await published(client, uri, version=1)) == [("TL201", 2)]


async def test_malformed_messages_get_errors_and_the_server_goes_on(client: LanguageClient):
    def send(message: dict[str, Any]) -> None:
        client.protocol._send_data({"jsonrpc": "2.0", **message})  # Raw JSON, past the client's own types.

    send({"method": types.TEXT_DOCUMENT_DID_OPEN, "params": {"textDocument": {"uri": 5}}})
    send({"method": types.TEXT_DOCUMENT_DID_CHANGE, "params": {"textDocument": {"uri": "file:///no.md", "version": 3}}})
    send({"method": "tensorlint/unknown", "params": {"x": 1}})
    reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    client.protocol._request_futures["bad-hover"] = reply  # type: ignore[assignment]
    send({"id": "bad-hover", "method": types.TEXT_DOCUMENT_HOVER, "params": {"textDocument": 7, "position": "top"}})
    with pytest.raises(Exception, match=r"(?i)invalid"):
        await asyncio.wait_for(reply, WAIT)
    # A hover on a document the server never saw.
    hover = await client.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier("file:///never-opened.md"), types.Position(0, 0))
    )
    assert hover is None
    uri = open_note(client, DECLARED + FALSE_CLAIM)
    assert codes(await published(client, uri, version=1)) == [("TL201", 2)]


FAULTY_WORKER = """
import time
import tensorlint.core, tensorlint.extract, tensorlint.lsp_worker

real_check, real_extract = tensorlint.core.check_text, tensorlint.extract.extract

def check_text(path, text, config=None, cache=None, explainer=None):
    if "CRASH" in text:
        raise RuntimeError("boom in the checker")
    if "SLOW" in text:
        # A long check that still looks at its cache between claims, as the real one does.
        for _ in range(400):
            cache.get(("", "", "", ""))
            time.sleep(0.05)
    if "STUCK" in text:
        # A check stuck inside one step (as a regular expression over a hostile note can be): it never looks
        # at its cache, and holds the interpreter lock.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            sum(range(10_000))
    return real_check(path, text, config, cache, explainer)

def extract(path, text):
    if "BROKEN" in text:
        raise ValueError("extraction failed")
    return real_extract(path, text)

tensorlint.core.check_text = check_text
tensorlint.extract.extract = extract
raise SystemExit(tensorlint.lsp_worker.main())
"""
# The real server, with a checker process that fails or is slow on demand.
FAULTY_SERVER = f"""
import sys
import tensorlint.lsp
tensorlint.lsp.WORKER_COMMAND = [sys.executable, "-c", {FAULTY_WORKER!r}]
raise SystemExit(tensorlint.lsp.main())
"""


@pytest_lsp.fixture(config=config([sys.executable, "-c", FAULTY_SERVER]), scope="module")
async def faulty(lsp_client: LanguageClient):
    """A server whose checker fails or is slow on demand."""
    await start(lsp_client, vscode_capabilities(), {"debounce": 50})
    yield
    await lsp_client.shutdown_session()


async def test_a_checker_failure_is_a_TL900_diagnostic_and_a_log_message(faulty: LanguageClient):
    for marker, logged in (("CRASH", "boom in the checker"), ("BROKEN", "extraction failed")):
        uri = open_note(faulty, f"{marker}\n\n" + DECLARED + FALSE_CLAIM)
        (diagnostic,) = await published(faulty, uri, version=1)
        assert diagnostic.code == "TL900"
        assert diagnostic.severity == types.DiagnosticSeverity.Warning
        assert any(logged in message.message for message in faulty.log_messages)
    uri = open_note(faulty, DECLARED + FALSE_CLAIM)
    assert codes(await published(faulty, uri, version=1)) == [("TL201", 2)]


async def test_an_edit_cancels_a_long_check(faulty: LanguageClient):
    uri = open_note(faulty, "SLOW\n\n" + DECLARED + TRUE_CLAIM)
    await asyncio.sleep(0.3)
    started = time.monotonic()
    change(faulty, uri, 2, DECLARED + FALSE_CLAIM)
    assert codes(await published(faulty, uri, version=2)) == [("TL201", 2)]
    # Without cancellation the slow check would hold the note for 20 seconds.
    assert time.monotonic() - started < 10
    assert [p.version for p in faulty.published if p.uri == uri] == [2]  # type: ignore[attr-defined]


async def test_an_edit_ends_a_check_that_does_not_stop_and_hovers_go_on(faulty: LanguageClient):
    """A check stuck in one step never sees that it was cancelled: its process is ended and started again.
    Meanwhile hovers, on this note and others, are answered from the last results."""
    other = open_note(faulty, DECLARED + FALSE_CLAIM)
    await published(faulty, other, version=1)
    uri = open_note(faulty, DECLARED + FALSE_CLAIM)
    await published(faulty, uri, version=1)
    change(faulty, uri, 2, "STUCK\n\n" + DECLARED + FALSE_CLAIM)
    await asyncio.sleep(0.5)  # The debounce is 50 ms: the stuck check is running.
    for target, line in ((uri, 4), (other, 2)):
        started = time.monotonic()
        text = await hover_at(faulty, target, line, FALSE_CLAIM.index("2 A"))
        assert "tensorlint: false" in text
        assert time.monotonic() - started < 5  # Generous; without the checker process it waits a minute.
    # Inside the part that changed since the last result there is nothing to say yet.
    assert (
        await faulty.text_document_hover_async(
            types.HoverParams(types.TextDocumentIdentifier(uri), types.Position(0, 2))
        )
        is None
    )
    started = time.monotonic()
    change(faulty, uri, 3, DECLARED + TRUE_CLAIM)
    assert codes(await published(faulty, uri, version=3)) == []
    assert time.monotonic() - started < 30  # The stuck check would have held the checker for a minute.


@pytest.mark.filterwarnings("ignore::pytest.PytestWarning")
def test_the_server_listens_on_tcp_for_debugging():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorlint.lsp", "--tcp", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        connection = None
        deadline = time.monotonic() + WAIT
        while connection is None and time.monotonic() < deadline:
            try:
                connection = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
            except OSError:
                time.sleep(0.1)
        assert connection is not None, "the server did not listen"
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}})
        connection.sendall(f"Content-Length: {len(body)}\r\n\r\n{body}".encode())
        reply = b""
        while b'"result"' not in reply or not reply.rstrip().endswith(b"}"):
            chunk = connection.recv(65536)
            assert chunk, "connection closed"
            reply += chunk
        connection.close()
        assert b'"name": "tensorlint"' in reply or b'"name":"tensorlint"' in reply
    finally:
        server.kill()
        server.wait()


# --------------------------------------------------------------------------------------------------------
# The protocol, as raw JSON-RPC over the server's stdio
# --------------------------------------------------------------------------------------------------------


class RawServer:
    """``tensorlint serve`` in a subprocess, spoken to in framed JSON, past any client library's checks."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(SERVE, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.messages: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            length = 0
            while True:
                header = stream.readline()
                if not header:
                    return
                if header.lower().startswith(b"content-length:"):
                    length = int(header.split(b":")[1])
                if header in (b"\r\n", b"\n"):
                    break
            message = json.loads(stream.read(length))
            with self.lock:
                self.messages.append(message)

    def send(self, message: dict[str, Any] | str) -> None:
        body = (message if isinstance(message, str) else json.dumps({"jsonrpc": "2.0", **message})).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def reply(self, matches: Any) -> dict[str, Any]:
        """The first message (a reply, not a request from the server) for which ``matches`` holds."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            with self.lock:
                for message in self.messages:
                    if "method" not in message and matches(message):
                        return message
            time.sleep(0.02)
        raise AssertionError(f"no reply; got {self.messages}")

    def notification(self, method: str, matches: Any = lambda params: True) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            with self.lock:
                for message in self.messages:
                    if message.get("method") == method and matches(message.get("params")):
                        return message
            time.sleep(0.02)
        raise AssertionError(f"no {method}; got {self.messages}")

    def open(self, text: str) -> str:
        uri = uri_for()
        document = {"uri": uri, "languageId": "markdown", "version": 1, "text": text}
        self.send({"method": "textDocument/didOpen", "params": {"textDocument": document}})
        return uri

    def initialize(self) -> None:
        self.send({"id": 1, "method": "initialize", "params": {"capabilities": {}, "processId": None}})
        self.reply(lambda message: message.get("id") == 1)
        self.send({"method": "initialized", "params": {}})

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


@pytest.fixture
def raw():
    server = RawServer()
    try:
        yield server
    finally:
        server.close()


HOVER_PARAMS = {"textDocument": {"uri": "file:///nowhere.md"}, "position": {"line": 0, "character": 0}}


@pytest.mark.filterwarnings("ignore::pytest.PytestWarning")
@pytest.mark.parametrize(
    ("request_id", "expected_id"),
    [({}, None), ([], None), (1.5, None), (True, None), (None, None), ("fine", "fine"), (7, 7)],
)
def test_a_request_id_that_is_not_a_number_or_a_string_is_an_invalid_request(
    raw: RawServer, request_id: Any, expected_id: Any
):
    raw.initialize()
    raw.send({"id": request_id, "method": "textDocument/hover", "params": HOVER_PARAMS})
    raw.send({"id": "after", "method": "textDocument/hover", "params": HOVER_PARAMS})
    if request_id in ("fine", 7):
        # A valid id gets its answer (no hover on a document the server never saw).
        assert raw.reply(lambda message: message.get("id") == expected_id) == {
            "jsonrpc": "2.0",
            "id": expected_id,
            "result": None,
        }
    else:
        failure = raw.reply(lambda message: "error" in message)
        assert failure["id"] is None and failure["error"]["code"] == -32600, failure
    # The server goes on.
    assert raw.reply(lambda message: message.get("id") == "after")["result"] is None


@pytest.mark.filterwarnings("ignore::pytest.PytestWarning")
def test_a_request_after_shutdown_is_an_invalid_request_and_exit_ends_with_0(raw: RawServer):
    raw.initialize()
    raw.send({"id": 2, "method": "shutdown"})
    assert raw.reply(lambda message: message.get("id") == 2) == {"jsonrpc": "2.0", "id": 2, "result": None}
    raw.send({"id": 3, "method": "textDocument/hover", "params": HOVER_PARAMS})
    failure = raw.reply(lambda message: message.get("id") == 3)
    assert failure["error"]["code"] == -32600, failure
    # A notification after shutdown is dropped: no reply, and the server still exits cleanly.
    raw.send({"method": "textDocument/didOpen", "params": {"textDocument": {}}})
    raw.send({"method": "exit"})
    assert raw.process.wait(timeout=WAIT) == 0


@pytest.mark.filterwarnings("ignore::pytest.PytestWarning")
@pytest.mark.parametrize("initialized", [True, False])
def test_exit_without_shutdown_ends_with_1(raw: RawServer, initialized: bool):
    if initialized:
        raw.initialize()
        text = DECLARED + FALSE_CLAIM
        document = {"uri": uri_for(), "languageId": "markdown", "version": 1, "text": text}
        raw.send({"method": "textDocument/didOpen", "params": {"textDocument": document}})
    raw.send({"method": "exit"})
    assert raw.process.wait(timeout=WAIT) == 1


@pytest.mark.filterwarnings("ignore::pytest.PytestWarning")
def test_a_hostile_note_being_checked_does_not_stall_hovers_on_other_notes(raw: RawServer):
    """50,000 unclosed comments keep a check busy for a long time (tens of seconds before the scan was made
    linear): hovers on other notes are still answered at once, from their own results."""
    raw.initialize()
    uri = raw.open(DECLARED + FALSE_CLAIM)
    raw.notification("textDocument/publishDiagnostics", lambda params: params["uri"] == uri)
    raw.open("<!--\n" * 50_000 + "$$x = y$$\n")
    time.sleep(0.5)  # Its check has started.
    times = []
    for number in range(5):
        position = {"line": 2, "character": FALSE_CLAIM.index("2 A")}
        started = time.monotonic()
        raw.send(
            {
                "id": f"hover-{number}",
                "method": "textDocument/hover",
                "params": {"textDocument": {"uri": uri}, "position": position},
            }
        )
        reply = raw.reply(lambda message, number=number: message.get("id") == f"hover-{number}")
        times.append(time.monotonic() - started)
        assert "tensorlint: false" in reply["result"]["contents"]["value"]
    # Generous, so that a loaded machine does not fail it; a stalled server takes tens of seconds.
    assert sorted(times)[2] < 3.0, times


@pytest.mark.filterwarnings("ignore::pytest.PytestWarning")
def test_the_plain_install_brings_the_server():
    """``pip install tensorlint`` (the README's first command) gives a working ``tensorlint serve``: pygls and
    lsprotocol are required without an extra. (The check path still never imports them: test_cli.)"""
    from importlib.metadata import requires

    required = {
        requirement.split(";")[0].split(">")[0].split("=")[0].split("<")[0].strip().lower()
        for requirement in requires("tensorlint") or []
        if "extra ==" not in requirement
    }
    assert {"pygls", "lsprotocol"} <= required, required
    completed = subprocess.run(
        [sys.executable, "-m", "tensorlint", "serve", "--help"], capture_output=True, text=True, timeout=WAIT
    )
    assert completed.returncode == 0 and "language server" in completed.stdout, completed


# --------------------------------------------------------------------------------------------------------
# The checker process's memory: what it answers after edits is what a fresh check says
# --------------------------------------------------------------------------------------------------------

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "backprop.md"


def _edits(text: str) -> list[str]:
    """A typing session over a note: prose above findings, a claim changed and changed back, lines moved."""
    lines = text.split("\n")
    middle = len(lines) // 2
    claim = next((index for index, line in enumerate(lines) if "=" in line and "$" in line), middle)
    versions = [
        "A first line typed above everything.\n" + text,
        text,
        "\n".join([*lines[:middle], "Some words in the middle.", *lines[middle:]]),
        "\n".join([*lines[:claim], lines[claim].replace("=", "= 3 \\cdot", 1), *lines[claim + 1 :]]),
        text,
        "\n".join(lines[middle:] + lines[:middle]),
        text.replace("\n\n", "\n\n\n", 3),
    ]
    return versions


def _findings(result: Any) -> list[tuple[Any, ...]]:
    return [
        (d.code, d.message, d.start, d.end, d.fix and tuple((e.start, e.end, e.new_text) for e in d.fix.edits))
        for d in result.diagnostics
    ]


@pytest.mark.filterwarnings("ignore::pytest.PytestWarning")
@pytest.mark.parametrize("note", [EXAMPLE, *sorted((Path(__file__).parent / "corpus" / "seeds").glob("*.md"))[:3]])
def test_rechecks_in_the_checker_process_equal_fresh_checks(note: Path):
    """Verdicts, messages and fixes (with their offsets) after each edit equal those of a fresh check of the
    same text: the claim cache and the explanations remembered across edits never answer for another text."""
    from tensorlint.core import check_text
    from tensorlint.lsp_worker import Worker
    from tensorlint.model import Config

    worker = Worker(output=None)  # type: ignore[arg-type]  # check() answers directly; nothing is sent.
    text = note.read_text(encoding="utf-8")
    config = Config()
    for job, version in enumerate([text, *_edits(text)], start=1):
        result, failure = worker.check(job, "note", str(note), version, config)
        assert failure is None and result is not None
        assert _findings(result) == _findings(check_text(str(note), version, config)), f"edit {job}"
