"""The scheduled reports: the daily summary and the weekly pack, once per local day.

Each (report, area) is a job keyed by the local date it is for (reminders.schedule). The
sweeper asks when the next one is due and runs what is due; the run is claimed and its
messages queued in one transaction, so a restart or a second instance never sends it twice.
A report missed while the bot was down goes out when it comes back, saying when it was
due, unless the next one is nearly due.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from config import rule_ids
from config.presets import Preset
from handlers import charts, summaries
from handlers.summaries import View
from reminders import schedule
from reminders.chat_scope import MANAGERS_TEAM
from reminders.clock import Clock
from reminders.formatting import local_time
from storage import chat_store, child_store, message_keys, outbox_store, report_store, staff_store
from storage.db import Database
from storage.models import Recipient, Staff

log = logging.getLogger(__name__)

# A report missed by more than this (the bot was down) is skipped, not sent stale: the next
# one is near and yesterday's numbers would only mislead.
STALE = timedelta(hours=12)


@dataclass(frozen=True)
class Job:
    kind: str  # 'daily' | 'weekly'
    area: str
    rule: str

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.area}"


class ReportJobs:
    def __init__(self, db: Database, clock: Clock, presets: dict[str, Preset]) -> None:
        self.db = db
        self.clock = clock
        self.presets = presets

    async def _jobs(self) -> list[Job]:
        areas = await child_store.child_areas(self.db)
        jobs = []
        for area in areas:
            preset = self.presets.get(area)
            if preset is None:
                continue
            if preset.implements(rule_ids.DAILY_SUMMARY):
                jobs.append(Job("daily", area, rule_ids.DAILY_SUMMARY))
            if preset.implements(rule_ids.WEEKLY_PACK):
                jobs.append(Job("weekly", area, rule_ids.WEEKLY_PACK))
        return jobs

    def _when(self, job: Job) -> tuple[time, str | None]:  # (time, weekday)
        cfg = self.presets[job.area].reports
        if job.kind == "daily":
            return cfg.daily_at, None
        return cfg.weekly_at, cfg.weekly_day

    def _latest(self, job: Job, now: datetime) -> date:
        at, weekday = self._when(job)
        return schedule.latest(now, at, self.presets[job.area].zone, weekday)

    async def next_due(self) -> datetime | None:
        now = self.clock.now()
        times = []
        for job in await self._jobs():
            at, weekday = self._when(job)
            zone = self.presets[job.area].zone
            day = self._latest(job, now)
            if await report_store.has_run(self.db, job.name, day.isoformat()):
                day = schedule.following(day, at, zone, weekday)
            times.append(schedule.occurrence(day, at, zone))
        return min(times) if times else None

    async def run_due(self) -> int:
        now = self.clock.now()
        ran = 0
        for job in await self._jobs():
            day = self._latest(job, now)
            if await report_store.has_run(self.db, job.name, day.isoformat()):
                continue
            try:
                ran += await self._run(job, day, now)
            except Exception:  # noqa: BLE001 - one report failing must not stop the others
                log.exception("report %s for %s failed", job.name, day)
        return ran

    async def _run(self, job: Job, day: date, now: datetime) -> int:
        preset = self.presets[job.area]
        at, _ = self._when(job)
        due = schedule.occurrence(day, at, preset.zone)
        if now - due > STALE:
            # Missed only if it had run before: a fresh database (a scenario, a new console)
            # has nothing missed before its first run.
            first = not await report_store.runs_of(self.db, job.name)
            async with self.db.write() as tx:
                await report_store.claim_run(tx, job.name, day.isoformat(), now)
            if first:
                log.info(
                    "report %s for %s fell due before this database's first run", job.name, day
                )
            else:
                log.warning("report %s for %s skipped: %s late", job.name, day, now - due)
            return 0
        late = (
            f" (due {local_time(due, preset.zone)}; the bot was not running)"
            if (now - due).total_seconds() > 600
            else ""
        )
        recipients = await self._recipients(job)
        # Compose outside the write lock: reads only, and charts take a moment.
        outgoing = []
        for recipient, staff in recipients:
            view = View(self.db.heavy, now, preset.zone, job.area, summaries.scope_of(staff))
            outgoing.append((recipient, *await self._compose(job, view, preset, late)))
        async with self.db.write() as tx:
            if not await report_store.claim_run(tx, job.name, day.isoformat(), now):
                return 0  # another instance, or a sweep that overlapped, has it
            for recipient, text, files in outgoing:
                for filename, mime, data in files:
                    attachment = await report_store.add_attachment(tx, filename, mime, data, now)
                    await outbox_store.enqueue(
                        tx,
                        idem_key=message_keys.report_file(job.name, day, recipient, filename),
                        recipient=recipient,
                        text=filename,
                        rule_id=job.rule,
                        now=now,
                        due_at=due,
                        attachment_id=attachment,
                    )
                await outbox_store.enqueue(
                    tx,
                    idem_key=message_keys.report(job.name, day, recipient),
                    recipient=recipient,
                    text=text,
                    rule_id=job.rule,
                    now=now,
                    due_at=due,
                )
        return 1

    async def _recipients(self, job: Job) -> list[tuple[Recipient, Staff | None]]:
        found: list[tuple[Recipient, Staff | None]] = []
        if await chat_store.chats_of_team(self.db, MANAGERS_TEAM):
            found.append((Recipient.team(MANAGERS_TEAM), None))
        for staff_id in await report_store.subscribers(self.db, job.kind):
            staff = await staff_store.get_staff(self.db, staff_id)
            if staff is not None:
                found.append((Recipient.staff(staff_id), staff))
        return found

    async def _compose(
        self, job: Job, view: View, preset: Preset, late: str
    ) -> tuple[str, list[tuple[str, str, bytes]]]:
        stamp = view.now.astimezone(preset.zone).strftime("%Y-%m-%d")
        if job.kind == "daily":
            text = await summaries.daily(
                view, f"Daily missing summary, {preset.name}{late}", area=preset.name
            )
            return text, []
        pack = await summaries.weekly(
            view, f"Weekly missing pack, {preset.name}{late}", area=preset.name
        )
        chart = await charts.episodes_chart(view, f"Missing episodes, {preset.name}")
        return pack.message, [
            (f"weekly-pack-{preset.name}-{stamp}.md", "text/markdown", pack.markdown.encode()),
            (f"episodes-{preset.name}-{stamp}.png", "image/png", chart),
        ]
