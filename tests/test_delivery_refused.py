"""A message the platform refuses (a 4xx other than 429) is given up at once, the reason kept,
the climb moved on to the next person, and it never holds back later messages to the same
person (bot/delivery.py, storage/outbox_store.py, both senders)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.delivery import OutboxDelivery
from storage import outbox_store
from tests.support.clock import local
from tests.support.fake_slack import dm_of
from tests.support.slack_rig import SLACK_IDS, SlackRig
from tests.support.telegram_rig import IDS, TelegramRig

FRIDAY_NIGHT = local("2026-10-23 21:10")


async def last_error(db, message_id: int) -> str:
    row = await db.fetchone("SELECT last_error FROM outbox WHERE id = ?", (message_id,))
    return str(row["last_error"])


async def queue_later(db, now, text: str) -> None:
    async with db.write() as tx:
        await outbox_store.enqueue(
            tx, idem_key=f"later:{text}", recipient="staff:ooh1", text=text, rule_id="ABS-OOH",
            now=now,
        )  # fmt: skip


async def the_refused_alert(db):
    (alert,) = [
        m for m in await outbox_store.outbox_messages(db)
        if m.recipient == "staff:ooh1" and "ABS-OOH · " in m.text
    ]  # fmt: skip
    return alert


@pytest.mark.parametrize(
    ("status", "description", "why"),
    [
        (400, "Bad Request: can't parse entities", "Can't parse entities"),
        (413, "Request Entity Too Large", "HTTP 413"),
    ],
)
async def test_telegram_refusal_is_given_up_at_once_and_the_alert_moves_on(
    tmp_path, status, description, why
):
    """Item 2 (Telegram): a 4xx other than 429 is permanent: one attempt, the reason kept,
    the next person alerted, and a later message to the same person goes at once."""
    rig = await TelegramRig.start(tmp_path / "w.db", FRIDAY_NIGHT)
    try:
        rig.fake.fail("sendMessage", status, description=description, chat_id=IDS["ooh1"])
        rig.says("sam", "/absent Jay 21:05 out")
        await rig.reply_to("oohm", "Could not reach Olu")
        alert = await the_refused_alert(rig.db)
        assert alert.state == "failed" and alert.attempts == 1
        assert why in await last_error(rig.db, alert.id)
        await queue_later(rig.db, rig.clock.now(), "a more urgent alert")
        await rig.delivery.deliver_due()  # no time passes
        assert any("a more urgent alert" in m["text"] for m in rig.fake.delivered(IDS["ooh1"]))
    finally:
        await rig.stop()


@pytest.mark.parametrize(
    ("status", "code"), [(200, "invalid_blocks"), (400, "invalid_arguments"), (404, "")]
)
async def test_slack_refusal_is_given_up_at_once_and_the_alert_moves_on(tmp_path, status, code):
    """Item 2 (Slack): an error code of the message's own, or a 4xx other than 429, is
    permanent: one attempt, the reason kept, the next person alerted, later messages go."""
    rig = await SlackRig.start(tmp_path / "w.db", FRIDAY_NIGHT)
    try:
        duty = dm_of(SLACK_IDS["ooh1"])
        rig.fake.fail("chat.postMessage", status, code, channel=duty)
        await rig.command("sam", "/absent Jay 21:05 out")
        await rig.reply_to("oohm", "Could not reach Olu")
        alert = await the_refused_alert(rig.db)
        assert alert.state == "failed" and alert.attempts == 1
        assert (code or f"HTTP {status}") in await last_error(rig.db, alert.id)
        await queue_later(rig.db, rig.clock.now(), "a more urgent alert")
        await rig.delivery.deliver_due()
        assert any("a more urgent alert" in m.shown for m in rig.fake.in_channel(duty))
    finally:
        await rig.stop()


async def test_the_apps_own_refused_token_is_retried_not_given_up(tmp_path):
    """Item 2: `invalid_auth` is the app's credentials, not the message: no alert is dropped."""
    rig = await SlackRig.start(tmp_path / "w.db", FRIDAY_NIGHT)
    try:
        duty = dm_of(SLACK_IDS["ooh1"])
        rig.fake.fail("chat.postMessage", 200, "invalid_auth", channel=duty)
        await rig.command("sam", "/absent Jay 21:05 out")
        await rig.reply_to("sam", "Recorded")
        await rig.platform.settle()
        alert = await the_refused_alert(rig.db)
        assert alert.state == "pending"
    finally:
        await rig.stop()


async def test_a_message_failing_again_and_again_stops_holding_later_ones(svc):
    """Item 2: a message that keeps failing (here a 5xx each time) is retried on its own, but
    after HOLDS_ORDER_FOR attempts a later message to the same person no longer waits behind
    it (before: held until the 50th attempt, hours later)."""
    async with svc.db.write() as tx:
        for key in ("bad", "urgent"):
            await outbox_store.enqueue(
                tx, idem_key=key, recipient="staff:sam", text=key, rule_id="ABS-SW",
                now=svc.clock.now(),
            )  # fmt: skip
    got: list[str] = []

    async def send(message):
        if message.text.startswith("bad"):
            raise ConnectionError("HTTP 500")
        got.append(message.text)

    delivery = OutboxDelivery(svc.db, svc.clock, send)
    start = svc.clock.now()
    while not got and svc.clock.now() - start < timedelta(minutes=10):
        await delivery.deliver_due()
        svc.clock.advance(timedelta(seconds=1))
    assert got and got[0].startswith("urgent")
    assert svc.clock.now() - start <= timedelta(minutes=5)
    (bad,) = [m for m in await outbox_store.outbox_messages(svc.db) if m.text == "bad"]
    assert bad.state == "pending" and bad.attempts == outbox_store.HOLDS_ORDER_FOR


async def test_slack_refusing_to_clear_one_copy_still_clears_the_others(tmp_path):
    """Item 2 (Slack, redaction): a copy Slack refuses to clear is reported, not retried for
    hours, and the episode's other copies are still closed."""
    from tests.support.slack_rig import OAK_CHANNEL
    from tests.support.team import child

    profile = {"description": "slim, short dark hair", "phone": "07700 900123"}
    rig = await SlackRig.start(tmp_path / "w.db", FRIDAY_NIGHT, children=[child(profile=profile)])
    try:
        await rig.command("sam", "/absent Jay 21:05 out", OAK_CHANNEL)
        await rig.reply_to(OAK_CHANNEL, "Recorded")
        await rig.command("sam", "/police Jay ref WY-9 grade medium")
        await rig.reply_to("pc1", "Phone: 07700 900123")
        await rig.command("sam", "/found Jay now self back home", OAK_CHANNEL)
        await rig.reply_to(OAK_CHANNEL, "found")
        channel = list(rig.fake.in_channel(OAK_CHANNEL))
        await rig.command("priya", "/rhi Jay held by Ana")
        await rig.reply_to("priya", "held")
        rig.fake.fail("chat.delete", 200, "restricted_action")
        await rig.command("tom", "/finalise Jay")
        await rig.reply_to("tom", "finalised")
        await rig.fake.wait_for(lambda: all("episode closed" in m.shown for m in channel))
        await rig.platform.settle()
        await rig.delivery.deliver_due()  # one pass at a time: this waits for the clearing's
        (clearing,) = [
            m for m in await outbox_store.outbox_messages(rig.db) if m.recipient == "redact"
        ]
        assert clearing.state == "failed" and clearing.attempts == 1
        assert "restricted_action" in await last_error(rig.db, clearing.id)
    finally:
        await rig.stop()
