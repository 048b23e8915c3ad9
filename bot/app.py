"""`whereabouts run`: the live bot on every chat platform that has credentials, in one process."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING

from bot.delivery import OutboxDelivery
from bot.heartbeat import Heartbeat
from bot.instances import (
    NOTIFY_REPLIES,
    REPORTS,
    ROTA_GAPS,
    TELEGRAM_POLLING,
    Instance,
    LeasedJobs,
    Singleton,
)
from bot.metrics import Metrics
from bot.ops_http import OpsRoutes, OpsServer, Probe
from bot.router import Platform, Router
from config.settings import Settings
from handlers.context import Services
from handlers.report_jobs import ReportJobs
from handlers.rota_gaps import GapJobs
from reminders import escalation, follow_ups
from reminders.follow_ups import FollowUpJobs
from reminders.sweeper import ScheduledJobs, Sweeper
from storage import process_lock
from storage.db import Database, Tx
from storage.models import OutboxMessage

if TYPE_CHECKING:
    from bot.notify.platform import NotifyPlatform

log = logging.getLogger(__name__)


class StartupError(RuntimeError):
    """The bot can't start; the message says what to fix (no traceback for people)."""


@dataclass
class LiveBot:
    settings: Settings
    db: Database
    svc: Services
    platforms: list[Platform] = field(default_factory=list)
    heartbeat: Heartbeat | None = None
    notify: NotifyPlatform | None = None  # SMS and e-mail, where Notify is configured
    lock: process_lock.ProcessLock | None = None  # SQLite: this process's, for its life
    instance: Instance | None = None
    ops_server: OpsServer | None = None  # when no platform's server carries the routes

    async def undeliverable(self, tx: Tx, message: OutboxMessage, reason: str) -> None:
        """A person can't be reached: their alert climbs to the next person now."""
        await undeliverable(self.svc, tx, message, reason)


async def undeliverable(svc: Services, tx: Tx, message: OutboxMessage, reason: str) -> None:
    """A message that can never be delivered: a climb's alert (or the text or e-mail that
    followed it up) moves the climb on from that person, and the supervisors are told."""
    alert_key = await follow_ups.alert_key_of(tx, message.idem_key)
    if alert_key is not None:
        reason = (
            f"the {'text' if message.recipient.startswith('sms:') else 'e-mail'} failed: {reason}"
        )
    await escalation.recipient_unreachable(
        tx, svc.presets, svc.clock.now(), alert_key or message.idem_key, reason
    )


async def start(settings: Settings) -> LiveBot:
    # A second bot on the same SQLite file is refused, naming the one running (DatabaseInUse).
    lock = (
        process_lock.acquire(settings.db, "run")
        if process_lock.is_sqlite_target(settings.db)
        else None
    )
    try:
        db = await Database(settings.db, settings.synchronous).open()
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    svc = Services(db=db)
    bot = LiveBot(settings, db, svc, lock=lock)
    probe = Probe(db, svc.clock, sweep_stale=timedelta(seconds=3 * settings.sweep_interval_seconds))
    metrics = Metrics(db, svc.clock)
    routes = OpsRoutes(probe, metrics.handler)
    # Each instance beats; the singletons go to one of them (bot/instances.py). It beats
    # before any platform listens: the updates it stores name it, and an instance with no
    # heartbeat counts as dead, so another would take them over. On SQLite (the lock is
    # ours) earlier lives are forgotten here: what they left is this one's to replay.
    instance = bot.instance = Instance(db, svc.clock)
    try:
        await instance.start(sole_process=lock is not None)
        if settings.telegram_token is not None:
            # Long polling is a singleton among instances: it starts once this one holds it.
            bot.platforms.append(
                await _start_telegram(settings, svc, routes, poll=False, holder=instance.id)
            )
        if settings.slack_bot_token is not None:
            bot.platforms.append(await _start_slack(settings, svc, routes, instance.id))
        if settings.teams_app_id:
            bot.platforms.append(await _start_teams(settings, svc, routes, instance.id))
        bot.notify = _notify(settings, svc)
        if not bot.platforms:
            raise StartupError(
                "No chat platform is configured. Set TELEGRAM_BOT_TOKEN (or "
                "WHEREABOUTS_TELEGRAM_TOKEN) for Telegram, and/or SLACK_BOT_TOKEN with "
                "SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode) for Slack, and/or "
                "TEAMS_APP_ID with TEAMS_APP_PASSWORD and TEAMS_TENANT_ID for Microsoft Teams. "
                "To try the bot without one: whereabouts console"
            )
        if not routes.mounted:  # no platform serves HTTP here (long polling, Socket Mode)
            bot.ops_server = await _start_ops_server(settings, routes)
    except BaseException:
        if bot.ops_server is not None:
            await bot.ops_server.stop()
        await _stop_platforms(bot.platforms)
        try:
            await instance.stop()
        except Exception:  # noqa: BLE001 - its row is forgotten or goes stale by itself
            log.exception("letting go of the instance failed")
        await db.close()
        if lock is not None:
            lock.release()
        raise
    router = Router(db, [metrics.counted(p) for p in bot.platforms], bot.notify)  # sends counted
    delivery = OutboxDelivery(db, svc.clock, router.send, on_undeliverable=bot.undeliverable)
    instance.attach(delivery)  # what a dead instance left mid-send goes again from here
    jobs: list[ScheduledJobs] = [
        LeasedJobs(ReportJobs(db, svc.clock, svc.presets), instance, REPORTS),
        LeasedJobs(GapJobs(db, svc.clock, svc.presets), instance, ROTA_GAPS),
        FollowUpJobs(db, svc.clock, svc.presets),  # timers, like the climbs: every instance
    ]
    heartbeat = bot.heartbeat = Heartbeat(
        Sweeper(db, svc.clock, svc.presets, jobs=jobs),
        delivery,
        svc.clock,
        settings.sweep_interval_seconds,
    )
    heartbeat.on_sweep = metrics.observe_sweep
    for platform in bot.platforms:
        platform.after_command = heartbeat.kick  # type: ignore[attr-defined]
        # on every beat: what a dead instance stored and never handled is handled here
        instance.adopters.append(platform.adopt)  # type: ignore[attr-defined]
    instance.add(Singleton(REPORTS, on_gain=heartbeat.kick))
    instance.add(Singleton(ROTA_GAPS, on_gain=heartbeat.kick))
    telegram = next((p for p in bot.platforms if p.name == "telegram"), None)
    if telegram is not None and not settings.telegram_webhook_url:
        polling = Singleton(TELEGRAM_POLLING, telegram.start_polling, telegram.stop_polling)  # type: ignore[attr-defined]
        instance.add(polling)
    if bot.notify is not None:
        bot.notify.after_text = heartbeat.kick  # an ACK reply's messages go at once
        if bot.notify.polls:  # received texts: one instance polls Notify for them
            instance.add(Singleton(NOTIFY_REPLIES, bot.notify.start, bot.notify.stop))
    instance.on_beat = heartbeat.wake  # timers other instances made, fired on time here too
    try:
        await instance.beat_now()  # the singletons taken now (this one's, if nobody holds them)
        await heartbeat.start()
    except BaseException:
        await stop(bot)
        raise
    probe.platforms, probe.heartbeat, probe.instance = bot.platforms, heartbeat, instance
    probe.started = True
    return bot


