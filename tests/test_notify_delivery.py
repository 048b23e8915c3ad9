"""SMS and e-mail through GOV.UK Notify (bot/notify/): the official client against the Notify
stand-in, through the same outbox, keys and retries as chat (issue 21, delivery)."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import aiohttp
import jwt
import pytest

from bot.notify.platform import NotifyPlatform, Templates
from bot.router import Router, Unreachable
from config.addresses import AddressError, normalise_email, normalise_phone
from config.settings import Settings
from reminders.notify_text import split_subject, with_subject
from storage import chat_store, outbox_store, report_store, staff_store
from storage.models import OutboxState, Recipient
from tests.support.clock import local
from tests.support.notify_rig import NotifyRig
from tests.support.notify_standin import SMS_TEMPLATE

FRIDAY_NIGHT = local("2026-10-23 21:10")


@pytest.fixture
async def rig(tmp_path):
    rig = await NotifyRig.open(tmp_path / "w.db", FRIDAY_NIGHT)
    yield rig
    await rig.close()


async def queue(rig: NotifyRig, to: Recipient, text: str, key: str = "k1", **extra) -> int:
    h = rig.harness
    async with h.db.write() as tx:
        await outbox_store.enqueue(
            tx, idem_key=key, recipient=to, text=text, rule_id="ABS-OOH", now=h.clock.now(),
            **extra,
        )  # fmt: skip
    (row,) = [m for m in await outbox_store.outbox_messages(h.db) if m.idem_key == key]
    return row.id


async def row(rig: NotifyRig, message_id: int):
    (found,) = [m for m in await outbox_store.outbox_messages(rig.harness.db) if m.id == message_id]
    return found


async def last_error(rig: NotifyRig, message_id: int) -> str:
    found = await rig.harness.db.fetchone(
        "SELECT last_error FROM outbox WHERE id = ?", (message_id,)
    )
    return str(found["last_error"])


def test_uk_numbers_are_one_number_however_typed():
    for typed in ("07700 900123", "+44 7700 900123", "+44 (0)7700 900123", "0044 7700 900123",
                  "447700900123", "07700-900-123"):  # fmt: skip
        assert normalise_phone(typed) == "+447700900123", typed
    assert normalise_phone("+1 415 555 0100") == "+14155550100"
    for bad in ("0113 496 0000", "12345", "call me"):
        with pytest.raises(AddressError):
            normalise_phone(bad)
    assert normalise_email(" Olu@Example.ORG ") == "olu@example.org"
    with pytest.raises(AddressError):
        normalise_email("olu at example")


async def test_sms_goes_to_the_verified_number_by_template_and_is_recorded(rig):
    message_id = await queue(rig, Recipient.sms("ooh1"), "Whereabouts: urgent alert for C-0042.")
    assert await rig.harness.delivery.deliver_due() == 1
    (sent,) = rig.notify.sent
    assert sent["type"] == "sms" and sent["to"] == "+447700900105"
    assert sent["template_id"] == SMS_TEMPLATE
    assert sent["body"] == "Whereabouts: urgent alert for C-0042."
    assert sent["reference"] == f"wb-{message_id}"
    assert (await row(rig, message_id)).state is OutboxState.SENT
    assert await chat_store.already_sent(rig.harness.db, message_id, "notify", "sms:ooh1")


async def test_email_has_a_subject_and_a_body(rig):
    text = with_subject("Urgent alert for C-0042", "Waiting for you since 21:10.")
    assert split_subject(text) == ("Urgent alert for C-0042", "Waiting for you since 21:10.")
    assert split_subject("[ABS-OOH] " + text)[0] == "Urgent alert for C-0042"
    assert split_subject("no subject line") == ("Whereabouts", "no subject line")
    await queue(rig, Recipient.email("ooh1"), text)
    await rig.harness.delivery.deliver_due()
    (sent,) = rig.notify.sent
    assert sent["to"] == "olu@example.org"
    assert sent["personalisation"] == {
        "subject": "Urgent alert for C-0042",
        "body": "Waiting for you since 21:10.",
    }


async def test_an_outside_address_gets_the_file_as_notify_sends_files(rig):
    h = rig.harness
    async with h.db.write() as tx:
        attachment = await report_store.add_attachment(
            tx, "letter.md", "text/markdown", b"# Letter\n", h.clock.now()
        )
    await queue(
        rig, Recipient.mailto("director@other.gov.uk"), with_subject("Letter", "Attached."),
        attachment_id=attachment,
    )  # fmt: skip
    await h.delivery.deliver_due()
    (sent,) = rig.notify.sent
    assert sent["to"] == "director@other.gov.uk"
    upload = sent["personalisation"]["link_to_file"]
    assert upload["filename"] == "letter.md" and upload["confirm_email_before_download"]


async def test_a_bad_number_is_given_up_at_once_with_notifys_reason_and_no_number(rig):
    rig.notify.fail("sms", 400, "phone_number Not a UK mobile number (07700 900105)")
    message_id = await queue(rig, Recipient.sms("ooh1"), "text")
    assert await rig.harness.delivery.deliver_due() == 0
    failed = await row(rig, message_id)
    assert failed.state is OutboxState.FAILED and failed.attempts == 1
    reason = await last_error(rig, message_id)
    assert "Not a UK mobile number" in reason and "900105" not in reason


@pytest.mark.parametrize(("status", "wait"), [(429, timedelta(seconds=60)), (500, None)])
async def test_too_many_waits_and_a_server_error_is_retried(rig, status, wait):
    rig.notify.fail("sms", status)
    message_id = await queue(rig, Recipient.sms("ooh1"), "text")
    await rig.harness.delivery.deliver_due()
    pending = await row(rig, message_id)
    assert pending.state is OutboxState.PENDING and not rig.notify.sent
    retry = await outbox_store.retry_time(rig.harness.db, message_id)
    assert retry is not None
    if wait is not None:
        assert retry - rig.harness.clock.now() == wait
    rig.harness.clock.set(retry)
    assert await rig.harness.delivery.deliver_due() == 1
    assert len(rig.notify.sent) == 1


async def test_a_refused_api_key_is_retried_not_blamed_on_the_person(rig, caplog):
    """403: our key is wrong; the message waits for the key to be fixed and no climb moves."""
    rig.notify.fail("sms", 403)
    message_id = await queue(rig, Recipient.sms("ooh1"), "text")
    with caplog.at_level(logging.DEBUG):
        await rig.harness.delivery.deliver_due()
    assert (await row(rig, message_id)).state is OutboxState.PENDING
    assert "NOTIFY_API_KEY" in caplog.text
    assert rig.notify.secret not in caplog.text and rig.notify.api_key not in caplog.text


async def test_the_stand_in_checks_the_jwt_as_notify_does(rig):
    """A wrong secret, another service's id and an old `iat` are all refused with 403."""
    wrong = NotifyPlatform(
        rig.harness.db, rig.harness.clock,
        f"key-{rig.notify.service_id}-00000000-0000-0000-0000-000000000000",
        Templates(SMS_TEMPLATE), base_url=rig.notify.base_url,
    )  # fmt: skip
    rig.harness.delivery.send = Router(rig.harness.db, [], wrong).send
    message_id = await queue(rig, Recipient.sms("ooh1"), "text")
    await rig.harness.delivery.deliver_due()
    assert (await row(rig, message_id)).state is OutboxState.PENDING
    assert rig.notify.refused_tokens == 1 and not rig.notify.sent

    url = f"{rig.notify.base_url}/v2/received-text-messages"
    tokens = {
        "stale": jwt.encode(
            {"iss": rig.notify.service_id, "iat": int(time.time()) - 60}, rig.notify.secret
        ),
        "other service": jwt.encode(
            {"iss": "00000000-0000-0000-0000-000000000001", "iat": int(time.time())},
            rig.notify.secret,
        ),
        "fresh": jwt.encode(
            {"iss": rig.notify.service_id, "iat": int(time.time())}, rig.notify.secret
        ),
    }
    async with aiohttp.ClientSession() as session:
        statuses = {}
        for name, token in tokens.items():
            async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as answer:
                statuses[name] = answer.status
        async with session.get(url) as answer:
            statuses["none"] = answer.status
    assert statuses == {"stale": 403, "other service": 403, "fresh": 200, "none": 401}


