"""Settings: ``[tool.tensorlint]`` in ``pyproject.toml`` or a ``tensorlint.toml``, under the command line.

The configuration that applies to a file is the closest one found by walking up from the file's folder:
a ``tensorlint.toml`` (top-level keys), or a ``pyproject.toml`` that has a ``[tool.tensorlint]`` table (a
``pyproject.toml`` without one is passed over). In one folder ``tensorlint.toml`` wins. Files are not
merged: the closest one is used whole, as ruff does. Flags on the command line override it.

Globs in ``exclude`` and ``per-file-ignores`` follow ``.gitignore``: a pattern without a slash matches a
file or folder name at any depth (``drafts``, ``*.tex``), one with a slash is relative to the folder of the
configuration file (``notes/drafts/**``, ``/README.md``), and a pattern that matches a folder covers
everything in it.

A bad value is a ``ConfigError`` whose message names the file and the key; the command line reports it in
one line and exits with status 2. Only ``tomllib`` is imported (cheap), so the check path stays fast.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tensorlint import rules
from tensorlint.model import Config

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 reads TOML with the tomli backport.
    import tomli as tomllib

CONFIG_NAMES = ("tensorlint.toml", "pyproject.toml")
FAIL_LEVELS = ("error", "warning", "info", "hint")
SELECTION_KEYS = ("select", "extend-select", "ignore")
# Settings that change what the checker does, and the ``model.Config`` field each one sets.
CHECKER_KEYS = {
    "layout": "layout",
    "einstein": "einstein",
    "unify-fonts": "unify_fonts",
    "trials": "trials",
    "tolerance": "tolerance",
    "claim-timeout": "claim_timeout",
}
_CHECKER_DEFAULTS = Config()
DEFAULTS: dict[str, Any] = {
    "select": None,
    "extend-select": (),
    "ignore": (),
    "per-file-ignores": (),
    "exclude": (),
    "fail-level": "error",
    "macros": (),
    **{key: getattr(_CHECKER_DEFAULTS, name) for key, name in CHECKER_KEYS.items()},
}
KEYS = tuple(DEFAULTS)
DEFAULT_SOURCE = "default"
COMMAND_LINE = "command line"


class ConfigError(Exception):
    """A configuration that cannot be used: the message names the file (or flag) and the key."""


# --------------------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------------------


def _codes(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f'expected a list of codes such as ["TL201", "TL2"], got {_describe(value)}')
    codes = []
    for item in value:
        entry = item.strip()
        rule = rules.find(entry) if entry else None
        if entry and rules.matching_codes(entry):
            codes.append(entry.upper())
        elif rule is not None:
            codes.append(rule.code)  # A rule name (layout-mismatch) stands for its code.
        else:
            raise ValueError(f"unknown code or prefix {item!r} (known codes: {', '.join(rules.codes())})")
    return tuple(codes)


def _globs(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise ValueError(f'expected a list of glob patterns such as ["drafts/**", "*.tex"], got {_describe(value)}')
    return tuple(item.strip() for item in value)


def _per_file_ignores(value: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(value, dict):
        raise ValueError(
            f'expected a table of glob = [codes], such as {{"drafts/*.md" = ["TL2"]}}, got {_describe(value)}'
        )
    entries = []
    for pattern, codes in value.items():
        try:
            entries.append((pattern, _codes(codes)))
        except ValueError as error:
            raise ValueError(f"{pattern!r}: {error}") from None
    return tuple(entries)


def _paths(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise ValueError(f'expected a list of files such as ["tex/macros.tex"], got {_describe(value)}')
    return tuple(item.strip() for item in value)


def _choice(*choices: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str) or value.strip().lower() not in choices:
            raise ValueError(f"expected one of {', '.join(map(repr, choices))}, got {_describe(value)}")
        return value.strip().lower()

    return check


def _einstein(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return _choice("auto", "on", "off")(value)


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {_describe(value)}")
    return value


def _trials(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
        raise ValueError(f"expected a whole number from 1 to 1000, got {_describe(value)}")
    return value


def _positive(what: str) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value < math.inf):
            raise ValueError(f"expected {what} greater than 0, got {_describe(value)}")
        return float(value)

    return check


VALIDATORS: dict[str, Callable[[Any], Any]] = {
    "select": _codes,
    "extend-select": _codes,
    "ignore": _codes,
    "per-file-ignores": _per_file_ignores,
    "exclude": _globs,
    "fail-level": _choice(*FAIL_LEVELS),
    "layout": _choice("auto", "numerator", "denominator"),
    "einstein": _einstein,
    "unify-fonts": _boolean,
    "trials": _trials,
    "tolerance": _positive("a number"),
    "claim-timeout": _positive("a number of seconds"),
    "macros": _paths,
}


def _describe(value: Any) -> str:
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list"}
    if isinstance(value, dict):
        return "a table"
    text = repr(value) if not isinstance(value, bool) else str(value).lower()
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{kind.get(type(value), type(value).__name__)} ({text})" if not isinstance(value, str) else repr(value)


def parse_value(key: str, raw: str) -> Any:
    """A value given on the command line as text (``--trials 5``), converted and checked like the file's."""
    if key in SELECTION_KEYS:
        return VALIDATORS[key]([entry for entry in raw.split(",") if entry.strip()])
    converted: Any = raw
    try:
        if key == "trials":
            converted = int(raw)
        elif key in ("tolerance", "claim-timeout"):
            converted = float(raw)
    except ValueError:
        pass  # The validator says what was expected.
    return VALIDATORS[key](converted)


