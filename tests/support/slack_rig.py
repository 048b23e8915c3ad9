"""The real slack-bolt AsyncApp running Whereabouts against the Slack stand-in.

Slash commands, button presses, form submissions and events go to Bolt's own aiohttp app on
127.0.0.1, form-encoded or JSON exactly as Slack sends them, signed with the signing secret
(`v0=HMAC_SHA256(secret, "v0:{ts}:{body}")`). What the bot does comes back through the
stand-in Web API (tests/support/fake_slack.py).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp

from bot.delivery import OutboxDelivery
from bot.router import Router
from bot.slack.app import HttpListen, SlackPlatform
from handlers.context import Services
from reminders import escalation
from reminders.clock import FakeClock
from storage import chat_store, staff_store
from storage.db import Database, Tx
from storage.models import OutboxMessage
from tests.support.fake_slack import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    TEAM_ID,
    FakeSlack,
    Message,
    Told,
    dm_of,
)
from tests.support.team import seed_team, team_file, weekend_rota

# Slack user ids of the enrolled test staff.
SLACK_IDS = {"sam": "USAM", "alex": "UALEX", "priya": "UPRIYA", "tom": "UTOM", "ooh1": "UOOH1",
             "ooh2": "UOOH2", "oohm": "UOOHM", "pc1": "UPC1", "iro1": "UIRO1",
             "admin": "UADMIN"}  # fmt: skip
OAK_CHANNEL = "COAK"  # registered to the oak home's team
ELM_CHANNEL = "CELM"  # exists in Slack; nobody has registered it
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
_numbers = itertools.count(1)


def sign(secret: str, body: str, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256)
    return "v0=" + digest.hexdigest()


async def open_services(
    path: Path, now: datetime, children: list[dict] | None, rota_rows: list[dict] | None
) -> Services:
    db = await Database(path).open()
    svc = Services(db=db, clock=FakeClock(now))
    await seed_team(db, team_file(children=children, rota_rows=rota_rows or weekend_rota()))
    return svc


async def enrol_on_slack(svc: Services, staff_ids: list[str], register: bool) -> None:
    async with svc.db.write() as tx:
        for staff_id in staff_ids:
            await staff_store.bind_identity(tx, "slack", SLACK_IDS[staff_id], staff_id)
        if register:
            await chat_store.register_team_chat(
                tx, "slack", OAK_CHANNEL, "oak", "tom", svc.clock.now()
            )


def unreachable_handler(svc: Services):  # noqa: ANN201 - the outbox's on_undeliverable
    async def unreachable(tx: Tx, message: OutboxMessage, reason: str) -> None:
        await escalation.recipient_unreachable(
            tx, svc.presets, svc.clock.now(), message.idem_key, reason
        )

    return unreachable


@dataclass
class SlackClient:
    """Plays Slack's side towards the bot: the requests Slack would send, signed."""

    fake: FakeSlack
    url: str
    secret: str = SECRET
    session: aiohttp.ClientSession = field(default_factory=aiohttp.ClientSession)

    async def close(self) -> None:
        await self.session.close()

    @staticmethod
    def user(who: str) -> str:
        return SLACK_IDS.get(who, who)

    async def post(
        self,
        body: str,
        content_type: str = "application/x-www-form-urlencoded",
        *,
        timestamp: int | None = None,
        signature: str | None = None,
    ) -> tuple[int, str]:
        stamp = int(time.time()) if timestamp is None else timestamp
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(stamp),
            "X-Slack-Signature": signature or sign(self.secret, body, stamp),
        }
        async with self.session.post(self.url, data=body.encode(), headers=headers) as response:
            return response.status, await response.text()

    def command_body(self, who: str, text: str, channel: str | None = None) -> str:
        user = self.user(who)
        command, _, rest = text.partition(" ")
        channel = channel or dm_of(user)
        return urlencode(
            {
                "token": "legacy-verification-token",
                "team_id": TEAM_ID,
                "team_domain": "whereabouts-test",
                "channel_id": channel,
                "channel_name": "directmessage" if channel.startswith("D") else channel.lower(),
                "user_id": user,
                "user_name": who,
                "command": command,
                "text": rest,
                "api_app_id": APP_ID,
                "is_enterprise_install": "false",
                "response_url": self.fake.response_url(user),
                "trigger_id": f"trigger-{next(_numbers)}",
            }
        )

    async def command(self, who: str, text: str, channel: str | None = None) -> tuple[int, str]:
        """`who` types a slash command (in their direct chat with the app unless `channel`)."""
        return await self.post(self.command_body(who, text, channel))

    def _who(self, who: str) -> dict[str, str]:
        return {"id": self.user(who), "username": who, "name": who, "team_id": TEAM_ID}

    async def interact(self, payload: dict[str, Any]) -> tuple[int, str]:
        return await self.post(urlencode({"payload": json.dumps(payload)}))

    def press_payload(self, who: str, message: Message, label: str) -> dict[str, Any]:
        button = message.buttons[label]
        channel = message.channel
        return {
            "type": "block_actions",
            "team": {"id": TEAM_ID, "domain": "whereabouts-test"},
            "user": self._who(who),
            "api_app_id": APP_ID,
            "token": "legacy-verification-token",
            "container": {
                "type": "message",
                "message_ts": message.ts,
                "channel_id": channel,
                "is_ephemeral": False,
            },  # fmt: skip
            "trigger_id": f"trigger-{next(_numbers)}",
            "channel": {"id": channel, "name": "directmessage" if channel[0] == "D" else channel},
            "message": {
                "type": "message",
                "user": BOT_USER_ID,
                "bot_id": BOT_ID,
                "ts": message.ts,
                "text": message.text,
                "blocks": copy.deepcopy(message.blocks),
            },
            "response_url": self.fake.response_url(self.user(who)),
            "actions": [_action(button)],
        }

    async def press(self, who: str, message: Message, label: str) -> tuple[int, str]:
        """`who` presses the button labelled `label` on a message the bot posted."""
        return await self.interact(self.press_payload(who, message, label))

    async def press_told(self, who: str, told: Told, label: str) -> tuple[int, str]:
        """A press on an ephemeral message (only `who` saw it)."""
        button = next(
            e for b in told.blocks if b["type"] == "actions" for e in b["elements"]
            if e["text"]["text"] == label
        )  # fmt: skip
        payload = {
            "type": "block_actions",
            "team": {"id": TEAM_ID, "domain": "whereabouts-test"},
            "user": self._who(who),
            "api_app_id": APP_ID,
            "token": "legacy-verification-token",
            "container": {
                "type": "message",
                "message_ts": "1.0",
                "channel_id": OAK_CHANNEL,
                "is_ephemeral": True,
            },  # fmt: skip
            "trigger_id": f"trigger-{next(_numbers)}",
            "channel": {"id": OAK_CHANNEL, "name": "oak"},
            "response_url": self.fake.response_url(self.user(who)),
            "actions": [_action(button)],
        }
        return await self.interact(payload)

    async def submit(
        self, who: str, view: dict[str, Any], values: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        """`who` submits an opened modal with these state values; returns Bolt's answer."""
        payload = {
            "type": "view_submission",
            "team": {"id": TEAM_ID, "domain": "whereabouts-test"},
            "user": self._who(who),
            "api_app_id": APP_ID,
            "token": "legacy-verification-token",
            "trigger_id": f"trigger-{next(_numbers)}",
            "view": {
                "id": view["id"],
                "team_id": TEAM_ID,
                "type": "modal",
                "callback_id": view["callback_id"],
                "private_metadata": view.get("private_metadata", ""),
                "title": view["title"],
                "blocks": view["blocks"],
                "state": {"values": values},
                "hash": "1790000000.abcdef",
            },
            "response_urls": [],
        }
        status, text = await self.interact(payload)
        return status, (json.loads(text) if text else {})

    async def event(self, event: dict[str, Any]) -> int:
        status, _ = await self.post(self.event_body(event), "application/json")
        return status

    def event_body(self, event: dict[str, Any]) -> str:
        """An Events API delivery as Slack signs and sends it (a new event_id each time)."""
        body = {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": f"Ev{next(_numbers):08d}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": TEAM_ID,
                    "user_id": BOT_USER_ID,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],  # fmt: skip
        }
        return json.dumps(body)

    async def dm(self, who: str, text: str) -> int:
        """`who` writes a plain message in their direct chat with the app."""
        return await self.event(self.dm_event(who, text))

    def dm_event(self, who: str, text: str) -> dict[str, Any]:
        user = self.user(who)
        return {"type": "message", "channel_type": "im", "channel": dm_of(user), "user": user,
                "text": text, "ts": f"{time.time():.6f}", "client_msg_id": f"m{next(_numbers)}"}  # fmt: skip

    async def open_home(self, who: str) -> int:
        user = self.user(who)
        return await self.event(
            {"type": "app_home_opened", "user": user, "channel": dm_of(user), "tab": "home",
             "event_ts": f"{time.time():.6f}"}
        )  # fmt: skip

    # ---- waiting for the bot ------------------------------------------------------------

    async def reply_to(self, who_or_channel: str, contains: str) -> Message:
        """Wait for a message in a channel (or `who`'s direct chat) containing `contains`."""
        where = who_or_channel if who_or_channel[0] in "CG" else dm_of(self.user(who_or_channel))
        return await self.fake.wait_for(
            lambda: next((m for m in self.fake.in_channel(where) if contains in m.shown), None)
        )

    async def told(self, who: str, contains: str) -> Told:
        """Wait for an ephemeral answer to `who` containing `contains`."""
        user = self.user(who)
        return await self.fake.wait_for(
            lambda: next((t for t in self.fake.told_to(user) if contains in _shown(t)), None)
        )


