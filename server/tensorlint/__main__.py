"""``python -m tensorlint``: the same as the ``tensorlint`` command."""

from tensorlint.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