def _notify(settings: Settings, svc: Services) -> NotifyPlatform | None:
    from bot.notify.platform import NotifyPlatform, Templates
    from handlers import sms_replies

    if settings.notify_api_key is None:
        return None
    if not (settings.notify_sms_template or settings.notify_email_template):
        raise StartupError(
            "NOTIFY_API_KEY is set but no template is: set WHEREABOUTS_NOTIFY_SMS_TEMPLATE "
            "and/or WHEREABOUTS_NOTIFY_EMAIL_TEMPLATE to the template ids in Notify."
        )
    return NotifyPlatform(
        svc.db,
        svc.clock,
        settings.notify_api_key.get_secret_value(),
        Templates(
            sms=settings.notify_sms_template,
            email=settings.notify_email_template,
            email_with_file=settings.notify_email_file_template,
        ),
        base_url=settings.notify_base_url,
        on_text=partial(sms_replies.handle, svc),
        poll_seconds=settings.notify_poll_seconds,
    )


async def _start_telegram(
    settings: Settings,
    svc: Services,
    routes: OpsRoutes,
    poll: bool = True,
    holder: str | None = None,
) -> Platform:
    from telegram.error import InvalidToken, NetworkError

    from bot.telegram.app import TelegramPlatform

    assert settings.telegram_token is not None
    platform = TelegramPlatform(
        svc,
        settings.telegram_token.get_secret_value(),
        base_url=settings.telegram_base_url,
        holder=holder,
    )
    platform.http_routes = routes.add_to  # onto the webhook's server, when there is one
    webhook = None
    if settings.telegram_webhook_url:
        if settings.telegram_webhook_secret is None:
            raise StartupError("Webhook mode needs WHEREABOUTS_TELEGRAM_WEBHOOK_SECRET.")
        webhook = {
            "listen": settings.telegram_webhook_listen,
            "port": settings.telegram_webhook_port,
            "url_path": "telegram",
            "webhook_url": settings.telegram_webhook_url,
            "secret_token": settings.telegram_webhook_secret.get_secret_value(),
        }
    try:
        await platform.start(webhook, poll=poll)
    except InvalidToken as exc:
        raise StartupError(
            "Telegram rejected the bot token. Check TELEGRAM_BOT_TOKEN (from @BotFather)."
        ) from exc
    except NetworkError as exc:
        raise StartupError(f"Can't reach Telegram: {exc.message}") from exc
    return platform


