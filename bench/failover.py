"""Failover: two instances on one database; the singleton holder killed at random moments.

    python bench/failover.py [--kills 20] [--seed 7]                  # in one process, SQLite
    python bench/failover.py --db postgresql://USER@HOST:PORT/postgres [--kills 100] [--seed 7]

In one process (the default), each round starts two instances on one SQLite file, each with
its own heartbeat, leases, sweeper and outbox delivery (bot/instances.py, bot/heartbeat.py,
bot/delivery.py) on the real clock. The holder is given a message it is sending when it dies
(in flight; the standby starts while it is, and leaves it alone) and a message due 0-3 s
after its death (the next step of a climb, which only the database knows of once the holder
is gone). At a random moment it is killed: its tasks are cancelled where they stand, nothing
is let go, its heartbeat stops. Measured from the kill:

- takeover: until the survivor holds the singletons (Telegram polling, reports, gaps);
- next due step: until the survivor sends the message due after the kill, and its lateness
  against its due time;
- in flight: until the survivor sends the message the holder was sending.

Both instances are in this one process, on one `Database`, since the SQLite file's lock
(storage/process_lock.py) refuses a second process by design. The in-process kill is what
a SIGKILL does to the database's view (no heartbeat, no renewal, claims left as they were);
it does not measure a process start (imports, connecting), which a standby has already done.

With `--db` (a PostgreSQL server whose user may create databases: a scratch database is made
for the run, bench/_pg.py) the instances are two real `whereabouts run` processes
(bench/_procs.py) against the Telegram Bot API stand-in in this process, with the production
sweep interval (30 s). A team with one-minute ladders (tests/support/crash_rig.py's trigger
plan) is seeded and carers type `/absent` through the stand-in, so real climbs are in
progress; more children go absent whenever fewer than ten climbs are still climbing. Each
round: the process holding the singletons (the `leases` table, holder host/pid/random) is
SIGKILLed 0-3 s (seeded) before a climb's next step falls due, the earliest due at least 3 s
after a seeded random pause, so the kill lands at a random point of the holder's beat and
the step is one that nobody but the database knows of once the holder is dead. Measured from
the kill: takeover (the survivor holds all three leases; and its first getUpdates), and the
climb step's messages all reaching the stand-in (and their lateness against the step's due
time). The killed process is started again and, once it beats, is the standby for the next
round. At the end the outbox is let drain, both stop (SIGTERM), and the database is checked
against what the stand-in received: every outbox row sent (none lost), no message received
twice except one in flight at a kill (its first copy reached the stand-in just before a kill,
the survivor sent it again), no climb step fired twice, and the bots' logs hold no error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import math
import os
import random
import re
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._common import percentile  # noqa: E402
from bench._pg import scratch_database, server_settings  # noqa: E402
from bench._procs import BotProcess, bot_env  # noqa: E402
from bot.delivery import HOLDER_DEAD_AFTER, LANES, OutboxDelivery  # noqa: E402
from bot.heartbeat import Heartbeat  # noqa: E402
from bot.instances import (  # noqa: E402
    LEASE,
    RENEW_EVERY,
    REPORTS,
    ROTA_GAPS,
    TELEGRAM_POLLING,
    Instance,
    Singleton,
)
from config.presets import load_all_presets  # noqa: E402
from reminders.clock import SystemClock  # noqa: E402
from reminders.sweeper import Sweeper  # noqa: E402
from storage import outbox_store  # noqa: E402
from storage.db import Database, from_db_time_set, to_db_time  # noqa: E402
from storage.models import OutboxMessage  # noqa: E402
from tests.support.crash_rig import (  # noqa: E402
    GROUP,
    HOME,
    LATE,
    LONDON,
    SHARED,
    TOKEN,
    Person,
    StandIn,
    kids,
    prepare_db,
)


@dataclass
class Node:
    name: str
    instance: Instance
    heartbeat: Heartbeat
    delivery: OutboxDelivery


@dataclass
class Round:
    takeover: float
    step_after_kill: float
    step_late: float
    in_flight: float
    duplicates: int


class Recorder:
    def __init__(self) -> None:
        self.sent: dict[str, list[tuple[str, float]]] = {}
        self.changed = asyncio.Event()
        self.stuck: set[str] = set()  # instances whose sends hang (the holder, to be killed)

    def sender(self, who: str) -> Callable[[OutboxMessage], Awaitable[None]]:
        async def send(message: OutboxMessage) -> None:
            if who in self.stuck:
                await asyncio.Event().wait()  # in flight until killed
            self.sent.setdefault(message.idem_key, []).append((who, time.monotonic()))
            self.changed.set()

        return send

    async def until(self, key: str, timeout: float = 60.0) -> float:
        deadline = time.monotonic() + timeout
        while key not in self.sent:
            self.changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{key} was never sent")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)
        return self.sent[key][-1][1]


async def node(db: Database, name: str, recorder: Recorder, presets: dict) -> Node:
    clock = SystemClock()
    delivery = OutboxDelivery(db, clock, recorder.sender(name))
    instance = Instance(
        db,
        clock,
        singletons=[Singleton(TELEGRAM_POLLING), Singleton(REPORTS), Singleton(ROTA_GAPS)],
        delivery=delivery,
        instance_id=f"{name}-{os.urandom(3).hex()}",
    )
    heartbeat = Heartbeat(Sweeper(db, clock, presets), delivery, clock, 30.0)
    instance.on_beat = heartbeat.wake
    await instance.start()
    await heartbeat.start()
    return Node(name, instance, heartbeat, delivery)


def kill(n: Node) -> None:
    """As SIGKILL looks from the database: no more beats, nothing let go, claims left."""
    if n.instance._loop is not None:
        n.instance._loop.cancel()
    n.heartbeat.shutdown()  # its scheduler and any delivery it had started stop here


async def one_round(db: Database, k: int, rng: random.Random, presets: dict) -> Round:
    recorder = Recorder()
    recorder.stuck.add("holder")
    holder = await node(db, "holder", recorder, presets)
    clock = SystemClock()
    async with db.write() as tx:  # what the holder is sending as it dies
        await outbox_store.enqueue(
            tx, idem_key=f"inflight-{k}", recipient="staff:x", text="x", now=clock.now()
        )
    await holder.heartbeat.kick()  # the holder's pass takes it
    while (await _state(db, f"inflight-{k}")) != "sending":
        await asyncio.sleep(0.01)
    await asyncio.sleep(rng.uniform(0.0, RENEW_EVERY.total_seconds()))  # stagger the beats
    # the standby starts with the holder's message in flight: its recovery leaves it alone
    survivor = await node(db, "survivor", recorder, presets)
    assert holder.instance.holds(REPORTS) and not survivor.instance.holds(REPORTS)
    assert await _state(db, f"inflight-{k}") == "sending"

    await asyncio.sleep(rng.uniform(0.0, 2.0))  # a random moment in the holder's beat
    killed = time.monotonic()
    due_in = rng.uniform(0.0, 3.0)
    async with db.write() as tx:  # the climb's next step, due after the kill
        at = clock.now() + timedelta(seconds=due_in)
        await outbox_store.enqueue(
            tx, idem_key=f"step-{k}", recipient="staff:y", text="y", now=at, due_at=at
        )
    kill(holder)

    while not survivor.instance.holds(REPORTS):
        await asyncio.sleep(0.02)
    took = time.monotonic() - killed
    step = await recorder.until(f"step-{k}") - killed
    flight = await recorder.until(f"inflight-{k}") - killed
    duplicates = sum(len(v) - 1 for v in recorder.sent.values())
    survivor.heartbeat.shutdown()
    await survivor.instance.stop()
    return Round(took, step, max(0.0, step - due_in), flight, duplicates)


async def _state(db: Database, key: str) -> str | None:
    for message in await outbox_store.outbox_messages(db):
        if message.idem_key == key:
            return message.state.value
    return None


async def main(kills: int, seed: int) -> int:
    if "://" in os.environ.get("WHEREABOUTS_DB", ""):
        print(
            "WHEREABOUTS_DB points at a server database: for the two-process failover give "
            "the server with --db postgresql://…; unset it to run the in-process failover "
            "on SQLite."
        )
        return 2
    rng = random.Random(seed)
    logging.basicConfig(level=logging.ERROR)
    # a survivor stopped at the end of a round cancels its scheduler's job: not news
    logging.getLogger("apscheduler").setLevel(logging.CRITICAL)
    presets = load_all_presets()
    with tempfile.TemporaryDirectory(prefix="wb-failover-") as tmp:
        async with Database(Path(tmp) / "failover.db", "FULL") as db:
            rounds = []
            for k in range(kills):
                rounds.append(await one_round(db, k, rng, presets))
                r = rounds[-1]
                print(
                    f"kill {k + 1:3}: takeover {r.takeover:5.2f} s, next step sent "
                    f"{r.step_after_kill:5.2f} s after the kill ({r.step_late:4.2f} s late), "
                    f"in-flight message resent {r.in_flight:5.2f} s after",
                    flush=True,
                )

    def line(what: str, values: list[float]) -> str:
        return (
            f"{what:38} p50 {percentile(values, 50):5.2f} s  p99 {percentile(values, 99):5.2f} s"
            f"  max {max(values):5.2f} s"
        )

    print(
        f"\n{kills} kills of the singleton holder, two instances in one process on one SQLite "
        f"file (synchronous=FULL); lease {LEASE.total_seconds():.0f} s, beat every "
        f"{RENEW_EVERY.total_seconds():.0f} s, a holder dead after "
        f"{HOLDER_DEAD_AFTER.total_seconds():.0f} s without a beat"
    )
    print(line("takeover of the singletons", [r.takeover for r in rounds]))
    print(line("next due step sent, from the kill", [r.step_after_kill for r in rounds]))
    print(line("  its lateness against its due time", [r.step_late for r in rounds]))
    print(line("message in flight at the kill resent", [r.in_flight for r in rounds]))
    duplicates = sum(r.duplicates for r in rounds)
    print(f"messages sent twice: {duplicates}; lost: 0 (every round waits for both)")
    p99 = percentile([r.step_after_kill for r in rounds], 99)
    print(
        f"target p99 <= 10 s from the kill to the next due step: {'met' if p99 <= 10 else 'NOT met'}"
    )
    return 0


# ---- two processes on PostgreSQL -----------------------------------------------------------

SINGLETONS = (TELEGRAM_POLLING, REPORTS, ROTA_GAPS)
# More children go absent whenever fewer climbs than this are still climbing: a child's
# climbs step together, once a minute, so several children spread the steps over the minute.
CLIMBING = 10
FIRST_ABSENT = 4  # children sent absent before the first kill, STAGGER s apart
STAGGER = 12.0
STEP_TIMEOUT = 90.0  # a round whose step is not sent by then fails
IN_FLIGHT_WINDOW = 2.0  # a duplicate's first copy this long before a kill was in flight


def pid_of(instance_id: str | None) -> int | None:
    """bot/instances.py new_instance_id: host/pid/random."""
    parts = (instance_id or "").split("/")
    return int(parts[-2]) if len(parts) >= 3 and parts[-2].isdigit() else None


class Watch:
    """The bench's own reads of the scratch database (its own autocommit connection)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def rows(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        cur = await self.conn.execute(sql, params)
        return list(await cur.fetchall())

    async def holders(self) -> dict[str, str | None]:
        rows = await self.rows("SELECT name, holder, expires_at FROM leases")
        now = time.time()
        return {
            name: holder if _epoch(expires) > now else None
            for name, holder, expires in rows
            if name in SINGLETONS
        }

    async def holder_pid(self) -> int | None:
        """The pid holding all the singletons (None while nobody or several do)."""
        held = await self.holders()
        pids = {pid_of(h) for h in held.values()}
        if len(held) < len(SINGLETONS) or len(pids) != 1:
            return None
        return pids.pop()

    async def instance(self, pid: int) -> tuple[str, float] | None:
        """The live instance row of a process: its id and heartbeat (epoch seconds)."""
        for ident, beat in await self.rows("SELECT id, heartbeat_at FROM instances"):
            if pid_of(ident) == pid:
                return ident, _epoch(beat)
        return None

    async def climbing(self) -> list[tuple[int, float]]:
        """Climbs still climbing, (id, next step due at), earliest first."""
        rows = await self.rows(
            "SELECT id, next_at FROM escalations WHERE state = 'active' AND next_at IS NOT NULL"
            " ORDER BY next_at"
        )
        return [(ident, _epoch(at)) for ident, at in rows]

    async def max_outbox_id(self) -> int:
        return int((await self.rows("SELECT COALESCE(MAX(id), 0) FROM outbox"))[0][0])

    async def busy(self, within: float) -> int:
        """Rows still to send, and climbs due within `within` s."""
        due = _db_time(time.time() + within)
        return int(
            (
                await self.rows(
                    "SELECT (SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'sending'))"
                    " + (SELECT COUNT(*) FROM escalations WHERE next_at IS NOT NULL"
                    " AND next_at <= %s)",
                    due,
                )
            )[0][0]
        )


