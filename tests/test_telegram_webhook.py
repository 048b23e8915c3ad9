"""Telegram's webhook: the secret header before the body, the body capped at 1 MiB, and an
update that cannot be read kept out of the logs (bot/telegram/webhook.py, bot/logs.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import socket

import aiohttp
import pytest

from bot import logs
from bot.telegram.app import TelegramPlatform
from bot.telegram.webhook import MAX_BODY, SECRET_HEADER
from storage import inbox_store
from tests.support.clock import local
from tests.support.telegram_rig import TelegramRig

FRIDAY_NIGHT = local("2026-10-23 21:10")
SECRET = "s3cret-token"
PRIVATE = "Jay Example is at 12 Oak Road"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
async def hook(tmp_path):
    rig = await TelegramRig.start(tmp_path / "w.db", FRIDAY_NIGHT)
    await rig.platform.stop()  # the same bot again, in webhook mode
    platform = TelegramPlatform(rig.svc, rig.fake.token, base_url=rig.fake.base_url)
    port = free_port()
    await platform.start(
        {"listen": "127.0.0.1", "port": port, "url_path": "telegram",
         "webhook_url": "https://bot.example.invalid/telegram", "secret_token": SECRET}
    )  # fmt: skip
    rig.platform = platform
    rig.port = port
    yield rig
    await rig.stop()


async def test_a_wrong_secret_is_refused_before_the_body_is_read(hook):
    """Item 4: 90 MiB announced with a wrong secret: refused on the headers alone (before:
    the whole body was read into memory first)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", hook.port)
    try:
        writer.write(
            b"POST /telegram HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"{SECRET_HEADER}: wrong\r\nContent-Length: {90 * 1024 * 1024}\r\n\r\n".encode()
            + b"{" * 1024
        )
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), 10)  # guards a hang, times nothing
        assert status.split()[1] == b"403"
    finally:
        writer.close()


async def test_a_body_over_one_mebibyte_is_refused_and_nothing_is_stored(hook):
    """Item 4: with the right secret, a body over MAX_BODY is refused with 413."""
    body = json.dumps({"update_id": 7, "padding": "x" * (MAX_BODY + 10)})
    url = f"http://127.0.0.1:{hook.port}/telegram"
    async with aiohttp.ClientSession() as session:
        headers = {SECRET_HEADER: SECRET, "Content-Type": "application/json"}
        async with session.post(url, data=body, headers=headers) as r:
            assert r.status == 413
    assert await inbox_store.unhandled(hook.db, "telegram") == []


async def test_an_update_that_cannot_be_read_is_refused_and_kept_out_of_the_logs(hook, caplog):
    """Item 10: an update that fails to parse gets 400 and no log line carries what it said
    (before: PTB logged "Received data was: {…}" whole)."""
    caplog.set_level(logging.DEBUG)
    broken = {"update_id": 9, "message": {"message_id": "x", "chat": PRIVATE, "text": PRIVATE}}
    url = f"http://127.0.0.1:{hook.port}/telegram"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=broken, headers={SECRET_HEADER: SECRET}) as r,
    ):
        assert r.status == 400
    assert "could not be read" in caplog.text
    assert "Oak Road" not in caplog.text


def test_a_polled_update_that_fails_to_parse_is_not_logged(caplog):
    """Item 10: PTB's own "Error while parsing updates! Received data was %r" (polling) keeps
    its first words only: no update, no traceback."""
    logs.keep_quiet()
    caplog.set_level(logging.DEBUG)
    try:
        raise ValueError(PRIVATE)
    except ValueError:
        logging.getLogger("telegram.ext.ExtBot").critical(
            "Error while parsing updates! Received data was %r",
            [{"message": {"text": PRIVATE}}],
            exc_info=True,
        )
    assert "Error while parsing updates" in caplog.text
    assert "Oak Road" not in caplog.text
