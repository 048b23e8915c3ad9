"""The storage, escalation and crash tests on both engines.

A test module listed in tests/conftest.py ENGINE_MODULES runs each test twice: on SQLite,
and on PostgreSQL, where every `Database(path)` it opens (itself, or through the harness and
the rigs) is a database of its own on the server named by WHEREABOUTS_TEST_POSTGRES (a
`postgresql://` URL of a user who may create databases; .ci/run starts one). The same path
in one test is the same database, so a reopen finds what was stored. Each database is made
from a template migrated once per session, and all are dropped at the session's end.
Without the variable the PostgreSQL runs are skipped, saying so; under CI they fail.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from storage import db as storage_db
from storage import db_dialect
from storage.db import Database, is_server_url
from storage.db_postgres import PostgresDatabase, _adapt, _row_factory

SERVER_VARIABLE = "WHEREABOUTS_TEST_POSTGRES"
NO_SERVER = (
    f"no PostgreSQL server for the tests: set {SERVER_VARIABLE}=postgresql://USER@HOST:PORT/postgres "
    "(.ci/run starts one: `.ci/postgres start DIR PORT`)"
)


def server_url() -> str | None:
    return os.environ.get(SERVER_VARIABLE) or None


def _with_database(url: str, name: str) -> str:
    """The server's URL naming another database on it."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


class Server:
    """Databases made on the test server for this session."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.prefix = f"wbtest_{os.getpid()}"
        self.template = f"{self.prefix}_template"
        self.made: list[str] = []
        self._numbers = itertools.count(1)
        self._template_ready = False

    def _admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.url, autocommit=True)

    def _ensure_template(self) -> None:
        if self._template_ready:
            return
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.template}"')
            conn.execute(f'CREATE DATABASE "{self.template}"')
        self.made.append(self.template)

        async def migrate() -> None:
            async with Database(_with_database(self.url, self.template)):
                pass

        _run_aside(migrate())
        self._template_ready = True

    def new_database(self) -> str:
        """A URL of a new, migrated, empty database."""
        self._ensure_template()
        name = f"{self.prefix}_{next(self._numbers)}"
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        self.made.append(name)
        return _with_database(self.url, name)

    def empty_database(self) -> str:
        """A URL of a new database with no schema at all."""
        name = f"{self.prefix}_{next(self._numbers)}"
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.made.append(name)
        return _with_database(self.url, name)

    def drop_all(self) -> None:
        if not self.made:
            return
        with self._admin() as conn:
            for name in reversed(self.made):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.made.clear()


def _run_aside(work: Any) -> None:
    """A coroutine run to its end from sync code that may be inside a running loop."""
    import threading

    error: list[BaseException] = []

    def main() -> None:
        try:
            asyncio.run(work)
        except BaseException as exc:  # handed to the caller
            error.append(exc)

    thread = threading.Thread(target=main)
    thread.start()
    thread.join()
    if error:
        raise error[0]


class Redirect:
    """While a PostgreSQL run of a test is on: each SQLite path it opens is a database."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.by_path: dict[str, str] = {}

    def target(self, path: Path | str) -> str:
        if is_server_url(path):
            return str(path)
        key = str(Path(path).resolve())
        if key not in self.by_path:
            self.by_path[key] = self.server.new_database()
        return self.by_path[key]


class SyncConnection:
    """A sqlite3-like connection to a PostgreSQL database, for checks that read as a rig
    reads a SQLite file: `execute(sql, params)` in SQLite's dialect, rows by column name."""

    def __init__(self, url: str) -> None:
        self._conn = psycopg.connect(url, autocommit=True)
        _adapt(self._conn)  # type: ignore[arg-type]

    def execute(self, sql: str, params: Any = ()) -> Any:
        cur = self._conn.cursor(row_factory=_row_factory)  # type: ignore[arg-type]
        cur.execute(db_dialect.query(sql), tuple(params))
        return cur

    def close(self) -> None:
        self._conn.close()


def connect_sync(target: Path | str) -> Any:
    """sqlite3.connect for a file; a SyncConnection for a URL."""
    if is_server_url(target):
        return SyncConnection(str(target))
    import sqlite3

    conn = sqlite3.connect(target, timeout=10)
    conn.row_factory = sqlite3.Row
    return conn


_active: Redirect | None = None


def target(path: Path | str) -> Path | str:
    """What a test's database path means in the run now: itself on SQLite, a URL on
    PostgreSQL (for a process the test starts, given WHEREABOUTS_DB)."""
    return _active.target(path) if _active is not None else path


def engine_now() -> str:
    return "postgresql" if _active is not None else "sqlite"


def activate(redirect: Redirect, monkeypatch: Any) -> None:
    """`Database(path)` opens the redirect's database for the path, until the test ends."""
    global _active
    _active = redirect
    original_init = PostgresDatabase.__init__

    def new(cls: type[Database], path: Path | str, *args: Any, **kwargs: Any) -> Database:
        if cls is Database:
            return object.__new__(PostgresDatabase)
        return object.__new__(cls)

    def init(self: PostgresDatabase, path: Path | str, *args: Any, **kwargs: Any) -> None:
        original_init(self, redirect.target(path), *args, **kwargs)

    monkeypatch.setattr(storage_db.Database, "__new__", new)
    monkeypatch.setattr(PostgresDatabase, "__init__", init)


def deactivate() -> None:
    global _active
    _active = None
