"""Shared helpers for the benchmarks in bench/ (run by hand, never by pytest).

- `MeasuringTelegram`: the Bot API stand-in from tests/support/fake_telegram.py, wrapped (not edited)
  to timestamp every queued update and every sendMessage, to pair replies with commands,
  and to count how getUpdates batches them.
- `BotProcess`: a bot in its own process (`whereabouts run`, as in production), with its
  CPU time and peak RSS read from /proc.
- Small formatting helpers, and the durability setting every figure is printed next to.

Run as a script (`python bench/_common.py run-without-rate-limits`) it starts
`whereabouts run` with the outgoing rate limiter's limits switched off: a diagnostic the
benchmarks use to separate the bot's own cost from Telegram's flood limits.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import math
import os
import platform
import signal
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `tests` is not an installed package; bench/ runs from a checkout
    sys.path.insert(0, str(ROOT))

from config.citations import split_footer  # noqa: E402
from tests.support.fake_telegram import FakeTelegram  # noqa: E402

SYNCHRONOUS = "FULL"  # the product default; the benchmarks never lower it
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# ---- the stand-in, measured -------------------------------------------------------


@dataclass
class MeasuringTelegram(FakeTelegram):
    """FakeTelegram plus timestamps, and each reply paired with the command it answers.

    The bot handles different people's commands concurrently and each person's in order, so
    a reply in a chat answers that chat's oldest unanswered command; a reply in a chat with
    none waiting is a later part of the last answer there (replies over 4096 characters go
    in parts; a long reply while the same person has another command queued is counted as
    that command's answer, which these command mixes make rare). Messages the outbox sends
    (alerts and reminders: their text starts with "[RULE-ID]", or to a group) are counted
    apart. A reply that fits no command is counted as a "stray" and reported.
    """

    queued_at: dict[int, float] = field(default_factory=dict)  # seq -> when queued
    first_reply_at: dict[int, float] = field(default_factory=dict)  # seq -> first part
    replied_at: dict[int, float] = field(default_factory=dict)  # seq -> last part so far
    reply_parts: dict[int, int] = field(default_factory=dict)
    reply_chars: dict[int, int] = field(default_factory=dict)
    no_reply: int = 0  # commands a later reply showed were handled without a reply
    outbox_sends: list[tuple[float, int, str]] = field(default_factory=list)  # at, chat, text
    stray_replies: int = 0
    polls: list[tuple[float, int]] = field(default_factory=list)  # getUpdates: at, batch size
    _queue: deque[tuple[int, int]] = field(default_factory=deque)  # (seq, chat) unanswered
    _last_by_chat: dict[int, int] = field(default_factory=dict)  # chat -> seq answered last
    _answered: asyncio.Event = field(default_factory=asyncio.Event)
    _polling: asyncio.Event = field(default_factory=asyncio.Event)

    def command(self, seq: int, user_id: int, text: str) -> None:
        """Queue a user's message (as Telegram would hold it for getUpdates), timestamped."""
        self.queued_at[seq] = time.monotonic()
        self._queue.append((seq, user_id))
        self.user_says(user_id, text)

    def _m_sendMessage(self, params: dict[str, Any]) -> Any:
        now = time.monotonic()
        result = super()._m_sendMessage(params)
        chat_id = int(params["chat_id"])
        text = str(params.get("text", ""))
        # the outbox's messages (alerts, reminders) end with their rules' footer; a reply to
        # a command has none
        if split_footer(text)[1] is not None or chat_id < 0:
            self.outbox_sends.append((now, chat_id, text))
        else:
            self._pair(chat_id, len(text), now)
        self._new_call.set()
        return result

    def _pair(self, chat_id: int, chars: int, now: float) -> None:
        # The bot handles different people's commands concurrently but each person's in
        # order, so a reply in a chat answers that chat's oldest unanswered command.
        waiting = [seq for seq, chat in self._queue if chat == chat_id]
        if waiting:
            seq = waiting[0]
            self._queue.remove((seq, chat_id))
        elif self._last_by_chat.get(chat_id) is not None:
            seq = self._last_by_chat[chat_id]  # a further part of the same answer
        else:
            self.stray_replies += 1
            return
        self._last_by_chat[chat_id] = seq
        if seq not in self.first_reply_at:
            self.first_reply_at[seq] = now
        self.replied_at[seq] = now
        self.reply_parts[seq] = self.reply_parts.get(seq, 0) + 1
        self.reply_chars[seq] = self.reply_chars.get(seq, 0) + chars
        self._answered.set()

    async def _m_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if float(params.get("timeout") or 0) > 0:
            self._polling.set()
        batch = await super()._m_getUpdates(params)
        self.polls.append((time.monotonic(), len(batch)))
        return batch

    async def until_polling(self, timeout: float) -> None:
        await asyncio.wait_for(self._polling.wait(), timeout)

    def unanswered(self, seqs: range) -> int:
        return sum(1 for s in seqs if s not in self.replied_at)

    async def until_answered(self, seqs: range, deadline: float) -> bool:
        """Wait until every command in `seqs` has its reply, or the monotonic deadline."""
        while self.unanswered(seqs):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._answered.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._answered.wait(), min(remaining, 0.25))
        return True

    async def until_sends(self, count: int, deadline: float, predicate: Any = None) -> bool:
        """Wait until `count` outbox sends (matching `predicate(text)`) have arrived."""
        while True:
            got = sum(1 for _, _, t in self.outbox_sends if predicate is None or predicate(t))
            if got >= count:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._new_call.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_call.wait(), min(remaining, 0.25))