async def _start_slack(
    settings: Settings, svc: Services, routes: OpsRoutes, holder: str | None = None
) -> Platform:
    from bot.slack.app import HttpListen, SlackPlatform, SlackStartupError

    assert settings.slack_bot_token is not None
    app_token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else None
    secret = (
        settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    )
    mode = settings.slack_mode
    if mode == "auto":
        mode = "socket" if app_token else "http"
    if mode == "socket" and not app_token:
        raise StartupError("Slack's Socket Mode needs SLACK_APP_TOKEN (xapp-…).")
    if mode == "http" and not secret:
        raise StartupError(
            "Slack needs SLACK_APP_TOKEN (Socket Mode) or, for HTTP mode, SLACK_SIGNING_SECRET."
        )
    platform = SlackPlatform(
        svc,
        settings.slack_bot_token.get_secret_value(),
        signing_secret=secret,
        base_url=settings.slack_base_url,
        channel_period=settings.slack_channel_period,
        holder=holder,
    )
    platform.http_routes = routes.add_to  # onto the HTTP mode's server, when there is one
    http = HttpListen(
        settings.slack_http_listen, settings.slack_http_port, settings.slack_http_path
    )
    try:
        if mode == "socket":
            await platform.start(app_token=app_token)
        else:
            await platform.start(http=http)
    except SlackStartupError as exc:
        raise StartupError(str(exc)) from exc
    return platform


async def _start_teams(
    settings: Settings, svc: Services, routes: OpsRoutes, holder: str | None = None
) -> Platform:
    from bot.teams.app import HttpListen, TeamsPlatform, TeamsStartupError
    from bot.teams.credentials import ClientCredentials, CredentialsError

    assert settings.teams_app_id
    if not settings.teams_tenant_id:
        raise StartupError("Teams needs TEAMS_TENANT_ID (the Entra ID tenant of the app).")
    password = settings.teams_app_password
    try:
        token = ClientCredentials(
            settings.teams_app_id,
            settings.teams_tenant_id,
            password=password.get_secret_value() if password else None,
            certificate=settings.teams_certificate,
            thumbprint=settings.teams_cert_thumbprint,
        )
        await token()  # a refused secret or certificate is said now, not at the first alert
    except (CredentialsError, OSError) as exc:
        raise StartupError(str(exc)) from exc
    except Exception as exc:  # noqa: BLE001 - MSAL's own errors: can't reach Entra ID
        raise StartupError(
            f"Can't reach Entra ID for the Teams app's token ({type(exc).__name__})."
        ) from exc
    platform = TeamsPlatform(
        svc,
        settings.teams_app_id,
        token,
        tenants=frozenset([settings.teams_tenant_id, *settings.teams_other_tenants]),
        seal_key=token.seal_key,
        metadata_url=settings.teams_openid_metadata,
        holder=holder,
    )
    platform.http_routes = routes.add_to  # onto the messaging endpoint's server
    try:
        await platform.start(
            HttpListen(settings.teams_listen, settings.teams_port, settings.teams_path)
        )
    except TeamsStartupError as exc:
        raise StartupError(str(exc)) from exc
    return platform


async def _start_ops_server(settings: Settings, routes: OpsRoutes) -> OpsServer | None:
    """Long polling, Socket Mode: no server runs for the health routes, so one of their own.
    A port already taken is said loudly but does not keep the bot from alerting people."""
    server = OpsServer(routes)
    try:
        await server.start(settings.http_listen, settings.http_port)
    except OSError as exc:
        log.error(
            "no /healthz: can't listen on %s:%s (%s); set WHEREABOUTS_HTTP_PORT",
            settings.http_listen,
            settings.http_port,
            exc.strerror or type(exc).__name__,
        )
        print(
            f"warning: /healthz and /metrics are not served: {settings.http_listen}:"
            f"{settings.http_port} can't be listened on. Set WHEREABOUTS_HTTP_PORT.",
            file=sys.stderr,
        )
        return None
    return server


async def _stop_platforms(platforms: list[Platform]) -> None:
    for platform in platforms:
        try:
            await platform.stop()  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - shutting down anyway
            log.exception("stopping %s failed", platform.name)


async def stop(bot: LiveBot) -> None:
    if bot.heartbeat is not None:
        bot.heartbeat.shutdown()
    if bot.instance is not None:
        try:  # singletons let go at once: a standby takes them at its next beat
            await bot.instance.stop()
        except Exception:  # noqa: BLE001 - they expire by themselves
            log.exception("letting go of the singletons failed")
    if bot.notify is not None:
        await bot.notify.stop()
    if bot.ops_server is not None:
        await bot.ops_server.stop()
    await _stop_platforms(bot.platforms)
    await bot.db.close()
    if bot.lock is not None:
        bot.lock.release()


async def run_forever(settings: Settings) -> None:
    bot = await start(settings)
    names = ", ".join(p.name for p in bot.platforms)
    if bot.notify is not None:
        names += " (SMS and e-mail through GOV.UK Notify)"
    print(f"Whereabouts is running on {names} (database {settings.db}). Ctrl-C to stop.")
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    try:
        await stopping.wait()
    finally:
        await stop(bot)
