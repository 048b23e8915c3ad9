"""Who the bot alerted about an episode, when, whether it reached them, and who took it:
the timeline's alert lines, from the outbox and the climbs (escalations)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from reminders.formatting import local_time, short_time
from storage import escalation_store, outbox_store
from storage.db import Reader
from storage.models import OutboxMessage, OutboxState, RecipientKind


def _delivery(message: OutboxMessage, sent_at: datetime | None, tz: ZoneInfo) -> str:
    if sent_at is not None:
        return f"delivered {short_time(sent_at, tz)}"
    if message.state is OutboxState.MERGED:
        return "delivered with another message"
    if message.state is OutboxState.FAILED:
        return "NOT delivered (failed)"
    return "not delivered yet"


def _asks_to_take(message: OutboxMessage) -> bool:
    return any(b.command.startswith("/ack ") for b in message.buttons)


async def alert_lines(
    r: Reader, episode_id: int, names: dict[str, str], tz: ZoneInfo, now: datetime
) -> list[tuple[datetime, str]]:
    """(when, line) for each message queued about the episode, and for each climb under
    way (not one still to start) that is waiting for someone to take it."""
    lines: list[tuple[datetime, str]] = []
    for message, sent_at in await outbox_store.told_about_episode(r, episode_id):
        to = message.to
        if to.kind is RecipientKind.REDACT:
            continue
        if to.kind is RecipientKind.STAFF:
            who = names.get(to.ident, to.ident)
            what = f"alerted {who}, asked to take it" if _asks_to_take(message) else f"told {who}"
        elif to.kind is RecipientKind.TEAM:
            what = f"told the {to.ident} team chat"
        elif to.kind in (RecipientKind.SMS, RecipientKind.EMAIL):
            how = "by SMS" if to.kind is RecipientKind.SMS else "by e-mail"
            what = f"alerted {names.get(to.ident, to.ident)} {how}"
        elif to.kind is RecipientKind.MAILTO:  # a formal notice (handlers/notices.py)
            what = f"sent a notice by e-mail to {to.ident}"
        else:
            what = "told a group chat"
        rule = f" [{message.rule_id}]" if message.rule_id else ""
        line = f"{local_time(message.created_at, tz)} bot: {what}{rule}, "
        lines.append((message.created_at, line + _delivery(message, sent_at, tz)))
    for climb in await escalation_store.live_escalations(r, episode_id):
        if climb.needs_ack and climb.acked_by is None and climb.started_at <= now:
            since = short_time(climb.started_at, tz)
            lines.append(
                (
                    datetime.max.replace(tzinfo=climb.started_at.tzinfo),
                    f"Nobody has taken the alert yet (out since {since}) [{climb.rule_id}]",
                )
            )
    return lines
