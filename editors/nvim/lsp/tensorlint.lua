-- tensorlint for Neovim 0.11+: checks the matrix calculus in Markdown, LaTeX, Quarto and R Markdown notes.
--
-- Put the folder holding this `lsp/` directory on 'runtimepath' and enable the server:
--
--   vim.opt.runtimepath:append('/path/to/tensorlint/editors/nvim')
--   vim.lsp.enable('tensorlint')
--
-- Override any field with vim.lsp.config(), for example to use the interpreter of a virtual environment:
--
--   vim.lsp.config('tensorlint', { cmd = { '/path/to/.venv/bin/tensorlint', 'serve' } })
--
-- See editors/nvim/README.md for lazy.nvim and for Neovim 0.10 and older.

---@type vim.lsp.Config
return {
  cmd = { 'tensorlint', 'serve' },
  filetypes = { 'markdown', 'tex', 'plaintex', 'quarto', 'rmd' },
  root_markers = { 'tensorlint.toml', 'pyproject.toml', '.git' },
  -- Every key is optional; an unset key (or "auto") leaves it to the project's pyproject.toml or
  -- tensorlint.toml. The server reads these through workspace/configuration.
  settings = {
    tensorlint = {
      debounce = 300, -- milliseconds between the last keystroke and the check
      layout = 'auto', -- 'auto' | 'numerator' | 'denominator'
      einstein = 'auto', -- 'auto' | 'on' | 'off'
      inlayHints = { verifiedClaims = true, shapes = true },
    },
  },
}
