"""The crash loop (issue #9): the real bot as a separate process, killed and restarted.

`whereabouts run` runs as a child process against the Telegram Bot API stand-in, which
lives in this process's event loop. Scripted episodes (absent, update, ack, police, ack,
found, the duties that follow, return interview, finalise), one carer per child and shared
social worker, managers and police liaison, are typed and pressed as real Telegram updates
while the bot is killed with SIGKILL at random moments (a seeded RNG picks when) and
started again. A user who gets no answer sends the same command again, as a person would.
At the end the bot is left to drain and stopped, and the database is checked against what
the stand-in received:

- every command that was answered has its effect on the timeline (events);
- every outbox message reached the stand-in, and none twice except those in flight at a
  kill: the outbox sends several recipients' messages at once (bot/delivery.py LANES), each
  recipient's one at a time, so at most one per chat and LANES in all per kill (counted and
  listed); every message the stand-in got was queued;
- no duty reminder step and no climb fired twice as two different messages;
- no episode is half-written; `PRAGMA integrity_check` is ok; the bot never crashed;
- every update the inbox stored was handled by the end.

With `instances=2` (PostgreSQL only: SQLite's file lock refuses a second process by design)
two processes run at once on one database and one stand-in, and each kill picks either at
random; the killed one restarts after the downtime while the other goes on. Only the holder
of the telegram-polling lease polls, so the bot is up while either polls; after the poller's
death the other takes polling within about 8 s (lease 6 s + beat 2 s: bot/instances.py).
Each process has a base URL of its own on the stand-in (`/i0/bot…`, `/i1/bot…`), so every
request is put down to the process, and the life, that made it. Two more checks: no two
instances ever polled at once (Telegram refuses the second), and a sending's command was
carried out once, whichever instance handled or replayed it.

Time is real: the children's trigger plans shorten the ladders to a minute and make the
"report to the police by" alert fire at once, and the sweeper's safety net runs often.
The tests (CI, 20 kills) and bench/crash_loop.py (1,000 kills) share this module.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import os
import random
import re
import signal
import sqlite3
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.delivery import LANES
from config.citations import split_footer
from config.team import TeamFile
from storage import chat_store, staff_store
from storage.db import Database, is_server_url, to_db_time
from storage.models import Recipient, RecipientKind
from tests.support import engines
from tests.support.fake_telegram import CALLER, Call, FakeTelegram
from tests.support.team import child, seed_team, team_file

REPO = Path(__file__).resolve().parents[2]
LONDON = ZoneInfo("Europe/London")
TOKEN = "123:abc"
HOME = "oak-house"
GROUP = -7001  # the home's registered team chat
SEND_METHODS = ("sendMessage", "sendPhoto", "sendDocument")
# The outbox's note on a late message: its last line, or above the footer (bot/delivery.py).
LATE = re.compile(r"\n\(late by [^)\n]*\)(?=\n[^\n]*$|$)")
FIRST_NAMES = ["Jay", "Kai", "Mia", "Ned", "Ola", "Pip", "Rae", "Sol", "Tam", "Uma"]
SHARED = {
    # staff id: (role, display name, telegram user id)
    "priya": ("social_worker", "Priya", 3001),
    "tom": ("team_manager", "Tom", 3002),
    "ooh1": ("out_of_hours", "Olu", 3003),
    "oohm": ("out_of_hours_manager", "Morgan", 3004),
    "pc1": ("police_liaison", "PC Rees", 3005),
    "mc1": ("missing_coordinator", "Mo", 3006),
    "iro1": ("iro", "Irene", 3007),
    "admin": ("admin", "Ada", 3008),
}
ACKERS = ("priya", "tom", "ooh1", "oohm")  # who may get an alert with an "I've got it" button
ONLY_POSTGRESQL = (
    "two instances need PostgreSQL: SQLite's file lock refuses a second process on the same "
    "file by design (storage/process_lock.py)"
)


def from_the_outbox(text: str) -> bool:
    """The outbox's messages (alerts, reminders) end with their rules' footer; a reply to a
    command has none."""
    return split_footer(text)[1] is not None


@dataclass(frozen=True)
class CrashConfig:
    kills: int = 20
    seed: int = 9
    children: int = 3
    synchronous: str = "FULL"
    sweep_interval: float = 0.5  # WHEREABOUTS_SWEEP_INTERVAL_SECONDS (30 s in production)
    startup_kill_share: float = 0.15  # this share of kills lands while the bot is starting,
    send_kill_share: float = 0.35  # this share as an outbox message reaches the stand-in,
    max_uptime: float = 2.0  # and the rest up to this long after the bot first polls
    max_downtime: float = 0.3  # dead this long at most before the restart
    resend_after: float = 3.0  # a person repeats a command the bot has been up this long for
    ack_wait: float = 4.0  # wait this long for an alert to press before typing /ack
    duty_wait: float = 30.0  # wait this long for a duty reminder before giving up on /done
    command_timeout: float = 90.0  # a command unanswered this long is a failure
    finish_timeout: float = 120.0  # after the last kill, the episodes in hand must finish
    drain_timeout: float = 60.0
    # 2: two processes on one PostgreSQL database, each kill picking either at random
    instances: int = 1


# ---- the bot as a process ------------------------------------------------------------------


@dataclass
class Life:
    index: int
    pid: int
    spawned: float  # time.monotonic(), like the stand-in's Call.at
    ready: float | None = None  # first getUpdates after the spawn
    ended: float | None = None
    how: str = ""  # 'kill' | 'stop' | 'exit <code>'


@dataclass
class StandIn(FakeTelegram):
    """The Bot API stand-in, also noting when each process polls (so we know it is up)."""

    # getUpdates arrivals by the caller's base URL prefix (`base_url_for`), in time order
    polls: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    poll_spans: list[tuple[str, float, float]] = field(default_factory=list)  # (via, from, to)
    fetched: set[int] = field(default_factory=set)  # update ids a getUpdates handed out
    trap: Callable[[], None] | None = None  # called (once) when an outbox message arrives
    trap_via: str | None = None  # from this caller only (None: any)
    on_poll: Callable[[int], None] | None = None  # called with each getUpdates offset

    def _m_sendMessage(self, params: dict[str, Any]) -> dict[str, Any] | web.Response:
        result = super()._m_sendMessage(params)
        if (
            self.trap is not None
            and from_the_outbox(str(params.get("text", "")))
            and self.trap_via in (None, CALLER.get())
        ):
            trap, self.trap = self.trap, None
            trap()  # before the bot gets the answer: this message is in flight at the kill
        return result

    async def _m_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        via, began = CALLER.get(), time.monotonic()
        self.polls[via].append(began)
        if self.on_poll is not None:
            self.on_poll(int(params.get("offset") or 0))
        try:
            updates = await super()._m_getUpdates(params)
        finally:
            self.poll_spans.append((via, began, time.monotonic()))
        self.fetched.update(u["update_id"] for u in updates)
        return updates


class BotProcess:
    """`python -m bot.cli run` against the stand-in: start, SIGKILL, stop. `name`: the
    prefix of its own base URL on the stand-in, which notes each call `via` it."""

    def __init__(
        self, db: Path | str, stand_in: StandIn, log: Path, config: CrashConfig, name: str = ""
    ) -> None:
        self.db = db
        self.stand_in = stand_in
        self.log = log
        self.config = config
        self.name = name
        self.lives: list[Life] = []
        self.crashes: list[str] = []  # lives that ended without being killed or stopped
        self._proc: asyncio.subprocess.Process | None = None
        self._watch: asyncio.Task | None = None
        self._ours = False  # the current process is ending because we ended it

    def _env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("WHEREABOUTS_", "TELEGRAM_", "SLACK_", "PTB_"))
        }
        env.update(
            WHEREABOUTS_DB=str(engines.target(self.db)),  # a URL on PostgreSQL
            WHEREABOUTS_SYNCHRONOUS=self.config.synchronous,
            WHEREABOUTS_SWEEP_INTERVAL_SECONDS=str(self.config.sweep_interval),
            WHEREABOUTS_TELEGRAM_BASE_URL=(
                self.stand_in.base_url_for(self.name) if self.name else self.stand_in.base_url
            ),
            WHEREABOUTS_HTTP_PORT="0",  # /healthz on a free port: rigs may run side by side
            TELEGRAM_BOT_TOKEN=TOKEN,
            PYTHONUNBUFFERED="1",
        )
        return env

    @property
    def current(self) -> Life | None:
        return self.lives[-1] if self.lives and self.lives[-1].ended is None else None

    def _ready(self, life: Life) -> float | None:
        if life.ready is None:
            polls = self.stand_in.polls[self.name]  # in time order
            first = bisect.bisect_left(polls, life.spawned)
            if first < len(polls) and (life.ended is None or polls[first] <= life.ended):
                life.ready = polls[first]
        return life.ready

    def up_for(self) -> float:
        """How long the running bot has been polling (0 while down or starting)."""
        life = self.current
        ready = self._ready(life) if life else None
        return time.monotonic() - ready if ready is not None else 0.0

    def polling_spans(self, since: float) -> list[tuple[float, float]]:
        """(from, to) of each life that polled, from its first poll to its end, since `since`."""
        spans = []
        for life in reversed(self.lives):
            end = life.ended or time.monotonic()
            if end < since:
                break
            ready = self._ready(life)
            if ready is not None and end > max(ready, since):
                spans.append((max(ready, since), end))
        return spans

    def uptime_since(self, since: float) -> float:
        """How long, all lives together, the bot has been polling since `since`."""
        return sum(end - start for start, end in self.polling_spans(since))

    async def start(self) -> Life:
        assert self.current is None
        with self.log.open("ab") as log:
            log.write(f"\n==== {self.name} life {len(self.lives)} ====\n".encode())
            log.flush()
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot.cli",
                "run",
                cwd=REPO,
                env=self._env(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        life = Life(len(self.lives), self._proc.pid, time.monotonic())
        self.lives.append(life)
        self._ours = False
        self._watch = asyncio.create_task(self._watch_exit(self._proc, life))
        return life

    async def _watch_exit(self, proc: asyncio.subprocess.Process, life: Life) -> None:
        code = await proc.wait()
        life.ended = time.monotonic()
        if not self._ours:
            life.how = f"exit {code}"
            self.crashes.append(
                f"{self.name} life {life.index} (pid {life.pid}) exited by itself: {code}"
            )

    async def wait_ready(self, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.current is None:
                return False
            if self.up_for() > 0:
                return True
            await asyncio.sleep(0.02)
        return False

    async def kill(self) -> None:
        await self._end(signal.SIGKILL, "kill")

    def kill_now(self) -> None:
        """SIGKILL at once, from inside a stand-in request handler (kill() then reaps it)."""
        life, proc = self.current, self._proc
        if life is not None and proc is not None:
            self._ours = True
            life.how = "kill"
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGKILL)

    async def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM, as an operator would; the bot stops cleanly (or is killed and it's noted)."""
        await self._end(signal.SIGTERM, "stop", timeout)

    async def _end(self, sig: int, how: str, timeout: float = 10.0) -> None:
        life, proc = self.current, self._proc
        if life is None or proc is None:
            return
        if life.how == "kill":  # kill_now() has sent it already
            await self._watch  # type: ignore[misc]
            return
        self._ours = True
        life.how = how
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            await asyncio.wait_for(asyncio.shield(self._watch), timeout)  # type: ignore[arg-type]
        except TimeoutError:
            self.crashes.append(
                f"{self.name} life {life.index} did not stop within {timeout} s of {how}"
            )
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await self._watch  # type: ignore[misc]

    def life_at(self, at: float) -> Life | None:
        """The life that made a request (via this process's base URL) the stand-in received
        at `at` (a new process needs well over 0.3 s to import before it can send anything)."""
        found = None
        for life in self.lives:
            if life.spawned + 0.3 <= at:
                found = life
        return found


