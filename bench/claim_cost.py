"""The outbox claim's cost against the backlog behind messages already in flight.

    python bench/claim_cost.py
    python bench/claim_cost.py --db postgresql://wb@127.0.0.1:55432/postgres   # and on PostgreSQL

The claim (storage/outbox_store.py `claim_outbox`, through storage/claims.py) runs in a write
transaction after every command's kick and every finished send, so each command's own write
waits behind it. At 03:00 the backlog is mostly for a few people (the out-of-hours worker gets
every alert), each with one message in flight; nothing more of theirs may go until it is sent.
For each backlog (N pending, spread over R recipients, every recipient's first one claimed and
in flight) this times a claim that finds nothing (everyone waiting has one in flight: the case that
used to read every pending row) and a claim as a lane frees (an alert for somebody else has
just been queued, and the first claimable message goes); median of 50, each in its own
write transaction as delivery runs it. The baseline, in the same run on the same data, is the
claim as it was before (one statement reading pending rows in delivery order until it has
enough), and the figures are given as ratios to it. Target: the claim's cost does not grow
with the depth of the backlog behind a message in flight (10,000 queued for two people within
1.5x of 1,000 for two, both ways of claiming). SQLite
synchronous=FULL; PostgreSQL synchronous_commit=on, in turn with other instances' claims (its
advisory lock), as it runs with several instances, with the table analysed after the backlog is
inserted, as autovacuum does (without statistics its planner sorts every pending row).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _pg import scratch_database, server_settings  # noqa: E402

from bot.delivery import LANES  # noqa: E402
from storage import claims, outbox_store  # noqa: E402
from storage.db import Database, Tx, to_db_time  # noqa: E402

# The baseline: the claim as it was before migration 0023, one statement that reads the pending
# rows in delivery order until it has found enough (commit ea001f9^, storage/outbox_store.py).
BEFORE = """
UPDATE outbox SET state = 'sending', claimed_at = ?, attempts = attempts + 1
WHERE id IN (
    SELECT o.id FROM outbox o
    WHERE o.state = 'pending'
      -- due now; written as a CASE so that the scan walks the outbox_claim index in delivery
      -- order and stops at LIMIT, rather than sorting every due row first
      AND CASE WHEN o.next_attempt_at <= ? THEN 1 ELSE 0 END = 1
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
      -- (c) a finalised episode's clearing goes after everything queued before it
      AND NOT (o.recipient = 'redact' AND EXISTS (SELECT 1 FROM outbox q
                      WHERE q.episode_id = o.episode_id AND q.id < o.id
                        AND q.state IN ('pending', 'sending')))
    ORDER BY o.urgency DESC, o.id
    LIMIT ?
)
RETURNING *
"""


async def claim_before(tx: Tx, now: datetime, limit: int) -> list[object]:
    when = to_db_time(now)
    hold = outbox_store.HOLDS_ORDER_FOR
    return await tx.fetchall(BEFORE, (when, when, when, hold, when, hold, limit))


BACKLOGS = [(0, 1), (1_000, 2), (10_000, 2), (10_000, 7), (10_000, 50), (50_000, 300)]
REPEATS = 50
Targets = Callable[[str], AbstractContextManager[Path | str]]
Claim = Callable[[Tx, datetime, int], Awaitable[list[object]]]


async def shipped(tx: Tx, now: datetime, limit: int) -> list[object]:
    return list(await claims.claim_outbox(tx, now, limit))


def _row_id(row: object) -> int:
    return int(getattr(row, "id", None) or row["id"])  # type: ignore[index]


async def measure(
    target: Path | str, pending: int, recipients: int, claim: Claim
) -> tuple[float, float]:
    """(ms for a claim that finds nothing, ms for a claim as a lane frees), medians."""
    async with Database(target, "FULL") as db:
        now = datetime.now(UTC)
        async with db.write() as tx:
            await tx.executemany(
                "INSERT INTO outbox (idem_key, recipient, text, state, created_at, due_at,"
                " next_attempt_at, attempts) VALUES (?, ?, 'x', 'pending', ?, ?, ?, 0)",
                [(f"k{n}", f"staff:s{n % recipients}", *[to_db_time(now)] * 3) for n in range(pending)],
            )  # fmt: skip
        if not isinstance(target, Path):  # as autovacuum would after a bulk insert
            async with db.write() as tx:
                await tx.execute("ANALYZE outbox")
        async with db.write() as tx:  # the lanes busy, one free
            await claims.claim_outbox(tx, now, min(recipients, LANES - 1))
        nothing, one = [], []
        for n in range(REPEATS):
            if recipients < LANES:  # every waiting person has one in flight: nothing to claim
                began = time.perf_counter()
                async with db.write() as tx:
                    assert not await claim(tx, datetime.now(UTC), 1)
                nothing.append(time.perf_counter() - began)
            async with db.write() as tx:  # an alert for somebody else; the free lane takes the
                await outbox_store.enqueue(  # first claimable (this one, or an older one)
                    tx, idem_key=f"new{n}", recipient=f"staff:new{n}", text="x", now=now
                )
            began = time.perf_counter()
            async with db.write() as tx:
                [claimed] = await claim(tx, datetime.now(UTC), 1)
            one.append(time.perf_counter() - began)
            await outbox_store.mark_sent(db, _row_id(claimed), now)
        return (statistics.median(nothing) * 1000 if nothing else float("nan"),
                statistics.median(one) * 1000)  # fmt: skip


def _ms(value: float) -> str:
    return "    -   " if value != value else f"{value:6.2f} ms"


def _x(value: float, base: float) -> str:
    return "  -  " if value != value else f"{value / base:4.2f}x"


async def engine_rows(name: str, target_for: Targets) -> bool:
    """Prints the engine's table; True if the target is met."""
    print(f"{name}: ms per claim, shipped (before), and shipped / before")
    shallow: tuple[float, float] | None = None
    deep = (0.0, 0.0)
    for pending, recipients in BACKLOGS:
        with target_for(f"{pending}_{recipients}_now") as target:
            now_nothing, now_one = await measure(target, pending, recipients, shipped)
        with target_for(f"{pending}_{recipients}_before") as target:
            old_nothing, old_one = await measure(target, pending, recipients, claim_before)
        if recipients == 2:
            shallow = shallow or (now_nothing, now_one)
            deep = (now_nothing, now_one)
        print(
            f"  {pending:>7,} pending for {recipients:>3} people: nothing to claim "
            f"{_ms(now_nothing)} ({_ms(old_nothing)}) {_x(now_nothing, old_nothing)}; "
            f"a lane frees {_ms(now_one)} ({_ms(old_one)}) {_x(now_one, old_one)}",
            flush=True,
        )
    assert shallow is not None
    growth = max(deep[0] / shallow[0], deep[1] / shallow[1])
    met = growth <= 1.5
    print(
        f"  target, 10,000 queued for two people within 1.5x of 1,000 for two: "
        f"{growth:.2f}x, {'met' if met else 'NOT met'}\n"
    )
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--db", help="also on this PostgreSQL server (a user that may create databases)"
    )
    args = parser.parse_args()
    print(f"Median of {REPEATS} claims each, one write transaction per claim\n")
    with tempfile.TemporaryDirectory(prefix="wb-claim-") as tmp:

        @contextmanager
        def sqlite_file(label: str) -> Iterator[Path | str]:
            yield Path(tmp) / f"{label}.db"

        met = asyncio.run(engine_rows("SQLite (synchronous=FULL)", sqlite_file))
    if args.db:
        server: str = args.db
        met &= asyncio.run(
            engine_rows(
                server_settings(server),
                lambda label: scratch_database(server, f"claim_{label}"),
            )
        )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