# --------------------------------------------------------------------------------------------------------
# Configuration files
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigFile:
    """One configuration file's validated values (only the keys it sets)."""

    path: str
    values: Mapping[str, Any]
    pyproject: bool = False

    @property
    def directory(self) -> str:
        return os.path.dirname(os.path.abspath(self.path))

    @property
    def label(self) -> str:
        """How messages and ``--show-settings`` name this file."""
        shown = display_path(self.path)
        return f"{shown} [tool.tensorlint]" if self.pyproject else shown


def display_path(path: str) -> str:
    """A path relative to the current folder when it is inside it, else absolute."""
    absolute = os.path.abspath(path)
    relative = os.path.relpath(absolute)
    return absolute if relative.startswith("..") else relative


def load_file(path: str) -> ConfigFile | None:
    """Read and check one configuration file; ``None`` for a ``pyproject.toml`` without
    ``[tool.tensorlint]``. Raises ``ConfigError`` for unreadable TOML or a bad key or value."""
    pyproject = os.path.basename(path) == "pyproject.toml"
    shown = display_path(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise ConfigError(f"{shown}: cannot read the configuration: {(error.strerror or str(error)).lower()}") from None
    if pyproject and b"tensorlint" not in data:
        return None  # Someone else's pyproject.toml; do not even parse it.
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{shown}: the configuration is not valid UTF-8") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{shown}: invalid TOML: {error}") from None
    prefix = ""
    if pyproject:
        table = document.get("tool", {})
        table = table.get("tensorlint") if isinstance(table, dict) else None
        if table is None:
            return None
        if not isinstance(table, dict):
            raise ConfigError(f"{shown}: tool.tensorlint: expected a table")
        document, prefix = table, "tool.tensorlint."
    values: dict[str, Any] = {}
    for key, value in document.items():
        if key not in VALIDATORS:
            guess = difflib.get_close_matches(key.replace("_", "-"), KEYS, n=1)
            hint = f" (did you mean `{guess[0]}`?)" if guess else f" (known keys: {', '.join(KEYS)})"
            raise ConfigError(f"{shown}: {prefix}{key}: unknown key{hint}")
        try:
            values[key] = VALIDATORS[key](value)
        except ValueError as error:
            raise ConfigError(f"{shown}: {prefix}{key}: {error}") from None
    return ConfigFile(path, values, pyproject)


# --------------------------------------------------------------------------------------------------------
# Globs
# --------------------------------------------------------------------------------------------------------


def glob_to_regex(glob: str) -> str:
    """A ``.gitignore``-style glob as a regular expression over ``/``-separated relative paths."""
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