class Cluster:
    """The instances on one database. The bot is up while any of them polls (only the
    holder of the telegram-polling lease does)."""

    def __init__(self, processes: list[BotProcess]) -> None:
        self.processes = processes
        self._by_via = {p.name: p for p in processes}

    @property
    def lives(self) -> list[Life]:
        return [life for p in self.processes for life in p.lives]

    @property
    def crashes(self) -> list[str]:
        return [crash for p in self.processes for crash in p.crashes]

    def life_of(self, call: Call) -> tuple[BotProcess, Life] | None:
        """The process and the life that made the call."""
        process = self._by_via.get(call.via)
        life = process.life_at(call.at) if process is not None else None
        return (process, life) if process is not None and life is not None else None

    def uptime_since(self, since: float) -> float:
        """How long some instance has been polling since `since` (overlaps counted once)."""
        spans = sorted(span for p in self.processes for span in p.polling_spans(since))
        total, reached = 0.0, since
        for start, end in spans:
            if end > reached:
                total += end - max(start, reached)
                reached = end
        return total

    def polling(self) -> bool:
        return any(p.up_for() > 0 for p in self.processes)

    async def wait_ready(self, timeout: float = 30.0) -> bool:
        """Some instance polls (after the poller's death the other takes it within ~8 s)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.polling():
                return True
            await asyncio.sleep(0.02)
        return False

    async def start(self) -> None:
        for process in self.processes:
            await process.start()

    async def stop(self) -> None:
        await asyncio.gather(*(p.stop() for p in self.processes))

    async def kill(self) -> None:
        await asyncio.gather(*(p.kill() for p in self.processes))


# ---- the team -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Kid:
    index: int
    ref: str
    first_name: str
    carer: str

    @property
    def label(self) -> str:
        return f"{self.ref} {self.first_name}"


@dataclass
class Person:
    staff_id: str
    name: str
    uid: int
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def kids(count: int) -> list[Kid]:
    return [
        Kid(i, f"C-{100 + i:04d}", FIRST_NAMES[i % len(FIRST_NAMES)], f"carer{i}")
        for i in range(count)
    ]


def crash_team(children: list[Kid], now: datetime) -> TeamFile:
    staff: list[dict[str, Any]] = [
        {"id": k.carer, "name": f"Carer {k.first_name}", "role": "carer", "home": HOME}
        for k in children
    ]
    for staff_id, (role, name, _) in SHARED.items():
        staff.append({"id": staff_id, "name": name, "role": role})
    staff[[s["id"] for s in staff].index("priya")]["manager"] = "tom"
    plan = {"review_interval": "1m", "ladder_wait": "1m", "report_to_police_after": "10m"}
    span = {
        "from": (now - timedelta(days=1)).isoformat(),
        "to": (now + timedelta(days=7)).isoformat(),
    }
    rota_rows = [
        {"role": role, "staff": who, **span}
        for role, who in (
            ("out_of_hours", "ooh1"),
            ("out_of_hours_manager", "oohm"),
            ("police_liaison", "pc1"),
            ("missing_coordinator", "mc1"),
        )
    ]
    profile = {"description": "fictional", "trigger_plan": plan}
    return team_file(
        staff=staff,
        children=[
            child(ref=k.ref, first_name=k.first_name, home=HOME, profile=profile) for k in children
        ],
        rota_rows=rota_rows,
    )


async def prepare_db(
    path: Path | str, children: list[Kid], people: dict[str, Person], sync: str
) -> None:
    """The team imported, everyone enrolled on Telegram, the home's group chat registered."""
    now = datetime.now(UTC)
    async with Database(path, sync) as db:
        await seed_team(db, crash_team(children, now))
        async with db.write() as tx:
            for person in people.values():
                await staff_store.bind_identity(tx, "telegram", str(person.uid), person.staff_id)
            await chat_store.register_team_chat(tx, "telegram", str(GROUP), HOME, "tom", now)


