"""Presets: every area loads; a bad file names its line; default ladders follow the rule list."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from config.presets import AREAS, PresetError, load_all_presets, load_preset_file
from config.rules import catalogue

GOOD = """name: test
title: Test
source: none
timezone: Europe/London
holidays: {country: GB, subdiv: ENG}
rules: [ABS-SW]
"""


def test_all_areas_load_with_their_calendars():
    presets = load_all_presets()
    assert set(presets) == set(AREAS)
    assert presets["jersey"].calendar.holiday_country == "JE"
    assert presets["hipsw"].police_grading.no_low_under_age == 16
    assert presets["buckinghamshire"].police_grading.lowest == "medium"
    for preset in presets.values():
        assert preset.office_hours.open == time(9) and preset.office_hours.close == time(17)
        assert all(rule in catalogue() for rule in preset.rules)


def test_only_hipsw_has_the_next_day_duty():
    presets = load_all_presets()
    assert [a for a, p in presets.items() if "MIS-NEXTDAY" in p.duties] == ["hipsw"]
    spec = presets["hipsw"].duties["MIS-NEXTDAY"]
    assert spec.when == ("out_of_hours",) and spec.deadline.next_working_day is True


def test_every_ladder_message_names_a_rule_the_preset_implements():
    for preset in load_all_presets().values():
        for ladder in preset.ladders.values():
            assert all(preset.implements(r) for r in ladder.rule_ids)


def test_unknown_rule_id_names_the_file(tmp_path):
    with pytest.raises(PresetError, match=r"x.yaml:\d+: .*ABS-NOPE"):
        load_preset_file(tmp_path / "x.yaml", GOOD.replace("[ABS-SW]", "[ABS-SW, ABS-NOPE]"))


def test_malformed_duration_names_the_line(tmp_path):
    text = GOOD + "absence:\n  review_interval: soon\n"
    with pytest.raises(PresetError, match=r"x.yaml:8: absence.review_interval: .*duration"):
        load_preset_file(tmp_path / "x.yaml", text)


def test_unknown_audience_names_the_line(tmp_path):
    text = GOOD + (
        "ladders:\n"
        "  a:\n"
        "    trigger: absence_reported\n"
        "    rule: ABS-SW\n"
        "    message: hi\n"
        "    steps:\n"
        "      - {notify: [the_mayor]}\n"
    )
    with pytest.raises(PresetError, match=r"x.yaml:13: ladders.a.steps.0.notify.0"):
        load_preset_file(tmp_path / "x.yaml", text)


def test_ladder_rule_must_be_listed(tmp_path):
    text = GOOD + (
        "ladders:\n  a: {trigger: found, rule: RET-TELL, message: hi, steps: [{notify: [iro]}]}\n"
    )
    with pytest.raises(PresetError, match="RET-TELL"):
        load_preset_file(tmp_path / "x.yaml", text)


def test_durations_parse():
    preset = load_preset_file("x.yaml", GOOD + "absence: {review_interval: 1h30m}\n")
    assert preset.absence.review_interval == timedelta(minutes=90)


DUTY = (
    "duties:\n"
    "  RHI-72H:\n"
    "    trigger: found\n"
    "    action: hold the interview\n"
    "    owner: {owner}\n"
    "    deadline: {deadline}\n"
    "    source: J §10.1\n"
)


def duty_preset(owner: str = "social_worker", deadline: str = "{hours: 72}") -> str:
    return GOOD.replace("[ABS-SW]", "[ABS-SW, RHI-72H]") + DUTY.format(
        owner=owner, deadline=deadline
    )


def test_a_duty_override_loads(tmp_path):
    preset = load_preset_file(tmp_path / "x.yaml", duty_preset())
    assert preset.duties["RHI-72H"].deadline.hours == 72


def test_a_duty_owner_nobody_can_resolve_names_the_line(tmp_path):
    with pytest.raises(PresetError, match=r"x.yaml:\d+: duties.RHI-72H.owner"):
        load_preset_file(tmp_path / "x.yaml", duty_preset(owner="the_mayor"))


def test_a_malformed_duty_deadline_names_the_line(tmp_path):
    with pytest.raises(PresetError, match=r"x.yaml:\d+: duties.RHI-72H.deadline"):
        load_preset_file(tmp_path / "x.yaml", duty_preset(deadline="{hours: soon}"))


def test_a_duty_deadline_needs_exactly_one_kind(tmp_path):
    with pytest.raises(PresetError, match=r"x.yaml:\d+: duties.RHI-72H.deadline"):
        load_preset_file(tmp_path / "x.yaml", duty_preset(deadline="{hours: 2, days: 1}"))


def test_a_duty_for_a_rule_the_preset_does_not_list_is_refused(tmp_path):
    text = GOOD + DUTY.format(owner="social_worker", deadline="{hours: 72}")
    with pytest.raises(PresetError, match="RHI-72H"):
        load_preset_file(tmp_path / "x.yaml", text)


def test_a_duty_for_an_unknown_rule_is_refused(tmp_path):
    text = duty_preset().replace("  RHI-72H:\n", "  RHI-99H:\n")
    with pytest.raises(PresetError, match=r"x.yaml:\d+: .*RHI-99H"):
        load_preset_file(tmp_path / "x.yaml", text)
