"""The real python-telegram-bot Application running Whereabouts against the Bot API stand-in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bot.delivery import OutboxDelivery
from bot.router import Router
from bot.telegram.app import TelegramPlatform
from bot.telegram.sender import PerChatRateLimiter
from handlers.context import Services
from reminders import escalation
from reminders.clock import FakeClock
from storage import chat_store, staff_store
from storage.db import Database
from tests.support.fake_telegram import FakeTelegram
from tests.support.team import seed_team, team_file, weekend_rota

# Telegram user ids of the enrolled test staff (a group chat has a negative id).
IDS = {"sam": 101, "alex": 102, "priya": 103, "tom": 104, "ooh1": 105, "ooh2": 106,
       "oohm": 107, "pc1": 108, "iro1": 109, "admin": 110}  # fmt: skip
OAK_GROUP = -5001


@dataclass
class TelegramRig:
    fake: FakeTelegram
    db: Database
    clock: FakeClock
    svc: Services
    platform: TelegramPlatform
    delivery: OutboxDelivery
    _make_platform: Callable[[], TelegramPlatform] = field(default=None, repr=False)  # type: ignore[assignment]

    @classmethod
    async def start(
        cls,
        path: Path,
        now: datetime,
        *,
        enrol: bool = True,
        register_group: bool = True,
        chat_period: float = 0.02,
        limiter_retries: int = 3,
        guided_timeout: float = 600,
        rota_rows: list[dict] | None = None,
        children: list[dict] | None = None,
        read_timeout: float = 5.0,
        fake: FakeTelegram | None = None,
    ) -> TelegramRig:
        fake = await (fake or FakeTelegram()).start()
        db = await Database(path).open()
        clock = FakeClock(now)
        svc = Services(db=db, clock=clock)
        await seed_team(db, team_file(children=children, rota_rows=rota_rows or weekend_rota()))
        async with db.write() as tx:
            if enrol:
                for staff_id, user_id in IDS.items():
                    await staff_store.bind_identity(tx, "telegram", str(user_id), staff_id)
            if register_group:
                await chat_store.register_team_chat(
                    tx, "telegram", str(OAK_GROUP), "oak", "tom", now
                )

        def make_platform() -> TelegramPlatform:
            return TelegramPlatform(
                svc,
                fake.token,
                base_url=fake.base_url,
                rate_limiter=PerChatRateLimiter(
                    chat_rate=1, chat_period=chat_period, max_retries=limiter_retries
                ),
                guided_timeout=guided_timeout,
                read_timeout=read_timeout,
            )

        platform = make_platform()

        async def unreachable(tx, message, reason):
            await escalation.recipient_unreachable(
                tx, svc.presets, clock.now(), message.idem_key, reason
            )

        delivery = OutboxDelivery(
            db, clock, Router(db, [platform]).send, on_undeliverable=unreachable
        )
        platform.after_command = delivery.deliver_due
        await platform.start()
        rig = cls(fake, db, clock, svc, platform, delivery)
        rig._make_platform = make_platform
        return rig

    async def restart(self) -> None:
        """A new bot process on the same database and Telegram (after a stop or a 'crash')."""
        if self.platform.app.running:
            await self.platform.stop()
        self.platform = self._make_platform()
        self.delivery.send = Router(self.db, [self.platform]).send
        self.platform.after_command = self.delivery.deliver_due
        await self.platform.start()

    async def stop(self) -> None:
        await self.platform.stop()
        await self.fake.stop()
        await self.db.close()

    def says(
        self,
        staff_or_user: str | int,
        text: str,
        chat_id: int | None = None,
        reply_to: dict | None = None,
    ) -> dict:
        user_id = IDS[staff_or_user] if isinstance(staff_or_user, str) else staff_or_user
        return self.fake.user_says(user_id, text, chat_id=chat_id, reply_to=reply_to)

    async def reply_to(self, staff_or_user: str | int, contains: str, chat_id: int | None = None):
        """Wait for a sendMessage to the user (or chat) whose text contains `contains`."""
        target = chat_id or (
            IDS[staff_or_user] if isinstance(staff_or_user, str) else staff_or_user
        )
        return await self.fake.wait_for(
            lambda: next(
                (c for c in self.fake.sent(chat_id=target) if contains in c.params.get("text", "")),
                None,
            )
        )