# ---- what people type ------------------------------------------------------------------------


@dataclass
class Command:
    kind: str
    ref: str
    who: str
    text: str
    accept: re.Pattern[str]  # an answer to this command (done, or done before: "already")
    effect: tuple[tuple[str, ...], str | None]  # event kinds, and a text the event holds
    pushes: list[float] = field(default_factory=list)  # monotonic
    wall: float = 0.0  # time.time() of the first push
    update_ids: list[int] = field(default_factory=list)
    callback_ids: set[str] = field(default_factory=set)
    answer: str | None = None
    answered_at: float | None = None
    gave_up: bool = False


TAG = re.compile(r"tag-\d+-\d+-\w")
# The answer to an /ack (or a press) on an alert someone else holds: who has it.
HELD_ANSWER = re.compile(r" already has .*\. To take it over: /handover ")
# The answer to a command replayed after a kill whose effect was stored before it.
REPLAYED = "^Recorded before a restart, at \\d\\d:\\d\\d: your {} is saved"


def also_replayed(accept: re.Pattern[str], said: str) -> re.Pattern[str]:
    command = re.escape(said.split()[0]) if said.split() else "message"
    return re.compile(f"(?:{accept.pattern})|(?:{REPLAYED.format(command)})")


TAIL_TAG = re.compile(r"tag-\d+-\d+-\w$")


def _pushed_text(text: str, attempt: int) -> str:
    """Each sending of a command that ends in a tag is marked (tag-0-1-u.2: the second), so
    the timeline shows which sending was handled."""
    return f"{text}.{attempt}" if TAIL_TAG.search(text) else text


