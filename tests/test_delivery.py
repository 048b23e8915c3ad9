"""Outbox delivery: retries, backoff, crash between send and mark, lateness."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.delivery import OutboxDelivery, PermanentDeliveryError, RetryLater
from storage import outbox_store


async def queue(svc, key: str, text: str = "hello") -> None:
    async with svc.db.write() as tx:
        await outbox_store.enqueue(
            tx,
            idem_key=key,
            recipient="staff:sam",
            text=text,
            rule_id="ABS-SW",
            now=svc.clock.now(),
        )


async def test_retries_with_backoff_until_delivered(svc):
    await queue(svc, "k1")
    attempts = []

    async def flaky(message):
        attempts.append(svc.clock.now())
        if len(attempts) < 3:
            raise ConnectionError("platform down")

    delivery = OutboxDelivery(svc.db, svc.clock, flaky)
    assert await delivery.deliver_due() == 0
    assert await delivery.deliver_due() == 0, "not retried before its backoff"
    svc.clock.advance(timedelta(seconds=2))
    assert await delivery.deliver_due() == 0
    svc.clock.advance(timedelta(seconds=4))
    assert await delivery.deliver_due() == 1
    gaps = [b - a for a, b in zip(attempts, attempts[1:], strict=False)]
    assert gaps == [timedelta(seconds=2), timedelta(seconds=4)]
    [row] = await outbox_store.outbox_messages(svc.db)
    assert row.state == "sent" and row.attempts == 3


async def test_retry_after_is_honoured(svc):
    await queue(svc, "k1")
    calls = []

    async def limited(message):
        calls.append(svc.clock.now())
        if len(calls) == 1:
            raise RetryLater(30)

    delivery = OutboxDelivery(svc.db, svc.clock, limited)
    await delivery.deliver_due()
    svc.clock.advance(timedelta(seconds=29))
    assert await delivery.deliver_due() == 0
    svc.clock.advance(timedelta(seconds=1))
    assert await delivery.deliver_due() == 1


async def test_permanent_failure_is_marked_not_retried(svc):
    await queue(svc, "k1")

    async def gone(message):
        raise PermanentDeliveryError("chat not found")

    delivery = OutboxDelivery(svc.db, svc.clock, gone)
    await delivery.deliver_due()
    [row] = await outbox_store.outbox_messages(svc.db)
    assert row.state == "failed"


async def test_crash_after_send_before_mark_resends_the_same_key_not_a_new_message(
    svc, monkeypatch
):
    await queue(svc, "esc1:s0:r0:staff:sam", "Jay is absent")
    delivered = []

    async def send(message):
        delivered.append(message.idem_key)

    async def crash(*args, **kwargs):
        raise SystemExit("killed between send and mark")

    monkeypatch.setattr(outbox_store, "mark_sent", crash)
    with pytest.raises(SystemExit):
        await OutboxDelivery(svc.db, svc.clock, send).deliver_due()
    monkeypatch.undo()

    # The restarted bot: the claimed row goes back to pending and is sent again, once.
    restarted = OutboxDelivery(svc.db, svc.clock, send)
    assert await restarted.recover() == 1
    assert await restarted.deliver_due() == 1
    assert await restarted.deliver_due() == 0
    assert delivered == ["esc1:s0:r0:staff:sam", "esc1:s0:r0:staff:sam"]
    rows = await outbox_store.outbox_messages(svc.db)
    assert len(rows) == 1 and rows[0].state == "sent"


async def test_late_message_is_marked_late(svc):
    await queue(svc, "k1", "Jay is absent")
    svc.clock.advance(timedelta(minutes=12))
    got = []

    async def send(message):
        got.append(message.text)

    await OutboxDelivery(svc.db, svc.clock, send).deliver_due()
    assert got == ["Jay is absent\n(late by 12 min)"]


async def test_order_within_a_batch_is_the_order_queued(svc):
    for i in range(5):
        await queue(svc, f"k{i}", f"m{i}")
    got = []

    async def send(message):
        got.append(message.text)

    await OutboxDelivery(svc.db, svc.clock, send, batch=2).deliver_due()
    assert got == ["m0", "m1", "m2", "m3", "m4"]


async def test_clearing_a_finalised_episode_waits_for_its_earlier_messages(svc, chat):
    # A profile queued in a backlog must not go after the clearing: it would never be deleted.
    await chat.say("sam", "/absent Jay 21:05 left after a row")
    episode_id = 1
    async with svc.db.write() as tx:
        await outbox_store.enqueue(tx, idem_key="profile", recipient="staff:pc1", text="profile",
                           rule_id="ABS-POLICE", now=svc.clock.now(), episode_id=episode_id)  # fmt: skip
        await outbox_store.enqueue(tx, idem_key="clear", recipient="redact", text="closed",
                           rule_id="RET-FINAL", now=svc.clock.now(), episode_id=episode_id)  # fmt: skip
    order = []

    async def send(message):
        if message.idem_key == "profile" and "profile failed" not in order:
            order.append("profile failed")
            raise ConnectionError("platform down")
        order.append(message.idem_key)

    delivery = OutboxDelivery(svc.db, svc.clock, send)
    await delivery.deliver_due()
    assert "clear" not in order, "cleared while the profile still waited to retry"
    svc.clock.advance(timedelta(minutes=1))
    await delivery.deliver_due()
    mine = [o for o in order if o in ("profile", "clear", "profile failed")]
    assert mine == ["profile failed", "profile", "clear"]


async def test_two_delivery_passes_at_once_keep_a_recipients_order(svc):
    # The safety-net job and a command's kick may both start a pass.
    for i in range(6):
        await queue(svc, f"k{i}", f"m{i}")
    got = []

    async def slow(message):
        await asyncio.sleep(0.05 if message.text == "m0" else 0.001)  # a slow first send
        got.append(message.text)

    delivery = OutboxDelivery(svc.db, svc.clock, slow, batch=1)
    await asyncio.gather(delivery.deliver_due(), delivery.deliver_due())
    assert got == [f"m{i}" for i in range(6)]


async def _claimable(svc, limit: int = 8) -> list[str]:
    async with svc.db.write() as tx:
        return [m.idem_key for m in await outbox_store.claim_outbox(tx, svc.clock.now(), limit)]


async def test_a_backlog_for_one_person_does_not_hide_anyone_elses_first_message(svc):
    """300 messages behind one in flight to the duty worker fill the front of the queue
    (more than outbox_store.NEAR): the claim steps past them to each other person's first."""
    async with svc.db.write() as tx:
        for n in range(300):
            await outbox_store.enqueue(
                tx, idem_key=f"ooh{n}", recipient="staff:ooh1", text="x", now=svc.clock.now()
            )
        for who in ("sam", "alex"):
            for n in range(2):
                await outbox_store.enqueue(
                    tx, idem_key=f"{who}{n}", recipient=f"staff:{who}", text="x",
                    now=svc.clock.now(),
                )  # fmt: skip
    assert await _claimable(svc, 1) == ["ooh0"]  # the oldest first
    assert sorted(await _claimable(svc)) == ["alex0", "sam0"]  # ooh1's next waits for ooh0
    assert await _claimable(svc) == []  # each has one in flight
    await outbox_store.mark_sent(svc.db, 1, svc.clock.now())
    assert await _claimable(svc) == ["ooh1"]


