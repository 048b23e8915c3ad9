"""Fewer, better messages: one person, one episode, one minute is one message; repeats are short."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from bot import merging
from bot.delivery import OutboxDelivery, PermanentDeliveryError
from storage import merge_store, outbox_store
from storage.models import Button, OutboxMessage, OutboxState
from tests.support.clock import local
from tests.support.harness import Harness
from tests.support.team import weekend_rota

FRIDAY_NIGHT = local("2026-10-23 21:10")


def _message(id: int, to: str = "staff:ooh1", episode: int | None = 1, after_s: int = 0,
             **extra: object) -> OutboxMessage:  # fmt: skip
    base = OutboxMessage(
        id=id,
        idem_key=f"k{id}",
        recipient=to,
        rule_id="ABS-OOH",
        text=f"text {id}",
        buttons=(),
        episode_id=episode,
        child_id=1,
        created_at=FRIDAY_NIGHT + timedelta(seconds=after_s),
        due_at=FRIDAY_NIGHT,
        attempts=1,
        state=OutboxState.SENDING,
    )
    return replace(base, **extra)  # type: ignore[arg-type]


def _ids(groups: list[list[OutboxMessage]]) -> list[list[int]]:
    return [[m.id for m in g] for g in groups]


def test_one_person_one_episode_one_minute_is_one_message():
    claimed = [_message(1), _message(2, after_s=30), _message(3, after_s=60)]
    assert _ids(merging.plan(claimed)) == [[1, 2, 3]]
    assert merging.combined(merging.plan(claimed)[0]).text == "text 1\n\ntext 2\n\ntext 3"


def test_what_is_not_merged():
    assert _ids(merging.plan([_message(1), _message(2, after_s=61)])) == [[1], [2]]
    assert _ids(merging.plan([_message(1), _message(2, episode=2)])) == [[1], [2]]
    assert _ids(merging.plan([_message(1), _message(2, to="staff:oohm")])) == [[1], [2]]
    assert _ids(merging.plan([_message(1, episode=None), _message(2, episode=None)])) == [
        [1],
        [2],
    ]
    assert _ids(merging.plan([_message(1), _message(2, attachment_id=7)])) == [[1], [2]]
    # a row already tried once (a retry, a resend after a crash) keeps the text it was sent with
    assert _ids(merging.plan([_message(1, attempts=2), _message(2)])) == [[1], [2]]
    assert _ids(merging.plan([_message(1), _message(2, attempts=2)])) == [[1], [2]]
    assert _ids(merging.plan([_message(1, to="redact"), _message(2, to="redact")])) == [
        [1],
        [2],
    ]


def test_order_per_recipient_is_kept_nothing_jumps_a_message_about_another_episode():
    claimed = [_message(1), _message(2, episode=2), _message(3), _message(4, to="staff:oohm")]
    assert _ids(merging.plan(claimed)) == [[1], [2], [3], [4]]
    # another person's message in between does not stop a merge
    claimed = [_message(1), _message(2, to="staff:oohm"), _message(3)]
    assert _ids(merging.plan(claimed)) == [[1, 3], [2]]


def test_buttons_are_the_union_once_each():
    take = Button("I've got it", "/ack C-0042")
    found = Button("Found", "/found C-0042")
    group = [_message(1, buttons=(take,)), _message(2, buttons=(take, found))]
    assert merging.combined(group).buttons == (take, found)


@pytest.mark.rule("ABS-OOH")
async def test_a_report_nobody_could_take_reaches_the_admin_as_one_message(tmp_path):
    h = await Harness.open(tmp_path / "w.db", FRIDAY_NIGHT)  # no rota
    try:
        await h.say("sam", "/absent Jay 21:05 left after a row")
        assert h.messages_to("staff:admin") == 1, [s.text for s in h.to("staff:admin")]
        text = "\n".join(s.text for s in h.to("staff:admin"))  # was four messages
        assert "Nobody to tell" in text
        assert "every step of the alert had nobody" in text
        rows = await outbox_store.outbox_messages(h.db)
        admin_rows = [r for r in rows if r.recipient == "staff:admin"]
        assert len(admin_rows) >= 2, "each notice keeps its own row and key"
        assert [r.state for r in admin_rows].count(OutboxState.SENT) == 1
        assert {r.state for r in admin_rows} == {OutboxState.SENT, OutboxState.MERGED}
    finally:
        await h.close()


async def test_a_crash_after_the_merge_sends_the_whole_message_once(tmp_path):
    h = await Harness.open(tmp_path / "w.db", FRIDAY_NIGHT)
    try:

        async def crash(message: OutboxMessage) -> None:
            raise KeyboardInterrupt  # the process dies mid-send (after the claim committed)

        h.delivery = OutboxDelivery(h.db, h.clock, crash)
        with pytest.raises(KeyboardInterrupt):
            await h.say("sam", "/absent Jay 21:05 left after a row")
        restarted = OutboxDelivery(h.db, h.clock, h._record)
        assert await restarted.recover() >= 1
        await restarted.deliver_due()
        await restarted.deliver_due()
        assert h.messages_to("staff:admin") == 1
        text = "\n".join(s.text for s in h.to("staff:admin"))
        assert "every step of the alert had nobody" in text
        assert "Nobody to tell" in text
        pending = await outbox_store.outbox_messages(h.db, OutboxState.PENDING)
        assert pending == []
    finally:
        await h.close()


async def test_a_merged_message_that_cannot_be_delivered_fails_for_every_row(tmp_path):
    h = await Harness.open(tmp_path / "w.db", FRIDAY_NIGHT)
    try:
        failed: list[str] = []

        async def send(message: OutboxMessage) -> None:
            if message.recipient == "staff:admin":
                raise PermanentDeliveryError("chat not found")
            await h._record(message)

        async def undeliverable(tx, message, reason):  # noqa: ANN001, ANN202
            failed.append(message.idem_key)

        h.delivery = OutboxDelivery(h.db, h.clock, send, on_undeliverable=undeliverable)
        await h.say("sam", "/absent Jay 21:05 left after a row")
        rows = [r for r in await outbox_store.outbox_messages(h.db) if r.recipient == "staff:admin"]
        assert sorted(failed) == sorted(r.idem_key for r in rows)
        head = next(r for r in rows if r.state is OutboxState.FAILED)
        assert len(await merge_store.merged_into(h.db, head.id)) == len(rows) - 1
    finally:
        await h.close()


@pytest.mark.rule("ABS-OOH")
async def test_repeats_of_an_unacknowledged_alert_are_one_line(tmp_path):
    h = await Harness.open(tmp_path / "w.db", FRIDAY_NIGHT, rota_rows=weekend_rota())
    try:
        await h.say("sam", "/absent Jay 21:05 left after a row")
        await h.wait(30)
        to_olu = h.to("staff:ooh1", "ABS-OOH")
        assert len(to_olu) == 2
        assert "left after a row" in to_olu[0].text
        assert to_olu[1].text.startswith("Still waiting: C-0042 Jay (first alert")
        assert "21:10" in to_olu[1].text
        assert "left after a row" not in to_olu[1].text
        await h.wait(30)  # the manager's first message is the full text
        assert "left after a row" in h.to("staff:oohm", "ABS-OOH")[0].text
    finally:
        await h.close()


def test_an_action_line_every_part_ends_with_is_said_once():
    group = [
        _message(1, text="Jay is absent\nTake it: /ack C-0042\nABS-OOH · West Yorkshire §8"),
        _message(
            2, text="past 23:00\nTake it: /ack C-0042\nABS-OVERNIGHT · West Yorkshire (adopted)"
        ),
    ]
    assert merging.combined(group).text == (
        "Jay is absent\n\npast 23:00\nTake it: /ack C-0042\n"
        "ABS-OOH · West Yorkshire §8; ABS-OVERNIGHT · West Yorkshire (adopted)"
    )