class Driver:
    """People typing and pressing, one command at a time each, repeating what goes unanswered."""

    def __init__(
        self, stand_in: StandIn, bot: Cluster, people: dict[str, Person], config: CrashConfig
    ) -> None:
        self.t = stand_in
        self.bot = bot
        self.people = people
        self.config = config
        self.commands: list[Command] = []
        self.skipped_duties: list[str] = []
        self.episodes_done = 0
        self.stopping = asyncio.Event()

    # -- primitives --

    def _replies(self, uid: int, start: int) -> list[Call]:
        return [
            c
            for c in self.t.calls[start:]
            if c.method == "sendMessage"
            and int(c.params.get("chat_id", 0)) == uid
            and not from_the_outbox(str(c.params.get("text", "")))
        ]

    async def _until(self, predicate: Callable[[], Any], timeout: float) -> Any:
        with contextlib.suppress(AssertionError):
            return await self.t.wait_for(predicate, timeout)
        return None

    async def _converse(self, cmd: Command, push: Callable[[], None], find: Callable[[], Any]):
        self.commands.append(cmd)
        cmd.wall = time.time()
        deadline = time.monotonic() + self.config.command_timeout
        while True:
            push()
            cmd.pushes.append(time.monotonic())
            while True:
                found = await self._until(find, 0.5)
                if found is not None:
                    cmd.answered_at = time.monotonic()
                    return found
                if time.monotonic() > deadline:
                    cmd.gave_up = True
                    return None
                if self.bot.uptime_since(cmd.pushes[-1]) >= self.config.resend_after:
                    break  # the bot has been up a while and said nothing: say it again

    async def say(
        self,
        who: str,
        text: str,
        kind: str,
        kid: Kid,
        accept: re.Pattern[str],
        effect: tuple[tuple[str, ...], str | None],
    ) -> Command:
        person = self.people[who]
        async with person.lock:
            cmd = Command(kind, kid.ref, who, text, also_replayed(accept, text), effect)
            start = len(self.t.calls)

            def push() -> None:
                said = _pushed_text(text, len(cmd.pushes) + 1)
                cmd.update_ids.append(
                    self.t.user_says(person.uid, said, name=person.name)["update_id"]
                )

            def find() -> Call | None:
                return next(
                    (
                        c
                        for c in self._replies(person.uid, start)
                        if cmd.accept.search(c.params["text"])
                    ),
                    None,
                )

            reply = await self._converse(cmd, push, find)
            cmd.answer = reply.params["text"] if reply else None
            return cmd

    async def press(
        self,
        who: str,
        sent: Call,
        data: str,
        kid: Kid,
        accept: re.Pattern[str],
        effect: tuple[tuple[str, ...], str | None],
    ) -> Command:
        person = self.people[who]
        async with person.lock:
            cmd = Command("ack-button", kid.ref, who, data, also_replayed(accept, data), effect)
            start = len(self.t.calls)

            def push() -> None:
                update = self.t.user_presses(person.uid, sent, data, name=person.name)
                cmd.update_ids.append(update["update_id"])
                cmd.callback_ids.add(update["callback_query"]["id"])

            def find() -> Call | None:
                return next(
                    (
                        c
                        for c in self.t.calls[start:]
                        if c.method == "answerCallbackQuery"
                        and c.params.get("callback_query_id") in cmd.callback_ids
                    ),
                    None,
                )

            answer = await self._converse(cmd, push, find)
            cmd.answer = str(answer.params.get("text", "")) if answer else None
            return cmd

    # -- the script --

    async def run_child(self, kid: Kid) -> None:
        number = 0
        while number == 0 or not self.stopping.is_set():
            number += 1
            if not await self.episode(kid, number):
                return  # a command went unanswered: the checks report it
            self.episodes_done += 1

    async def episode(self, kid: Kid, n: int) -> bool:
        """One episode, start to finish; False if a command went unanswered (checks report it)."""
        ref, label = kid.ref, re.escape(kid.label)

        def tag(step: str) -> str:
            return f"tag-{kid.index}-{n}-{step}"

        async def say(who: str, text: str, kind: str, ok: str, already: str | None,
                      effect: tuple[tuple[str, ...], str]) -> bool:  # fmt: skip
            accept = re.compile(f"(?:{ok})|(?:{already})" if already else ok)
            return not (await self.say(who, text, kind, kid, accept, effect)).gave_up

        # Last seen 20 minutes ago: the trigger plan's "report by" (10 min) alerts at once.
        # Found at that same minute, so the next episode's last seen is never before it.
        seen = (datetime.now(LONDON) - timedelta(minutes=20)).strftime("%Y-%m-%d %H:%M")
        police = f"PR{kid.index}x{n}"
        begun = len(self.t.calls)
        if not (
            await say(
                kid.carer,
                f"/absent {ref} {seen} left after a row, phone off {tag('a')}",
                "absent",
                f"^Recorded: {label} absent",
                f"^{label} is already reported",
                (("last_seen", "reported_again"), tag("a")),
            )
            and await say(
                kid.carer,
                f"/update {ref} searched the park, rang Leo {tag('u')}",
                "update",
                f"^Added to {label}'s timeline",
                None,
                (("update",), tag("u")),
            )
            and not (await self.ack(kid, begun, "ABS-")).gave_up  # the absence alerts
        ):
            return False
        asked_police = len(self.t.calls)
        if not (
            await say(
                kid.carer,
                f"/police {ref} ref {police} grade medium",
                "police",
                f"^Recorded: {label} reported missing to the police, ref {police}",
                f"^{label} is already reported missing, ref {police}",
                (("police_report",), f"ref {police}"),
            )
            # whoever holds the absence is updated and holds the police report's alert too;
            # if someone else took it, the /ack is answered with who has it
            and not (await self.ack(kid, asked_police, "MIS-NOTIFY", held_ok=True)).gave_up
        ):
            return False
        found_at = len(self.t.calls)
        if not await say(
            kid.carer,
            f"/found {ref} {seen} self back home {tag('f')}",
            "found",
            f"^Recorded: {label} found",
            f"^{label} has no open episode, so I can't record them found",
            (("found",), tag("f")),
        ):
            return False
        closed = await asyncio.gather(
            self.close_duty(kid, kid.carer, "RET-POLICE", f"(ref {police})", found_at, tag("p")),
            self.close_duty(kid, "pc1", "RET-SWC", kid.label, found_at, tag("s")),
        )
        return (
            not any(c.gave_up for c in closed if c is not None)
            and await say(
                "priya",
                f"/rhi {ref} held by Ana (R-U-Safe) {tag('r')}",
                "rhi",
                f"^Recorded: return interview held for {label}",
                f"^The interview for {label} \\(episode #\\d+\\) is already recorded as held",
                (("rhi",), tag("r")),
            )
            and await say(
                "tom",
                f"/finalise {ref} all done {tag('z')}",
                "finalise",
                f"^Episode #\\d+ for {label} finalised",
                f"^{label}'s episode #\\d+ is already finalised",
                (("finalised",), tag("z")),
            )
        )

    async def ack(self, kid: Kid, since: int, rules: str, held_ok: bool = False) -> Command:
        """Whoever got an alert with "I've got it" for this child presses it; else Priya types it.

        The answer names the rules taken, so a late answer to an earlier /ack is not this one's.
        `held_ok`: the alert may already be held by someone (the holder of the episode), and
        the answer says who has it.
        """
        data = f"/ack {kid.ref}"
        accept = re.compile(
            f"^You have {re.escape(kid.label)} \\[{rules}"
            + (f"|^.* already has {re.escape(kid.label)}\\. To take it over" if held_ok else "")
        )

        def alert() -> tuple[str, Call] | None:
            for call in self.t.calls[since:]:
                if call.method != "sendMessage" or data not in str(
                    call.params.get("reply_markup", "")
                ):
                    continue
                for who in ACKERS:
                    if int(call.params.get("chat_id", 0)) == self.people[who].uid:
                        return who, call
            return None

        found = await self._until(alert, self.config.ack_wait)
        if found is not None:
            who, call = found
            return await self.press(who, call, data, kid, accept, (("ack",), None))
        return await self.say("priya", data, "ack", kid, accept, (("ack",), None))

    async def close_duty(
        self, kid: Kid, who: str, rule: str, needle: str, since: int, note_tag: str
    ) -> Command | None:
        """The owner closes the duty named in the reminder they were sent."""
        uid = self.people[who].uid
        # The reminder: "D25: <what to do> …", its rule in the footer line at the end.
        pattern = re.compile(rf"^(D\d+): .*{re.escape(needle)}.*\n{rule}\b[^\n]*$", re.S)

        def reminder() -> str | None:
            labels = [
                m.group(1)
                for c in self.t.calls[since:]
                if c.method == "sendMessage"
                and int(c.params.get("chat_id", 0)) == uid
                and (m := pattern.search(str(c.params.get("text", ""))))
            ]
            return labels[-1] if labels else None

        duty = await self._until(reminder, self.config.duty_wait)
        if duty is None:
            self.skipped_duties.append(f"{rule} for {kid.label}")
            return None
        d = re.escape(duty)
        return await self.say(
            who,
            f"/done {duty} done, {note_tag}",
            "done",
            kid,
            re.compile(
                f"(?:^{d} \\[{rule}\\] for {re.escape(kid.label)} closed as done)"
                f"|(?:^{d} was already done)"
            ),
            (("duty_done",), note_tag),
        )


# ---- the run ----------------------------------------------------------------------------------


@dataclass
class Duplicate:
    outbox_id: int
    key: str
    chat: int
    instance: str  # the process that sent the first copy (its base URL's prefix)
    life: int  # its life that sent the first copy
    ended: str  # how that life ended: 'kill' | 'stop' | 'exit <code>'
    how: str  # 'unrecorded' (the send's answer never came back) | 'recorded' (not marked sent)
    before_end: float | None = None  # from the first copy's arrival to that life's end, s


@dataclass
class Result:
    config: CrashConfig
    figures: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    workdir: Path | None = None
    logs: list[Path] = field(default_factory=list)

    def report(self) -> str:
        lines = [f"crash loop, seed {self.config.seed}:"]
        lines += [f"  {name:38} {value}" for name, value in self.figures.items()]
        for dup in self.duplicates:
            lines.append(
                f"  duplicate from {dup.instance} life {dup.life} ({dup.ended}): outbox "
                f"#{dup.outbox_id} {dup.key} to chat {dup.chat} ({dup.how})"
            )
        if self.problems:
            lines.append(f"  PROBLEMS ({len(self.problems)}):")
            lines += [f"  - {p}" for p in self.problems[:60]]
            if len(self.problems) > 60:
                lines.append(f"  ... and {len(self.problems) - 60} more")
        return "\n".join(lines)


async def run_crash_loop(workdir: Path, config: CrashConfig, db: str | None = None) -> Result:
    """`db`: a PostgreSQL database's URL to run on (the bench's `--db`); else a file in
    `workdir` (a database of its own on the test server in a PostgreSQL run of the tests)."""
    # A request cut off by a kill is expected here: aiohttp would log each one as an error.
    server_log = logging.getLogger("aiohttp.server")
    level = server_log.level
    server_log.setLevel(logging.CRITICAL)
    try:
        return await _run(workdir, config, db)
    finally:
        server_log.setLevel(level)


class Setup(NamedTuple):
    children: list[Kid]
    people: dict[str, Person]
    db: Path | str
    stand_in: StandIn
    bot: BotProcess  # not started yet (the first of the cluster's)
    cluster: Cluster


