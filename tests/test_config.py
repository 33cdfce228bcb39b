"""Configuration: ``[tool.tensorlint]`` in ``pyproject.toml`` or ``tensorlint.toml``, found by walking up from
each file, under the command line's flags; ``--show-settings``; a bad value is one clear line and exit 2."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tensorlint import cli, config, core
from tensorlint.model import Claim, Config, Diagnostic, FileResult

MARKERS = {"ERROR": ("TL201", "error"), "WARN": ("TL203", "warning"), "HINT": ("TL205", "hint")}


class RecordingChecker:
    """A stand-in for the core: a diagnostic per ERROR/WARN/HINT marker; remembers each file's Config."""

    def __init__(self) -> None:
        self.configs: dict[str, Config] = {}

    def __call__(self, path: str, text: str, config: Config | None = None) -> FileResult:
        self.configs[Path(path).name] = config or Config()
        diagnostics = [
            Diagnostic(MARKERS[m.group()][0], m.group(), m.start(), m.end(), MARKERS[m.group()][1])  # type: ignore[arg-type]
            for m in re.finditer(r"\b(ERROR|WARN|HINT)\b", text)
        ]
        claims = [Claim(m.start(1), m.end(1), m.group(1), "verified") for m in re.finditer(r"\$([^$]+)\$", text)]
        return FileResult(path, text, claims=claims, diagnostics=diagnostics)


@pytest.fixture
def checker(monkeypatch: pytest.MonkeyPatch) -> RecordingChecker:
    fake = RecordingChecker()
    monkeypatch.setattr(core, "check_text", fake)
    return fake


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def codes_by_file(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, list[str]]]:
    status, out, err = run(capsys, "check", "--format", "json", *argv)
    assert out, err
    document = json.loads(out)
    return status, {Path(f["path"]).name: [d["code"] for d in f["diagnostics"]] for f in document["files"]}


# --------------------------------------------------------------------------------------------------------
# Discovery
# --------------------------------------------------------------------------------------------------------


def test_closest_configuration_wins_and_pyproject_without_table_is_passed_over(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], checker: RecordingChecker, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": '[tool.tensorlint]\nignore = ["TL205"]\n',
            "top.md": "ERROR WARN HINT\n",
            "a/tensorlint.toml": 'ignore = ["TL203"]\n',
            "a/mid.md": "ERROR WARN HINT\n",
            "a/b/pyproject.toml": '[project]\nname = "unrelated"\n',
            "a/b/deep.md": "ERROR WARN HINT\n",
            "c/pyproject.toml": '[tool.tensorlint]\nignore = ["TL201"]\n',
            "c/tensorlint.toml": 'ignore = ["TL203", "TL205"]\n',
            "c/both.md": "ERROR WARN HINT\n",
        },
    )
    monkeypatch.chdir(tmp_path)
    _, codes = codes_by_file(capsys, ".")
    assert codes == {
        "top.md": ["TL201", "TL203"],
        "mid.md": ["TL201", "TL205"],
        "deep.md": ["TL201", "TL205"],  # a/b/pyproject.toml has no [tool.tensorlint]: a/tensorlint.toml applies.
        "both.md": ["TL201"],  # tensorlint.toml beats pyproject.toml in the same folder.
    }


def test_configuration_is_found_from_the_file_not_the_current_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], checker: RecordingChecker, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, {"project/tensorlint.toml": 'ignore = ["TL201"]\n', "project/notes/a.md": "ERROR WARN\n"})
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    _, codes = codes_by_file(capsys, str(tmp_path / "project" / "notes" / "a.md"))
    assert codes == {"a.md": ["TL203"]}


def test_a_broken_pyproject_that_does_not_mention_tensorlint_is_ignored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], checker: RecordingChecker
) -> None:
    write(tmp_path, {"pyproject.toml": "[project\nname = \n", "a.md": "ERROR\n"})
    status, codes = codes_by_file(capsys, str(tmp_path))
    assert (status, codes) == (1, {"a.md": ["TL201"]})


# --------------------------------------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------------------------------------


def test_select_extend_select_and_rule_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], checker: RecordingChecker
) -> None:
    write(
        tmp_path,
        {"tensorlint.toml": 'select = ["layout-mismatch"]\nextend-select = ["TL000"]\n', "a.md": "ERROR WARN $x$\n"},
    )
    _, codes = codes_by_file(capsys, str(tmp_path))
    assert codes == {"a.md": ["TL203", "TL000"]}


