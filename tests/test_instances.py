"""Two instances on one database: heartbeats, singletons held by lease, takeover when one dies.

Both instances share one Database here (the SQLite lock refuses a second process, by design);
each has its own id, heartbeat and leases, which is all that tells instances apart. The fake
clock moves; a dead instance is one whose beats stop.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.instances import (
    LEASE,
    RENEW_EVERY,
    REPORTS,
    ROTA_GAPS,
    TELEGRAM_POLLING,
    Instance,
    LeasedJobs,
    Singleton,
)
from storage import instance_store, outbox_store
from storage.models import OutboxMessage


class Hooks:
    def __init__(self) -> None:
        self.events: list[str] = []

    def singletons(self, who: str) -> list[Singleton]:
        def hook(what: str):
            async def run() -> None:
                self.events.append(f"{who} {what}")

            return run

        return [
            Singleton(TELEGRAM_POLLING, hook("polls"), hook("stops polling")),
            Singleton(REPORTS),
            Singleton(ROTA_GAPS),
        ]


async def pair(svc, hooks: Hooks) -> tuple[Instance, Instance]:
    a = Instance(svc.db, svc.clock, singletons=hooks.singletons("a"), instance_id="host-a/1/aa")
    b = Instance(svc.db, svc.clock, singletons=hooks.singletons("b"), instance_id="host-b/2/bb")
    await a.start(loop=False)
    await b.start(loop=False)
    return a, b


async def takeover_messages(svc) -> list[OutboxMessage]:
    return [m for m in await outbox_store.outbox_messages(svc.db) if "took over" in m.text]


async def test_the_first_instance_holds_every_singleton_and_the_second_stands_by(svc):
    hooks = Hooks()
    a, b = await pair(svc, hooks)
    assert all(a.holds(n) for n in (TELEGRAM_POLLING, REPORTS, ROTA_GAPS))
    assert not any(b.holds(n) for n in (TELEGRAM_POLLING, REPORTS, ROTA_GAPS))
    for _ in range(10):  # a renews on every beat: b never gets a look in
        svc.clock.advance(RENEW_EVERY)
        await a.tick()
        await b.tick()
    assert a.holds(TELEGRAM_POLLING) and not b.holds(TELEGRAM_POLLING)
    assert hooks.events == ["a polls"]  # one poller, ever
    beats = {i.id: i.heartbeat_at for i in await instance_store.instances(svc.db)}
    assert beats == {a.id: svc.clock.now(), b.id: svc.clock.now()}


async def test_a_standby_takes_over_within_seconds_of_the_holders_death_and_tells_the_admins(svc):
    hooks = Hooks()
    a, b = await pair(svc, hooks)
    died = svc.clock.now()  # a's last beat: it is SIGKILLed now
    while not b.holds(TELEGRAM_POLLING):
        svc.clock.advance(RENEW_EVERY)
        await b.tick()
    took = svc.clock.now() - died
    assert took <= LEASE + RENEW_EVERY <= timedelta(seconds=10)
    assert all(b.holds(n) for n in (TELEGRAM_POLLING, REPORTS, ROTA_GAPS))
    assert hooks.events == ["a polls", "b polls"]

    told = await takeover_messages(svc)
    assert [m.recipient for m in told] == ["staff:admin"]  # one message, to the admins
    text = told[0].text
    assert a.id in text and b.id in text
    assert "Telegram long polling, the daily and weekly reports and the rota gap forecast" in text
    assert "Told: the admins" in text

    for _ in range(5):  # b goes on holding; nothing more is said
        svc.clock.advance(RENEW_EVERY)
        await b.tick()
    assert len(await takeover_messages(svc)) == 1


async def test_a_holder_back_from_a_stall_finds_its_singletons_taken_and_stops(svc):
    hooks = Hooks()
    a, b = await pair(svc, hooks)
    svc.clock.advance(LEASE + RENEW_EVERY)  # a stalls past its lease
    await b.tick()
    assert b.holds(TELEGRAM_POLLING)
    await a.tick()  # a wakes: its renewal fails
    assert not a.holds(TELEGRAM_POLLING) and not a.holds(REPORTS)
    assert hooks.events == ["a polls", "b polls", "a stops polling"]


async def test_a_clean_stop_hands_over_at_the_next_beat_and_tells_nobody(svc):
    hooks = Hooks()
    a, b = await pair(svc, hooks)
    await a.stop()
    assert hooks.events == ["a polls", "a stops polling"]
    await b.tick()  # no waiting for the lease to expire
    assert b.holds(TELEGRAM_POLLING)
    assert await takeover_messages(svc) == []
    assert [i.id for i in await instance_store.instances(svc.db)] == [b.id]


async def test_a_restart_on_the_locked_sqlite_file_takes_its_singletons_at_once(svc):
    hooks = Hooks()
    old = Instance(svc.db, svc.clock, singletons=hooks.singletons("old"), instance_id="h/1/old")
    await old.start(loop=False)  # then SIGKILL: no stop
    svc.clock.advance(timedelta(seconds=1))
    new = Instance(svc.db, svc.clock, singletons=hooks.singletons("new"), instance_id="h/1/new")
    await new.start(sole_process=True, loop=False)  # the file's lock is ours: old is dead
    assert new.holds(TELEGRAM_POLLING)
    assert [i.id for i in await instance_store.instances(svc.db)] == [new.id]
    assert await takeover_messages(svc) == []  # a restart, not a standby taking over


@pytest.mark.parametrize("offset", [0.0, 0.5, 1.0, 1.5, 1.99])
async def test_takeover_comes_within_the_lease_and_one_beat_whenever_the_holder_dies(svc, offset):
    hooks = Hooks()
    a, b = await pair(svc, hooks)
    # b beats `offset` seconds after a; a dies just after one of its beats
    svc.clock.advance(timedelta(seconds=offset))
    await b.tick()
    svc.clock.advance(RENEW_EVERY - timedelta(seconds=offset))
    await a.tick()
    died = svc.clock.now()
    svc.clock.advance(timedelta(seconds=offset))
    while not b.holds(REPORTS):
        await b.tick()
        if b.holds(REPORTS):
            break
        svc.clock.advance(RENEW_EVERY)
    assert svc.clock.now() - died <= LEASE + RENEW_EVERY


class CountingJobs:
    def __init__(self) -> None:
        self.runs = 0

    async def next_due(self):
        return None

    async def run_due(self) -> int:
        self.runs += 1
        return 1


async def test_the_reports_run_only_where_their_lease_is_held(svc):
    hooks = Hooks()
    a, b = await pair(svc, hooks)
    on_a, on_b = CountingJobs(), CountingJobs()
    assert await LeasedJobs(on_a, a, REPORTS).run_due() == 1
    assert await LeasedJobs(on_b, b, REPORTS).run_due() == 0
    assert (on_a.runs, on_b.runs) == (1, 0)


async def test_the_lease_is_one_holders_however_the_two_race(svc):
    # Both try the same expired lease in one moment: the conditional upsert lets one in.
    now = svc.clock.now()
    async with svc.db.write() as tx:
        await instance_store.hold(tx, "x", "dead", now - LEASE * 2, now - LEASE)
    async with svc.db.write() as tx:
        first, _ = await instance_store.hold(tx, "x", "a", now, now + LEASE)
        second, before = await instance_store.hold(tx, "x", "b", now, now + LEASE)
    assert (first, second) == (True, False)
    assert before is not None and before.holder == "a"


async def test_each_beat_has_the_scheduler_look_again_for_timers_other_instances_made(svc):
    # A climb started by a command on another instance is in the database only; if that
    # instance dies, this one must fire it on time, not at its next 30 s safety net.
    looked: list[str] = []

    async def wake() -> None:
        looked.append("wake")

    a = Instance(svc.db, svc.clock, singletons=Hooks().singletons("a"), instance_id="a")
    a.on_beat = wake
    await a.start(loop=False)
    svc.clock.advance(RENEW_EVERY)
    await a.tick()
    assert looked == ["wake", "wake"]


async def test_telegram_polling_moves_to_the_standby_which_replays_what_was_left(svc):
    import json

    from bot.telegram.app import TelegramPlatform
    from storage import inbox_store
    from tests.support.fake_telegram import FakeTelegram

    fake = await FakeTelegram().start()
    platforms = {
        who: TelegramPlatform(svc, fake.token, base_url=fake.base_url) for who in ("a", "b")
    }
    instances = {}
    try:
        for who, platform in platforms.items():
            await platform.start(poll=False)  # sends at once; polls only holding the lease
            polling = Singleton(TELEGRAM_POLLING, platform.start_polling, platform.stop_polling)
            instances[who] = Instance(svc.db, svc.clock, singletons=[polling], instance_id=who)
            await instances[who].start(loop=False)
        assert platforms["a"].polling and not platforms["b"].polling

        await platforms["a"].stop_polling()  # a dies: no more getUpdates, its lease stays
        # an update a had stored but not handled when it died
        update = {"update_id": 90001, "message": {"message_id": 1, "date": 0, "text": "/status",
                  "chat": {"id": 4242, "type": "private", "first_name": "U"},
                  "from": {"id": 4242, "is_bot": False, "first_name": "U"},
                  "entities": [{"type": "bot_command", "offset": 0, "length": 7}]}}  # fmt: skip
        await inbox_store.store(svc.db, "telegram", 90001, json.dumps(update), svc.clock.now())
        fake.user_says(4343, "/status")  # sent meanwhile: Telegram keeps it for the next poller

        svc.clock.advance(LEASE + RENEW_EVERY)
        await instances["b"].tick()
        assert platforms["b"].polling
        await fake.wait_for(lambda: fake.sent(chat_id=4242) and fake.sent(chat_id=4343))
        assert "not enrolled" in fake.sent(chat_id=4242)[0].params["text"]
    finally:
        for platform in platforms.values():
            await platform.stop()
        await fake.stop()
