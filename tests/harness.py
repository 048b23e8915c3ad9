"""A whole bot on a real SQLite file with a fake clock: chat, sweeper, outbox, recorded sends."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.admin import import_team
from bot.delivery import OutboxDelivery
from config.team import TeamFile
from handlers.context import Services
from handlers.dispatch import Dispatcher
from handlers.report_jobs import ReportJobs
from reminders.clock import FakeClock
from reminders.sweeper import Sweeper, run_until
from storage import child_store, episode_store, staff_store
from storage.db import Database
from storage.models import OutboxMessage
from tests.conftest import LONDON

STAFF = [
    {"id": "sam", "name": "Sam", "role": "carer", "home": "oak"},
    {"id": "alex", "name": "Alex", "role": "carer", "home": "oak"},
    {"id": "priya", "name": "Priya", "role": "social_worker", "manager": "tom"},
    {"id": "tom", "name": "Tom", "role": "team_manager"},
    {"id": "ooh1", "name": "Olu", "role": "out_of_hours"},
    {"id": "ooh2", "name": "Ola", "role": "out_of_hours"},
    {"id": "oohm", "name": "Morgan", "role": "out_of_hours_manager"},
    {"id": "pc1", "name": "PC Rees", "role": "police_liaison"},
    {"id": "iro1", "name": "Irene", "role": "iro"},
    {"id": "admin", "name": "Ada", "role": "admin"},
]


def child(**extra: Any) -> dict[str, Any]:
    base = {
        "ref": "C-0042",
        "first_name": "Jay",
        "dob": "2011-05-02",
        "home": "oak",
        "legal_status": "looked_after",
        "social_worker": "priya",
        "team_manager": "tom",
        "iro": "iro1",
    }
    return base | extra


def rota(role: str, staff: str, start: str, end: str) -> dict[str, str]:
    return {"role": role, "staff": staff, "from": start, "to": end}


def weekend_rota(start: str = "2026-10-23T17:00", end: str = "2026-10-26T09:00") -> list[dict]:
    return [
        rota("out_of_hours", "ooh1", start, end),
        rota("out_of_hours_manager", "oohm", start, end),
        rota("police_liaison", "pc1", start, end),
    ]


@dataclass
class Sent:
    at: datetime
    key: str
    to: str
    rule: str | None
    text: str


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
        team = TeamFile.model_validate(
            {"staff": staff or STAFF, "children": children or [child()], "rota": rota_rows or []}
        )
        await import_team(db, team, default_area=area)
        sweeper = Sweeper(db, clock, svc.presets, jobs=[ReportJobs(db, clock, svc.presets)])
        harness = cls(db, clock, svc, sweeper, None)  # type: ignore[arg-type]
        harness.delivery = OutboxDelivery(db, clock, harness._record)
        return harness

    async def _record(self, message: OutboxMessage) -> None:
        self.sent.append(
            Sent(
                self.clock.now(), message.idem_key, message.recipient, message.rule_id, message.text
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
