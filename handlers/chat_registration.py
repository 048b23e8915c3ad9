"""Team chats: /register <team> [confirm], /unregister and /chats, the same on every transport.

Who may register which team is reminders.chat_scope's rule. Registering a team that already
has a chat on the platform, or moving a chat registered to another team, asks first: the
answer carries a button and the typed command that confirm it. Once confirmed, the old chat
and the admins are told through the outbox, in the transaction that made the change.
"""

from __future__ import annotations

from handlers.arguments import Typed
from handlers.context import Services, Step
from handlers.messages import NOT_ENROLLED, Chat, Outcome, Refusal, Reply
from reminders import chat_scope
from reminders.chat_scope import Teams
from reminders.formatting import local_time
from storage import chat_store, episode_store, message_keys, outbox_store, staff_store
from storage.db import Tx
from storage.models import Button, Recipient, Role, Staff

CONFIRM = "confirm"
USAGE = "Say which team: /register <team>, e.g. /register oak-house or /register out-of-hours"


def _to_them(text: str) -> Outcome:
    return Outcome([Reply(text, private=True)])


LISTED = 20  # team names a refusal lists; /chats has them all


def _unknown(team: str, teams: Teams) -> str:
    close = teams.close_to(team)
    if close:
        return f"No team '{team}'. Did you mean {' or '.join(close)}?"
    names = sorted(teams.kinds)
    more = f" and {len(names) - LISTED} more (/chats lists them)" if len(names) > LISTED else ""
    return (
        f"No team '{team}'. The teams are the homes and teams on the staff list, out-of-hours "
        f"and managers: {', '.join(names[:LISTED])}{more}."
    )


def _read(words: str) -> tuple[str, bool]:
    """'oak-house confirm' -> ('oak-house', True)."""
    parts = words.split()
    confirmed = bool(parts) and parts[-1].lower() == CONFIRM
    return " ".join(parts[:-1] if confirmed else parts), confirmed


async def register(
    svc: Services, staff: Staff | None, chat: Chat, words: str, where_to: str
) -> Outcome:
    """/register <team> [confirm], typed in `chat`. Not enrolled, or not in a group chat: a
    private reply (`where_to` says where to send it instead, in the platform's words).
    Refused (unknown team, out of scope), or asked to confirm: nothing written, an answer for
    the person. Registered: the answer is for everyone in the chat."""
    if staff is None:
        return _to_them(NOT_ENROLLED)
    if not chat.is_group:
        return _to_them(f"Send /register <team> {where_to}.")
    typed, confirmed = _read(words)
    if not typed:
        return Outcome.refuse(USAGE)
    now = svc.clock.now()
    teams = await chat_scope.load_teams(svc.db, now)
    team = teams.find(typed)
    if team is None:
        return Outcome.refuse(_unknown(typed, teams))
    scope = chat_scope.may_register(staff, team, teams, svc.presets)
    if not scope.allowed:
        return Outcome.refuse(scope.reason)
    async with svc.db.write() as tx:
        current = await chat_store.team_of_chat(tx, chat.transport, chat.chat_id)
        others = [
            c
            for c in (await chat_store.chats_of_team(tx, team)).get(chat.transport, [])
            if c != chat.chat_id
        ]
        if current == team and not others:
            return Outcome.say(f"This chat is already the {team} team chat. Nothing changed.")
        if (current not in (None, team) or others) and not confirmed:
            return _ask(team, current, others, chat.transport)
        for old in others:
            await chat_store.unregister_team_chat(tx, chat.transport, old)
        await chat_store.register_team_chat(tx, chat.transport, chat.chat_id, team, staff.id, now)
        told = await _announce_registration(
            svc, tx, staff, chat, team, current if current != team else None, others
        )
    said = (
        f"This chat is now the {team} team chat. Alerts for {team} come here, showing a "
        "child's reference and first name only; profiles go by direct message."
    )
    if current not in (None, team):
        said += f" It is no longer the {current} chat."
    if others:
        said += f" {team}'s previous chat has been told it no longer is."
    if told:
        said += " The admins have been told."
    return Outcome.say(said)


def _ask(team: str, current: str | None, others: list[str], transport: str) -> Outcome:
    """Nothing written: what confirming would do, with the button and its typed command."""
    lines: list[str] = []
    if current not in (None, team):
        lines.append(
            f"This chat is the {current} team chat. Registering it as {team} moves it: "
            f"{current}'s alerts stop coming here."
        )
    if others:
        lines.append(
            f"{team} already has a chat on {transport}. Registering this one replaces it: "
            f"{team}'s alerts will come here instead, and the old chat will be told."
        )
    command = f"/register {team} {CONFIRM}"
    lines.append(f"To go ahead, press the button or send {command}. The admins will be told.")
    outcome = Outcome.refuse("\n".join(lines))
    outcome.replies = [Reply(outcome.text, (Button(f"Yes, make this the {team} chat", command),))]
    return outcome


async def _admins(tx: Tx) -> list[Staff]:
    return await staff_store.staff_with_role(tx, Role.ADMIN)


async def _notify(svc: Services, tx: Tx, action: str, chat: Chat, to: Recipient, text: str) -> bool:
    now = svc.clock.now()
    return await outbox_store.enqueue(
        tx,
        idem_key=message_keys.chat_notice(action, chat.transport, chat.chat_id, now, to),
        recipient=to,
        text=text,
        now=now,
    )


