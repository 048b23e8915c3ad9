"""One bot process per SQLite file: an exclusive lock on `<db>.lock`, held for the process's life.

Two bots on one SQLite file each run the sweeper and the outbox, and each one's recovery at
start would take the other's messages in flight for a crash's leftovers: a review found 6 of
300 messages sent twice that way. So `whereabouts run` and `whereabouts console` hold an
exclusive lock (flock; on Windows, a byte-range lock) on a file beside the database, and write
into it who holds it (pid, host, command, start time). A second is refused with a message
naming that process and what to do. The kernel lets go of the lock when the process ends, by
any means (SIGKILL, power loss): a stale lock file never blocks a restart, and its old text is
only shown while someone really holds it.

The short commands (`invite`, `import`, `staff leave`, `rota …`, `export`, `backup`, `list`,
`init-db`) do not take it: each is a transaction or two through SQLite's own locking, beside a
running bot, and none of them delivers messages or recovers claims. `check` reads only. What
they must not do is upgrade the schema under a running bot (see `refuse_upgrade_under`).

PostgreSQL needs no lock: several instances on one database are what it is for
(`storage.instance_store`, the leases).
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

LOCK_SUFFIX = ".lock"


class DatabaseInUse(Exception):
    """Another process holds the database's lock; the message names it and says what to do."""


@dataclass(frozen=True)
class Holder:
    pid: int | None
    host: str | None
    command: str | None
    started_at: str | None

    def describe(self) -> str:
        if self.pid is None:
            return "another process (it has not yet written who it is)"
        parts = [f"pid {self.pid}"]
        if self.host:
            parts.append(f"on {self.host}")
        if self.command:
            parts.append(f"(`whereabouts {self.command}`)")
        if self.started_at:
            parts.append(f"since {self.started_at}")
        return " ".join(parts)


def lock_path(db: Path) -> Path:
    return db.with_name(db.name + LOCK_SUFFIX)


def is_sqlite_target(target: Path | str) -> bool:
    """A file path, not a server URL (postgresql://…): only a file needs the lock."""
    return "://" not in str(target)


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(fd: int) -> None:
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_UN)


def read_holder(db: Path) -> Holder:
    """What the lock file says about its holder (empty while it is being written)."""
    try:
        data = json.loads(lock_path(db).read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        data = {}
    if not isinstance(data, dict):
        data = {}
    pid = data.get("pid")
    return Holder(
        pid if isinstance(pid, int) else None,
        str(data["host"]) if data.get("host") else None,
        str(data["command"]) if data.get("command") else None,
        str(data["started_at"]) if data.get("started_at") else None,
    )


def in_use_message(db: Path, holder: Holder) -> str:
    return (
        f"{db} is in use by another Whereabouts process: {holder.describe()}. Two bots on one "
        "SQLite file would each deliver the outbox and send messages twice, so this one does "
        f"not start. Stop that process first (kill {holder.pid or '<pid>'} on "
        f"{holder.host or 'its host'}, or your service manager's stop), then start this one. "
        "To run more than one instance, put the database on PostgreSQL "
        "(WHEREABOUTS_DB=postgresql://…)."
    )


class ProcessLock:
    """The exclusive lock on `<db>.lock`; `release()` (or the process ending) lets it go."""

    def __init__(self, db: Path, fd: int) -> None:
        self.db = db
        self._fd: int | None = fd

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)  # nobody holds it now: no stale name for the next reader
            _unlock(fd)
        finally:
            os.close(fd)

    def __enter__(self) -> ProcessLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def acquire(target: Path | str, command: str, now: datetime | None = None) -> ProcessLock:
    """Hold the database's lock for this process, or raise DatabaseInUse naming its holder."""
    db = Path(target)
    path = lock_path(db)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise DatabaseInUse(
            f"{path} can't be opened ({exc.strerror or type(exc).__name__}): the bot keeps its "
            f"lock there, beside {db.name}. Check the file's owner and permissions and those "
            "of its folder (run the bot as the user that owns the database)."
        ) from None
    try:
        if not _try_lock(fd):
            raise DatabaseInUse(in_use_message(db, read_holder(db)))
        started = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        text = json.dumps(
            {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "command": command,
                "started_at": started,
            }  # fmt: skip
        )
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, text.encode())
    except BaseException:
        os.close(fd)
        raise
    return ProcessLock(db, fd)


def refuse_upgrade_under(target: Path | str) -> None:
    """A short command beside a running bot: refused if it would upgrade the schema under it
    (this code has migrations the file lacks). Nothing is refused while nobody holds the lock."""
    db = Path(target)
    holder = holder_if_locked(db)
    if holder is None or not db.exists():
        return
    from storage.db import migration_scripts

    latest = max(version for version, _, _ in migration_scripts())
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
        current = int(row[0]) if row else 0
    except sqlite3.Error:
        return  # not readable as a database: opening it says what is wrong
    finally:
        conn.close()
    if current < latest:
        raise DatabaseInUse(
            f"{db} is in use by {holder.describe()}, which runs on schema version {current}; "
            f"this version of Whereabouts would upgrade it to {latest} under the running bot. "
            "Stop the bot, then run this command again (or start the new version of the bot, "
            "which upgrades the database itself)."
        )


def holder_if_locked(db: Path) -> Holder | None:
    """Who holds the database's lock now, or None if nobody does (checked, not kept)."""
    path = lock_path(db)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # none (nobody has run the bot here), or not ours to read
        return None
    try:
        if _try_lock(fd):
            _unlock(fd)
            return None
        return read_holder(db)
    finally:
        os.close(fd)
