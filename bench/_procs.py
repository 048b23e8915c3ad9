"""`whereabouts run` as a child process of a bench: started, SIGKILLed, stopped.

The environment is the one tests/support/crash_rig.py gives its bot (the database, the Bot
API stand-in's URL and token, /healthz on a free port), without WHEREABOUTS_SWEEP_INTERVAL_SECONDS:
the sweeper's safety net runs at the production interval (30 s) unless `extra` says otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def bot_env(db: str, telegram_base_url: str, token: str, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("WHEREABOUTS_", "TELEGRAM_", "SLACK_", "PTB_", "TEAMS_", "NOTIFY_"))
    }
    env.update(
        WHEREABOUTS_DB=db,
        WHEREABOUTS_TELEGRAM_BASE_URL=telegram_base_url,
        WHEREABOUTS_HTTP_PORT="0",  # /healthz on a free port: two instances side by side
        TELEGRAM_BOT_TOKEN=token,
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class BotProcess:
    """One `python -m bot.cli run`; each start is a new life, logged to the same file."""

    def __init__(self, name: str, env: dict[str, str], log: Path) -> None:
        self.name = name
        self.env = env
        self.log = log
        self.lives = 0
        self.spawned = 0.0  # time.monotonic() of the last start
        self.exits: list[str] = []  # lives that ended by themselves (a crash)
        self._proc: asyncio.subprocess.Process | None = None
        self._ending = False

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.returncode is None else None

    async def start(self) -> int:
        assert self.pid is None, f"{self.name} is running"
        with self.log.open("ab") as log:
            log.write(f"\n==== {self.name} life {self.lives} ====\n".encode())
            log.flush()
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot.cli",
                "run",
                cwd=REPO,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        self.lives += 1
        self.spawned = time.monotonic()
        self._ending = False
        asyncio.get_running_loop().create_task(self._watch(self._proc, self.lives))
        return self._proc.pid

    async def _watch(self, proc: asyncio.subprocess.Process, life: int) -> None:
        code = await proc.wait()
        if not self._ending:
            self.exits.append(
                f"{self.name} life {life - 1} (pid {proc.pid}) exited by itself: {code}"
            )

    async def kill(self) -> None:
        """SIGKILL, and wait until it is gone (the kernel has closed its connections)."""
        await self._end(signal.SIGKILL, 10.0)

    async def stop(self, timeout: float = 20.0) -> bool:
        """SIGTERM, as an operator stops it; False if it had to be killed after `timeout`."""
        return await self._end(signal.SIGTERM, timeout)

    async def _end(self, sig: int, timeout: float) -> bool:
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return True
        self._ending = True
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            await asyncio.wait_for(proc.wait(), timeout)
            return True
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            return False
