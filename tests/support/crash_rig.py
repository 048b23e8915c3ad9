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
- no episode is half-written; `PRAGMA integrity_check` is ok; the bot never crashed.

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
from storage.db import Database, to_db_time
from storage.models import Recipient, RecipientKind
from tests.support import engines
from tests.support.fake_telegram import Call, FakeTelegram
from tests.support.team import child, seed_team, team_file

REPO = Path(__file__).resolve().parents[2]
LONDON = ZoneInfo("Europe/London")
TOKEN = "123:abc"
HOME = "oak-house"
GROUP = -7001  # the home's registered team chat
SEND_METHODS = ("sendMessage", "sendPhoto", "sendDocument")
LATE = re.compile(r"\n\(late by [^)]*\)$")
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
    """The Bot API stand-in, also noting when the bot polls (so we know it is up)."""

    polls: list[float] = field(default_factory=list)
    fetched: set[int] = field(default_factory=set)  # update ids a getUpdates handed out
    trap: Callable[[], None] | None = None  # called (once) when an outbox message arrives
    on_poll: Callable[[int], None] | None = None  # called with each getUpdates offset

    def _m_sendMessage(self, params: dict[str, Any]) -> dict[str, Any] | web.Response:
        result = super()._m_sendMessage(params)
        if self.trap is not None and str(params.get("text", "")).startswith("["):
            trap, self.trap = self.trap, None
            trap()  # before the bot gets the answer: this message is in flight at the kill
        return result

    async def _m_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        self.polls.append(time.monotonic())
        if self.on_poll is not None:
            self.on_poll(int(params.get("offset") or 0))
        updates = await super()._m_getUpdates(params)
        self.fetched.update(u["update_id"] for u in updates)
        return updates


class BotProcess:
    """`python -m bot.cli run` against the stand-in: start, SIGKILL, stop."""

    def __init__(self, db: Path, stand_in: StandIn, log: Path, config: CrashConfig) -> None:
        self.db = db
        self.stand_in = stand_in
        self.log = log
        self.config = config
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
            WHEREABOUTS_TELEGRAM_BASE_URL=self.stand_in.base_url,
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
            polls = self.stand_in.polls  # in time order
            first = bisect.bisect_left(polls, life.spawned)
            if first < len(polls) and (life.ended is None or polls[first] <= life.ended):
                life.ready = polls[first]
        return life.ready

    def up_for(self) -> float:
        """How long the running bot has been polling (0 while down or starting)."""
        life = self.current
        ready = self._ready(life) if life else None
        return time.monotonic() - ready if ready is not None else 0.0

    def uptime_since(self, since: float) -> float:
        """How long, all lives together, the bot has been polling since `since`."""
        total = 0.0
        for life in reversed(self.lives):
            end = life.ended or time.monotonic()
            if end < since:
                break
            ready = self._ready(life)
            if ready is not None:
                total += max(0.0, end - max(ready, since))
        return total

    async def start(self) -> Life:
        assert self.current is None
        with self.log.open("ab") as log:
            log.write(f"\n==== life {len(self.lives)} ====\n".encode())
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
            self.crashes.append(f"life {life.index} (pid {life.pid}) exited by itself: {code}")

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
            self.crashes.append(f"life {life.index} did not stop within {timeout} s of {how}")
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await self._watch  # type: ignore[misc]

    def life_at(self, at: float) -> Life | None:
        """The life that made a request the stand-in received at `at` (a new process needs
        well over 0.3 s to import before it can send anything)."""
        found = None
        for life in self.lives:
            if life.spawned + 0.3 <= at:
                found = life
        return found


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


async def prepare_db(path: Path, children: list[Kid], people: dict[str, Person], sync: str) -> None:
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
        self, stand_in: StandIn, bot: BotProcess, people: dict[str, Person], config: CrashConfig
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
            and not str(c.params.get("text", "")).startswith("[")
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
    life: int  # the life that sent the first copy
    ended: str  # how that life ended: 'kill' | 'stop' | 'exit <code>'
    how: str  # 'unrecorded' (the send's answer never came back) | 'recorded' (not marked sent)


