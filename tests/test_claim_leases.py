"""Outbox claims with a lease: recovery gives back only dead claims, never a live instance's.

The review that found it: two processes on one database, 6 of 300 messages sent twice,
because the second one's recovery at start released the first one's messages in flight.
Two deliveries on one database here, each vouched for by its instance's heartbeat.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.delivery import CLAIM_LEASE, HOLDER_DEAD_AFTER, OutboxDelivery
from storage import instance_store, outbox_store
from storage.models import OutboxState


async def queue(svc, key: str, text: str = "hello", to: str = "staff:sam") -> None:
    async with svc.db.write() as tx:
        await outbox_store.enqueue(
            tx, idem_key=key, recipient=to, text=text, rule_id="ABS-SW", now=svc.clock.now()
        )


async def beat(svc, instance: str) -> None:
    async with svc.db.write() as tx:
        await instance_store.beat(tx, instance, "host", 1, svc.clock.now())


class Stuck:
    """A send that waits until released: a message in flight."""

    def __init__(self) -> None:
        self.arrived = asyncio.Event()
        self.go = asyncio.Event()
        self.sent: list[str] = []

    async def send(self, message) -> None:
        self.arrived.set()
        await self.go.wait()
        self.sent.append(message.idem_key)


async def state_of(svc, key: str) -> OutboxState:
    [row] = [m for m in await outbox_store.outbox_messages(svc.db) if m.idem_key == key]
    return row.state


async def test_a_second_instance_starting_leaves_the_first_ones_messages_in_flight(svc):
    await queue(svc, "k1")
    await beat(svc, "a")
    await beat(svc, "b")
    first = Stuck()
    a = OutboxDelivery(svc.db, svc.clock, first.send, holder="a")
    passing = asyncio.create_task(a.deliver_due())
    await first.arrived.wait()  # a is sending k1 now

    second: list[str] = []

    async def send_b(message) -> None:
        second.append(message.idem_key)

    b = OutboxDelivery(svc.db, svc.clock, send_b, holder="b")
    assert await b.recover() == 0  # b's start-up recovery: a's claim is live
    assert await b.deliver_due() == 0
    assert await state_of(svc, "k1") == OutboxState.SENDING

    first.go.set()
    assert await passing == 1
    assert first.sent == ["k1"] and second == []  # once, by a
    assert await state_of(svc, "k1") == OutboxState.SENT


async def test_a_dead_instances_claim_is_given_back_and_sent_by_the_survivor(svc):
    await queue(svc, "k1")
    await beat(svc, "a")
    dying = Stuck()
    a = OutboxDelivery(svc.db, svc.clock, dying.send, holder="a")
    passing = asyncio.create_task(a.deliver_due())
    await dying.arrived.wait()
    passing.cancel()  # a dies mid-send: the row stays 'sending', claimed by a
    await asyncio.gather(passing, return_exceptions=True)
    assert await state_of(svc, "k1") == OutboxState.SENDING

    got: list[str] = []

    async def send_b(message) -> None:
        got.append(message.idem_key)

    b = OutboxDelivery(svc.db, svc.clock, send_b, holder="b")
    svc.clock.advance(HOLDER_DEAD_AFTER - timedelta(seconds=1))
    await beat(svc, "b")
    assert await b.recover() == 0  # a's heartbeat is not stale yet: maybe only slow
    svc.clock.advance(timedelta(seconds=2))
    await beat(svc, "b")
    assert await b.recover() == 1  # a has missed its heartbeats: dead
    assert await b.deliver_due() == 1
    assert got == ["k1"]
    assert await state_of(svc, "k1") == OutboxState.SENT


async def test_a_claim_no_beat_renews_is_given_back_when_its_lease_runs_out(svc):
    await queue(svc, "k1")
    await beat(svc, "a")
    stuck = Stuck()
    a = OutboxDelivery(svc.db, svc.clock, stuck.send, holder="a")
    passing = asyncio.create_task(a.deliver_due())
    await stuck.arrived.wait()
    b = OutboxDelivery(svc.db, svc.clock, stuck.send, holder="b")
    svc.clock.advance(CLAIM_LEASE - timedelta(seconds=1))
    await beat(svc, "a")  # a's heartbeat row is fresh, but nothing renews its claim
    assert await b.recover() == 0
    svc.clock.advance(timedelta(seconds=2))
    await beat(svc, "a")
    assert await b.recover() == 1
    assert await state_of(svc, "k1") == OutboxState.PENDING
    passing.cancel()
    await asyncio.gather(passing, return_exceptions=True)


async def test_a_slow_pass_keeps_its_claims_while_its_instance_beats(svc):
    from bot.instances import Instance

    for i in range(4):
        await queue(svc, f"k{i}", to=f"staff:p{i}")
    await beat(svc, "b")
    b = OutboxDelivery(svc.db, svc.clock, lambda m: asyncio.sleep(0), holder="b")
    sent: list[str] = []
    released: list[int] = []

    async def slow(message) -> None:  # each send takes a minute of the (fake) clock
        svc.clock.advance(timedelta(minutes=1))
        await a.tick()  # a's beat renews what it is sending
        released.append(await b.recover())  # b looks while a is still sending
        sent.append(message.idem_key)

    delivery = OutboxDelivery(svc.db, svc.clock, slow)
    a = Instance(svc.db, svc.clock, delivery=delivery, instance_id="a")
    await a.start(loop=False)
    assert await delivery.deliver_due() == 4  # 4 minutes, twice the claim lease
    assert sent == ["k0", "k1", "k2", "k3"] and released == [0, 0, 0, 0]


async def test_a_restart_gives_back_what_its_own_crash_left_at_once(svc):
    # One process on SQLite: its previous life is dead (the file's lock says so), so at start
    # every recorded instance is forgotten and what they left is sent again without waiting.
    await queue(svc, "k1")
    await beat(svc, "old")
    crashed = Stuck()
    old = OutboxDelivery(svc.db, svc.clock, crashed.send, holder="old")
    passing = asyncio.create_task(old.deliver_due())
    await crashed.arrived.wait()
    passing.cancel()
    await asyncio.gather(passing, return_exceptions=True)

    async with svc.db.write() as tx:
        assert await instance_store.forget_all(tx) == 1
    await beat(svc, "new")
    got: list[str] = []

    async def send(message) -> None:
        got.append(message.idem_key)

    new = OutboxDelivery(svc.db, svc.clock, send, holder="new")
    assert await new.recover() == 1
    assert await new.deliver_due() == 1 and got == ["k1"]


async def test_a_recovery_that_finds_nothing_commits_nothing(svc):
    await beat(svc, "a")
    delivery = OutboxDelivery(svc.db, svc.clock, lambda m: asyncio.sleep(0), holder="a")
    commits = svc.db.commits
    assert await delivery.recover() == 0
    assert svc.db.commits == commits


async def test_every_beat_gives_back_what_a_dead_instance_left_mid_send(svc):
    from bot.instances import RENEW_EVERY, Instance

    await queue(svc, "k1")
    await beat(svc, "dead")
    dying = Stuck()
    passing = asyncio.create_task(
        OutboxDelivery(svc.db, svc.clock, dying.send, holder="dead").deliver_due()
    )
    await dying.arrived.wait()
    passing.cancel()
    await asyncio.gather(passing, return_exceptions=True)

    survivor = Instance(svc.db, svc.clock, delivery=OutboxDelivery(svc.db, svc.clock, dying.send))
    await survivor.start(loop=False)
    assert await state_of(svc, "k1") == OutboxState.SENDING  # "dead" beat a moment ago
    while (
        svc.clock.now() - (await instance_store.instances(svc.db))[0].heartbeat_at
        <= HOLDER_DEAD_AFTER
    ):
        svc.clock.advance(RENEW_EVERY)
        await survivor.tick()
    assert await state_of(svc, "k1") == OutboxState.PENDING  # given back on that beat