def test_per_file_ignores(tmp_path: Path, capsys: pytest.CaptureFixture[str], checker: RecordingChecker) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": (
                "[tool.tensorlint.per-file-ignores]\n"
                '"drafts/**" = ["TL2"]\n'
                '"*.tex" = ["TL201"]\n'
                '"/notes/special.md" = ["TL203"]\n'
            ),
            "drafts/deep/x.md": "ERROR WARN HINT\n",
            "notes/y.tex": "ERROR WARN\n",
            "notes/special.md": "ERROR WARN\n",
            "notes/plain.md": "ERROR WARN\n",
        },
    )
    _, codes = codes_by_file(capsys, str(tmp_path))
    assert codes == {
        "x.md": [],
        "y.tex": ["TL203"],
        "special.md": ["TL201"],
        "plain.md": ["TL201", "TL203"],
    }


def test_exclude_applies_to_walked_and_named_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], checker: RecordingChecker, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        tmp_path,
        {
            "tensorlint.toml": 'exclude = ["drafts", "notes/generated-*.md", "/top-only.md"]\n',
            "drafts/a.md": "ERROR\n",
            "notes/drafts/b.md": "ERROR\n",
            "notes/generated-1.md": "ERROR\n",
            "notes/top-only.md": "ERROR\n",
            "top-only.md": "ERROR\n",
            "notes/kept.md": "ERROR\n",
        },
    )
    monkeypatch.chdir(tmp_path)
    run(capsys, "check", ".")
    assert sorted(checker.configs) == ["kept.md", "top-only.md"]
    # pre-commit names files one by one: the exclusion holds for them too.
    checker.configs.clear()
    status, _, err = run(capsys, "check", "drafts/a.md", "notes/generated-1.md", "notes/kept.md")
    assert sorted(checker.configs) == ["kept.md"]
    assert status == 1 and err == ""


def test_folder_whose_notes_are_all_excluded_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], checker: RecordingChecker, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, {"tensorlint.toml": 'exclude = ["*.md"]\n', "notes/a.md": "ERROR\n", "notes/b.md": "x\n"})
    monkeypatch.chdir(tmp_path)
    status, out, err = run(capsys, "check", "notes")
    assert status == 0
    assert err == (
        "tensorlint: warning: no notes found in notes (looked for .md, .markdown, .qmd, .rmd, .tex, .ipynb; "
        "2 excluded by the configuration)\n"
    )
    status, out, err = run(capsys, "check", "notes/a.md")
    assert status == 0
    assert err == "tensorlint: warning: no notes to check: every file given is excluded by the configuration\n"
    assert out.startswith("0 files, 0 claims")


@pytest.mark.parametrize(("level", "expected"), [("error", 0), ("warning", 1)])
def test_fail_level(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], checker: RecordingChecker, level: str, expected: int
) -> None:
    write(tmp_path, {"tensorlint.toml": f'fail-level = "{level}"\n', "a.md": "WARN\n"})
    assert run(capsys, "check", str(tmp_path))[0] == expected


def test_checker_settings_reach_the_core(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], checker: RecordingChecker
) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": (
                "[tool.tensorlint]\n"
                'layout = "numerator"\neinstein = "off"\nunify-fonts = false\n'
                "trials = 7\ntolerance = 1e-4\nclaim-timeout = 0.5\n"
            ),
            "a.md": "x\n",
            "sub/tensorlint.toml": "einstein = true\n",
            "sub/b.md": "x\n",
        },
    )
    run(capsys, "check", str(tmp_path))
    assert checker.configs["a.md"] == Config(
        layout="numerator", einstein="off", unify_fonts=False, trials=7, tolerance=1e-4, claim_timeout=0.5
    )
    assert checker.configs["b.md"] == Config(einstein="on")  # The closest file is used whole, not merged.


def test_layout_setting_changes_the_verdict_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, {"a.md": "Let $a, x \\in \\mathbb{R}^n$.\n\n$$\\frac{\\partial a^T x}{\\partial x} = a^T$$\n"})
    _, out, _ = run(capsys, "check", "--format", "json", str(tmp_path))
    assert [c["verdict"] for c in json.loads(out)["files"][0]["claims"]] == ["verified"]  # The first claim sets it.
    (tmp_path / "tensorlint.toml").write_text('layout = "denominator"\n')
    _, out, _ = run(capsys, "check", "--format", "json", str(tmp_path))
    assert [c["verdict"] for c in json.loads(out)["files"][0]["claims"]] == ["layout"]


