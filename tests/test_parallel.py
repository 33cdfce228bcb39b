"""``-j N``: files checked in worker processes, with output identical to ``-j 1``; the progress bar."""

from __future__ import annotations

import io
import multiprocessing
import re
import shutil
from pathlib import Path

import pytest

from tensorlint import cli, core
from tensorlint.model import Config, FileResult

DATA = Path(__file__).parent / "data"
NOTES = ["backprop.md", "denominator_layout.md", "numerator_layout.md", "index_notation.md"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("parallel")
    for number, name in enumerate(NOTES * 2):
        target = root / f"sub{number % 3}" / f"{number:02d}-{name}"
        target.parent.mkdir(exist_ok=True)
        shutil.copy(DATA / name, target)
    (root / "broken.ipynb").write_text("{ not json")
    (root / "latin1.md").write_bytes(b"caf\xe9 $x = x$\n")
    return root


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize("output", ["text", "json", "sarif", "github"])
def test_parallel_output_is_identical_to_serial(folder: Path, capsys: pytest.CaptureFixture[str], output: str) -> None:
    serial = run(capsys, "check", "--format", output, "-j", "1", str(folder))
    parallel = run(capsys, "check", "--format", output, "-j", "2", str(folder))
    assert serial == parallel
    assert serial[0] == 1  # The notes have false claims on purpose.


def test_jobs_zero_means_one_per_cpu(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "check", "-j", "0", str(folder)) == run(capsys, "check", str(folder))


@pytest.mark.parametrize("value", ["-1", "two"])
def test_bad_jobs_is_a_usage_error(capsys: pytest.CaptureFixture[str], value: str) -> None:
    status, out, err = run(capsys, "check", "-j", value, ".")
    assert (status, out) == (2, "")
    assert "-j/--jobs" in err


def test_check_files_keeps_the_order_of_the_jobs(folder: Path) -> None:
    paths = sorted(str(path) for path in folder.rglob("*.md"))[::-1]
    results = cli.check_files([(path, Config()) for path in paths], 2)
    assert [result.path for result in results] == paths


@pytest.mark.skipif(multiprocessing.get_start_method() != "fork", reason="the stand-in reaches workers by fork")
def test_internal_error_in_a_worker_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(path: str, text: str, config: Config | None = None) -> FileResult:
        raise RuntimeError("boom")

    monkeypatch.setattr(core, "check_text", broken)
    for name in ("a.md", "b.md", "c.md"):
        (tmp_path / name).write_text("x\n")
    status, _, err = run(capsys, "check", "-j", "2", str(tmp_path))
    assert status == 2
    assert err.startswith("tensorlint: error: internal error: RuntimeError('boom')")


# --------------------------------------------------------------------------------------------------------
# Progress bar
# --------------------------------------------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def fake_check(path: str, text: str, config: Config | None = None) -> FileResult:
    return FileResult(path, text)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_progress_bar_on_a_terminal_for_many_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, jobs: str
) -> None:
    for number in range(cli.PROGRESS_MIN_FILES):
        (tmp_path / f"{number}.md").write_text("x\n")
    monkeypatch.setattr(core, "check_text", fake_check)
    monkeypatch.setenv("TERM", "xterm")
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    status = cli.main(["check", "-j", jobs, str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 0
    assert out.startswith(f"{cli.PROGRESS_MIN_FILES} files, 0 claims")  # The report is untouched.
    drawn = terminal.getvalue()
    assert f"{cli.PROGRESS_MIN_FILES}/{cli.PROGRESS_MIN_FILES} notes" in drawn
    assert re.search(r"checking \[#+\] ", drawn)
    assert drawn.endswith("\r")  # Erased at the end: the last thing written blanks the line.
    assert drawn.rsplit("\r", 2)[-2].strip() == ""


def test_no_progress_bar_off_a_terminal_or_for_few_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for number in range(cli.PROGRESS_MIN_FILES):
        (tmp_path / f"{number}.md").write_text("x\n")
    monkeypatch.setattr(core, "check_text", fake_check)
    status, _, err = run(capsys, "check", str(tmp_path))  # capsys: not a terminal.
    assert (status, err) == (0, "")

    monkeypatch.setenv("TERM", "xterm")
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    cli.main(["check", str(tmp_path / "0.md"), str(tmp_path / "1.md")])
    assert terminal.getvalue() == ""
