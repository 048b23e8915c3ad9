"""Fewer, better messages: what goes to one person about one episode within a minute goes
as one message.

Done when a delivery pass claims its rows (bot/delivery.py), in the claim's transaction:
the claim takes the first message of each recipient's queue, and the rows that follow it in
that queue, about the same episode, due now and each queued within `WINDOW` of the first,
become one message sent under the first row. Nothing is held back to wait for a merge: only
what is already due together is merged (a report's alert and its gap notices, a burst of
climbs at one sweep, a backlog after an outage). A merged message is as urgent as the most
urgent of its parts (the first, in delivery order: urgent messages come first).

What stays true:
- idempotency: every row keeps its own key; a merged row is 'merged', never queued again;
- order per recipient: only rows next to each other in that recipient's queue merge, so
  nothing overtakes a message about another episode;
- crash safety: the merge commits with the claim. A crash before the send leaves the first
  row pending with the combined text, sent again whole and never merged again (only rows
  on their first attempt merge); the merged rows are not resent;
- a message that cannot be delivered at all: every row it carried is reported undeliverable
  (each climb it carried moves on), not only the first.
Files, the finalised episode's clearing ('redact'), texts and e-mails, and messages about no
episode are never merged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from config.citations import joined_footers, split_footer
from storage import merge_store
from storage.db import Tx
from storage.models import Button, OutboxMessage, OutboxState

# As bot/delivery.py's Undeliverable (which imports this module).
Undeliverable = Callable[[Tx, OutboxMessage, str], Awaitable[None]]

WINDOW = timedelta(minutes=1)
MAX_BUTTONS = 8  # a keyboard a phone can show
MAX_TEXT = 3500  # under Telegram's 4096, with room for "(late by …)"
SEPARATOR = "\n\n"


# A text or an e-mail (GOV.UK Notify) is written whole for its medium: never run together.
_OWN_WORDS = ("sms:", "email:", "mailto:")


def _mergeable(head: OutboxMessage, message: OutboxMessage, text_so_far: int) -> bool:
    return (
        message.recipient == head.recipient
        and not head.recipient.startswith(_OWN_WORDS)
        # first attempts only: a row retried (or resent after a crash) keeps the text it had
        and head.attempts == 1
        and message.attempts == 1
        and message.episode_id is not None
        and message.episode_id == head.episode_id
        and message.attachment_id is None
        and abs(message.created_at - head.created_at) <= WINDOW
        and text_so_far + len(SEPARATOR) + len(message.text) <= MAX_TEXT
    )


def _buttons(messages: Sequence[OutboxMessage]) -> tuple[Button, ...]:
    seen: dict[str, Button] = {}
    for message in messages:
        for button in message.buttons:
            seen.setdefault(button.command, button)
    return tuple(seen.values())[:MAX_BUTTONS]


def plan(claimed: Sequence[OutboxMessage]) -> list[list[OutboxMessage]]:
    """Group claimed rows (oldest first) into the messages to send; a group's first row
    carries it. Pure: `merge_claimed` writes what this decides."""
    groups: list[list[OutboxMessage]] = []
    open_group: dict[str, list[OutboxMessage]] = {}  # recipient -> its last group
    for message in claimed:
        group = open_group.get(message.recipient)
        head = group[0] if group else None
        if (
            group is not None
            and head is not None
            and head.attachment_id is None
            and head.recipient != "redact"
            and _mergeable(head, message, sum(len(m.text) for m in group))
        ):
            group.append(message)
            continue
        group = [message]
        groups.append(group)
        open_group[message.recipient] = group
    return groups


def combined(group: Sequence[OutboxMessage]) -> OutboxMessage:
    head = group[0]
    if len(group) == 1:
        return head
    return replace(
        head,
        text=_joined([m.text for m in group]),
        buttons=_buttons(group),
        parts=tuple(group),
        urgency=max(m.urgency for m in group),
    )


def _joined(texts: list[str]) -> str:
    """The parts one after another; an action line several parts end with ("Take it: /ack
    C-0042") is said once, at the end, and the parts' footers become one footer after it."""
    split = [split_footer(t) for t in texts]
    footers = [f for _, f in split if f is not None]
    body = _joined_bodies([b for b, _ in split])
    return body if not footers else f"{body}\n{joined_footers(footers)}"


def _joined_bodies(texts: list[str]) -> str:
    ends = [t.rsplit("\n", 1) for t in texts]
    tails = [e[1] for e in ends if len(e) == 2]
    common = {tail for tail in tails if tails.count(tail) > 1 and tail.startswith(ACTION_LINES)}
    if not common:
        return SEPARATOR.join(texts)
    kept = [e[0] if len(e) == 2 and e[1] in common else t for e, t in zip(ends, texts, strict=True)]
    return SEPARATOR.join(kept) + "\n" + "\n".join(sorted(common))


ACTION_LINES = ("Take it: ", "Tell us what is happening: ")


MAX_PARTS = 20  # rows looked at after a head; more than fit in MAX_TEXT anyway


def _may_head(message: OutboxMessage) -> bool:
    return (
        message.attempts == 1
        and message.episode_id is not None
        and message.attachment_id is None
        and message.recipient != "redact"
    )


async def merge_claimed(tx: Tx, claimed: list[OutboxMessage], now: datetime) -> list[OutboxMessage]:
    """Merge into each claimed head the rows that follow it in its recipient's queue and are
    due now (in the claim's transaction); returns the messages to send, in claim order."""
    out = []
    for head in claimed:
        group = [head]
        if _may_head(head):
            following = []
            for row, due in await merge_store.following(tx, head, now, MAX_PARTS):
                if not due:
                    break  # a row waiting to retry: nothing after it goes before it
                # as the claim would have left it: tried once, being sent
                following.append(replace(row, attempts=row.attempts + 1, state=OutboxState.SENDING))
            group = plan([head, *following])[0]
        message = combined(group)
        if len(group) > 1:
            await merge_store.absorb(
                tx,
                message.id,
                message.text,
                message.buttons,
                [m.id for m in group[1:]],
                message.urgency,
            )
        out.append(message)
    return out


async def carried(tx: Tx, message: OutboxMessage) -> list[OutboxMessage]:
    """The rows a message carried besides its own (empty unless it was a merge)."""
    return await merge_store.merged_into(tx, message.id)


def for_each_carried(undeliverable: Undeliverable) -> Undeliverable:
    """An undeliverable message is undeliverable for every row it carried."""

    async def each(tx: Tx, message: OutboxMessage, reason: str) -> None:
        await undeliverable(tx, message, reason)
        for row in await carried(tx, message):
            await undeliverable(tx, row, reason)

    return each
