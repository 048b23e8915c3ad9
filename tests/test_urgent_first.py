"""Urgent first: the outbox sends urgent alerts ahead of routine messages, keeps each
recipient's order within an urgency, and an alert queued during a pass goes into the next
free lane instead of waiting behind a claimed batch of routine messages."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

from bot import merging
from bot.delivery import OutboxDelivery
from handlers.dispatch import Dispatcher
from storage import outbox_store, staff_store
from storage.models import MessageUrgency, OutboxMessage, OutboxState
from storage.snapshot import ClimbContext
from tests.support.clock import local
from tests.support.harness import Harness
from tests.support.team import weekend_rota

URGENT, ROUTINE = MessageUrgency.URGENT, MessageUrgency.ROUTINE


async def queue(svc, key: str, to: str, urgency=ROUTINE, episode_id=None, **extra) -> None:
    async with svc.db.write() as tx:
        await outbox_store.enqueue(
            tx, idem_key=key, recipient=to, text=key, rule_id="ABS-LOG", now=svc.clock.now(),
            urgency=urgency, episode_id=episode_id, **extra,
        )  # fmt: skip


def recorder(got: list[str], fail: set[str] | None = None):
    async def send(message: OutboxMessage) -> None:
        if fail is not None and message.idem_key in fail:
            fail.discard(message.idem_key)
            raise ConnectionError("platform down")
        got.append(message.idem_key)

    return send


async def test_urgent_alerts_go_before_a_routine_backlog(svc):
    for n in range(30):
        await queue(svc, f"summary{n}", f"staff:s{n % 5}")
    await queue(svc, "alert-a", "staff:s3", URGENT)
    await queue(svc, "alert-b", "staff:s9", URGENT)
    got: list[str] = []
    await OutboxDelivery(svc.db, svc.clock, recorder(got), batch=4).deliver_due()
    assert got[:2] == ["alert-a", "alert-b"]
    assert sorted(got[2:]) == sorted(f"summary{n}" for n in range(30))


async def test_per_recipient_order_within_an_urgency_and_urgent_may_overtake_routine(svc):
    await queue(svc, "r1", "staff:sam")
    await queue(svc, "u1", "staff:sam", URGENT)
    await queue(svc, "r2", "staff:sam")
    await queue(svc, "u2", "staff:sam", URGENT)
    got: list[str] = []
    await OutboxDelivery(svc.db, svc.clock, recorder(got)).deliver_due()
    assert got == ["u1", "u2", "r1", "r2"]


async def test_a_failed_urgent_message_holds_the_urgent_and_routine_ones_after_it(svc):
    await queue(svc, "u1", "staff:sam", URGENT)
    await queue(svc, "u2", "staff:sam", URGENT)
    await queue(svc, "r1", "staff:sam")
    await queue(svc, "other", "staff:priya")
    got: list[str] = []
    delivery = OutboxDelivery(svc.db, svc.clock, recorder(got, fail={"u1"}))
    await delivery.deliver_due()
    assert got == ["other"], "sam's queue waits behind the failed urgent alert"
    svc.clock.advance(timedelta(seconds=2))
    await delivery.deliver_due()
    assert got == ["other", "u1", "u2", "r1"]


async def test_a_failed_routine_message_does_not_hold_an_urgent_alert(svc):
    await queue(svc, "r1", "staff:sam")
    await queue(svc, "r2", "staff:sam")
    got: list[str] = []
    delivery = OutboxDelivery(svc.db, svc.clock, recorder(got, fail={"r1"}))
    await delivery.deliver_due()
    assert got == []
    await queue(svc, "u1", "staff:sam", URGENT)
    await delivery.deliver_due()
    assert got == ["u1"], "the alert overtakes the routine message waiting to retry"
    svc.clock.advance(timedelta(seconds=2))
    await delivery.deliver_due()
    assert got == ["u1", "r1", "r2"], "the routine ones keep their order"


async def test_the_clearing_still_waits_for_an_urgent_message_about_the_episode(svc, chat):
    await chat.say("sam", "/absent Jay 21:05 left after a row")
    await OutboxDelivery(svc.db, svc.clock, recorder([])).deliver_due()  # the report's own
    async with svc.db.write() as tx:
        await outbox_store.enqueue(tx, idem_key="profile", recipient="staff:pc1", text="profile",
                           rule_id="ABS-POLICE", now=svc.clock.now(), episode_id=1,
                           urgency=URGENT)  # fmt: skip
        await outbox_store.enqueue(tx, idem_key="clear", recipient="redact", text="closed",
                           rule_id="RET-FINAL", now=svc.clock.now(), episode_id=1)  # fmt: skip
    got: list[str] = []
    delivery = OutboxDelivery(svc.db, svc.clock, recorder(got, fail={"profile"}))
    await delivery.deliver_due()
    assert got == [], "cleared while the urgent profile still waited to retry"
    svc.clock.advance(timedelta(seconds=2))
    await delivery.deliver_due()
    assert got == ["profile", "clear"]


async def test_an_alert_queued_during_a_pass_takes_the_next_free_lane(svc):
    """Routine sends are held at the platform's pace (here: until the test lets each go);
    an urgent alert queued meanwhile goes next, ahead of the routine messages not yet sent."""
    for n in range(12):
        await queue(svc, f"summary{n}", f"staff:s{n}")
    started: list[str] = []
    gates: dict[str, asyncio.Event] = {}
    progress = asyncio.Event()

    async def paced(message: OutboxMessage) -> None:
        started.append(message.idem_key)
        progress.set()
        if message.idem_key.startswith("summary"):
            await gates.setdefault(message.idem_key, asyncio.Event()).wait()

    delivery = OutboxDelivery(svc.db, svc.clock, paced, batch=3)
    pass_ = asyncio.create_task(delivery.deliver_due())
    while len(started) < 3:
        progress.clear()
        await asyncio.wait_for(progress.wait(), 5)
    assert started == ["summary0", "summary1", "summary2"], "three lanes in flight"
    await queue(svc, "alert", "staff:s7", URGENT)
    kick = asyncio.create_task(delivery.deliver_due())  # a command's kick: waits its turn
    gates.setdefault("summary0", asyncio.Event()).set()  # one lane frees
    while "alert" not in started:
        progress.clear()
        await asyncio.wait_for(progress.wait(), 5)
    assert started[:4] == ["summary0", "summary1", "summary2", "alert"]
    for n in range(12):
        gates.setdefault(f"summary{n}", asyncio.Event()).set()
    assert await asyncio.wait_for(pass_, 5) == 13
    await asyncio.wait_for(kick, 5)
    assert sorted(started) == sorted(["alert", *(f"summary{n}" for n in range(12))])


async def test_an_alert_queued_while_lanes_wait_is_claimed_without_waiting_for_them(svc):
    """Lanes free but all busy recipients: a new urgent alert is claimed at once (the pass
    is told to look again), not when one of the slow sends finishes."""
    await queue(svc, "slow", "staff:s1")
    started: list[str] = []
    gate = asyncio.Event()
    progress = asyncio.Event()

    async def paced(message: OutboxMessage) -> None:
        started.append(message.idem_key)
        progress.set()
        if message.idem_key == "slow":
            await gate.wait()

    delivery = OutboxDelivery(svc.db, svc.clock, paced, batch=4)
    pass_ = asyncio.create_task(delivery.deliver_due())
    while not started:
        progress.clear()
        await asyncio.wait_for(progress.wait(), 5)
    await queue(svc, "alert", "staff:s2", URGENT)
    # as the heartbeat after a sweep fired it: at once, not after the slow send (a sweep is
    # never held up behind a backlog the pass is draining)
    delivery.kick()
    while "alert" not in started:
        progress.clear()
        await asyncio.wait_for(progress.wait(), 5)
    assert started == ["slow", "alert"] and not gate.is_set()
    gate.set()
    assert await asyncio.wait_for(pass_, 5) == 2


def _message(id: int, urgency: MessageUrgency, after_s: int = 0) -> OutboxMessage:
    start = local("2026-10-23 21:10")
    return OutboxMessage(
        id=id, idem_key=f"k{id}", recipient="staff:ooh1", rule_id="ABS-OOH", text=f"text {id}",
        buttons=(), episode_id=1, child_id=1, created_at=start + timedelta(seconds=after_s),
        due_at=start, attempts=1, state=OutboxState.SENDING, urgency=urgency,
    )  # fmt: skip


def test_a_merged_message_keeps_the_highest_urgency():
    group = [_message(2, URGENT, after_s=30), _message(1, ROUTINE)]
    assert merging.combined(group).urgency is URGENT
    assert merging.combined([_message(1, ROUTINE), _message(2, URGENT)]).urgency is URGENT
    # a routine message queued before the alert, within the minute, merges into it
    assert [[m.id for m in g] for g in merging.plan(group)] == [[2, 1]]
    old = [_message(2, URGENT, after_s=90), _message(1, ROUTINE)]
    assert [[m.id for m in g] for g in merging.plan(old)] == [[2], [1]]


async def test_messages_about_no_episode_are_not_merged_and_keep_their_order(svc):
    await queue(svc, "note", "staff:ooh1", ROUTINE, episode_id=None)
    async with svc.db.write() as tx:
        for key, urgency in (("routine", ROUTINE), ("alert", URGENT)):
            await outbox_store.enqueue(
                tx, idem_key=key, recipient="staff:ooh1", text=key, rule_id="ABS-OOH",
                now=svc.clock.now(), urgency=urgency, episode_id=None,
            )  # fmt: skip
    got: list[OutboxMessage] = []

    async def send(message: OutboxMessage) -> None:
        got.append(message)

    await OutboxDelivery(svc.db, svc.clock, send).deliver_due()
    # about no episode: never merged; the alert first, the routine ones in their order
    assert [m.idem_key for m in got] == ["alert", "note", "routine"]


async def test_messages_about_one_episode_merge_under_the_alert_as_urgent(tmp_path):
    h = await Harness.open(tmp_path / "w.db", local("2026-10-23 21:10"),
                           rota_rows=weekend_rota())  # fmt: skip
    try:
        async with h.db.write() as tx:
            await outbox_store.enqueue(
                tx, idem_key="note", recipient="staff:ooh1", text="a note", rule_id="ABS-LOG",
                now=h.clock.now(), episode_id=None,
            )  # fmt: skip
        await h.say("sam", "/absent Jay 21:05 left after a row")
        rows = {m.idem_key: m for m in await outbox_store.outbox_messages(h.db)}
        alert = next(m for m in rows.values() if m.recipient == "staff:ooh1" and m.episode_id)
        assert alert.urgency is URGENT and alert.state is OutboxState.SENT
        told = [s.key for s in h.to("staff:ooh1")]
        assert told[0] == alert.idem_key, "the alert went before the earlier routine note"
        assert "note" in told
    finally:
        await h.close()


async def test_urgency_comes_from_the_catalogue(tmp_path):
    """The absence ladder is urgent (J §5.8, WY §8); the IRO's information is not (WY §8:
    within 24 hours); a duty's reminders are as urgent as the duty."""
    h = await Harness.open(tmp_path / "w.db", local("2026-10-23 21:10"),
                           rota_rows=weekend_rota())  # fmt: skip
    try:
        await h.say("sam", "/absent Jay 21:05 left after a row")
        rows = await outbox_store.outbox_messages(h.db)
        by_rule = {}
        for row in rows:
            by_rule.setdefault(row.rule_id, set()).add(row.urgency)
        assert by_rule["ABS-OOH"] == {URGENT}
        assert by_rule["ABS-IRO"] == {ROUTINE}
        preset = h.svc.presets["west-yorkshire"]
        await h.say("sam", "/police Jay ref P123 grade high")
        await h.say("ooh1", "/found Jay now self at home")
        await h.wait(60 * 30)  # duty reminders fall due
        reminders = [
            r for r in await outbox_store.outbox_messages(h.db)
            if re.match(r"duty\d+:n\d+:", r.idem_key)
        ]  # fmt: skip
        for row in reminders:
            spec = preset.duties[row.rule_id]
            assert row.urgency is MessageUrgency.of(spec.urgent), row.rule_id
        assert {r.urgency for r in reminders} == {URGENT, ROUTINE}, "both kinds were reminded"
        assert {"RET-POLICE", "RET-SWC"} <= {r.rule_id for r in reminders}
    finally:
        await h.close()


