"""The shipped scenarios, one per area, played through `whereabouts simulate --json`."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from bot.cli import main
from config.citations import split_footer
from config.presets import AREAS, load_all_presets
from tests.support.footers import footer_rules

SCENARIOS = Path(str(resources.files("bot").joinpath("scenarios")))

# What each area's scenario must show, by rule id (every message names one).
EXPECTED_RULES = {
    "jersey": {
        "ABS-OOH",
        "ABS-REVIEW",
        "MIS-DISAGREE",
        "MIS-NOTIFY",
        "RET-TELL",
        "RET-POLICE",
        "RET-SWC",
    },
    "hipsw": {"ABS-OOH", "MIS-NOTIFY", "MIS-NEXTDAY", "RET-TELL", "RET-SWC", "RHI-72H"},
    "buckinghamshire": {
        "ABS-SW",
        "ABS-IRO",
        "ABS-REVIEW",
        "MIS-NOTIFY",
        "MIS-IRO",
        "MIS-OVERSIGHT",
        "MIS-STRAT-B",
        "MIS-MAMM-B",
        "RET-TELL",
        "RET-ALERT",
    },
    "north-somerset": {"ABS-OOH", "ABS-OVERNIGHT", "RET-TELL"},
    "west-yorkshire": {"ABS-OOH", "ABS-IRO", "MIS-NOTIFY", "MIS-IRO", "RET-TELL", "RHI-72H"},
}


def simulate(area: str, capsys) -> list[dict]:
    assert main(["simulate", str(SCENARIOS / f"{area}.yaml"), "--json"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


@pytest.mark.parametrize("area", AREAS)
def test_area_scenario_runs_with_its_rules(area, capsys):
    records = simulate(area, capsys)
    messages = [r for r in records if r["type"] == "message"]
    outgoing = [m for m in messages if m["rule"]]
    assert EXPECTED_RULES[area] <= {m["rule"] for m in outgoing}
    others = [p.cite_as.name for a, p in load_all_presets().items() if a != area and p.cite_as]
    for m in outgoing:  # what happened first; "RULE · Area §n" in the footer at the end
        _, end = split_footer(m["text"])
        assert end is not None and m["rule"] in footer_rules(m["text"]), m["text"]
        assert not any(name in end for name in others), f"cites another area: {end}"
    duties = [r for r in records if r["type"] == "duty"]
    assert duties and all(d["due"] and d["rule"] for d in duties)
    times = [r["at"] for r in records]
    assert times == sorted(times), "records come out in time order"


@pytest.mark.parametrize("area", AREAS)
def test_scenario_output_is_deterministic(area, capsys):
    assert simulate(area, capsys) == simulate(area, capsys)


@pytest.mark.rule("MIS-GRADE")
def test_refused_grade_is_visible_in_the_hipsw_scenario(capsys):
    records = simulate("hipsw", capsys)
    assert any("no child under 16 is graded low" in (r.get("text") or "") for r in records)


@pytest.mark.rule("MIS-NEXTDAY")
def test_mis_nextday_reaches_the_allocated_team_on_monday_morning(capsys):
    records = simulate("hipsw", capsys)
    next_day = [r for r in records if r["type"] == "message" and r["rule"] == "MIS-NEXTDAY"]
    assert {r["to"] for r in next_day if r["at"] == "2026-10-26T09:00"} == {"sol", "max"}


def test_the_climb_is_recorded_as_timers(capsys):
    records = simulate("west-yorkshire", capsys)
    first = next(r for r in records if r["type"] == "duty" and r["rule"] == "ABS-SW")
    assert first == {
        "at": "2026-10-23T21:10",
        "type": "duty",
        "rule": "ABS-SW",
        "child": "C-0042",
        "owner": "social_worker",
        "due": "2026-10-23T21:40",
    }
