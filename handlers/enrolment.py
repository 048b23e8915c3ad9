"""Who may talk to the bot: one-time invite codes.

`start` (/start <code>) is the flow every transport runs; it returns an Outcome whose
replies the transport delivers in its own way. Team chats (/register) are
handlers/chat_registration.py's.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from handlers.chat_registration import register  # noqa: F401 - /register lives there now
from handlers.context import Services
from handlers.messages import NOT_ENROLLED, Outcome, Reply
from storage import chat_store, episode_store, staff_store
from storage.models import Staff

INVITE_LIFETIME = timedelta(hours=72)
REFUSED = "That invite code can't be used. Ask your manager for a new one."
ALREADY_ENROLLED = "You're enrolled. Send /help."


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().encode()).hexdigest()


async def create_invite(svc: Services, staff_id: str) -> tuple[str, datetime]:
    """A fresh one-time code for `staff_id`; only its hash is stored."""
    if await staff_store.get_staff(svc.db, staff_id) is None:
        raise ValueError(f"no staff member with id {staff_id!r}")
    code = secrets.token_urlsafe(9)
    now = svc.clock.now()
    expires = now + INVITE_LIFETIME
    async with svc.db.write() as tx:
        await chat_store.add_invite(tx, _hash(code), staff_id, now, expires)
    return code, expires


async def redeem(svc: Services, transport: str, external_id: str, code: str) -> Staff | None:
    """Bind this chat identity to the invite's staff member; None if the code can't be used."""
    if not code.strip():
        return None
    now = svc.clock.now()
    async with svc.db.write() as tx:
        staff_id = await chat_store.claim_invite(tx, _hash(code), now, f"{transport}:{external_id}")
        if staff_id is None:
            return None
        await staff_store.bind_identity(tx, transport, external_id, staff_id)
        await staff_store.clear_blocked(tx, transport, external_id)
        await episode_store.append_event(
            tx,
            episode_id=None,
            child_id=None,
            at=now,
            recorded_at=now,
            actor_id=staff_id,
            kind="enrolled",
            text=f"enrolled on {transport}",
        )
    return await staff_store.get_staff(svc.db, staff_id)


def welcome(staff: Staff) -> str:
    where = staff.home or staff.team or "the service"
    return (
        f"Welcome, {staff.name}. You're enrolled as {staff.role.value.replace('_', ' ')}"
        f" ({where}). Send /help for the commands, or /absent to report a child missing."
    )


async def start(
    svc: Services, transport: str, external_id: str, staff: Staff | None, code: str
) -> Outcome:
    """/start <code>: enrol this chat identity. Every reply is for the person alone."""
    if not code.strip():
        return _to_them(NOT_ENROLLED if staff is None else ALREADY_ENROLLED)
    enrolled = await redeem(svc, transport, external_id, code)
    if enrolled is None:
        refused = _to_them(REFUSED)
        refused.refused = True
        return refused
    return _to_them(welcome(enrolled))


def _to_them(text: str) -> Outcome:
    return Outcome([Reply(text, private=True)])
