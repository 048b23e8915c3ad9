"""Corrections from a line-by-line reading of the five protocols, each on a date that matters.

Every expected time is worked out by hand from RULES.md "How to count" and the protocol
sentence quoted in the test.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from config.presets import AREAS, load_all_presets
from tests.support.clock import local
from tests.test_rule_duties import duties_of, missing_then_found, only, open_harness

PROTOCOLS = Path(__file__).resolve().parent.parent / "config" / "protocols"


# ---- counting ---------------------------------------------------------------------------


def test_every_preset_says_its_office_hours_are_ours():
    # RULES.md: "None of the protocols defines office hours; 09:00-17:00 on working days is
    # ours, and each preset must say so where it sets them."
    for area in AREAS:
        raw = yaml.safe_load((PROTOCOLS / f"{area}.yaml").read_text())
        assert raw["office_hours"]["source"].startswith("ours"), area
    for preset in load_all_presets().values():
        assert preset.office_hours.source.startswith("ours")


@pytest.mark.rule("MIS-NEXTDAY")
async def test_a_report_at_3am_on_a_working_day_is_picked_up_that_day(tmp_path):
    # H §6.4.6: "the emergency duty team, if out of hours, and the Social Worker and
    # accountable team manager the next working day". RULES.md: for an event before opening
    # on a working day the next working day is that same date. Reported 03:10 on Tue 29 Dec
    # 2026, the first working day after Christmas (Boxing Day observed on Monday 28): due
    # Tuesday 17:00, picked up at 09:00 the same day, not on Wednesday.
    h = await open_harness(tmp_path, local("2026-12-29 03:05"), "hipsw")
    await h.say("sam", "/absent Jay 03:00 window open, bed empty")
    await h.say("sam", "/police Jay ref H-29 grade medium")
    nextday = await only(h, "MIS-NEXTDAY")
    assert nextday.due_at == local("2026-12-29 17:00")
    await h.until(local("2026-12-29 17:30"))
    assert [s.at for s in h.to("staff:priya", "MIS-NEXTDAY")] == [
        local("2026-12-29 09:00"),
        local("2026-12-29 17:00"),
    ]
    assert [s.at for s in h.to("staff:tom", "MIS-NEXTDAY")][:1] == [local("2026-12-29 09:00")]
    await h.close()
