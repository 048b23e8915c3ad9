"""config/rules.yaml is the copy of ../shared/RULES.md the installed bot carries: keep them equal."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from config import rule_ids
from config.presets import load_all_presets
from config.rule_effects import rule_effects
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
    # The code names the rules it decides on through config/rule_ids.py, and acts on those
    # of config/protocols/_rule_effects.yaml: a rule is used where the code uses its name.
    by_name = {v for k, v in _registry().items() if re.search(rf"\brule_ids\.{k}\b", code)}
    for area, preset in load_all_presets().items():
        used = set(preset.duties) | by_name | rule_effects().rule_ids
        for ladder in preset.ladders.values():
            used |= set(ladder.rule_ids)
        idle = [r for r in preset.rules if r not in used and not re.search(rf"\b{r}\b", code)]
        assert not idle, f"{area} names rules nothing acts on: {idle}"


def _registry() -> dict[str, str]:
    """config/rule_ids.py: constant name -> rule id."""
    return {k: v for k, v in vars(rule_ids).items() if k.isupper() and isinstance(v, str)}


def test_every_id_the_code_names_or_the_data_uses_is_in_the_catalogue():
    known = set(catalogue())
    assert _registry(), "config/rule_ids.py names no rules"
    assert not set(_registry().values()) - known
    assert len(set(_registry().values())) == len(_registry()), "one name per rule"
    assert not rule_effects().rule_ids - known


# Literals not yet moved to config/rule_ids.py: the police usage replies, which the command
# registry takes over. (path, rule id) pairs; remove each once its text uses the registry.
_NOT_YET_NAMED: set[tuple[str, str]] = set()


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def test_no_rule_id_is_typed_in_the_code():
    """Rule ids live in the presets, config/protocols and config/rule_ids.py; the code under
    bot/, handlers/, reminders/ and storage/ names none (comments and docstrings may cite)."""
    root = Path(__file__).resolve().parents[1]
    ids = "|".join(re.escape(r) for r in sorted(catalogue(), key=len, reverse=True))
    pattern = re.compile(rf"(?<![A-Z0-9-])(?:{ids})(?![A-Z0-9])|\b[A-Z]{{2,4}}-(?=\W|$)")
    found = []
    for package in ("bot", "handlers", "reminders", "storage"):
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            skip = _docstrings(tree)
            rel = path.relative_to(root).as_posix()
            for node in ast.walk(tree):
                if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
                    continue
                if id(node) in skip:
                    continue
                for match in pattern.finditer(node.value):
                    if (rel, match.group()) not in _NOT_YET_NAMED:
                        found.append(f"{rel}:{node.lineno}: {match.group()!r}")
    assert not found, "rule ids typed in code (use config/rule_ids.py or the data):\n" + "\n".join(
        found
    )
