"""`whereabouts migrate-db`: a SQLite database copied into an empty PostgreSQL one.

Both are first brought to the current schema (each engine's migrations), so their tables
and columns are the same (tests/test_engines.py checks that they always are). Rows are
copied table by table, a table after those it refers to, in one transaction: the target
has all of it or nothing. A column that refers to its own table (a manager, a merged
message) is filled in after the table's rows are in. Identity counters are moved past the
copied ids, so new rows never collide with old ones. Then it checks, from the target as
stored: every table has as many rows as the source, and the timeline (the events, in id
order) is the same, event for event. A target that holds any row is refused untouched.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storage.db import Database, Reader, is_server_url

CHUNK = 2000


class CopyRefused(Exception):
    """The copy can't be made as asked; the message says why and what to do. The target
    was left as it was."""


@dataclass
class CopyReport:
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows copied (and checked)
    events_digest: str = ""  # the timeline's fingerprint, equal on both sides

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def _tables(conn: sqlite3.Connection) -> list[str]:
    return [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            " AND name NOT LIKE 'sqlite_%' AND name != 'schema_migrations' ORDER BY name"
        )
    ]  # schema_migrations: each engine keeps its own, and both are at the same version


def _references(conn: sqlite3.Connection, table: str) -> list[tuple[str, str]]:
    """(column, the table it refers to) for each foreign key of the table."""
    return [(row[3], row[2]) for row in conn.execute(f'PRAGMA foreign_key_list("{table}")')]


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute(f'PRAGMA table_info("{table}")')]


def copy_order(conn: sqlite3.Connection) -> list[str]:
    """Tables, each after the tables it refers to (its own references aside)."""
    tables = _tables(conn)
    needs = {t: {ref for _, ref in _references(conn, t) if ref != t} for t in tables}
    order: list[str] = []
    while needs:
        ready = sorted(t for t, deps in needs.items() if not deps - set(order))
        if not ready:  # a cycle between tables: none in this schema
            raise CopyRefused(f"tables refer to each other in a cycle: {sorted(needs)}")
        for table in ready:
            order.append(table)
            del needs[table]
    return order


def _events_digest(rows: Iterator[Sequence[Any]]) -> str:
    digest = hashlib.sha256()
    for row in rows:
        digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


EVENTS_ORDER = "SELECT id, episode_id, child_id, at, recorded_at, actor_id, kind, rule_id, text"


async def _digest_of(reader: Reader) -> str:
    rows = await reader.fetchall(EVENTS_ORDER + " FROM events ORDER BY id")
    return _events_digest(iter([tuple(row[i] for i in range(9)) for row in rows]))


async def migrate_db(source: Path, target: str) -> CopyReport:
    """Copy the SQLite file `source` into the empty PostgreSQL database at `target`."""
    if not is_server_url(target):
        raise CopyRefused(f"--to must be a postgresql:// URL, not {target!r}")
    if not source.exists():
        raise CopyRefused(f"no SQLite database at {source.resolve()}")
    async with Database(source) as file:  # brought to the current schema first
        version = await file.fetchone("SELECT MAX(version) AS v FROM schema_migrations")
    report = CopyReport()
    src = sqlite3.connect(source)
    try:
        async with Database(target) as db:
            order = copy_order(src)
            theirs = await db.fetchone("SELECT MAX(version) AS v FROM schema_migrations")
            if version is None or theirs is None or version["v"] != theirs["v"]:
                raise CopyRefused("the two databases are at different schema versions")
            for table in order:
                if await db.fetchone(f'SELECT 1 FROM "{table}" LIMIT 1') is not None:
                    raise CopyRefused(
                        f"the target already holds rows (table {table}): migrate-db copies "
                        "into an empty database only. Create a new one (createdb) and "
                        "point --to at it; nothing was changed."
                    )
            async with db.write() as tx:
                for table in order:
                    columns = _columns(src, table)
                    own = [c for c, ref in _references(src, table) if ref == table]
                    names = ", ".join(f'"{c}"' for c in columns)
                    marks = ", ".join("?" * len(columns))
                    insert = f'INSERT INTO "{table}" ({names}) VALUES ({marks})'
                    later = [columns.index(c) for c in own]
                    cursor = src.execute(f'SELECT {names} FROM "{table}" ORDER BY rowid')
                    count = 0
                    while chunk := cursor.fetchmany(CHUNK):
                        rows = [
                            tuple(None if i in later else v for i, v in enumerate(row))
                            for row in chunk
                        ]
                        await tx.executemany(insert, rows)
                        count += len(rows)
                    for column in own:  # a manager, a merged message: now that all are in
                        key = "id"
                        pairs = src.execute(
                            f'SELECT "{column}", "{key}" FROM "{table}"'
                            f' WHERE "{column}" IS NOT NULL'
                        ).fetchall()
                        await tx.executemany(
                            f'UPDATE "{table}" SET "{column}" = ? WHERE "{key}" = ?', pairs
                        )
                    counter = (
                        await tx.fetchone("SELECT pg_get_serial_sequence(?, 'id') AS seq", (table,))
                        if "id" in columns
                        else None
                    )
                    if counter is not None and counter["seq"] is not None:  # an identity id
                        await tx.execute(
                            f'SELECT setval(?, COALESCE((SELECT MAX(id) FROM "{table}"), 0) + 1,'
                            " false)",
                            (counter["seq"],),
                        )
                    report.rows[table] = count
            for table in order:  # checked from what is now stored
                row = await db.fetchone(f'SELECT COUNT(*) AS n FROM "{table}"')
                stored = int(row["n"]) if row else 0
                if stored != report.rows[table]:
                    raise CopyRefused(
                        f"{table}: {report.rows[table]} rows in the source, {stored} stored"
                    )
            want = _events_digest(src.execute(EVENTS_ORDER + " FROM events ORDER BY id"))
            got = await _digest_of(db.heavy)
            if want != got:
                raise CopyRefused("the timeline stored differs from the source's")
            report.events_digest = got
    finally:
        src.close()
    return report
