"""One bot process per SQLite file: a second is refused, naming the first (storage/process_lock.py).

The holder here is a real second process: the lock is the kernel's, so only another process
shows that it works (and that it is let go when that process is killed).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiosqlite
import pytest

from bot import app
from bot.cli import main
from config.settings import Settings
from storage import process_lock
from storage.db import Database, migrate
from storage.process_lock import DatabaseInUse

REPO = Path(__file__).resolve().parent.parent

HOLDER = """
import sys
from pathlib import Path
from storage.process_lock import acquire
lock = acquire(Path(sys.argv[1]), sys.argv[2])
print("held", flush=True)
sys.stdin.read()  # until the test closes our stdin (or kills us)
lock.release()
"""


class Holder:
    def __init__(self, db: Path, command: str = "run") -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(db), command],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # blocks until it holds the lock (or has died)
        if line.strip() != b"held":
            _, err = self.proc.communicate(timeout=30)
            raise AssertionError(f"the holder did not start: {err.decode()}")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        self.proc.wait(timeout=30)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.stop()


@pytest.fixture
def made(tmp_path: Path) -> Path:
    db = tmp_path / "w.db"
    assert main(["init-db", "--db", str(db)]) == 0
    return db


@pytest.fixture
def holder(made: Path) -> Iterator[Holder]:
    held = Holder(made)
    yield held
    held.stop()


def test_a_second_lock_is_refused_naming_the_process_that_holds_it(made, holder):
    with pytest.raises(DatabaseInUse) as refused:
        process_lock.acquire(made, "run")
    said = str(refused.value)
    assert f"pid {holder.pid}" in said and socket.gethostname() in said
    assert "`whereabouts run`" in said and "since 20" in said  # the start time, UTC
    assert f"kill {holder.pid}" in said and "PostgreSQL" in said  # what to do


async def test_run_is_refused_while_another_process_holds_the_file(made, holder, capsys):
    settings = Settings(db=made, telegram_token="123:abc", telegram_base_url="http://127.0.0.1:9")
    with pytest.raises(DatabaseInUse, match=f"pid {holder.pid}"):
        await app.start(settings)  # refused before it opens the database or calls Telegram


def test_the_console_is_refused_too(made, holder, capsys):
    assert main(["console", "--db", str(made)]) == 1
    err = capsys.readouterr().err
    assert f"pid {holder.pid}" in err and "Traceback" not in err


def test_a_real_second_run_process_is_refused_and_says_who_has_it(made):
    with process_lock.acquire(made, "run"):
        env = {k: v for k, v in os.environ.items() if not k.startswith("WHEREABOUTS_")}
        env.update(TELEGRAM_BOT_TOKEN="123:abc", WHEREABOUTS_TELEGRAM_BASE_URL="http://127.0.0.1:9")
        done = subprocess.run(
            [sys.executable, "-m", "bot.cli", "run", "--db", str(made)],
            cwd=REPO,
            env=env,
            capture_output=True,
            timeout=120,
        )
    assert done.returncode == 1
    err = done.stderr.decode()
    assert f"pid {os.getpid()}" in err and "in use by another Whereabouts process" in err
    assert "Traceback" not in err


def test_short_commands_still_run_beside_the_bot(made, holder, capsys, tmp_path):
    # Inviting someone or checking the file must not need the bot stopped: each is a
    # transaction or two through SQLite's own locking, and none delivers or recovers.
    assert main(["list", "staff", "--db", str(made)]) == 0
    assert main(["check", "--db", str(made)]) == 0
    assert main(["backup", "--db", str(made), str(tmp_path / "copy.db")]) == 0


async def test_a_short_command_does_not_upgrade_the_schema_under_a_running_bot(tmp_path, capsys):
    db = tmp_path / "old.db"
    async with aiosqlite.connect(db, isolation_level=None) as conn:
        await migrate(conn, up_to=5)
    held = Holder(db)
    try:
        assert await asyncio.to_thread(main, ["list", "staff", "--db", str(db)]) == 1
        err = capsys.readouterr().err
        assert f"pid {held.pid}" in err and "schema version 5" in err and "Stop the bot" in err
    finally:
        held.stop()
    async with aiosqlite.connect(db) as conn:  # nothing was upgraded
        rows = await conn.execute_fetchall("SELECT MAX(version) FROM schema_migrations")
        assert list(rows)[0][0] == 5


async def test_the_lock_goes_with_the_process_however_it_ends(made):
    held = Holder(made)
    held.kill()  # SIGKILL: no clean-up ran, the lock file still names it
    assert "pid" in process_lock.lock_path(made).read_text()
    with process_lock.acquire(made, "run") as lock:  # the kernel let go: a restart starts
        assert lock.held
        assert process_lock.read_holder(made).pid == os.getpid()
    assert process_lock.holder_if_locked(made) is None
    assert process_lock.lock_path(made).read_text() == ""  # a clean release leaves no name


async def test_a_bot_that_stops_lets_the_next_one_start(made):
    settings = Settings(db=made)
    lock = process_lock.acquire(made, "run")
    lock.release()
    again = process_lock.acquire(made, "run")
    again.release()
    async with Database(settings.db):  # the database itself is untouched by the lock
        pass


def test_a_server_database_takes_no_lock():
    assert process_lock.is_sqlite_target(Path("w.db"))
    assert not process_lock.is_sqlite_target("postgresql://bot@db/whereabouts")
