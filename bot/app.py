"""`whereabouts run`: the live bot on every chat platform that has credentials, in one process."""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from bot.delivery import OutboxDelivery
from bot.heartbeat import Heartbeat
from bot.router import Platform, Router
from config.settings import Settings
from handlers.context import Services
from handlers.report_jobs import ReportJobs
from handlers.rota_gaps import GapJobs
from reminders import escalation, follow_ups
from reminders.follow_ups import FollowUpJobs
from reminders.sweeper import Sweeper
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
    db = await Database(settings.db, settings.synchronous).open()
    svc = Services(db=db)
    bot = LiveBot(settings, db, svc)
    try:
        if settings.telegram_token is not None:
            bot.platforms.append(await _start_telegram(settings, svc))
        if settings.slack_bot_token is not None:
            bot.platforms.append(await _start_slack(settings, svc))
        if settings.teams_app_id:
            bot.platforms.append(await _start_teams(settings, svc))
        bot.notify = _notify(settings, svc)
        if not bot.platforms:
            raise StartupError(
                "No chat platform is configured. Set TELEGRAM_BOT_TOKEN (or "
                "WHEREABOUTS_TELEGRAM_TOKEN) for Telegram, and/or SLACK_BOT_TOKEN with "
                "SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode) for Slack, and/or "
                "TEAMS_APP_ID with TEAMS_APP_PASSWORD and TEAMS_TENANT_ID for Microsoft Teams. "
                "To try the bot without one: whereabouts console"
            )
    except BaseException:
        await _stop_platforms(bot.platforms)
        await db.close()
        raise
    router = Router(db, bot.platforms, bot.notify)
    delivery = OutboxDelivery(db, svc.clock, router.send, on_undeliverable=bot.undeliverable)
    bot.heartbeat = Heartbeat(
        Sweeper(
            db,
            svc.clock,
            svc.presets,
            jobs=[
                ReportJobs(db, svc.clock, svc.presets),
                GapJobs(db, svc.clock, svc.presets),
                FollowUpJobs(db, svc.clock, svc.presets),
            ],
        ),
        delivery,
        svc.clock,
        settings.sweep_interval_seconds,
    )
    for platform in bot.platforms:
        platform.after_command = bot.heartbeat.kick  # type: ignore[attr-defined]
    await bot.heartbeat.start()
    if bot.notify is not None:
        bot.notify.after_text = bot.heartbeat.kick  # an ACK reply's messages go at once
        await bot.notify.start()
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


async def _start_telegram(settings: Settings, svc: Services) -> Platform:
    from telegram.error import InvalidToken, NetworkError

    from bot.telegram.app import TelegramPlatform

    assert settings.telegram_token is not None
    platform = TelegramPlatform(
        svc, settings.telegram_token.get_secret_value(), base_url=settings.telegram_base_url
    )
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
        await platform.start(webhook)
    except InvalidToken as exc:
        raise StartupError(
            "Telegram rejected the bot token. Check TELEGRAM_BOT_TOKEN (from @BotFather)."
        ) from exc
    except NetworkError as exc:
        raise StartupError(f"Can't reach Telegram: {exc.message}") from exc
    return platform


async def _start_slack(settings: Settings, svc: Services) -> Platform:
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
    )
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


async def _start_teams(settings: Settings, svc: Services) -> Platform:
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
    )
    try:
        await platform.start(
            HttpListen(settings.teams_listen, settings.teams_port, settings.teams_path)
        )
    except TeamsStartupError as exc:
        raise StartupError(str(exc)) from exc
    return platform


async def _stop_platforms(platforms: list[Platform]) -> None:
    for platform in platforms:
        try:
            await platform.stop()  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - shutting down anyway
            log.exception("stopping %s failed", platform.name)


async def stop(bot: LiveBot) -> None:
    if bot.heartbeat is not None:
        bot.heartbeat.shutdown()
    if bot.notify is not None:
        await bot.notify.stop()
    await _stop_platforms(bot.platforms)
    await bot.db.close()


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
