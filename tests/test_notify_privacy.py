"""What an SMS or e-mail may say (issue 21): the child's reference, the rule and how to act;
never a name, a place or a profile detail. A whole night's scenario with everyone on SMS and
e-mail, and every body that went checked against a child with distinctive values."""

from __future__ import annotations

import pytest

from reminders.notify_text import leaks
from storage import child_store, outbox_store
from storage.models import OutboxState, Recipient
from tests.support.clock import local
from tests.support.notify_rig import NotifyRig
from tests.support.team import child

FRIDAY_NIGHT = local("2026-10-23 21:10")
PROFILE = {
    "description": "tall, shaved head, scar over the left eyebrow",
    "clothing": "mustard raincoat",
    "places": ["Quillmarket Arcade", "Tannery Lane skatepark"],
    "associates": ["Dorian Blackwood"],
    "medication": "Levetiracetam 500mg",
    "phone": "07700 900777",
    "social_media": "@zephy_quill",
    "risks": "exploitation by older males",
}
ZEPHYRINE = child(
    first_name="Zephyrine", full_name="Zephyrine Quillfeather", home_authority="Brackenshire",
    profile=PROFILE,
)  # fmt: skip
DISTINCTIVE = ["Zephyrine", "Quillfeather", "Brackenshire", "Quillmarket", "Tannery", "mustard",
               "Dorian", "Blackwood", "Levetiracetam", "900777", "zephy_quill", "eyebrow",
               "exploitation", "Oak"]  # fmt: skip


@pytest.fixture
async def rig(tmp_path):
    rig = await NotifyRig.open(tmp_path / "w.db", FRIDAY_NIGHT, children=[ZEPHYRINE])
    yield rig
    await rig.close()


async def test_no_text_or_email_of_a_whole_night_names_the_child_or_says_anything_of_them(rig):
    h = rig.harness
    for person in ("ooh1", "ooh2", "oohm", "pc1", "tom"):
        await h.say(person, "/notify urgent chat 0, sms 1, email 2")
    await h.say("sam", "/absent Zephyrine 21:05 left after a row near Quillmarket Arcade, "
                       "mustard raincoat, with Dorian Blackwood")  # fmt: skip
    await h.wait(40)
    await h.say("sam", "/concern Zephyrine police seen at Tannery Lane with older males")
    await h.wait(20)
    await h.say("sam", "/police Zephyrine ref WY-1234 grade high")
    await h.wait(90)
    await h.say("sam", "/update Zephyrine called her phone 07700 900777, no answer")
    await h.wait(120)
    await h.say("sam", "/found Zephyrine now self came back to Oak, fine")
    await h.wait(60)

    rows = [
        m for m in await outbox_store.outbox_messages(h.db)
        if m.recipient.startswith(("sms:", "email:"))
    ]  # fmt: skip
    texts = [s for s in rig.notify.sent if s["type"] == "sms"]
    emails = [s for s in rig.notify.sent if s["type"] == "email"]
    assert len(texts) >= 3 and emails, "the scenario must send texts and e-mails to check"
    assert all(m.state is OutboxState.SENT for m in rows)
    stored = await child_store.get_child_by_ref(h.db, "C-0042")
    assert stored is not None
    for body in [m.text for m in rows] + rig.notify.bodies():
        for word in DISTINCTIVE:
            assert word.lower() not in body.lower(), (word, body)
        assert leaks(body, stored) == [], body
        assert "C-0042" in body
        assert "http" not in body and "www." not in body, "e-mail is link-free"
    text = texts[0]["body"]
    assert text.startswith("Whereabouts: urgent alert for C-0042") and "Reply ACK " in text
    email = emails[0]["personalisation"]
    assert email["subject"].startswith("Whereabouts: urgent alert for C-0042")
    assert "Reported as: absent" in email["body"] and "Police grade:" in email["body"]


async def test_a_text_that_would_name_the_child_is_never_sent(rig):
    """Whatever queues it: the Notify platform checks the body against the child's record."""
    h = rig.harness
    stored = await child_store.get_child_by_ref(h.db, "C-0042")
    assert stored is not None
    async with h.db.write() as tx:
        for key, text in (("a", "Zephyrine is missing"), ("b", "last seen: Quillmarket Arcade")):
            await outbox_store.enqueue(
                tx, idem_key=key, recipient=Recipient.sms("ooh1"), text=text,
                rule_id="ABS-OOH", now=h.clock.now(), child_id=stored.id,
            )  # fmt: skip
    await h.delivery.deliver_due()
    assert not rig.notify.sent
    errors = [
        r["last_error"] for r in await h.db.fetchall("SELECT last_error FROM outbox ORDER BY id")
    ]
    assert errors == [
        "not sent by sms: it would carry the child's name",
        "not sent by sms: it would carry the child's profile places",
    ]


def test_leaks_names_what_not_the_value():
    from storage.models import Child, LegalStatus

    jay = Child(1, "C-0042", "Jay", "west-yorkshire", LegalStatus.LOOKED_AFTER,
                full_name="Jay Example", profile={"clothing": "red coat"})  # fmt: skip
    assert leaks("Jay is out", jay) == ["name"]
    assert leaks("seen in a RED  coat", jay) == ["profile clothing"]
    assert leaks("Whereabouts: urgent alert for C-0042 (ABS-OOH)", jay) == []
    assert leaks("Jayden", jay) == []  # a whole word, not a part of one


def test_an_emails_summary_is_what_the_preset_allows_for_the_rule():
    from datetime import UTC, datetime

    from config.presets import load_preset
    from reminders.notify_text import email_alert, split_subject
    from storage.models import Category, Child, Concern, Episode, EpisodeState, LegalStatus

    preset = load_preset("west-yorkshire")
    rules = preset.notifications.model_copy(
        update={"email_summary_by_rule": {"ABS-OOH": ("last_seen_time", "concern")}}
    )
    preset = preset.model_copy(update={"notifications": rules})
    jay = Child(1, "C-0042", "Jay", "west-yorkshire", LegalStatus.LOOKED_AFTER)
    seen = datetime(2026, 10, 23, 20, 5, tzinfo=UTC)
    episode = Episode(1, 1, "west-yorkshire", EpisodeState.OPEN, Category.ABSENT, Concern.CARER,
                      False, seen, "the park", "sam", seen)  # fmt: skip
    subject, body = split_subject(email_alert(preset, jay, episode, True, "ABS-OOH", "21:10", seen))
    assert subject == "Whereabouts: urgent alert for C-0042 (ABS-OOH)"
    assert "Last seen: Fri 23 Oct 21:05" in body and "Level of concern: carer" in body
    assert "Police grade" not in body and "park" not in body and "Jay" not in body
    assert "The rule: outside office hours tell the out-of-hours duty team" in body
    _, other = split_subject(email_alert(preset, jay, episode, True, "ABS-SW", "21:10", seen))
    assert "Police grade: not given" in other and "Last seen" not in other
