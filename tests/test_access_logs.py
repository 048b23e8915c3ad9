"""Access and logs: strangers learn nothing, carers act only on their home's children, and no
log line at any level names a child."""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path

import yaml

from bot.cli import main
from handlers.dispatch import Dispatcher
from handlers.messages import NOT_ENROLLED
from tests.support.clock import local
from tests.support.harness import Harness
from tests.support.team import STAFF

SCENARIOS = Path(str(resources.files("bot").joinpath("scenarios")))
EVERY_COMMAND = [
    "/absent C-0042 now gone", "/status", "/status C-0042", "/timeline C-0042", "/profile Jay",
    "/ack C-0042", "/found C-0042 now self", "/duties", "/done D1 x", "/summary", "/chart",
    "/letter C-0042", "/record C-0042 next x", "/help", "/start", "/start 123456",
]  # fmt: skip


async def test_a_stranger_learns_nothing_about_any_child(tmp_path):
    h = await Harness.open(tmp_path / "w.db", local("2026-11-09 10:00"))
    await h.say("sam", "/absent Jay 09:30 left school")
    for text in EVERY_COMMAND:
        reply = (await Dispatcher(h.svc).handle(None, text)).text
        assert reply == NOT_ENROLLED, text
    await h.close()


async def test_a_carer_cannot_act_on_another_homes_child(tmp_path):
    staff = [*STAFF, {"id": "kim", "name": "Kim", "role": "carer", "home": "elm"}]
    h = await Harness.open(tmp_path / "w.db", local("2026-11-09 10:00"), staff=staff)
    await h.say("sam", "/absent Jay 09:30 left school")
    for text in ("/update C-0042 seen", "/found C-0042 now self", "/status C-0042",
                 "/timeline C-0042", "/profile C-0042"):  # fmt: skip
        reply = await h.say("kim", text)
        assert "can't find 'C-0042'" in reply, (text, reply)
    status = await h.say("kim", "/status")
    assert "C-0042" not in status and "Jay" not in status
    await h.close()


def _personal(scenario: Path) -> set[str]:
    """Every child's reference, names and profile values in a scenario file."""
    data = yaml.safe_load(scenario.read_text(encoding="utf-8"))
    found: set[str] = set()
    for kid in data.get("children", []):
        found |= {kid["ref"], kid["first_name"]} | (
            {kid["full_name"]} if kid.get("full_name") else set()
        )
        found |= {v for v in (kid.get("profile") or {}).values() if isinstance(v, str)}
    return found


def test_no_log_line_names_a_child(caplog, capsys):
    names: set[str] = set()
    with caplog.at_level(logging.DEBUG):
        for scenario in sorted(SCENARIOS.glob("*.yaml")):
            names |= _personal(scenario)
            assert main(["simulate", str(scenario)]) == 0
    capsys.readouterr()
    assert caplog.records, "the scenarios logged something at debug level"
    assert "Jay" in names and "07700 900123" in names
    for record in caplog.records:
        line = record.getMessage()
        assert not any(name in line for name in names), f"{record.name}: {line[:200]}"


async def test_telegram_logs_neither_a_child_nor_the_token(tmp_path, caplog):
    from tests.support.telegram_rig import TelegramRig

    with caplog.at_level(logging.DEBUG):
        rig = await TelegramRig.start(tmp_path / "w.db", local("2026-10-23 21:10"))
        try:
            rig.says("sam", "/absent Jay 21:05 left after a row, phone off")
            await rig.reply_to("sam", "Recorded")
            await rig.reply_to("ooh1", "Take it")
            rig.says("sam", "/profile Jay")
            await rig.reply_to("sam", "C-0042")
            rig.says("sam", "/found Jay 21:09 self came back on her own")
            await rig.reply_to("sam", "found Fri")
        finally:
            await rig.stop()
        token = rig.fake.token
    assert [r for r in caplog.records if r.name.startswith("telegram")], "PTB logged nothing"
    for record in caplog.records:
        line = record.getMessage()
        for secret in ("Jay", "C-0042", "phone off", token, token.split(":")[1]):
            assert secret not in line, f"{record.name}: {line[:200]}"


async def test_the_caseload_narrowing_never_hides_a_child_can_see_allows(tmp_path):
    """/status narrows by one column in SQL first; for every role it must list exactly
    the open episodes `can_see` allows over every child."""
    from reminders.access import can_see, caseload
    from storage import episode_store, staff_store

    h = await Harness.open(tmp_path / "w.db", local("2026-11-09 10:00"))
    await h.say("sam", "/absent Jay 09:30 left school")
    everyone = await episode_store.unfinalised_episodes_with_children(h.svc.db)
    assert everyone
    for staff in await staff_store.list_staff(h.svc.db):
        narrow = [n for n in [caseload(staff)] if n is not None]
        narrowed = await episode_store.unfinalised_episodes_with_children(h.svc.db, narrow)
        allowed = [(e.id, c.id) for e, c in everyone if can_see(staff, c)]
        assert [(e.id, c.id) for e, c in narrowed] == allowed, staff.id  # exact, not wider
    await h.close()