async def set_up(workdir: Path, config: CrashConfig, db: str | None = None) -> Setup:
    """A fresh database with the team enrolled, the stand-in listening, the bot (each
    instance, `cluster`) ready to start."""
    workdir.mkdir(parents=True, exist_ok=True)
    children = kids(config.children)
    people = {k.carer: Person(k.carer, f"Carer {k.first_name}", 2001 + k.index) for k in children}
    people |= {sid: Person(sid, name, uid) for sid, (_, name, uid) in SHARED.items()}
    where: Path | str = db if db is not None else workdir / "whereabouts.db"
    if config.instances > 1 and not is_server_url(engines.target(where)):
        raise ValueError(ONLY_POSTGRESQL)
    for leftover in [*workdir.glob("whereabouts.db*"), *workdir.glob("bot*.log")]:
        leftover.unlink(missing_ok=True)
    await prepare_db(where, children, people, config.synchronous)
    stand_in = await StandIn(token=TOKEN).start()
    logs = (
        [workdir / "bot.log"]
        if config.instances == 1
        else [workdir / f"bot-i{n}.log" for n in range(config.instances)]
    )
    processes = [
        BotProcess(where, stand_in, log, config, name=f"i{n}") for n, log in enumerate(logs)
    ]
    return Setup(children, people, where, stand_in, processes[0], Cluster(processes))


async def _run(workdir: Path, config: CrashConfig, db_url: str | None) -> Result:
    rng = random.Random(config.seed)
    began = time.monotonic()
    children, people, db, stand_in, _, cluster = await set_up(workdir, config, db_url)
    processes = cluster.processes
    driver = Driver(stand_in, cluster, people, config)
    result = Result(config, workdir=workdir, logs=[p.log for p in processes])
    kills_done = 0
    kinds: Counter[str] = Counter()
    killed: Counter[str] = Counter()
    killed_polling: Counter[str] = Counter()  # of those, while it held the polling

    def pick() -> BotProcess:  # the seeded sequence of a one-instance run is as it was
        return rng.choice(processes) if len(processes) > 1 else processes[0]

    restarted: BotProcess | None = None  # the instance started last: it is starting now
    try:
        await cluster.start()
        scripts = [asyncio.create_task(driver.run_child(k)) for k in children]
        while kills_done < config.kills:
            roll = rng.random()
            if roll < config.startup_kill_share:
                # imports, migrations, recovery, the first sweep (of the one starting now)
                target = restarted or pick()
                kinds["while starting"] += 1
                await asyncio.sleep(rng.uniform(0, 1.5))
            elif not await cluster.wait_ready():
                target = pick()
                result.problems.append(
                    f"no instance polled within 30 s (lives {[len(p.lives) - 1 for p in processes]})"
                )
            elif roll < config.startup_kill_share + config.send_kill_share:
                # As an outbox message from it reaches the stand-in: before it has the answer
                # (in flight), or a moment after (sent, maybe recorded, maybe not marked).
                target = pick()
                delay = rng.choice([0.0, rng.uniform(0, 0.05)])
                arrived = asyncio.get_running_loop().create_future()

                def trap(
                    delay: float = delay,
                    arrived: asyncio.Future[None] = arrived,
                    target: BotProcess = target,
                ) -> None:
                    if delay == 0:
                        target.kill_now()
                    arrived.set_result(None)

                stand_in.trap, stand_in.trap_via = trap, target.name
                try:
                    await asyncio.wait_for(arrived, 2 * config.max_uptime)
                    kinds["at a send" if delay == 0 else "just after a send"] += 1
                    await asyncio.sleep(delay)
                except TimeoutError:
                    kinds["after a while, no send came"] += 1
                stand_in.trap = stand_in.trap_via = None
            else:
                target = pick()
                kinds["at random while up"] += 1
                await asyncio.sleep(rng.uniform(0, config.max_uptime))
            killed[target.name] += 1
            killed_polling[target.name] += target.up_for() > 0
            await target.kill()
            kills_done += 1
            await asyncio.sleep(rng.uniform(0, config.max_downtime))
            await target.start()
            restarted = target
            if len(cluster.crashes) > 5:
                break
        driver.stopping.set()
        chaos_over = time.monotonic()
        _, pending = await asyncio.wait(scripts, timeout=config.finish_timeout)
        for task in pending:
            task.cancel()
        if pending:
            result.problems.append(f"{len(pending)} scripts did not finish after the last kill")
        await asyncio.gather(*scripts, return_exceptions=True)
        for task in scripts:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        drained = await _drain(db, config.drain_timeout)
        if not drained:
            result.problems.append(f"the outbox did not drain within {config.drain_timeout} s")
        finished = time.monotonic()
        await cluster.stop()
    finally:
        await cluster.kill()  # only if something above failed and it is still running
        await stand_in.stop()
    result.figures = {
        "kills": kills_done,
        "kills by moment": ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())),
        "lives": len(cluster.lives),
        "synchronous": config.synchronous,
        "children": config.children,
        "episodes finished": driver.episodes_done,
    }
    if len(processes) > 1:
        result.figures["instances"] = f"{len(processes)} on one PostgreSQL database"
        result.figures["kills by instance (polling)"] = ", ".join(
            f"{name} {n} ({killed_polling[name]})" for name, n in sorted(killed.items())
        )
    _check(result, db, stand_in, cluster, driver, people)
    result.figures["elapsed s"] = round(time.monotonic() - began, 1)
    result.figures["chaos s / finish and drain s"] = (
        f"{chaos_over - began:.1f} / {finished - chaos_over:.1f}"
    )
    return result


def _now_text() -> str:
    return to_db_time(datetime.now(UTC))


def _connect(db: Path | str) -> sqlite3.Connection:
    return engines.connect_sync(engines.target(db))  # type: ignore[no-any-return]


async def _drain(db: Path | str, timeout: float) -> bool:
    """Wait until nothing is due: no message waiting to go, no climb or reminder due now."""
    deadline = time.monotonic() + timeout
    quiet = 0
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        now = _now_text()
        with contextlib.closing(_connect(db)) as conn:
            busy = conn.execute(
                "SELECT (SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'sending'))"
                " + (SELECT COUNT(*) FROM escalations WHERE next_at IS NOT NULL AND next_at <= ?)"
                " + (SELECT COUNT(*) FROM duties WHERE next_remind_at IS NOT NULL"
                " AND next_remind_at <= ?)",
                (now, now),
            ).fetchone()[0]
        quiet = quiet + 1 if busy == 0 else 0
        if quiet >= 3:
            return True
    return False


# ---- the checks -----------------------------------------------------------------------------


