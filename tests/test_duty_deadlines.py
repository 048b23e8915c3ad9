"""Duty deadlines, counted as RULES.md "How to count" says, for every duty every area implements.

Part 1 pins `deadline_at` for each (area, rule) over five bases: a weekday, a weekend, the
Jersey-only Liberation Day, and both 2026 clock changes. The expected times are written out by
hand from RULES.md, grouped by deadline kind. Part 2 runs duties whose base is not the event
time (N hours missing, next working day, return) through the whole bot.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import NamedTuple

import pytest

from config.presets import Deadline, Preset, load_all_presets
from reminders.duties import deadline_at
from storage import duty_store
from storage.models import Duty
from tests.support.clock import LONDON, local
from tests.support.harness import Harness
from tests.support.team import STAFF, child, weekend_rota

PRESETS: dict[str, Preset] = load_all_presets()

BASES: dict[str, datetime] = {
    "weekday": local("2026-11-10 14:00"),  # Tue, in office hours, GMT
    "weekend": local("2026-10-16 18:30"),  # Fri evening, BST, after office hours
    "autumn": local("2026-10-24 10:00"),  # Sat; the clocks go back at 02:00 BST on Sun 25 Oct
    "spring": local("2026-03-28 10:00"),  # Sat; the clocks go forward at 01:00 GMT on Sun 29 Mar
    "holiday": local("2028-05-08 18:00"),  # Mon evening; Tue 9 May 2028 is Liberation Day (JE only)
}


class Due(NamedTuple):
    """Expected local due times, one per base; `holiday_je` where Jersey differs from England."""

    weekday: str
    weekend: str
    autumn: str
    spring: str
    holiday: str
    holiday_je: str = ""

    def at(self, base: str, preset: Preset) -> str:
        if base == "holiday" and preset.holidays.country == "JE" and self.holiday_je:
            return self.holiday_je
        return getattr(self, base)


# Hours and days are elapsed: 72 h after Sat 10:00 BST is Tue 09:00 GMT, after Sat 10:00 GMT
# Tue 11:00 BST. Working days skip the base's own day and end at 17:00 on the Nth working day.
# Good Friday 3 Apr and Easter Monday 6 Apr 2026 are holidays in both calendars.
ROWS: list[tuple[Deadline, Due]] = [
    (Deadline(hours=1), Due("2026-11-10 15:00", "2026-10-16 19:30", "2026-10-24 11:00",
                            "2026-03-28 11:00", "2028-05-08 19:00")),
    (Deadline(hours=2), Due("2026-11-10 16:00", "2026-10-16 20:30", "2026-10-24 12:00",
                            "2026-03-28 12:00", "2028-05-08 20:00")),
    (Deadline(hours=24), Due("2026-11-11 14:00", "2026-10-17 18:30", "2026-10-25 09:00",
                             "2026-03-29 11:00", "2028-05-09 18:00")),
    (Deadline(hours=72), Due("2026-11-13 14:00", "2026-10-19 18:30", "2026-10-27 09:00",
                             "2026-03-31 11:00", "2028-05-11 18:00")),
    (Deadline(days=7), Due("2026-11-17 14:00", "2026-10-23 18:30", "2026-10-31 09:00",
                           "2026-04-04 11:00", "2028-05-15 18:00")),
    (Deadline(days=10), Due("2026-11-20 14:00", "2026-10-26 17:30", "2026-11-03 09:00",
                            "2026-04-07 11:00", "2028-05-18 18:00")),
    (Deadline(working_days=2), Due("2026-11-12 17:00", "2026-10-20 17:00", "2026-10-27 17:00",
                                   "2026-03-31 17:00", "2028-05-10 17:00", "2028-05-11 17:00")),
    (Deadline(working_days=5), Due("2026-11-17 17:00", "2026-10-23 17:00", "2026-10-30 17:00",
                                   "2026-04-07 17:00", "2028-05-15 17:00", "2028-05-16 17:00")),
    (Deadline(working_days=10), Due("2026-11-24 17:00", "2026-10-30 17:00", "2026-11-06 17:00",
                                    "2026-04-14 17:00", "2028-05-22 17:00", "2028-05-23 17:00")),
    (Deadline(same_working_day=True), Due("2026-11-10 17:00", "2026-10-19 17:00",
                                          "2026-10-26 17:00", "2026-03-30 17:00",
                                          "2028-05-09 17:00", "2028-05-10 17:00")),
    # the 72 h cap does not bind on these bases (see test_the_72_hour_cap_binds_*)
    (Deadline(same_working_day=True, cap="72h"), Due("2026-11-10 17:00", "2026-10-19 17:00",
                                                     "2026-10-26 17:00", "2026-03-30 17:00",
                                                     "2028-05-09 17:00", "2028-05-10 17:00")),
    (Deadline(next_working_day=True), Due("2026-11-11 17:00", "2026-10-19 17:00",
                                          "2026-10-26 17:00", "2026-03-30 17:00",
                                          "2028-05-09 17:00", "2028-05-10 17:00")),
    # the 72 h cap does not bind on these bases (at most 70.5 h to the next close)
    (Deadline(next_working_day=True, cap="72h"), Due("2026-11-11 17:00", "2026-10-19 17:00",
                                                     "2026-10-26 17:00", "2026-03-30 17:00",
                                                     "2028-05-09 17:00", "2028-05-10 17:00")),
    # due as it starts to apply (MIS-24H-POLICE: at the 24-hour mark)
    (Deadline(hours=0), Due("2026-11-10 14:00", "2026-10-16 18:30", "2026-10-24 10:00",
                            "2026-03-28 10:00", "2028-05-08 18:00")),
]  # fmt: skip


def kind(d: Deadline) -> str:
    """A deadline's way of counting, e.g. 'hours=72' or 'same_working_day cap=72h'."""
    if d.hours is not None:
        text = f"hours={d.hours:g}"
    elif d.days is not None:
        text = f"days={d.days:g}"
    elif d.working_days is not None:
        text = f"working_days={d.working_days}"
    elif d.same_working_day or d.next_working_day:
        text = "same_working_day" if d.same_working_day else "next_working_day"
    else:
        text = f"at={d.at}"
    if d.cap is not None:
        text += f" cap={d.cap.total_seconds() / 3600:g}h"
    return text if d.start == "event" else f"{text} from={d.start}"


