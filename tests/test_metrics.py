"""`/metrics` (bot/metrics.py): scraped as Prometheus would, parsed with its own parser."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot import app
from bot.delivery import PermanentDeliveryError, RetryLater
from bot.instances import REPORTS, TELEGRAM_POLLING, Instance, Singleton
from bot.metrics import Metrics
from config.settings import Settings
from storage import outbox_store
from tests.support.fake_telegram import FakeTelegram


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float:
    return samples(text)[(name, tuple(sorted(labels.items())))]


async def test_the_live_state_is_read_at_each_scrape(svc, chat):
    await chat.say("sam", "/absent Jay 21:05 left after a row")  # an episode, its climb, duties
    metrics = Metrics(svc.db, svc.clock)
    svc.clock.advance(timedelta(minutes=5))
    text = (await metrics.scrape()).decode()
    assert value(text, "whereabouts_open_episodes") == 1
    assert value(text, "whereabouts_open_climbs") >= 1
    row = await svc.db.fetchone("SELECT COUNT(*) AS n FROM duties WHERE state = 'open'")
    assert value(text, "whereabouts_open_duties") == row["n"]
    pending = value(text, "whereabouts_outbox_messages", state="pending")
    assert pending == len(await outbox_store.outbox_messages(svc.db, "pending")) > 0
    assert value(text, "whereabouts_outbox_messages", state="failed") == 0
    assert value(text, "whereabouts_outbox_oldest_pending_seconds") == 300
    # nothing personal: not the child, not the carer, not what was said
    for word in ("Jay", "C-0042", "sam", "row"):
        assert word not in text


async def test_outbox_depth_is_by_urgency_once_the_outbox_has_the_column(svc, chat):
    await chat.say("sam", "/absent Jay 21:05 left after a row")
    async with svc.db.write() as tx:  # as the urgent-first ordering's migration adds it
        await tx.execute("ALTER TABLE outbox ADD COLUMN urgent INTEGER NOT NULL DEFAULT 0")
        await tx.execute("UPDATE outbox SET urgent = 1 WHERE id = (SELECT MIN(id) FROM outbox)")
    text = (await Metrics(svc.db, svc.clock).scrape()).decode()
    total = len(await outbox_store.outbox_messages(svc.db, "pending"))
    urgent = value(text, "whereabouts_outbox_messages", state="pending", urgent="true")
    routine = value(text, "whereabouts_outbox_messages", state="pending", urgent="false")
    assert (urgent, routine) == (1, total - 1)


async def test_which_instance_holds_which_singleton(svc):
    a = Instance(svc.db, svc.clock, singletons=[Singleton(TELEGRAM_POLLING)], instance_id="a")
    b = Instance(svc.db, svc.clock, singletons=[Singleton(REPORTS)], instance_id="b")
    await a.start(loop=False)
    await b.start(loop=False)
    svc.clock.advance(timedelta(seconds=3))
    await b.tick()
    text = (await Metrics(svc.db, svc.clock).scrape()).decode()
    assert value(text, "whereabouts_singleton_held", singleton=TELEGRAM_POLLING, instance="a")
    assert value(text, "whereabouts_singleton_held", singleton=REPORTS, instance="b") == 1
    assert value(text, "whereabouts_instance_heartbeat_age_seconds", instance="a") == 3
    assert value(text, "whereabouts_instance_heartbeat_age_seconds", instance="b") == 0


class Flaky:
    name = "telegram"

    def __init__(self) -> None:
        self.errors: list[Exception | None] = [None, RetryLater(3), PermanentDeliveryError("x")]

    async def send_direct(self, external_id, message) -> None:
        error = self.errors.pop(0)
        if error is not None:
            raise error


async def test_sends_are_counted_by_platform_and_result_and_sweeps_timed(svc):
    metrics = Metrics(svc.db, svc.clock)
    counted = metrics.counted(Flaky())
    await counted.send_direct("1", None)
    with pytest.raises(RetryLater):
        await counted.send_direct("1", None)
    with pytest.raises(PermanentDeliveryError):
        await counted.send_direct("1", None)
    metrics.observe_sweep(0.02)
    text = (await metrics.scrape()).decode()
    for result in ("sent", "retry_later", "refused"):
        assert value(text, "whereabouts_sends_total", platform="telegram", result=result) == 1
    assert value(text, "whereabouts_sweep_seconds_count") == 1
    assert value(text, "whereabouts_sweep_seconds_bucket", le="0.05") == 1


async def test_the_running_bot_serves_metrics_beside_health(tmp_path):
    fake = await FakeTelegram().start()
    settings = Settings(
        db=tmp_path / "w.db", telegram_token=fake.token, telegram_base_url=fake.base_url,
        http_port=0,
    )  # fmt: skip
    bot = await app.start(settings)
    try:
        assert bot.ops_server is not None and bot.instance is not None
        url = f"http://127.0.0.1:{bot.ops_server.port}/metrics"
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain; version=")
            text = await response.text()
        held = "whereabouts_singleton_held"
        assert value(text, held, singleton=TELEGRAM_POLLING, instance=bot.instance.id) == 1
        assert value(text, "whereabouts_sweep_seconds_count") >= 1  # the first sweep, at start
    finally:
        await app.stop(bot)
        await fake.stop()