# --------------------------------------------------------------------------------------------------------
# The command line over the file
# --------------------------------------------------------------------------------------------------------


def test_command_line_overrides_the_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], checker: RecordingChecker
) -> None:
    write(
        tmp_path,
        {
            "tensorlint.toml": 'ignore = ["TL205"]\nfail-level = "hint"\nlayout = "numerator"\ntrials = 4\n',
            "a.md": "WARN HINT\n",
        },
    )
    status, codes = codes_by_file(capsys, str(tmp_path), "--fail-level", "error", "--ignore", "TL203")
    assert (status, codes) == (0, {"a.md": []})  # --ignore adds to the file's ignore list.
    assert checker.configs["a.md"] == Config(layout="numerator", trials=4)
    status, codes = codes_by_file(capsys, str(tmp_path), "--extend-select", "TL205", "--layout", "auto")
    assert (status, codes) == (1, {"a.md": ["TL203", "TL205"]})  # The command line re-enables an ignored code.
    assert checker.configs["a.md"] == Config(trials=4)
    status, codes = codes_by_file(capsys, str(tmp_path), "--select", "TL2", "--trials", "9", "--no-unify-fonts")
    assert codes == {"a.md": ["TL203", "TL205"]}
    assert checker.configs["a.md"] == Config(layout="numerator", trials=9, unify_fonts=False)


def test_config_flag_and_isolated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], checker: RecordingChecker
) -> None:
    write(
        tmp_path,
        {
            "tensorlint.toml": 'ignore = ["TL201"]\n',
            "a.md": "ERROR WARN\n",
            "shared/rules.toml": 'ignore = ["TL203"]\n',
        },
    )
    assert codes_by_file(capsys, str(tmp_path / "a.md"))[1] == {"a.md": ["TL203"]}
    explicit = str(tmp_path / "shared" / "rules.toml")
    assert codes_by_file(capsys, str(tmp_path / "a.md"), "--config", explicit)[1] == {"a.md": ["TL201"]}
    assert codes_by_file(capsys, str(tmp_path / "a.md"), "--isolated")[1] == {"a.md": ["TL201", "TL203"]}
    status, out, err = run(capsys, "check", str(tmp_path / "a.md"), "--config", str(tmp_path / "nope.toml"))
    assert (status, out) == (2, "") and "nope.toml: no such configuration file" in err


# --------------------------------------------------------------------------------------------------------
# Bad configuration
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ('select = "TL201"', 'select: expected a list of codes such as ["TL201", "TL2"], got \'TL201\''),
        ('ignore = ["TL999"]', "ignore: unknown code or prefix 'TL999'"),
        ("extend-select = [1]", "extend-select: expected a list of codes"),
        ('per-file-ignores = ["a"]', "per-file-ignores: expected a table of glob = [codes]"),
        ('per-file-ignores = {"*.md" = ["XX"]}', "per-file-ignores: '*.md': unknown code or prefix 'XX'"),
        ("exclude = [1]", "exclude: expected a list of glob patterns"),
        ('fail-level = "fatal"', "fail-level: expected one of 'error', 'warning', 'info', 'hint', got 'fatal'"),
        ('layout = "jacobian"', "layout: expected one of 'auto', 'numerator', 'denominator', got 'jacobian'"),
        ('einstein = "maybe"', "einstein: expected one of 'auto', 'on', 'off', got 'maybe'"),
        ('unify-fonts = "yes"', "unify-fonts: expected true or false, got 'yes'"),
        ("trials = 0", "trials: expected a whole number from 1 to 1000, got an integer (0)"),
        ("trials = 2.5", "trials: expected a whole number from 1 to 1000, got a number (2.5)"),
        ("trials = true", "trials: expected a whole number from 1 to 1000, got a boolean (true)"),
        ("tolerance = -1e-3", "tolerance: expected a number greater than 0, got a number (-0.001)"),
        ("claim-timeout = 0", "claim-timeout: expected a number of seconds greater than 0, got an integer (0)"),
        ("fail_level = 'error'", "fail_level: unknown key (did you mean `fail-level`?)"),
        ("colour = 'always'", "colour: unknown key (known keys: select, extend-select, ignore"),
        ("trials = ", "invalid TOML: Invalid value (at line 1, column 10)"),
    ],
)
@pytest.mark.parametrize("where", ["tensorlint.toml", "pyproject.toml"])
def test_bad_value_is_one_line_naming_the_file_and_key(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    checker: RecordingChecker,
    monkeypatch: pytest.MonkeyPatch,
    setting: str,
    message: str,
    where: str,
) -> None:
    text = setting + "\n" if where == "tensorlint.toml" else "[tool.tensorlint]\n" + setting + "\n"
    if where == "pyproject.toml":
        message = message.replace("line 1,", "line 2,")
        if not message.startswith("invalid TOML"):
            message = "tool.tensorlint." + message
    write(tmp_path, {where: text, "a.md": "ERROR\n"})
    monkeypatch.chdir(tmp_path)
    status, out, err = run(capsys, "check", ".")
    assert (status, out) == (2, "")
    assert err.startswith(f"tensorlint: error: {where}: {message}"), err
    assert len(err.splitlines()) == 1
    assert checker.configs == {}  # Nothing was checked with a configuration that could not be read.


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--trials", "zero"], "--trials: expected a whole number from 1 to 1000, got 'zero'"),
        (["--tolerance", "0"], "--tolerance: expected a number greater than 0, got a number (0.0)"),
        (["--claim-timeout", "-1"], "--claim-timeout: expected a number of seconds greater than 0"),
        (["--ignore", "TL2,bogus"], "--ignore: unknown code or prefix 'bogus'"),
    ],
)
def test_bad_flag_value_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], checker: RecordingChecker, flags: list[str], message: str
) -> None:
    status, out, err = run(capsys, "check", str(tmp_path), *flags)
    assert (status, out) == (2, "")
    assert err.startswith(f"tensorlint: error: {message}") and len(err.splitlines()) == 1