TABLE: dict[str, Due] = {kind(d): due for d, due in ROWS}


def deadlines() -> Iterator[tuple[str, str, str, Deadline]]:
    """(area, rule, 'deadline' or 'recur', Deadline) for every duty in every preset."""
    for area, preset in PRESETS.items():
        for rule, spec in preset.duties.items():
            yield area, rule, "deadline", spec.deadline
            if spec.recur is not None:
                yield area, rule, "recur", spec.recur


CASES = [(a, r, f, b) for a, r, f, _ in deadlines() for b in BASES]


def shown(at: datetime) -> str:
    return at.astimezone(LONDON).isoformat()


def test_every_duty_deadline_kind_is_in_the_table() -> None:
    missing = {f"{a} {r} {f}: {kind(d)}" for a, r, f, d in deadlines() if kind(d) not in TABLE}
    assert not missing, f"add these deadline kinds to ROWS: {sorted(missing)}"
    assert {a for a, *_ in deadlines()} == set(PRESETS), "every area has at least one duty"


@pytest.mark.parametrize(("area", "rule", "field", "base"), CASES, ids="-".join)
def test_due_time(area: str, rule: str, field: str, base: str) -> None:
    preset = PRESETS[area]
    deadline = getattr(preset.duties[rule], field)
    want = local(TABLE[kind(deadline)].at(base, preset))
    assert shown(deadline_at(preset, deadline, BASES[base])) == shown(want)


def test_the_holiday_base_is_a_jersey_only_holiday() -> None:
    assert PRESETS["jersey"].calendar.is_bank_holiday(date(2028, 5, 9))
    english = [p for p in PRESETS.values() if p.holidays.country == "GB"]
    assert len(english) == 4
    assert not any(p.calendar.is_bank_holiday(date(2028, 5, 9)) for p in english)


