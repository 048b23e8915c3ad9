"""Contact methods per person (issue 21): chat, SMS and e-mail; a number or address a person
adds is used only once the code sent to it is typed back; the team file's count as verified;
never in a group chat; a leaver's are unused."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from handlers.dispatch import Dispatcher
from handlers.messages import Chat
from storage import contact_store, outbox_store, staff_store
from storage.contact_store import Method
from tests.support.clock import local
from tests.support.notify_rig import NotifyRig

FRIDAY_NIGHT = local("2026-10-23 21:10")
GROUP = Chat("telegram", "-5001", is_group=True, team="oak")


@pytest.fixture
async def rig(tmp_path):
    rig = await NotifyRig.open(tmp_path / "w.db", FRIDAY_NIGHT)
    yield rig
    await rig.close()


def code_in(text: str) -> str:
    found = re.search(r"\b(\d{6})\b", text)
    assert found, text
    return found.group(1)


async def test_a_new_number_is_sent_a_code_and_used_once_it_is_typed_back(rig):
    h = rig.harness
    reply = await h.say("sam", "/contact sms 07700 900123")
    assert "A code is on its way to +447700900123" in reply
    assert await contact_store.address(h.db, "sam", Method.SMS) is None  # not yet
    (text,) = rig.notify.texts_to("+447700900123")
    code = code_in(text)
    # only the hash is kept: the code is in no table, not even the outbox's copy of the text
    for table in ("contact_pending", "outbox"):
        rows = await h.db.fetchall(f"SELECT * FROM {table}")
        assert all(code not in str(tuple(row)) for row in rows), table
    reply = await h.say("sam", f"/verify {code}")
    assert "Verified: +447700900123 is your mobile number" in reply
    assert await contact_store.address(h.db, "sam", Method.SMS) == "+447700900123"
    listing = await h.say("sam", "/contact")
    assert "SMS: +447700900123 (yours, verified)" in listing and "Chat: telegram" in listing


async def test_a_new_address_gets_its_code_by_email_and_keeps_the_old_one_until_verified(rig):
    h = rig.harness
    await h.say("ooh1", "/contact email olu.new@example.org")
    (sent,) = rig.notify.sent
    assert sent["to"] == "olu.new@example.org"
    assert sent["personalisation"]["subject"] == "Your Whereabouts code"
    assert await contact_store.address(h.db, "ooh1", Method.EMAIL) == "olu@example.org"
    await h.say("ooh1", f"/verify {code_in(sent['body'])}")
    assert await contact_store.address(h.db, "ooh1", Method.EMAIL) == "olu.new@example.org"


async def test_wrong_codes_run_out_and_codes_expire(rig):
    h = rig.harness
    await h.say("sam", "/contact sms 07700 900123")
    code = code_in(rig.notify.texts_to("+447700900123")[0])
    wrong = "000000" if code != "000000" else "111111"
    assert "4 tries left" in await h.say("sam", f"/verify {wrong}")
    for _ in range(3):
        await h.say("sam", f"/verify {wrong}")
    assert "Too many wrong codes" in await h.say("sam", f"/verify {wrong}")
    assert "No code is waiting" in await h.say("sam", f"/verify {code}")
    assert await contact_store.address(h.db, "sam", Method.SMS) is None

    await h.say("sam", "/contact sms 07700 900124")
    code = code_in(rig.notify.texts_to("+447700900124")[0])
    h.clock.advance(timedelta(minutes=16))
    assert "expired" in await h.say("sam", f"/verify {code}")
    assert await contact_store.address(h.db, "sam", Method.SMS) is None


async def test_the_team_files_numbers_count_as_verified_and_a_leavers_are_unused(rig):
    h = rig.harness
    assert await contact_store.address(h.db, "ooh1", Method.SMS) == "+447700900105"
    listing = await h.say("ooh1", "/contact")
    assert "SMS: +447700900105 (team file, verified)" in listing
    assert await contact_store.staff_by_phone(h.db, "+447700900105") == "ooh1"
    async with h.db.write() as tx:
        await staff_store.mark_left(tx, "ooh1", h.clock.now(), None, "left")
    assert await contact_store.methods_of(h.db, "ooh1") == []
    assert await contact_store.staff_by_phone(h.db, "+447700900105") is None


async def test_bad_numbers_are_refused_with_what_to_type(rig):
    h = rig.harness
    assert "not a UK mobile number" in await h.say("sam", "/contact sms 0113 496 0000")
    assert "not an e-mail address" in await h.say("sam", "/contact email sam at home")
    assert "sms or email" in await h.say("sam", "/contact fax 0113")
    assert not rig.notify.sent and not await contact_store.pending_of(h.db, "sam")


async def test_nothing_of_it_is_shown_or_taken_in_a_group_chat(rig):
    h = rig.harness
    sam = await staff_store.get_staff(h.db, "sam")
    dispatcher = Dispatcher(h.svc)
    outcome = await dispatcher.handle(sam, "/contact sms 07700 900123", GROUP)
    assert "direct message" in outcome.replies[0].text
    assert not await contact_store.pending_of(h.db, "sam")
    outcome = await dispatcher.handle(await staff_store.get_staff(h.db, "ooh1"), "/contact", GROUP)
    public = [r.text for r in outcome.replies if not r.private]
    assert public == ["Sent to you in a direct message."]
    assert "+447700900105" in next(r.text for r in outcome.replies if r.private)
    outcome = await dispatcher.handle(sam, "/verify 123456", GROUP)
    assert "direct message" in outcome.replies[0].text


async def test_removing_ones_own_number_falls_back_to_the_team_files(rig):
    h = rig.harness
    await h.say("ooh1", "/contact sms 07700 900999")
    await h.say("ooh1", f"/verify {code_in(rig.notify.texts_to('+447700900999')[0])}")
    assert await contact_store.address(h.db, "ooh1", Method.SMS) == "+447700900999"
    reply = await h.say("ooh1", "/contact sms remove")
    assert "removed" in reply and "team file's (+447700900105) is still used" in reply
    assert await contact_store.address(h.db, "ooh1", Method.SMS) == "+447700900105"


async def test_a_code_for_a_replaced_number_is_not_sent_to_it(rig):
    """Two numbers added one after the other: the first one's code no longer goes anywhere."""
    h = rig.harness
    staff = await staff_store.get_staff(h.db, "sam")
    dispatcher = Dispatcher(h.svc)
    await dispatcher.handle(staff, "/contact sms 07700 900123")
    h.clock.advance(timedelta(seconds=1))
    await dispatcher.handle(staff, "/contact sms 07700 900124")
    await h.delivery.deliver_due()
    assert not rig.notify.texts_to("+447700900123")
    assert len(rig.notify.texts_to("+447700900124")) == 1  # only the code that works
    states = sorted(m.state for m in await outbox_store.outbox_messages(h.db))
    assert states == ["failed", "sent"]


async def test_a_number_that_is_already_someone_elses_is_refused(rig):
    h = rig.harness
    reply = await h.say("ooh2", "/contact sms 07700 900105")  # Olu's, from the team file
    assert "already another person's mobile" in reply
    assert not await contact_store.pending_of(h.db, "ooh2") and not rig.notify.sent
