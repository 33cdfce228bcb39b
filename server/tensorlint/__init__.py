"""tensorlint: a linter and language server for matrix calculus in notes."""

__version__ = "0.1.0"