@pytest.mark.parametrize("england", [a for a in PRESETS if a != "jersey"])
@pytest.mark.parametrize("row", [k for k, due in TABLE.items() if due.holiday_je], ids=str)
def test_liberation_day_moves_working_day_deadlines_in_jersey_only(england: str, row: str) -> None:
    deadline = next(d for d in (d for d, _ in ROWS) if kind(d) == row)
    base = BASES["holiday"]
    je = deadline_at(PRESETS["jersey"], deadline, base)
    en = deadline_at(PRESETS[england], deadline, base)
    assert je != en
    assert (shown(en), shown(je)) == (
        shown(local(TABLE[row].holiday)),
        shown(local(TABLE[row].holiday_je)),
    )


CAPPED = [(a, r) for a, r, f, d in deadlines() if f == "deadline" and d.cap is not None]


@pytest.mark.parametrize(("area", "rule"), CAPPED)
@pytest.mark.parametrize(
    ("base", "want"),
    [
        # Thu evening before Easter: the same working day is Tue 7 Apr; 72 h is sooner
        pytest.param(local("2026-04-02 18:00"), "2026-04-05 18:00", id="easter-2026"),
        # Christmas Eve: Fri 25, Mon 28 Dec (Boxing Day observed) are holidays
        pytest.param(local("2026-12-24 18:00"), "2026-12-27 18:00", id="christmas-2026"),
        # Easter 2027 spans the spring change (Sun 28 Mar): 72 elapsed hours end at 19:00 BST.
        # The bot passes UTC instants (clock, database), which count right.
        pytest.param(
            local("2027-03-25 18:00").astimezone(UTC), "2027-03-28 19:00", id="utc-base-spring"
        ),
        # A local-zone base counts elapsed hours too (72 h, not 71, across the change).
        pytest.param(local("2027-03-25 18:00"), "2027-03-28 19:00", id="local-base-spring"),
    ],
)
def test_the_72_hour_cap_binds_over_a_long_weekend(
    area: str, rule: str, base: datetime, want: str
) -> None:
    preset = PRESETS[area]
    assert shown(deadline_at(preset, preset.duties[rule].deadline, base)) == shown(local(want))


# ---- through the bot ------------------------------------------------------------------------

SENIORS = [
    {"id": "hos", "name": "Hana", "role": "head_of_service"},
    {"id": "mc", "name": "Mo", "role": "missing_coordinator"},
]
FRIDAY = local("2026-10-23 21:40")  # the autumn clock change is in the small hours of Sunday


Report = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def reported(tmp_path: Path) -> AsyncIterator[Report]:
    """A bot for one area where Jay, last seen at `seen`, was reported to the police at `at`.

    By default last seen Fri 23 Oct 21:30 BST and reported at 21:40, out of office hours.
    """
    opened: list[Harness] = []

    async def report(area: str, at: datetime = FRIDAY, seen: str = "21:30") -> Harness:
        h = await Harness.open(
            tmp_path / f"{area}.db",
            at,
            area=area,
            children=[child(area=area)],
            staff=STAFF + SENIORS,
            rota_rows=weekend_rota(),
        )
        opened.append(h)  # closed even when an assertion fails: a stray sqlite thread hangs exit
        assert "Recorded" in await h.say("sam", f"/absent Jay {seen} out")
        assert "Recorded" in await h.say("sam", "/police Jay ref H-1 grade medium")
        return h

    yield report
    for h in opened:
        await h.close()


async def one(h: Harness, rule: str) -> Duty:
    found = [d for d in await duty_store.open_duties(h.db) if d.rule_id == rule]
    assert len(found) == 1, f"expected one open {rule}, got {found}"
    return found[0]


@pytest.mark.rule("MIS-48H")
async def test_hipsw_48_hours_missing_counts_elapsed_from_last_seen(reported: Report) -> None:
    h = await reported("hipsw")
    mis48 = await one(h, "MIS-48H")
    # 48 elapsed hours after Fri 21:30 BST is Sun 20:30 GMT (not 21:30); then 1 hour to tell
    assert mis48.applies_from == local("2026-10-25 20:30")
    assert mis48.due_at == local("2026-10-25 21:30")
    await h.until(local("2026-10-26 09:30"))
    # Sunday night: the reminders (when it applies, at the deadline) wait for Monday 09:00
    assert [s.at for s in h.to("staff:priya", "MIS-48H")] == [local("2026-10-26 09:00")]