# ---- a bot in its own process -------------------------------------------------------


def whereabouts_command(rate_limits: bool = True) -> list[str]:
    """`whereabouts run` from this venv; or the same with the rate limiter's limits off."""
    if not rate_limits:
        return [sys.executable, str(Path(__file__).resolve()), "run-without-rate-limits"]
    script = Path(sys.executable).with_name("whereabouts")
    if script.exists():
        return [str(script), "run"]
    return [sys.executable, "-m", "bot.cli", "run"]


def bot_env(db: Path, fake: FakeTelegram) -> dict[str, str]:
    """The process environment for `whereabouts run` against the stand-in, durability FULL."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("WHEREABOUTS_", "SLACK_")) and k != "TELEGRAM_BOT_TOKEN"
        and "proxy" not in k.lower()
    }  # fmt: skip
    env |= {
        "WHEREABOUTS_DB": str(db),
        "TELEGRAM_BOT_TOKEN": fake.token,
        "WHEREABOUTS_TELEGRAM_BASE_URL": fake.base_url,
        "WHEREABOUTS_SYNCHRONOUS": SYNCHRONOUS,
        "WHEREABOUTS_HTTP_PORT": "0",  # /healthz on a free port
        "NO_PROXY": "127.0.0.1,localhost",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
    }
    return env


@dataclass
class BotProcess:
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    started_at: float = 0.0  # time.monotonic() just before the process was created
    proc: subprocess.Popen[bytes] | None = None
    peak_rss_kb: int | None = None
    killed: bool = False  # did not stop within the timeout after SIGTERM

    def start(self) -> BotProcess:
        log = self.log_path.open("wb")
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.log_path.parent,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        atexit.register(self._kill_if_left)  # never leave a bot running behind a crashed bench
        return self

    def _kill_if_left(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def cpu_seconds(self, main_thread: bool = False) -> float:
        """User + system CPU time of the bot process (or its event-loop thread) so far."""
        path = f"/proc/{self.pid}/task/{self.pid}/stat" if main_thread else f"/proc/{self.pid}/stat"
        try:
            fields = Path(path).read_text().rsplit(")", 1)[1].split()
        except OSError:
            return math.nan
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def status_kb(self, key: str) -> int | None:
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        except OSError:
            return None
        return None

    def sample_peak_rss(self) -> int | None:
        """VmHWM (peak resident set) in kB; kept so it survives the process ending."""
        value = self.status_kb("VmHWM")
        if value is not None:
            self.peak_rss_kb = max(value, self.peak_rss_kb or 0)
        return self.peak_rss_kb

    async def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM (the bot stops cleanly), then SIGKILL if it does not within `timeout`.

        Waits without blocking the event loop: the stand-in in this process must keep
        answering while the bot shuts down (it polls getUpdates once more on the way out).
        """
        if self.proc is None:
            return None
        if self.alive():
            self.sample_peak_rss()
            self.proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while self.proc.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            if self.proc.poll() is None:
                self.killed = True
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, over all CPUs (/proc/stat)."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError):
        return math.nan, math.nan
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])  # user nice system idle iowait irq softirq steal
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


