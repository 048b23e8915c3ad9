"""/contact and /verify: a person's own mobile number and e-mail address for alerts.

A number or address a person adds is sent a six-digit code by that method; it is used for
alerts once the code is typed back (`/verify 123456`) within CODE_LIFE, in at most
MAX_TRIES tries. Only the code's hash is kept (and the text that carried it has the code
blanked once sent). The team file's numbers and addresses are an admin's and count as
verified. All of it is by direct message: typed in a group chat it is refused, and nothing
about anyone's contact details is ever shown there.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from config.addresses import AddressError, normalise_email, normalise_phone
from handlers.arguments import Typed
from handlers.context import Step
from handlers.messages import Outcome, Refusal, Reply
from reminders.formatting import short_time
from reminders.notify_text import with_subject
from storage import contact_store, message_keys, outbox_store, staff_store
from storage.contact_store import Method
from storage.models import Recipient

CODE_LIFE = timedelta(minutes=15)
MAX_TRIES = 5
CODE_DIGITS = 6
METHOD_WORDS = {"sms": Method.SMS, "text": Method.SMS, "mobile": Method.SMS,
                "email": Method.EMAIL, "e-mail": Method.EMAIL}  # fmt: skip
WHAT = {Method.SMS: "mobile number", Method.EMAIL: "e-mail address"}
IN_GROUP = (
    "Send that to me in a direct message: numbers, addresses and codes are never used in a "
    "group chat. (Delete your message here if it shows one.)"
)


def code_hash(staff_id: str, method: Method, code: str) -> str:
    return hashlib.sha256(f"{staff_id}:{method}:{code}".encode()).hexdigest()


def _direct_only(step: Step) -> None:
    if step.chat is not None and step.chat.is_group:
        raise Refusal(IN_GROUP)


async def contact(step: Step, typed: Typed) -> Outcome:
    """/contact [sms|email <number or address>|remove]"""
    if not typed.args:
        text = await listing(step)
        if step.chat is not None and step.chat.is_group:
            return Outcome([Reply(text, private=True), Reply("Sent to you in a direct message.")])
        return Outcome([Reply(text, private=True)])
    _direct_only(step)
    method = METHOD_WORDS.get(typed.args[0].lower())
    if method is None:
        raise Refusal(f"Contact by sms or email. {typed.usage} (on its own: your contact methods)")
    rest = " ".join(typed.args[1:]).strip()
    if not rest:
        raise Refusal(f"Which {WHAT[method]}? /contact {method} <your {WHAT[method]}>")
    if rest.lower() == "remove":
        return await _remove(step, method)
    try:
        address = normalise_phone(rest) if method is Method.SMS else normalise_email(rest)
    except AddressError as exc:
        raise Refusal(str(exc)) from None
    if method is Method.SMS:
        holder = await contact_store.staff_by_phone(step.svc.db, address)
        if holder is not None and holder != step.staff.id:
            raise Refusal(
                "That number is already another person's mobile for alerts, so a reply from it "
                "could not say who is answering. Give your own, or ask an admin."
            )
    code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
    now = step.now
    me = step.staff
    async with step.svc.db.write() as tx:
        await contact_store.start_verification(
            tx, me.id, method, address, code_hash(me.id, method, code), now, now + CODE_LIFE
        )
        body = (
            f"Your Whereabouts code is {code}. Send /verify {code} to the bot in chat within "
            f"{int(CODE_LIFE.total_seconds() // 60)} minutes. Not you? Ignore this message."
        )
        await outbox_store.enqueue(
            tx,
            idem_key=message_keys.contact_code(me.id, method, now, secrets.token_hex(4)),
            recipient=Recipient.sms(me.id) if method is Method.SMS else Recipient.email(me.id),
            text=body if method is Method.SMS else with_subject("Your Whereabouts code", body),
            now=now,
        )
    how = "text" if method is Method.SMS else "e-mail"
    return Outcome(
        [
            Reply(
                f"A code is on its way to {address} by {how}. Send /verify <code> here within "
                f"{int(CODE_LIFE.total_seconds() // 60)} minutes; until then alerts do not use it.",
                private=True,
            )
        ]
    )


async def _remove(step: Step, method: Method) -> Outcome:
    async with step.svc.db.write() as tx:
        removed = await contact_store.remove(tx, step.staff.id, method)
    left = await contact_store.address(step.svc.db, step.staff.id, method)
    if not removed:
        text = f"You had not added a {WHAT[method]} of your own."
    else:
        text = f"Your {WHAT[method]} is removed."
    if left is not None:
        text += f" The team file's ({left}) is still used: ask an admin to change it."
    return Outcome([Reply(text, private=True)])


async def listing(step: Step) -> str:
    """One's own contact methods: chat platforms, number and address, codes awaited."""
    me, db = step.staff, step.svc.db
    platforms = sorted({t for t, _ in await staff_store.identities_of(db, me.id)})
    found = {m.method: m for m in await contact_store.methods_of(db, me.id)}
    lines = [f"Chat: {', '.join(platforms) or 'none'}."]
    for method, word in ((Method.SMS, "SMS"), (Method.EMAIL, "E-mail")):
        if method in found:
            item = found[method]
            lines.append(f"{word}: {item.address} ({item.source}, verified).")
        else:
            lines.append(f"{word}: none. Add one: /contact {method} <your {WHAT[method]}>")
    for pending in await contact_store.pending_of(db, me.id):
        if pending.expires_at > step.now:
            until = short_time(pending.expires_at, step.svc.display_zone)
            lines.append(
                f"Waiting for the code sent to {pending.address}: /verify <code> by {until}."
            )
    lines.append("How alerts reach you: /notify")
    return "\n".join(lines)


