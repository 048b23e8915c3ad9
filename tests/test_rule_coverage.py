"""Every rule a preset implements is pinned by at least one test tagged with its id.

A test says which rules it pins with `@pytest.mark.rule("RHI-72H")` (registered in
pyproject.toml); `pytest -m rule` cannot select by id, so find a rule's tests with
`grep -rn 'rule("RHI-72H")' tests/`. The marks are read from the test sources, so this test
sees all of them whichever files a run collects.
"""

from __future__ import annotations

import ast
from pathlib import Path

from config.presets import load_all_presets
from config.rules import catalogue

TESTS = Path(__file__).resolve().parent


def _is_rule_mark(func: ast.expr) -> bool:
    """`pytest.mark.rule` (as a decorator, in `pytest.param(marks=...)` or in `pytestmark`)."""
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "rule"
        and isinstance(func.value, ast.Attribute)
        and func.value.attr == "mark"
    )


def rule_marks() -> dict[str, set[str]]:
    """Rule id -> the test files that carry it."""
    found: dict[str, set[str]] = {}
    for path in sorted(TESTS.rglob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and _is_rule_mark(node.func):
                assert len(node.args) == 1 and isinstance(node.args[0], ast.Constant), (
                    f"{path.name}:{node.lineno}: pytest.mark.rule takes one literal rule id"
                )
                found.setdefault(str(node.args[0].value), set()).add(path.name)
    return found


def implemented() -> set[str]:
    return {rule for preset in load_all_presets().values() for rule in preset.rules}


def test_every_rule_a_preset_implements_is_pinned_by_a_tagged_test() -> None:
    untested = sorted(implemented() - set(rule_marks()))
    assert not untested, f"no test carries @pytest.mark.rule for: {', '.join(untested)}"


def test_every_rule_mark_names_a_rule_in_rules_md() -> None:
    unknown = {rule: files for rule, files in rule_marks().items() if rule not in catalogue()}
    assert not unknown, f"rule marks with ids not in RULES.md: {unknown}"


def test_the_marks_are_found() -> None:
    # the parser above would pass the first test vacuously if it stopped matching the marks
    marks = rule_marks()
    assert "test_duties.py" in marks["RHI-72H"] and len(marks) >= 30