async def _announce_registration(
    svc: Services,
    tx: Tx,
    staff: Staff,
    chat: Chat,
    team: str,
    moved_from: str | None,
    replaced: list[str],
) -> bool:
    """The old chats and the admins told of a move or a replacement; True if admins were."""
    now = svc.clock.now()
    when = local_time(now, svc.display_zone)
    await episode_store.append_event(
        tx,
        episode_id=None,
        child_id=None,
        at=now,
        recorded_at=now,
        actor_id=staff.id,
        kind="chat_registered",
        text=f"{chat.transport} chat {chat.chat_id} registered as {team}"
        + (f" (moved from {moved_from})" if moved_from else "")
        + (f" (replacing {', '.join(replaced)})" if replaced else ""),
    )
    if moved_from is None and not replaced:
        return False
    for old in replaced:
        await _notify(
            svc,
            tx,
            "replaced",
            chat,
            Recipient.chat(chat.transport, old),
            f"This chat is no longer the {team} team chat: {staff.name} registered another "
            f"chat for {team} at {when}, and {team}'s alerts now go there. If that is wrong, "
            f"a manager of {team} can send /register {team} here.",
        )
    parts = [f"{staff.name} registered a {chat.transport} chat as the {team} team chat."]
    if replaced:
        parts.append(f"It replaces {team}'s previous chat, which has been told.")
    if moved_from is not None:
        left = (await chat_store.chats_of_team(tx, moved_from)).get(chat.transport, [])
        parts.append(f"The chat was {moved_from}'s until now.")
        if not left:
            parts.append(
                f"{moved_from} has no {chat.transport} chat now: its alerts can't reach a "
                f"group there until a manager sends /register {moved_from} in one."
            )
    admins = await _admins(tx)
    for admin in admins:
        await _notify(svc, tx, "registered", chat, Recipient.staff(admin.id), " ".join(parts))
    return bool(admins)


# ---- /unregister and /chats (through the dispatcher) ----------------------------------------


async def unregister(step: Step, typed: Typed) -> Outcome:
    """/unregister, in a team chat: it stops being that team's chat."""
    chat, staff = step.chat, step.staff
    if chat is None or not chat.is_group:
        raise Refusal("Send /unregister in the team chat you want to remove.")
    if chat.team is None:
        raise Refusal("This chat isn't registered to a team: nothing to remove.")
    teams = await chat_scope.load_teams(step.svc.db, step.now)
    team = teams.find(chat.team)
    if team is not None:
        scope = chat_scope.may_register(staff, team, teams, step.svc.presets, removing=True)
        if not scope.allowed:
            raise Refusal(
                f"You can't remove the {team} chat: it isn't in your scope. It can be removed "
                f"by {chat_scope.WHO_REGISTERS[teams.kinds[team]]}, or by an admin."
            )
    elif staff.role not in (chat_scope.SENIOR | {Role.ADMIN}):
        # a team no longer on the staff list: the service's senior managers and admins
        raise Refusal(
            f"The {chat.team} chat can be removed by an admin, the head of service, an "
            "assistant director or the director."
        )
    team = team or chat.team
    async with step.svc.db.write() as tx:
        if not await chat_store.unregister_team_chat(tx, chat.transport, chat.chat_id):
            raise Refusal("This chat isn't registered to a team: nothing to remove.")
        await episode_store.append_event(
            tx,
            episode_id=None,
            child_id=None,
            at=step.now,
            recorded_at=step.now,
            actor_id=staff.id,
            kind="chat_unregistered",
            text=f"{chat.transport} chat {chat.chat_id} removed from {team}",
        )
        left = (await chat_store.chats_of_team(tx, team)).get(chat.transport, [])
        text = f"{staff.name} removed a {chat.transport} chat from the {team} team."
        if not left:
            text += (
                f" {team} has no {chat.transport} chat now: its alerts can't reach a group there"
                f" until a manager sends /register {team} in one."
            )
        admins = await _admins(tx)
        for admin in admins:
            await _notify(step.svc, tx, "removed", chat, Recipient.staff(admin.id), text)
    said = f"This chat is no longer the {team} team chat: {team}'s alerts won't come here."
    if admins:
        said += " The admins have been told."
    return Outcome.say(said)


async def chats(step: Step, typed: Typed) -> Outcome:
    """/chats: which chats receive which team's messages, by direct message."""
    if step.staff.role not in chat_scope.CHAT_LISTERS:
        raise Refusal("/chats is for admins and managers.")
    db = step.svc.db
    registered = await chat_store.team_chats(db)
    teams = await chat_scope.load_teams(db, step.now)
    names = {s.id: s.name for s in await staff_store.list_staff(db)}
    lines = ["Team chats (team, platform, chat, registered by, when):"]
    for c in registered:
        by = names.get(c.registered_by, c.registered_by)
        lines.append(
            f"• {c.team}: {c.transport} {c.chat_id}, by {by}, "
            f"{local_time(c.registered_at, step.svc.display_zone)}"
        )
    if not registered:
        lines.append("• none yet: a manager sends /register <team> in the team's chat.")
    have = {c.team for c in registered}
    without = sorted(name for name in teams.kinds if name not in have)
    if without:
        lines.append(f"No chat: {', '.join(without)}.")
    return Outcome([Reply("\n".join(lines), private=True)])
