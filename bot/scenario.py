"""`whereabouts simulate`: play a scenario on a fresh database with a fake clock.

The scenario goes through the same handlers, sweeper and outbox as the live bot; only
the clock and the transport (a recording console) differ.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import Field, model_validator

from bot.admin import import_team
from bot.console import ConsoleTransport, Sent
from config.presets import AREAS, load_all_presets
from config.team import Strict, TeamFile
from config.yamlfile import at, load_model
from handlers.context import Services
from handlers.report_jobs import ReportJobs
from reminders.clock import FakeClock
from reminders.follow_ups import FollowUpJobs
from reminders.sweeper import Sweeper, run_until
from storage import child_store, duty_store, escalation_store
from storage.db import Database
from storage.models import EscalationState, Recipient, RecipientKind


async def scenario_timers(db: Database) -> list[dict[str, Any]]:
    """Open duties and live climbs, with who holds them and when they are next due."""
    result = []
    for duty in await duty_store.open_duties(db):
        result.append(
            {
                "key": f"duty{duty.id}",
                "rule": duty.rule_id,
                "child_id": duty.child_id,
                "owner": duty.owner_id,
                "due": duty.due_at,
            }
        )
    for esc in await escalation_store.escalations_waiting(db):
        if esc.state in (EscalationState.ACKED, EscalationState.CONFIRMING):
            owner = esc.acked_by
        elif esc.step < len(esc.steps):
            owner = "+".join(esc.steps[esc.step].notify)
        else:
            owner = "out_of_hours_manager+admins"
        result.append(
            {
                "key": f"esc{esc.id}",
                "rule": esc.rule_id,
                "child_id": esc.child_id,
                "owner": owner,
                "due": esc.next_at,
            }
        )
    return result


class ScenarioStep(Strict):
    at: datetime
    as_: str = Field(alias="as")
    say: str


class Scenario(TeamFile):
    area: str
    start: datetime
    until: datetime
    steps: list[ScenarioStep] = []

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        if self.area not in AREAS:
            raise ValueError(
                at("area") + f"unknown area {self.area!r}; the areas are {', '.join(AREAS)}"
            )
        if self.until <= self.start:
            raise ValueError(at("until") + "until must be after start")
        known = {s.id for s in self.staff}
        # A scenario starts from an empty database: its rota's people are all in the file.
        for number, staff_id in self.rota_staff_elsewhere():
            raise ValueError(at("rota", number, "staff") + f"{staff_id!r} is not in staff")
        for number, step in enumerate(self.steps):
            if step.as_ not in known:
                raise ValueError(at("steps", number, "as") + f"unknown staff {step.as_!r}")
            if step.at < self.start:
                raise ValueError(
                    at("steps", number, "at") + f"{step.at} is before start {self.start}"
                )
            if step.at > self.until:
                raise ValueError(
                    at("steps", number, "at") + f"{step.at} is after until {self.until}"
                )
        return self


def load_scenario(path: Path | str) -> Scenario:
    return load_model(Scenario, path)


# Who a message is to, by channel: a person (a staff id) in chat, by SMS or by e-mail.
_PERSON = (RecipientKind.STAFF, RecipientKind.SMS, RecipientKind.EMAIL, RecipientKind.MAILTO)
VIA = {RecipientKind.SMS: "sms", RecipientKind.EMAIL: "email", RecipientKind.MAILTO: "email"}


@dataclass
class Record:
    at: str
    type: str
    to: str | None = None
    rule: str | None = None
    child: str | None = None
    text: str | None = None
    owner: str | None = None
    due: str | None = None
    via: str | None = None  # a message's channel: chat, sms or email

    def as_json(self) -> str:
        keys: tuple[str, ...]
        if self.type == "message":
            keys = ("at", "type", "to", "via", "rule", "child", "text")
        else:
            keys = ("at", "type", "rule", "child", "owner", "due")
        return json.dumps({k: getattr(self, k) for k in keys}, ensure_ascii=False)


class ScenarioRun:
    def __init__(self, scenario: Scenario, out: Callable[[str], None] | None = None) -> None:
        self.scenario = scenario
        self.tz = ZoneInfo(load_all_presets()[scenario.area].timezone)
        self.out = out or (lambda line: None)
        self.records: list[Record] = []
        self.refused: list[str] = []  # each refused step, as "line: what was said → why"

    def _aware(self, local: datetime) -> datetime:
        return local if local.tzinfo else local.replace(tzinfo=self.tz)

    def _local_iso(self, when: datetime) -> str:
        return when.astimezone(self.tz).replace(tzinfo=None).isoformat(timespec="minutes")

    async def run(self, db_path: Path | None = None) -> list[Record]:
        with tempfile.TemporaryDirectory(prefix="whereabouts-sim-") as tmp:
            path = db_path or Path(tmp) / "scenario.db"
            async with Database(path) as db:
                clock = FakeClock(self._aware(self.scenario.start))
                svc = Services(db=db, clock=clock)
                await import_team(db, self.scenario, default_area=self.scenario.area)
                self._console = ConsoleTransport(svc, out=self.out, tz_name=str(self.tz))
                self._sweeper = Sweeper(
                    db,
                    clock,
                    svc.presets,
                    jobs=[ReportJobs(db, clock, svc.presets), FollowUpJobs(db, clock, svc.presets)],
                )
                self._clock = clock
                self._db = db
                self._refs = {c.id: c.ref for c in await child_store.list_children(db)}
                self._seen = 0
                self._timers: dict[str, tuple[str | None, str | None]] = {}
                for number, step in enumerate(self.scenario.steps):
                    await self._advance_to(self._aware(step.at))
                    outcome = await self._console.say(step.as_, step.say)
                    if outcome.refused:
                        why = outcome.text.strip().splitlines()[0] if outcome.text.strip() else ""
                        self.refused.append(f"step {number + 1} ({step.as_}: {step.say}): {why}")
                    await self._collect_all()
                await self._advance_to(self._aware(self.scenario.until))
        return self.records

    async def _advance_to(self, target: datetime) -> None:
        async def deliver_and_record() -> None:
            await self._console.deliver()
            await self._collect_all()

        await run_until(self._sweeper, self._clock, target, deliver_and_record)

    async def _collect_all(self) -> None:
        self._seen = self._collect(self._console.sent, self._seen, self._refs)
        await self._collect_timers()

    async def _collect_timers(self) -> None:
        """A 'duty' record whenever a duty or a timer is created or moved."""
        now = self._local_iso(self._clock.now())
        for t in await scenario_timers(self._db):
            key = t["key"]
            state = (t["due"], t["owner"])
            if t["due"] is None or self._timers.get(key) == state:
                self._timers[key] = state
                continue
            self._timers[key] = state
            self.records.append(
                Record(
                    at=now,
                    type="duty",
                    rule=t["rule"],
                    child=self._refs.get(t["child_id"]),
                    owner=t["owner"],
                    due=self._local_iso(t["due"]),
                )
            )

    def _collect(self, sent: list[Sent], seen: int, refs: dict[int, str]) -> int:
        for item in sent[seen:]:
            to = Recipient.parse(item.to)
            self.records.append(
                Record(
                    at=self._local_iso(datetime.fromisoformat(item.at_utc)),
                    type="message",
                    to=to.ident if to.kind in _PERSON else item.to,
                    via=VIA.get(to.kind, "chat"),
                    rule=item.rule,
                    child=refs.get(item.child_id) if item.child_id else None,
                    text=item.text,
                )
            )
        return len(sent)
