"""Gaps ahead: each day at the preset's rota.gaps_at (15:00 by default) and after every rota
change, the out-of-hours manager and the admins hear of every span in the next 24 hours
where a role the ladders need has nobody; the daily summary lists them too."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from handlers import rota_gaps, summaries
from handlers.rota_gaps import GapJobs
from handlers.summaries import View
from tests.support.clock import LONDON, local
from tests.support.harness import Harness
from tests.support.team import weekend_rota


@pytest.fixture
async def h(tmp_path: Path):
    harness = await Harness.open(
        tmp_path / "w.db", local("2026-10-23 12:00"), rota_rows=weekend_rota()
    )
    harness.sweeper.jobs = [
        *harness.sweeper.jobs,
        GapJobs(harness.db, harness.clock, harness.svc.presets),
    ]
    yield harness
    await harness.close()


def gap_messages(h: Harness, to: str) -> list[str]:
    return [s.text for s in h.to(to) if s.text.startswith("Rota gaps")]


async def test_the_ladders_need_the_out_of_hours_roles_the_police_liaison_and_coordinator(h):
    presets = await rota_gaps.areas_presets(h.db, h.svc.presets)
    assert rota_gaps.needed_roles(presets) == [
        "out_of_hours",
        "out_of_hours_manager",
        "police_liaison",
        "missing_coordinator",
    ]


async def test_the_daily_forecast_names_every_gap_once_a_day(h):
    await h.until(local("2026-10-23 14:59"))
    assert gap_messages(h, "staff:admin") == []
    await h.until(local("2026-10-23 15:01"))
    [friday] = gap_messages(h, "staff:admin")
    assert gap_messages(h, "staff:oohm") == [friday]  # not on shift yet: by role
    assert "the daily check, Fri 23 Oct 15:00" in friday
    assert "• police liaison: Fri 23 Oct 15:00 to Fri 23 Oct 17:00" in friday
    assert "• missing coordinator: Fri 23 Oct 15:00 to Sat 24 Oct 15:00" in friday
    assert "out of hours:" not in friday  # Olu holds it from 17:00, when the offices close
    assert "Fill them: /cover" in friday
    await h.until(local("2026-10-23 23:00"))
    assert len(gap_messages(h, "staff:admin")) == 1


async def test_the_forecast_over_the_clock_change_runs_once_at_local_15_00(h):
    await h.until(local("2026-10-26 16:00"))
    days = [s for s in h.to("staff:admin") if s.text.startswith("Rota gaps")]
    assert [s.at.astimezone(LONDON).strftime("%a %H:%M") for s in days] == [
        "Fri 15:00",
        "Sat 15:00",
        "Sun 15:00",  # 15:00 GMT, a day of 25 hours after Saturday's 15:00 BST
        "Mon 15:00",
    ]
    monday = days[-1].text
    # Monday 17:00 on, nobody is on out of hours: the gap is named with its span.
    assert "• out of hours: Mon 26 Oct 17:00 to Tue 27 Oct 09:00" in monday
    assert "• out of hours manager: Mon 26 Oct 17:00 to Tue 27 Oct 09:00" in monday


async def test_a_rota_change_tells_the_gaps_left_and_a_change_that_leaves_them_is_quiet(h):
    reply = await h.say("oohm", "/cover police sat 20:00 sun 02:00 pc1")
    assert "PC Rees is on police liaison" in reply
    [after] = gap_messages(h, "staff:admin")
    assert "after Morgan's /cover" in after
    assert "• police liaison: Fri 23 Oct 12:00 to Fri 23 Oct 17:00" in after
    assert "• missing coordinator: Fri 23 Oct 12:00 to Sat 24 Oct 12:00" in after
    await h.say("oohm", "/cover police sat 20:00 sun 02:00 pc1")  # the same gaps remain
    assert len(gap_messages(h, "staff:admin")) == 1
    h.clock.set(local("2026-10-23 12:05"))
    await h.say("oohm", "/cover police fri 12:05 fri 17:00 pc1")  # fills the liaison gap
    latest = gap_messages(h, "staff:admin")[-1]
    assert "police liaison" not in latest and "missing coordinator" in latest


async def test_the_daily_summary_lists_the_gaps(h):
    view = View(h.db, local("2026-10-23 08:30").astimezone(UTC), LONDON, None, lambda c: True)
    text = await summaries.daily(view, "Daily missing summary")
    assert "ROTA GAPS IN THE NEXT 24 H" in text
    assert "• police liaison: Fri 23 Oct 08:30 to Fri 23 Oct 17:00" in text
    # offices open 09:00 to 17:00: the out-of-hours roles are needed only before and after
    assert "• out of hours: Fri 23 Oct 08:30 to Fri 23 Oct 09:00" in text
    assert "• out of hours: Fri 23 Oct 09:00" not in text


def test_a_gap_is_only_where_the_role_is_needed() -> None:
    from config.presets import load_preset
    from handlers.rota_gaps import needed_spans

    wy = load_preset("west-yorkshire")
    friday = datetime(2026, 10, 23, 11, tzinfo=UTC)  # 12:00 BST
    spans = needed_spans("out_of_hours", friday, friday.replace(hour=23), [wy])
    assert spans == [
        (datetime(2026, 10, 23, 16, tzinfo=UTC), datetime(2026, 10, 23, 23, tzinfo=UTC))
    ]
    assert needed_spans("police_liaison", friday, friday.replace(hour=23), [wy]) == [
        (friday, friday.replace(hour=23))
    ]
