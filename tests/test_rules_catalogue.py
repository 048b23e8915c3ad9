"""config/rules.yaml is the copy of ../shared/RULES.md the installed bot carries: keep them equal."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from config.presets import load_all_presets
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


def _rules_md_ids() -> set[str]:
    """RULES.md itself when it is beside this checkout, else the copy pinned equal above."""
    if RULES_MD.exists():
        text = RULES_MD.read_text(encoding="utf-8")
        return set(re.findall(r"^\| ([A-Z]{2,}[A-Z0-9-]*) \|", text, re.M)) - {"id"}
    return set(catalogue())


def _out_of_scope() -> dict[str, str]:
    path = Path(__file__).resolve().parents[1] / "config" / "out_of_scope.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_every_rule_is_implemented_somewhere_or_out_of_scope_with_a_reason():
    presets = load_all_presets()
    implemented = {rule_id for p in presets.values() for rule_id in p.rules}
    excluded = _out_of_scope()
    assert all(len(reason.split()) >= 5 for reason in excluded.values()), "say why"
    assert not implemented & set(excluded), "a rule is both implemented and out of scope"
    missing = _rules_md_ids() - implemented - set(excluded)
    assert not missing, f"in RULES.md but in no preset and not out of scope: {sorted(missing)}"


def test_a_rule_a_preset_names_is_acted_on_by_data_or_code():
    """Naming an id in a preset is not enough: a ladder, a duty or the code must use it."""
    root = Path(__file__).resolve().parents[1]
    code = "\n".join(  # the code, less comments: a rule mentioned in a comment does nothing
        line
        for package in ("handlers", "reminders", "bot")
        for path in (root / package).glob("*.py")
        for line in path.read_text(encoding="utf-8").splitlines()
        if not line.lstrip().startswith("#")
    )
    for area, preset in load_all_presets().items():
        used = set(preset.duties)
        for ladder in preset.ladders.values():
            used |= set(ladder.rule_ids)
        idle = [r for r in preset.rules if r not in used and not re.search(rf"\b{r}\b", code)]
        assert not idle, f"{area} names rules nothing acts on: {idle}"
