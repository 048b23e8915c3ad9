"""`whereabouts rota`: list, add, remove, and import from CSV or an Outlook iCalendar export."""

from __future__ import annotations

import json
import sqlite3
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from bot.cli import main
from tests.support.clock import LONDON
from tests.support.team import STAFF

# An Outlook export: its own "GMT Standard Time" zone, a daily series with one date taken
# out (EXDATE) and one occurrence moved (RECURRENCE-ID), across the change from BST to GMT
# on Sunday 25 October 2026.
OUTLOOK = """\
BEGIN:VCALENDAR
PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN
VERSION:2.0
METHOD:PUBLISH
BEGIN:VTIMEZONE
TZID:GMT Standard Time
BEGIN:STANDARD
DTSTART:16011028T020000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
TZOFFSETFROM:+0100
TZOFFSETTO:-0000
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010325T010000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3
TZOFFSETFROM:-0000
TZOFFSETTO:+0100
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VEVENT
UID:040000008200E00074C5B7101A82E00800000000OOH
SUMMARY:Out of hours: ooh1
DTSTART;TZID=GMT Standard Time:20261022T170000
DTEND;TZID=GMT Standard Time:20261023T090000
RRULE:FREQ=DAILY;COUNT=6
EXDATE;TZID=GMT Standard Time:20261023T170000
ORGANIZER;CN=Morgan:mailto:morgan@example.org
END:VEVENT
BEGIN:VEVENT
UID:040000008200E00074C5B7101A82E00800000000OOH
RECURRENCE-ID;TZID=GMT Standard Time:20261026T170000
SUMMARY:Out of hours: Ola
DTSTART;TZID=GMT Standard Time:20261026T180000
DTEND;TZID=GMT Standard Time:20261027T090000
END:VEVENT
END:VCALENDAR
"""
WINDOW = ["--from", "2026-10-19", "--to", "2026-11-02"]


@pytest.fixture
def db(tmp_path: Path) -> str:
    team = tmp_path / "team.yaml"
    team.write_text(yaml.safe_dump({"staff": STAFF}))
    path = str(tmp_path / "w.db")
    assert main(["import", str(team), "--db", path]) == 0
    return path


