"""Formal notices by e-mail (issue 21): the home authority told (HOST-TELL, NS §4.1), the
Director's signed letter (DIR-LETTER, NS §4.3), the Missing Profile to the police's Missing
Team (B App 2). A draft first, nothing queued until the named person types the command;
queued, then sent or failed, on the timeline; the duty closed once the e-mail has gone."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.delivery import OutboxDelivery, PermanentDeliveryError
from config.team import ChildSpec
from storage import duty_store, episode_store, outbox_store, report_store
from storage.models import Duty, DutyState, OutboxMessage, RecipientKind
from tests.support.clock import local
from tests.support.harness import Harness
from tests.support.team import STAFF, child, weekend_rota

SENIORS = [
    {"id": "hos", "name": "Hana", "role": "head_of_service"},
    {"id": "ad", "name": "Adel", "role": "assistant_director"},
    {"id": "dcs", "name": "Dee", "role": "director"},
    {"id": "mc", "name": "Mo", "role": "missing_coordinator"},
]
BRISTOL = "missing.notices@bristol.example.gov.uk"


async def open_harness(tmp_path, start: datetime, area: str, **fields) -> Harness:
    return await Harness.open(
        tmp_path / "w.db", start, area=area, children=[child(area=area, **fields)],
        staff=STAFF + SENIORS, rota_rows=weekend_rota(),
    )  # fmt: skip


def elsewhere(**more) -> dict:
    return {"legal_status": "looked_after_elsewhere", "home_authority": "Bristol City Council",
            "home_authority_email": BRISTOL, **more}  # fmt: skip


async def open_duty(h: Harness, rule: str) -> Duty:
    found = [d for d in await duty_store.open_duties(h.db) if d.rule_id == rule]
    assert len(found) == 1, found
    return found[0]


async def mailto(h: Harness) -> list[OutboxMessage]:
    return [
        m for m in await outbox_store.outbox_messages(h.db) if m.to.kind is RecipientKind.MAILTO
    ]


async def events(h: Harness, kind_prefix: str) -> list[str]:
    rows = await h.db.fetchall(
        "SELECT text FROM events WHERE kind LIKE ? ORDER BY id", (f"{kind_prefix}%",)
    )
    return [row["text"] for row in rows]


class Mail:
    """A delivery whose e-mail service sends, or refuses, what goes to outside addresses."""

    def __init__(self, h: Harness, refuse: str | None = None) -> None:
        self.h, self.refuse = h, refuse
        self.mail: list[OutboxMessage] = []
        h.delivery = OutboxDelivery(h.db, h.clock, self.send)

    async def send(self, message: OutboxMessage) -> None:
        if message.to.kind is RecipientKind.MAILTO:
            if self.refuse:
                raise PermanentDeliveryError(self.refuse)
            self.mail.append(message)
            return
        await self.h._record(message)


async def reported_missing(h: Harness) -> None:
    await h.until(local("2026-11-09 10:00"))
    await h.say("sam", "/absent Jay 09:30 left school")
    await h.say("sam", "/police Jay ref N-1 grade medium")


@pytest.mark.rule("HOST-TELL")
async def test_the_home_authority_is_told_by_email_only_after_the_owner_confirms(tmp_path):
    h = await open_harness(tmp_path, local("2026-11-09 08:00"), "north-somerset", **elsewhere())
    mail = Mail(h)
    try:
        await reported_missing(h)
        host = await open_duty(h, "HOST-TELL")
        assert host.owner_id == "mc"
        draft = await h.say("mc", "/notice Jay home")
        assert f"<{BRISTOL}>" in draft and "Subject: Missing notification" in draft
        assert "Nothing has been sent. To send it: /notice C-0042 home send" in draft
        assert "N-1" in draft and "02/05/2011" in draft
        assert await mailto(h) == [], "nothing is queued by the draft"
        refused = await h.say("priya", "/notice Jay home send")
        assert "Mo's to send" in refused and await mailto(h) == []

        reply = await h.say("mc", "/notice Jay home send")
        assert "Queued" in reply and BRISTOL in reply and host.label in reply
        [sent] = mail.mail
        assert sent.to.ident == BRISTOL and sent.rule_id == "HOST-TELL"
        assert sent.text.startswith("Subject: Missing notification: a child looked after by")
        assert "Bristol City Council" in sent.text and "Mo, missing coordinator" in sent.text
        # what the rule allows: reference, first name, date of birth, police reference; no
        # surname, no place, nothing of the profile
        assert "left school" not in sent.text and "Philomena" not in sent.text
        assert (await duty_store.get_duty(h.db, host.id)).state is DutyState.DONE
        queued, went = await events(h, "notice")
        assert "queued by Mo" in queued and BRISTOL in queued
        assert "sent" in went and BRISTOL in went
        assert any("Sent: the e-mail" in s.text for s in h.to("staff:mc"))

        again = await h.say("mc", "/notice Jay home send")
        assert "not sent twice" in again and len(await mailto(h)) == 1
    finally:
        await h.close()


@pytest.mark.rule("HOST-TELL")
async def test_a_missing_address_says_who_to_ask_and_what_to_type(tmp_path):
    h = await open_harness(tmp_path, local("2026-11-09 08:00"), "north-somerset",
                           **elsewhere(home_authority_email=None))  # fmt: skip
    try:
        await reported_missing(h)
        for text in ("/notice Jay home", "/notice Jay home send"):
            reply = await h.say("mc", text)
            assert "No e-mail address for Bristol City Council" in reply
            assert "Ada" in reply and "home_authority_email" in reply
            assert "whereabouts import team.yaml" in reply and "/notice C-0042 home" in reply
        assert await mailto(h) == []
    finally:
        await h.close()


@pytest.mark.rule("HOST-TELL")
async def test_an_email_that_cannot_go_is_on_the_timeline_and_the_duty_stays_open(tmp_path):
    h = await open_harness(tmp_path, local("2026-11-09 08:00"), "north-somerset", **elsewhere())
    Mail(h, refuse="no e-mail service is running")
    try:
        await reported_missing(h)
        await h.say("mc", "/notice Jay home send")
        [row] = await mailto(h)
        assert row.state == "failed"
        assert "could not be sent: no e-mail service is running" in (await events(h, "notice"))[-1]
        told = [s.text for s in h.to("staff:mc") if "could not be sent" in s.text]
        assert told and "Phone Bristol City Council" in told[0] and "/done D" in told[0]
        assert (await open_duty(h, "HOST-TELL")).state is DutyState.OPEN
        # the reason fixed, it may be sent again
        h.delivery = OutboxDelivery(h.db, h.clock, Mail(h).send)
        assert "Queued" in await h.say("mc", "/notice Jay home send")
    finally:
        await h.close()


@pytest.mark.rule("DIR-LETTER")
async def test_the_directors_letter_goes_by_email_attached_after_the_directors_sign_off(tmp_path):
    h = await open_harness(tmp_path, local("2026-11-02 08:00"), "north-somerset", **elsewhere())
    mail = Mail(h)
    try:
        await h.until(local("2026-11-02 10:00"))
        await h.say("sam", "/absent Jay 09:30 seen getting into a car")
        await h.say("sam", "/police Jay ref N-1 grade high")
        await h.say("priya", "/harm Jay seen with adults known for exploitation")
        letter = await open_duty(h, "DIR-LETTER")
        draft = await h.say("dcs", "/letter Jay")
        assert "To sign it and send it to Bristol City Council" in draft
        assert "/letter C-0042 sign" in draft and await mailto(h) == []
        assert "Only the Director" in await h.say("priya", "/letter Jay sign")
        assert await mailto(h) == []

        reply = await h.say("dcs", "/letter Jay sign")
        assert reply.startswith("Signed. Queued") and BRISTOL in reply
        [sent] = mail.mail
        assert sent.rule_id == "DIR-LETTER" and sent.attachment_id is not None
        attachment = await report_store.get_attachment(h.db, sent.attachment_id)
        assert attachment is not None and attachment.filename.startswith("director-letter-C-0042")
        document = attachment.data.decode()
        assert "Director of Children's Services, Bristol City Council" in document
        assert "Signed: Dee (director)" in document and "Signed in Whereabouts by Dee" in document
        assert (await duty_store.get_duty(h.db, letter.id)).state is DutyState.DONE
        assert "letter signed by Dee" in (await events(h, "notice_queued"))[0]
    finally:
        await h.close()


async def test_the_missing_profile_goes_to_the_police_missing_team_with_the_profile(tmp_path):
    profile = {"description": "tall, red coat", "places": "the skate park"}
    h = await open_harness(tmp_path, local("2026-11-09 08:00"), "buckinghamshire",
                           full_name="Jay Example", profile=profile)  # fmt: skip
    mail = Mail(h)
    try:
        await reported_missing(h)
        draft = await h.say("priya", "/notice Jay profile")
        assert "<MissingBucksandMK@thamesvalley.police.uk>" in draft
        assert "It carries the whole profile" in draft and "B App 2" in draft
        assert await mailto(h) == []
        assert "allocated worker" in await h.say("mc", "/notice Jay profile send")
        await h.say("priya", "/notice Jay profile send")
        [sent] = mail.mail
        assert sent.rule_id == "MIS-NOTIFY"
        # the exception by design: the profile is what the protocol sends the police
        assert "Jay Example" in sent.text and "the skate park" in sent.text
        assert "Subject: Missing Profile: Jay Example" in sent.text
        # the record says what went, not the profile: the weekly pack quotes events
        assert all("Jay Example" not in text for text in await events(h, "notice"))
        assert (
            "Missing Profile e-mailed to the police missing team" in (await events(h, "notice"))[0]
        )
    finally:
        await h.close()


async def test_an_area_without_the_notice_refuses_it(tmp_path):
    h = await open_harness(tmp_path, local("2026-11-09 08:00"), "west-yorkshire")
    try:
        await reported_missing(h)
        assert "sends no e-mail for the Missing Profile" in await h.say(
            "priya", "/notice Jay profile"
        )
        assert "Usage: /notice C-0042 home" in await h.say("priya", "/notice Jay elsewhere")
    finally:
        await h.close()


def test_the_team_file_checks_the_home_authoritys_address():
    with pytest.raises(ValueError, match="not an e-mail address"):
        ChildSpec(ref="C-1", first_name="A", home_authority_email="bristol council")


async def test_a_notice_queued_is_on_the_timeline_with_its_delivery(tmp_path):
    h = await open_harness(tmp_path, local("2026-11-09 08:00"), "north-somerset", **elsewhere())
    Mail(h)
    try:
        await reported_missing(h)
        await h.say("mc", "/notice Jay home send")
        timeline = await h.say("mc", "/timeline Jay")
        assert f"sent a notice by e-mail to {BRISTOL}" in timeline and "delivered" in timeline
        kinds = [e.kind for e in await episode_store.events_for_episode(h.db, 1)]
        assert kinds.index("notice_queued") < kinds.index("notice_sent")
    finally:
        await h.close()


def test_a_notice_to_the_home_authority_may_not_carry_the_profile_or_a_surname():
    from config.presets import Notice

    base = {"rule": "HOST-TELL", "to": "home_authority", "source": "NS §4.1", "subject": "s"}
    for field in ("{profile}", "{full_name}"):
        with pytest.raises(ValueError, match="unknown placeholders"):
            Notice.model_validate({**base, "lines": [f"About {field}"]})
    # only the Missing Profile to the police carries them, by design (B App 2)
    profile = Notice.model_validate(
        {**base, "to": "police_missing_team", "address": "team@police.example.uk",
         "lines": ["{full_name}", "{profile}"]}
    )  # fmt: skip
    assert profile.carries_profile
    with pytest.raises(ValueError, match="on the child's record"):
        Notice.model_validate({**base, "address": "x@example.org", "lines": []})


@pytest.mark.rule("HOST-TELL")
@pytest.mark.rule("DIR-LETTER")
async def test_notices_go_through_govuk_notify_end_to_end(tmp_path):
    """Through the real Notify client to the Notify stand-in: the home authority's notice by
    the e-mail template (subject and body), the Director's letter by the file template."""
    from tests.support.notify_rig import NotifyRig
    from tests.support.notify_standin import EMAIL_FILE_TEMPLATE, EMAIL_TEMPLATE

    rig = await NotifyRig.open(
        tmp_path / "w.db", local("2026-11-02 08:00"), staff=STAFF + SENIORS,
        children=[child(area="north-somerset", **elsewhere())],
    )  # fmt: skip
    h = rig.harness
    try:
        await h.until(local("2026-11-02 10:00"))
        await h.say("sam", "/absent Jay 09:30 seen getting into a car")
        await h.say("sam", "/police Jay ref N-1 grade high")
        await h.say("priya", "/harm Jay seen with adults known for exploitation")
        assert "Queued" in await h.say("mc", "/notice Jay home send")
        assert "Signed. Queued" in await h.say("dcs", "/letter Jay sign")
        mail = [s for s in rig.notify.sent if s["to"] == BRISTOL]
        assert [m["template_id"] for m in mail] == [EMAIL_TEMPLATE, EMAIL_FILE_TEMPLATE]
        notice, letter = (m["personalisation"] for m in mail)
        assert notice["subject"].startswith("Missing notification: a child looked after by")
        assert "N-1" in notice["body"] and "left" not in notice["body"]
        assert "link_to_file" in letter and "Director of Children's Services" in letter["subject"]
        assert {r.state for r in await mailto(h)} == {"sent"}
        assert len(await events(h, "notice_sent")) == 2
        for rule in ("HOST-TELL", "DIR-LETTER"):
            assert not [d for d in await duty_store.open_duties(h.db) if d.rule_id == rule]
    finally:
        await rig.close()
