"""Formal notices by e-mail to someone outside the chat, where the protocol asks for one.

- `/notice <child> home`: the home authority is told that its looked-after child was reported
  missing here (HOST-TELL, NS §4.1; B). The duty's owner sends it.
- `/letter <child> sign`: the Director (or an Assistant Director in their absence) signs the
  letter to the home authority's Director of Children's Services, which goes by e-mail with
  the letter attached as a document (DIR-LETTER, NS §4.3).
- `/notice <child> profile`: the Missing Profile goes to the police's missing persons team
  (B App 2: "The completed profile should be emailed to the Missing Team"). The allocated
  worker (or their team manager) sends it.

Nothing is queued until the named person types the command that sends it: first they see
the draft (to whom, the subject, every line) with that command. The home authority's address
is on the child's record (the team file's `home_authority_email`); the police missing team's
is in the area's preset (`notices.profile.address`). A missing address is a reply saying who
to ask and what to type. What an e-mail may carry is the preset's template, checked against
config/presets.py NOTICE_FIELDS: never the profile, a place or a surname, except the Missing
Profile to the police, which carries the profile by design (it is what the protocol sends).

Every notice is on the timeline: queued (with who confirmed it), then sent or failed, written
by the outbox's delivery (`on_sent`, `on_failed`) in the transaction that records the send.
A duty the notice discharges (HOST-TELL, DIR-LETTER) is closed when the e-mail has gone, not
before; if it cannot go, the sender is told what to do instead and the duty stays open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from config.presets import DutySpec, Notice, NoticeKind, Preset, load_preset
from config.role_words import said
from handlers import episodes
from handlers.context import Step
from handlers.messages import Outcome, Refusal, Reply
from reminders import duties
from reminders.access import action_refusal, may
from reminders.formatting import local_time, profile_text
from storage import child_store, duty_store, episode_store, outbox_store, report_store, staff_store
from storage.db import Reader, Tx
from storage.models import (
    Button,
    Child,
    Duty,
    DutyState,
    Episode,
    MessageUrgency,
    OutboxMessage,
    OutboxState,
    Recipient,
    Role,
    Staff,
)

KEY_PREFIX = "notice:"
_KEY = re.compile(r"^notice:(home|letter|profile):ep(\d+):d(\d+):([^:]+):(\d+)$")
_SIGNERS = frozenset({Role.DIRECTOR, Role.ASSISTANT_DIRECTOR})  # NS §4.3
_SENDERS_OF_PROFILE = frozenset({Role.SOCIAL_WORKER, Role.TEAM_MANAGER})  # B App 2: the worker
_WHAT = {"home": "missing notification", "letter": "Director letter",
         "profile": "Missing Profile"}  # fmt: skip
_TO_WORDS = {"home": "{authority}", "letter": "{authority}", "profile": "the police missing team"}


@dataclass(frozen=True)
class Draft:
    kind: NoticeKind
    notice: Notice
    child: Child
    episode: Episode
    duty: Duty | None
    address: str
    to_words: str
    subject: str
    body: str
    letter: str | None = None  # the signed letter, attached as a document

    @property
    def text(self) -> str:
        """The outbox row's text: the subject line, then the body (the e-mail platform sends
        the first line as the subject)."""
        return f"Subject: {self.subject}\n\n{self.body}"


def _private(step: Step, text: str, *buttons: Button) -> Outcome:
    if step.chat is not None and step.chat.is_group:
        return Outcome(
            [Reply(text, tuple(buttons), private=True), Reply("Sent to you in a direct message.")]
        )
    return Outcome.say(text, *buttons)


async def _admins(tx: Reader) -> str:
    names = [s.name for s in await staff_store.staff_with_role(tx, Role.ADMIN) if s.active]
    return f"an admin ({', '.join(names)})" if names else "whoever keeps the team file"


async def _open_duty(tx: Reader, episode: Episode, rule: str) -> Duty | None:
    for duty in await duty_store.duties_for_episode(tx, episode.id):
        if duty.rule_id == rule and duty.state is DutyState.OPEN:
            return duty
    return None


def _values(
    step: Step, preset: Preset, child: Child, episode: Episode, signed_at: datetime | None = None
) -> dict[str, str]:
    zone = preset.zone
    return {
        "child": child.label,
        "ref": child.ref,
        "first_name": child.first_name,
        "full_name": child.full_name or child.first_name,
        "dob": child.dob.strftime("%d/%m/%Y") if child.dob else "not recorded",
        "authority": child.home_authority or "the home authority",
        "police_ref": episode.police_ref or "not yet given",
        "grade": episode.police_grade.value if episode.police_grade else "not yet given",
        "last_seen": local_time(episode.last_seen_at, zone),
        "reported": (
            local_time(episode.police_reported_at, zone)
            if episode.police_reported_at
            else "not yet reported to the police"
        ),
        "sender": step.staff.name,
        "sender_role": said(step.staff.role),
        "signed_by": f"{step.staff.name} ({said(step.staff.role)})",
        "signed_at": local_time(signed_at or step.now, zone),
        "profile": profile_text(child),
    }


async def _draft(step: Step, tx: Reader, child: Child, kind: NoticeKind) -> Draft:
    """The notice as it would go, or a refusal saying why it cannot and what to do."""
    if not may(step.staff, "letter", child):
        raise Refusal(action_refusal(step.staff, "letter", child))
    preset = step.svc.preset_for(child)
    notice = preset.notices.get(kind)
    if notice is None:
        what = {"home": "the home authority", "letter": "the Director letter",
                "profile": "the Missing Profile"}[kind]  # fmt: skip
        raise Refusal(f"The {preset.name} protocol sends no e-mail for {what}.")
    episode = await episodes.current_episode(tx, child, "send a notice about it")
    duty = await _open_duty(tx, episode, notice.rule)
    values = _values(step, preset, child, episode)
    to_words = _TO_WORDS[kind].format(**values)
    for message, sent_at in reversed(await outbox_store.by_key_prefix(tx, _prefix(kind, episode))):
        if message.state != OutboxState.FAILED:  # one notice per episode, unless it failed
            when = local_time(sent_at or message.created_at, preset.zone)
            state = f"went at {when}" if sent_at else f"was queued at {when} and is on its way"
            raise Refusal(
                f"The e-mail to {to_words} <{message.to.ident}> about {child.label} {state}; "
                f"it is not sent twice. /timeline {child.ref} shows it."
            )
    if kind == "home":
        if duty is None:
            raise Refusal(
                f"No {notice.rule} duty is open for {child.label}: it is made when a child "
                "looked after by another authority is reported missing here. /duties lists yours."
            )
        if duty.owner_id != step.staff.id:
            owner = await staff_store.get_staff(tx, duty.owner_id) if duty.owner_id else None
            whose = f"{owner.name}'s to send" if owner else "nobody's yet"
            raise Refusal(
                f"{duty.label} [{duty.rule_id}] is {whose}: its owner sends this notice. "
                f"/take {duty.label} first if it is yours to do."
            )
    elif kind == "letter":
        if step.staff.role not in _SIGNERS or not may(step.staff, "letter", child):
            raise Refusal(
                "Only the Director, or an Assistant Director in their absence, signs the "
                f"Director letter ({notice.rule}). /letter {child.ref} shows the draft."
            )
        if duty is None:
            raise Refusal(
                f"No {notice.rule} duty is open for {child.label}: no letter is due. "
                f"/letter {child.ref} shows the draft."
            )
    else:
        allocated = {child.social_worker_id, child.team_manager_id} - {None}
        if step.staff.role not in _SENDERS_OF_PROFILE or step.staff.id not in allocated:
            raise Refusal(
                f"The allocated worker sends {child.label}'s Missing Profile to the police "
                "(or their team manager): ask them."
            )
    if notice.to == "home_authority":
        address = child.home_authority_email
        if not address:
            raise Refusal(
                f"No e-mail address for {to_words} is on {child.label}'s record, so nothing was "
                f"sent. Ask {await _admins(tx)} to add home_authority_email to {child.ref} in "
                "the team file and import it (whereabouts import team.yaml); then type "
                f"{_command(kind, child)} again."
            )
    else:
        address = notice.address or ""
        if not address:
            raise Refusal(
                f"The {preset.name} preset names no address for the police missing team, so "
                f"nothing was sent. Ask {await _admins(tx)} to set notices.profile.address in "
                f"config/protocols/{preset.name}.yaml; then type {_command(kind, child)} again."
            )
    subject = notice.subject.format(**values)
    body = "\n".join(line.format(**values) for line in notice.lines)
    letter = None
    if kind == "letter":
        draft = await duties.director_letter(tx, preset, child, step.now)
        letter = _signed(draft, values["signed_by"], values["signed_at"])
    return Draft(kind, notice, child, episode, duty, address, to_words, subject, body, letter)


def _signed(draft: str, by: str, at: str) -> str:
    """The draft with the signature line filled in, and how it was signed."""
    signed = re.sub(r"_{5,}", by, draft, count=1)
    return f"{signed}\n\nSigned in Whereabouts by {by}, {at}."


def _prefix(kind: NoticeKind, episode: Episode) -> str:
    return f"{KEY_PREFIX}{kind}:ep{episode.id}:"


def _command(kind: NoticeKind, child: Child) -> str:
    return f"/letter {child.ref} sign" if kind == "letter" else f"/notice {child.ref} {kind}"


def _send_command(kind: NoticeKind, child: Child) -> str:
    return _command(kind, child) if kind == "letter" else f"/notice {child.ref} {kind} send"


def _shown(draft: Draft) -> str:
    exception = (
        "\nIt carries the whole profile: the protocol sends the Missing Profile to the police "
        f"({draft.notice.source.split(':')[0]})."
        if draft.notice.carries_profile
        else ""
    )
    attached = (
        f"\nAttached: the letter, signed by you (/letter {draft.child.ref} shows it)."
        if draft.letter
        else ""
    )
    return (
        f"Draft e-mail [{draft.notice.rule}] to {draft.to_words} <{draft.address}>:\n"
        f"Subject: {draft.subject}\n\n{draft.body}{attached}{exception}"
    )


async def notice(step: Step, child: Child, kind: NoticeKind, send: bool) -> Outcome:
    """/notice <child> home|profile [send]: the draft, or (with send) queued to go."""
    if not send:
        draft = await _draft(step, step.svc.db, child, kind)
        command = _send_command(kind, child)
        text = f"{_shown(draft)}\n\nNothing has been sent. To send it: {command}"
        return _private(step, text, Button("Send it", command))
    return await _queue(step, child, kind)


async def sign_letter(step: Step, child: Child) -> Outcome:
    """/letter <child> sign: the Director signs the letter, which goes by e-mail, attached."""
    return await _queue(step, child, "letter")


def letter_footer(step: Step, child: Child) -> str:
    """What /letter adds under the draft: how it is signed and sent, and by whom."""
    preset = step.svc.preset_for(child)
    if "letter" not in preset.notices:
        return ""
    address = child.home_authority_email
    to = child.home_authority or "the home authority"
    where = f"{to} <{address}>" if address else f"{to} (no e-mail address on the record yet)"
    if step.staff.role in _SIGNERS:
        return (
            f"\n\nNothing has been sent. To sign it and send it to {where} by e-mail, attached: "
            f"/letter {child.ref} sign"
        )
    return (
        f"\n\nThe Director (or an Assistant Director) signs it and sends it to {where}: "
        f"/letter {child.ref} sign"
    )


async def _queue(step: Step, child: Child, kind: NoticeKind) -> Outcome:
    async with step.svc.db.write() as tx:
        draft = await _draft(step, tx, child, kind)
        prefix = _prefix(kind, draft.episode)
        earlier = await outbox_store.by_key_prefix(tx, prefix)  # each one failed (_draft)
        key = f"{prefix}d{draft.duty.id if draft.duty else 0}:{step.staff.id}:{len(earlier)}"
        attachment_id = None
        if draft.letter is not None:
            day = step.now.astimezone(step.svc.preset_for(child).zone).date().isoformat()
            attachment_id = await report_store.add_attachment(
                tx,
                f"director-letter-{child.ref}-{day}.txt",
                "text/plain",
                draft.letter.encode("utf-8"),
                step.now,
            )
        await outbox_store.enqueue(
            tx,
            idem_key=key,
            recipient=Recipient.mailto(draft.address),
            text=draft.text,
            rule_id=draft.notice.rule,
            now=step.now,
            episode_id=draft.episode.id,
            child_id=child.id,
            attachment_id=attachment_id,
            urgency=_urgency(draft.duty),
        )
        signed = f"letter signed by {step.staff.name}; " if draft.letter else ""
        await episode_store.append_event(
            tx,
            episode_id=draft.episode.id,
            child_id=child.id,
            at=step.now,
            recorded_at=step.now,
            actor_id=step.staff.id,
            kind="notice_queued",
            rule_id=draft.notice.rule,
            text=(
                # what it is, not its subject: the record and the weekly pack quote events
                f"{signed}{_WHAT[kind]} e-mailed to {draft.to_words} <{draft.address}>: "
                f"queued by {step.staff.name}"
            ),
        )
    closes = (
        f"; {draft.duty.label} [{draft.duty.rule_id}] is closed once it has gone"
        if draft.duty
        else ""
    )
    return Outcome.say(
        f"{'Signed. ' if draft.letter else ''}Queued: the e-mail to {draft.to_words} "
        f"<{draft.address}> about {child.label} goes now{closes}. You will hear when it has "
        f"gone, or if it cannot be sent; /timeline {child.ref} shows it."
    ).about(draft.episode.id)


def _urgency(duty: Duty | None) -> MessageUrgency:
    if duty is None:
        return MessageUrgency.ROUTINE
    return MessageUrgency.of(DutySpec.model_validate(duty.spec).urgent)


# ---- after delivery: written by bot/delivery.py in the transaction that records it -------


@dataclass(frozen=True)
class _Sent:
    kind: NoticeKind
    episode_id: int
    duty_id: int
    sender: str


def _parse(message: OutboxMessage) -> _Sent | None:
    found = _KEY.match(message.idem_key)
    if found is None:
        return None
    kind, episode, duty, sender, _ = found.groups()
    return _Sent(kind, int(episode), int(duty), sender)  # type: ignore[arg-type]


def is_notice(message: OutboxMessage) -> bool:
    return _parse(message) is not None


async def _context(
    tx: Tx, message: OutboxMessage
) -> tuple[_Sent, Child, Preset, Staff | None, Duty | None] | None:
    sent = _parse(message)
    if sent is None or message.child_id is None:
        return None
    child = await child_store.get_child(tx, message.child_id)
    if child is None:
        return None
    sender = await staff_store.get_staff(tx, sent.sender)
    duty = await duty_store.get_duty(tx, sent.duty_id) if sent.duty_id else None
    return sent, child, load_preset(child.area), sender, duty


def _to_words(sent: _Sent, child: Child) -> str:
    return _TO_WORDS[sent.kind].format(authority=child.home_authority or "the home authority")


async def on_sent(tx: Tx, message: OutboxMessage, now: datetime) -> None:
    """The e-mail went: on the timeline; the duty it discharges is done; the sender hears."""
    found = await _context(tx, message)
    if found is None:
        return
    sent, child, preset, sender, duty = found
    to = f"{_to_words(sent, child)} <{message.to.ident}>"
    await episode_store.append_event(
        tx, episode_id=sent.episode_id, child_id=child.id, at=now, recorded_at=now,
        actor_id=None, kind="notice_sent", rule_id=message.rule_id, text=f"e-mail to {to} sent",
    )  # fmt: skip
    closed = ""
    if duty is not None and duty.state is DutyState.OPEN and sender is not None:
        await duties.close(tx, preset, now, duty, DutyState.DONE, sender, f"e-mailed to {to}")
        closed = f"; {duty.label} [{duty.rule_id}] is done"
    if sender is not None:
        await outbox_store.enqueue(
            tx,
            idem_key=f"told:{message.idem_key}:sent",  # not a notice: outside its prefix
            recipient=Recipient.staff(sender.id),
            text=f"Sent: the e-mail to {to} about {child.label} went at "
            f"{local_time(now, preset.zone)}{closed}.",
            rules=(message.rule_id,) if message.rule_id else (),
            now=now,
            episode_id=sent.episode_id,
            child_id=child.id,
        )


async def on_failed(tx: Tx, message: OutboxMessage, reason: str, now: datetime) -> None:
    """The e-mail cannot go: on the timeline; the sender hears what to do instead."""
    found = await _context(tx, message)
    if found is None:
        return
    sent, child, preset, sender, duty = found
    to = f"{_to_words(sent, child)} <{message.to.ident}>"
    await episode_store.append_event(
        tx, episode_id=sent.episode_id, child_id=child.id, at=now, recorded_at=now,
        actor_id=None, kind="notice_failed", rule_id=message.rule_id,
        text=f"e-mail to {to} could not be sent: {reason}",
    )  # fmt: skip
    if sender is None:
        return
    if sent.kind == "home":
        instead = f"Phone {_to_words(sent, child)}, then record it: /done D{sent.duty_id} <how>."
    elif sent.kind == "letter":
        instead = (
            f"Send the signed letter another way (/letter {child.ref} shows it), then record "
            f"it: /done D{sent.duty_id} <how>."
        )
    else:
        instead = (
            "Send the profile to the Missing Team another way, then record it: "
            f"/update {child.ref} <how>."
        )
    await outbox_store.enqueue(
        tx,
        idem_key=f"told:{message.idem_key}:failed",
        recipient=Recipient.staff(sender.id),
        text=f"The e-mail to {to} about {child.label} could not be sent ({reason}); nothing "
        f"reached them. {instead}",
        rules=(message.rule_id,) if message.rule_id else (),
        now=now,
        episode_id=sent.episode_id,
        child_id=child.id,
        urgency=_urgency(duty),
    )