@dataclass(frozen=True)
class Glob:
    """A glob of ``exclude`` or ``per-file-ignores``, relative to the folder of its configuration file."""

    pattern: str
    base: str
    regex: re.Pattern[str] = field(compare=False)

    @classmethod
    def compile(cls, pattern: str, base: str) -> Glob:
        body = pattern.strip().rstrip("/")
        if body.startswith("./"):
            body = body[2:]
        anchored = "/" in body
        body = body.lstrip("/")
        regex = glob_to_regex(body)
        return cls(pattern, base, re.compile(regex if anchored else f"(?:.*/)?{regex}", re.DOTALL))

    def matches(self, path: str) -> bool:
        """Whether ``path`` or one of its folders below ``base`` matches."""
        relative = os.path.relpath(os.path.abspath(path), self.base).replace(os.sep, "/")
        if relative == "." or relative.startswith("../"):
            return False
        parts = relative.split("/")
        return any(self.regex.fullmatch("/".join(parts[:count])) for count in range(len(parts), 0, -1))


# --------------------------------------------------------------------------------------------------------
# Effective settings
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """The settings that apply to the files under one folder: a configuration file's values (or the
    defaults) and the command line's overrides, with where each came from."""

    config_file: ConfigFile | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)

    def file_value(self, key: str) -> Any:
        if self.config_file is not None and key in self.config_file.values:
            return self.config_file.values[key]
        return DEFAULTS[key]

    def value(self, key: str) -> Any:
        """The effective value of a key (for ``ignore`` and ``extend-select``, the file's and the command
        line's together; for ``select``, the command line's if given)."""
        if key in ("ignore", "extend-select"):
            return tuple(self.file_value(key)) + tuple(self.overrides.get(key, ()))
        if key in self.overrides:
            return self.overrides[key]
        return self.file_value(key)

    def source(self, key: str) -> str:
        from_file = self.config_file is not None and key in self.config_file.values
        file_label = self.config_file.label if from_file and self.config_file is not None else DEFAULT_SOURCE
        if key in self.overrides:
            if key in ("ignore", "extend-select") and from_file:
                return f"{file_label} + {COMMAND_LINE}"
            return COMMAND_LINE
        return file_label

    @property
    def fail_level(self) -> str:
        level: str = self.value("fail-level")
        return level

    def checker_config(self) -> Config:
        """The ``model.Config`` handed to the core for files under these settings."""
        settings = {name: self.value(key) for key, name in CHECKER_KEYS.items()}
        # The `macros` files are relative to the configuration file that names them.
        base = self.config_file.directory if self.config_file is not None else os.getcwd()
        files = tuple(os.path.normpath(os.path.join(base, name)) for name in self.value("macros"))
        return Config(**settings, macro_files=files)

    def base_selection(self) -> rules.Selection:
        """The command line's selection over the configuration file's."""
        from_file = rules.Selection(
            select=self.file_value("select"),
            extend_select=self.file_value("extend-select"),
            ignore=self.file_value("ignore"),
        )
        return rules.Selection(
            select=self.overrides.get("select"),
            extend_select=tuple(self.overrides.get("extend-select", ())),
            ignore=tuple(self.overrides.get("ignore", ())),
            fallback=from_file,
        )

    def per_file_ignores(self, path: str) -> tuple[str, ...]:
        """The codes that ``per-file-ignores`` turns off for ``path``."""
        base = self._base()
        codes: list[str] = []
        for pattern, ignored in self.value("per-file-ignores"):
            if Glob.compile(pattern, base).matches(path):
                codes.extend(ignored)
        return tuple(codes)

    def selection(self, path: str) -> rules.Selection:
        """Which codes are reported for ``path``: per-file ignores over the command line over the file."""
        ignored = self.per_file_ignores(path)
        base = self.base_selection()
        return rules.Selection(ignore=ignored, fallback=base) if ignored else base

    def exclusion(self, path: str) -> str | None:
        """The ``exclude`` pattern that excludes ``path`` (a file or a folder), or ``None``."""
        base = self._base()
        for pattern in self.value("exclude"):
            if Glob.compile(pattern, base).matches(path):
                return str(pattern)
        return None

    def _base(self) -> str:
        return self.config_file.directory if self.config_file is not None else os.getcwd()


