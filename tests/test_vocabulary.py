"""Every word a preset may use has its behaviour, and every behaviour has its word."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from config import vocabulary
from config.presets import default_duties, load_all_presets
from reminders import conditions, escalation, routing

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("names", "table"),
    [
        (vocabulary.AUDIENCES, routing.AUDIENCES),
        (vocabulary.CONDITIONS, conditions.TESTS),
        (vocabulary.STARTS, escalation.FIRST_SEND),
    ],
    ids=["audiences", "conditions", "starts"],
)
def test_each_name_has_a_behaviour_and_each_behaviour_a_name(names, table):
    assert sorted(names) == sorted(table)


def test_a_table_that_misses_a_name_stops_the_start():
    with pytest.raises(RuntimeError, match=r"no behaviour for \['always'\]"):
        vocabulary.require_all("conditions", ("always", "never"), {"never": None})
    with pytest.raises(RuntimeError, match=r"not in the vocabulary \['sometimes'\]"):
        vocabulary.require_all("conditions", ("always",), {"always": 1, "sometimes": 2})


def test_every_audience_names_itself_in_a_gap_report():
    for name in vocabulary.AUDIENCES:
        assert routing.describe(name, office=True) and routing.describe(name, office=False)


def _raised_in_code() -> set[str]:
    """String constants in the commands and the hub: the events something raises."""
    found: set[str] = set()
    paths = [*sorted((ROOT / "handlers").glob("*.py")), ROOT / "reminders" / "hub.py"]
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.add(node.value)
    return found


def test_every_trigger_is_raised_by_a_command_or_follows_another_duty():
    raised = _raised_in_code()
    silent = [
        t for t in vocabulary.TRIGGERS if t not in raised and t not in vocabulary.FOLLOW_ON_TRIGGERS
    ]
    assert not silent, f"triggers nothing raises: {silent}"
    assert not vocabulary.FOLLOW_ON_TRIGGERS & raised, "a follow-on trigger is raised after all"


def test_a_follow_on_trigger_is_only_reached_through_then():
    duties = dict(default_duties())
    for preset in load_all_presets().values():
        duties.update(preset.duties)
    targets = {spec.then for spec in duties.values() if spec.then}
    for rule_id, spec in duties.items():
        if spec.trigger in vocabulary.FOLLOW_ON_TRIGGERS:
            assert rule_id in targets, f"{rule_id} waits for {spec.trigger}, which nothing raises"
