"""Who may talk to the bot: one-time invite codes, and team chats registered by a manager."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from handlers.context import Services
from storage import chats, episode_store, staff_store
from storage.models import Role, Staff

INVITE_LIFETIME = timedelta(hours=72)
REFUSED = "That invite code can't be used. Ask your manager for a new one."
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
        await chats.add_invite(tx, _hash(code), staff_id, now, expires)
    return code, expires


async def redeem(svc: Services, transport: str, external_id: str, code: str) -> Staff | None:
    """Bind this chat identity to the invite's staff member; None if the code can't be used."""
    if not code.strip():
        return None
    now = svc.clock.now()
    async with svc.db.write() as tx:
        staff_id = await chats.claim_invite(tx, _hash(code), now, f"{transport}:{external_id}")
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
        await chats.register_team_chat(tx, transport, chat_id, team, staff.id, svc.clock.now())
    return (
        f"This chat is now the {team} team chat. Alerts for {team} come here, showing a child's "
        "reference and first name only; profiles go by direct message."
    )
