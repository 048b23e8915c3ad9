"""Who may talk to the bot: one-time invite codes.

`start` (/start <code>) is the flow every transport runs; it returns an Outcome whose
replies the transport delivers in its own way. Team chats (/register) are
handlers/chat_registration.py's.
"""

from __future__ import annotations

import difflib
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from handlers.context import Services
from handlers.messages import NOT_ENROLLED, Outcome, Reply
from storage import episode_store, staff_store
from storage.models import Staff

INVITE_LIFETIME = timedelta(hours=72)
REFUSED = "That invite code can't be used. Ask your manager for a new one."
ALREADY_ENROLLED = "You're enrolled. Send /help."
REBIND_REFUSED = (
    "This account is already enrolled as someone else, so that code can't be used here."
    " Send /whoami to see who; the code's owner should use it from their own account."
)


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().encode()).hexdigest()


async def create_invite(
    svc: Services, staff_id: str, add_device: bool = False
) -> tuple[str, datetime]:
    """A fresh one-time code for `staff_id`; only its hash is stored. Redeemed, it replaces
    the person's chat accounts unless `add_device` (a second phone, another platform).
    ValueError for an unknown id (with close matches) or someone who has left."""
    person = await staff_store.get_staff(svc.db, staff_id)
    if person is None:
        ids = [s.id for s in await staff_store.list_staff(svc.db)]
        close = difflib.get_close_matches(staff_id, ids, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"no staff member with id {staff_id!r}{hint}")
    if not person.active:
        raise ValueError(
            f"{person.name} ({staff_id}) has left: no invite for a leaver. If they are back,"
            " set `active: true` for them in the team file and import it."
        )
    code = secrets.token_urlsafe(9)
    now = svc.clock.now()
    expires = now + INVITE_LIFETIME
    async with svc.db.write() as tx:
        await staff_store.add_invite(tx, _hash(code), staff_id, now, expires, add_device)
    return code, expires


@dataclass
class Redeemed:
    staff: Staff | None = None  # None: refused, with `refusal` saying why
    refusal: str = REFUSED
    replaced: list[str] = field(default_factory=list)  # platforms whose old account was unbound


async def redeem_code(svc: Services, transport: str, external_id: str, code: str) -> Redeemed:
    """Bind this chat identity to the invite's staff member, replacing their other accounts
    unless the invite adds a device. An account already bound to someone else is refused and
    the code stays unused for its owner."""
    if not code.strip():
        return Redeemed()
    now = svc.clock.now()
    async with svc.db.write() as tx:
        found = await staff_store.open_invite(tx, _hash(code), now)
        if found is None:
            return Redeemed()
        staff_id, add_device = found
        bound = await staff_store.bound_to(tx, transport, external_id)
        if bound is not None and bound != staff_id:
            return Redeemed(refusal=REBIND_REFUSED)
        if not await staff_store.use_invite(tx, _hash(code), now, f"{transport}:{external_id}"):
            return Redeemed()
        replaced: list[str] = []
        if not add_device:
            others = [
                t for t, e in await staff_store.identities_of(tx, staff_id)
                if (t, e) != (transport, external_id)
            ]  # fmt: skip
            await staff_store.revoke_identities(tx, staff_id, keep=(transport, external_id))
            replaced = sorted(set(others))
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
            text=f"enrolled on {transport}"
            + (f", replacing the account on {', '.join(replaced)}" if replaced else ""),
        )
    return Redeemed(await staff_store.get_staff(svc.db, staff_id), replaced=replaced)


async def redeem(svc: Services, transport: str, external_id: str, code: str) -> Staff | None:
    """Bind this chat identity to the invite's staff member; None if the code can't be used."""
    return (await redeem_code(svc, transport, external_id, code)).staff


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
    done = await redeem_code(svc, transport, external_id, code)
    if done.staff is None:
        refused = _to_them(done.refusal)
        refused.refused = True
        return refused
    text = welcome(done.staff)
    if done.replaced:
        text += (
            f" Your previous account on {', '.join(done.replaced)} is signed out; a second"
            " device needs an invite made with add-device."
        )
    return _to_them(text)


def _to_them(text: str) -> Outcome:
    return Outcome([Reply(text, private=True)])
