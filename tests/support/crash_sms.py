"""The crash loop for texts (issue 21): the bot as a process with GOV.UK Notify configured
(the Notify stand-in in this process), SIGKILLed at random moments and as a text reaches
Notify or as Notify's received texts are fetched, and started again.

Each child is reported; the alerts go by chat and, by everyone's rule, by SMS at once; the
first person texted replies "ACK <code>" by SMS; then the child is found. At the end, with
the bot stopped and the outbox drained:

- every SMS the outbox holds was sent, and reached Notify exactly once (by its reference
  `wb-<outbox id>`: never twice as two messages, not even one in flight at a kill), and
  Notify got no text the outbox does not hold;
- each ACK reply was processed once: one record of it, at most one "acknowledged by SMS"
  on the timeline per child, and at most one reply text to it.

The Telegram stand-in, the bot process and the team come from tests/support/crash_rig.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from storage import notify_store
from storage.db import Database
from tests.support.crash_rig import SHARED as CRASH_STAFF
from tests.support.crash_rig import (
    TOKEN,
    BotProcess,
    CrashConfig,
    Kid,
    Person,
    StandIn,
    _connect,
    _drain,
    kids,
    prepare_db,
)
from tests.support.notify_standin import SMS_TEMPLATE, NotifyStandIn

PHONES = {sid: f"07700 9{3000 + n:05d}" for n, sid in enumerate(CRASH_STAFF)}


@dataclass
class TrappedNotify(NotifyStandIn):
    """The Notify stand-in, calling `trap` (once) as a text is accepted or texts are listed:
    after Notify has it and before the bot has the answer."""

    trap: Any = None
    on_list: Any = None

    async def _sms(self, request: web.Request) -> web.Response:
        answer = await super()._sms(request)
        if self.trap is not None and answer.status == 201:
            trap, self.trap = self.trap, None
            trap()
        return answer

    async def _received(self, request: web.Request) -> web.Response:
        answer = await super()._received(request)
        if self.on_list is not None:
            trap, self.on_list = self.on_list, None
            trap()
        return answer


class NotifyBot(BotProcess):
    def __init__(self, *args: Any, notify: NotifyStandIn, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.notify = notify

    def _env(self) -> dict[str, str]:
        env = super()._env()
        env.update(
            NOTIFY_API_KEY=self.notify.api_key,
            WHEREABOUTS_NOTIFY_BASE_URL=self.notify.base_url,
            WHEREABOUTS_NOTIFY_SMS_TEMPLATE=SMS_TEMPLATE,
            WHEREABOUTS_NOTIFY_POLL_SECONDS="0.2",
        )
        return env


@dataclass
class SmsResult:
    problems: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def report(self) -> str:
        lines = [f"{k}: {v}" for k, v in self.figures.items()]
        return "\n".join(lines + [f"PROBLEM: {p}" for p in self.problems])


async def _prepare(workdir: Path, config: CrashConfig) -> tuple[list[Kid], dict[str, Person], Path]:
    workdir.mkdir(parents=True, exist_ok=True)
    children = kids(config.children)
    people = {k.carer: Person(k.carer, f"Carer {k.first_name}", 2001 + k.index) for k in children}
    people |= {sid: Person(sid, name, uid) for sid, (_, name, uid) in CRASH_STAFF.items()}
    db = workdir / "whereabouts.db"
    await prepare_db(db, children, people, config.synchronous)
    async with Database(db, config.synchronous) as opened, opened.write() as tx:
        for staff_id, phone in PHONES.items():  # the team file's numbers: verified
            await tx.execute("UPDATE staff SET phone = ? WHERE id = ?", (phone, staff_id))
        for role in {role for role, _, _ in CRASH_STAFF.values()}:
            scope = notify_store.role_scope(role)
            for urgency in ("urgent", "routine"):
                chain = (("chat", timedelta(0)), ("sms", timedelta(0)))
                await notify_store.set_rule(tx, scope, urgency, chain, "admin", datetime.now(UTC))
    return children, people, db


async def run_sms_crash_loop(workdir: Path, config: CrashConfig) -> SmsResult:
    rng = random.Random(config.seed)
    children, people, db = await _prepare(workdir, config)
    stand_in = await StandIn(token=TOKEN).start()
    notify = await TrappedNotify().start()
    bot = NotifyBot(db, stand_in, workdir / "bot.log", config, notify=notify)
    result = SmsResult()
    kinds: Counter[str] = Counter()
    acked: list[tuple[str, str]] = []  # (child ref, the ACK text's id)
    stopping = asyncio.Event()
    try:
        await bot.start()

        async def script(kid: Kid) -> None:
            carer = people[kid.carer].uid
            round_ = 0
            while not stopping.is_set():
                start = len(notify.sent)
                stand_in.user_says(carer, f"/absent {kid.ref} now left after a row ({round_})")
                deadline = time.monotonic() + config.command_timeout
                text_id = None
                while time.monotonic() < deadline and text_id is None:
                    for sent in list(notify.sent[start:]):
                        found = re.search(r"for (C-\d+) .*Reply ACK (\d{4})", sent["body"])
                        if found and found.group(1) == kid.ref:
                            text_id = notify.receive_text(sent["to"], f"ACK {found.group(2)}")
                            break
                    await asyncio.sleep(0.1)
                if text_id is None:
                    result.problems.append(f"{kid.ref}: no text with an ACK code came")
                    return
                acked.append((kid.ref, text_id))
                while time.monotonic() < deadline and not _processed(db, text_id):
                    await asyncio.sleep(0.2)  # the reply is read across kills
                stand_in.user_says(carer, f"/found {kid.ref} now self came back")
                await asyncio.sleep(rng.uniform(2, 4))
                round_ += 1

        scripts = [asyncio.create_task(script(k)) for k in children]
        kills = 0
        while kills < config.kills:
            roll = rng.random()
            if not await bot.wait_ready():
                result.problems.append(f"life {len(bot.lives) - 1} never polled")
            elif roll < 0.45:
                arrived = asyncio.get_running_loop().create_future()

                def trap(arrived: asyncio.Future[None] = arrived) -> None:
                    bot.kill_now()
                    arrived.set_result(None)

                if roll < 0.2:
                    notify.trap, what = trap, "as Notify accepted a text"
                else:
                    notify.on_list, what = trap, "as received texts were fetched"
                try:
                    await asyncio.wait_for(arrived, 2 * config.max_uptime)
                    kinds[what] += 1
                except TimeoutError:
                    kinds["after a while, nothing came"] += 1
                notify.trap = notify.on_list = None
            else:
                kinds["at random while up"] += 1
                await asyncio.sleep(rng.uniform(0, config.max_uptime))
            await bot.kill()
            kills += 1
            await asyncio.sleep(rng.uniform(0, config.max_downtime))
            await bot.start()
        stopping.set()
        await asyncio.wait_for(asyncio.gather(*scripts), config.finish_timeout)
        if not await _drain(db, config.drain_timeout):
            result.problems.append(f"the outbox did not drain within {config.drain_timeout} s")
        await asyncio.sleep(1.0)  # a last poll of received texts
        await bot.stop()
    finally:
        await bot.kill()
        await stand_in.stop()
        await notify.stop()
    result.figures = {
        "kills": kills,
        "kills by moment": ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())),
        "lives": len(bot.lives),
        "texts sent": len(notify.sent),
        "ACK replies": len(acked),
    }
    with contextlib.closing(_connect(db)) as conn:
        _check(conn, notify, acked, children, result)
    if bot.crashes:
        result.problems += bot.crashes
    return result


def _processed(db: Path, text_id: str) -> bool:
    with contextlib.closing(_connect(db)) as conn:
        row = conn.execute("SELECT 1 FROM received_texts WHERE id = ?", (text_id,)).fetchone()
    return row is not None


def _check(
    conn: sqlite3.Connection,
    notify: NotifyStandIn,
    acked: list[tuple[str, str]],
    children: list[Kid],
    result: SmsResult,
) -> None:
    rows = conn.execute(
        "SELECT id, state, text FROM outbox WHERE recipient GLOB 'sms:*' ORDER BY id"
    ).fetchall()
    references = Counter(s["reference"] for s in notify.sent)
    ours = {f"wb-{row['id']}" for row in rows}
    for row in rows:
        reference = f"wb-{row['id']}"
        if row["state"] != "sent":
            result.problems.append(f"text {row['id']} is {row['state']}, not sent")
        if references[reference] != 1:
            result.problems.append(f"text {row['id']} reached Notify {references[reference]} times")
    strays = set(references) - ours
    if strays:
        result.problems.append(f"Notify got texts the outbox does not hold: {sorted(strays)}")
    for ref, text_id in acked:
        processed = conn.execute(
            "SELECT outcome FROM received_texts WHERE id = ?", (text_id,)
        ).fetchall()
        if len(processed) != 1:
            result.problems.append(f"{ref}: its ACK reply was processed {len(processed)} times")
        replies = conn.execute(
            "SELECT COUNT(*) FROM outbox WHERE idem_key GLOB ?", (f"sms-in:{text_id}:reply",)
        ).fetchone()[0]
        if replies > 1:
            result.problems.append(f"{ref}: {replies} reply texts to one ACK")
    for kid in children:
        by_sms = conn.execute(
            "SELECT COUNT(*) FROM events e JOIN children c ON c.id = e.child_id"
            " WHERE c.ref = ? AND e.kind = 'ack' AND e.text LIKE '%acknowledged by SMS%'",
            (kid.ref,),
        ).fetchone()[0]
        replied = sum(1 for ref, _ in acked if ref == kid.ref)
        if by_sms > replied:
            result.problems.append(f"{kid.ref}: {by_sms} acknowledgements by SMS, {replied} ACKs")
        result.figures[f"{kid.ref} acknowledged by SMS"] = by_sms
    outcomes = Counter(
        r["outcome"] for r in conn.execute("SELECT outcome FROM received_texts").fetchall()
    )
    result.figures["received texts by outcome"] = dict(outcomes)
    if outcomes.get("ack", 0) < len(acked):
        result.problems.append(
            f"{len(acked)} ACK replies, {outcomes.get('ack', 0)} took their alert: {dict(outcomes)}"
        )