def _check(
    result: Result,
    db: Path | str,
    stand_in: StandIn,
    bot: Cluster,
    driver: Driver,
    people: dict[str, Person],
) -> None:
    problems = result.problems
    problems += bot.crashes
    records = [
        record
        for log in result.logs
        if log.exists()
        for record in re.split(
            r"\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d|====)", log.read_text(errors="replace")
        )
    ]
    for record in records:
        head = record.split("\n", 1)[0]
        if " ERROR " in head or " CRITICAL " in head or "\nTraceback" in record:
            text = record.strip()
            # the head says where, the tail what was raised
            shown = text if len(text) <= 1200 else f"{text[:600]}\n  ...\n{text[-600:]}"
            problems.append("the bot logged: " + shown)
    result.figures["bot log warnings"] = sum(" WARNING " in r.split("\n", 1)[0] for r in records)
    with contextlib.closing(_connect(db)) as conn:
        if not is_server_url(engines.target(db)):
            _check_integrity(conn, problems)
        _check_commands(conn, driver, problems, result.figures)
        _check_messages(conn, stand_in, bot, people, result)
        _check_duties_and_climbs(conn, problems, result.figures)
        _check_episodes(conn, problems, result.figures)
        _check_redaction(conn, stand_in, problems)
        _check_inbox(conn, problems)
    _check_replies(stand_in, driver, people, problems, result.figures)
    _check_polling(stand_in, bot, problems, result.figures)
    # Not a failure in itself (every queued message is checked above), but it is worth seeing.
    result.figures["/done not typed (no reminder in time)"] = len(driver.skipped_duties)


def _check_integrity(conn: sqlite3.Connection, problems: list[str]) -> None:
    """SQLite's own checks (PostgreSQL enforces foreign keys as it writes, and checks its own
    pages)."""
    verdict = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    if verdict != ["ok"]:
        problems.append(f"PRAGMA integrity_check: {verdict[:5]}")
    broken = conn.execute("PRAGMA foreign_key_check").fetchall()
    if broken:
        problems.append(f"PRAGMA foreign_key_check: {[tuple(r) for r in broken[:5]]}")


def _check_commands(
    conn: sqlite3.Connection, driver: Driver, problems: list[str], figures: dict[str, Any]
) -> None:
    """Every answered command has its effect on the timeline."""
    events = conn.execute(
        "SELECT e.kind, e.text, e.actor_id, e.recorded_at, c.ref FROM events e"
        " JOIN children c ON c.id = e.child_id"
    ).fetchall()
    by_child: dict[str, list[sqlite3.Row]] = defaultdict(list)
    for event in events:
        by_child[event["ref"]].append(event)
    answered = [c for c in driver.commands if c.answer is not None]
    for cmd in driver.commands:
        if cmd.gave_up:
            problems.append(
                f"never answered in {driver.config.command_timeout} s: {cmd.who}: {cmd.text}"
            )
    for cmd in answered:
        if cmd.answer and HELD_ANSWER.search(cmd.answer):
            continue  # told who holds it: nothing to record (a refusal writes nothing)
        kinds, needle = cmd.effect
        since = to_db_time(datetime.fromtimestamp(cmd.wall - 2, UTC))
        hits = [
            e
            for e in by_child[cmd.ref]
            if e["kind"] in kinds
            and e["actor_id"] == cmd.who
            and (needle in e["text"] if needle else e["recorded_at"] >= since)
        ]
        if not hits:
            problems.append(
                f"answered but not on the timeline: {cmd.who}: {cmd.text!r} -> {cmd.answer!r}"
            )
    # Every handling of /absent or /update leaves an event (a repeat: "reported again", or a
    # second update) marked with which sending it was. A sending the bot fetched that left no
    # event was lost at a kill. One that left two was carried out twice: by one life, or by
    # one instance and again by another replaying it. The other tagged commands (/found,
    # /done, /rhi, /finalise) write nothing when done before, so two of theirs are doubles too.
    marks = Counter(
        (e["ref"], m.group(0))
        for e in events
        if (m := re.search(TAG.pattern + r"\.\d+", e["text"]))
    )
    lost = twice = 0
    for cmd in driver.commands:
        if not TAIL_TAG.search(cmd.text):
            continue
        for attempt, update_id in enumerate(cmd.update_ids, 1):
            handled = marks[(cmd.ref, _pushed_text(cmd.text, attempt).split()[-1])]
            if cmd.kind in ("absent", "update"):
                lost += handled == 0 and update_id in driver.t.fetched
            if handled > 1:
                twice += 1
                problems.append(
                    f"carried out {handled} times: {cmd.who}: {_pushed_text(cmd.text, attempt)!r}"
                )
    figures["commands sent (answered)"] = f"{len(driver.commands)} ({len(answered)})"
    figures["commands repeated by the person"] = sum(len(c.pushes) > 1 for c in driver.commands)
    figures["button presses (answered)"] = (
        f"{sum(c.kind == 'ack-button' for c in driver.commands)}"
        f" ({sum(c.kind == 'ack-button' and c.answer is not None for c in answered)})"
    )
    figures["updates fetched, never handled (lost)"] = f"{lost} (of /absent and /update)"
    if lost:
        problems.append(f"{lost} updates the bot fetched were never handled")
    figures["updates handled twice"] = f"{twice} (of the tagged commands)"
    figures["timeline events"] = len(events)


def _chat_of(recipient: str, people: dict[str, Person]) -> int | None:
    to = Recipient.parse(recipient)
    if to.kind is RecipientKind.STAFF and to.ident in people:
        return people[to.ident].uid
    if to.kind is RecipientKind.TEAM and to.ident == HOME:
        return GROUP
    return None


