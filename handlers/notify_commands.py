"""/notify: how alerts reach you beyond chat (SMS, e-mail, after how long), shown and changed.

`/notify` shows your chains for urgent and routine alerts, whose they are (yours, your
role's, the service's) and which methods are skipped for want of a verified number or
address. `/notify urgent chat 0, sms 5` sets yours; `/notify urgent default` goes back to
your role's or the service's. A manager sets a role's: `/notify role out_of_hours urgent
chat 0, sms 2`. Always answered by direct message.
"""

from __future__ import annotations

from handlers.arguments import Typed
from handlers.context import Step
from handlers.messages import Outcome, Refusal, Reply
from reminders import follow_ups, notification_rules
from reminders.notification_rules import METHOD_NAMES, chain_words
from storage import contact_store, notify_store
from storage.models import Role

# Who may set a role's defaults: the managers and the admins.
ROLE_SETTERS = frozenset(
    {Role.TEAM_MANAGER, Role.OUT_OF_HOURS_MANAGER, Role.HEAD_OF_SERVICE,
     Role.ASSISTANT_DIRECTOR, Role.DIRECTOR, Role.ADMIN}
)  # fmt: skip
ADD_METHOD = {"sms": "/contact sms <mobile>", "email": "/contact email <address>"}
WANTING = {"sms": "mobile number", "email": "e-mail address"}


def _private(step: Step, text: str) -> Outcome:
    if step.chat is not None and step.chat.is_group:
        return Outcome([Reply(text, private=True), Reply("Sent to you in a direct message.")])
    return Outcome([Reply(text, private=True)])


async def notify(step: Step, typed: Typed) -> Outcome:
    """/notify [urgent|routine <chain>|default] · /notify role <role> urgent|routine <chain>"""
    if not typed.args:
        return _private(step, await showing(step))
    words = typed.args
    if words[0].lower() == "role":
        return await _set_role(step, typed, words[1:])
    urgency, rest = _urgency(typed, words)
    scope = notify_store.staff_scope(step.staff.id)
    async with step.svc.db.write() as tx:
        if rest.lower() == "default":
            await notify_store.clear_rule(tx, scope, urgency)
        else:
            chain = _chain(rest)
            await notify_store.set_rule(tx, scope, urgency, chain, step.staff.id, step.now)
    return _private(step, "Saved.\n" + await showing(step))


def _urgency(typed: Typed, words: list[str]) -> tuple[str, str]:
    urgency = words[0].lower()
    if urgency not in follow_ups.URGENCIES:
        raise Refusal(
            "Say which alerts: /notify urgent chat 0, sms 5 (or routine). /notify on its own "
            "shows yours."
        )
    rest = " ".join(words[1:]).strip()
    if not rest:
        raise Refusal(f"How? e.g. /notify {urgency} chat 0, sms 5 (or /notify {urgency} default)")
    return urgency, rest


def _chain(text: str) -> notification_rules.Chain:
    try:
        return notification_rules.parse_chain(text)
    except ValueError as exc:
        raise Refusal(f"Not changed: {exc}. e.g. /notify urgent chat 0, sms 5") from None


async def _set_role(step: Step, typed: Typed, words: list[str]) -> Outcome:
    if step.staff.role not in ROLE_SETTERS:
        raise Refusal(
            "Only managers and admins set a role's defaults. Yours: /notify urgent chat 0, sms 5"
        )
    if not words:
        raise Refusal("Which role? /notify role out_of_hours urgent chat 0, sms 2")
    try:
        role = Role(words[0].lower().replace("-", "_"))
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise Refusal(f"There is no role '{words[0]}'. The roles: {roles}.") from None
    urgency, rest = _urgency(typed, words[1:])
    scope = notify_store.role_scope(role.value)
    async with step.svc.db.write() as tx:
        if rest.lower() == "default":
            await notify_store.clear_rule(tx, scope, urgency)
            text = f"{role.value}: {urgency} alerts follow the service's default again."
        else:
            chain = _chain(rest)
            await notify_store.set_rule(tx, scope, urgency, chain, step.staff.id, step.now)
            text = (
                f"{role.value}: {urgency} alerts now go {chain_words(chain)}, for everyone in "
                "that role who has not set their own."
            )
    return _private(step, text)


async def showing(step: Step) -> str:
    """One's chains, whose they are, and what is skipped for want of a verified method."""
    db, me = step.svc.db, step.staff
    preset = next(iter(step.svc.presets.values()))
    lines = []
    skipped: set[str] = set()
    for urgency in follow_ups.URGENCIES:
        decision = await follow_ups.decision_for(db, preset, me.id, urgency == "urgent")
        assert decision is not None
        lines.append(
            f"{urgency.capitalize()} alerts: {chain_words(decision.chain)} ({decision.source})."
        )
        skipped |= set(decision.skipped)
    methods = {str(m.method): m for m in await contact_store.methods_of(db, me.id)}
    for method in ("sms", "email"):
        name = METHOD_NAMES[method]
        if method in methods:
            lines.append(f"{name[0].upper()}{name[1:]}: {methods[method].address} (verified).")
        elif method in skipped:
            lines.append(
                f"{name[0].upper()}{name[1:]} is skipped: you have no verified "
                f"{WANTING[method]}. Add one: {ADD_METHOD[method]}"
            )
    lines.append(
        "Change yours: /notify urgent chat 0, sms 5 (minutes after the alert, if nobody has "
        "taken it); back to the default: /notify urgent default. Chat always goes at once."
    )
    return "\n".join(lines)