@dataclass
class SlackRig(SlackClient):
    db: Database = None  # type: ignore[assignment]
    svc: Services = None  # type: ignore[assignment]
    platform: SlackPlatform = None  # type: ignore[assignment]
    delivery: OutboxDelivery = None  # type: ignore[assignment]

    @property
    def clock(self) -> FakeClock:
        return self.svc.clock  # type: ignore[return-value]

    @classmethod
    async def start(
        cls,
        path: Path,
        now: datetime,
        *,
        enrol: bool = True,
        register_channel: bool = True,
        rota_rows: list[dict] | None = None,
        children: list[dict] | None = None,
        submit_wait: float = 2.0,
    ) -> SlackRig:
        svc = await open_services(path, now, children, rota_rows)
        if enrol:
            await enrol_on_slack(svc, list(SLACK_IDS), register_channel)
        elif register_channel:
            await enrol_on_slack(svc, [], True)
        fake, platform = await start_slack(svc, submit_wait=submit_wait)
        delivery = OutboxDelivery(
            svc.db, svc.clock, Router(svc.db, [platform]).send,
            on_undeliverable=unreachable_handler(svc),
        )  # fmt: skip
        platform.after_command = delivery.deliver_due
        return cls(
            fake,
            f"http://127.0.0.1:{platform.http_port}/slack/events",
            db=svc.db,
            svc=svc,
            platform=platform,
            delivery=delivery,
        )

    async def stop(self) -> None:
        await self.platform.stop()
        await self.close()
        await self.fake.stop()
        await self.db.close()