class Resolver:
    """Finds the settings for each path, reading each configuration file once.

    ``overrides`` are the command line's values by key. ``config_path`` names one file to use for every
    path instead of searching; ``isolated`` ignores configuration files altogether.
    """

    def __init__(
        self, overrides: Mapping[str, Any] | None = None, config_path: str | None = None, isolated: bool = False
    ) -> None:
        self.overrides = dict(overrides or {})
        self.isolated = isolated
        self._by_directory: dict[str, ConfigFile | None] = {}
        self._settings: dict[int, Settings] = {}
        self._fixed: ConfigFile | None = None
        if config_path is not None and not isolated:
            if not os.path.isfile(config_path):
                raise ConfigError(f"{config_path}: no such configuration file")
            loaded = load_file(config_path)
            if loaded is None:
                raise ConfigError(f"{display_path(config_path)}: has no [tool.tensorlint] table")
            self._fixed = loaded
        self._use_fixed = config_path is not None

    def config_for(self, path: str) -> ConfigFile | None:
        """The configuration file that governs ``path`` (a file or a folder)."""
        if self.isolated:
            return None
        if self._use_fixed:
            return self._fixed
        absolute = os.path.abspath(path)
        directory = absolute if os.path.isdir(absolute) else os.path.dirname(absolute)
        visited = []
        found: ConfigFile | None = None
        while True:
            if directory in self._by_directory:
                found = self._by_directory[directory]
                break
            visited.append(directory)
            found = self._load_in(directory)
            if found is not None:
                break
            parent = os.path.dirname(directory)
            if parent == directory:
                break
            directory = parent
        for folder in visited:
            self._by_directory[folder] = found
        return found

    def settings_for(self, path: str) -> Settings:
        config_file = self.config_for(path)
        key = id(config_file)
        settings = self._settings.get(key)
        if settings is None:
            settings = self._settings[key] = Settings(config_file, self.overrides)
        return settings

    def _load_in(self, directory: str) -> ConfigFile | None:
        for name in CONFIG_NAMES:
            candidate = os.path.join(directory, name)
            if os.path.isfile(candidate):
                loaded = load_file(candidate)
                if loaded is not None:
                    return loaded
        return None


# --------------------------------------------------------------------------------------------------------
# --show-settings
# --------------------------------------------------------------------------------------------------------


def toml_literal(value: Any) -> str:
    """A value written as TOML, so that ``--show-settings`` output can be pasted into a file."""
    if value is None:
        return '"(default set)"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple) and all(isinstance(item, tuple) and len(item) == 2 for item in value) and value:
        return "{ " + ", ".join(f"{toml_literal(key)} = {toml_literal(list(codes))}" for key, codes in value) + " }"
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(toml_literal(item) for item in value) + "]"
    return repr(value)


def describe(settings: Settings, path: str) -> str:
    """The effective settings for ``path``, one key a line, each with where it came from."""
    lines = [f"# settings for {display_path(path)}"]
    config_file = settings.config_file
    lines.append(f"# configuration file: {config_file.label if config_file is not None else 'none (defaults)'}")
    rows = []
    for key in KEYS:
        value = settings.value(key)
        if key == "select" and value is None:
            rows.append((f"# {key} = (not set)", "default: every code but the ones off by default (TL000)"))
        elif key == "per-file-ignores" and not value:
            rows.append((f"{key} = {{}}", settings.source(key)))
        else:
            rows.append((f"{key} = {toml_literal(value)}", settings.source(key)))
    width = min(40, max(len(text) for text, _ in rows))
    lines.extend(f"{text:<{width}}  # {source}" for text, source in rows)
    exclusion = settings.exclusion(path)
    lines.append(f"# excluded: {'yes, by ' + repr(exclusion) if exclusion else 'no'}")
    ignored = settings.per_file_ignores(path)
    if ignored:
        lines.append(f"# per-file-ignores for this file: {', '.join(ignored)}")
    reported = settings.selection(path).enabled_codes()
    lines.append(f"# codes reported: {', '.join(reported) if reported else 'none'}")
    return "\n".join(lines) + "\n"


def _on_by_default(code: str) -> bool:
    rule = rules.get(code)
    return rule is None or rule.enabled_by_default


def load_config(path: str) -> Config:
    """The checker settings of the project that ``path`` belongs to (for the language server, which asks
    once per check, so that an edited configuration file takes effect). Raises ``ConfigError``."""
    return Resolver().settings_for(path).checker_config()