def others_cpu(
    before: tuple[float, float], after: tuple[float, float], ours: float, wall: float
) -> float:
    """CPU (in cores) used by processes other than ours between two machine_cpu() samples."""
    return max(0.0, (after[0] - before[0]) - ours) / wall


async def wait_until_polling(fake: MeasuringTelegram, bot: BotProcess, timeout: float) -> None:
    """The bot has started long polling (or died trying: then say why)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not bot.alive():
            raise SystemExit(f"the bot exited with {bot.proc.returncode}:\n{bot.log_tail()}")  # type: ignore[union-attr]
        with contextlib.suppress(TimeoutError):
            await fake.until_polling(0.1)
            return
    raise SystemExit(f"the bot did not start polling within {timeout:.0f} s:\n{bot.log_tail()}")


# ---- figures --------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile; math.inf entries (never answered) sort last."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    if math.isnan(seconds):
        return "n/a"
    if math.isinf(seconds):
        return "unanswered"
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    line = "+".join("-" * (w + 2) for w in widths)
    out = [f"+{line}+"]
    for n, row in enumerate([headers, *rows]):
        out.append(
            "| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        )
        if n == 0:
            out.append(f"+{line}+")
    out.append(f"+{line}+")
    return "\n".join(out)


def filesystem_of(path: Path) -> str:
    """The mount a path lives on, e.g. 'ext4 on /dev/vda' (tmpfs would make fsync free)."""
    best = ("", "?", "?")
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return "unknown"
    target = str(path.resolve())
    for line in mounts:
        device, mount, fstype, *_ = line.split()
        if target.startswith(mount.rstrip("/") + "/") and len(mount) >= len(best[0]):
            best = (mount, fstype, device)
    return f"{best[1]} on {best[2]}"


def durability(db: Path) -> str:
    """What every figure is measured under: said next to it."""
    return (
        f"synchronous={SYNCHRONOUS} (WHEREABOUTS_SYNCHRONOUS={SYNCHRONOUS}), journal_mode=WAL, "
        f"database on {filesystem_of(db)}"
    )


def office_hours(area: str = "west-yorkshire") -> str:
    """Alerts route by the real clock: to social workers in office hours, else the rota."""
    from datetime import UTC, datetime

    from config.presets import load_preset

    preset = load_preset(area)
    now = datetime.now(UTC)
    inside = preset.calendar.in_office_hours(now)
    local = now.astimezone(preset.zone).strftime("%a %H:%M")
    where = (
        "in office hours: alerts go to allocated social workers"
        if inside
        else "out of hours: ABS-OOH alerts go to the out-of-hours rota (two people here)"
    )
    return f"{local} {preset.zone.key}, {where}"


def machine() -> str:
    import telegram

    return (
        f"Python {platform.python_version()}, python-telegram-bot {telegram.__version__}, "
        f"{os.cpu_count()} CPUs, {platform.system()} {platform.release()}"
    )


# ---- diagnostic: the bot with its outgoing limits off ---------------------------------------


def run_without_rate_limits() -> int:
    """`whereabouts run` exactly, except the Telegram limiter enforces no flood limits.

    bot/telegram/app.py builds its Application with PerChatRateLimiter (Telegram's
    limits: 30 messages/s overall, 20/min per group, 1/s per chat). Here that class is
    swapped, in this process only, for PTB's AIORateLimiter with its limits at zero (it still
    retries on 429), so a benchmark can show what the bot itself costs.
    """
    from telegram.ext import AIORateLimiter

    import bot.telegram.app as transport
    from bot.cli import main

    class NoFloodLimits(AIORateLimiter):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(
                overall_max_rate=0, group_max_rate=0, max_retries=kwargs.get("max_retries", 3)
            )

    transport.PerChatRateLimiter = NoFloodLimits  # type: ignore[misc,assignment]
    return main(["run"])


if __name__ == "__main__":
    if sys.argv[1:] == ["run-without-rate-limits"]:
        sys.exit(run_without_rate_limits())
    sys.exit("usage: python bench/_common.py run-without-rate-limits")