def _check_messages(
    conn: sqlite3.Connection,
    stand_in: StandIn,
    bot: Cluster,
    people: dict[str, Person],
    result: Result,
) -> None:
    """Each queued message reached the stand-in once; a second copy only from a kill: at
    most one per chat, and LANES in all, for each life killed."""
    problems = result.problems
    rows = {r["id"]: r for r in conn.execute("SELECT * FROM outbox ORDER BY id")}
    records: dict[int, list[sqlite3.Row]] = defaultdict(list)
    by_message: dict[tuple[int, int], sqlite3.Row] = {}
    for rec in conn.execute("SELECT * FROM chat_messages WHERE outbox_id IS NOT NULL ORDER BY id"):
        records[rec["outbox_id"]].append(rec)
        by_message[(int(rec["chat_id"]), int(rec["message_id"]))] = rec
    sends = [c for c in stand_in.calls if c.method in SEND_METHODS]
    call_of = {(int(c.params["chat_id"]), c.message_id): c for c in sends if c.message_id}

    def text_of(call: Call) -> str:
        return str(call.params.get("text", call.params.get("caption", "")))

    def same(call: Call, row: sqlite3.Row) -> bool:
        return LATE.sub("", text_of(call)) == row["text"]

    for row in rows.values():
        if row["state"] == "merged":  # sent as part of an earlier row (bot/merging.py)
            head = rows.get(row["merged_into"])
            if head is None or head["state"] != "sent" or head["recipient"] != row["recipient"]:
                problems.append(
                    f"outbox #{row['id']} {row['idem_key']} merged into #{row['merged_into']}, "
                    "which was not sent to the same recipient"
                )
            continue
        if row["state"] != "sent":
            problems.append(
                f"outbox #{row['id']} {row['idem_key']} ended {row['state']}: {row['last_error']}"
            )
            continue
        if row["recipient"] == "redact":
            continue
        chat = _chat_of(row["recipient"], people)
        recs = records.get(row["id"], [])
        if not recs:
            problems.append(
                f"outbox #{row['id']} {row['idem_key']} is 'sent' but was never recorded as sent to a chat"
            )
        for rec in recs:
            call = call_of.get((int(rec["chat_id"]), int(rec["message_id"])))
            if call is None or int(rec["chat_id"]) != chat or not same(call, row):
                problems.append(
                    f"outbox #{row['id']} {row['idem_key']}: the stand-in has no such message in chat {rec['chat_id']}"
                )

    def life_of(call: Call | None) -> tuple[str, int, str]:
        found = bot.life_of(call) if call is not None else None
        if found is None:
            return ("?", -1, "unknown")
        process, life = found
        return (process.name, life.index, life.how)

    def before_end(call: Call | None) -> float | None:
        found = bot.life_of(call) if call is not None else None
        if call is None or found is None or found[1].ended is None:
            return None
        return found[1].ended - call.at

    dups: list[Duplicate] = []
    # A copy recorded twice: sent and recorded, killed before it was marked sent.
    for outbox_id, recs in records.items():
        for earlier in recs[:-1]:
            call = call_of.get((int(earlier["chat_id"]), int(earlier["message_id"])))
            key, chat = rows[outbox_id]["idem_key"], int(earlier["chat_id"])
            dups.append(
                Duplicate(outbox_id, key, chat, *life_of(call), "recorded", before_end(call))
            )
    # A copy never recorded: the bot died before the stand-in's answer came back to it.
    by_chat_text: dict[tuple[int, str], list[int]] = defaultdict(list)
    for row in rows.values():
        if row["state"] == "merged":
            continue  # its text went inside the row it was merged into
        chat = _chat_of(row["recipient"], people)
        if chat is not None:
            by_chat_text[(chat, row["text"])].append(row["id"])

    def outbox_send(call: Call) -> bool:
        """Sent by the outbox: a footer, or the text of a row queued for that chat (an
        instance's note to the admins that it took over has no rule, so no footer)."""
        text = text_of(call)
        return from_the_outbox(text) or (int(call.params["chat_id"]), LATE.sub("", text)) in (
            by_chat_text
        )

    unrecorded = 0
    for call in sends:
        chat = int(call.params["chat_id"])
        if (chat, call.message_id) in by_message or not outbox_send(call):
            continue  # recorded, or a reply to a command (not from the outbox)
        unrecorded += 1
        ids = by_chat_text.get((chat, LATE.sub("", text_of(call))), [])
        if not ids:
            problems.append(
                f"the stand-in got a message nothing queued, in chat {chat}: {text_of(call)[:120]!r}"
            )
            continue
        key = rows[ids[0]]["idem_key"]
        dups.append(Duplicate(ids[0], key, chat, *life_of(call), "unrecorded", before_end(call)))
    per_life = Counter((d.instance, d.life) for d in dups if d.ended == "kill")
    for dup in dups:
        if dup.ended != "kill":
            problems.append(
                f"duplicate not at a kill: outbox #{dup.outbox_id} {dup.key} ({dup.how}, "
                f"{dup.instance} life {dup.life}, {dup.ended})"
            )
    for (instance, life_index), count in per_life.items():
        if count > LANES:
            problems.append(
                f"{count} duplicates at the kill of {instance} life {life_index} (at most "
                f"{LANES} may be in flight)"
            )
    per_chat = Counter((d.instance, d.life, d.chat) for d in dups if d.ended == "kill")
    for (instance, life_index, chat), count in per_chat.items():
        if count > 1:
            problems.append(
                f"{count} duplicates in chat {chat} at the kill of {instance} life {life_index} "
                "(one per chat may be in flight)"
            )
    # Cross-check by text alone: per chat, copies received = messages queued + duplicates.
    received: Counter[tuple[int, str]] = Counter(
        (int(c.params["chat_id"]), LATE.sub("", text_of(c)))
        for c in sends
        if outbox_send(c) or (int(c.params["chat_id"]), c.message_id) in by_message
    )
    queued: Counter[tuple[int, str]] = Counter({key: len(ids) for key, ids in by_chat_text.items()})
    lost = queued - received
    if lost:
        problems.append(
            f"{sum(lost.values())} queued messages never reached the stand-in: {list(lost)[:3]}"
        )
    extra = sum((received - queued).values())
    if extra != len(dups):
        problems.append(
            f"copies beyond the queued messages ({extra}) != duplicates found ({len(dups)})"
        )
    result.duplicates = dups
    # In flight at the kill: the first copy came moments before it (a figure, not a check:
    # a loaded machine stretches it; a copy long before its kill would be worth a look).
    gaps = sorted(d.before_end for d in dups if d.before_end is not None and d.ended == "kill")
    if gaps:
        result.figures["duplicates: first copy to its kill s"] = (
            f"median {gaps[len(gaps) // 2]:.2f}, max {gaps[-1]:.2f}"
        )
    kills = sum(life.how == "kill" for life in bot.lives)
    result.figures["outbox messages (sent)"] = (
        f"{len(rows)} ({sum(r['state'] == 'sent' for r in rows.values())})"
    )
    from_outbox = sum(outbox_send(c) for c in sends)
    result.figures["stand-in sends (outbox / replies)"] = (
        f"{len(sends)} ({from_outbox} / {len(sends) - from_outbox})"
    )
    result.figures["duplicates at kills"] = (
        f"{len(dups)} ({unrecorded} unanswered sends, {len(dups) - unrecorded} not marked sent;"
        f" {len(per_life)} of {kills} kills)"
    )


_DUTY_KEY = re.compile(r"^duty(\d+):n(\d+):(.+)$")
_CLIMB_KEY = re.compile(r"^esc(\d+):c(\d+):s(\d+):r(\d+):(.+)$")


