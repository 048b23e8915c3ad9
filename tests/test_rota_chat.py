"""/rota, /cover and /swap in chat, across the autumn clock change (Sun 25 Oct 2026, 02:00
BST becomes 01:00 GMT: 01:30 happens twice)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import icalendar
import pytest

from storage import rota_store
from tests.support.clock import local
from tests.support.harness import Harness
from tests.support.team import rota, weekend_rota

# Nightly out-of-hours shifts, Olu then Ola, over the change.
NIGHTS = [
    rota("out_of_hours", "ooh1", "2026-10-23T17:00", "2026-10-24T09:00"),
    rota("out_of_hours", "ooh1", "2026-10-24T17:00", "2026-10-25T09:00"),
    rota("out_of_hours", "ooh2", "2026-10-25T17:00", "2026-10-26T09:00"),
    rota("out_of_hours_manager", "oohm", "2026-10-23T17:00", "2026-10-26T09:00"),
]
FIRST_0130 = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 01:30 BST
SECOND_0130 = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 01:30 GMT


@pytest.fixture
async def h(tmp_path: Path):
    harness = await Harness.open(tmp_path / "w.db", local("2026-10-24 12:00"), rota_rows=NIGHTS)
    yield harness
    await harness.close()


async def on(h: Harness, at: datetime) -> list[str]:
    return await rota_store.on_rota(h.db, "out_of_hours", at)


async def test_a_cover_over_the_clock_change_holds_for_exactly_its_span(h: Harness) -> None:
    reply = await h.say("ooh2", "/cover ooh sun 00:30 sun 03:00")
    assert "You are on out of hours, Sun 25 Oct 00:30 to Sun 25 Oct 03:00 instead of Olu" in reply
    assert await on(h, FIRST_0130) == ["ooh2"]
    assert await on(h, SECOND_0130) == ["ooh2"]  # the hour that happens twice is covered twice
    assert await on(h, local("2026-10-25 00:29")) == ["ooh1"]
    assert await on(h, datetime(2026, 10, 25, 3, 0, tzinfo=UTC)) == ["ooh1"]  # 03:00 GMT
    [told] = h.to("staff:ooh1")
    assert "no longer on out of hours, Sun 25 Oct 00:30 to Sun 25 Oct 03:00" in told.text
    assert "cover by Ola; Ola has it now" in told.text


async def test_an_end_read_twice_is_its_first_reading(h: Harness) -> None:
    await h.say("ooh2", "/cover ooh sun 00:30 01:30")
    assert await on(h, FIRST_0130 - (FIRST_0130 - FIRST_0130.replace(minute=29))) == ["ooh2"]
    assert await on(h, FIRST_0130) == ["ooh1"]  # the cover ended at the first 01:30


async def test_cover_refusals_say_what_to_do(h: Harness) -> None:
    assert "before it starts" in await h.say("ooh2", "/cover ooh sun 08:00 sat 20:00")
    assert "Did you mean ooh1, ooh2, oohm" in await h.say("oohm", "/cover ooh sat 20:00 23:00 oo")
    assert "Only a manager may put someone else" in await h.say(
        "ooh1", "/cover ooh sat 20:00 23:00 ooh2"
    )
    assert "not out of hours: ask a manager" in await h.say("sam", "/cover ooh sat 20:00 23:00")
    assert "not a rota role" in await h.say("ooh1", "/cover nights sat 20:00 23:00")
    assert "clocks go forward" not in await h.say("ooh1", "/cover ooh sat 20:00 23:00")


async def test_a_manager_puts_someone_else_on_and_both_are_told(h: Harness) -> None:
    reply = await h.say("oohm", "/cover ooh sat 20:00 sun 08:00 ooh2")
    assert "Ola is on out of hours, Sat 24 Oct 20:00 to Sun 25 Oct 08:00 instead of Olu" in reply
    assert "Morgan has put you on out of hours" in h.to("staff:ooh2")[0].text
    assert "cover by Morgan" in h.to("staff:ooh1")[0].text
    trail = await rota_store.audit_trail(h.db)
    assert (trail[0].action, trail[0].actor, trail[0].before_id) == ("cover", "oohm", "ooh1")


async def test_a_swap_across_the_clock_change_waits_for_the_colleague(h: Harness) -> None:
    reply = await h.say("ooh1", "/swap ooh sat ooh2 sun")
    assert "Nothing changes until they accept" in reply
    assert await on(h, SECOND_0130) == ["ooh1"]
    [asked] = h.to("staff:ooh2")
    assert "Sat 24 Oct 17:00 to Sun 25 Oct 09:00" in asked.text
    row = await h.db.fetchone("SELECT buttons_json FROM outbox WHERE idem_key = 'rota:swap:1:ask'")
    assert row is not None
    assert [b["command"] for b in json.loads(row["buttons_json"])] == [
        "/swap accept 1",
        "/swap decline 1",
    ]
    assert "no swap 1 asked of you" in await h.say("oohm", "/swap accept 1")
    assert "Swap 1 done" in await h.say("ooh2", "/swap accept 1")
    # Saturday night (17:00 BST to 09:00 GMT, 17 hours) is Ola's; Sunday night is Olu's.
    assert await on(h, local("2026-10-24 17:30")) == ["ooh2"]
    assert await on(h, FIRST_0130) == ["ooh2"] and await on(h, SECOND_0130) == ["ooh2"]
    assert await on(h, local("2026-10-25 08:59")) == ["ooh2"]
    assert await on(h, local("2026-10-25 18:00")) == ["ooh1"]
    assert "accepted your swap" in h.to("staff:ooh1")[-1].text
    assert "already accepted" in await h.say("ooh2", "/swap accept 1")


async def test_a_declined_swap_changes_nothing(h: Harness) -> None:
    await h.say("ooh1", "/swap ooh sat ooh2")
    assert "declined" in await h.say("ooh2", "/swap decline 1")
    assert await on(h, FIRST_0130) == ["ooh1"]
    assert "declined your swap" in h.to("staff:ooh1")[-1].text


async def test_swap_refusals(h: Harness) -> None:
    assert "same role" in await h.say("ooh1", "/swap ooh sat oohm")
    assert "no out of hours shift still to come on Tue 27 Oct" in await h.say(
        "ooh1", "/swap ooh tue ooh2"
    )
    assert "not yourself" in await h.say("ooh1", "/swap ooh sat ooh1")


async def test_rota_shows_now_the_week_and_the_gaps(tmp_path: Path) -> None:
    harness = await Harness.open(
        tmp_path / "w.db", local("2026-10-23 21:00"), rota_rows=weekend_rota()
    )
    try:
        text = await harness.say("sam", "/rota")
    finally:
        await harness.close()
    assert "out of hours: now Olu" in text
    assert "Fri 23 Oct 21:00 to Mon 26 Oct 09:00: Olu" in text
    assert "GAP Mon 26 Oct 17:00 to Tue 27 Oct 09:00: nobody" in text  # out of office hours
    assert "GAP Fri 23 Oct 21:00 to Fri 30 Oct 21:00: nobody" in text  # no missing coordinator


async def test_rota_for_one_role_and_day(h: Harness) -> None:
    text = await h.say("sam", "/rota ooh sun")
    assert text.splitlines()[0].startswith("Rota for Sun 25 Oct")
    assert "Sun 25 Oct 00:00 to Sun 25 Oct 09:00: Olu" in text
    assert "Sun 25 Oct 17:00 to Mon 26 Oct 00:00: Ola" in text
    assert "police liaison" not in text


@pytest.mark.rule("ABS-OOH")
async def test_an_absence_during_a_cover_alerts_the_cover_not_the_scheduled_person(
    h: Harness,
) -> None:
    await h.say("ooh2", "/cover ooh sat 20:00 sun 08:00")
    await h.until(local("2026-10-24 22:00"))
    await h.say("sam", "/absent Jay 21:50 left after a row")
    assert h.to("staff:ooh2", "ABS-OOH")
    assert not h.to("staff:ooh1", "ABS-OOH")


async def _calendar_sent_to(h: Harness, staff_id: str) -> icalendar.Calendar:
    row = await h.db.fetchone(
        "SELECT a.filename, a.mime, a.data FROM outbox o JOIN attachments a"
        " ON a.id = o.attachment_id WHERE o.recipient = ? ORDER BY o.id DESC LIMIT 1",
        (f"staff:{staff_id}",),
    )
    assert row is not None and row["mime"] == "text/calendar"
    assert row["filename"].endswith(".ics")
    return icalendar.Calendar.from_ical(bytes(row["data"]))


def _events(cal: icalendar.Calendar) -> list[tuple[str, datetime, datetime]]:
    return [(str(e["SUMMARY"]), e["DTSTART"].dt, e["DTEND"].dt) for e in cal.walk("VEVENT")]


async def test_myshifts_sends_what_the_person_really_holds_and_their_duties(h: Harness) -> None:
    await h.say("ooh2", "/cover ooh sat 20:00 sun 08:00")
    await h.until(local("2026-10-24 21:00"))
    await h.say("sam", "/absent Jay 20:50 left after a row")
    await h.say("ooh1", "/ack Jay")
    reply = await h.say("ooh1", "/myshifts")
    assert "on its way by direct message" in reply
    shifts = [e for e in _events(await _calendar_sent_to(h, "ooh1")) if e[0].startswith("On rota")]
    # Saturday night is split by Ola's cover: Olu holds 17:00-20:00 and 08:00-09:00.
    assert [(s, a.astimezone(UTC), b.astimezone(UTC)) for s, a, b in shifts] == [
        ("On rota: out of hours", local("2026-10-23 17:00"), local("2026-10-24 09:00")),
        ("On rota: out of hours", local("2026-10-24 17:00"), local("2026-10-24 20:00")),
        ("On rota: out of hours", datetime(2026, 10, 25, 8, tzinfo=UTC),
         datetime(2026, 10, 25, 9, tzinfo=UTC)),
    ]  # fmt: skip
    ola = _events(await _calendar_sent_to(h, "ooh2")) if await h.say("ooh2", "/myshifts") else []
    assert (
        "On rota: out of hours",
        local("2026-10-24 20:00"),
        datetime(2026, 10, 25, 8, tzinfo=UTC),
    ) in [(s, a.astimezone(UTC), b.astimezone(UTC)) for s, a, b in ola]


async def test_myshifts_carries_open_duties_by_reference_and_first_name(h: Harness) -> None:
    await h.say("sam", "/absent Jay 11:50 left after a row")
    await h.say("sam", "/police Jay ref P123 grade medium")
    owners = await h.db.fetchall("SELECT DISTINCT owner_id FROM duties WHERE state = 'open'")
    owner = next(r["owner_id"] for r in owners if r["owner_id"])
    await h.say(owner, "/myshifts")
    duties = [e for e in _events(await _calendar_sent_to(h, owner)) if e[0].startswith("Due")]
    assert duties and all("C-0042 Jay" in summary for summary, _, _ in duties)


def test_times_ahead_refuse_the_hour_the_spring_change_skips() -> None:
    from handlers.timeparse import TimeParseError, split_time_ahead
    from tests.support.clock import LONDON

    now = local("2027-03-27 12:00")
    with pytest.raises(TimeParseError, match="no 01:30 on Sun 28 Mar 2027: the clocks go forward"):
        split_time_ahead(["sun", "01:30"], now, LONDON)
    when, rest = split_time_ahead(["sun", "03:00", "ooh2"], now, LONDON)
    assert when == datetime(2027, 3, 28, 2, tzinfo=UTC) and rest == ["ooh2"]  # 03:00 BST


async def test_a_cover_in_the_past_is_refused(h: Harness) -> None:
    reply = await h.say("ooh2", "/cover ooh 2026-10-24 08:00 2026-10-24 10:00")
    assert "starts in the past" in reply
    assert (
        await rota_store.audit_trail(h.db)
        and (await rota_store.audit_trail(h.db))[0].action == "added"
    )