async def test_the_claim_reads_on_past_a_first_page_held_by_one_person(svc):
    """Past the first short page of the front (40 rows behind one in flight), another
    person's first message is found in the rest of it."""
    async with svc.db.write() as tx:
        for n in range(40):
            await outbox_store.enqueue(
                tx, idem_key=f"ooh{n}", recipient="staff:ooh1", text="x", now=svc.clock.now()
            )
        await outbox_store.enqueue(
            tx, idem_key="sam0", recipient="staff:sam", text="x", now=svc.clock.now()
        )
    assert await _claimable(svc, 1) == ["ooh0"]
    assert await _claimable(svc) == ["sam0"]


async def test_a_head_waiting_to_retry_holds_its_queue_until_it_stops_holding(svc):
    """A failed message holds its recipient's later ones (HOLDS_ORDER_FOR attempts), then
    lets them by while it keeps retrying on its own."""
    await queue(svc, "first")
    await queue(svc, "second")
    assert await _claimable(svc) == ["first"]  # its first attempt
    for attempts in range(1, outbox_store.HOLDS_ORDER_FOR + 1):
        async with svc.db.write() as tx:
            await outbox_store.mark_retry(tx, 1, svc.clock.now() + timedelta(hours=1), "down")
        held = attempts < outbox_store.HOLDS_ORDER_FOR
        assert await _claimable(svc) == ([] if held else ["second"]), f"{attempts} attempts"
        if held:  # tried again, an hour on, and failed again
            async with svc.db.write() as tx:
                await tx.execute("UPDATE outbox SET state = 'sending', attempts = attempts + 1"
                                 " WHERE id = 1")  # fmt: skip


@pytest.mark.sqlite_only("SQLite's own query plans")
async def test_the_claim_reads_the_front_of_the_queue_then_each_waiting_recipients_head(svc):
    """Step 1 walks outbox_claim in delivery order and stops; step 2 names the index that
    lists waiting recipients (without statistics SQLite's planner would walk outbox_claim,
    every pending row, instead)."""
    when, holds = svc.clock.now().isoformat(), outbox_store.HOLDS_ORDER_FOR

    async def plan(sql: str, params: tuple) -> list[str]:
        return [row["detail"] for row in await svc.db.fetchall("EXPLAIN QUERY PLAN " + sql, params)]

    front = await plan(outbox_store._FRONT, (when, 32, 0))
    assert any("outbox_claim (state=?)" in s for s in front), front
    assert not any("TEMP B-TREE" in s for s in front), front  # no sort of every due row
    heads = await plan(outbox_store._CLAIM_HEADS, (when, when, holds, when, 8))
    assert any("outbox_waiting (recipient>?)" in s for s in heads), heads
    assert any("outbox_waiting (recipient=?)" in s for s in heads), heads
    assert not any("outbox_claim" in s for s in heads), heads
