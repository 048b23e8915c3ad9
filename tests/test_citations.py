"""The footer: what happened first, then the rule ids and the child's own area's sections."""

from __future__ import annotations

import pytest

from config.citations import citation, footer, joined_footers, split_footer
from config.presets import AREAS, load_preset
from config.rules import catalogue


def test_every_shipped_area_says_how_its_protocol_is_cited():
    codes = {load_preset(area).cite_as.code for area in AREAS if load_preset(area).cite_as}
    assert len(codes) == len(AREAS), "each area has its own code"
    sources = " ".join(rule.sources for rule in catalogue().values())
    assert all(f"{code} " in sources for code in codes), "codes as RULES.md writes them"


@pytest.mark.parametrize(
    ("rule_id", "area", "expected"),
    [
        ("ABS-OOH", "west-yorkshire", "ABS-OOH · West Yorkshire §8"),
        ("ABS-OOH", "jersey", "ABS-OOH · Jersey §5.8"),
        ("RHI-72H", "west-yorkshire", "RHI-72H · West Yorkshire §7, §8"),
        ("RHI-72H", "buckinghamshire", "RHI-72H · Buckinghamshire"),  # B cites no section
        ("RET-HOURS", "hipsw", "RET-HOURS · Hampshire & IoW §6.7.1, §6.7.2"),  # "H §6.7.1, §6.7.2"
        ("ABS-IRO", "buckinghamshire", 'ABS-IRO · Buckinghamshire "role of IRO"'),
        # West Yorkshire adopted Hampshire's overnight rule: it says so, never cites H
        ("ABS-OVERNIGHT", "west-yorkshire", "ABS-OVERNIGHT · West Yorkshire (adopted)"),
        ("ABS-OOH", None, "ABS-OOH"),  # a message about no one child
    ],
)
def test_a_citation_names_only_the_childs_own_area(rule_id, area, expected):
    assert citation(rule_id, area) == expected


def test_no_area_ever_cites_another_areas_sections():
    names = {area: load_preset(area).cite_as.name for area in AREAS}  # type: ignore[union-attr]
    for area in AREAS:
        others = [name for other, name in names.items() if other != area]
        for rule_id in load_preset(area).rules:
            cited = citation(rule_id, area)
            assert cited.startswith(f"{rule_id} · {names[area]}")
            assert not any(name in cited for name in others), cited


def test_a_footer_is_found_and_merged_footers_name_each_rule_once():
    text = "Jay is absent\nTake it: /ack C-0042\n" + footer(["ABS-SW", "ABS-OOH"], "west-yorkshire")
    body, end = split_footer(text)
    assert body == "Jay is absent\nTake it: /ack C-0042"
    assert end == "ABS-SW · West Yorkshire §3, §8; ABS-OOH · West Yorkshire §8"
    assert split_footer("Jay is absent\nTake it: /ack C-0042") == (
        "Jay is absent\nTake it: /ack C-0042",
        None,
    )
    assert joined_footers([end, "ABS-OOH · West Yorkshire §8"]) == end
