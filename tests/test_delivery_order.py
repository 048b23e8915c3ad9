"""Platform faults at a 20% rate: every message is delivered once the fault clears, in order
within each chat, through the real outbox."""

from __future__ import annotations

import random
from datetime import timedelta

from bot.delivery import OutboxDelivery, RetryLater
from bot.router import Router
from reminders.clock import FakeClock
from storage import chat_store, outbox_store, staff_store
from storage.db import Database
from storage.models import OutboxMessage
from tests.support.clock import local
from tests.support.team import demo_team, seed_team


class FlakyPlatform:
    """Refuses one send in five: 429 with a retry-after, 500 or 502, or a timeout."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.received: list[tuple[str, str]] = []
        self.faults = 0

    async def send(self, message: OutboxMessage) -> None:
        if self.rng.random() < 0.2:
            self.faults += 1
            kind = self.rng.choice(["429", "500", "502", "timeout"])
            if kind == "429":
                raise RetryLater(self.rng.choice([1, 3, 7]))
            if kind == "timeout":
                raise TimeoutError("read timed out")
            raise ConnectionError(f"HTTP {kind}")
        # a held-back message says how late it is; the text before that is what was queued
        self.received.append((message.recipient, message.text.split("\n(late by")[0]))


async def test_faults_at_20_percent_lose_nothing_and_keep_each_chats_order(tmp_path):
    clock = FakeClock(local("2026-11-09 10:00"))
    platform = FlakyPlatform(seed=2026)
    async with Database(tmp_path / "w.db") as db:
        chats = [f"team:home{i}" for i in range(5)] + [f"staff:s{i}" for i in range(5)]
        expected: dict[str, list[str]] = {c: [] for c in chats}
        async with db.write() as tx:
            for n in range(300):
                chat = chats[n % len(chats)]
                text = f"message {n}"
                expected[chat].append(text)
                await outbox_store.enqueue(
                    tx, idem_key=f"k{n}", recipient=chat, text=text, rule_id="ABS-LOG",
                    now=clock.now(),
                )  # fmt: skip
        delivery = OutboxDelivery(db, clock, platform.send)
        for _ in range(400):  # time passes; retries fall due
            await delivery.deliver_due()
            if len(platform.received) == 300:
                break
            clock.advance(timedelta(seconds=5))
    assert platform.faults > 30, "the faults were really injected"
    got: dict[str, list[str]] = {c: [] for c in chats}
    for chat, text in platform.received:
        got[chat].append(text)
    for chat in chats:
        assert got[chat] == expected[chat], chat


class RecordingPlatform:
    """A platform that records what it sent, as Telegram and Slack do, or fails once."""

    def __init__(self, name: str, db: Database, clock: FakeClock, fail_first: bool) -> None:
        self.name, self.db, self.clock = name, db, clock
        self.fail_first = fail_first
        self.sent: list[str] = []

    async def send_direct(self, external_id: str, message: OutboxMessage) -> None:
        if self.fail_first:
            self.fail_first = False
            raise RetryLater(1)
        self.sent.append(message.text)
        async with self.db.write() as tx:
            await chat_store.record_sent(
                tx, outbox_id=message.id, episode_id=None, transport=self.name,
                chat_id=external_id, message_id=str(len(self.sent)), kind="direct",
                now=self.clock.now(),
            )  # fmt: skip

    async def send_team(self, chat_id: str, message: OutboxMessage) -> None:
        await self.send_direct(chat_id, message)

    async def redact(self, message: OutboxMessage) -> None:
        return None


async def test_someone_on_two_platforms_gets_a_retried_message_once_on_each(tmp_path):
    clock = FakeClock(local("2026-11-09 10:00"))
    async with Database(tmp_path / "w.db") as db:
        await seed_team(db, demo_team())
        async with db.write() as tx:
            await staff_store.bind_identity(tx, "telegram", "100", "sam")
            await staff_store.bind_identity(tx, "slack", "U100", "sam")
            await outbox_store.enqueue(
                tx, idem_key="k", recipient="staff:sam", text="hello", rule_id="ABS-LOG",
                now=clock.now(),
            )  # fmt: skip
        telegram = RecordingPlatform("telegram", db, clock, fail_first=False)
        slack = RecordingPlatform("slack", db, clock, fail_first=True)
        delivery = OutboxDelivery(db, clock, Router(db, [telegram, slack]).send)
        await delivery.deliver_due()  # Telegram has it; Slack says 429
        clock.advance(timedelta(seconds=2))
        await delivery.deliver_due()
    assert telegram.sent == ["hello"] and slack.sent == ["hello"]


async def test_the_telegram_stand_in_failing_one_send_in_five_loses_nothing(tmp_path):
    """The same through python-telegram-bot and HTTP: the stand-in answers 429 with a
    retry-after, 500 or 502, or does not answer at all (past the bot's read timeout), at 20%."""
    from tests.support.fake_telegram import FakeTelegram
    from tests.support.telegram_rig import IDS, OAK_GROUP, TelegramRig

    fake = FakeTelegram(
        fault_rate=0.2, fault_kinds=("429", "500", "502", "timeout"), fault_seed=9,
        hang_seconds=1.0,
    )  # fmt: skip
    rig = await TelegramRig.start(
        tmp_path / "w.db", local("2026-10-23 21:10"), fake=fake, chat_period=0.001,
        limiter_retries=0, read_timeout=0.3,
    )  # fmt: skip
    try:
        chats = {"staff:sam": IDS["sam"], "staff:ooh1": IDS["ooh1"], "staff:priya": IDS["priya"],
                 "staff:tom": IDS["tom"], "team:oak": OAK_GROUP}  # fmt: skip
        expected: dict[int, list[str]] = {chat: [] for chat in chats.values()}
        async with rig.db.write() as tx:
            for n in range(100):
                # Telegram lets a bot post 20 a minute in a group: the group gets every tenth
                recipient = "team:oak" if n % 10 == 9 else list(chats)[n % 4]
                expected[chats[recipient]].append(f"message {n}")
                await outbox_store.enqueue(
                    tx, idem_key=f"k{n}", recipient=recipient, text=f"message {n}",
                    rule_id="ABS-LOG", now=rig.clock.now(),
                )  # fmt: skip
        for _ in range(200):  # time passes; retries fall due
            await rig.delivery.deliver_due()
            left = await rig.db.fetchone("SELECT COUNT(*) AS n FROM outbox WHERE state != 'sent'")
            if left["n"] == 0:
                break
            rig.clock.advance(timedelta(seconds=30))
        assert left["n"] == 0, "every message is sent once the faults clear"
        faults = [c for c in fake.sent() if c.message_id is None]
        assert {c.params.get("timed out", False) for c in faults} == {True, False}
        assert len(faults) >= 15
        for chat, texts in expected.items():
            taken = [c.params["text"].split("\n(late by")[0] for c in fake.sent(chat_id=chat)
                     if c.message_id is not None]  # fmt: skip
            assert taken == texts, f"chat {chat}: each once, in the order queued"
    finally:
        await rig.stop()