def _check_duties_and_climbs(
    conn: sqlite3.Connection, problems: list[str], figures: dict[str, Any]
) -> None:
    """No duty reminder step and no climb step fired twice as two different messages."""
    duties = {r["id"]: r for r in conn.execute("SELECT * FROM duties")}
    steps: dict[int, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    texts: dict[tuple[int, int], set[str]] = defaultdict(set)
    climbs: dict[tuple[int, int, int, int, str], int] = Counter()
    for key, text in conn.execute("SELECT idem_key, text FROM outbox"):
        if m := _DUTY_KEY.match(key):
            duty, step, recipient = int(m.group(1)), int(m.group(2)), m.group(3)
            steps[duty][recipient].add(step)
            texts[(duty, step)].add(text)
        elif m := _CLIMB_KEY.match(key):
            climbs[
                (int(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(4)), m.group(5))
            ] += 1
    for (duty, step), variants in texts.items():
        if len(variants) > 1:
            problems.append(
                f"duty D{duty} reminder {step} went out as {len(variants)} different messages"
            )
    for duty_id, per_recipient in steps.items():
        duty = duties.get(duty_id)
        if duty is None:
            problems.append(f"reminders for a duty that does not exist: D{duty_id}")
            continue
        for recipient, numbers in per_recipient.items():
            if max(numbers) >= duty["reminders"]:
                problems.append(
                    f"D{duty_id} reminder {max(numbers)} to {recipient} but the duty counts {duty['reminders']}"
                )
    made: Counter[tuple[int, str]] = Counter(
        (d["episode_id"], d["rule_id"])
        for d in duties.values()
        if '"recur": null' in d["spec_json"]
    )
    for (episode, rule), count in made.items():
        if count > 1:
            problems.append(f"episode #{episode} has {count} {rule} duties")
    for episode, ladder, count in conn.execute(
        "SELECT episode_id, ladder, COUNT(*) FROM escalations GROUP BY episode_id, ladder"
    ).fetchall():
        if count > 1:
            problems.append(f"episode #{episode} started the {ladder} ladder {count} times")
    figures["duties (reminders sent)"] = (
        f"{len(duties)} ({sum(len(v) for s in steps.values() for v in s.values())})"
    )
    figures["climb messages"] = len(climbs)


RETURN_DUTIES = {"RET-POLICE", "RET-SWC", "RHI-72H"}


def _check_episodes(conn: sqlite3.Connection, problems: list[str], figures: dict[str, Any]) -> None:
    """No half-written episode: the state and the timeline agree."""
    episodes = conn.execute("SELECT * FROM episodes").fetchall()
    for ep in episodes:
        kinds = {
            r[0] for r in conn.execute("SELECT kind FROM events WHERE episode_id = ?", (ep["id"],))
        }
        need = {"last_seen", "reported"}
        if ep["category"] == "missing":
            need.add("police_report")
        if ep["found_at"]:
            need.add("found")
        if ep["state"] == "finalised":
            need |= {"finalised", "rhi"}
        if ep["found_at"] and ep["ever_missing"]:
            # What the scripted return makes in West Yorkshire, in the same transaction.
            made = conn.execute("SELECT rule_id FROM duties WHERE episode_id = ?", (ep["id"],))
            lacking = RETURN_DUTIES - {r[0] for r in made}
            if lacking:
                problems.append(f"episode #{ep['id']} was found but lacks {sorted(lacking)}")
        if ep["state"] != "open" and not ep["found_at"]:
            problems.append(f"episode #{ep['id']} is {ep['state']} without a found time")
        if need - kinds:
            problems.append(
                f"episode #{ep['id']} ({ep['state']}) lacks {sorted(need - kinds)} on its timeline"
            )
        if ep["state"] == "finalised":
            live = conn.execute(
                "SELECT COUNT(*) FROM escalations WHERE episode_id = ? AND next_at IS NOT NULL",
                (ep["id"],),
            ).fetchone()[0]
            if live:
                problems.append(f"episode #{ep['id']} is finalised but {live} climbs still run")
    states = Counter(ep["state"] for ep in episodes)
    figures["episodes (finalised)"] = f"{len(episodes)} ({states.get('finalised', 0)})"


def _check_redaction(conn: sqlite3.Connection, stand_in: StandIn, problems: list[str]) -> None:
    """A finalised episode's profile messages are deleted and its group messages closed."""
    copies = conn.execute(
        "SELECT m.episode_id, m.kind, m.chat_id, m.message_id, m.redacted_at FROM chat_messages m"
        " JOIN episodes e ON e.id = m.episode_id"
        " WHERE e.state = 'finalised' AND m.kind IN ('group', 'profile')"
    ).fetchall()
    for episode, kind, chat, message_id, redacted in copies:
        now = stand_in.message(int(chat), int(message_id))
        cleared = (
            now is None if kind == "profile" else bool(now and "episode closed" in now["text"])
        )
        if not cleared or redacted is None:
            problems.append(
                f"episode #{episode} is finalised but its {kind} message {message_id} in chat {chat} was not cleared"
            )


# A typed /ack answered a second time: refused the first time ("Olu already has …"), it wrote
# nothing, so nothing marked it carried out; killed before its handled mark was written, it
# is replayed and answered afresh, and by then the child may be found (nothing to take).
NOTHING_TO_ACK = re.compile(r"^Nothing about (C-\d+) .* is waiting for an acknowledgement\.$")


def _check_replies(
    stand_in: StandIn,
    driver: Driver,
    people: dict[str, Person],
    problems: list[str],
    figures: dict[str, Any],
) -> None:
    """Every reply in a person's chat answers something they typed; none says it failed."""
    accepts: dict[int, list[re.Pattern[str]]] = defaultdict(list)
    typed_acks: set[tuple[int, str]] = set()
    for cmd in driver.commands:
        accepts[people[cmd.who].uid].append(cmd.accept)
        if cmd.kind == "ack":
            typed_acks.add((people[cmd.who].uid, cmd.ref))
    answered_again = 0
    for call in stand_in.calls:
        if call.method == "answerCallbackQuery":
            text = str(call.params.get("text", ""))
            # a press on an alert someone else holds is told who has it
            held = HELD_ANSWER.search(text)
            if text and not text.startswith(("You have", "Recorded before a restart")) and not held:
                problems.append(f"a button press was answered {text!r}")
            continue
        if call.method != "sendMessage":
            continue
        text = str(call.params.get("text", ""))
        chat = int(call.params.get("chat_id", 0))
        # the outbox's messages end with their rules' footer; a reply to a command has none
        if split_footer(text)[1] is not None or chat not in accepts:
            continue
        if any(p.search(text) for p in accepts[chat]):
            continue
        again = NOTHING_TO_ACK.search(text)
        if again and (chat, again.group(1)) in typed_acks:
            answered_again += 1
            continue
        problems.append(f"unexpected reply in chat {chat}: {text[:160]!r}")
    figures["a refused /ack replayed, answered again"] = answered_again


def _check_inbox(conn: sqlite3.Connection, problems: list[str]) -> None:
    """Every update the bot stored was handled by the end: what a dead poller left was
    replayed by whichever instance polled next."""
    left = [
        row[0]
        for row in conn.execute(
            "SELECT update_id FROM inbox WHERE handled_at IS NULL ORDER BY update_id"
        )
    ]
    if left:
        problems.append(f"{len(left)} stored updates were never handled: {left[:10]}")


def _check_polling(
    stand_in: StandIn, bot: Cluster, problems: list[str], figures: dict[str, Any]
) -> None:
    """No two instances polled at once (Telegram answers the second with 409 Conflict), and
    how long the bot took to poll again after the poller was killed."""
    by_via = {p.name: p for p in bot.processes}
    reach: dict[str, tuple[float, int]] = {}  # per instance: its latest poll's end, its life
    overlaps = 0
    for via, began, ended in sorted(stand_in.poll_spans, key=lambda span: span[1]):
        process = by_via.get(via)
        life = process.life_at(began) if process is not None else None
        if life is None:
            continue
        if life.ended is not None:
            ended = min(ended, life.ended)  # a dead process's poll is nobody's
        for other, (until, other_life) in reach.items():
            if other != via and until > began + 0.05:
                overlaps += 1
                if overlaps <= 5:
                    problems.append(
                        f"{via} life {life.index} polled while {other} life {other_life} "
                        f"was still polling ({until - began:.2f} s together)"
                    )
        if ended > reach.get(via, (0.0, 0))[0]:
            reach[via] = (ended, life.index)
    if overlaps > 5:
        problems.append(f"... {overlaps} polls in all overlapped another instance's")
    starts = sorted(at for polls in stand_in.polls.values() for at in polls)
    gaps = []
    for process in bot.processes:
        for life in process.lives:
            if life.how == "kill" and life.ready is not None and life.ended is not None:
                after = bisect.bisect_right(starts, life.ended)
                if after < len(starts):
                    gaps.append(starts[after] - life.ended)
    gaps.sort()
    figures["poller kills: polling again after s"] = (
        f"{len(gaps)} kills: median {gaps[len(gaps) // 2]:.1f}, max {gaps[-1]:.1f}"
        if gaps
        else "none"
    )