def _epoch(text: str) -> float:
    return from_db_time_set(text).timestamp()


def _db_time(epoch: float) -> str:
    return to_db_time(datetime.fromtimestamp(epoch, UTC))


@dataclass
class Kill:
    index: int
    victim: str
    due_in: float  # the climb's step fell due this long after the kill
    takeover: float  # kill -> the survivor holds every singleton lease
    first_poll: float  # kill -> the survivor's first getUpdates
    step: float  # kill -> every message of the step reached the stand-in
    messages: int  # the step's messages (one per recipient)
    restart: float  # the killed process's new life: spawn -> its first heartbeat
    mono: float  # time.monotonic() of the kill

    @property
    def step_late(self) -> float:
        """The step's messages against its due time."""
        return max(0.0, self.step - self.due_in)


class Failover:
    def __init__(self, url: str, workdir: Path, kills: int, seed: int, children: int) -> None:
        self.url = url
        self.workdir = workdir
        self.kills = kills
        self.rng = random.Random(seed)
        self.pool = kids(children)
        self.people = {
            k.carer: Person(k.carer, f"Carer {k.first_name}", 2001 + k.index) for k in self.pool
        }
        self.people |= {sid: Person(sid, name, uid) for sid, (_, name, uid) in SHARED.items()}
        self.absent = 0  # children sent absent so far (the pool's first ones)
        self.problems: list[str] = []
        self.done: list[Kill] = []

    async def run(self) -> int:
        await prepare_db(self.url, self.pool, self.people, "FULL")  # type: ignore[arg-type]
        self.stand_in = await StandIn(token=TOKEN).start()
        env = bot_env(self.url, self.stand_in.base_url, TOKEN)
        self.procs = [BotProcess(n, env, self.workdir / f"bot-{n}.log") for n in ("A", "B")]
        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
            self.db = Watch(conn)
            try:
                await self._start()
                for k in range(self.kills):
                    await self._round(k)
                    if len(self.problems) > 20 or any(p.exits for p in self.procs):
                        self.problems.append(f"stopped after {k + 1} kills")
                        break
                quiet = await self._drain()
            finally:
                stops = [await p.stop() for p in self.procs]
                await self.stand_in.stop()
            if not all(stops):
                self.problems.append("an instance did not stop within 20 s of SIGTERM")
            await self._check(quiet)
        self._report()
        return 1 if self.problems else 0

    async def _start(self) -> None:
        first, second = self.procs
        pid = await first.start()
        await self._until(lambda: self._holds(pid), 60, f"{first.name} never took the leases")
        await self._until_up(second, await second.start())
        while self.absent < FIRST_ABSENT:
            await self._absent()
            await asyncio.sleep(STAGGER)

    async def _holds(self, pid: int) -> bool:
        return await self.db.holder_pid() == pid

    async def _until_up(self, proc: BotProcess, pid: int) -> float:
        """Until the new life has beaten twice (its beat loop runs): spawn -> first beat."""
        first: float | None = None
        began = time.monotonic()
        while time.monotonic() - began < 60:
            row = await self.db.instance(pid)
            if row is not None and first is None:
                first, beat = time.monotonic() - proc.spawned, row[1]
            if row is not None and first is not None and row[1] > beat:
                return first
            if proc.pid is None:
                break
            await asyncio.sleep(0.05)
        raise RuntimeError(f"{proc.name} (pid {pid}) never beat twice; see {proc.log}")

    async def _until(
        self, check: Callable[[], Awaitable[object]], timeout: float, what: str
    ) -> None:
        deadline = time.monotonic() + timeout
        while not await check():
            if time.monotonic() > deadline:
                raise RuntimeError(what)
            await asyncio.sleep(0.05)

    async def _absent(self) -> None:
        """The next child of the pool goes absent: the carer types /absent, as a person does."""
        if self.absent >= len(self.pool):
            return
        kid = self.pool[self.absent]
        self.absent += 1
        person = self.people[kid.carer]
        seen = (datetime.now(LONDON) - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M")
        start = len(self.stand_in.calls)
        self.stand_in.user_says(
            person.uid, f"/absent {kid.ref} {seen} left after a row", name=person.name
        )

        def answered() -> bool:
            return any(
                c.method == "sendMessage"
                and int(c.params.get("chat_id", 0)) == person.uid
                and str(c.params.get("text", "")).startswith("Recorded: ")
                for c in self.stand_in.calls[start:]
            )

        with contextlib.suppress(AssertionError):
            await self.stand_in.wait_for(answered, 30)
        if not answered():
            self.problems.append(f"/absent {kid.ref} was not answered in 30 s")

    async def _next_step(self) -> tuple[int, float]:
        """A climb whose next step is due at least 3 s from now (the earliest such)."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            climbs = await self.db.climbing()
            if len(climbs) < CLIMBING:
                await self._absent()
            soon = [(e, at) for e, at in climbs if at >= time.time() + 3.2]
            if soon and soon[0][1] < time.time() + 90:
                return soon[0]
            if not soon:
                await self._absent()
            await asyncio.sleep(0.5)
        raise RuntimeError("no climb step due within 90 s: the climbs have run out")

    async def _round(self, k: int) -> None:
        await asyncio.sleep(self.rng.uniform(0.0, RENEW_EVERY.total_seconds()))
        climb, due_at = await self._next_step()
        due_in = self.rng.uniform(0.0, 3.0)
        await asyncio.sleep(max(0.0, due_at - due_in - time.time()))
        holder = await self.db.holder_pid()
        victim = next((p for p in self.procs if p.pid is not None and p.pid == holder), None)
        if victim is None:
            self.problems.append(f"kill {k + 1}: nobody held all the singletons ({holder})")
            return
        survivor = next(p for p in self.procs if p is not victim)
        assert survivor.pid is not None
        survivor_row = await self.db.instance(survivor.pid)
        assert survivor_row is not None
        before = await self.db.max_outbox_id()
        mono = time.monotonic()
        await victim.kill()
        watch = asyncio.create_task(self._takeover(k, survivor_row[0], mono))
        sent, messages = await self._step_sent(climb, before, mono)
        took, first_poll = await watch
        # the killed process again, now the standby (not before the step: it is the survivor's)
        restart = await self._until_up(victim, await victim.start())
        self.done.append(
            Kill(k, victim.name, due_in, took, first_poll, sent - mono, messages, restart, mono)
        )
        r = self.done[-1]
        print(
            f"kill {k + 1:3} ({r.victim}): takeover "
            f"{r.takeover:5.2f} s (first poll {r.first_poll:5.2f} s), next step "
            f"({r.messages} msg, due {r.due_in:4.2f} s after) sent {r.step:5.2f} s after the kill "
            f"({r.step_late:4.2f} s late); restarted in {r.restart:4.2f} s",
            flush=True,
        )

    async def _takeover(self, k: int, survivor: str, mono: float) -> tuple[float, float]:
        """Kill -> the survivor holds every singleton lease; kill -> its first getUpdates."""
        took = first_poll = math.inf
        while math.isinf(took) or math.isinf(first_poll):
            held = await self.db.holders()
            mine = len(held) == len(SINGLETONS) and all(h == survivor for h in held.values())
            if math.isinf(took) and mine:
                took = time.monotonic() - mono
            # by caller; the dead one polls no more, so any poll after the kill is the survivor's
            polls = sorted(t for ts in self.stand_in.polls.values() for t in ts if t > mono)
            if polls and math.isinf(first_poll):
                first_poll = polls[0] - mono
            if time.monotonic() - mono > 60:
                self.problems.append(f"kill {k + 1}: no takeover within 60 s")
                break
            await asyncio.sleep(0.02)
        return took, first_poll

    async def _step_sent(self, climb: int, before: int, mono: float) -> tuple[float, int]:
        """When the last message of the climb's step (queued after the kill) reached the
        stand-in, and how many it had."""
        deadline = mono + STEP_TIMEOUT
        while time.monotonic() < deadline:
            rows = await self.db.rows(
                "SELECT id, state, merged_into FROM outbox WHERE escalation_id = %s AND id > %s",
                climb,
                before,
            )
            if rows and all(state in ("sent", "merged", "failed") for _, state, _ in rows):
                carriers = [into if state == "merged" else ident for ident, state, into in rows]
                records = await self.db.rows(
                    "SELECT outbox_id, chat_id, message_id FROM chat_messages"
                    " WHERE outbox_id = ANY(%s)",
                    carriers,
                )
                at = {(int(c), int(m)): o for o, c, m in records}
                arrived: dict[int, float] = {}
                for call in self.stand_in.calls:
                    key = (int(call.params.get("chat_id", 0)), call.message_id or 0)
                    if call.at > mono and key in at:
                        arrived.setdefault(at[key], call.at)
                if set(carriers) <= set(arrived):
                    return max(arrived.values()), len(rows)
            await asyncio.sleep(0.05)
        self.problems.append(f"climb {climb}'s step was not sent within {STEP_TIMEOUT} s")
        return math.inf, 0

    async def _drain(self) -> float:
        """After the last kill: until nothing is to send and no climb is due for 5 s."""
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if await self.db.busy(within=5.0) == 0:
                return time.time()
            await asyncio.sleep(0.2)
        self.problems.append("the outbox did not drain within 90 s of the last kill")
        return time.time()

    # -- the checks --

    def _chat(self, recipient: str) -> int | None:
        kind, _, ident = recipient.partition(":")
        if kind == "staff" and ident in self.people:
            return self.people[ident].uid
        return GROUP if (kind, ident) == ("team", HOME) else None

    async def _check(self, quiet: float) -> None:
        rows = await self.db.rows(
            "SELECT id, idem_key, recipient, text, state, created_at, escalation_id,"
            " escalation_step, escalation_repeat, last_error FROM outbox ORDER BY id"
        )
        self.outbox = len(rows)
        queued: Counter[tuple[int, str]] = Counter()
        for ident, key, recipient, text, state, created, *_, error in rows:
            if state == "merged":
                continue  # sent inside the row it was merged into (bot/merging.py)
            if state != "sent":
                late = _epoch(created) > quiet
                self.problems.append(
                    f"outbox #{ident} {key} ended {state}{' (queued as the bots stopped)' if late else ''}: {error}"
                )
            chat = self._chat(recipient)
            if chat is None:
                self.problems.append(f"outbox #{ident} {key}: no chat for {recipient}")
                continue
            queued[(chat, text)] += 1
        copies: dict[tuple[int, str], list[float]] = defaultdict(list)
        for call in self.stand_in.calls:
            if call.method in ("sendMessage", "sendPhoto", "sendDocument"):
                text = LATE.sub("", str(call.params.get("text", call.params.get("caption", ""))))
                key = (int(call.params.get("chat_id", 0)), text)
                if key in queued:  # not a reply to a command
                    copies[key].append(call.at)
        self.lost = sum((queued - Counter({k: len(v) for k, v in copies.items()})).values())
        if self.lost:
            self.problems.append(f"{self.lost} queued messages never reached the stand-in")
        self.duplicates: list[tuple[int, float]] = []  # (kill index, first copy's lead)
        for key, times in copies.items():
            for _ in range(len(times) - queued[key]):
                kill = next(
                    (
                        d
                        for d in self.done
                        if any(d.mono - IN_FLIGHT_WINDOW <= t <= d.mono for t in times)
                        and any(t > d.mono for t in times)
                    ),
                    None,
                )
                if kill is None:
                    self.problems.append(
                        f"a message reached chat {key[0]} {len(times)} times, not at a kill: "
                        f"{key[1][:80]!r}"
                    )
                else:
                    lead = kill.mono - max(t for t in times if t <= kill.mono)
                    self.duplicates.append((kill.index, lead))
        per_kill = Counter(k for k, _ in self.duplicates)
        for kill_index, count in per_kill.items():
            if count > LANES:
                self.problems.append(
                    f"{count} duplicates at kill {kill_index + 1} (> {LANES} lanes)"
                )
        self._check_climbs(rows)
        self._check_logs()

    def _check_climbs(self, rows: list[tuple[Any, ...]]) -> None:
        """No climb step fired twice: one step's messages are queued at one moment, and the
        steps of a climb a ladder's wait (a minute here) apart."""
        fired: dict[int, dict[tuple[int, int], set[float]]] = defaultdict(lambda: defaultdict(set))
        for _, _, _, _, _, created, esc, step, repeat, _ in rows:
            if esc is not None and step is not None:
                fired[esc][(step, repeat)].add(_epoch(created))
        self.climb_steps = sum(len(steps) for steps in fired.values())
        for esc, steps in fired.items():
            moments = []
            for position, times in sorted(steps.items()):
                if max(times) - min(times) > 1:
                    self.problems.append(f"climb {esc} step {position} was fired twice")
                moments.append(min(times))
            for a, b in itertools.pairwise(sorted(moments)):
                if b - a < 50:
                    self.problems.append(f"climb {esc}: two steps {b - a:.0f} s apart (wait 60 s)")

    def _check_logs(self) -> None:
        self.warnings = 0
        for proc in self.procs:
            self.problems += proc.exits
            log = proc.log.read_text(errors="replace")
            for record in re.split(r"\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d|====)", log):
                head = record.split("\n", 1)[0]
                self.warnings += " WARNING " in head
                if " ERROR " in head or " CRITICAL " in head or "\nTraceback" in record:
                    self.problems.append(f"{proc.name} logged: {record.strip()[:400]}")

    def _report(self) -> None:
        rounds = self.done
        print(
            f"\n{len(rounds)} SIGKILLs of the singleton holder, two `whereabouts run` processes on "
            f"one PostgreSQL database; lease {LEASE.total_seconds():.0f} s, beat every "
            f"{RENEW_EVERY.total_seconds():.0f} s, a holder dead after "
            f"{HOLDER_DEAD_AFTER.total_seconds():.0f} s without a beat; sweep interval 30 s "
            f"(production); {self.absent} children sent absent, ladders of one-minute steps"
        )
        if rounds:
            print(_line("takeover of the singletons (leases)", [r.takeover for r in rounds]))
            print(_line("  the survivor's first getUpdates", [r.first_poll for r in rounds]))
            print(_line("next due climb step sent, from the kill", [r.step for r in rounds]))
            print(_line("  its lateness against its due time", [r.step_late for r in rounds]))
            print(_line("killed process up again (first beat)", [r.restart for r in rounds]))
        print(
            f"outbox rows {self.outbox}, lost {self.lost}; climb steps fired {self.climb_steps}; "
            f"messages received twice {len(self.duplicates)}, all in flight at a kill "
            f"({len({k for k, _ in self.duplicates})} of {len(rounds)} kills)"
            if not any("not at a kill" in p for p in self.problems)
            else f"messages received twice: {len(self.duplicates)} at kills, others below"
        )
        for kill_index, lead in self.duplicates:
            print(f"  duplicate at kill {kill_index + 1}: first copy {lead:.3f} s before the kill")
        print(f"bot log warnings: {self.warnings}")
        if rounds:
            p99 = percentile([r.step for r in rounds], 99)
            verdict = "met" if p99 <= 10 and not self.problems else "NOT met"
            print(f"target p99 <= 10 s from the kill to the next due step, nothing lost: {verdict}")
        if self.problems:
            print(f"PROBLEMS ({len(self.problems)}):")
            for problem in self.problems[:40]:
                print(f"  - {problem}")


def _line(what: str, values: list[float]) -> str:
    return (
        f"{what:40} p50 {percentile(values, 50):5.2f} s  p99 {percentile(values, 99):5.2f} s"
        f"  max {max(values):5.2f} s"
    )


async def two_processes(
    server: str, kills: int, seed: int, children: int, keep: Path | None
) -> int:
    logging.basicConfig(level=logging.ERROR)
    # A request cut off by a kill is expected here: aiohttp would log each one as an error.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    workdir = keep or Path(tempfile.mkdtemp(prefix="wb-failover-"))
    workdir.mkdir(parents=True, exist_ok=True)
    with scratch_database(server, "failover") as url:
        print(server_settings(url))
        print(f"logs in {workdir}; seed {seed}; {os.cpu_count()} CPUs, load {_load()}", flush=True)
        code = await Failover(url, workdir, kills, seed, children).run()
    print(f"load at the end: {_load()}")
    if keep is None and code == 0:
        shutil.rmtree(workdir, ignore_errors=True)
    return code


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=None, help="20 in one process, 100 with --db")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", help="a PostgreSQL server's URL: two processes, SIGKILL")
    parser.add_argument(
        "--children", type=int, default=40, help="with --db: the pool to send absent"
    )
    parser.add_argument("--keep", type=Path, help="with --db: keep the bots' logs here")
    args = parser.parse_args()
    if args.db:
        run = two_processes(args.db, args.kills or 100, args.seed, args.children, args.keep)
    else:
        run = main(args.kills or 20, args.seed)
    sys.exit(asyncio.run(run))
