"""Scratch PostgreSQL databases for the benches' `--db postgresql://…` runs.

`--db` names a server (a URL whose user may create databases, e.g. the one `.ci/postgres
start DIR PORT` prints); each measurement gets a database of its own on it, dropped after.
PostgreSQL runs with its defaults and `synchronous_commit=on` (storage/db_postgres.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg


def on(server: str, name: str) -> str:
    """The server's URL naming another database."""
    return urlunsplit(urlsplit(server)._replace(path="/" + name))


@contextmanager
def scratch_database(server: str, label: str) -> Iterator[str]:
    """A new, empty database on the server (its URL), dropped when done."""
    name = f"bench_{label}_{os.getpid()}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield on(server, name)
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_settings(url: str) -> str:
    """The durability settings the server ran with, for the report."""
    with psycopg.connect(url, autocommit=True) as conn:
        values = [
            f"{name}={conn.execute(f'SHOW {name}').fetchone()[0]}"  # type: ignore[index]
            for name in ("fsync", "synchronous_commit", "wal_sync_method", "full_page_writes")
        ]
        version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
    return f"PostgreSQL {version}: " + ", ".join(values)
