"""Prometheus metrics at `/metrics` (prometheus-client), on the same server as `/healthz`.

Read from the database at each scrape, so every instance reports the same shared state:
  whereabouts_outbox_messages{state, urgent}  messages pending, sending, failed (urgent only
                                              once the outbox has its urgency column)
  whereabouts_outbox_oldest_pending_seconds   how long the longest-waiting message has waited
  whereabouts_open_climbs, _open_duties, _open_episodes
  whereabouts_singleton_held{singleton, instance}  1 for each lease's live holder
  whereabouts_instance_heartbeat_age_seconds{instance}
Counted in this process:
  whereabouts_sends_total{platform, result}   each hand-over to a platform: sent, refused
                                              (permanent), retry_later (429), error, cancelled
  whereabouts_sweep_seconds                   how long each sweep took (a histogram)
No label holds a person, a child or a chat: platforms, states and instance ids only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from bot.delivery import PermanentDeliveryError, RetryLater
from reminders.clock import Clock
from storage import instance_store, metrics_store
from storage.db import Database
from storage.models import OutboxMessage

SWEEP_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _Snapshot:
    """A collector that hands over what the scrape has just read (collect() is not async)."""

    def __init__(self) -> None:
        self.families: list[Metric] = []

    def collect(self) -> Iterable[Metric]:
        return list(self.families)


class Metrics:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock
        self.registry = CollectorRegistry(auto_describe=False)
        self.sends = Counter(
            "whereabouts_sends",
            "Messages handed to a chat platform, by platform and result.",
            ["platform", "result"],
            registry=self.registry,
        )
        self.sweep = Histogram(
            "whereabouts_sweep_seconds",
            "How long a sweep of the due climbs, reminders and jobs took.",
            buckets=SWEEP_BUCKETS,
            registry=self.registry,
        )
        self._snapshot = _Snapshot()
        self.registry.register(self._snapshot)
        self._urgency: bool | None = None

    def observe_sweep(self, seconds: float) -> None:
        self.sweep.observe(seconds)

    def counted(self, platform: Any) -> CountedPlatform:
        return CountedPlatform(platform, self)

    async def read(self) -> list[Metric]:
        reader = self.db.heavy  # counts over the tables: off the loop's thread
        now = self.clock.now()
        if self._urgency is None:
            self._urgency = await metrics_store.has_urgency(reader)
        depth = GaugeMetricFamily(
            "whereabouts_outbox_messages",
            "Outbox messages by state (and urgency, where the outbox has it).",
            labels=["state", "urgent"] if self._urgency else ["state"],
        )
        seen = set()
        for d in await metrics_store.outbox_depth(reader, self._urgency):
            labels = [d.state, "true" if d.urgent else "false"] if self._urgency else [d.state]
            depth.add_metric(labels, d.count)
            seen.add(tuple(labels))
        for state in metrics_store.OUTBOX_STATES:  # a state with none still reads 0
            for urgent in ("true", "false") if self._urgency else ("",):
                labels = [state, urgent] if urgent else [state]
                if tuple(labels) not in seen:
                    depth.add_metric(labels, 0)
        oldest = await metrics_store.oldest_pending(reader)
        waiting = GaugeMetricFamily(
            "whereabouts_outbox_oldest_pending_seconds",
            "How long the message waiting longest to be sent has waited (0: none waiting).",
            value=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        )
        climbs = GaugeMetricFamily(
            "whereabouts_open_climbs",
            "Escalation climbs under way (alerting, acknowledged, asking for confirmation).",
            value=await metrics_store.open_climbs(reader),
        )
        duties = GaugeMetricFamily(
            "whereabouts_open_duties",
            "Statutory duties not yet done.",
            value=await metrics_store.open_duties(reader),
        )
        episodes = GaugeMetricFamily(
            "whereabouts_open_episodes",
            "Children reported and not yet found.",
            value=await metrics_store.open_episodes(reader),
        )
        held = GaugeMetricFamily(
            "whereabouts_singleton_held",
            "1 for the instance holding each singleton's lease now.",
            labels=["singleton", "instance"],
        )
        for lease in await instance_store.leases(reader):
            if lease.holder is not None and lease.expires_at > now:
                held.add_metric([lease.name, lease.holder], 1)
        beats = GaugeMetricFamily(
            "whereabouts_instance_heartbeat_age_seconds",
            "Seconds since each instance on this database last wrote its heartbeat.",
            labels=["instance"],
        )
        for instance in await instance_store.instances(reader):
            beats.add_metric([instance.id], max(0.0, (now - instance.heartbeat_at).total_seconds()))
        return [depth, waiting, climbs, duties, episodes, held, beats]

    async def scrape(self) -> bytes:
        self._snapshot.families = await self.read()
        try:
            return generate_latest(self.registry)
        finally:
            self._snapshot.families = []

    async def handler(self, request: web.Request) -> web.Response:
        body = await self.scrape()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


class CountedPlatform:
    """A platform as the outbox's router sees it, each hand-over counted by its result."""

    def __init__(self, inner: Any, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics
        self.name: str = inner.name

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._inner, attr)

    async def _counted(self, send: Callable[[], Awaitable[None]]) -> None:
        result = "cancelled"  # stopping mid-send: whether it went is unknown
        try:
            await send()
            result = "sent"
        except PermanentDeliveryError:
            result = "refused"
            raise
        except RetryLater:
            result = "retry_later"
            raise
        except Exception:
            result = "error"
            raise
        finally:
            self._metrics.sends.labels(self.name, result).inc()

    async def send_direct(self, external_id: str, message: OutboxMessage) -> None:
        await self._counted(lambda: self._inner.send_direct(external_id, message))

    async def send_team(self, chat_id: str, message: OutboxMessage) -> None:
        await self._counted(lambda: self._inner.send_team(chat_id, message))

    async def redact(self, message: OutboxMessage) -> None:
        await self._counted(lambda: self._inner.redact(message))
