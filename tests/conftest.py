"""Shared fixtures: a real SQLite file (or a PostgreSQL database), a fake clock, the demo team."""

from __future__ import annotations

import asyncio
import gc
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from handlers.context import Services
from reminders.clock import FakeClock
from storage.db import WRITER_THREAD, Database
from tests.support import engines
from tests.support.chat import Chat
from tests.support.clock import local
from tests.support.team import demo_team, seed_team


def _database_threads() -> int:
    names = ("_connection_worker_thread", WRITER_THREAD)
    return sum(any(n in t.name for n in names) for t in threading.enumerate())


@pytest.fixture(autouse=True)
def closes_its_databases() -> Iterator[None]:
    """A test that leaves a database open fails here, by name: otherwise the connection's
    thread would keep pytest from exiting after the last test, and CI would hang."""
    before = _database_threads()
    yield
    for _ in range(50):
        if _database_threads() <= before:
            return
        gc.collect()  # an unreferenced connection stops its own thread
        time.sleep(0.01)
    pytest.fail("the test left a database connection open: close it (Database.close)")


# These run on both engines (tests/support/engines.py): each test once on SQLite and once on
# PostgreSQL (the storage, escalation, duty, delivery and crash tests). A test that pins something only SQLite has is marked `sqlite_only`.
ENGINE_MODULES = frozenset(
    {
        "test_storage.py",
        "test_escalation.py",
        "test_crash_loop.py",
        "test_delivery_order.py",
        "test_delivery.py",
        "test_duties.py",
        "test_engines.py",
        "test_inbox_claims.py",
    }
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "engine" not in metafunc.fixturenames:
        return
    if Path(str(metafunc.definition.fspath)).name not in ENGINE_MODULES:
        return
    if metafunc.definition.get_closest_marker("sqlite_only"):
        metafunc.parametrize("engine", ["sqlite"], indirect=True)
    else:
        metafunc.parametrize("engine", ["sqlite", "postgresql"], indirect=True)


_server: engines.Server | None = None


def pytest_sessionfinish(session: pytest.Session) -> None:
    # Each DROP DATABASE waits for a checkpoint (about half a second): under CI the whole
    # server is thrown away by .ci/run instead.
    if _server is not None and not os.environ.get("CI"):
        _server.drop_all()


def pg_server() -> engines.Server:
    global _server
    url = engines.server_url()
    if url is None:
        if os.environ.get("CI"):
            pytest.fail(engines.NO_SERVER)
        pytest.skip(engines.NO_SERVER)
    if _server is None:
        _server = engines.Server(url)
    return _server


@pytest.fixture(autouse=True)
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """sqlite, or postgresql for the second run of a test in ENGINE_MODULES."""
    name = getattr(request, "param", "sqlite")
    if name == "postgresql":
        engines.activate(engines.Redirect(pg_server()), monkeypatch)
    try:
        yield name
    finally:
        engines.deactivate()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "whereabouts.db"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(local("2026-10-23 21:10"))  # a Friday night, out of office hours


@pytest.fixture
async def db(db_path: Path) -> AsyncIterator[Database]:
    async with Database(db_path) as database:
        yield database


@pytest.fixture
async def svc(db: Database, clock: FakeClock) -> Services:
    await seed_team(db, demo_team())
    return Services(db=db, clock=clock)


@pytest.fixture
def chat(svc: Services) -> Chat:
    return Chat(svc)


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict:
    """The loop the bot runs on (bot/cli.py): uvloop where it is installed."""
    try:
        import uvloop
    except ImportError:
        return {"asyncio": asyncio.new_event_loop}
    return {"uvloop": uvloop.new_event_loop}