async def test_a_crash_between_notifys_answer_and_our_record_sends_no_second_text(rig):
    """The retry finds the text Notify already has (by its reference) and records it."""
    h = rig.harness
    message_id = await queue(rig, Recipient.sms("ooh1"), "once only")
    await h.delivery.deliver_due()
    # as if the process died after Notify answered and before the send was recorded
    async with h.db.write() as tx:
        await tx.execute("DELETE FROM chat_messages WHERE outbox_id = ?", (message_id,))
        await tx.execute("UPDATE outbox SET state = 'sending' WHERE id = ?", (message_id,))
    await h.delivery.recover()
    await h.delivery.deliver_due()
    assert rig.notify.texts_to("+447700900105") == ["once only"]
    assert (await row(rig, message_id)).state is OutboxState.SENT
    assert await chat_store.already_sent(h.db, message_id, "notify", "sms:ooh1")


async def test_nobody_without_a_verified_number_and_no_leaver_is_texted(rig):
    h = rig.harness
    no_number = await queue(rig, Recipient.sms("sam"), "text", key="sam")
    async with h.db.write() as tx:
        await staff_store.mark_left(tx, "ooh2", h.clock.now(), None, "left")
    leaver = await queue(rig, Recipient.sms("ooh2"), "text", key="ooh2")
    await h.delivery.deliver_due()
    assert not rig.notify.sent
    assert "no verified mobile number" in await last_error(rig, no_number)
    assert "has left" in await last_error(rig, leaver)


async def test_without_notify_texts_are_refused_as_unreachable(rig):
    router = Router(rig.harness.db, [])
    message_id = await queue(rig, Recipient.sms("ooh1"), "text")
    message = await row(rig, message_id)
    with pytest.raises(Unreachable, match="no sms service"):
        await router.send(message)


async def test_run_starts_notify_beside_chat_when_its_settings_are_present(tmp_path, monkeypatch):
    from bot import app
    from tests.support.fake_telegram import FakeTelegram

    fake = await FakeTelegram().start()
    try:
        monkeypatch.setenv("NOTIFY_API_KEY", "whereabouts-" + "1" * 36 + "-" + "2" * 36)
        settings = Settings(
            db=tmp_path / "w.db", telegram_token=fake.token, telegram_base_url=fake.base_url
        )
        with pytest.raises(app.StartupError, match="no template"):
            await app.start(settings)
        settings = Settings(
            db=tmp_path / "w.db", telegram_token=fake.token, telegram_base_url=fake.base_url,
            notify_sms_template=SMS_TEMPLATE,
        )  # fmt: skip
        bot = await app.start(settings)
        try:
            assert isinstance(bot.notify, NotifyPlatform)
            assert "1" * 36 not in repr(settings)
        finally:
            await app.stop(bot)
    finally:
        await fake.stop()
