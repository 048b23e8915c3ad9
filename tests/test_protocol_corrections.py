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
from tests.support.harness import Harness
from tests.support.team import STAFF, child, weekend_rota
from tests.test_rule_duties import (
    SENIORS,
    duties_of,
    found_alerts,
    missing_then_found,
    only,
    open_harness,
)

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


# ---- found: the allocated worker, the missing tray, the CP chair and the IRO ----------------

CP_CHAIR = {"id": "cpc", "name": "Chidi", "role": "iro"}


@pytest.mark.rule("RET-ALERT")
async def test_found_out_of_hours_alerts_the_allocated_worker_tray_and_cp_chair(tmp_path):
    # B LCS §1.9: the 'Found' alert "goes to the Allocated Case Worker and the Missing Tray,
    # plus the CP Chair and IRO if the child has one". Found at 22:00 on Christmas Eve: the
    # allocated worker (not the out-of-hours worker) and the CP chair of a child on a
    # protection plan hear of it at once.
    h = await open_harness(
        tmp_path,
        local("2026-12-24 19:00"),
        "buckinghamshire",
        legal_status="child_protection",
        iro=None,
        cp_chair="cpc",
        extra_staff=[CP_CHAIR],
    )
    await missing_then_found(h, "2026-12-24 19:30", "2026-12-24 22:00")
    alerts = found_alerts(h)
    assert {"staff:priya", "staff:mc", "staff:cpc"} <= set(alerts)
    assert "staff:ooh1" not in alerts, "the out-of-hours worker hears as one told (RET-TELL)"
    for who in ("staff:priya", "staff:mc", "staff:cpc"):
        assert alerts[who].at == local("2026-12-24 22:00")
    await h.close()


@pytest.mark.rule("RET-ALERT")
async def test_the_missing_tray_is_its_holders_when_nobody_is_on_the_rota(tmp_path):
    # The tray is read by whoever holds it: with no missing coordinator on shift on a Sunday
    # night, the one who holds the role still gets the found alert.
    h = await Harness.open(
        tmp_path / "w.db",
        local("2026-10-25 19:00"),
        area="buckinghamshire",
        children=[child(area="buckinghamshire")],
        staff=STAFF + SENIORS,
        rota_rows=weekend_rota("2026-10-23T17:00", "2026-10-26T09:00"),
    )
    await missing_then_found(h, "2026-10-25 19:30", "2026-10-25 23:00")
    assert {"staff:priya", "staff:mc", "staff:iro1"} <= set(found_alerts(h))
    await h.close()


# ---- a family missing 7 days ----------------------------------------------------------------


@pytest.mark.rule("MIS-FAMILY-7D")
async def test_a_lone_child_missing_7_days_makes_no_family_review(tmp_path):
    # H §10.10 (in §10 "Missing vulnerable families": "the loss of professional contact with
    # a ... family"): "In the event of a family being 'missing' for a period of 7 days". Jay
    # alone, missing from Sat 24 Oct over the clock change to Mon 2 Nov: no family review.
    h = await open_harness(tmp_path, local("2026-10-24 10:10"), "hipsw")
    await h.say("sam", "/absent Jay 10:00 left after a row")
    await h.say("sam", "/police Jay ref H-7 grade medium")
    await h.until(local("2026-11-02 18:00"))
    assert await duties_of(h, "MIS-FAMILY-7D") == []
    assert h.to("staff:hos", "MIS-FAMILY-7D") == []
    await h.close()
