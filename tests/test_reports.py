"""The managers' view: the daily summary, the weekly pack, charts, exports, SUM-AD."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import date, datetime, time

import pytest

from bot.cli import main
from handlers import exports
from reminders import schedule
from storage import duty_store, outbox_store, report_store, staff_store
from tests.support.clock import LONDON, local
from tests.support.harness import Harness
from tests.support.team import STAFF, child

OTHERS = [
    {"id": "hos", "name": "Hana", "role": "head_of_service"},
    {"id": "ad", "name": "Adel", "role": "assistant_director"},
    {"id": "pat", "name": "Pat", "role": "social_worker", "manager": "tm2"},
    {"id": "tm2", "name": "Tess", "role": "team_manager"},
    {"id": "kim", "name": "Kim", "role": "carer", "home": "elm"},
]
MIA = child(
    ref="C-0099", first_name="Mia", home="elm", social_worker="pat", team_manager="tm2", iro=None
)


async def open_harness(tmp_path, start: datetime, area: str = "west-yorkshire") -> Harness:
    return await Harness.open(
        tmp_path / "w.db",
        start,
        area=area,
        children=[child(area=area, full_name="Jay Example"), MIA | {"area": area}],
        staff=STAFF + OTHERS,
    )


def daily_dates(h: Harness, to: str) -> list[str]:
    return [
        s.at.astimezone(LONDON).strftime("%Y-%m-%d %H:%M")
        for s in h.to(to, "SUM-DAILY-HOS")
        if "Daily missing summary" in s.text
    ]


def at_half_past_one(h: Harness) -> None:
    """The area's daily summary at 01:30, the hour the clock changes repeat or skip."""
    preset = h.svc.presets["west-yorkshire"]
    reports_at = preset.reports.model_copy(update={"daily_at": time(1, 30)})
    h.svc.presets["west-yorkshire"] = preset.model_copy(update={"reports": reports_at})


# ---- the schedule -----------------------------------------------------------------------------


def test_a_skipped_or_repeated_wall_clock_time_still_has_one_instant():
    half_past_one = time(1, 30)
    spring = schedule.occurrence(date(2026, 3, 29), half_past_one, LONDON)
    assert spring == local("2026-03-29 02:30")  # 01:30 does not exist that night
    autumn = schedule.occurrence(date(2026, 10, 25), half_past_one, LONDON)
    assert autumn.isoformat() == "2026-10-25T00:30:00+00:00"  # the first of the two 01:30s


@pytest.mark.rule("SUM-DAILY-TM")
async def test_the_daily_summary_goes_once_a_local_day_across_both_clock_changes(tmp_path):
    h = await open_harness(tmp_path, local("2026-10-23 12:00"))
    await h.say("tom", "/subscribe daily")
    await h.until(local("2026-10-27 12:00"))
    assert daily_dates(h, "staff:tom") == [
        "2026-10-23 12:00",  # today's, missed: sent on subscribing's next sweep, once
        "2026-10-24 08:30",
        "2026-10-25 08:30",  # the autumn change: still 08:30 on the wall clock
        "2026-10-26 08:30",
        "2026-10-27 08:30",
    ]
    await h.close()


async def test_an_hour_the_autumn_change_repeats_fires_once(tmp_path):
    h = await open_harness(tmp_path, local("2026-10-24 12:00"))
    at_half_past_one(h)
    await h.say("tom", "/subscribe daily")
    await h.until(local("2026-10-26 03:00"))
    days = Counter(d[:10] for d in daily_dates(h, "staff:tom"))
    assert days == {"2026-10-24": 1, "2026-10-25": 1, "2026-10-26": 1}
    spring = await open_harness(tmp_path / "spring", local("2026-03-28 12:00"))
    at_half_past_one(spring)
    await spring.say("tom", "/subscribe daily")
    await spring.until(local("2026-03-30 03:00"))
    assert daily_dates(spring, "staff:tom")[1:] == ["2026-03-29 02:30", "2026-03-30 01:30"]
    await h.close()
    await spring.close()


