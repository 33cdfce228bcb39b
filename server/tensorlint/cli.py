"""The ``tensorlint`` command: ``check``, ``explain``, ``serve``, ``derive``.

This is the only module that prints. It reads files (as bytes, so that encoding problems become TL003
diagnostics rather than crashes), finds the settings of each (``config``), hands their text to the pure
core, one process per job with ``-j N``, and reports through ``report``. Startup must stay cheap: nothing
heavy (SymPy, NumPy, pygls, multiprocessing) is imported here; the core imports what it needs when it runs,
``-j`` imports the process pool only when it is used, and ``serve`` and ``derive`` import their modules
only when asked for.

Exit codes: 0 when nothing at or above the fail level was found, 1 when something was, 2 on usage or
internal errors (including a path that does not exist and a bad configuration).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import re
import stat
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from tensorlint import __version__, config, core, report, rules
from tensorlint.macro_files import with_macros
from tensorlint.model import SEVERITY_ORDER, Config, Diagnostic, Edit, FileResult

NOTE_SUFFIXES = (".md", ".markdown", ".qmd", ".rmd", ".tex", ".ipynb")
SKIPPED_DIRECTORIES = frozenset({"node_modules", "__pycache__"})
FAIL_LEVELS = config.FAIL_LEVELS
FORMATS = ("text", "json", "sarif", "github")
# A progress bar is drawn (on a terminal) only when a run has at least this many files.
PROGRESS_MIN_FILES = 20
# Rounds of --fix: each applies what the previous one made possible (a fixed claim's directive now unused).
FIX_ROUNDS = 4
# The name a note read with ``tensorlint check -`` is reported under (Markdown, settings of the folder).
STDIN_NAME = "<stdin>"
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


class UsageError(Exception):
    """A problem with the command line itself: reported in one line, exit code 2."""


# --------------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tensorlint",
        description="Check matrix calculus in Markdown, LaTeX and Jupyter notes.",
    )
    parser.add_argument("--version", action="version", version=f"tensorlint {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = commands.add_parser(
        "check",
        help="check notes and report wrong claims",
        description=(
            "Check files and folders (.md .markdown .qmd .Rmd .tex .ipynb), respecting .gitignore and the "
            "configuration ([tool.tensorlint] in pyproject.toml, or tensorlint.toml)."
        ),
    )
    check.add_argument(
        "paths", nargs="*", metavar="PATH", help="files or folders to check (default: .; - reads standard input)"
    )
    check.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    check.add_argument(
        "--fail-level",
        choices=FAIL_LEVELS,
        default=None,
        help="exit 1 when a diagnostic at or above this severity is reported (default: error)",
    )
    check.add_argument(
        "--select",
        action="append",
        metavar="CODES",
        help="comma-separated codes or prefixes to report instead of the default set (ALL for every code)",
    )
    check.add_argument(
        "--extend-select",
        action="append",
        metavar="CODES",
        help="comma-separated codes or prefixes to report in addition (e.g. TL000 for verified claims)",
    )
    check.add_argument(
        "--ignore", action="append", metavar="CODES", help="comma-separated codes or prefixes not to report"
    )
    check.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour text output (auto: only on a terminal, and not when NO_COLOR is set)",
    )
    check.add_argument(
        "-j",
        "--jobs",
        type=_jobs,
        default=1,
        metavar="N",
        help="check files in N processes (0: one per CPU; default: 1); the output is the same",
    )
    check.add_argument(
        "--fix",
        action="store_true",
        help="replace false results with the verified correct ones in place (atomically), then report what is left",
    )
    check.add_argument(
        "--stdin-filename",
        metavar="NAME",
        help="read the note from standard input and report it as NAME (its suffix picks the format)",
    )
    check.add_argument(
        "--show-settings",
        metavar="FILE",
        help="print the settings that apply to FILE (and to each PATH) and where each comes from, then exit",
    )
    settings = check.add_argument_group("settings (override the configuration file)")
    settings.add_argument("--config", metavar="FILE", help="use this configuration file for every note")
    settings.add_argument("--isolated", action="store_true", help="ignore configuration files")
    settings.add_argument("--layout", choices=("auto", "numerator", "denominator"), help="the layout convention")
    settings.add_argument("--einstein", choices=("auto", "on", "off"), help="Einstein summation")
    settings.add_argument(
        "--unify-fonts",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="whether x, \\mathbf{x} and \\vec{x} name the same variable (default: yes)",
    )
    settings.add_argument("--trials", metavar="N", help="random instances per claim (default: 3)")
    settings.add_argument("--tolerance", metavar="X", help="relative tolerance of comparisons (default: 1e-6)")
    settings.add_argument("--claim-timeout", metavar="SECONDS", help="time budget of one claim (default: 2)")
    check.set_defaults(handler=run_check)

    explain = commands.add_parser(
        "explain",
        help="explain a diagnostic code",
        description="Print what a code means, with an example and the fix; without CODE, list every code.",
    )
    explain.add_argument("code", nargs="?", metavar="CODE", help="a code (TL201) or a name (false-claim)")
    explain.set_defaults(handler=run_explain)

    serve = commands.add_parser(
        "serve",
        help="run the language server over stdio",
        description="Run the language server over stdio.",
    )
    # Editor clients (vscode-languageclient among them) pass --stdio; stdio is the only transport anyway.
    serve.add_argument("--stdio", action="store_true", help=argparse.SUPPRESS)
    serve.add_argument("--tcp", action="store_true", help="listen on a TCP port instead of stdio (for debugging)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on with --tcp")
    serve.add_argument("--port", type=int, default=2087, help="port to listen on with --tcp")
    serve.set_defaults(handler=run_serve)

    # ``derive`` takes its own options; main() hands them over before argparse sees them.
    commands.add_parser(
        "derive",
        help="print the derivative of an expression",
        description="tensorlint derive 'LATEX' --wrt X [--let 'X \\in \\mathbb{R}^{n\\times n}']",
        add_help=False,
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code instead of exiting, so tests can call it."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["derive"]:
        return _guarded(run_derive, arguments[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exit_request:
        return _exit_status(exit_request)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    return _guarded(args.handler, args)


def _guarded(handler: Any, argument: Any) -> int:
    """Run a command, turning every way it can fail into a message and an exit code."""
    try:
        status: int = handler(argument)
        return status
    except (UsageError, config.ConfigError) as error:
        _error(str(error))
        return 2
    except BrokenPipeError:
        # The reader went away (``tensorlint check | head``); stop quietly, as other command-line tools do.
        _silence_stdout()
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # A bug here must still end with exit code 2 and a message.
        _error(f"internal error: {error!r} (please report it with the traceback below)")
        traceback.print_exc(file=sys.stderr)
        return 2


def _jobs(text: str) -> int:
    try:
        jobs = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of processes, got {text!r}") from None
    if jobs < 0:
        raise argparse.ArgumentTypeError(f"expected 0 (one per CPU) or more, got {jobs}")
    return jobs


# --------------------------------------------------------------------------------------------------------
# check
# --------------------------------------------------------------------------------------------------------


def run_check(args: argparse.Namespace) -> int:
    resolver = config.Resolver(_overrides(args), config_path=args.config, isolated=args.isolated)
    if args.show_settings is not None:
        # ``--show-settings A B``: argparse gives A to the option and B to the paths; describe both.
        described = [args.show_settings, *args.paths]
        _write(sys.stdout, "\n".join(config.describe(resolver.settings_for(path), path) for path in described))
        return 0
    if args.stdin_filename is None and "-" in args.paths:
        if args.paths != ["-"]:
            raise UsageError("`-` reads one note from standard input; do not name other paths with it")
        args.stdin_filename = STDIN_NAME
    if args.stdin_filename is not None:
        if any(path != "-" for path in args.paths):
            raise UsageError("--stdin-filename reads the note from standard input; do not name paths as well")
        if args.fix:
            raise UsageError("--fix rewrites files; it cannot fix a note read from standard input")
        checked = _check_stdin(args.stdin_filename, resolver)
    else:
        checked = _check_paths(args.paths or ["."], resolver, args.jobs)
        if args.fix:
            fixer = _Fixer()
            # A fix can make another one possible (or an unused suppression appear): fix until nothing
            # changes, so that a second `--fix` has nothing left to do; then report what is left.
            for _ in range(FIX_ROUNDS):
                if not fixer.apply(checked):
                    break
                checked = _check_paths(args.paths or ["."], resolver, args.jobs)
            fixer.report()

    results = [result for result, _ in checked.results]
    if args.format == "json":
        _write(sys.stdout, json.dumps(report.to_json(results), indent=2, ensure_ascii=False) + "\n")
    elif args.format == "sarif":
        document = report.to_sarif(results, report.source_root())
        _write(sys.stdout, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    elif args.format == "github":
        _write(sys.stdout, report.format_github(results, report.source_root()))
    else:
        _write(sys.stdout, report.format_text(results, color=_use_color(args.color, sys.stdout)))
    sys.stdout.flush()

    if checked.missing:
        return 2
    failed = any(
        SEVERITY_ORDER.get(diagnostic.severity, SEVERITY_ORDER["error"]) >= SEVERITY_ORDER[fail_level]
        for result, fail_level in checked.results
        for diagnostic in result.diagnostics
    )
    return 1 if failed else 0


class _Fixer:
    """Applies the fixes of the selected findings to their files, round after round, and remembers what it
    did so that a file is reported once however many rounds there are.

    A file is written through its symbolic links, keeping its mode and owner: by a temporary file in the
    same folder and a rename (atomic), or in place when the file has other hard links (a rename would
    separate them) or its owner cannot be given to a new file. The file's byte-order mark and line endings
    are kept. A file that was not clean UTF-8, is read-only (no write permission in its mode) or cannot be
    written is left alone with a warning; a notebook is re-read and validated before it is written.
    """

    def __init__(self) -> None:
        self.files: set[str] = set()
        self.findings = 0
        self.skipped: set[str] = set()

    def apply(self, checked: _Checked) -> int:
        """One round: the number of files changed."""
        from tensorlint.explain import select_edits

        changed = 0
        written: set[tuple[int, int]] = set()
        for result, _ in checked.results:
            fixes = [diagnostic.fix for diagnostic in result.diagnostics if diagnostic.fix is not None]
            if not fixes or result.path in self.skipped or any(d.code == "TL003" for d in result.diagnostics):
                continue
            try:
                target = Path(os.path.realpath(result.path))
                info = target.stat()
                if (info.st_dev, info.st_ino) in written:
                    continue  # Another name (a hard link) of a file fixed in this round.
                if not stat.S_IMODE(info.st_mode) & 0o222:
                    self.skip(result.path, "the file is read-only")
                    continue
                original = target.read_bytes()
            except OSError as error:
                self.skip(result.path, f"cannot read it: {_reason(error)}")
                continue
            text, problem = decode_note(original)
            if text != result.text or problem is not None:
                self.skip(result.path, "it changed while it was being checked")
                continue
            edits = select_edits(result.text, fixes)
            new_text = apply_edits(result.text, edits)
            if new_text == result.text:
                continue
            if result.path.lower().endswith(".ipynb"):
                from tensorlint.extract import check_fixed_notebook

                invalid = check_fixed_notebook(result.text, new_text, edits)
                if invalid is not None:
                    self.skip(result.path, invalid)
                    continue
            data = new_text.encode("utf-8")
            if original.startswith(_UTF8_BOM):
                data = _UTF8_BOM + data
            try:
                _write_keeping_file(target, data, info)
            except OSError as error:
                self.skip(result.path, f"cannot write it: {_reason(error)}")
                continue
            written.add((info.st_dev, info.st_ino))
            self.files.add(result.path)
            self.findings += len(fixes)
            changed += 1
        return changed

    def skip(self, path: str, why: str) -> None:
        self.skipped.add(path)
        _warning(f"{path}: {why}; not fixed")

    def report(self) -> None:
        if self.files:
            fixed, files = self.findings, len(self.files)
            _warning(f"fixed {fixed} finding{'s' if fixed != 1 else ''} in {files} file{'s' if files != 1 else ''}")


def _reason(error: OSError) -> str:
    return (error.strerror or str(error)).lower()


def apply_edits(text: str, edits: list[Edit]) -> str:
    """The text of a file after its fixes' edits (looked up at call time, so tests can substitute it)."""
    from tensorlint.explain import apply_edits as apply

    return apply(text, edits)


