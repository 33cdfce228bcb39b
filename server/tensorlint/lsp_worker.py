"""The language server's checker: a process of its own, started by ``lsp`` (``lsp.WORKER_COMMAND``).

The server (``lsp``) keeps the editor's conversation on its event loop and sends every piece of real work
here: checks of notes, the math spans hovers need, derivatives for hovers. In another process, a check can
never hold the server's interpreter lock (a regular expression over a hostile note can hold it for seconds
in one call), and a check that will not stop can be ended by ending the process.

It imports neither pygls nor lsprotocol. Messages are pickled Python data, each framed by its length (8
bytes, big-endian), on stdin and stdout; only the server talks to it, over pipes it created.

Requests, answered in order, one at a time:

- ``("check", job, key, path, text, config)`` → ``("checked", job, result, failure)``: ``core.check_text``
  with the note's own ``interpret.ClaimCache`` (kept for the notes used last), so only what an edit changed
  is checked again. ``result`` is ``None`` when the check was cancelled; ``failure`` is a traceback when
  the checker failed (the result is then a TL900 diagnostic). Unless cancelled, it is followed at once by
  ``("names", job, spans, directives)``: the note's math spans and the ranges of its directive comments,
  from ``extract``, which hovers need.
- ``("derive", job, expression, wrt, lets, layout, config)`` → ``("derived", job, DerivativeInfo | None)``.
- ``("forget", job, key)`` → ``("forgot", job)``: drop a note's cache (closed, or settings changed).

And one that is acted on at once, by a thread of its own: ``("cancel", job)`` stops that check at its next
claim.
"""

from __future__ import annotations

import os
import pickle
import struct
import sys
import threading
import traceback
from collections import OrderedDict
from dataclasses import dataclass
from queue import Queue
from typing import Any, BinaryIO

from tensorlint.macro_files import with_macros
from tensorlint.model import Config, Diagnostic, FileResult

HEADER = struct.Struct(">Q")
# Notes whose claim caches are kept (the ones checked last).
NOTES_KEPT = 16
# Explanations kept per cached claim. The core keys a claim's explanations by where the claim stands, so a
# note edited above a finding adds one for every place the finding has been; only the latest are useful.
EXPLANATIONS_KEPT = 4


