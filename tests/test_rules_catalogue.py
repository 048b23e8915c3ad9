"""config/rules.yaml is the copy of ../shared/RULES.md the installed bot carries: keep them equal."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from config.rules import catalogue, rule

RULES_MD = Path(__file__).resolve().parents[1].parent / "shared" / "RULES.md"


@pytest.mark.skipif(not RULES_MD.exists(), reason="../shared/RULES.md is not beside this checkout")
def test_catalogue_matches_rules_md():
    ids = re.findall(r"^\| ([A-Z]{2,}[A-Z0-9-]*) \|", RULES_MD.read_text(encoding="utf-8"), re.M)
    assert sorted(set(ids) - {"id"}) == sorted(catalogue())


def test_unknown_rule_id_is_refused():
    with pytest.raises(KeyError, match="not in RULES.md"):
        rule("ABS-NOPE")
    assert rule("RHI-72H").sources.startswith("J §10.1")