async def start_slack(
    svc: Services, *, submit_wait: float = 2.0, channel_period: float = 0.0
) -> tuple[FakeSlack, SlackPlatform]:
    """The stand-in Slack, and the real platform on it in HTTP mode on a free local port."""
    fake = await FakeSlack(channels={OAK_CHANNEL, ELM_CHANNEL}).start()
    platform = SlackPlatform(
        svc,
        fake.token,
        signing_secret=SECRET,
        base_url=fake.base_url,
        channel_period=channel_period,
        submit_wait=submit_wait,
    )
    platform.sender.patience = (0.0, 0.0)  # an answer's retries after a 5xx: no waiting here
    await platform.start(http=HttpListen("127.0.0.1", 0))
    return fake, platform


def form_values(
    child: str = "", seen: str = "", where: str = "", done: str = "", concern: str = ""
) -> dict[str, Any]:
    """A report form's state as Slack sends it on submit (empty answers left out)."""

    def text(value: str) -> dict[str, Any]:
        return {"value": {"type": "plain_text_input", "value": value or None}}

    def choice(kind: str, value: str) -> dict[str, Any]:
        return {"value": {"type": kind, "selected_option": {"value": value} if value else None}}

    return {
        "child": choice("static_select", child),
        "seen": text(seen),
        "where": text(where),
        "done": text(done),
        "concern": choice("radio_buttons", concern),
    }


def _action(button: dict[str, Any]) -> dict[str, Any]:
    return {"action_id": button["action_id"], "block_id": button.get("block_id", "b"),
            "text": button["text"], "value": button["value"], "type": "button",
            "action_ts": f"{time.time():.6f}"}  # fmt: skip


def _shown(told: Told) -> str:
    lines = [told.text]
    for block in told.blocks:
        if block.get("type") == "section":
            lines.append(block["text"]["text"])
    return "\n".join(lines)