async def test_a_restart_does_not_send_the_day_again(tmp_path):
    h = await open_harness(tmp_path, local("2026-11-09 08:00"))
    await h.say("tom", "/subscribe daily")  # Sunday's, 23 h 30 min old, is skipped not sent
    await h.until(local("2026-11-09 09:00"))
    assert daily_dates(h, "staff:tom") == ["2026-11-09 08:30"]
    await h.close()
    again = await open_harness(tmp_path, local("2026-11-09 10:00"))
    await again.until(local("2026-11-10 09:00"))
    assert daily_dates(again, "staff:tom") == ["2026-11-10 08:30"]
    runs = await report_store.runs_of(again.db, "daily:west-yorkshire")
    assert runs == ["2026-11-08", "2026-11-09", "2026-11-10"]
    await again.close()


@pytest.mark.rule("SUM-DAILY-HOS")
async def test_a_report_missed_this_morning_goes_out_late_saying_so(tmp_path):
    h = await open_harness(tmp_path, local("2026-11-09 11:00"))
    await h.say("tom", "/subscribe daily")
    (late,) = [s for s in h.to("staff:tom", "SUM-DAILY-HOS")]
    assert late.at == local("2026-11-09 11:00")
    assert "due Mon 09 Nov 08:30; the bot was not running" in late.text
    await h.close()


# ---- what the summary says --------------------------------------------------------------------------


@pytest.mark.rule("SUM-DAILY-TM")
@pytest.mark.rule("SUM-DAILY-HOS")
async def test_summary_counts_a_child_missing_across_midnight_and_the_clock_change(tmp_path):
    h = await open_harness(tmp_path, local("2026-10-24 23:10"))
    await h.say("sam", "/absent Jay 23:00 climbed out of the window")
    await h.say("sam", "/police Jay ref WY-9 grade high")
    await h.say("sam", "/record Jay parents mum told 23:30, she has not seen him")
    await h.say("sam", "/record Jay context seen with older males linked to county lines")
    await h.until(local("2026-10-25 08:30"))
    text = await h.say("tom", "/summary")
    assert text.startswith("Missing summary for Tom, Sun 25 Oct 08:30")
    assert text.endswith("\nSUM-DAILY-TM; SUM-DAILY-HOS")  # its rules last
    assert "Not where they should be now: 1 (1 reported missing to police)" in text
    # 23:00 BST to 08:30 GMT is 10 h 30 min, not the 9 h 30 min the wall clock suggests
    assert "C-0042 Jay: missing 10 h 30 min" in text
    assert "police high, ref WY-9" in text and "1 episode in 6 months" in text
    assert "Parents/carers engaged: mum told 23:30" in text
    assert "Exploitation risk assessment: not recorded" in text
    assert "Contextual concerns: seen with older males" in text
    await h.close()


@pytest.mark.rule("SUM-DAILY-TM")
async def test_returned_children_and_overdue_duties_are_in_the_summary(tmp_path):
    h = await open_harness(tmp_path, local("2026-11-09 08:00"))
    await h.say("sam", "/absent Jay 07:30 not in bed")
    await h.say("sam", "/police Jay ref WY-1 grade medium")
    await h.until(local("2026-11-09 10:00"))
    await h.say("sam", "/found Jay 09:45 self walked in")
    await h.until(local("2026-11-12 12:00"))
    text = await h.say("tom", "/summary")
    assert "Returned in the last 24 h: 0" in text
    assert "OVERDUE DUTIES" in text and "[RHI-72H] C-0042 Jay" in text and "owner Priya" in text
    await h.close()


async def test_a_manager_never_sees_another_teams_children(tmp_path):
    h = await open_harness(tmp_path, local("2026-11-09 10:00"))
    await h.say("sam", "/absent Jay 09:30 left school")
    await h.say("kim", "/absent Mia 09:40 left school")
    tom = await h.say("tom", "/summary")
    tess = await h.say("tm2", "/summary")
    hana = await h.say("hos", "/summary")
    assert "C-0042 Jay" in tom and "C-0099" not in tom
    assert "C-0099 Mia" in tess and "C-0042" not in tess
    assert "C-0042 Jay" in hana and "C-0099 Mia" in hana
    assert "Summaries are for" in await h.say("sam", "/summary")
    await h.close()


