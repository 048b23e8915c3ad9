"""Shared fixtures: a real SQLite file, a fake clock, the demo team."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.admin import import_team
from bot.cli import demo_team_path
from config.team import load_team_file
from handlers.context import Services
from handlers.dispatch import Dispatcher
from reminders.clock import FakeClock
from storage import staff_store
from storage.db import WRITER_THREAD, Database

LONDON = ZoneInfo("Europe/London")


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


def local(text: str, tz: ZoneInfo = LONDON) -> datetime:
    """'2026-10-23 21:10' in the area's zone, as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=tz)


class Chat:
    """Types commands as a staff member and returns the bot's reply text."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.dispatcher = Dispatcher(svc)

    async def say(self, staff_id: str | None, text: str) -> str:
        staff = await staff_store.get_staff(self.svc.db, staff_id) if staff_id else None
        outcome = await self.dispatcher.handle(staff, text)
        return "\n".join(r.text for r in outcome.replies)


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
    await import_team(db, load_team_file(demo_team_path()), default_area="west-yorkshire")
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
