"""Staff who leave: cut off everywhere at once, and what they held handed on in one write."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.admin import StaffReport, import_team
from bot.cli import main
from bot.router import Router, Unreachable
from config.team import StaffSpec
from handlers.messages import NOT_ENROLLED
from storage import duty_store, escalation_store, rota_store, staff_store
from storage.db import Database
from storage.models import EscalationState, OutboxMessage, OutboxState
from tests.support.clock import local
from tests.support.harness import Harness
from tests.support.team import STAFF, team_file, weekend_rota

# Olu (the out-of-hours worker) reports to Morgan, the out-of-hours manager.
LINED_UP = [dict(s, manager="oohm") if s["id"] == "ooh1" else s for s in STAFF]


@pytest.fixture
async def friday_night(tmp_path):
    h = await Harness.open(
        tmp_path / "w.db", local("2026-10-23 21:10"), rota_rows=weekend_rota(), staff=LINED_UP
    )
    yield h
    await h.close()


@pytest.mark.rule("ABS-OOH")
async def test_a_leaver_cut_off_mid_climb_the_climb_moves_on_and_the_manager_is_told(
    friday_night,
):
    h = friday_night
    await h.say("sam", "/absent Jay 21:05 left after a row")
    assert [s.rule for s in h.to("staff:ooh1")] == ["ABS-OOH"]
    assert h.to("staff:oohm") == []
    await h.wait(5)  # the ladder waits longer than this on Olu
    async with h.db.write() as tx:
        await staff_store.bind_identity(tx, "telegram", "111", "ooh1")
    reply = await h.say("admin", "/leaver ooh1 moved to another authority")
    assert "Olu (ooh1) has left" in reply and "1 chat account(s) revoked" in reply
    assert "alert for C-0042 Jay" in reply and "Told: oohm." in reply
    # The climb moved on at once, to the manager on duty.
    left_at = h.clock.now()
    escalated = [s for s in h.to("staff:oohm") if s.rule == "ABS-OOH"]
    assert escalated and escalated[0].at == left_at
    # One message to their manager, listing what moved and what could not.
    [told] = [s for s in h.to("staff:oohm") if s.rule is None and "has left" in s.text]
    assert "alert for C-0042 Jay" in told.text and "climbing on" in told.text
    assert "rota out of hours" in told.text and "nobody else is on" in told.text
    # Their shift was the rota: the gap it leaves is told at once, not at the daily check.
    [gap] = [s for s in h.to("staff:oohm") if s.text.startswith("Rota gaps")]
    assert "(after Olu left)" in gap.text and "out of hours:" in gap.text
    # the admin recorded it: the summary was their reply (the gap forecast still reaches them)
    assert [s.text[:10] for s in h.to("staff:admin")] == ["Rota gaps "]
    # Never a recipient again, and cut off from the bot.
    await h.wait(24 * 60)
    assert [s.rule for s in h.to("staff:ooh1")] == ["ABS-OOH"]
    assert await staff_store.staff_by_identity(h.db, "telegram", "111") is None
    assert await staff_store.identities_of(h.db, "ooh1") == []
    assert await rota_store.on_rota(h.db, "out_of_hours", h.clock.now()) == []
    assert await h.say("ooh1", "/ack Jay") == NOT_ENROLLED  # typed as them (the console)


@pytest.mark.rule("ABS-OOH")
async def test_an_alert_a_leaver_had_taken_climbs_again(friday_night):
    h = friday_night
    await h.say("sam", "/absent Jay 21:05 left after a row")
    await h.say("ooh1", "/ack Jay")
    [esc] = await escalation_store.live_escalations_of(h.db, "ooh1")
    assert esc.state is EscalationState.ACKED
    await h.say("oohm", "/leaver ooh1 left the service")
    fresh = await escalation_store.get_escalation(h.db, esc.id)
    assert fresh is not None and fresh.acked_by is None
    assert fresh.state is EscalationState.ACTIVE
    assert [s for s in h.to("staff:oohm") if s.rule == "ABS-OOH"]
    [told] = [s for s in h.to("staff:admin") if "has left" in s.text]
    assert "they had taken" in told.text


@pytest.mark.rule("RHI-72H")
async def test_open_duties_go_to_whoever_the_owner_rule_gives_next(tmp_path):
    h = await Harness.open(tmp_path / "w.db", local("2026-10-26 10:00"))
    await h.say("sam", "/absent Jay 09:50 did not come back")
    await h.say("sam", "/police Jay ref P123 grade medium")
    await h.say("sam", "/found Jay now self at home")
    [rhi] = [d for d in await duty_store.open_duties(h.db, "priya") if d.rule_id == "RHI-72H"]
    before = len(h.to("staff:priya"))
    reply = await h.say("tom", "/leaver priya")
    assert f"duty {rhi.label} [RHI-72H] for C-0042 Jay: now Tom's" in reply
    moved = await duty_store.get_duty(h.db, rhi.id)
    assert moved is not None and moved.owner_id == "tom"
    assert any("is yours now" in s.text for s in h.to("staff:tom", "RHI-72H"))
    # A new report in office hours: the allocated worker has left, so the team manager.
    await h.say("sam", "/absent Jay now gone again")
    assert h.to("staff:tom", "ABS-SW")
    assert len(h.to("staff:priya")) == before  # nothing since she left
    await h.close()


async def test_who_may_record_a_leaver(friday_night):
    h = friday_night
    assert "Only an admin" in await h.say("sam", "/leaver alex")
    assert "Only an admin" in await h.say("tom", "/leaver ooh1")  # not in Tom's line
    assert "Did you mean oohm, ooh2, ooh1?" in await h.say("admin", "/leaver ooh3")
    assert "can't record yourself" in await h.say("oohm", "/leaver oohm")
    assert "Who has left?" in await h.say("admin", "/leaver")
    assert "has left" in await h.say("oohm", "/leaver ooh1")
    assert "already left" in await h.say("admin", "/leaver ooh1")
    assert (await staff_store.get_staff(h.db, "alex")).active  # type: ignore[union-attr]


async def test_the_router_refuses_a_leaver_so_the_climb_moves_on(tmp_path):
    h = await Harness.open(tmp_path / "w.db", local("2026-10-23 21:10"))
    async with h.db.write() as tx:
        await staff_store.bind_identity(tx, "telegram", "222", "alex")
        await staff_store.mark_left(tx, "alex", h.clock.now(), None, None)

    class Platform:
        name = "telegram"

        async def send_direct(self, external_id: str, message: OutboxMessage) -> None:
            raise AssertionError("a leaver must never be sent anything")

        async def send_team(self, chat_id: str, message: OutboxMessage) -> None: ...

        async def redact(self, message: OutboxMessage) -> None: ...

    now = h.clock.now()
    message = OutboxMessage(1, "k", "staff:alex", None, "hi", (), None, None, now, now, 0,
                            OutboxState.PENDING)  # fmt: skip
    with pytest.raises(Unreachable, match="has left"):
        await Router(h.db, [Platform()]).send(message)
    assert await staff_store.reachable_identities(h.db, "alex") == {}
    await h.close()


async def test_an_import_never_reactivates_a_leaver_nor_deactivates_anyone_silently(db: Database):
    await import_team(db, team_file(), "west-yorkshire")
    async with db.write() as tx:
        await staff_store.mark_left(tx, "alex", local("2026-10-23 21:10"), "admin", "moved")
    without_sam = [s for s in STAFF if s["id"] != "sam"]
    report = StaffReport()
    await import_team(db, team_file(staff=without_sam), "west-yorkshire", report=report)
    alex, sam = await staff_store.get_staff(db, "alex"), await staff_store.get_staff(db, "sam")
    assert alex is not None and not alex.active and alex.left_reason == "moved"
    assert sam is not None and sam.active
    assert report.not_in_file == ["sam"]
    assert any("sam" in line and "staff leave" in line for line in report.lines())
    # Only the file saying so changes it, either way.
    back = [dict(s, active=True) if s["id"] == "alex" else s for s in STAFF]
    gone = [dict(s, active=False) if s["id"] == "sam" else s for s in back]
    report = StaffReport()
    await import_team(db, team_file(staff=gone), "west-yorkshire", report=report)
    assert report.back == ["alex"] and report.left == ["sam"]
    alex, sam = await staff_store.get_staff(db, "alex"), await staff_store.get_staff(db, "sam")
    assert alex is not None and alex.active and alex.left_at is None
    assert sam is not None and not sam.active and sam.left_at is not None


async def test_email_and_phone_are_validated_and_kept(db: Database):
    staff = [
        dict(s, email="Olu@Example.org", phone="+44 7700 900123") if s["id"] == "ooh1" else s
        for s in STAFF
    ]
    await import_team(db, team_file(staff=staff), "west-yorkshire")
    olu = await staff_store.get_staff(db, "ooh1")
    assert olu is not None and (olu.email, olu.phone) == ("olu@example.org", "+447700900123")
    with pytest.raises(ValidationError, match="not an e-mail address"):
        StaffSpec(id="x", role="carer", email="olu at example")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="not a phone number"):
        StaffSpec(id="x", role="carer", phone="call me")  # type: ignore[arg-type]


def test_staff_leave_on_the_command_line(tmp_path, capsys):
    path = tmp_path / "w.db"
    team = tmp_path / "team.yaml"
    team.write_text(
        "staff:\n"
        "  - {id: tom, name: Tom, role: team_manager}\n"
        "  - {id: priya, name: Priya, role: social_worker, manager: tom}\n"
        "  - {id: ada, name: Ada, role: admin}\n"
        "children:\n"
        "  - {ref: C-0042, first_name: Jay, home: oak, social_worker: priya, area: west-yorkshire}\n"
        "rota:\n"
        "  - {role: out_of_hours, staff: priya, from: 2030-01-01T17:00, to: 2030-01-02T09:00}\n"
    )
    assert main(["import", str(team), "--db", str(path)]) == 0
    assert main(["staff", "leave", "priya", "--reason", "retired", "--db", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Priya (priya) has left" in out and "retired" in out
    assert "rota out of hours" in out and "Told: tom, ada." in out
    assert main(["staff", "leave", "priya", "--db", str(path)]) == 2
    assert "already left" in capsys.readouterr().err
    assert main(["staff", "leave", "pryia", "--db", str(path)]) == 2
    assert "Did you mean priya?" in capsys.readouterr().err
    # Re-importing the same file does not bring her back.
    assert main(["import", str(team), "--db", str(path)]) == 0
    capsys.readouterr()
    assert main(["list", "staff", "--db", str(path)]) == 0
    [line] = [x for x in capsys.readouterr().out.splitlines() if x.startswith("priya")]
    assert "(left " in line


async def test_a_leavers_shift_under_way_ends_now_and_those_ahead_go(db: Database):
    await import_team(db, team_file(), "west-yorkshire")
    now = local("2026-10-24 02:00")
    async with db.write() as tx:
        await rota_store.add_rota(tx, "out_of_hours", "ooh1", local("2026-10-23 17:00"), local("2026-10-24 09:00"))  # fmt: skip
        await rota_store.add_rota(tx, "out_of_hours", "ooh1", local("2026-10-24 17:00"), local("2026-10-25 09:00"))  # fmt: skip
        await rota_store.add_rota(tx, "out_of_hours", "ooh2", local("2026-10-24 17:00"), local("2026-10-25 09:00"))  # fmt: skip
        removed = await rota_store.remove_future_shifts(tx, "ooh1", now)
    assert removed == [
        ("out_of_hours", now, local("2026-10-24 09:00")),
        ("out_of_hours", local("2026-10-24 17:00"), local("2026-10-25 09:00")),
    ]
    assert await rota_store.on_rota(db, "out_of_hours", local("2026-10-24 01:59")) == ["ooh1"]
    assert await rota_store.on_rota(db, "out_of_hours", now) == []
    assert await rota_store.on_rota(db, "out_of_hours", local("2026-10-24 20:00")) == ["ooh2"]


async def test_a_leavers_shifts_go_on_the_rota_audit_trail(db: Database):
    await import_team(db, team_file(), "west-yorkshire")
    now = local("2026-10-24 02:00")
    async with db.write() as tx:
        await rota_store.add_rota(tx, "out_of_hours", "ooh1", local("2026-10-23 17:00"), local("2026-10-24 09:00"))  # fmt: skip
        await rota_store.add_rota(tx, "out_of_hours", "ooh1", local("2026-10-24 17:00"), local("2026-10-25 09:00"))  # fmt: skip
        await rota_store.remove_future_shifts(tx, "ooh1", now, "tom")
    trail = [e for e in await rota_store.audit_trail(db) if e.note == "left"]
    assert [(e.action, e.actor, e.starts_at, e.ends_at) for e in reversed(trail)] == [
        ("changed", "tom", local("2026-10-23 17:00"), now),
        ("removed", "tom", local("2026-10-24 17:00"), local("2026-10-25 09:00")),
    ]
    assert trail[0].staff_id is None and trail[0].before_id == "ooh1"  # nobody holds it now