@pytest.mark.rule("MIS-NEXTDAY")
async def test_hipsw_out_of_hours_report_is_picked_up_at_9_on_monday(reported: Report) -> None:
    h = await reported("hipsw")
    nextday = await one(h, "MIS-NEXTDAY")
    assert nextday.due_at == local("2026-10-26 17:00")  # next working day, end of office hours
    await h.until(local("2026-10-26 17:30"))
    assert [s.at for s in h.to("staff:priya", "MIS-NEXTDAY")] == [
        local("2026-10-26 09:00"),  # the 8 h lead: 09:00 GMT, nothing over the weekend
        local("2026-10-26 17:00"),
    ]
    assert [s.at for s in h.to("staff:tom", "MIS-NEXTDAY")][:1] == [local("2026-10-26 09:00")]


@pytest.mark.rule("MIS-NEXTDAY")
async def test_hipsw_office_hours_report_makes_no_next_day_duty(reported: Report) -> None:
    h = await reported("hipsw", local("2026-10-26 10:00"), "09:30")  # Monday morning
    assert "MIS-NEXTDAY" not in {d.rule_id for d in await duty_store.open_duties(h.db)}


@pytest.mark.rule("MIS-STRAT-NS")
async def test_north_somerset_strategy_meeting_72_hours_after_24_missing(reported: Report) -> None:
    h = await reported("north-somerset")
    strat = await one(h, "MIS-STRAT-NS")
    # 24 h missing: Sat 21:30 BST; 72 elapsed hours later: Tue 20:30 GMT (the clock went back)
    assert strat.applies_from == local("2026-10-24 21:30")
    assert strat.due_at == local("2026-10-27 20:30")
    await h.until(local("2026-10-26 09:30"))  # a Saturday night: held to Monday's opening
    assert [s.at for s in h.to("staff:priya", "MIS-STRAT-NS")] == [local("2026-10-26 09:00")]


@pytest.mark.rule("MIS-STRAT-NS")
async def test_north_somerset_strategy_meeting_lapses_if_found_within_24_hours(
    reported: Report,
) -> None:
    h = await reported("north-somerset")
    strat = await one(h, "MIS-STRAT-NS")
    await h.until(local("2026-10-24 10:00"))
    assert "Recorded" in await h.say("sam", "/found Jay now self came home")
    states = {
        d.rule_id: d.state for d in await duty_store.duties_for_episode(h.db, strat.episode_id)
    }
    assert states["MIS-STRAT-NS"] == "not_applicable"
    await h.until(local("2026-10-25 12:00"))
    assert h.to("staff:priya", "MIS-STRAT-NS") == []


# North Somerset: a return at Sat 10:00 is 48 h from the next working day, so the
# out-of-hours worker holds the interview (NS §1.6.2; tests/test_protocol_corrections.py).
RHI_AREAS = [a for a, p in PRESETS.items() if "RHI-72H" in p.duties and a != "north-somerset"]


@pytest.mark.rule("RHI-72H")
@pytest.mark.parametrize("area", RHI_AREAS)
async def test_return_interview_72_elapsed_hours_across_the_clock_change(
    reported: Report, area: str
) -> None:
    h = await reported(area)
    await h.until(local("2026-10-24 10:00"))
    assert "Recorded" in await h.say("sam", "/found Jay now self came home")
    rhi = await one(h, "RHI-72H")
    assert rhi.due_at == local("2026-10-27 09:00")  # Sat 10:00 BST + 72 h = Tue 09:00 GMT
    await h.until(local("2026-10-27 09:30"))
    assert [s.at for s in h.to("staff:priya", "RHI-72H")] == [
        local("2026-10-26 09:00"),  # 24 h lead
        local("2026-10-27 09:00"),
    ]


@pytest.mark.rule("RHI-72H")
async def test_return_interview_counts_from_the_return_not_from_the_report(
    reported: Report,
) -> None:
    h = await reported("west-yorkshire")
    await h.until(local("2026-10-24 11:00"))
    assert "Recorded" in await h.say("sam", "/found Jay 10:45 police at the station")
    rhi = await one(h, "RHI-72H")
    # RULES.md: within 72 hours of return. Sat 10:45 BST + 72 h = Tue 09:45 GMT.
    assert rhi.due_at == local("2026-10-27 09:45")
