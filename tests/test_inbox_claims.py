"""The inbox with several instances on one database: each stored update names the instance
holding it, and replay takes only what no live instance holds (storage/inbox_store.py).

Every instance serves Slack, Teams and the Telegram webhook, so an update one is handling
now must not be replayed by another starting; what a dead one stored and never handled is
taken over by a survivor on its beat, by exactly one. Runs on both engines; on PostgreSQL
the two survivors are two Database objects (two connection pools) on one database. The
fake clock makes an instance dead: its heartbeat left older than HOLDER_DEAD_AFTER.
Also here: Notify's received texts are polled by the `notify-replies` lease's holder only.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from urllib.parse import parse_qsl

import pytest

from bot.delivery import HOLDER_DEAD_AFTER
from bot.instances import NOTIFY_REPLIES, RENEW_EVERY, Instance, Singleton
from bot.notify.platform import NotifyPlatform, Templates
from bot.router import Router
from bot.slack.app import HttpListen, SlackPlatform
from bot.slack.inbox import event_key
from handlers import sms_replies
from storage import inbox_store, instance_store, notify_store
from storage.db import Database
from tests.support.clock import local
from tests.support.harness import events_saying
from tests.support.notify_rig import PHONES, NotifyRig
from tests.support.notify_standin import EMAIL_FILE_TEMPLATE, EMAIL_TEMPLATE, SMS_TEMPLATE
from tests.support.slack_rig import OAK_CHANNEL, SECRET, SlackRig

FRIDAY_NIGHT = local("2026-10-23 21:10")
DEAD = HOLDER_DEAD_AFTER + timedelta(seconds=1)


async def beat(svc, *instances: str) -> None:
    async with svc.db.write() as tx:
        for instance in instances:
            await instance_store.beat(tx, instance, "host", 1, svc.clock.now())


async def keep(svc, update_id: int, holder: str | None, transport: str = "slack") -> None:
    payload = json.dumps({"n": update_id})
    assert await inbox_store.store(svc.db, transport, update_id, payload, svc.clock.now(), holder)


async def claim(svc, holder: str, db: Database | None = None, own: bool = False) -> list[int]:
    taken = await inbox_store.claim_unhandled(
        db or svc.db, "slack", holder, svc.clock.now(), HOLDER_DEAD_AFTER, own=own
    )
    return [p.update_id for p in taken]


async def holders(svc) -> dict[int, str | None]:
    rows = await svc.db.fetchall("SELECT update_id, claimed_by FROM inbox ORDER BY update_id")
    return {r["update_id"]: r["claimed_by"] for r in rows}


async def test_a_live_instances_unhandled_update_is_not_replayed_by_another_starting(svc):
    await beat(svc, "a")
    await keep(svc, 1, "a")  # a stored it and is carrying it out now
    svc.clock.advance(HOLDER_DEAD_AFTER - timedelta(seconds=1))  # a is late, not dead
    await beat(svc, "b")
    assert await claim(svc, "b", own=True) == []  # b starts: it leaves a's alone
    assert [p.update_id for p in await inbox_store.unhandled(svc.db, "slack")] == [1]
    assert await holders(svc) == {1: "a"}


async def test_a_dead_instances_update_is_taken_once_by_exactly_one_of_two_survivors(svc, db_path):
    async with Database(db_path) as other:  # the second survivor's own connections
        taken: list[list[int]] = []
        for round in range(10):
            dead = f"dead-{round}"
            await beat(svc, dead, "b", "c")
            ids = [round * 100 + n for n in range(1, 6)]
            for update_id in ids:
                await keep(svc, update_id, dead)
            svc.clock.advance(DEAD)
            await beat(svc, "b", "c")
            by_b, by_c = await asyncio.gather(claim(svc, "b"), claim(svc, "c", other))
            assert sorted(by_b + by_c) == ids, (by_b, by_c)  # each once: none twice, none lost
            taken.append(by_b + by_c)
            assert await claim(svc, "b") == [] and await claim(svc, "c", other) == []
            marks = await holders(svc)
            assert {marks[i] for i in by_b} <= {"b"} and {marks[i] for i in by_c} <= {"c"}
        assert all(t == sorted(t) for t in taken)  # oldest first


async def test_an_instance_that_never_beat_or_was_forgotten_counts_as_dead(svc):
    await beat(svc, "b")
    await keep(svc, 1, "gone")  # no instances row: it stopped, or was pruned as long dead
    await keep(svc, 2, None)  # stored before updates named their instance
    assert await claim(svc, "b") == [1, 2]
    assert await holders(svc) == {1: "b", 2: "b"}


async def test_this_instances_previous_life_is_replayed_at_start_and_not_on_its_beats(svc):
    await beat(svc, "a")
    await keep(svc, 1, "a")
    # the same instance starts again within seconds (its heartbeat still fresh): at start
    # nothing is in hand yet, so what it held is its previous life's, replayed now
    assert await claim(svc, "a", own=False) == []  # on a beat: in hand, left alone
    assert await claim(svc, "a", own=True) == [1]
    await keep(svc, 2, "a")  # this life's, being handled
    await beat(svc, "b")
    assert await claim(svc, "a", own=False) == [] and await claim(svc, "b", own=True) == []


async def test_handled_updates_are_never_replayed(svc):
    await beat(svc, "a")
    await keep(svc, 1, "a")
    await keep(svc, 2, "a")
    await inbox_store.mark_handled(svc.db, "slack", [1, 2], svc.clock.now())
    await inbox_store.mark_handled(svc.db, "slack", [3], svc.clock.now())  # its row was lost
    svc.clock.advance(DEAD)
    await beat(svc, "b")
    assert await claim(svc, "b", own=True) == []
    assert await claim(svc, "a", own=True) == []


async def test_one_persons_updates_come_back_in_the_order_they_were_sent(svc):
    await beat(svc, "a")
    for update_id in (30, 10, 20):  # Slack's and Teams' ids are hashes: not in order
        await keep(svc, update_id, "a")
        svc.clock.advance(timedelta(seconds=1))  # stored times are to the second
    svc.clock.advance(DEAD)
    taken = await inbox_store.claim_unhandled(
        svc.db, "slack", "b", svc.clock.now(), HOLDER_DEAD_AFTER, by_arrival=True
    )
    assert [p.update_id for p in taken] == [30, 10, 20]
    await keep(svc, 5, "a", transport="telegram")
    await keep(svc, 4, "a", transport="telegram")  # Telegram numbers them in order
    taken = await inbox_store.claim_unhandled(
        svc.db, "telegram", "b", svc.clock.now(), HOLDER_DEAD_AFTER
    )
    assert [p.update_id for p in taken] == [4, 5]


async def test_one_process_on_sqlite_replays_every_earlier_life_at_start(svc):
    # The file's lock is ours (sole_process): every recorded instance is dead, however
    # fresh its heartbeat, and what it left is replayed at once, as before instances.
    await beat(svc, "old")
    await keep(svc, 1, "old")
    restarted = Instance(svc.db, svc.clock, instance_id="new")
    await restarted.start(sole_process=True, loop=False)
    assert await claim(svc, "new", own=True) == [1]


# ---- through a real transport: Slack's inbox, on the survivor's beat ------------------


@pytest.fixture
async def rig(tmp_path):
    r = await SlackRig.start(tmp_path / "w.db", FRIDAY_NIGHT)
    yield r
    await r.stop()


async def serving(rig: SlackRig, instance: Instance) -> SlackPlatform:
    """The rig's Slack served by `instance`: its requests name it, its beat adopts."""
    await rig.platform.stop()
    platform = SlackPlatform(
        rig.svc, rig.fake.token, signing_secret=SECRET, base_url=rig.fake.base_url,
        channel_period=0.0, holder=instance.id,
    )  # fmt: skip
    platform.sender.patience = (0.0, 0.0)
    await platform.start(http=HttpListen("127.0.0.1", 0))
    platform.after_command = rig.delivery.deliver_due
    rig.delivery.send = Router(rig.db, [platform]).send
    rig.platform = platform
    instance.adopters.append(platform.adopt)
    return platform