def _list(db: str, capsys: pytest.CaptureFixture[str], *extra: str) -> list[dict]:
    capsys.readouterr()
    assert main(["rota", "list", "--db", db, "--json", *WINDOW, *extra]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_an_outlook_series_is_expanded_across_the_clock_change(db, tmp_path, capsys):
    ics = tmp_path / "ooh.ics"
    ics.write_text(OUTLOOK)
    assert main(["rota", "import", str(ics), "--db", db, *WINDOW]) == 0
    assert "5 added" in capsys.readouterr().out
    shifts = [(s["staff"], s["from"], s["to"]) for s in _list(db, capsys)]
    assert shifts == [
        ("ooh1", "2026-10-22T17:00:00+01:00", "2026-10-23T09:00:00+01:00"),
        # 23 October is taken out of the series (EXDATE)
        ("ooh1", "2026-10-24T17:00:00+01:00", "2026-10-25T09:00:00+00:00"),  # BST to GMT
        ("ooh1", "2026-10-25T17:00:00+00:00", "2026-10-26T09:00:00+00:00"),
        ("ooh2", "2026-10-26T18:00:00+00:00", "2026-10-27T09:00:00+00:00"),  # moved, and Ola
        ("ooh1", "2026-10-27T17:00:00+00:00", "2026-10-28T09:00:00+00:00"),
    ]
    assert {s["role"] for s in _list(db, capsys)} == {"out_of_hours"}
    assert {s["source"] for s in _list(db, capsys)} == {"import"}


def test_importing_the_same_calendar_again_changes_nothing(db, tmp_path, capsys):
    ics = tmp_path / "ooh.ics"
    ics.write_text(OUTLOOK)
    assert main(["rota", "import", str(ics), "--db", db, *WINDOW]) == 0
    assert main(["rota", "import", str(ics), "--db", db, *WINDOW]) == 0
    assert "0 added, 0 changed, 0 removed, 5 unchanged" in capsys.readouterr().out
    assert len(_list(db, capsys)) == 5


def test_a_changed_calendar_updates_in_place_on_the_audit_trail(db, tmp_path, capsys):
    ics = tmp_path / "ooh.ics"
    ics.write_text(OUTLOOK)
    assert main(["rota", "import", str(ics), "--db", db, *WINDOW]) == 0
    ics.write_text(OUTLOOK.replace("SUMMARY:Out of hours: Ola", "SUMMARY:Out of hours: ooh1"))
    capsys.readouterr()
    assert main(["rota", "import", str(ics), "--db", db, *WINDOW]) == 0
    out = capsys.readouterr().out
    assert "0 added, 1 changed, 0 removed, 4 unchanged" in out
    assert {s["staff"] for s in _list(db, capsys)} == {"ooh1"}
    with sqlite3.connect(db) as conn:
        trail = conn.execute(
            "SELECT action, before_id, staff_id, note FROM rota_audit ORDER BY id DESC LIMIT 1"
        ).fetchone()
    assert trail == ("changed", "ooh2", "ooh1", "re-import of ooh.ics")


def test_a_csv_with_one_bad_row_applies_none_of_it(db, tmp_path, capsys):
    csv = tmp_path / "rota.csv"
    csv.write_text(
        "role,staff,from,to\n"
        "out_of_hours,ooh1,2026-10-23T17:00,2026-10-24T09:00\n"
        "out_of_hours_manager,nobody,2026-10-23T17:00,2026-10-24T09:00\n"
    )
    assert main(["rota", "import", str(csv), "--db", db]) == 2
    err = capsys.readouterr().err
    assert "row 3" in err and "nobody" in err and "Nothing was imported" in err
    assert _list(db, capsys) == []


def test_a_csv_imports_once_however_often(db, tmp_path, capsys):
    csv = tmp_path / "rota.csv"
    csv.write_text(
        "role,staff,from,to\n"
        "out_of_hours,Olu,2026-10-23T17:00,2026-10-26T09:00\n"
        "OOH manager,oohm,2026-10-23T17:00,2026-10-26T09:00\n"
        "out_of_hours,Olu,2026-10-23T17:00,2026-10-26T09:00\n"
    )
    assert main(["rota", "import", str(csv), "--db", db]) == 0
    assert main(["rota", "import", str(csv), "--db", db]) == 0
    rows = _list(db, capsys)
    assert [(r["role"], r["staff"]) for r in rows] == [
        ("out_of_hours", "ooh1"),
        ("out_of_hours_manager", "oohm"),
    ]


def test_a_file_that_is_not_a_calendar_is_refused(db, tmp_path, capsys):
    bad = tmp_path / "rota.ics"
    bad.write_text("this is a spreadsheet, not a calendar\n")
    assert main(["rota", "import", str(bad), "--db", db]) == 2
    assert "not an iCalendar file" in capsys.readouterr().err


def test_unmatched_events_are_listed_and_nothing_is_dropped_silently(db, tmp_path, capsys):
    ics = tmp_path / "mixed.ics"
    ics.write_text(
        OUTLOOK.replace(
            "END:VCALENDAR",
            "BEGIN:VEVENT\nUID:team-meeting\nSUMMARY:Team meeting\n"
            "DTSTART:20261027T100000Z\nDTEND:20261027T110000Z\nEND:VEVENT\nEND:VCALENDAR",
        )
    )
    assert main(["rota", "import", str(ics), "--db", db, *WINDOW]) == 2
    err = capsys.readouterr().err
    assert 'event "Team meeting" on Tue 27 Oct 2026 10:00' in err and "Nothing was imported" in err
    assert _list(db, capsys) == []
    assert main(["rota", "import", str(ics), "--db", db, *WINDOW, "--allow-unmatched"]) == 0
    out = capsys.readouterr().out
    assert "5 added" in out and 'not imported (matches nobody): event "Team meeting"' in out


def test_add_a_cover_then_remove_it(db, capsys):
    start, end = "2026-10-24T20:00", "2026-10-25T08:00"
    assert main(["rota", "add", "out_of_hours", "ooh1", "2026-10-23T17:00", "2026-10-26T09:00",
                 "--db", db]) == 0  # fmt: skip
    assert main(["rota", "add", "ooh", "ooh2", start, end, "--cover", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "Told ooh1" in out
    rows = _list(db, capsys)
    assert [(r["staff"], r["cover"], r["source"]) for r in rows] == [
        ("ooh1", False, "cli"),
        ("ooh2", True, "cli"),
    ]
    assert main(["rota", "remove", str(rows[1]["id"]), "--db", db]) == 0
    assert [r["staff"] for r in _list(db, capsys)] == ["ooh1"]
    assert main(["rota", "remove", "999", "--db", db]) == 2
    assert main(["rota", "add", "ooh", "ooh2", end, start, "--db", db]) == 2
    assert "end after it starts" in capsys.readouterr().err


def test_ical_writes_a_persons_shifts(db, tmp_path, capsys):
    import icalendar

    # The command line's clock is the real one: a shift starting tomorrow.
    tomorrow = date.today() + timedelta(days=1)
    start, end = f"{tomorrow}T17:00", f"{tomorrow + timedelta(days=1)}T09:00"
    assert main(["rota", "add", "ooh", "ooh1", start, end, "--db", db]) == 0
    out = tmp_path / "olu.ics"
    assert main(["rota", "ical", "--staff", "ooh1", "--out", str(out), "--db", db]) == 0
    assert "1 shifts and 0 open duties of Olu" in capsys.readouterr().out
    cal = icalendar.Calendar.from_ical(out.read_bytes())
    [event] = cal.walk("VEVENT")
    assert str(event["SUMMARY"]) == "On rota: out of hours"
    assert event["DTSTART"].dt == datetime.fromisoformat(start).replace(tzinfo=LONDON)
    assert main(["rota", "ical", "--staff", "nobody", "--db", db]) == 2


def test_events_match_staff_by_attendee_email(db, tmp_path, capsys):
    with sqlite3.connect(db) as conn:  # staff e-mail comes with the staff lifecycle's migration
        columns = {row[1] for row in conn.execute("PRAGMA table_info(staff)")}
        if "email" not in columns:
            conn.execute("ALTER TABLE staff ADD COLUMN email TEXT")
        conn.execute("UPDATE staff SET email = 'Olu.Duty@example.org' WHERE id = 'ooh1'")
    ics = tmp_path / "by-mail.ics"
    ics.write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VEVENT\r\nUID:m1\r\n"
        "SUMMARY:Out of hours\r\nDTSTART;TZID=GMT Standard Time:20261024T170000\r\n"
        "DTEND;TZID=GMT Standard Time:20261025T090000\r\n"
        "ORGANIZER:mailto:rota.office@example.org\r\n"
        "ATTENDEE;CN=Olu:mailto:olu.duty@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    assert main(["rota", "import", str(ics), "--db", db, *WINDOW]) == 0
    # No VTIMEZONE: icalendar reads the Windows name itself, as Europe/London.
    assert [(r["staff"], r["from"], r["to"]) for r in _list(db, capsys)] == [
        ("ooh1", "2026-10-24T17:00:00+01:00", "2026-10-25T09:00:00+00:00")
    ]


def test_a_scenario_rota_naming_nobody_in_it_names_the_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "area: west-yorkshire\nstart: 2026-10-23T20:00\nuntil: 2026-10-24T00:00\n"
        "staff: [{id: sam, role: carer}]\n"
        "rota:\n  - {role: out_of_hours, staff: ghost, from: 2026-10-23T17:00, to: 2026-10-24T09:00}\n"
    )
    assert main(["simulate", str(bad)]) == 2
    assert f"{bad}:6: rota.0.staff: 'ghost' is not in staff" in capsys.readouterr().err
