"""The VS Code extension builds, lints, passes its unit tests and packages into a .vsix, from CI's pytest.

Runs ``npm ci``, ``npm run lint``, ``npm run build``, ``npm test`` and ``vsce package`` on a copy of
``editors/vscode`` in a temporary folder, so that the checkout gets no ``node_modules`` and two runs never
share one. Skipped, with the reason, when Node.js 20 or newer and npm are not installed, or when the npm
registry cannot be reached for ``npm ci``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

EXTENSION = Path(__file__).resolve().parent.parent / "editors" / "vscode"
NETWORK_ERRORS = re.compile(r"ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|network", re.IGNORECASE)


def run(command: list[str], folder: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "npm_config_update_notifier": "false", "npm_config_fund": "false", "CI": "1"}
    return subprocess.run(
        command, cwd=folder, capture_output=True, text=True, timeout=timeout, env=environment, check=False
    )


def require(completed: subprocess.CompletedProcess[str]) -> str:
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, f"{' '.join(completed.args)} failed:\n{output[-6000:]}"
    return output


def test_the_extension_builds_lints_tests_and_packages(tmp_path: Path):
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.skip("npm and Node.js are not installed: the VS Code extension is not built")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    found = re.match(r"v(\d+)\.", version)
    if found is None or int(found.group(1)) < 20:
        pytest.skip(f"Node.js {version or '(unknown)'} is older than 20, which @vscode/vsce needs")

    folder = tmp_path / "vscode"
    shutil.copytree(EXTENSION, folder, ignore=shutil.ignore_patterns("node_modules", "dist", "out", "*.vsix"))
    installed = run([npm, "ci", "--no-audit", "--no-fund"], folder)
    if installed.returncode != 0 and NETWORK_ERRORS.search(installed.stderr):
        pytest.skip(f"npm ci could not reach the registry: {installed.stderr.strip().splitlines()[-1]}")
    require(installed)
    require(run([npm, "run", "lint"], folder))
    require(run([npm, "run", "build"], folder))
    tested = require(run([npm, "test"], folder))
    assert re.search(r"# pass [1-9]", tested) and "# fail 0" in tested, tested

    package = tmp_path / "tensorlint.vsix"
    require(run([npm, "run", "package", "--", "--out", str(package)], folder))
    with zipfile.ZipFile(package) as archive:
        names = set(archive.namelist())
    assert {"extension/package.json", "extension/dist/main.js", "extension/readme.md"} <= names
    assert not [name for name in names if "node_modules" in name or name.endswith(".ts")], sorted(names)
    size = package.stat().st_size
    print(f"tensorlint.vsix: {size / 1024:.1f} KiB")
    assert size < 1_000_000
