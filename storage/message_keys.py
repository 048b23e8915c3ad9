"""Message idempotency keys: the only place they are built.

A message is queued once per key (the outbox's UNIQUE idem_key), so running the same step
again after a crash, or a retried write, queues nothing new. The strings are stored: they
must stay byte for byte what they have always been, or a message queued before an upgrade
would be queued again after it.

A key about a climb also carries the climb's id, and the step (and repeat) it is about,
which the outbox stores in columns of their own: "who has this climb told" and "which send
was this" are read from those, never parsed back out of the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from storage.db import to_db_time
from storage.models import Recipient


@dataclass(frozen=True)
class MessageKey:
    text: str
    escalation_id: int | None = None
    step: int | None = None  # a climb's step: its sends, and notices about that step
    repeat: int | None = None  # set on a climb's own sends only


@dataclass(frozen=True)
class ClimbSend:
    """One send of a climb: step `step`, repeat `repeat`, to one recipient."""

    escalation_id: int
    step: int
    repeat: int
    to: Recipient


def climb_send(send: ClimbSend, cycle: int) -> MessageKey:
    """The same on a re-run of the step; new after a reset (the next cycle)."""
    return MessageKey(
        f"esc{send.escalation_id}:c{cycle}:s{send.step}:r{send.repeat}:{send.to}",
        send.escalation_id,
        send.step,
        send.repeat,
    )


def climb_cycle_prefix(escalation_id: int, cycle: int) -> str:
    """What every send of one cycle of a climb's keys begins with (climb_send)."""
    return f"esc{escalation_id}:c{cycle}:s"


def climb_confirm_prefix(escalation_id: int) -> str:
    """What every "still on it?" of a climb's keys begins with (climb_confirm)."""
    return f"esc{escalation_id}:confirm:"


def alert_follow_up(escalation_id: int, cycle: int, staff_id: str, method: str) -> MessageKey:
    """An alert's later method (a text, an e-mail) to one person, once per climb cycle; not a
    climb send (no step): nobody is "told" by it, it is the chat alert's echo."""
    return MessageKey(f"esc{escalation_id}:c{cycle}:via:{method}:{staff_id}", escalation_id)


def held_update(episode_id: int, event: str, at: datetime, to: Recipient) -> MessageKey:
    """The holder of an episode told of a change (a concern raised, a police report)."""
    return MessageKey(f"ep{episode_id}:held:{event}:{int(at.timestamp())}:{to}")


def held_update_prefix(episode_id: int) -> str:
    return f"ep{episode_id}:held:"


def nobody_at_all(escalation_id: int, cycle: int, step: int, to: Recipient) -> MessageKey:
    """A manager told that a dead end had nobody on the rota and no admin to hear of it."""
    return MessageKey(f"esc{escalation_id}:c{cycle}:nobody:s{step}:{to}", escalation_id)


# ---- a climb's other messages ----------------------------------------------------------


def climb_gap(escalation_id: int, cycle: int, step: int, to: Recipient) -> MessageKey:
    """A supervisor told that a step had nobody to tell."""
    return MessageKey(f"esc{escalation_id}:c{cycle}:gap:s{step}:{to}", escalation_id, step)


def climb_unreachable(send: ClimbSend, cycle: int, to: Recipient) -> MessageKey:
    """A supervisor told that a send could not reach its recipient."""
    text = (
        f"esc{send.escalation_id}:c{cycle}:unreachable:s{send.step}:r{send.repeat}:{send.to}:{to}"
    )
    return MessageKey(text, send.escalation_id, send.step)


def climb_exhausted(escalation_id: int, version: int, to: Recipient) -> MessageKey:
    return MessageKey(f"esc{escalation_id}:exhausted:{version}:{to}", escalation_id)


def climb_broken(escalation_id: int, version: int, admin_id: str) -> MessageKey:
    return MessageKey(f"esc{escalation_id}:broken:v{version}:{admin_id}", escalation_id)


def climb_confirm(escalation_id: int, version: int) -> MessageKey:
    return MessageKey(f"esc{escalation_id}:confirm:v{version}", escalation_id)


def climb_escalated(escalation_id: int, version: int, holder_id: str) -> MessageKey:
    return MessageKey(f"esc{escalation_id}:escalated:v{version}:{holder_id}", escalation_id)


def climb_taken(escalation_id: int, version: int, to: Recipient) -> MessageKey:
    """Who has it now, keyed by the first climb the acknowledgement took."""
    return MessageKey(f"esc{escalation_id}:taken:v{version}:{to}", escalation_id)


def late_taken(episode_id: int, at: datetime, who_id: str, to: Recipient) -> MessageKey:
    """Who has it now, when only climbs that had run out were taken."""
    return MessageKey(f"ep{episode_id}:taken:{int(at.timestamp())}:{who_id}:{to}")


