"""The climb snapshot is typed, frozen, and reads and writes the JSON rows always had."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from pydantic import ValidationError

from config.presets import load_preset
from reminders.escalation import climb_snapshot
from storage.snapshot import STEPS, ClimbContext

# A row as the bot wrote it before the snapshot had a model (json.dumps of plain dicts).
LEGACY_CONTEXT = (
    '{"actor": "Sam Carer", "details": "left after a row", "cutoff": "", "ladder": '
    '{"rule": "ABS-SW", "rule_out_of_hours": "ABS-OOH", "message": "{child} is absent", '
    '"include_profile": true, "keep_on_found": false, "stop_on": ["reported_missing"], '
    '"reset_on": [], "interval": 3600.0, "review": 3600.0}}'
)
LEGACY_STEPS = (
    '[{"notify": ["social_worker"], "wait": 1800.0, "repeat": 1}, '
    '{"notify": ["manager", "police_liaison"], "wait": 1800.0, "repeat": 2}]'
)


def test_a_stored_row_parses_and_writes_back_the_same_json() -> None:
    context = ClimbContext.model_validate_json(LEGACY_CONTEXT)
    steps = STEPS.validate_json(LEGACY_STEPS)
    assert context.ladder.rule_out_of_hours == "ABS-OOH"
    assert context.ladder.review_time == timedelta(hours=1)
    assert steps[1].notify == ("manager", "police_liaison") and steps[1].repeat == 2
    assert steps[0].wait_time == timedelta(minutes=30)
    assert json.dumps(context.model_dump(mode="json")) == LEGACY_CONTEXT
    assert json.dumps(STEPS.dump_python(steps, mode="json")) == LEGACY_STEPS


def test_keys_older_rows_lack_have_their_defaults() -> None:
    loaded = json.loads(LEGACY_CONTEXT)
    for key in ("actor", "details", "cutoff"):
        del loaded[key]
    for key in ("rule_out_of_hours", "keep_on_found"):
        del loaded["ladder"][key]
    context = ClimbContext.model_validate(loaded)
    assert (context.actor, context.details, context.cutoff) == ("", "", "")
    assert context.ladder.rule_out_of_hours is None and context.ladder.keep_on_found is False


def test_the_snapshot_is_frozen() -> None:
    context = ClimbContext.model_validate_json(LEGACY_CONTEXT)
    with pytest.raises(ValidationError):
        context.ladder.stop_on = ()  # type: ignore[misc]


def test_a_ladder_snapshot_copies_the_preset() -> None:
    preset = load_preset("west-yorkshire")
    ladder = preset.ladders["absence_reported"]
    steps, context = climb_snapshot(
        ladder, timedelta(hours=1), lambda w: w / 2, actor="Sam", details="phone off"
    )
    assert [s.notify for s in steps] == [s.notify for s in ladder.steps]
    assert [s.wait_time for s in steps] == [s.wait / 2 for s in ladder.steps]
    assert context.actor == "Sam" and context.ladder.rule == ladder.rule
    assert context.ladder.stop_on == ladder.stop_on
