"""The diagnostic codes tensorlint reports: one module per code, one registry line per code.

Each rule module starts with a user-facing doc (What it does, Why is this bad, Example, Use instead) and
defines ``RULE``. ``tensorlint explain CODE`` prints that doc. Adding a diagnostic means adding its module,
one line in ``_REGISTRY`` and one test fixture; a code never changes meaning once released.

Rule modules are imported on first use, so reporting a handful of codes does not load every doc.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from tensorlint.model import Severity


@dataclass(frozen=True)
class Rule:
    """What a code means: its kebab-case name (read as "allow <name>"), default severity and doc."""

    code: str
    name: str
    severity: Severity
    summary: str
    doc: str
    enabled_by_default: bool = True


# One line per code: the code and the module that documents it, in code order.
_REGISTRY: dict[str, str] = {
    "TL000": "tl000_verified_claim",
    "TL001": "tl001_unreadable_math",
    "TL002": "tl002_unsupported_notation",
    "TL003": "tl003_unreadable_file",
    "TL004": "tl004_unused_suppression",
    "TL005": "tl005_unknown_directive",
    "TL101": "tl101_shape_mismatch",
    "TL102": "tl102_conflicting_declaration",
    "TL201": "tl201_false_claim",
    "TL202": "tl202_impossible_derivative_shape",
    "TL203": "tl203_layout_mismatch",
    "TL204": "tl204_unsummed_index_mismatch",
    "TL205": "tl205_uncheckable_claim",
    "TL206": "tl206_inequality_false",
    "TL900": "tl900_checker_error",
}


def codes() -> list[str]:
    """Every known code, in order."""
    return list(_REGISTRY)


def get(code: str) -> Rule | None:
    """The rule for ``code`` (case-insensitive), or ``None`` for a code tensorlint does not know."""
    module_name = _REGISTRY.get(code.strip().upper())
    if module_name is None:
        return None
    module = importlib.import_module(f"{__name__}.{module_name}")
    rule: Rule = module.RULE
    return rule


def all_rules() -> list[Rule]:
    """Every rule, in code order."""
    return [rule for rule in map(get, _REGISTRY) if rule is not None]


def find(code_or_name: str) -> Rule | None:
    """The rule named by a code (``TL201``, ``tl201``) or a kebab-case name (``false-claim``)."""
    rule = get(code_or_name)
    if rule is not None:
        return rule
    wanted = code_or_name.strip().lower()
    return next((rule for rule in all_rules() if rule.name == wanted), None)


def matching_codes(pattern: str) -> list[str]:
    """The known codes a ``--select``/``--ignore`` entry stands for: a code, a prefix (``TL2``) or ``ALL``."""
    pattern = pattern.strip().upper()
    if pattern == "ALL":
        return codes()
    return [code for code in _REGISTRY if code.startswith(pattern)]


@dataclass(frozen=True)
class Selection:
    """Which codes are reported, as in ruff: ``select`` replaces the default set, ``extend_select`` adds to
    it, and ``ignore`` wins over both. Entries are codes or prefixes (``TL2``, ``ALL``).

    A code tensorlint does not know (from a newer core, say) counts as on by default, so that nothing the
    checker finds is hidden silently.
    """

    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    # The layer below this one (the configuration under the command line, a file's settings under its
    # per-file ignores): it decides every code this layer does not, when this layer has no ``select``.
    fallback: Selection | None = None

    def enabled(self, code: str) -> bool:
        code = code.upper()
        if _matches(code, self.ignore):
            return False
        if _matches(code, self.extend_select):
            return True
        if self.select is not None:
            return _matches(code, self.select)
        if self.fallback is not None:
            return self.fallback.enabled(code)
        rule = get(code)
        return rule is None or rule.enabled_by_default

    def enabled_codes(self) -> list[str]:
        """The known codes this selection reports, in order."""
        return [code for code in _REGISTRY if self.enabled(code)]


def _matches(code: str, patterns: tuple[str, ...]) -> bool:
    return any(pattern.upper() == "ALL" or code.startswith(pattern.upper()) for pattern in patterns)
