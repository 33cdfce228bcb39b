"""The pure entry point of the core: ``(path, text, config)`` in, data out, never an exception."""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING, Any

from tensorlint.model import Config, Diagnostic, FileResult

if TYPE_CHECKING:
    from tensorlint.explain import Explanation
    from tensorlint.interpret import ClaimCache, Explainer


def check_text(
    path: str,
    text: str,
    config: Config | None = None,
    cache: ClaimCache | None = None,
    explainer: Explainer | None = None,
) -> FileResult:
    """Extract, parse, interpret and check one document, then apply its suppression directives.

    ``cache`` (an ``interpret.ClaimCache``) carries verdicts from one run over a note to the next, so that
    only what an edit changed is checked again; call ``cache.next_run()`` between runs. ``explainer``
    replaces ``explain_finding`` (the language server wraps it in a cache that survives edits).

    Any exception that escapes a stage is a bug in tensorlint, not in the note: it becomes a TL900
    diagnostic at the top of the file, so the run goes on with the other files.
    """
    config = config or Config()
    try:
        from tensorlint.extract import encode_notebook_fixes, extract
        from tensorlint.interpret import check_document
        from tensorlint.suppress import apply as apply_suppressions

        document = extract(path, text, config.macros) if config.macros else extract(path, text)
        explained = check_document(document, config, cache, explainer or explain_finding)
        return encode_notebook_fixes(apply_suppressions(explained, document))
    except Exception as error:
        detail = traceback.format_exception_only(type(error), error)[-1].strip()
        return FileResult(
            path=path,
            text=text,
            diagnostics=[Diagnostic("TL900", f"internal checker error: {detail}", 0, 0, "warning")],
        )


def explain_finding(*arguments: Any) -> Explanation | None:
    """The explanation of one finding, run after its check: the expected result and a verified fix
    (``explain.explain``, called with what the interpreter has at the claim: ``interpret.Explainer``).

    The explanation layer (``explain``, ``derive``) is imported here, on the first finding, so a note with no
    findings never loads the symbolic differentiation, and the interpreter never imports it (ARCHITECTURE.md).
    """
    from tensorlint.explain import explain

    return explain(*arguments)