# --------------------------------------------------------------------------------------------------------
# --show-settings
# --------------------------------------------------------------------------------------------------------


def test_show_settings_prints_values_and_their_sources(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], checker: RecordingChecker, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        tmp_path,
        {
            "pyproject.toml": (
                '[tool.tensorlint]\nignore = ["TL205"]\nlayout = "numerator"\nexclude = ["drafts"]\n'
                '[tool.tensorlint.per-file-ignores]\n"notes/*.md" = ["TL203"]\n'
            ),
            "notes/a.md": "x\n",
        },
    )
    monkeypatch.chdir(tmp_path)
    status, out, err = run(capsys, "check", "--show-settings", "notes/a.md", "--ignore", "TL206", "--trials", "5")
    assert (status, err) == (0, "")
    assert checker.configs == {}  # Nothing is checked.
    lines = out.splitlines()
    assert lines[0] == "# settings for notes/a.md"
    assert lines[1] == "# configuration file: pyproject.toml [tool.tensorlint]"
    settings = {line.split(" = ")[0]: line for line in lines if " = " in line and not line.startswith("#")}
    assert re.fullmatch(
        r'ignore = \["TL205", "TL206"\] +# pyproject.toml \[tool.tensorlint\] \+ command line', settings["ignore"]
    )
    assert re.fullmatch(r'layout = "numerator" +# pyproject.toml \[tool.tensorlint\]', settings["layout"])
    assert re.fullmatch(r"trials = 5 +# command line", settings["trials"])
    assert re.fullmatch(r'fail-level = "error" +# default', settings["fail-level"])
    assert re.fullmatch(r'per-file-ignores = \{ "notes/\*\.md" = \["TL203"\] \} +# .*', settings["per-file-ignores"])
    assert "# per-file-ignores for this file: TL203" in lines
    assert "# excluded: no" in lines
    reported = next(line for line in lines if line.startswith("# codes reported: "))
    assert "TL201" in reported and "TL203" not in reported and "TL205" not in reported and "TL000" not in reported
    # Every key is listed, in the documented order.
    keys = [re.sub(r"^# ", "", line).split(" = ")[0] for line in lines if " = " in line]
    assert keys == list(config.KEYS)


def test_show_settings_without_a_configuration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "check", "--isolated", "--show-settings", str(tmp_path / "x.md"))
    assert status == 0
    assert "# configuration file: none (defaults)" in out
    assert all(line.endswith("# default") or line.startswith("# ") for line in out.splitlines() if " = " in line)


def test_show_settings_says_when_a_file_is_excluded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, {"tensorlint.toml": 'exclude = ["drafts/"]\n'})
    monkeypatch.chdir(tmp_path)
    _, out, _ = run(capsys, "check", "--show-settings", "drafts/x.md")
    assert "# excluded: yes, by 'drafts/'" in out


def test_every_checker_key_is_a_config_field() -> None:
    assert set(config.CHECKER_KEYS.values()) <= set(Config.__dataclass_fields__)
    assert set(config.KEYS) == set(config.VALIDATORS)
