"""`/healthz` and `/readyz` on the bot's HTTP server (bot/ops_http.py), as a monitor sees them."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiohttp
import pytest

from bot import app
from bot.ops_http import OpsRoutes, OpsServer, Probe
from config.settings import Settings
from reminders.clock import FakeClock
from storage.db import Database
from tests.support.clock import local
from tests.support.fake_telegram import FakeTelegram


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def get(port: int, path: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        return response.status, await response.text()


@pytest.fixture
async def fake():
    telegram = await FakeTelegram().start()
    yield telegram
    await telegram.stop()


async def test_a_polling_bot_serves_health_on_a_server_of_its_own(tmp_path, fake):
    settings = Settings(
        db=tmp_path / "w.db", telegram_token=fake.token, telegram_base_url=fake.base_url,
        http_port=0,
    )  # fmt: skip
    bot = await app.start(settings)
    try:
        assert bot.ops_server is not None and bot.ops_server.port
        port = bot.ops_server.port
        assert await get(port, "/healthz") == (200, "ok\n")
        assert await get(port, "/readyz") == (200, "ready\n")
        [telegram] = bot.platforms
        await telegram.stop_polling()  # type: ignore[attr-defined]
        status, body = await get(port, "/readyz")
        assert status == 503
        assert body == "not ready: telegram polling is this instance's but is not running\n"
        assert await get(port, "/healthz") == (200, "ok\n")  # alive all the same
    finally:
        await app.stop(bot)


async def test_in_webhook_mode_health_is_on_the_webhooks_own_server(tmp_path, fake):
    port = free_port()
    settings = Settings(
        db=tmp_path / "w.db", telegram_token=fake.token, telegram_base_url=fake.base_url,
        telegram_webhook_url="https://bot.example.invalid/telegram",
        telegram_webhook_secret="s3cret", telegram_webhook_port=port, http_port=free_port(),
    )  # fmt: skip
    bot = await app.start(settings)
    try:
        assert bot.ops_server is None  # no second server
        assert await get(port, "/healthz") == (200, "ok\n")
        assert await get(port, "/readyz") == (200, "ready\n")
    finally:
        await app.stop(bot)


@dataclass
class Beat:
    last_sweep_at: datetime | None


@dataclass
class Platform:
    name: str
    up: bool

    async def connected(self) -> bool:
        return self.up


async def test_not_ready_says_why_in_a_short_line_each_and_nothing_else(tmp_path):
    clock = FakeClock(local("2026-12-24 23:30"))  # Christmas Eve: nobody is watching the bot
    db = await Database(tmp_path / "w.db").open()
    probe = Probe(db, clock, sweep_stale=timedelta(seconds=90), started=True)
    probe.heartbeat = Beat(clock.now() - timedelta(minutes=4))  # type: ignore[assignment]
    probe.platforms = [Platform("telegram", True), Platform("slack", False)]
    server = OpsServer(OpsRoutes(probe))
    await server.start("127.0.0.1", 0)
    try:
        assert server.port is not None
        status, body = await get(server.port, "/readyz")
        assert status == 503
        assert body == "not ready: slack not connected; the sweeper last ran 4 min ago\n"

        await db.close()  # the database goes away
        status, body = await get(server.port, "/readyz")
        assert status == 503 and body.startswith("not ready: database unreachable (")
        assert await get(server.port, "/healthz") == (200, "ok\n")
    finally:
        await server.stop()
        await db.close()


async def test_before_the_bot_has_started_it_is_not_ready(tmp_path):
    async with Database(tmp_path / "w.db") as db:
        probe = Probe(db, FakeClock(local("2026-10-25 01:30")))  # the night the clocks go back
        server = OpsServer(OpsRoutes(probe))
        await server.start("127.0.0.1", 0)
        try:
            assert server.port is not None
            assert await get(server.port, "/readyz") == (503, "not ready: starting\n")
        finally:
            await server.stop()


async def test_slack_socket_mode_is_ready_once_connected(tmp_path):
    from tests.support.fake_slack import FakeSlack

    slack = await FakeSlack().start()
    try:
        settings = Settings(
            db=tmp_path / "w.db", slack_bot_token=slack.token, slack_app_token=slack.app_token,
            slack_base_url=slack.base_url, http_port=0,
        )  # fmt: skip
        bot = await app.start(settings)
        try:
            assert bot.ops_server is not None and bot.ops_server.port
            assert await get(bot.ops_server.port, "/readyz") == (200, "ready\n")
            [platform] = bot.platforms
            assert await platform.connected()  # type: ignore[attr-defined]
        finally:
            await app.stop(bot)
    finally:
        await slack.stop()


async def test_teams_serves_health_beside_its_messaging_endpoint(tmp_path, monkeypatch):
    from bot.teams.credentials import ClientCredentials
    from tests.support.fake_teams import APP_ID, TENANT, FakeTeams

    async def from_entra(self) -> str:  # Entra ID is not reachable from a test
        return "bot-token"

    monkeypatch.setattr(ClientCredentials, "__call__", from_entra)
    teams = await FakeTeams().start()
    monkeypatch.setenv("TEAMS_APP_ID", APP_ID)
    monkeypatch.setenv("TEAMS_TENANT_ID", TENANT)
    monkeypatch.setenv("TEAMS_APP_PASSWORD", "secret")
    settings = Settings(
        db=tmp_path / "w.db", teams_port=0, teams_openid_metadata=teams.metadata_url,
        http_port=free_port(),
    )  # fmt: skip
    bot = await app.start(settings)
    try:
        assert bot.ops_server is None  # on the endpoint's own server, not a second one
        port = bot.platforms[0].http_port  # type: ignore[attr-defined]
        assert await get(port, "/healthz") == (200, "ok\n")
        assert await get(port, "/readyz") == (200, "ready\n")
    finally:
        await app.stop(bot)
        await teams.stop()