# ---- the weekly pack and charts ------------------------------------------------------------------


async def attachment_of(h: Harness, recipient: str, name_part: str) -> bytes:
    for message in await outbox_store.outbox_messages(h.db):
        if message.recipient == recipient and message.attachment_id and name_part in message.text:
            found = await report_store.get_attachment(h.db, message.attachment_id)
            assert found is not None
            return found.data
    raise AssertionError(f"no {name_part} attachment to {recipient}")


@pytest.mark.rule("SUM-WEEKLY")
async def test_the_weekly_pack_goes_the_evening_before_with_file_and_chart(tmp_path):
    h = await open_harness(tmp_path, local("2026-11-09 08:00"))
    await h.say("hos", "/subscribe weekly")
    await h.until(local("2026-11-10 20:00"))
    await h.say("sam", "/absent Jay 19:30 ran off at the park")
    await h.say("sam", "/update Jay 19:45 searched the park and rang his friends")
    await h.say("sam", "/police Jay ref WY-7 grade medium")
    await h.until(local("2026-11-11 01:00"))
    await h.say("sam", "/found Jay 00:40 police brought back")
    await h.until(local("2026-11-12 18:00"))
    packs = [s for s in h.to("staff:hos", "SUM-WEEKLY") if "The full pack" in s.text]
    assert [s.at for s in packs] == [local("2026-11-12 17:00")]  # Thursday, the default
    assert "1 episodes (1 missing, 0 away, 0 absent) for 1 children" in packs[0].text
    markdown = (await attachment_of(h, "staff:hos", "weekly-pack")).decode()
    assert "## C-0042 Jay: missing" in markdown and "searched the park" in markdown
    assert "ref WY-7, grade medium" in markdown
    png = await attachment_of(h, "staff:hos", "episodes-")
    assert png.startswith(b"\x89PNG") and len(png) > 5000
    await h.close()


async def test_chart_on_request_goes_to_the_asker_as_an_image(tmp_path):
    h = await open_harness(tmp_path, local("2026-11-09 10:00"))
    assert "on its way" in await h.say("tom", "/chart")
    png = await attachment_of(h, "staff:tom", "Episodes per week")
    assert png.startswith(b"\x89PNG")
    await h.close()


# ---- SUM-AD -------------------------------------------------------------------------------------------


@pytest.mark.rule("SUM-AD")
async def test_the_assistant_director_hears_of_notifications_and_concerns(tmp_path):
    h = await open_harness(tmp_path, local("2026-11-09 10:00"), area="north-somerset")
    await h.say("sam", "/absent Jay 09:30 did not arrive at school")
    await h.say("sam", "/police Jay ref N-1 grade medium")
    sin = next(d for d in await duty_store.open_duties(h.db) if d.rule_id == "MIS-SIN")
    await h.say("priya", f"/done {sin.label} sent 11:00")
    await h.say("priya", "/record Jay context linked to a county lines network")
    told = [s.text for s in h.to("staff:ad", "SUM-AD")]
    assert any("Serious Incident Notification is due" in t for t in told)
    assert any("was sent" in t and "sent 11:00" in t for t in told)
    assert any("county lines" in t for t in told)
    await h.close()


@pytest.mark.rule("SUM-AD")
async def test_west_yorkshire_does_not_use_the_north_somerset_ad_alerts(tmp_path):
    h = await open_harness(tmp_path, local("2026-11-09 10:00"))
    await h.say("sam", "/absent Jay 09:30 did not arrive at school")
    await h.say("sam", "/record Jay context county lines")
    assert h.to("staff:ad", "SUM-AD") == []
    await h.close()