async def test_a_command_a_dead_instance_stored_is_carried_out_by_the_survivor_on_its_beat(rig):
    survivor = Instance(rig.db, rig.clock, instance_id="survivor")
    await survivor.start(loop=False)
    await serving(rig, survivor)
    # another instance stored a command and acknowledged it (Slack never sends it again) ...
    await beat(rig.svc, "other")
    last_heard = rig.clock.now()
    body = dict(
        parse_qsl(rig.command_body("sam", "/absent Jay 21:05 left after a row", OAK_CHANNEL))
    )
    key = event_key(body)
    stored = json.dumps({"command": body})
    assert await inbox_store.store(rig.db, "slack", key, stored, rig.clock.now(), "other")
    await survivor.tick()  # ... and is alive, carrying it out: left alone
    await rig.platform.settle()
    assert await holders(rig.svc) == {key: "other"}
    assert await events_saying(rig.db, "C-0042", "left after a row") == []

    # it died before handling it: the survivor's first beat after it counts as dead takes it
    while rig.clock.now() - last_heard <= HOLDER_DEAD_AFTER:
        rig.clock.advance(RENEW_EVERY)
        await survivor.tick()
    await rig.reply_to(OAK_CHANNEL, "Recorded: C-0042 Jay absent")
    await rig.platform.settle()
    assert len(await events_saying(rig.db, "C-0042", "left after a row")) == 1
    assert await inbox_store.unhandled(rig.db, "slack") == []
    for _ in range(3):  # and never again
        rig.clock.advance(RENEW_EVERY)
        await survivor.tick()
    await rig.platform.settle()
    assert len(await events_saying(rig.db, "C-0042", "left after a row")) == 1


