"""Urgency in the catalogue: every duty and ladder says whether it must act out of hours.

The protocol sentence decides; where the protocol is silent on the hour the choice is
marked as ours. The flag lives in config (DutySpec.urgent, Ladder.urgent) so that both the
duty routing and later the SMS urgency read the same thing.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from config.presets import (
    AREAS,
    DutySpec,
    Urgency,
    default_duties,
    default_ladders,
    load_all_presets,
    load_preset_file,
)


def _every_rule():
    for area, preset in load_all_presets().items():
        for rid, duty in preset.duties.items():
            yield f"{area} duty {rid}", duty.urgency
        for name, ladder in preset.ladders.items():
            yield f"{area} ladder {name}", ladder.urgency
    for rid, duty in default_duties().items():
        yield f"_duties.yaml {rid}", duty.urgency
    for name, ladder in default_ladders().items():
        yield f"_ladders.yaml {name}", ladder.urgency


def test_every_duty_and_ladder_says_whether_it_must_act_out_of_hours():
    unsaid = [where for where, urgency in _every_rule() if urgency is None]
    assert not unsaid, f"say urgency: {{urgent: …, source: …}} for {unsaid}"


def test_a_choice_the_protocol_does_not_make_is_marked_ours():
    for where, urgency in _every_rule():
        assert urgency is not None
        assert urgency.ours == urgency.source.startswith("ours"), (
            f"{where}: ours: true exactly when the source says 'ours: …' ({urgency.source!r})"
        )
        if not urgency.ours:
            assert "§" in urgency.source or "LCS" in urgency.source or urgency.source[0] in "BJ", (
                f"{where}: a protocol's urgency cites its section ({urgency.source!r})"
            )


@pytest.mark.rule("MIS-ABDUCT")
@pytest.mark.rule("MIS-OVERSIGHT")
@pytest.mark.rule("MIS-DISAGREE")
@pytest.mark.rule("RET-POLICE")
def test_the_protocols_immediate_duties_are_urgent():
    presets = load_all_presets()
    assert presets["jersey"].duties["MIS-ABDUCT"].urgent  # J §7 "immediately"
    assert presets["buckinghamshire"].duties["MIS-OVERSIGHT"].urgent  # B "at the point of"
    assert all(p.ladders["police_disagree"].urgent for p in presets.values())  # J §6.6
    assert all(p.duties["RET-POLICE"].urgent for p in presets.values())  # J §8.4
    for area in AREAS:  # the return interview can wait for office hours (72 hours)
        assert not presets[area].duties["RHI-72H"].urgent


@pytest.mark.rule("DIR-LETTER")
def test_the_director_letter_is_urgent_only_for_a_risk_of_harm():
    duties = load_all_presets()["north-somerset"].duties
    assert not duties["DIR-LETTER"].urgent, "the fourth notification waits for the working day"
    assert duties["DIR-LETTER/harm"].urgent, "NS §4.3: 'urgent contact' on a risk of harm"


def test_a_conditional_urgency_is_settled_by_what_made_the_duty():
    spec = load_all_presets()["north-somerset"].duties["DIR-LETTER"]
    conditional = spec.model_copy(
        update={"urgency": Urgency(urgent=False, made_by=("harm",), source="NS §4.3")}
    )
    assert not conditional.urgent and not conditional.made_by("reported_missing").urgent
    on_harm = conditional.made_by("harm")
    assert on_harm.urgent
    # as copied onto the duty and read back by the sweeper
    assert DutySpec.model_validate(on_harm.model_dump(mode="json")).urgent


def test_urgency_is_validated_when_the_catalogue_loads():
    with pytest.raises(ValidationError, match="made_by only with false"):
        Urgency(urgent=True, made_by=("harm",), source="J §7")
    with pytest.raises(ValidationError):
        Urgency(urgent=False, made_by=("teatime",), source="J §7")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Urgency(urgent=True, source="")
    text = """
name: jersey
title: t
source: s
timezone: Europe/Jersey
holidays: {country: JE}
rules: [RET-POLICE]
duties:
  RET-POLICE:
    trigger: found
    action: "Tell the police."
    owner: reporter
    deadline: {hours: 1}
    source: "J §8.4"
    urgency: {urgent: maybe, source: "J §8.4"}
"""
    with pytest.raises(Exception, match=r"jersey.yaml:15.*urgency.urgent"):
        load_preset_file("config/protocols/jersey.yaml", text)
