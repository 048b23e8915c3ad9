"""Texts received back through GOV.UK Notify: "ACK 4821" takes the alert it was sent with.

A reply `ACK <code>` from a person's verified mobile is the same as `/ack` from them about
that alert's child (handlers/episodes.acknowledge), recorded on the timeline "acknowledged
by SMS". Each received text is processed once: its Notify id is recorded in the same
transaction as what it did. An unknown or spent code, or an alert no longer waiting, gets a
reply text saying what to do (a reply never names the child); the chat gets /ack's own
answer. A text from a number nobody has verified is recorded and not answered. A text older
than STALE (the first poll after a long outage) is recorded and not acted on.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from handlers import episodes
from handlers.context import Services, Step
from handlers.messages import Refusal
from storage import (
    child_store,
    contact_store,
    escalation_store,
    notify_store,
    outbox_store,
    staff_store,
)
from storage.db import Tx
from storage.message_keys import MessageKey
from storage.models import Recipient

log = logging.getLogger(__name__)

STALE = timedelta(hours=1)
_ACK = re.compile(r"^\s*ack\b\W*(?P<code>\d{4})\b", re.IGNORECASE)
TAKE_IT = "Reply with the code from the alert (ACK 4821), or open the app."


@dataclass(frozen=True)
class ReceivedText:
    id: str  # Notify's
    from_number: str  # normalised (+447…)
    content: str
    received_at: datetime


def _key(text: ReceivedText, what: str) -> MessageKey:
    return MessageKey(f"sms-in:{text.id}:{what}")


async def _reply(tx: Tx, text: ReceivedText, staff_id: str, words: str, now: datetime) -> None:
    await outbox_store.enqueue(
        tx,
        idem_key=_key(text, "reply"),
        recipient=Recipient.sms(staff_id),
        text=f"Whereabouts: {words}",
        now=now,
    )


async def _settle(svc: Services, text: ReceivedText, outcome: str, staff_id: str | None = None,
                  reply: str | None = None) -> str:  # fmt: skip
    """Record the text as processed (and any reply) in one write; once only."""
    now = svc.clock.now()
    async with svc.db.write() as tx:
        fresh = await notify_store.mark_received(tx, text.id, text.received_at, outcome, now)
        if fresh and staff_id is not None and reply is not None:
            await _reply(tx, text, staff_id, reply, now)
    return outcome


async def handle(svc: Services, text: ReceivedText) -> str:
    """Process one received text; returns what it did (for the record, never its content)."""
    now = svc.clock.now()
    if await notify_store.was_received(svc.db, text.id):
        return "already processed"
    if now - text.received_at > STALE:
        return await _settle(svc, text, "stale")
    staff_id = await contact_store.staff_by_phone(svc.db, text.from_number)
    staff = await staff_store.get_staff(svc.db, staff_id) if staff_id else None
    if staff is None or not staff.active:
        log.info("a text from a number nobody has verified was ignored")
        return await _settle(svc, text, "unknown sender")
    found = _ACK.match(text.content)
    if found is None:
        return await _settle(
            svc, text, "not an ACK", staff.id,
            f"this number only reads ACK replies. {TAKE_IT}",
        )  # fmt: skip
    code = await notify_store.find_ack_code(svc.db, staff.id, found.group("code"))
    if code is None:
        return await _settle(
            svc, text, "unknown code", staff.id,
            f"ACK {found.group('code')} is not a code we sent you. {TAKE_IT}",
        )  # fmt: skip
    esc = await escalation_store.get_escalation(svc.db, code.escalation_id)
    child = await child_store.get_child(svc.db, esc.child_id) if esc else None
    if code.used_at is not None or esc is None or child is None or esc.cycle != code.cycle:
        return await _settle(
            svc, text, "spent code", staff.id,
            f"ACK {code.code} was for an alert that is no longer waiting. Open the app for "
            "the latest.",
        )  # fmt: skip
    step = Step(svc, staff, now)
    taken = False

    async def recorded(tx: Tx, took: bool) -> None:
        nonlocal taken
        outcome = "ack" if took else "nothing waiting"
        if not await notify_store.mark_received(tx, text.id, text.received_at, outcome, now):
            raise _AlreadyDone
        await notify_store.use_ack_code(tx, code, now)
        taken = took
        words = (
            f"you have the alert for {child.ref}. The details and what to do next are in the app."
            if took
            else f"nothing about {child.ref} is waiting for you now. Open the app for the latest."
        )
        await _reply(tx, text, staff.id, words, now)

    try:
        outcome = await episodes.acknowledge(step, child, via="SMS", same_write=recorded)
    except _AlreadyDone:
        return "already processed"
    except Refusal as refusal:
        await _to_chat(svc, text, staff.id, refusal.message, "refused")
        return await _settle(
            svc, text, "refused", staff.id,
            f"ACK {code.code} did not take the alert for {child.ref}: the app says why. "
            "Open it for the latest.",
        )  # fmt: skip
    if not taken:
        return "nothing waiting"
    await _to_chat(svc, text, staff.id, "\n".join(r.text for r in outcome.replies), "answer")
    return "ack"


class _AlreadyDone(Exception):
    """Another poll processed this text first: the acknowledgement is rolled back."""


async def _to_chat(svc: Services, text: ReceivedText, staff_id: str, words: str, what: str) -> None:
    """/ack's own answer (which may name the child) goes to the person's chat, not by text."""
    async with svc.db.write() as tx:
        await outbox_store.enqueue(
            tx,
            idem_key=_key(text, what),
            recipient=Recipient.staff(staff_id),
            text=f"Your text ACK reply: {words}",
            now=svc.clock.now(),
        )
