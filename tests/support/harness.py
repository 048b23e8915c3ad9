"""A whole bot on a real SQLite file with a fake clock: chat, sweeper, outbox, recorded sends."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.delivery import OutboxDelivery
from handlers.context import Services
from handlers.dispatch import Dispatcher
from handlers.report_jobs import ReportJobs
from reminders.clock import FakeClock
from reminders.sweeper import Sweeper, run_until
from storage import child_store, episode_store, staff_store
from storage.db import Database
from storage.models import OutboxMessage
from tests.support.clock import LONDON
from tests.support.team import seed_team, team_file


@dataclass
class Sent:
    at: datetime
    key: str
    to: str
    rule: str | None
    text: str
    message_id: int = 0  # the outbox row sent: the parts of one merged message share it


@dataclass
class Harness:
    db: Database
    clock: FakeClock
    svc: Services
    sweeper: Sweeper
    delivery: OutboxDelivery
    sent: list[Sent] = field(default_factory=list)
    tz: Any = LONDON

    @classmethod
    async def open(
        cls,
        path: Path,
        start: datetime,
        *,
        area: str = "west-yorkshire",
        children: list[dict] | None = None,
        rota_rows: list[dict] | None = None,
        staff: list[dict] | None = None,
    ) -> Harness:
        db = await Database(path).open()
        clock = FakeClock(start)
        svc = Services(db=db, clock=clock)
        team = team_file(staff=staff, children=children, rota_rows=rota_rows)
        await seed_team(db, team, area=area)
        sweeper = Sweeper(db, clock, svc.presets, jobs=[ReportJobs(db, clock, svc.presets)])
        harness = cls(db, clock, svc, sweeper, None)  # type: ignore[arg-type]
        harness.delivery = OutboxDelivery(db, clock, harness._record)
        return harness

    async def _record(self, message: OutboxMessage) -> None:
        # A merged message (bot/merging.py) is recorded part by part, each with its rule and
        # text (and any "(late by …)" the delivery added); `messages_to` counts messages.
        parts = message.parts or (message,)
        late = re.search(r"\n\(late by [^)]*\)$", message.text)
        tail = late.group(0) if late and message.parts else ""
        for part in parts:
            text = part.text + tail if message.parts else message.text
            self.sent.append(
                Sent(
                    self.clock.now(), part.idem_key, part.recipient, part.rule_id, text, message.id
                )
            )

    async def say(self, staff_id: str, text: str) -> str:
        staff = await staff_store.get_staff(self.db, staff_id)
        outcome = await Dispatcher(self.svc).handle(staff, text)
        await self.sweeper.sweep()  # as the live app ticks after every command
        await self.delivery.deliver_due()
        return "\n".join(r.text for r in outcome.replies)

    async def until(self, when: datetime) -> None:
        await run_until(self.sweeper, self.clock, when, self.delivery.deliver_due)

    async def wait(self, minutes: float) -> None:
        await self.until(self.clock.now() + timedelta(minutes=minutes))

    def to(self, recipient: str, rule: str | None = None) -> list[Sent]:
        return [s for s in self.sent if s.to == recipient and (rule is None or s.rule == rule)]

    def messages_to(self, recipient: str) -> int:
        """How many messages the recipient got (a merged message is one)."""
        return len({s.message_id for s in self.to(recipient)})

    def local_times(self, recipient: str, rule: str | None = None) -> list[str]:
        return [s.at.astimezone(self.tz).strftime("%a %H:%M") for s in self.to(recipient, rule)]

    async def close(self) -> None:
        await self.db.close()


async def events_saying(db: Database, ref: str, words: str) -> list:
    """Every timeline event of the child's episodes whose text has `words`: how many times
    a report was recorded (once, after a crash and a replay)."""
    child = await child_store.get_child_by_ref(db, ref)
    assert child is not None
    episodes = await episode_store.episodes_of_child(db, child.id)
    events = [e for ep in episodes for e in await episode_store.events_for_episode(db, ep.id)]
    return [e for e in events if words in e.text]
