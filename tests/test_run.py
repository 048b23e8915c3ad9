"""`whereabouts run`: starts on the platforms it has credentials for, and says clearly when not."""

from __future__ import annotations

import pytest

from bot import app
from bot.cli import main
from config.settings import Settings
from tests.support.fake_telegram import FakeTelegram


def test_run_without_any_token_is_a_clear_error(tmp_path, capsys, monkeypatch):
    for name in ("TELEGRAM_BOT_TOKEN", "WHEREABOUTS_TELEGRAM_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert main(["init-db", "--db", str(tmp_path / "w.db")]) == 0  # `run` needs a database
    assert main(["run", "--db", str(tmp_path / "w.db")]) == 2
    err = capsys.readouterr().err
    assert "No chat platform is configured" in err and "Traceback" not in err


async def test_rejected_token_is_a_clear_error(tmp_path):
    fake = await FakeTelegram().start()
    try:
        settings = Settings(
            db=tmp_path / "w.db", telegram_token="999:WRONG", telegram_base_url=fake.base_url
        )
        with pytest.raises(app.StartupError, match="rejected the bot token"):
            await app.start(settings)
    finally:
        await fake.stop()


async def test_starts_polls_and_stops_cleanly(tmp_path):
    fake = await FakeTelegram().start()
    try:
        settings = Settings(
            db=tmp_path / "w.db",
            telegram_token=fake.token,
            telegram_base_url=fake.base_url,
            http_port=0,
        )
        bot = await app.start(settings)
        try:
            assert [p.name for p in bot.platforms] == ["telegram"]
            fake.user_says(4242, "/status")
            await fake.wait_for(lambda: fake.sent(chat_id=4242))
            assert "not enrolled" in fake.sent(chat_id=4242)[0].params["text"]
        finally:
            await app.stop(bot)
    finally:
        await fake.stop()


def test_telegram_bot_token_env_var_is_read(monkeypatch):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123:abc")
    assert Settings().telegram_token.get_secret_value() == "123:abc"