# ---- exports ------------------------------------------------------------------------------------------


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.rule("SUM-QUARTER")
async def test_exports_limit_children_and_fields_to_the_callers_role(tmp_path):
    h = await open_harness(tmp_path, local("2026-11-09 08:00"))
    await h.say("sam", "/absent Jay 07:30 not in bed")
    await h.say("sam", "/police Jay ref WY-1 grade medium")
    await h.say("kim", "/absent Mia 07:40 not in bed")
    await h.say("sam", "/found Jay 08:00 self came back")
    start, end = local("2026-11-01 00:00"), local("2026-12-01 00:00")
    tom = await staff_store.get_staff(h.db, "tom")
    sam = await staff_store.get_staff(h.db, "sam")
    as_tom = await exports.period(h.db, tom, start, end, LONDON)
    episodes = rows(as_tom["episodes.csv"])
    assert [e["child_ref"] for e in episodes] == ["C-0042"]
    assert episodes[0]["full_name"] == "Jay Example" and episodes[0]["police_ref"] == "WY-1"
    assert any(e["kind"] == "found" for e in rows(as_tom["events.csv"]))
    assert any(d["rule"] == "RHI-72H" for d in rows(as_tom["duties.csv"]))
    as_sam = await exports.period(h.db, sam, start, end, LONDON)
    assert rows(as_sam["episodes.csv"])[0]["full_name"] in ("", "Jay Example")
    await h.close()


@pytest.mark.rule("SUM-QUARTER")
async def test_ssda903_missing_table_from_the_record(tmp_path):
    h = await open_harness(tmp_path, local("2026-03-30 20:00"))
    await h.say("sam", "/absent Jay 19:30 gone")  # before April: the previous 903 year
    await h.say("sam", "/police Jay ref WY-0 grade low")
    await h.say("sam", "/found Jay 20:00 self back")
    await h.until(local("2026-04-02 22:00"))
    await h.say("sam", "/absent Jay 21:00 gone")
    await h.say("sam", "/police Jay ref WY-1 grade low")
    await h.until(local("2026-04-03 02:00"))
    await h.say("sam", "/found Jay 01:30 police brought back")
    await h.until(local("2026-06-01 18:00"))
    await h.say("sam", "/absent Jay 17:30 at his cousin's")
    await h.say("sam", "/away Jay at his cousin's, will not come back")
    await h.until(local("2026-07-01 10:00"))
    await h.say("sam", "/absent Jay 09:30 late back from the shop")  # never missing: not 903
    hos = await staff_store.get_staff(h.db, "hos")
    # collection year 2027 (the year the return ends, as the DfE count): April 2026-March 2027
    table = rows(await exports.ssda903_missing(h.db, hos, 2027, LONDON))
    dob = "02/05/2011"
    assert table == [
        {"CHILD": "C-0042", "DOB": dob, "MISSING": "M", "MIS_START": "02/04/2026",
         "MIS_END": "03/04/2026"},
        {"CHILD": "C-0042", "DOB": dob, "MISSING": "A", "MIS_START": "01/06/2026",
         "MIS_END": ""},
    ]  # fmt: skip
    await h.close()


@pytest.mark.rule("SUM-QUARTER")
def test_export_command_writes_the_files(tmp_path, capsys):
    db = tmp_path / "w.db"
    assert main(["import", str(_demo_team()), "--db", str(db)]) == 0
    out = tmp_path / "out"
    assert main(["export", "--db", str(db), "--as", "tom", "--from", "2026-01-01",
                 "--to", "2026-12-31", "--out", str(out)]) == 0  # fmt: skip
    assert sorted(p.name for p in out.iterdir()) == ["duties.csv", "episodes.csv", "events.csv"]
    assert main(["export", "--db", str(db), "--as", "tom", "--ssda903", "2027",
                 "--out", str(tmp_path / "903")]) == 0  # fmt: skip
    table = (tmp_path / "903" / "ssda903-missing-2026-27.csv").read_text()
    assert table.startswith("CHILD,DOB,MISSING,MIS_START,MIS_END")
    assert main(["export", "--db", str(db), "--as", "nobody", "--ssda903", "2027"]) == 2
    capsys.readouterr()


def _demo_team():
    from bot.cli import demo_team_path

    return demo_team_path()
