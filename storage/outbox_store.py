"""SQL for the outbox: messages queued in the transaction that caused them, sent after."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from config.citations import footer
from storage.db import (
    Database,
    Reader,
    Row,
    Tx,
    from_db_time,
    from_db_time_set,
    to_db_time,
    write_alone,
)
from storage.message_keys import ClimbSend, MessageKey
from storage.models import (
    Button,
    MessageUrgency,
    OutboxMessage,
    OutboxState,
    Recipient,
    buttons_from_json,
    buttons_to_json,
)


def _outbox(row: Row) -> OutboxMessage:
    return OutboxMessage(
        id=row["id"],
        idem_key=row["idem_key"],
        recipient=row["recipient"],
        rule_id=row["rule_id"],
        text=row["text"],
        buttons=buttons_from_json(row["buttons_json"]),
        episode_id=row["episode_id"],
        child_id=row["child_id"],
        created_at=from_db_time_set(row["created_at"]),
        due_at=from_db_time_set(row["due_at"]),
        attempts=row["attempts"],
        state=OutboxState(row["state"]),
        attachment_id=row["attachment_id"],
        urgency=MessageUrgency(row["urgency"]),
    )


def tagged(rules: Sequence[str], text: str, area: str | None = None) -> str:
    """A message's text, then a footer line naming the rules it is sent for and the area's
    sections ('ABS-OOH · West Yorkshire §8'): the person reads what to do first."""
    return f"{text}\n{footer(rules, area)}"


async def _area_of(tx: Tx, child_id: int | None, episode_id: int | None) -> str | None:
    """The area whose protocol a message about this child (or episode) cites."""
    if child_id is not None:
        row = await tx.fetchone("SELECT area FROM children WHERE id = ?", (child_id,))
    elif episode_id is not None:
        row = await tx.fetchone("SELECT area FROM episodes WHERE id = ?", (episode_id,))
    else:
        return None
    return None if row is None else str(row["area"])


async def enqueue(
    tx: Tx,
    *,
    idem_key: MessageKey | str,
    recipient: Recipient | str,
    text: str,
    now: datetime,
    rules: Sequence[str] = (),
    rule_id: str | None = None,
    episode_id: int | None = None,
    child_id: int | None = None,
    buttons: Sequence[Button] = (),
    due_at: datetime | None = None,
    attachment_id: int | None = None,
    urgency: MessageUrgency = MessageUrgency.ROUTINE,
) -> bool:
    """Queue a message once per idempotency key; False if that key was already queued.

    `rules`: the rules it is sent for. Their ids and the child's area's sections end the
    text in a footer (`tagged`), and the first is stored as its rule. `rule_id` instead: a message whose text is kept as given (a report
    that names its rules itself, a file), or none.
    `due_at` is when the rule wanted it sent (a timer's due time); delivery marks it late
    by the difference when a restart or an outage held it back.
    `urgency`: from the rule catalogue (an urgent ladder's climb, an urgent duty); urgent
    messages are claimed ahead of routine ones (`claim_outbox`).
    """
    if rules:
        if rule_id is not None:
            raise ValueError("give the rules a message is sent for, or its rule id: not both")
        area = await _area_of(tx, child_id, episode_id)
        text, rule_id = tagged(rules, text, area), rules[0]
    key = idem_key if isinstance(idem_key, MessageKey) else MessageKey(idem_key)
    cursor = await tx.execute(
        "INSERT INTO outbox (idem_key, episode_id, child_id, recipient, rule_id, text,"
        " buttons_json, created_at, due_at, next_attempt_at, attachment_id,"
        " escalation_id, escalation_step, escalation_repeat, urgency)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(idem_key) DO NOTHING",
        (
            key.text,
            episode_id,
            child_id,
            str(recipient),
            rule_id,
            text,
            buttons_to_json(list(buttons)),
            to_db_time(now),
            to_db_time(due_at or now),
            to_db_time(now),
            attachment_id,
            key.escalation_id,
            key.step,
            key.repeat,
            int(urgency),
        ),
    )
    return cursor.rowcount == 1


# A message that has failed this many times stops holding later ones to its recipient: it
# keeps retrying on its own, but a more urgent alert behind it is not kept waiting for hours.
HOLDS_ORDER_FOR = 7  # attempts: about four minutes of backoff (2 + 4 + … + 128 s)


# The claim, in words (the PostgreSQL engine runs it in turn with the other instances'
# claims, storage/claims.py):
#
# Delivery order is most urgent first, then oldest first (by id). "p comes before o" below
# means p.urgency > o.urgency, or the same urgency and p.id < o.id. So an urgent message may
# overtake a routine one to the same person; two urgent ones (or two routine ones) keep the
# order they were queued in.
#
# A pending message `o`, due now, is claimed only when it is the first of its recipient's
# queue:
#   (a) nothing to its recipient is being sent ('sending'): one message in flight per
#       recipient, so concurrent sends (delivery lanes, a second instance) keep its order;
#   (b) no pending message to its recipient comes before it and is either due now (that one
#       goes first) or waiting to retry with fewer than HOLDS_ORDER_FOR attempts (hold
#       behind a failed message; after that many it no longer holds the queue);
#   (c) the clearing of a finalised episode ('redact', RET-FINAL) waits until everything
#       queued before it for that episode has gone: a profile sent after it would never be
#       deleted.
# At most one message per recipient is claimed; bot/merging.py adds the rows that follow it
# in that recipient's queue when they merge into it.
#
# How, in two steps, because the claim runs in the write transaction every command waits for
# and its cost must not grow with the backlog:
#   1. The front: the first NEAR due rows in delivery order (the outbox_claim index), read a
#      short page first, then the rest, until enough are claimed. The
#      first of each recipient's rows there whose recipient has nothing in flight is a
#      candidate (a, and the due half of b); candidates are claimed in order, `limit` at a
#      time, by a statement that checks them against (a)-(c) in full. When many people have
#      something waiting (a summary to everyone) that is all it takes.
#   2. Only if that found fewer than asked and there are due rows beyond the front, the front
#      belongs to people with a message in flight (at 03:00 the out-of-hours worker gets every
#      alert, hundreds deep). Reading on row by row would read that whole backlog;
#      `_CLAIM_HEADS` instead steps from one waiting recipient to the next (the
#      outbox_waiting index, migration 0023) and takes each one's head: one probe per
#      person, however deep their queue. Step 1 has claimed everything it could claim in
#      the front and step 2's heads lie beyond it, so together they are the first `limit`
#      in delivery order.
NEAR = 256
FRONT_PAGE = 32

_CONDITIONS = """
      -- (a) one in flight per recipient
      AND NOT EXISTS (SELECT 1 FROM outbox s
                      WHERE s.recipient = o.recipient AND s.state = 'sending')
      -- (b) the first of its recipient's queue, or held behind a failed message: first
      --     a more urgent one, then an older one of the same urgency
      AND NOT EXISTS (SELECT 1 FROM outbox p
                      WHERE p.recipient = o.recipient AND p.state = 'pending'
                        AND p.urgency > o.urgency
                        AND (p.next_attempt_at <= ? OR p.attempts < ?))
      AND NOT EXISTS (SELECT 1 FROM outbox p
                      WHERE p.recipient = o.recipient AND p.state = 'pending'
                        AND p.urgency = o.urgency AND p.id < o.id
                        AND (p.next_attempt_at <= ? OR p.attempts < ?))
"""
# (c) a finalised episode's clearing goes after everything queued before it
_CLEARING_LAST = """
      AND NOT (o.recipient = 'redact' AND EXISTS (SELECT 1 FROM outbox q
                      WHERE q.episode_id = o.episode_id AND q.id < o.id
                        AND q.state IN ('pending', 'sending')))
"""
_CLAIMED = "UPDATE outbox SET state = 'sending', claimed_at = ?, attempts = attempts + 1"

# The scan walks outbox_claim in delivery order and stops at the limit, rather than sorting
# every due row first (named for SQLite's planner, which without statistics would take
# outbox_pending's range on next_attempt_at instead). Parameters: now, limit, offset.
_FRONT = """
SELECT id, recipient FROM outbox INDEXED BY outbox_claim
WHERE state = 'pending' AND next_attempt_at <= ?
ORDER BY urgency DESC, id LIMIT ? OFFSET ?
"""
_IN_FLIGHT = "SELECT DISTINCT recipient FROM outbox WHERE state = 'sending'"


def _claim_these(count: int) -> str:
    """Claims those of `count` candidates (ids) that (a)-(c) allow, up to a limit, in order.
    Parameters: now (claimed_at), the ids, now and HOLDS_ORDER_FOR for each half of (b),
    limit."""
    marks = ", ".join("?" * count)
    return f"""
{_CLAIMED}
WHERE id IN (
    SELECT o.id FROM outbox o
    WHERE o.id IN ({marks}) AND o.state = 'pending' {_CONDITIONS} {_CLEARING_LAST}
    ORDER BY o.urgency DESC, o.id
    LIMIT ?
)
RETURNING *
"""


# `waiting` steps through the recipients with anything pending, one index probe each (the
# index is named because SQLite's planner, without statistics, would take outbox_claim and
# read every pending row; PostgreSQL's chooses for itself); for each without a message in
# flight (a), its head is the first pending message in delivery order that is due or still
# holds the queue (b); a head that is due is claimed, unless (c). Parameters: now
# (claimed_at), now and HOLDS_ORDER_FOR for the head, now (due), limit.
_CLAIM_HEADS = f"""
{_CLAIMED}
WHERE id IN (
    WITH RECURSIVE waiting(recipient) AS (
        SELECT * FROM (SELECT recipient FROM outbox INDEXED BY outbox_waiting
                       WHERE state = 'pending' ORDER BY recipient LIMIT 1) AS lowest
        UNION ALL
        SELECT (SELECT n.recipient FROM outbox n INDEXED BY outbox_waiting
                WHERE n.state = 'pending' AND n.recipient > w.recipient
                ORDER BY n.recipient LIMIT 1)
        FROM waiting w WHERE w.recipient IS NOT NULL
    ),
    heads(id) AS (
        SELECT (SELECT p.id FROM outbox p INDEXED BY outbox_waiting
                WHERE p.recipient = w.recipient AND p.state = 'pending'
                  AND (p.next_attempt_at <= ? OR p.attempts < ?)
                ORDER BY p.urgency DESC, p.id LIMIT 1)
        FROM waiting w
        WHERE w.recipient IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM outbox s
                          WHERE s.recipient = w.recipient AND s.state = 'sending')
    )
    SELECT o.id FROM heads h JOIN outbox o ON o.id = h.id
    WHERE o.next_attempt_at <= ? {_CLEARING_LAST}
    ORDER BY o.urgency DESC, o.id
    LIMIT ?
)
RETURNING *
"""


def delivery_order(message: OutboxMessage) -> tuple[int, int]:
    """The order messages go in: most urgent first, then oldest first."""
    return (-message.urgency, message.id)


async def claim_outbox(tx: Tx, now: datetime, limit: int) -> list[OutboxMessage]:
    """Mark up to `limit` due messages as being sent, at most one per recipient (the first of
    its queue), and return them in delivery order (see the claim, in words, above)."""
    when = to_db_time(now)
    holds = (when, HOLDS_ORDER_FOR)
    taken = {row["recipient"] for row in await tx.fetchall(_IN_FLIGHT)}
    rows: list[Row] = []
    read, more = 0, True
    while more and read < NEAR and len(rows) < limit:
        # most claims find what they need in a first short page; then the rest of the front
        wanted = FRONT_PAGE if read == 0 else NEAR - read
        page = await tx.fetchall(_FRONT, (when, wanted, read))
        read += len(page)
        more = len(page) == wanted  # there may be due rows beyond what has been read
        candidates = []
        for row in page:
            if row["recipient"] not in taken:
                taken.add(row["recipient"])
                candidates.append(row["id"])
        while candidates and len(rows) < limit:
            want = limit - len(rows)
            batch, candidates = candidates[:want], candidates[want:]
            rows += await tx.fetchall(
                _claim_these(len(batch)), (when, *batch, *holds, *holds, want)
            )
    if len(rows) < limit and more:
        rows += await tx.fetchall(_CLAIM_HEADS, (when, *holds, when, limit - len(rows)))
    return sorted((_outbox(row) for row in rows), key=delivery_order)


async def release_claim(tx: Tx, message_id: int, retry_at: datetime) -> None:
    """Put a claimed message back unsent and uncounted: an earlier one to its recipient failed."""
    await tx.execute(
        "UPDATE outbox SET state = 'pending', attempts = attempts - 1, next_attempt_at = ?,"
        " claimed_at = NULL WHERE id = ? AND state = 'sending'",
        (to_db_time(retry_at), message_id),
    )


async def retry_time(r: Reader, message_id: int) -> datetime | None:
    """When a message that failed will be tried again (None: sent, or given up)."""
    row = await r.fetchone(
        "SELECT next_attempt_at FROM outbox WHERE id = ? AND state = 'pending'", (message_id,)
    )
    return from_db_time_set(row["next_attempt_at"]) if row else None


async def mark_sent(w: Tx | Database, message_id: int, now: datetime) -> None:
    await write_alone(
        w,
        "UPDATE outbox SET state = 'sent', sent_at = ?, last_error = NULL WHERE id = ?",
        (to_db_time(now), message_id),
    )


async def mark_retry(tx: Tx, message_id: int, retry_at: datetime, error: str) -> None:
    await tx.execute(
        "UPDATE outbox SET state = 'pending', next_attempt_at = ?, last_error = ? WHERE id = ?",
        (to_db_time(retry_at), error[:500], message_id),
    )


async def mark_failed(tx: Tx, message_id: int, error: str) -> None:
    await tx.execute(
        "UPDATE outbox SET state = 'failed', last_error = ? WHERE id = ?",
        (error[:500], message_id),
    )


# A claim is live while its instance's heartbeat is fresh and its lease (claimed_at, renewed
# as the delivery pass goes) has not run out; only then is it left alone by recovery.
_DEAD_CLAIM = (
    "state = 'sending' AND (claimed_at IS NULL OR claimed_at < ? OR claimed_by IS NULL"
    " OR claimed_by NOT IN (SELECT id FROM instances WHERE heartbeat_at >= ?))"
)


async def release_stale_claims(tx: Tx, now: datetime, lease: timedelta, stale: timedelta) -> int:
    """Rows left 'sending' by an instance that died (its heartbeat older than `stale`, or
    none), or whose claim was not renewed within `lease`, go back to pending (sent again
    under the same key). Another live instance's messages in flight are left alone."""
    cursor = await tx.execute(
        "UPDATE outbox SET state = 'pending', claimed_at = NULL, claimed_by = NULL"
        f" WHERE {_DEAD_CLAIM}",
        (to_db_time(now - lease), to_db_time(now - stale)),
    )
    return cursor.rowcount


async def has_stale_claims(r: Reader, now: datetime, lease: timedelta, stale: timedelta) -> bool:
    """Whether `release_stale_claims` would release anything (a read: no commit when not)."""
    row = await r.fetchone(
        f"SELECT 1 FROM outbox WHERE {_DEAD_CLAIM} LIMIT 1",
        (to_db_time(now - lease), to_db_time(now - stale)),
    )
    return row is not None


async def stamp_claims(tx: Tx, message_ids: Sequence[int], holder: str, now: datetime) -> None:
    """In the claim's transaction: whose the claimed rows are, and since when."""
    for first in range(0, len(message_ids), 500):
        ids = list(message_ids[first : first + 500])
        marks = ", ".join("?" for _ in ids)
        await tx.execute(
            f"UPDATE outbox SET claimed_by = ?, claimed_at = ? WHERE id IN ({marks})"
            " AND state = 'sending'",
            (holder, to_db_time(now), *ids),
        )


async def renew_claims(tx: Tx, holder: str, now: datetime) -> int:
    """On each of its instance's beats: the rows it is still sending stay its own, however
    long its pass takes (a claim no beat renews runs out, `release_stale_claims`)."""
    cursor = await tx.execute(
        "UPDATE outbox SET claimed_at = ? WHERE state = 'sending' AND claimed_by = ?",
        (to_db_time(now), holder),
    )
    return cursor.rowcount


async def outbox_messages(r: Reader, state: OutboxState | None = None) -> list[OutboxMessage]:
    if state is None:
        rows = await r.fetchall("SELECT * FROM outbox ORDER BY id")
    else:
        rows = await r.fetchall("SELECT * FROM outbox WHERE state = ? ORDER BY id", (state,))
    return [_outbox(row) for row in rows]


async def next_outbox_due(r: Reader) -> datetime | None:
    row = await r.fetchone("SELECT MIN(next_attempt_at) AS t FROM outbox WHERE state = 'pending'")
    return from_db_time(row["t"]) if row else None


# ---- who was told ---------------------------------------------------------------------


async def recipients_told(r: Reader, episode_id: int) -> list[Recipient]:
    """Everyone the bot has queued a message to about this episode (RET-TELL), in chat: a
    text or e-mail was an alert's echo to someone also told in chat (never told names)."""
    rows = await r.fetchall(
        "SELECT DISTINCT recipient FROM outbox WHERE episode_id = ? AND recipient NOT GLOB 'sms:*'"
        " AND recipient NOT GLOB 'email:*' AND recipient NOT GLOB 'mailto:*' ORDER BY recipient",
        (episode_id,),
    )
    return [Recipient.parse(row["recipient"]) for row in rows]


async def told_about_climb_steps(r: Reader, escalation_id: int) -> list[Recipient]:
    """Everyone a climb has told about one of its steps, in any cycle: the step's own
    recipients, and the supervisors told that a step had nobody or missed someone."""
    rows = await r.fetchall(
        "SELECT DISTINCT recipient FROM outbox"
        " WHERE escalation_id = ? AND escalation_step IS NOT NULL ORDER BY recipient",
        (escalation_id,),
    )
    return [Recipient.parse(row["recipient"]) for row in rows]


async def climb_send(r: Reader, idem_key: str) -> ClimbSend | None:
    """The climb send queued under this key; None if the message is not one."""
    row = await r.fetchone(
        "SELECT recipient, escalation_id, escalation_step, escalation_repeat FROM outbox"
        " WHERE idem_key = ? AND escalation_repeat IS NOT NULL",
        (idem_key,),
    )
    if row is None:
        return None
    return ClimbSend(
        row["escalation_id"],
        row["escalation_step"],
        row["escalation_repeat"],
        Recipient.parse(row["recipient"]),
    )


async def by_key_prefix(r: Reader, prefix: str) -> list[tuple[OutboxMessage, datetime | None]]:
    """Messages whose idempotency key starts with `prefix`, oldest first, with when each was
    sent (a formal notice already queued or sent is not queued again)."""
    rows = await r.fetchall(
        "SELECT * FROM outbox WHERE substr(idem_key, 1, ?) = ? ORDER BY id",
        (len(prefix), prefix),
    )
    return [(_outbox(row), from_db_time(row["sent_at"])) for row in rows]


async def told_about_episode(
    r: Reader, episode_id: int
) -> list[tuple[OutboxMessage, datetime | None]]:
    """Every message queued about an episode, oldest first, with when it was sent (None:
    not yet, or it failed): who was alerted and when, for the timeline."""
    rows = await r.fetchall(
        "SELECT * FROM outbox WHERE episode_id = ? ORDER BY created_at, id", (episode_id,)
    )
    return [(_outbox(row), from_db_time(row["sent_at"])) for row in rows]
