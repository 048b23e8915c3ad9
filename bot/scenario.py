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
from zoneinfo import ZoneInfo

from pydantic import Field, model_validator

from bot.admin import import_team
from bot.console import ConsoleTransport, Sent
from config.presets import AREAS, load_all_presets
from config.team import Strict, TeamFile
from config.yamlfile import load_model
from handlers.context import Services
from reminders.clock import FakeClock
from storage import repo
from storage.db import Database


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
            raise ValueError(f"unknown area {self.area!r}; the areas are {', '.join(AREAS)}")
        if self.until <= self.start:
            raise ValueError("until must be after start")
        known = {s.id for s in self.staff}
        for number, step in enumerate(self.steps):
            if step.as_ not in known:
                raise ValueError(f"steps[{number}]: unknown staff {step.as_!r}")
            if step.at < self.start:
                raise ValueError(f"steps[{number}]: at {step.at} is before start {self.start}")
            if step.at > self.until:
                raise ValueError(f"steps[{number}]: at {step.at} is after until {self.until}")
        return self


def load_scenario(path: Path | str) -> Scenario:
    return load_model(Scenario, path)


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

    def as_json(self) -> str:
        if self.type == "message":
            keys = ("at", "type", "to", "rule", "child", "text")
        else:
            keys = ("at", "type", "rule", "child", "owner", "due")
        return json.dumps({k: getattr(self, k) for k in keys}, ensure_ascii=False)


class ScenarioRun:
    def __init__(self, scenario: Scenario, out: Callable[[str], None] | None = None) -> None:
        self.scenario = scenario
        self.tz = ZoneInfo(load_all_presets()[scenario.area].timezone)
        self.out = out or (lambda line: None)
        self.records: list[Record] = []

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
                console = ConsoleTransport(svc, out=self.out, tz_name=str(self.tz))
                refs = {c.id: c.ref for c in await repo.list_children(db)}
                seen = 0
                for step in self.scenario.steps:
                    clock.set(self._aware(step.at))
                    await console.say(step.as_, step.say)
                    seen = self._collect(console.sent, seen, refs)
                clock.set(self._aware(self.scenario.until))
                await console.deliver()
                self._collect(console.sent, seen, refs)
        return self.records

    def _collect(self, sent: list[Sent], seen: int, refs: dict[int, str]) -> int:
        for item in sent[seen:]:
            kind, _, ident = item.to.partition(":")
            self.records.append(
                Record(
                    at=self._local_iso(datetime.fromisoformat(item.at_utc)),
                    type="message",
                    to=ident if kind == "staff" else item.to,
                    rule=item.rule,
                    child=refs.get(item.child_id) if item.child_id else None,
                    text=item.text,
                )
            )
        return len(sent)