# ---- Notify's received texts: one poller, the lease's holder --------------------------


@pytest.fixture
async def notify_rig(tmp_path):
    rig = await NotifyRig.open(tmp_path / "w.db", FRIDAY_NIGHT)
    yield rig
    await rig.close()


def notify_platform(rig: NotifyRig, polls: dict[str, int], who: str) -> NotifyPlatform:
    """A Notify platform of its own per instance, counting its received-texts calls."""
    platform = NotifyPlatform(
        rig.harness.db,
        rig.harness.clock,
        rig.notify.api_key,
        Templates(SMS_TEMPLATE, EMAIL_TEMPLATE, EMAIL_FILE_TEMPLATE),
        base_url=rig.notify.base_url,
        on_text=lambda text: sms_replies.handle(rig.harness.svc, text),
        poll_seconds=3600.0,  # one poll on gaining the lease, then none during the test
    )
    real = platform.client.get_received_texts

    def counted(*args: object) -> object:
        polls[who] += 1
        return real(*args)

    platform.client.get_received_texts = counted  # type: ignore[method-assign]
    return platform


async def until(predicate, what: str) -> None:
    for _ in range(500):
        if await predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never: {what}")


async def test_only_the_lease_holder_polls_notify_and_the_other_takes_over_at_its_death(
    notify_rig,
):
    rig, db, clock = notify_rig, notify_rig.harness.db, notify_rig.harness.clock
    polls = {"a": 0, "b": 0}
    pa, pb = notify_platform(rig, polls, "a"), notify_platform(rig, polls, "b")
    a = Instance(db, clock, instance_id="a", singletons=[Singleton(NOTIFY_REPLIES, pa.start, pa.stop)])  # fmt: skip
    b = Instance(db, clock, instance_id="b", singletons=[Singleton(NOTIFY_REPLIES, pb.start, pb.stop)])  # fmt: skip
    first = rig.notify.receive_text(PHONES["ooh1"], "hello", clock.now())
    await a.start(loop=False)
    await b.start(loop=False)
    try:
        await until(lambda: notify_store.was_received(db, first), "a polled")
        for _ in range(5):  # a renews; b stands by and never polls
            clock.advance(RENEW_EVERY)
            await a.tick()
            await b.tick()
        assert a.holds(NOTIFY_REPLIES) and pa.polling
        assert not b.holds(NOTIFY_REPLIES) and not pb.polling
        assert polls["a"] > 0 and polls["b"] == 0
        by_a = polls["a"]

        await pa.stop()  # a dies: its poller with it, and its beats stop
        second = rig.notify.receive_text(PHONES["ooh1"], "hello again", clock.now())
        while not b.holds(NOTIFY_REPLIES):
            clock.advance(RENEW_EVERY)
            await b.tick()
        await until(lambda: notify_store.was_received(db, second), "b polled")
        assert pb.polling and polls["a"] == by_a and polls["b"] > 0
    finally:
        await b.stop()
        await pa.stop()
        await pb.stop()