def _write_keeping_file(target: Path, data: bytes, info: os.stat_result) -> None:
    """Replace the contents of ``target`` (no symbolic link) with ``data``, keeping its inode's links, its
    mode and its owner; raises OSError when the file or its folder cannot be written."""
    if info.st_nlink > 1:
        _write_in_place(target, data)
        return
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tensorlint", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, stat.S_IMODE(info.st_mode))
        created = os.stat(temporary)
        if (created.st_uid, created.st_gid) != (info.st_uid, info.st_gid):
            try:
                os.chown(temporary, info.st_uid, info.st_gid)
            except OSError:
                # Only root gives a file away: write in place, which keeps the owner.
                os.unlink(temporary)
                _write_in_place(target, data)
                return
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _write_in_place(target: Path, data: bytes) -> None:
    with _open_in_place(target) as stream:
        stream.write(data)
        stream.truncate()


def _open_in_place(target: Path) -> BinaryIO:
    return open(target, "r+b")


@dataclass
class _Checked:
    """The selected results of a run, each with the fail level of its file, and the paths that were missing."""

    results: list[tuple[FileResult, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def _check_stdin(name: str, resolver: config.Resolver) -> _Checked:
    settings = resolver.settings_for(name)
    checked = _Checked()
    if settings.exclusion(name) is None:
        result = check_bytes(name, _read_stdin(), settings.checker_config())
        checked.results.append((report.apply_selection(result, settings.selection(name)), settings.fail_level))
    return checked


def _check_paths(paths: list[str], resolver: config.Resolver, processes: int) -> _Checked:
    for path in paths:
        if os.path.exists(path):
            resolver.settings_for(path)  # A bad configuration is an error even where no note is found.
    collection = collect_files(paths, resolver)
    for path in collection.missing:
        _error(f"no such file or directory: {path}")
    for folder in collection.empty_folders:
        excluded = collection.excluded_in.get(folder, 0)
        detail = f"; {excluded} excluded by the configuration" if excluded else ""
        _warning(f"no notes found in {folder} (looked for {', '.join(NOTE_SUFFIXES)}{detail})")
    if not collection.files and not collection.missing and not collection.empty_folders:
        _warning("no notes to check: every file given is excluded by the configuration")

    settings = [resolver.settings_for(path) for path in collection.files]
    jobs = [(path, own.checker_config()) for path, own in zip(collection.files, settings, strict=True)]
    results = check_files(jobs, processes, _progress(len(jobs)))
    selected = [
        (report.apply_selection(result, own.selection(result.path)), own.fail_level)
        for result, own in zip(results, settings, strict=True)
    ]
    return _Checked(selected, collection.missing)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given on the command line, checked like those of a configuration file."""
    overrides: dict[str, Any] = {}
    for key, flag, values in (
        ("select", "--select", args.select),
        ("extend-select", "--extend-select", args.extend_select),
        ("ignore", "--ignore", args.ignore),
    ):
        if values is not None:
            try:
                overrides[key] = config.parse_value(key, ",".join(values))
            except ValueError as error:
                raise UsageError(f"{flag}: {error}") from None
    for key in ("fail-level", "layout", "einstein", "unify-fonts", "trials", "tolerance", "claim-timeout"):
        value = getattr(args, key.replace("-", "_"))
        if value is None:
            continue
        try:
            overrides[key] = value if isinstance(value, bool) else config.parse_value(key, value)
        except ValueError as error:
            raise UsageError(f"--{key}: {error}") from None
    return overrides


def check_files(
    jobs: Sequence[tuple[str, Config]], processes: int, progress: _Progress | None = None
) -> list[FileResult]:
    """Check files, in ``processes`` worker processes (0: one per CPU); results in the order of ``jobs``,
    whatever the order in which they finish, so the output does not depend on ``-j``."""
    if processes == 0:
        processes = _cpu_count()
    processes = min(processes, len(jobs))
    if processes <= 1:
        results = []
        try:
            for path, checker_config in jobs:
                results.append(check_file(path, checker_config))
                if progress is not None:
                    progress.advance()
        finally:
            if progress is not None:
                progress.finish()
        return results

    from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait

    ordered: list[FileResult | None] = [None] * len(jobs)
    executor = ProcessPoolExecutor(max_workers=processes, initializer=_worker_ignores_interrupts)
    try:
        futures = {
            executor.submit(check_file, path, checker_config): index
            for index, (path, checker_config) in enumerate(jobs)
        }
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.1 if progress is not None else None, return_when=FIRST_EXCEPTION)
            for future in done:
                ordered[futures[future]] = future.result()  # Re-raises a worker's exception here.
                if progress is not None:
                    progress.advance()
    except BaseException:
        executor.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        if progress is not None:
            progress.finish()
    executor.shutdown(wait=True)
    return [result for result in ordered if result is not None]


def _worker_ignores_interrupts() -> None:
    """Ctrl-C reaches every process of the group; only the main one handles it (and stops the pool), so
    that workers do not each print a traceback."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))  # type: ignore[attr-defined,unused-ignore]
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def check_file(path: str, config: Config) -> FileResult:
    """Read one file and check it; a file that cannot be read or decoded gets a TL003 diagnostic."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        reason = (error.strerror or str(error)).lower()
        return FileResult(path, "", diagnostics=[_unreadable(f"cannot read file: {reason}", 0)])
    return check_bytes(path, data, config)


def check_bytes(path: str, data: bytes, config: Config) -> FileResult:
    """Decode and check the bytes of one note named ``path``."""
    text, problem = decode_note(data)
    if text is None:
        return FileResult(path, "", diagnostics=[problem] if problem is not None else [])
    config = with_macros(path, text, config)
    # Looked up at call time, so tests (and embedders) can substitute the checker.
    result = core.check_text(path, text, config)
    if problem is not None:
        result.diagnostics.append(problem)
    return result


def _read_stdin() -> bytes:
    stream = getattr(sys.stdin, "buffer", None)
    if stream is not None:
        data: bytes = stream.read()
        return data
    return sys.stdin.read().encode("utf-8")


def decode_note(data: bytes) -> tuple[str | None, Diagnostic | None]:
    """Decode a note as UTF-8 (a leading byte-order mark is dropped, as editors do).

    Invalid UTF-8 gives the text decoded with U+FFFD replacements and a TL003 diagnostic at the first bad
    byte. A binary or UTF-16 file gives ``None`` (not to be checked) and a TL003 diagnostic at the top.
    """
    if data.startswith(_UTF16_BOMS):
        return None, _unreadable("file is UTF-16 encoded; tensorlint reads UTF-8 (save the file as UTF-8)", 0)
    if b"\x00" in data:
        return None, _unreadable("binary file (contains NUL bytes); not checked", 0)
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM) :]
        byte_base = len(_UTF8_BOM)
    else:
        byte_base = 0
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as error:
        bad_byte = data[error.start]
        offset = len(data[: error.start].decode("utf-8"))
        message = (
            f"file is not valid UTF-8: byte 0x{bad_byte:02x} at byte offset {byte_base + error.start} "
            "cannot be decoded; undecodable bytes were replaced by U+FFFD and the rest was checked"
        )
        return data.decode("utf-8", errors="replace"), _unreadable(message, offset, offset + 1)


def _unreadable(message: str, start: int, end: int | None = None) -> Diagnostic:
    rule = rules.get("TL003")
    severity = rule.severity if rule is not None else "warning"
    return Diagnostic("TL003", message, start, start if end is None else end, severity)


# --------------------------------------------------------------------------------------------------------
# Finding files
# --------------------------------------------------------------------------------------------------------


@dataclass
class Collection:
    """What the paths of a run stand for: the notes to check (sorted, each once), the paths that do not
    exist, the folders named on the command line that hold no note, and how many notes the configuration's
    ``exclude`` left out in each of those folders."""

    files: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    empty_folders: list[str] = field(default_factory=list)
    excluded_in: dict[str, int] = field(default_factory=dict)


def collect_files(paths: list[str], resolver: config.Resolver | None = None) -> Collection:
    """The notes to check under ``paths``.

    A file named on the command line is checked whatever its suffix and even if ``.gitignore`` lists it, but
    not when the configuration's ``exclude`` does (so that pre-commit, which names files, honours it). A
    folder is walked for notes, skipping hidden entries, ``node_modules``, what ``.gitignore`` files exclude
    and what ``exclude`` excludes.
    """
    resolver = resolver or config.Resolver(isolated=True)
    found: dict[str, str] = {}
    collection = Collection()
    for given in paths:
        path = os.path.normpath(given)
        if os.path.isdir(path):
            excluded: list[str] = []
            notes = list(walk_notes(path, resolver, excluded))
            for note in notes:
                found.setdefault(os.path.realpath(note), os.path.normpath(note))
            if not notes:
                collection.empty_folders.append(given)
                if excluded:
                    collection.excluded_in[given] = len(excluded)
        elif os.path.isfile(path):
            if resolver.settings_for(path).exclusion(path) is None:
                found.setdefault(os.path.realpath(path), path)
        else:
            collection.missing.append(given)
    collection.files = sorted(found.values())
    return collection


def walk_notes(root: str, resolver: config.Resolver | None = None, excluded: list[str] | None = None) -> Iterator[str]:
    """Notes under ``root`` in sorted order, honouring ``.gitignore`` files in the tree and above it (up to
    the repository root) and the configuration's ``exclude``; excluded notes and folders are appended to
    ``excluded`` when it is given."""
    resolver = resolver or config.Resolver(isolated=True)
    ignores: dict[str, list[_IgnoreFile]] = {root: _ancestor_ignores(root)}
    for directory, subdirectories, filenames in os.walk(root):
        chain = ignores.pop(directory, [])
        if ".gitignore" in filenames:
            own = _IgnoreFile.load(directory)
            if own is not None:
                chain = [*chain, own]
        kept = []
        for name in sorted(subdirectories):
            child = os.path.join(directory, name)
            if name.startswith(".") or name in SKIPPED_DIRECTORIES or _ignored(chain, child, is_dir=True):
                continue
            if resolver.settings_for(child).exclusion(child) is not None:
                if excluded is not None:
                    excluded.append(child)
                continue
            kept.append(name)
            ignores[child] = chain
        subdirectories[:] = kept
        for name in sorted(filenames):
            path = os.path.join(directory, name)
            if (
                not name.startswith(".")
                and name.lower().endswith(NOTE_SUFFIXES)
                and not _ignored(chain, path, is_dir=False)
            ):
                if resolver.settings_for(path).exclusion(path) is not None:
                    if excluded is not None:
                        excluded.append(path)
                    continue
                yield path


@dataclass(frozen=True)
class _IgnorePattern:
    regex: re.Pattern[str]
    negated: bool
    directory_only: bool


@dataclass(frozen=True)
class _IgnoreFile:
    """The patterns of one ``.gitignore``: enough of git's syntax for notes (globs, ``**``, ``!``, ``/``)."""

    base: str
    patterns: tuple[_IgnorePattern, ...]

    @classmethod
    def load(cls, directory: str) -> _IgnoreFile | None:
        try:
            with open(os.path.join(directory, ".gitignore"), encoding="utf-8", errors="replace") as handle:
                lines = handle.read().splitlines()
        except OSError:
            return None
        patterns = tuple(pattern for line in lines if (pattern := _parse_ignore_line(line)) is not None)
        return cls(directory, patterns) if patterns else None


def _parse_ignore_line(line: str) -> _IgnorePattern | None:
    line = line.rstrip()
    if not line or line.startswith("#"):
        return None
    negated = line.startswith("!")
    if negated or line.startswith(("\\!", "\\#")):
        line = line[1:]
    directory_only = line.endswith("/")
    line = line.rstrip("/")
    if not line:
        return None
    # A pattern with a slash before its end is relative to the .gitignore's folder; otherwise it matches a
    # name at any depth.
    anchored = "/" in line
    line = line.lstrip("/")
    body = config.glob_to_regex(line)
    regex = re.compile(body if anchored else f"(?:.*/)?{body}", re.DOTALL)
    return _IgnorePattern(regex, negated, directory_only)


def _ignored(chain: list[_IgnoreFile], path: str, is_dir: bool) -> bool:
    """Whether the last pattern that matches ``path`` (deeper files win) excludes it."""
    ignored = False
    for ignore_file in chain:
        relative = os.path.relpath(path, ignore_file.base).replace(os.sep, "/")
        if relative.startswith("../"):
            continue
        for pattern in ignore_file.patterns:
            if (is_dir or not pattern.directory_only) and pattern.regex.fullmatch(relative):
                ignored = not pattern.negated
    return ignored


def _ancestor_ignores(root: str) -> list[_IgnoreFile]:
    """The ``.gitignore`` files above ``root`` up to the repository root (none outside a repository)."""
    directory = os.path.abspath(root)
    ancestors = []
    while True:
        if os.path.exists(os.path.join(directory, ".git")):
            break
        parent = os.path.dirname(directory)
        if parent == directory:
            return []
        directory = parent
        ancestors.append(directory)
    loaded = (_IgnoreFile.load(ancestor) for ancestor in reversed(ancestors))
    return [ignore_file for ignore_file in loaded if ignore_file is not None]


# --------------------------------------------------------------------------------------------------------
# explain, serve, derive
# --------------------------------------------------------------------------------------------------------


def run_explain(args: argparse.Namespace) -> int:
    if args.code is None:
        lines = [f"{r.code}  {r.name:<28} {r.severity:<8} {r.summary}" for r in rules.all_rules()]
        _write(sys.stdout, "\n".join(lines) + "\n")
        return 0
    rule = rules.find(args.code)
    if rule is None:
        raise UsageError(f"unknown diagnostic code {args.code!r} (known codes: {', '.join(rules.codes())})")
    default = "" if rule.enabled_by_default else ", off by default"
    header = f"# {rule.code} {rule.name} ({rule.severity}{default})\n\n{rule.summary}\n\n"
    _write(sys.stdout, header + rule.doc.strip() + "\n")
    return 0


def run_serve(args: argparse.Namespace) -> int:
    try:
        import tensorlint.lsp as lsp
    except ImportError as error:
        if (error.name or "").startswith("tensorlint"):
            _error(f"this version of tensorlint has no language server ({error})")
        else:
            _error(f"the language server needs {error.name} ({error}); reinstall tensorlint: pip install tensorlint")
        return 2
    status = lsp.main(["--tcp", "--host", args.host, "--port", str(args.port)] if args.tcp else [])
    return int(status or 0)


def run_derive(argv: list[str]) -> int:
    """``tensorlint derive ...``: the arguments go to ``tensorlint.derive_command.command`` untouched."""
    try:
        derive = importlib.import_module("tensorlint.derive_command")
    except ImportError as error:
        if (error.name or "").startswith("tensorlint"):
            _error(f"this version of tensorlint has no `derive` command ({error})")
        else:
            _error(f"`derive` needs {error.name} ({error})")
        return 2
    return int(derive.command(argv) or 0)


# --------------------------------------------------------------------------------------------------------
# Output helpers
# --------------------------------------------------------------------------------------------------------


def _use_color(choice: str, stream: TextIO) -> bool:
    """``--color always|never`` decides; ``auto`` colours only a terminal, never with ``NO_COLOR`` set (to
    anything but the empty string, as no-color.org says) or ``TERM=dumb``."""
    if choice != "auto":
        return choice == "always"
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return _is_terminal(stream)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class _Progress:
    """``checking 120/500 notes`` on one line of a terminal, redrawn at most ten times a second and erased at
    the end, so that it never mixes with the report."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total = total
        self.stream = stream
        self.done = 0
        self.drawn_at = 0.0
        self.width = 0

    def advance(self) -> None:
        self.done += 1
        now = time.monotonic()
        if now - self.drawn_at >= 0.1 or self.done == self.total:
            self.drawn_at = now
            filled = 24 * self.done // max(self.total, 1)
            line = f"checking [{'#' * filled}{'.' * (24 - filled)}] {self.done}/{self.total} notes"
            self.width = max(self.width, len(line))
            self.stream.write(f"\r{line}")
            self.stream.flush()

    def finish(self) -> None:
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0


def _progress(total: int) -> _Progress | None:
    """A progress bar on standard error, only on a terminal and for runs of many files."""
    if total < PROGRESS_MIN_FILES or os.environ.get("TERM") == "dumb" or not _is_terminal(sys.stderr):
        return None
    return _Progress(total, sys.stderr)


def _write(stream: TextIO, text: str) -> None:
    """Write text, degrading characters the stream cannot encode instead of crashing on them."""
    try:
        stream.write(text)
    except UnicodeEncodeError:
        encoding = getattr(stream, "encoding", None) or "ascii"
        stream.write(text.encode(encoding, errors="backslashreplace").decode(encoding))


def _error(message: str) -> None:
    _write(sys.stderr, f"tensorlint: error: {message}\n")


def _warning(message: str) -> None:
    _write(sys.stderr, f"tensorlint: warning: {message}\n")


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _exit_status(exit_request: SystemExit) -> int:
    code = exit_request.code
    if code is None:
        return 0
    return code if isinstance(code, int) else 2