@dataclass
class Result:
    config: CrashConfig
    figures: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    workdir: Path | None = None

    def report(self) -> str:
        lines = [f"crash loop, seed {self.config.seed}:"]
        lines += [f"  {name:38} {value}" for name, value in self.figures.items()]
        for dup in self.duplicates:
            lines.append(
                f"  duplicate from life {dup.life} ({dup.ended}): outbox #{dup.outbox_id} "
                f"{dup.key} to chat {dup.chat} ({dup.how})"
            )
        if self.problems:
            lines.append(f"  PROBLEMS ({len(self.problems)}):")
            lines += [f"  - {p}" for p in self.problems[:60]]
            if len(self.problems) > 60:
                lines.append(f"  ... and {len(self.problems) - 60} more")
        return "\n".join(lines)


async def run_crash_loop(workdir: Path, config: CrashConfig) -> Result:
    # A request cut off by a kill is expected here: aiohttp would log each one as an error.
    server_log = logging.getLogger("aiohttp.server")
    level = server_log.level
    server_log.setLevel(logging.CRITICAL)
    try:
        return await _run(workdir, config)
    finally:
        server_log.setLevel(level)


class Setup(NamedTuple):
    children: list[Kid]
    people: dict[str, Person]
    db: Path
    stand_in: StandIn
    bot: BotProcess  # not started yet


async def set_up(workdir: Path, config: CrashConfig) -> Setup:
    """A fresh database with the team enrolled, the stand-in listening, the bot ready to start."""
    workdir.mkdir(parents=True, exist_ok=True)
    children = kids(config.children)
    people = {k.carer: Person(k.carer, f"Carer {k.first_name}", 2001 + k.index) for k in children}
    people |= {sid: Person(sid, name, uid) for sid, (_, name, uid) in SHARED.items()}
    db = workdir / "whereabouts.db"
    for leftover in [*workdir.glob("whereabouts.db*"), workdir / "bot.log"]:
        leftover.unlink(missing_ok=True)
    await prepare_db(db, children, people, config.synchronous)
    stand_in = await StandIn(token=TOKEN).start()
    return Setup(
        children, people, db, stand_in, BotProcess(db, stand_in, workdir / "bot.log", config)
    )


async def _run(workdir: Path, config: CrashConfig) -> Result:
    rng = random.Random(config.seed)
    began = time.monotonic()
    children, people, db, stand_in, bot = await set_up(workdir, config)
    driver = Driver(stand_in, bot, people, config)
    result = Result(config, workdir=workdir)
    kills_done = 0
    kinds: Counter[str] = Counter()
    try:
        await bot.start()
        scripts = [asyncio.create_task(driver.run_child(k)) for k in children]
        while kills_done < config.kills:
            roll = rng.random()
            if roll < config.startup_kill_share:
                kinds["while starting"] += 1  # imports, migrations, recovery, the first sweep
                await asyncio.sleep(rng.uniform(0, 1.5))
            elif not await bot.wait_ready():
                result.problems.append(f"life {len(bot.lives) - 1} never polled")
            elif roll < config.startup_kill_share + config.send_kill_share:
                # As an outbox message reaches the stand-in: before the bot has the answer
                # (in flight), or a moment after (sent, maybe recorded, maybe not marked).
                delay = rng.choice([0.0, rng.uniform(0, 0.05)])
                arrived = asyncio.get_running_loop().create_future()

                def trap(delay: float = delay, arrived: asyncio.Future = arrived) -> None:
                    if delay == 0:
                        bot.kill_now()
                    arrived.set_result(None)

                stand_in.trap = trap
                try:
                    await asyncio.wait_for(arrived, 2 * config.max_uptime)
                    kinds["at a send" if delay == 0 else "just after a send"] += 1
                    await asyncio.sleep(delay)
                except TimeoutError:
                    kinds["after a while, no send came"] += 1
                stand_in.trap = None
            else:
                kinds["at random while up"] += 1
                await asyncio.sleep(rng.uniform(0, config.max_uptime))
            await bot.kill()
            kills_done += 1
            await asyncio.sleep(rng.uniform(0, config.max_downtime))
            await bot.start()
            if len(bot.crashes) > 5:
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
        await bot.stop()
    finally:
        await bot.kill()  # only if something above failed and it is still running
        await stand_in.stop()
    result.figures = {
        "kills": kills_done,
        "kills by moment": ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())),
        "lives": len(bot.lives),
        "synchronous": config.synchronous,
        "children": config.children,
        "episodes finished": driver.episodes_done,
    }
    _check(result, db, stand_in, bot, driver, people)
    result.figures["elapsed s"] = round(time.monotonic() - began, 1)
    result.figures["chaos s / finish and drain s"] = (
        f"{chaos_over - began:.1f} / {finished - chaos_over:.1f}"
    )
    return result


