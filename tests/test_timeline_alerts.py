"""/timeline shows who the bot alerted, when, whether it reached them, and who took it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from handlers.context import Services
from handlers.dispatch import Dispatcher
from reminders.clock import FakeClock
from storage import outbox_store, staff_store
from storage.db import Database
from storage.models import Recipient
from tests.support.clock import local
from tests.support.team import seed_team, team_file, weekend_rota


@pytest.fixture
async def svc(tmp_path):
    async with Database(tmp_path / "w.db") as db:
        await seed_team(db, team_file(rota_rows=weekend_rota()))
        yield Services(db=db, clock=FakeClock(local("2026-10-23 21:10")))


async def say(svc, staff_id: str, text: str) -> str:
    staff = await staff_store.get_staff(svc.db, staff_id)
    outcome = await Dispatcher(svc).handle(staff, text)
    assert not outcome.refused, outcome.text
    return outcome.text


async def test_timeline_shows_who_was_alerted_when_delivery_and_who_took_it(svc):
    await say(svc, "sam", "/absent Jay 21:00 out")
    before = await say(svc, "tom", "/timeline Jay")
    assert "Fri 23 Oct 21:10 bot: alerted Olu, asked to take it [ABS-OOH], not delivered yet" in (
        before
    )
    assert "bot: told Irene [ABS-IRO]" in before
    assert before.count("Nobody has taken the alert yet (out since 21:10)") == 1
    # a later climb (the review) that has not started is not listed as waiting
    assert "out since 22:10" not in before

    olu = Recipient.staff("ooh1").stored
    message = next(m for m in await outbox_store.outbox_messages(svc.db) if m.recipient == olu)
    await outbox_store.mark_sent(svc.db, message.id, local("2026-10-23 21:11"))
    svc.clock.advance(timedelta(minutes=3))
    await say(svc, "ooh1", "/ack Jay")
    after = await say(svc, "tom", "/timeline Jay")
    assert "alerted Olu, asked to take it [ABS-OOH], delivered 21:11" in after
    assert "Fri 23 Oct 21:13 Olu: Olu has it [ABS-OOH]" in after
    assert "Nobody has taken the alert yet" not in after
    lines = after.splitlines()
    # in time order: the alert before its acknowledgement
    alerted = next(i for i, line in enumerate(lines) if "alerted Olu" in line)
    took = next(i for i, line in enumerate(lines) if "Olu has it" in line)
    assert alerted < took
