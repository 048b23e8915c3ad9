"""Backups and integrity checks. SQLite's online backup copies a consistent snapshot while
the bot keeps writing; the copy is made readable by its owner only, like the database."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from storage.db import Database


@dataclass(frozen=True)
class Health:
    integrity: str  # 'ok', or SQLite's list of problems
    schema_version: int
    episodes: int
    open_episodes: int
    pending_messages: int

    @property
    def ok(self) -> bool:
        return self.integrity == "ok"


def _backup(source: Path, target: Path) -> None:
    if target.exists():
        raise FileExistsError(f"{target} exists; choose a new file so no backup is overwritten")
    target.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(target, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600))
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        with dst:
            src.backup(dst, pages=1024)  # in steps: the bot's writers are not held up long
        # One self-contained file: the copy leaves write-ahead logging (no -wal, -shm beside
        # it); the database itself is opened in WAL again by the bot.
        dst.execute("PRAGMA journal_mode=DELETE")
    finally:
        dst.close()
        src.close()


async def backup(source: Path, target: Path) -> None:
    await asyncio.to_thread(_backup, source, target)


def _check(path: Path) -> Health:
    if not path.exists():
        raise FileNotFoundError(f"no database at {path}")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return _checked(conn)
    except sqlite3.DatabaseError as exc:  # not a database at all, or too damaged to read
        return Health(f"unreadable: {exc}", 0, 0, 0, 0)
    finally:
        conn.close()


def _checked(conn: sqlite3.Connection) -> Health:
    problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    if problems != ["ok"]:  # the counts below may not be readable
        return Health("; ".join(problems), 0, 0, 0, 0)
    version = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
    counts = conn.execute(
        "SELECT (SELECT COUNT(*) FROM episodes),"
        " (SELECT COUNT(*) FROM episodes WHERE state = 'open'),"
        " (SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'sending'))"
    ).fetchone()
    return Health("; ".join(problems), int(version.fetchone()[0]), *counts)


async def check(path: Path) -> Health:
    return await asyncio.to_thread(_check, path)


async def checkpoint(db: Database) -> None:
    """Fold the write-ahead log into the database file (after a bulk load)."""
    await db.outside_transaction("PRAGMA wal_checkpoint(TRUNCATE)")