def _now_text() -> str:
    return to_db_time(datetime.now(UTC))


def _connect(db: Path) -> sqlite3.Connection:
    if engines.engine_now() == "postgresql":
        return engines.connect_sync(engines.target(db))  # type: ignore[return-value]
    conn = sqlite3.connect(db, timeout=10)
    conn.row_factory = sqlite3.Row
    return conn


async def _drain(db: Path, timeout: float) -> bool:
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
    db: Path,
    stand_in: StandIn,
    bot: BotProcess,
    driver: Driver,
    people: dict[str, Person],
) -> None:
    problems = result.problems
    problems += bot.crashes
    log = (result.workdir / "bot.log").read_text(errors="replace") if result.workdir else ""
    records = re.split(r"\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d|====)", log)
    for record in records:
        head = record.split("\n", 1)[0]
        if " ERROR " in head or " CRITICAL " in head or "\nTraceback" in record:
            problems.append("the bot logged: " + record.strip()[:800])
    result.figures["bot log warnings"] = sum(" WARNING " in r.split("\n", 1)[0] for r in records)
    with contextlib.closing(_connect(db)) as conn:
        _check_integrity(conn, problems)
        _check_commands(conn, driver, problems, result.figures)
        _check_messages(conn, stand_in, bot, people, result)
        _check_duties_and_climbs(conn, problems, result.figures)
        _check_episodes(conn, problems, result.figures)
        _check_redaction(conn, stand_in, problems)
    _check_replies(stand_in, driver, people, problems)
    # Not a failure in itself (every queued message is checked above), but it is worth seeing.
    result.figures["/done not typed (no reminder in time)"] = len(driver.skipped_duties)