def test_a_climb_begun_before_urgency_was_copied_reads_its_ladder():
    legacy = ClimbContext.model_validate(
        {"ladder": {"rule": "ABS-SW", "message": "m", "interval": 1.0, "review": 1.0}}
    )
    assert legacy.ladder.urgent is None
    assert "urgent" not in legacy.model_dump(mode="json")["ladder"]


async def test_a_kick_with_no_pass_under_way_delivers_in_the_background(svc):
    await queue(svc, "alert", "staff:s1", URGENT)
    got: list[str] = []
    sent = asyncio.Event()

    async def send(message: OutboxMessage) -> None:
        got.append(message.idem_key)
        sent.set()

    delivery = OutboxDelivery(svc.db, svc.clock, send)
    delivery.kick()
    delivery.kick()  # a second kick joins the pass it started
    await asyncio.wait_for(sent.wait(), 5)
    assert await delivery.deliver_due() == 0 and got == ["alert"]


async def test_a_sweep_is_not_held_up_behind_a_pass_draining_a_backlog(tmp_path):
    """The heartbeat kicks delivery beside the sweep: with a pass still sending (held here),
    the next tick sweeps and returns, and a climb it fires joins the pass."""
    from bot.heartbeat import Heartbeat

    h = await Harness.open(tmp_path / "w.db", local("2026-10-23 21:10"),
                           rota_rows=weekend_rota())  # fmt: skip
    gate, started = asyncio.Event(), asyncio.Event()
    sent: list[str] = []

    async def slow(message: OutboxMessage) -> None:
        if message.idem_key == "backlog":
            started.set()
            await gate.wait()
        sent.append(message.recipient)
        if message.recipient == "staff:ooh1":
            alerted.set()

    alerted = asyncio.Event()
    delivery = OutboxDelivery(h.db, h.clock, slow)
    beat = Heartbeat(h.sweeper, delivery, h.clock)
    try:
        async with h.db.write() as tx:
            await outbox_store.enqueue(
                tx, idem_key="backlog", recipient="staff:s1", text="summary", rule_id="ABS-LOG",
                now=h.clock.now(),
            )  # fmt: skip
        delivery.kick()
        await asyncio.wait_for(started.wait(), 5)
        await Dispatcher(h.svc).handle(await staff_store.get_staff(h.db, "sam"),
                                       "/absent Jay 21:05 out")  # fmt: skip
        await asyncio.wait_for(beat.tick(), 5)  # returns with the backlog still in flight
        assert not gate.is_set()
        # the report's alert went beside the held send
        await asyncio.wait_for(alerted.wait(), 5)
        assert "staff:s1" not in sent
        gate.set()
    finally:
        beat.shutdown()
        await h.close()
