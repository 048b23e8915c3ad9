"""Claims of due work when several instances share one database (PostgreSQL).

On SQLite there is one process (the file refuses a second) and one writer, so a claim is
what it always was. On PostgreSQL any number of instances may sweep at once:

- A due timer (a climb's next step, a duty's reminder) is claimed inside the transaction
  that fires it: `SELECT … FOR UPDATE SKIP LOCKED`, re-checked as due. An instance that
  finds it locked passes over it (another is firing it now) instead of waiting and then
  firing it a second time, or failing on the climb's version.
- Outbox rows: the claims of every instance take turns on one advisory transaction lock,
  so each claim sees the others' committed claims, and a message whose recipient has an
  earlier message still in flight elsewhere (state 'sending', claimed within CLAIM_LEASE)
  is put back in the same transaction: two instances never send one recipient's
  messages out of order. Why one lock for all claims rather than one per recipient: a
  per-recipient lock taken inside the claim statement is taken after that statement's
  snapshot, so a claim committed meanwhile by another instance is not seen and its
  recipient's next message could still be taken; a lock taken first, then a claim
  statement with its own fresh snapshot, is correct and costs one short wait per claim
  (a claim takes milliseconds; the sends happen after it commits, unlocked). The claim
  itself (its order, urgent first or oldest first) stays storage/outbox_store.py's.

A claim not renewed within CLAIM_LEASE is given back by recovery (bot/delivery.py), and from
the same moment no longer holds its recipient's queue: one lease for both, so a claim never
counts as in flight after it has been given back (its message is sent again: the one
duplicate a crash may cause).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from storage import outbox_store
from storage.db import Tx, to_db_time
from storage.duty_store import _duty
from storage.escalation_store import _escalation
from storage.models import Duty, Escalation, OutboxMessage

# How long a claim lasts unrenewed: given back after it (bot/delivery.py recovery), and until
# then it holds its recipient's queue here. Its live instance renews it on every beat (2 s,
# bot/instances.py), however long the send takes, so a live claim is seconds old; 2 min is
# 60 missed beats: a stalled loop or a failing database, never a slow send.
CLAIM_LEASE = timedelta(minutes=2)
OUTBOX_CLAIMS_LOCK = 0x57484552_4F555442  # "WHEROUTB": pg_advisory_xact_lock's key


def _skip_locked(tx: Tx) -> str:
    return " FOR UPDATE SKIP LOCKED" if tx.several_instances else ""


async def claim_due_escalation(tx: Tx, escalation_id: int, now: datetime) -> Escalation | None:
    """The climb, if its timer is due and no other instance is firing it now."""
    row = await tx.fetchone(
        "SELECT * FROM escalations WHERE id = ? AND next_at IS NOT NULL AND next_at <= ?"
        + _skip_locked(tx),
        (escalation_id, to_db_time(now)),
    )
    return _escalation(row) if row else None


async def claim_due_duty(tx: Tx, duty_id: int, now: datetime) -> Duty | None:
    """The duty, if its reminder is due and no other instance is sending it now."""
    row = await tx.fetchone(
        "SELECT * FROM duties WHERE id = ? AND next_remind_at IS NOT NULL AND next_remind_at <= ?"
        + _skip_locked(tx),
        (duty_id, to_db_time(now)),
    )
    return _duty(row) if row else None


async def claim_outbox(tx: Tx, now: datetime, limit: int) -> list[OutboxMessage]:
    """outbox_store.claim_outbox, in turn with the other instances' claims, less the
    messages whose recipient has an earlier one in flight at another instance."""
    if not tx.several_instances:
        return await outbox_store.claim_outbox(tx, now, limit)
    await tx.execute("SELECT pg_advisory_xact_lock(?)", (OUTBOX_CLAIMS_LOCK,))
    claimed = await outbox_store.claim_outbox(tx, now, limit)
    if not claimed:
        return claimed
    ids = [m.id for m in claimed]
    marks = ", ".join("?" * len(ids))
    rows = await tx.fetchall(
        "SELECT recipient, MIN(id) AS first FROM outbox WHERE state = 'sending'"
        f" AND claimed_at > ? AND id NOT IN ({marks}) GROUP BY recipient",
        (to_db_time(now - CLAIM_LEASE), *ids),
    )
    in_flight = {row["recipient"]: int(row["first"]) for row in rows}
    kept = []
    for message in claimed:
        first = in_flight.get(message.recipient)
        if first is not None and first < message.id:
            await tx.execute(
                "UPDATE outbox SET state = 'pending', attempts = attempts - 1, claimed_at = NULL"
                " WHERE id = ?",
                (message.id,),
            )
        else:
            kept.append(message)
    return kept
