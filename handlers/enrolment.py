"""Who may talk to the bot: one-time invite codes, and team chats registered by a manager.

`start` (/start <code>) and `register` (/register <team>) are the flows every transport
runs; each returns an Outcome whose replies the transport delivers in its own way.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from handlers.context import Services
from handlers.messages import NOT_ENROLLED, Chat, Outcome, Reply
from storage import chat_store, episode_store, staff_store
from storage.models import Role, Staff

INVITE_LIFETIME = timedelta(hours=72)
REFUSED = "That invite code can't be used. Ask your manager for a new one."
ALREADY_ENROLLED = "You're enrolled. Send /help."
# Roles that may register a team chat.
REGISTRARS = frozenset(
    {Role.ADMIN, Role.TEAM_MANAGER, Role.OUT_OF_HOURS_MANAGER, Role.HEAD_OF_SERVICE}
)


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


async def register_chat(
    svc: Services, staff: Staff, transport: str, chat_id: str, team: str
) -> str:
    if staff.role not in REGISTRARS:
        return "Only an admin or a manager can register a team chat."
    team = team.strip().lower()
    if not team:
        return (
            "Say which team: /register <team>, e.g. /register oak-house or /register out-of-hours"
        )
    async with svc.db.write() as tx:
        await chat_store.register_team_chat(tx, transport, chat_id, team, staff.id, svc.clock.now())
    return (
        f"This chat is now the {team} team chat. Alerts for {team} come here, showing a child's "
        "reference and first name only; profiles go by direct message."
    )


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


async def register(
    svc: Services, staff: Staff | None, chat: Chat, team: str, where_to: str
) -> Outcome:
    """/register <team>, typed in `chat`. Not enrolled, or not in a team chat: a private
    reply (`where_to` says where to send it instead, in the platform's words). Not allowed,
    or no team named: refused. Registered: the answer is for everyone in the chat."""
    if staff is None:
        return _to_them(NOT_ENROLLED)
    if not chat.is_group:
        return _to_them(f"Send /register <team> {where_to}.")
    answer = await register_chat(svc, staff, chat.transport, chat.chat_id, team)
    if staff.role not in REGISTRARS or not team.strip():
        return Outcome.refuse(answer)
    return Outcome.say(answer)


def _to_them(text: str) -> Outcome:
    return Outcome([Reply(text, private=True)])
