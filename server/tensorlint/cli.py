"""The ``tensorlint`` command: ``check``, ``explain``, ``serve``.

This is the only module that prints. It reads files (as bytes, so that encoding problems become TL003
diagnostics rather than crashes), hands their text to the pure core, and reports through ``report``.
Startup must stay cheap: nothing heavy (SymPy, NumPy, pygls) is imported here; the core imports what it
needs when it runs, and ``serve`` imports the language server only when asked for.

Exit codes: 0 when nothing at or above the fail level was found, 1 when something was, 2 on usage or
internal errors (including a path that does not exist).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO

from tensorlint import __version__, core, report, rules
from tensorlint.model import SEVERITY_ORDER, Config, Diagnostic, FileResult

NOTE_SUFFIXES = (".md", ".markdown", ".qmd", ".rmd", ".tex", ".ipynb")
SKIPPED_DIRECTORIES = frozenset({"node_modules", "__pycache__"})
FAIL_LEVELS = ("error", "warning", "info", "hint")
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
        description="Check files and folders (.md .markdown .qmd .Rmd .tex .ipynb), respecting .gitignore.",
    )
    check.add_argument("paths", nargs="*", metavar="PATH", help="files or folders to check (default: .)")
    check.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    check.add_argument(
        "--fail-level",
        choices=FAIL_LEVELS,
        default="error",
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
        description="Run the language server over stdio (needs the extra: pip install 'tensorlint[lsp]').",
    )
    # Editor clients (vscode-languageclient among them) pass --stdio; stdio is the only transport anyway.
    serve.add_argument("--stdio", action="store_true", help=argparse.SUPPRESS)
    serve.set_defaults(handler=run_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code instead of exiting, so tests can call it."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_request:
        return _exit_status(exit_request)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        status: int = args.handler(args)
        return status
    except UsageError as error:
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


# --------------------------------------------------------------------------------------------------------
# check
# --------------------------------------------------------------------------------------------------------


def run_check(args: argparse.Namespace) -> int:
    selection = rules.Selection(
        select=_code_list(args.select, "--select") if args.select is not None else None,
        extend_select=_code_list(args.extend_select, "--extend-select"),
        ignore=_code_list(args.ignore, "--ignore"),
    )
    files, missing = collect_files(args.paths or ["."])
    for path in missing:
        _error(f"no such file or directory: {path}")
    if not files and not missing:
        _warning(f"no notes found (looked for {', '.join(NOTE_SUFFIXES)})")

    config = Config()
    results = [report.apply_selection(check_file(path, config), selection) for path in files]

    if args.format == "json":
        _write(sys.stdout, json.dumps(report.to_json(results), indent=2, ensure_ascii=False) + "\n")
    else:
        _write(sys.stdout, report.format_text(results, color=_use_color(args.color, sys.stdout)))
    sys.stdout.flush()

    if missing:
        return 2
    threshold = SEVERITY_ORDER[args.fail_level]
    failed = any(
        SEVERITY_ORDER.get(diagnostic.severity, SEVERITY_ORDER["error"]) >= threshold
        for result in results
        for diagnostic in result.diagnostics
    )
    return 1 if failed else 0


def check_file(path: str, config: Config) -> FileResult:
    """Read one file and check it; a file that cannot be read or decoded gets a TL003 diagnostic."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        reason = (error.strerror or str(error)).lower()
        return FileResult(path, "", diagnostics=[_unreadable(f"cannot read file: {reason}", 0)])
    text, problem = decode_note(data)
    if text is None:
        return FileResult(path, "", diagnostics=[problem] if problem is not None else [])
    # Looked up at call time, so tests (and embedders) can substitute the checker.
    result = core.check_text(path, text, config)
    if problem is not None:
        result.diagnostics.append(problem)
    return result


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


def _code_list(values: list[str] | None, flag: str) -> tuple[str, ...]:
    """Split repeated, comma-separated ``--select``-style values; each must name at least one known code."""
    entries = [entry.strip().upper() for value in values or [] for entry in value.split(",") if entry.strip()]
    for entry in entries:
        if not rules.matching_codes(entry):
            raise UsageError(f"{flag}: unknown code or prefix {entry!r} (known codes: {', '.join(rules.codes())})")
    return tuple(entries)


# --------------------------------------------------------------------------------------------------------
# Finding files
# --------------------------------------------------------------------------------------------------------


def collect_files(paths: list[str]) -> tuple[list[str], list[str]]:
    """The notes to check, sorted and without duplicates, and the paths that do not exist.

    A file named on the command line is always checked, whatever its suffix and even if ignored; a folder
    is walked for notes, skipping hidden entries, ``node_modules`` and what ``.gitignore`` files exclude.
    """
    found: dict[str, str] = {}
    missing: list[str] = []
    for given in paths:
        path = os.path.normpath(given)
        if os.path.isdir(path):
            for note in walk_notes(path):
                found.setdefault(os.path.realpath(note), os.path.normpath(note))
        elif os.path.isfile(path):
            found.setdefault(os.path.realpath(path), path)
        else:
            missing.append(given)
    return sorted(found.values()), missing


def walk_notes(root: str) -> Iterator[str]:
    """Notes under ``root`` in sorted order, honouring ``.gitignore`` files in the tree and above it (up to
    the repository root)."""
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
    body = _glob_to_regex(line)
    regex = re.compile(body if anchored else f"(?:.*/)?{body}", re.DOTALL)
    return _IgnorePattern(regex, negated, directory_only)


def _glob_to_regex(glob: str) -> str:
    parts: list[str] = []
    position = 0
    while position < len(glob):
        if glob.startswith("**/", position):
            parts.append("(?:.*/)?")
            position += 3
        elif glob.startswith("**", position):
            parts.append(".*")
            position += 2
        elif glob[position] == "*":
            parts.append("[^/]*")
            position += 1
        elif glob[position] == "?":
            parts.append("[^/]")
            position += 1
        elif glob[position] == "[" and "]" in glob[position + 2 :]:
            end = glob.index("]", position + 2)
            members = glob[position + 1 : end].replace("\\", "\\\\")
            if members.startswith("!"):
                members = "^" + members[1:]
            parts.append(f"[{members}]")
            position = end + 1
        else:
            parts.append(re.escape(glob[position]))
            position += 1
    return "".join(parts)


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
# explain, serve
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
            _error(f"the language server needs {error.name} ({error}); pip install 'tensorlint[lsp]'")
        return 2
    status = lsp.main()
    return int(status or 0)


# --------------------------------------------------------------------------------------------------------
# Output helpers
# --------------------------------------------------------------------------------------------------------


def _use_color(choice: str, stream: TextIO) -> bool:
    if choice != "auto":
        return choice == "always"
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


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
