"""Acknowledge by reply (issue 21): 'ACK <code>' texted back is /ack for that person and that
alert, once, on the timeline with the method; an unknown or spent code gets a reply text
saying what to do; received texts are polled from Notify and each processed once."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from handlers.sms_replies import ReceivedText, handle
from storage import episode_store, escalation_store
from storage.models import EscalationState
from tests.support.clock import local
from tests.support.notify_rig import NotifyRig

FRIDAY_NIGHT = local("2026-10-23 21:10")
M = timedelta(minutes=1)


@pytest.fixture
async def rig(tmp_path):
    rig = await NotifyRig.open(tmp_path / "w.db", FRIDAY_NIGHT)
    yield rig
    await rig.close()


async def alerted(rig: NotifyRig, staff_id: str = "ooh1") -> str:
    """Jay reported; five minutes on, the duty worker's text with its code."""
    await rig.harness.say("sam", "/absent Jay 21:05 left after a row")
    await rig.harness.until(FRIDAY_NIGHT + 5 * M)
    (text,) = rig.texts_to(staff_id)
    found = re.search(r"Reply ACK (\d{4})", text)
    assert found, text
    return found.group(1)


async def the_climb(rig: NotifyRig):
    (esc,) = [
        e for e in await escalation_store.escalations_for_episode(rig.harness.db, 1)
        if e.ladder == "absence_reported"
    ]  # fmt: skip
    return esc


async def test_ack_by_text_takes_the_alert_once_and_says_so_on_the_timeline(rig):
    h = rig.harness
    code = await alerted(rig)
    told = len(h.to("staff:sam"))
    await rig.text_back("ooh1", f"ack {code}")
    esc = await the_climb(rig)
    assert esc.state is EscalationState.ACKED and esc.acked_by == "ooh1"
    events = await episode_store.events_for_episode(h.db, 1)
    assert [e.text for e in events if e.kind == "ack"] == ["Olu has it (acknowledged by SMS)"]
    assert any("Olu has C-0042 Jay" in s.text for s in h.to("staff:sam")[told:])
    replies = rig.texts_to("ooh1")[1:]
    assert replies == [
        "Whereabouts: you have the alert for C-0042. The details and what to do next are in "
        "the app."
    ]
    assert any("Your text ACK reply: You have C-0042 Jay" in s.text for s in h.to("staff:ooh1"))

    # the next poll lists it again: nothing more happens
    assert await rig.platform.poll_once() == 0
    text = ReceivedText("again", "+447700900105", f"ACK {code}", h.clock.now())
    await h.say("ooh1", "/status")  # time moves on; a second text with the spent code
    assert await handle(h.svc, text) == "spent code"
    events = await episode_store.events_for_episode(h.db, 1)
    assert len([e for e in events if e.kind == "ack"]) == 1


async def test_unknown_codes_and_other_words_get_a_reply_saying_what_to_do(rig):
    code = await alerted(rig)
    wrong = "1000" if code != "1000" else "1001"
    await rig.text_back("ooh1", f"ACK {wrong}")
    await rig.text_back("ooh1", "on my way")
    replies = rig.texts_to("ooh1")[1:]
    assert replies == [
        f"Whereabouts: ACK {wrong} is not a code we sent you. Reply with the code from the "
        "alert (ACK 4821), or open the app.",
        "Whereabouts: this number only reads ACK replies. Reply with the code from the alert "
        "(ACK 4821), or open the app.",
    ]
    assert (await the_climb(rig)).state is EscalationState.ACTIVE


async def test_a_code_for_an_alert_a_colleague_took_first_takes_nothing(rig):
    h = rig.harness
    code = await alerted(rig)
    await h.say("oohm", "/ack Jay")
    await rig.text_back("ooh1", f"ACK {code}")
    esc = await the_climb(rig)
    assert esc.acked_by == "oohm"
    (reply,) = rig.texts_to("ooh1")[1:]
    assert "did not take the alert for C-0042" in reply and "Morgan" not in reply
    assert any("Morgan" in s.text and "already has" in s.text for s in h.to("staff:ooh1"))


async def test_texts_from_strangers_and_stale_texts_are_recorded_and_not_acted_on(rig):
    h = rig.harness
    code = await alerted(rig)
    rig.notify.receive_text("07700 900999", f"ACK {code}", h.clock.now())
    rig.notify.receive_text("07700 900105", f"ACK {code}", h.clock.now() - timedelta(hours=2))
    assert await rig.platform.poll_once() == 2
    rows = await h.db.fetchall("SELECT outcome FROM received_texts ORDER BY rowid")
    assert [r["outcome"] for r in rows] == ["unknown sender", "stale"]
    assert (await the_climb(rig)).state is EscalationState.ACTIVE
    assert len(rig.notify.sent) == 1  # no replies


async def test_received_texts_are_read_across_pages_oldest_first_and_only_once(rig):
    h = rig.harness
    await alerted(rig)
    rig.notify.page_size = 2
    for word in ("one", "two", "three", "four", "five"):
        rig.notify.receive_text("07700 900105", word, h.clock.now())
    assert await rig.platform.poll_once() == 5
    rig.notify.receive_text("07700 900105", "six", h.clock.now())
    assert await rig.platform.poll_once() == 1
    assert await rig.platform.poll_once() == 0
    rows = await h.db.fetchall("SELECT id FROM received_texts ORDER BY rowid")
    ids = [t["id"] for t in rig.notify.received]
    assert [r["id"] for r in rows] == ids  # oldest first, each once