# ---- episodes -----------------------------------------------------------------------------


def found(episode_id: int, to: Recipient) -> MessageKey:
    return MessageKey(f"ep{episode_id}:found:{to}")


def redact(episode_id: int) -> MessageKey:
    return MessageKey(f"ep{episode_id}:redact")


def call_me(episode_id: int, event_id: int) -> MessageKey:
    return MessageKey(f"ep{episode_id}:callme:{event_id}")


# ---- duties -------------------------------------------------------------------------------


def duty_reminder(duty_id: int, reminders: int, to: Recipient) -> MessageKey:
    return MessageKey(f"duty{duty_id}:n{reminders}:{to}")


def duty_manager(duty_id: int, to: Recipient) -> MessageKey:
    return MessageKey(f"duty{duty_id}:manager:{to}")


def duty_admin(duty_id: int, at: datetime, admin_id: str) -> MessageKey:
    return MessageKey(f"duty{duty_id}:admin:{to_db_time(at)}:{admin_id}")


def duty_unowned(duty_id: int, at: datetime, to: Recipient) -> MessageKey:
    """A duty (made, re-owned or chased) that nobody owns: told at once to who can take it."""
    return MessageKey(f"duty{duty_id}:unowned:{to_db_time(at)}:{to}")


def duty_taken(duty_id: int, at: datetime, to: Recipient) -> MessageKey:
    """The duty's previous owner told someone took it (/take)."""
    return MessageKey(f"duty{duty_id}:taken:{to_db_time(at)}:{to}")


# ---- the morning digest: one message per person and office opening -------------------------


def digest(staff_id: str, send_at: datetime) -> MessageKey:
    return MessageKey(f"digest:{staff_id}:{to_db_time(send_at)}")


# ---- the Assistant Director's alerts: one per topic and person ----------------------------


def duty_made_topic(duty_id: int) -> str:
    return f"made:{duty_id}"


def duty_done_topic(duty_id: int) -> str:
    return f"done:{duty_id}"


def context_topic(episode_id: int, at: datetime) -> str:
    return f"context:{episode_id}:{at.isoformat()}"


def assistant_director(topic: str, person_id: str) -> MessageKey:
    return MessageKey(f"sum-ad:{topic}:{person_id}")


# ---- the managers' reports ----------------------------------------------------------------


def report(job: str, day: date, to: Recipient) -> MessageKey:
    return MessageKey(f"{job}:{day}:{to}")


def report_file(job: str, day: date, to: Recipient, filename: str) -> MessageKey:
    return MessageKey(f"{job}:{day}:{to}:{filename}")


def chart(staff_id: str, stamp: str) -> MessageKey:
    return MessageKey(f"chart:{staff_id}:{stamp}")


# ---- team chats -----------------------------------------------------------------------------


def chat_notice(
    action: str, transport: str, chat_id: str, at: datetime, to: Recipient
) -> MessageKey:
    """A chat registered, moved, replaced or removed: told to its old chat and the admins."""
    return MessageKey(f"chat:{action}:{transport}:{chat_id}:{to_db_time(at)}:{to}")


# ---- contact methods ------------------------------------------------------------------------

CONTACT_CODE = "contact-code:"


def contact_code(staff_id: str, method: str, at: datetime, nonce: str) -> MessageKey:
    """A verification code sent to a number or address a person added (not yet verified:
    it goes to the number waiting for its code, not the verified one); one per request."""
    return MessageKey(f"{CONTACT_CODE}{method}:{staff_id}:{to_db_time(at)}:{nonce}")


# ---- the rota -----------------------------------------------------------------------------


def rota_notice(audit_id: int, staff_id: str) -> MessageKey:
    """A person told of a rota change that moved them (one audit entry, one message each)."""
    return MessageKey(f"rota:{audit_id}:{staff_id}")


def rota_put_on(shift_id: int, staff_id: str) -> MessageKey:
    """A person told a manager has put them on the rota."""
    return MessageKey(f"rota:on:{shift_id}:{staff_id}")


def rota_swap(swap_id: int, what: str) -> MessageKey:
    """A swap asked of a colleague ('ask'), and its answer to the asker ('answer')."""
    return MessageKey(f"rota:swap:{swap_id}:{what}")


def myshifts(staff_id: str, stamp: str) -> MessageKey:
    """A person's calendar file of their shifts and duties (/myshifts)."""
    return MessageKey(f"myshifts:{staff_id}:{stamp}")


def rota_gaps(run: str, to: Recipient) -> MessageKey:
    """The gap forecast: daily ('daily:<date>') or after a change ('<date>:<what it lists>')."""
    return MessageKey(f"rota-gaps:{run}:{to}")
