"""The harness (real SQLite, fake clock, the sweeper) with the outbox routed as the live bot
routes it: chat by a recording platform, SMS and e-mail through the real Notify client to
the Notify stand-in on 127.0.0.1."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot import app
from bot.delivery import OutboxDelivery
from bot.notify.platform import NotifyPlatform, Templates
from bot.router import Router
from config.addresses import normalise_phone
from handlers import sms_replies
from handlers.report_jobs import ReportJobs
from reminders.follow_ups import FollowUpJobs
from reminders.sweeper import Sweeper
from storage import staff_store
from storage.db import Tx
from storage.models import OutboxMessage
from tests.support.harness import Harness
from tests.support.notify_standin import (
    EMAIL_FILE_TEMPLATE,
    EMAIL_TEMPLATE,
    SMS_TEMPLATE,
    NotifyStandIn,
)
from tests.support.team import STAFF, weekend_rota

# Team-file numbers and addresses (an admin's import: verified).
PHONES = {"ooh1": "07700 900105", "ooh2": "07700 900106", "oohm": "07700 900107",
          "pc1": "07700 900108", "tom": "07700 900104"}  # fmt: skip
EMAILS = {"ooh1": "olu@example.org", "oohm": "morgan@example.org", "tom": "tom@example.org"}


class ChatRecorder:
    """A chat platform that records what it is given (every staff member is enrolled on it)."""

    name = "telegram"

    def __init__(self, harness: Harness) -> None:
        self.harness = harness

    async def send_direct(self, external_id: str, message: OutboxMessage) -> None:
        await self.harness._record(message)

    async def send_team(self, chat_id: str, message: OutboxMessage) -> None:
        await self.harness._record(message)

    async def redact(self, message: OutboxMessage) -> None:
        return None


@dataclass
class NotifyRig:
    harness: Harness
    notify: NotifyStandIn
    platform: NotifyPlatform

    @classmethod
    async def open(
        cls,
        path: Path,
        start: datetime,
        *,
        staff: list[dict[str, Any]] | None = None,
        children: list[dict[str, Any]] | None = None,
        phones: dict[str, str] | None = None,
        emails: dict[str, str] | None = None,
    ) -> NotifyRig:
        phones = PHONES if phones is None else phones
        emails = EMAILS if emails is None else emails
        cast = [
            s
            | ({"phone": phones[s["id"]]} if s["id"] in phones else {})
            | ({"email": emails[s["id"]]} if s["id"] in emails else {})
            for s in (staff or STAFF)
        ]
        harness = await Harness.open(
            path, start, staff=cast, children=children, rota_rows=weekend_rota()
        )
        async with harness.db.write() as tx:
            for person in cast:
                await staff_store.bind_identity(tx, "telegram", f"tg-{person['id']}", person["id"])
        notify = await NotifyStandIn().start()
        platform = NotifyPlatform(
            harness.db,
            harness.clock,
            notify.api_key,
            Templates(SMS_TEMPLATE, EMAIL_TEMPLATE, EMAIL_FILE_TEMPLATE),
            base_url=notify.base_url,
            on_text=lambda text: sms_replies.handle(harness.svc, text),
        )
        platform.after_text = lambda: harness.delivery.deliver_due()
        rig = cls(harness, notify, platform)
        harness.sweeper = Sweeper(
            harness.db,
            harness.clock,
            harness.svc.presets,
            jobs=[
                ReportJobs(harness.db, harness.clock, harness.svc.presets),
                FollowUpJobs(harness.db, harness.clock, harness.svc.presets),
            ],
        )
        router = Router(harness.db, [ChatRecorder(harness)], platform)  # type: ignore[list-item]
        harness.delivery = OutboxDelivery(
            harness.db, harness.clock, router.send, on_undeliverable=rig.undeliverable
        )
        return rig

    async def undeliverable(self, tx: Tx, message: OutboxMessage, reason: str) -> None:
        await app.undeliverable(self.harness.svc, tx, message, reason)

    def texts_to(self, staff_id: str) -> list[str]:
        return self.notify.texts_to(normalise_phone(PHONES[staff_id]))

    async def text_back(self, staff_id: str, content: str) -> str:
        """The person replies by text from their team-file mobile; the next poll reads it."""
        text_id = self.notify.receive_text(PHONES[staff_id], content, self.harness.clock.now())
        await self.platform.poll_once()
        await self.harness.sweeper.sweep()
        await self.harness.delivery.deliver_due()
        return text_id

    async def close(self) -> None:
        await self.notify.stop()
        await self.harness.close()