def _check_integrity(conn: sqlite3.Connection, problems: list[str]) -> None:
    if engines.engine_now() == "postgresql":
        return  # the server enforces foreign keys as it writes, and checks its own pages
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
    # event was lost at a kill; one that left two was handled twice.
    marks = Counter(
        (e["ref"], m.group(0))
        for e in events
        if (m := re.search(TAG.pattern + r"\.\d+", e["text"]))
    )
    lost = twice = 0
    for cmd in driver.commands:
        if cmd.kind not in ("absent", "update"):
            continue
        for attempt, update_id in enumerate(cmd.update_ids, 1):
            handled = marks[(cmd.ref, _pushed_text(cmd.text, attempt).split()[-1])]
            lost += handled == 0 and update_id in driver.t.fetched
            twice += handled > 1
    figures["commands sent (answered)"] = f"{len(driver.commands)} ({len(answered)})"
    figures["commands repeated by the person"] = sum(len(c.pushes) > 1 for c in driver.commands)
    figures["button presses (answered)"] = (
        f"{sum(c.kind == 'ack-button' for c in driver.commands)}"
        f" ({sum(c.kind == 'ack-button' and c.answer is not None for c in answered)})"
    )
    figures["updates fetched, never handled (lost)"] = f"{lost} (of /absent and /update)"
    if lost:
        problems.append(f"{lost} updates the bot fetched were never handled")
    if twice:
        problems.append(f"{twice} updates were carried out twice")
    figures["updates handled twice"] = twice
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
    bot: BotProcess,
    people: dict[str, Person],
    result: Result,
) -> None:
    """Each queued message reached the stand-in once; a second copy only from a kill."""
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

    def life_of(call: Call | None) -> tuple[int, str]:
        life = bot.life_at(call.at) if call is not None else None
        return (life.index, life.how) if life else (-1, "unknown")

    dups: list[Duplicate] = []
    # A copy recorded twice: sent and recorded, killed before it was marked sent.
    for outbox_id, recs in records.items():
        for earlier in recs[:-1]:
            call = call_of.get((int(earlier["chat_id"]), int(earlier["message_id"])))
            key, chat = rows[outbox_id]["idem_key"], int(earlier["chat_id"])
            dups.append(Duplicate(outbox_id, key, chat, *life_of(call), "recorded"))
    # A copy never recorded: the bot died before the stand-in's answer came back to it.
    by_chat_text: dict[tuple[int, str], list[int]] = defaultdict(list)
    for row in rows.values():
        if row["state"] == "merged":
            continue  # its text went inside the row it was merged into
        chat = _chat_of(row["recipient"], people)
        if chat is not None:
            by_chat_text[(chat, row["text"])].append(row["id"])
    unrecorded = 0
    for call in sends:
        chat = int(call.params["chat_id"])
        if (chat, call.message_id) in by_message or not text_of(call).startswith("["):
            continue  # recorded, or a reply to a command (not from the outbox)
        unrecorded += 1
        ids = by_chat_text.get((chat, LATE.sub("", text_of(call))), [])
        if not ids:
            problems.append(
                f"the stand-in got a message nothing queued, in chat {chat}: {text_of(call)[:120]!r}"
            )
            continue
        dups.append(Duplicate(ids[0], rows[ids[0]]["idem_key"], chat, *life_of(call), "unrecorded"))
    per_life = Counter(d.life for d in dups if d.ended == "kill")
    for dup in dups:
        if dup.ended != "kill":
            problems.append(
                f"duplicate not at a kill: outbox #{dup.outbox_id} {dup.key} ({dup.how}, "
                f"life {dup.life}, {dup.ended})"
            )
    for life_index, count in per_life.items():
        if count > LANES:
            problems.append(
                f"{count} duplicates at the kill of life {life_index} (at most {LANES} may be "
                "in flight)"
            )
    per_chat = Counter((d.life, d.chat) for d in dups if d.ended == "kill")
    for (life_index, chat), count in per_chat.items():
        if count > 1:
            problems.append(
                f"{count} duplicates in chat {chat} at the kill of life {life_index} (one per "
                "chat may be in flight)"
            )
    # Cross-check by text alone: per chat, copies received = messages queued + duplicates.
    received: Counter[tuple[int, str]] = Counter(
        (int(c.params["chat_id"]), LATE.sub("", text_of(c)))
        for c in sends
        if text_of(c).startswith("[") or (int(c.params["chat_id"]), c.message_id) in by_message
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
    kills = sum(life.how == "kill" for life in bot.lives)
    result.figures["outbox messages (sent)"] = (
        f"{len(rows)} ({sum(r['state'] == 'sent' for r in rows.values())})"
    )
    result.figures["stand-in sends (outbox / replies)"] = (
        f"{len(sends)} ({sum(text_of(c).startswith('[') for c in sends)} / "
        f"{sum(not text_of(c).startswith('[') for c in sends)})"
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


def _check_replies(
    stand_in: StandIn, driver: Driver, people: dict[str, Person], problems: list[str]
) -> None:
    """Every reply in a person's chat answers something they typed; none says it failed."""
    accepts: dict[int, list[re.Pattern[str]]] = defaultdict(list)
    for cmd in driver.commands:
        accepts[people[cmd.who].uid].append(cmd.accept)
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
        if not any(p.search(text) for p in accepts[chat]):
            problems.append(f"unexpected reply in chat {chat}: {text[:160]!r}")
