"""The rule registry: every code documented, named and selectable as DESIGN.md says."""

from __future__ import annotations

import pkgutil
import re

import pytest

from tensorlint import rules
from tensorlint.model import SEVERITY_ORDER

# The table of DESIGN.md ("Diagnostic codes"), plus TL003, TL004 (the unused suppressions DESIGN.md's
# "Directives" asks to report) and TL005 (directives that cannot be read): a code never changes meaning once
# released.
EXPECTED = {
    "TL000": ("verified-claim", "hint"),
    "TL001": ("unreadable-math", "hint"),
    "TL002": ("unsupported-notation", "hint"),
    "TL003": ("unreadable-file", "warning"),
    "TL004": ("unused-suppression", "warning"),
    "TL005": ("unknown-directive", "warning"),
    "TL101": ("shape-mismatch", "error"),
    "TL102": ("conflicting-declaration", "error"),
    "TL201": ("false-claim", "error"),
    "TL202": ("impossible-derivative-shape", "error"),
    "TL203": ("layout-mismatch", "warning"),
    "TL204": ("unsummed-index-mismatch", "error"),
    "TL205": ("uncheckable-claim", "hint"),
    "TL206": ("inequality-false", "error"),
    "TL900": ("checker-error", "warning"),
}


def test_registry_matches_the_design() -> None:
    assert {rule.code: (rule.name, rule.severity) for rule in rules.all_rules()} == EXPECTED
    assert rules.codes() == sorted(EXPECTED)


def test_every_rule_module_is_registered_under_its_own_code() -> None:
    modules = {info.name for info in pkgutil.iter_modules(rules.__path__)}
    assert modules == {f"{code.lower()}_{name.replace('-', '_')}" for code, (name, _) in EXPECTED.items()}


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_rule_doc_follows_the_template(code: str) -> None:
    rule = rules.get(code)
    assert rule is not None
    assert rule.code == code
    assert re.fullmatch(r"[a-z]+(-[a-z]+)*", rule.name)
    assert rule.severity in SEVERITY_ORDER
    assert rule.summary and rule.summary[0].islower() and not rule.summary.endswith(".")
    sections = re.findall(r"^## (.+)$", rule.doc, flags=re.MULTILINE)
    assert sections == ["What it does", "Why is this bad?", "Example", "Use instead"]
    assert "```latex" in rule.doc


def test_only_tl000_is_off_by_default() -> None:
    assert [rule.code for rule in rules.all_rules() if not rule.enabled_by_default] == ["TL000"]


def test_lookup_by_code_and_name() -> None:
    assert rules.get("tl201") == rules.get("TL201")
    assert rules.get("TL999") is None
    assert rules.find("false-claim") == rules.get("TL201")
    assert rules.find("no-such-rule") is None


def test_matching_codes_takes_codes_prefixes_and_all() -> None:
    assert rules.matching_codes("TL201") == ["TL201"]
    assert rules.matching_codes("tl20") == [code for code in EXPECTED if code.startswith("TL20")]
    assert rules.matching_codes("ALL") == sorted(EXPECTED)
    assert rules.matching_codes("XY") == []


def test_default_selection() -> None:
    selection = rules.Selection()
    assert not selection.enabled("TL000")
    assert selection.enabled("TL201")
    # A code this version does not know (from a newer checker) is shown rather than hidden.
    assert selection.enabled("TL777")


def test_select_replaces_extend_select_adds_ignore_wins() -> None:
    only_errors_of_claims = rules.Selection(select=("TL2",))
    assert only_errors_of_claims.enabled("TL201")
    assert not only_errors_of_claims.enabled("TL101")

    with_verified = rules.Selection(extend_select=("TL000",))
    assert with_verified.enabled("TL000")
    assert with_verified.enabled("TL101")

    everything_but_hints = rules.Selection(select=("ALL",), ignore=("TL000", "TL205"))
    assert everything_but_hints.enabled("TL000") is False
    assert everything_but_hints.enabled("TL205") is False
    assert everything_but_hints.enabled("TL900")