def read_message(stream: BinaryIO) -> Any:
    """The next message, or ``None`` at the end of the stream."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (length,) = HEADER.unpack(header)
    body = stream.read(length)
    if len(body) < length:
        return None
    return pickle.loads(body)


def frame(message: Any) -> bytes:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(body)) + body


class Cancelled(BaseException):
    """Raised inside the core (through the cache) when the server cancelled the running check.

    A ``BaseException``, so that the core's safety net (``except Exception``) lets it through.
    """


def _claim_cache(cancelled: set[int]) -> Any:
    from tensorlint.interpret import ClaimCache

    class CancellableCache(ClaimCache):
        """A claim cache that stops the check using it, at its next claim, once its job is cancelled.

        An interrupted run keeps what both runs learnt, so the next run still reuses every verdict.
        """

        def __init__(self) -> None:
            super().__init__()
            self.job = 0
            self.interrupted = False
            self.explainer = RememberingExplainer()

        def get(self, key: tuple[str, str, str, str]) -> Any:
            if self.job in cancelled:
                self.interrupted = True
                raise Cancelled
            return super().get(key)

        def next_run(self) -> None:
            if self.interrupted:
                self.interrupted = False
                self.previous.update(self.current)
                self.current, self.hits = {}, 0
            else:
                super().next_run()
            for checked in self.previous.values():
                explanations = getattr(checked, "explanations", None)
                if isinstance(explanations, dict) and len(explanations) > EXPLANATIONS_KEPT:
                    for place in list(explanations)[:-EXPLANATIONS_KEPT]:
                        del explanations[place]

    return CancellableCache()


class RememberingExplainer:
    """``core.explain_finding`` with a memory that survives edits: explanations keyed by the claim (the text
    of its math spans, where its sides stand in them, the relation, the verdict) and the environment
    (``Environment.fingerprint``, the author's style, the settings), with the fix's edits stored relative
    to the claim, so a finding that an edit above it only moved is not explained again. The core itself
    keys explanations by document offset, within one run.

    Only spans that are plain slices of the note are remembered (a notebook's JSON-escaped cells map
    offsets through a table, which a shift does not follow). Bounded: the entries used last are kept.
    """

    def __init__(self, kept: int = 1024) -> None:
        self.kept = kept
        self.memory: OrderedDict[tuple[Any, ...], tuple[Any, int]] = OrderedDict()

    def __call__(self, left: Any, right: Any, *rest: Any) -> Any:
        from tensorlint.core import explain_finding

        key = self.key(left, right, rest)
        if key is None:
            return explain_finding(left, right, *rest)
        base = left.start if left.continued_at is None else left.continued_at
        found = self.memory.get(key)
        if found is not None:
            self.memory.move_to_end(key)
            explanation, stored = found
            return _shifted(explanation, base - stored)
        explanation = explain_finding(left, right, *rest)
        self.memory[key] = (explanation, base)
        while len(self.memory) > self.kept:
            self.memory.popitem(last=False)
        return explanation

    @staticmethod
    def key(left: Any, right: Any, rest: tuple[Any, ...]) -> tuple[Any, ...] | None:
        try:
            _, _, op, outcome, env, config, _, style = rest
            if left.span.offsets is not None or right.span.offsets is not None:
                return None
            base = left.start if left.continued_at is None else left.continued_at
            style_state = sorted((name, repr(value)) for name, value in vars(style).items())
            return (
                left.span.text,
                right.span.text,
                left.span.start - base,
                right.span.start - base,
                left.node.start,
                left.node.end,
                right.node.start,
                right.node.end,
                op,
                outcome.verdict,
                outcome.message,
                env.fingerprint(),
                repr(style_state),
                config,
            )
        except Exception:  # Anything unexpected: no memory for this one, the explanation is still given.
            return None


def _shifted(explanation: Any, delta: int) -> Any:
    """The explanation with its fix's edits moved by ``delta`` characters."""
    from dataclasses import is_dataclass, replace

    fix = getattr(explanation, "fix", None)
    if delta == 0 or fix is None or not is_dataclass(explanation):
        return explanation
    edits = tuple(replace(edit, start=edit.start + delta, end=edit.end + delta) for edit in fix.edits)
    return replace(explanation, fix=replace(fix, edits=edits))  # type: ignore[type-var]


@dataclass(frozen=True)
class DerivativeInfo:
    """What hover shows for a derivative, from ``derive.derive_latex``."""

    title: str
    shape: str
    closed_form: str | None
    index_form: str | None
    notes: tuple[str, ...]


def derive_for_hover(
    expression: str, wrt: str, lets: tuple[str, ...], layout: str | None, config: Config
) -> DerivativeInfo | None:
    """The shape, closed form and index form of ``∂expression/∂wrt`` under the note's declarations; only
    forms the core verified are shown. ``None`` when it cannot be derived."""
    try:
        from tensorlint.derive_command import derive_latex

        result, _ = derive_latex(expression, wrt, list(lets), layout, config)
    except Exception:  # Not derivable here (unknown notation, an undeclared name): hover goes without it.
        return None
    if not result.shape:
        return None
    closed = result.closed_form
    index = result.index_form
    closed_form = closed.latex if closed is not None and closed.verified else None
    index_form = f"{result.index_left} = {index.latex}" if index is not None and index.verified else None
    shape = f"{result.shape} ({result.kind}, {result.layout} layout)" if result.kind else result.shape
    return DerivativeInfo(f"∂({expression})/∂{wrt}", shape, closed_form, index_form, tuple(result.notes))


class Worker:
    def __init__(self, output: BinaryIO) -> None:
        self.output = output
        self.lock = threading.Lock()
        self.cancelled: set[int] = set()
        self.jobs: Queue[Any] = Queue()
        self.caches: OrderedDict[str, Any] = OrderedDict()

    def send(self, message: Any) -> None:
        data = frame(message)
        with self.lock:
            self.output.write(data)
            self.output.flush()

    def listen(self, stream: BinaryIO) -> None:
        """The reading thread: cancellations at once, everything else in order for the main thread."""
        while True:
            try:
                message = read_message(stream)
            except Exception:
                message = None
            if message is None:
                # The server is gone: nothing is waiting for the check that may be running.
                os._exit(0)
            if message[0] == "cancel":
                self.cancelled.add(message[1])
            else:
                self.jobs.put(message)

    def run(self) -> None:
        while True:
            message = self.jobs.get()
            if message is None:
                return
            kind, job = message[0], message[1]
            if job in self.cancelled:
                self.cancelled.discard(job)
                self.send(("checked", job, None, None) if kind == "check" else (kind, job, None))
                continue
            try:
                answer = self.handle(kind, job, message[2:])
                self.send(answer)
                if kind == "check" and answer[2] is not None:
                    # What hovers need comes right after the diagnostics, before any other request.
                    self.send(self.handle("names", job, (message[3], message[4])))
            except Exception:  # Never the end of the worker: the server gets an answer it can use.
                self.send(("failed", job, traceback.format_exc()))
            # Jobs come in order: a cancellation of this job or an earlier one has nothing left to stop.
            self.cancelled.difference_update([each for each in self.cancelled if each <= job])

    def handle(self, kind: str, job: int, arguments: tuple[Any, ...]) -> Any:
        if kind == "check":
            return ("checked", job, *self.check(job, *arguments))
        if kind == "names":
            from tensorlint.extract import extract

            path, text = arguments
            document = extract(path, text)
            directives = [(directive.start, directive.end) for directive in document.directives]
            return ("names", job, list(document.spans), directives)
        if kind == "derive":
            return ("derived", job, derive_for_hover(*arguments))
        if kind == "forget":
            self.caches.pop(arguments[0], None)
            return ("forgot", job)
        return ("failed", job, f"unknown request {kind!r}")

    def check(self, job: int, key: str, path: str, text: str, config: Config) -> tuple[FileResult | None, str | None]:
        """One check with the note's cache: ``(None, None)`` when cancelled; a failure becomes a TL900."""
        from tensorlint import core

        cache = self.caches.pop(key, None) or _claim_cache(self.cancelled)
        self.caches[key] = cache
        while len(self.caches) > NOTES_KEPT:
            self.caches.popitem(last=False)
        cache.job = job
        try:
            cache.next_run()
            config = with_macros(path, text, config)
            return core.check_text(path, text, config, cache, cache.explainer), None
        except Cancelled:
            return None, None
        except Exception as error:  # The core should never raise; if it does, the note still gets a result.
            detail = traceback.format_exception_only(type(error), error)[-1].strip()
            diagnostic = Diagnostic("TL900", f"internal checker error: {detail}", 0, 0, "warning")
            return FileResult(path, text, diagnostics=[diagnostic]), traceback.format_exc()


def _end_with_parent() -> None:
    """On Linux, have the kernel end this process when the server ends, even while a check holds the
    interpreter lock and the reading thread cannot run to see the end of its input."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except Exception:  # Not available: the end of the input still ends the worker.
        return


def main() -> int:
    _end_with_parent()
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # Nothing but messages may go to the server's pipe.
    worker = Worker(stdout)
    threading.Thread(target=worker.listen, args=(stdin,), daemon=True, name="tensorlint-listen").start()
    # A check is CPU-bound; the listening thread must get the interpreter lock quickly to see a cancellation.
    sys.setswitchinterval(0.001)
    worker.run()
    return 0


if __name__ == "__main__":
    # What this process pickles (a ``DerivativeInfo``) must name a class of ``tensorlint.lsp_worker``, which
    # the server can find, not of ``__main__``: run the module's own copy. (The server starts the worker
    # with ``-c``, through ``lsp.WORKER_COMMAND``.)
    import importlib

    raise SystemExit(importlib.import_module("tensorlint.lsp_worker").main())