async def verify(step: Step, typed: Typed) -> Outcome:
    """/verify <code>: the code sent to a new number or address, typed back."""
    _direct_only(step)
    if not typed.args:
        raise Refusal(f"Which code? {typed.usage}")
    code = typed.args[0].strip()
    me, now = step.staff, step.now
    async with step.svc.db.write() as tx:
        waiting = await contact_store.pending_of(tx, me.id)
        if not waiting:
            raise Refusal(
                "No code is waiting for you. Add a number or address first: "
                "/contact sms <mobile> or /contact email <address>."
            )
        for pending in waiting:
            if pending.expires_at <= now:
                await contact_store.drop_pending(tx, me.id, pending.method)
                continue
            if hmac.compare_digest(pending.code_hash, code_hash(me.id, pending.method, code)):
                await contact_store.verify(tx, me.id, pending.method, pending.address, now)
                return Outcome(
                    [
                        Reply(
                            f"Verified: {pending.address} is your {WHAT[pending.method]} for "
                            "alerts now. /notify shows when it is used.",
                            private=True,
                        )
                    ]
                )
        live = [p for p in waiting if p.expires_at > now]
        if not live:
            return _expired()
        spent = []
        for pending in live:
            await contact_store.count_attempt(tx, me.id, pending.method)
            if pending.attempts + 1 >= MAX_TRIES:
                await contact_store.drop_pending(tx, me.id, pending.method)
                spent.append(pending)
    if spent:
        return Outcome(
            [
                Reply(
                    "Too many wrong codes: that code no longer works. Send /contact "
                    f"{spent[0].method} <your {WHAT[spent[0].method]}> again for a new one.",
                    private=True,
                )
            ]
        )
    tries = MAX_TRIES - max(p.attempts + 1 for p in live)
    return Outcome(
        [Reply(f"That is not the code we sent. {tries} tries left: /verify <code>.", private=True)]
    )


def _expired() -> Outcome:
    """Committed: the expired codes are dropped before the refusal is said."""
    return Outcome(
        [
            Reply(
                "That code has expired. Send /contact sms <mobile> or /contact email <address> "
                "again for a new one.",
                private=True,
            )
        ]
    )
