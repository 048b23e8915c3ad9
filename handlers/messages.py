"""Transport-neutral messages in and out of the conversation logic."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from reminders.formatting import short_time
from storage.models import Button

NOT_ENROLLED = "You're not enrolled in Whereabouts. Ask your manager for an invite code."


@dataclass(frozen=True)
class Chat:
    """Where a message was typed: a direct chat, or a registered team chat."""

    transport: str
    chat_id: str
    is_group: bool = False
    team: str | None = None  # the team a group chat is registered to


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: tuple[Button, ...] = ()
    private: bool = False  # must go to the sender directly, never to the group it came from


@dataclass
class Outcome:
    replies: list[Reply] = field(default_factory=list)
    refused: bool = False  # nothing was done (a button press lost, a bad command)
    episode_ids: list[int] = field(default_factory=list)  # the episodes the replies are about
    # refused: the report field it is about, by code (a guided_report.ReportField)
    field_code: str | None = None

    def about(self, *episode_ids: int) -> Outcome:
        self.episode_ids.extend(episode_ids)
        return self

    @classmethod
    def say(cls, text: str, *buttons: Button) -> Outcome:
        return cls([Reply(text, tuple(buttons))])

    @classmethod
    def refuse(cls, text: str, field_code: str | None = None) -> Outcome:
        return cls([Reply(text)], refused=True, field_code=field_code)

    @property
    def text(self) -> str:
        return "\n".join(reply.text for reply in self.replies)


class Refusal(Exception):
    """A command that cannot be done now. The message says why and what is allowed instead.

    Raised inside a write transaction, it rolls the transaction back: nothing is written.
    `field_code` names the report field it is about (a guided_report.ReportField), so a form can
    show it against that field.
    """

    def __init__(self, message: str, field_code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field_code = field_code


def recorded_before_restart(what: str, applied_at: datetime, zone: ZoneInfo) -> str:
    """A command replayed after a crash that had been carried out before it: said, not redone."""
    return (
        f"Recorded before a restart, at {short_time(applied_at, zone)}: your {what} is saved "
        "and its alerts go out. Send /status to check it."
    )


def taken_line(label: str, staff_name: str, at: datetime, zone: ZoneInfo) -> str:
    """What a pressed alert gains: which button, who pressed it, when."""
    return f"✔ {label}: {staff_name}, {short_time(at, zone)}"


def split_text(text: str, limit: int) -> list[str]:
    """Cut a long message at line ends into parts a platform accepts (never an empty list)."""
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:  # one very long line: hard cut
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    parts.append(current)
    return parts
