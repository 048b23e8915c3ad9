"""Records as the rest of the code sees them. Storage turns rows into these and back."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import IntEnum, StrEnum
from typing import Any

from storage.snapshot import ClimbContext, ClimbStep


class Role(StrEnum):
    CARER = "carer"
    SOCIAL_WORKER = "social_worker"
    TEAM_MANAGER = "team_manager"
    OUT_OF_HOURS = "out_of_hours"
    OUT_OF_HOURS_MANAGER = "out_of_hours_manager"
    POLICE_LIAISON = "police_liaison"
    IRO = "iro"
    MISSING_COORDINATOR = "missing_coordinator"
    HEAD_OF_SERVICE = "head_of_service"
    ASSISTANT_DIRECTOR = "assistant_director"
    DIRECTOR = "director"
    ADMIN = "admin"


class LegalStatus(StrEnum):
    LOOKED_AFTER = "looked_after"
    CHILD_PROTECTION = "child_protection"
    CHILD_IN_NEED = "child_in_need"
    LOOKED_AFTER_ELSEWHERE = "looked_after_elsewhere"  # looked after by another authority
    NO_PLAN = "no_plan"  # missing from home, no plan: some duties apply only after 24 h (MIS-SIN)

    @property
    def is_looked_after(self) -> bool:
        return self in (LegalStatus.LOOKED_AFTER, LegalStatus.LOOKED_AFTER_ELSEWHERE)


class EpisodeState(StrEnum):
    OPEN = "open"  # the child is not where they should be
    FOUND = "found"  # found or returned; duties may still be open
    FINALISED = "finalised"  # closed by a manager (RET-FINAL)


class EscalationState(StrEnum):
    ACTIVE = "active"  # climbing: the next step is sent at next_at
    ACKED = "acked"  # a person has it; the review asks them at next_at
    CONFIRMING = "confirming"  # asked "still on it?"; climbs again at next_at without an answer
    STOPPED = "stopped"  # what it waited for happened (found, an update)
    DONE = "done"  # the ladder ran out, or its one message went

    @classmethod
    def live(cls) -> tuple[EscalationState, ...]:
        """The states of a climb still under way (one per ladder and episode)."""
        return (cls.ACTIVE, cls.ACKED, cls.CONFIRMING)


class DutyState(StrEnum):
    OPEN = "open"  # overdue is open past its due time
    DONE = "done"
    NOT_APPLICABLE = "not_applicable"


class OutboxState(StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    SENDING = "sending"  # claimed by a delivery pass
    SENT = "sent"
    FAILED = "failed"  # given up: undeliverable, or out of attempts
    MERGED = "merged"  # sent as part of an earlier message to the same person (merged_into)


class MessageUrgency(IntEnum):
    """How soon an outbox message must go, from the rule catalogue's own flag (an urgent
    ladder's climb, an urgent duty): the outbox sends urgent messages ahead of routine ones
    (daily summaries, digests, reminders that can wait). Stored as a number, higher first."""

    ROUTINE = 0
    URGENT = 1

    @classmethod
    def of(cls, urgent: bool) -> MessageUrgency:
        return cls.URGENT if urgent else cls.ROUTINE


class RecipientKind(StrEnum):
    STAFF = "staff"  # a person, by direct message wherever they are enrolled
    TEAM = "team"  # a team's registered group chats
    REDACT = "redact"  # nobody: every platform clears its chat copies of a finalised episode
    CHAT = "chat"  # one group chat on one platform, registered or not ('<transport>:<chat id>')
    SMS = "sms"  # a person by text message, to their verified number ('sms:<staff id>')
    EMAIL = "email"  # a person by e-mail, to their verified address ('email:<staff id>')
    MAILTO = "mailto"  # an outside address a formal notice goes to ('mailto:<address>')


@dataclass(frozen=True)
class Recipient:
    """Who an outbox message is for. Stored as 'staff:<id>', 'team:<name>',
    'chat:<transport>:<chat id>', 'redact', 'sms:<staff id>', 'email:<staff id>' or
    'mailto:<address>'."""

    kind: RecipientKind
    ident: str = ""  # the staff id or team name; empty for REDACT

    @classmethod
    def staff(cls, staff_id: str) -> Recipient:
        return cls(RecipientKind.STAFF, staff_id)

    @classmethod
    def team(cls, team: str) -> Recipient:
        return cls(RecipientKind.TEAM, team)

    @classmethod
    def redact(cls) -> Recipient:
        return cls(RecipientKind.REDACT)

    @classmethod
    def chat(cls, transport: str, chat_id: str) -> Recipient:
        """A chat by its platform's id: a team's old chat told it no longer is one."""
        return cls(RecipientKind.CHAT, f"{transport}:{chat_id}")

    @classmethod
    def sms(cls, staff_id: str) -> Recipient:
        return cls(RecipientKind.SMS, staff_id)

    @classmethod
    def email(cls, staff_id: str) -> Recipient:
        return cls(RecipientKind.EMAIL, staff_id)

    @classmethod
    def mailto(cls, address: str) -> Recipient:
        """An address outside the staff list (another authority, the police missing team)."""
        return cls(RecipientKind.MAILTO, address)

    @property
    def chat_target(self) -> tuple[str, str]:
        """(transport, chat id) of a CHAT recipient, the other half of `chat`."""
        transport, _, chat_id = self.ident.partition(":")
        return transport, chat_id

    @property
    def stored(self) -> str:
        """The stored form (message keys embed it, so it never changes)."""
        return self.kind.value if self.kind is RecipientKind.REDACT else f"{self.kind}:{self.ident}"

    def __str__(self) -> str:
        return self.stored

    @classmethod
    def parse(cls, text: str) -> Recipient:
        """The stored form read back; ValueError for a kind no code sends to."""
        kind, _, ident = text.partition(":")
        try:
            return cls(RecipientKind(kind), ident)
        except ValueError:
            raise ValueError(f"unknown recipient kind {kind!r}") from None


class Category(StrEnum):
    ABSENT = "absent"  # unauthorised absence, not reported to police
    AWAY = "away"  # away from placement without authorisation: whereabouts known
    MISSING = "missing"  # reported to the police


class Concern(StrEnum):
    NONE = "none"
    CARER = "carer"
    POLICE = "police"


class PoliceGrade(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class EndReason(StrEnum):
    """The LCS end reasons (B LCS 'Closing a Missing Person Record')."""

    SELF = "returned_by_self"
    POLICE = "returned_by_police_or_agency"
    SOCIAL_CARE = "found_by_social_care"
    SCHOOL = "found_by_school"
    FAMILY = "found_by_family_or_carers"
    OTHER = "found_by_other"
    DECEASED = "deceased"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


class RhiStatus(StrEnum):
    OFFERED = "offered"
    HELD = "held"
    DECLINED = "declined"  # only the child can decline (J §10.1)


@dataclass(frozen=True)
class Staff:
    id: str
    name: str
    role: Role
    home: str | None = None
    team: str | None = None
    manager_id: str | None = None
    active: bool = True
    email: str | None = None  # never shown in group chats
    phone: str | None = None  # never shown in group chats
    left_at: datetime | None = None  # set when they left (active is then False)
    left_by: str | None = None  # the staff id who recorded it, or None (the command line)
    left_reason: str | None = None


@dataclass(frozen=True)
class Child:
    id: int
    ref: str
    first_name: str
    area: str
    legal_status: LegalStatus
    full_name: str | None = None
    dob: date | None = None
    home: str | None = None
    home_authority: str | None = None
    social_worker_id: str | None = None
    team_manager_id: str | None = None
    iro_id: str | None = None
    profile: dict[str, Any] = field(default_factory=dict)
    cp_chair_id: str | None = None  # child protection conference chair (B LCS §1.9)
    placement_type: str | None = None  # e.g. with_parents (WY §8 "Placement with Parents")
    no_parent_contact: bool = False  # the care plan says the parents are not told (H §6.4.6)
    family: str | None = None  # children of one family share it (H §10.10)
    home_authority_email: str | None = None  # formal notices by e-mail (HOST-TELL, DIR-LETTER)

    @property
    def label(self) -> str:
        """How a child is named in any chat: reference and first name only."""
        return f"{self.ref} {self.first_name}"

    def age_on(self, day: date) -> int | None:
        if self.dob is None:
            return None
        before_birthday = (day.month, day.day) < (self.dob.month, self.dob.day)
        return day.year - self.dob.year - int(before_birthday)


@dataclass(frozen=True)
class Episode:
    id: int
    child_id: int
    area: str
    state: EpisodeState
    category: Category
    concern: Concern
    ever_missing: bool
    last_seen_at: datetime
    last_seen_place: str
    reported_by: str
    reported_at: datetime
    police_ref: str | None = None
    police_grade: PoliceGrade | None = None
    police_reported_at: datetime | None = None
    found_at: datetime | None = None
    end_reason: EndReason | None = None
    found_where: str | None = None
    rhi_status: RhiStatus | None = None
    rhi_by: str | None = None
    finalised_at: datetime | None = None
    finalised_by: str | None = None
    link_group: int | None = None
    version: int = 0


@dataclass(frozen=True)
class Event:
    id: int
    episode_id: int | None
    child_id: int | None
    at: datetime
    recorded_at: datetime
    actor_id: str | None
    kind: str
    rule_id: str | None
    text: str


@dataclass(frozen=True)
class Duty:
    id: int
    episode_id: int | None
    child_id: int
    rule_id: str
    due_at: datetime
    owner_id: str | None
    state: DutyState
    created_at: datetime
    closed_by: str | None = None
    closed_at: datetime | None = None
    note: str | None = None
    owner_role: str | None = None
    action: str = ""
    spec: dict[str, Any] = field(default_factory=dict)
    next_remind_at: datetime | None = None
    reminders: int = 0
    overdue_reminders: int = 0
    manager_told_at: datetime | None = None
    applies_from: datetime | None = None
    version: int = 0

    @property
    def label(self) -> str:
        return f"D{self.id}"

    def overdue(self, now: datetime) -> bool:
        return self.state is DutyState.OPEN and now > self.due_at


@dataclass(frozen=True)
class Button:
    """A button whose press is the same as typing `command`."""

    label: str
    command: str


@dataclass(frozen=True)
class OutboxMessage:
    id: int
    idem_key: str
    recipient: str
    rule_id: str | None
    text: str
    buttons: tuple[Button, ...]
    episode_id: int | None
    child_id: int | None
    created_at: datetime
    due_at: datetime
    attempts: int
    state: OutboxState
    attachment_id: int | None = (
        None  # a file sent with the text (storage.report_store.get_attachment)
    )
    # A message merged from several rows (bot/merging.py): each row as it was queued.
    parts: tuple[OutboxMessage, ...] = ()
    urgency: MessageUrgency = MessageUrgency.ROUTINE  # urgent ones are sent first

    @property
    def to(self) -> Recipient:
        return Recipient.parse(self.recipient)


@dataclass(frozen=True)
class Escalation:
    """One climb of a ladder on one episode (storage.escalation_store)."""

    id: int
    episode_id: int
    child_id: int
    ladder: str
    rule_id: str
    needs_ack: bool
    context: ClimbContext
    steps: tuple[ClimbStep, ...]
    step: int
    repeat: int
    state: EscalationState
    next_at: datetime | None
    started_at: datetime
    acked_by: str | None
    acked_at: datetime | None
    version: int
    cycle: int = 0


@dataclass(frozen=True)
class Attachment:
    id: int
    filename: str
    mime: str
    data: bytes


def buttons_to_json(buttons: tuple[Button, ...] | list[Button]) -> str:
    return json.dumps([{"label": b.label, "command": b.command} for b in buttons])


def buttons_from_json(text: str) -> tuple[Button, ...]:
    return tuple(Button(item["label"], item["command"]) for item in json.loads(text))
