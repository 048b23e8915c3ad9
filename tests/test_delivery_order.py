"""Platform faults at a 20% rate: every message is delivered once the fault clears, in order
within each chat, through the real outbox."""

from __future__ import annotations

import random
from datetime import timedelta

from bot.delivery import OutboxDelivery, RetryLater
from reminders.clock import FakeClock
from storage import repo
from storage.db import Database
from storage.models import OutboxMessage
from tests.conftest import local


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
                await repo.enqueue(
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
