"""A stand-in for Microsoft Teams on 127.0.0.1, for tests: the Bot Connector the bot sends to,
and the Bot Framework's token service that signs what Teams sends the bot.

It serves an OpenID metadata document and its key set (JWKS, with each key's endorsements) from
a key pair made at start, signs activities' bearer tokens with it as the Bot Connector does
(RS256; iss https://api.botframework.com, aud the app id, serviceurl), and takes the Bot
Connector's REST calls: POST/PUT/DELETE /v3/conversations/{id}/activities[/{activity id}], a
channel thread being `{channel};messageid={root}`. A conversation the app is not installed in
answers 403 (as BotNotInConversationRoster does); faults (429 with Retry-After, 412, 5xx) can
be injected. An invoke's answer (an Adaptive Card) replaces the pressed card, as Teams shows it.
Tests read back every call and every message as it is now.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.waiting import wait_until

APP_ID = "00000000-0000-4000-8000-00000000a44b"
TENANT = "11111111-2222-4333-8444-555555555555"
OTHER_TENANT = "99999999-2222-4333-8444-555555555555"
ISSUER = "https://api.botframework.com"
BOT_ID = f"28:{APP_ID}"
CARD = "application/vnd.microsoft.card.adaptive"


@dataclass
class Call:
    method: str
    conversation: str
    activity_id: str | None
    status: int
    body: dict[str, Any]


@dataclass
class Posted:
    """A message the bot posted, as it is now (after updates)."""

    id: str
    conversation: str  # base conversation id (a channel, or a 1:1 chat)
    thread: str | None  # the root message id of the channel thread it is in
    text: str
    attachments: list[dict[str, Any]]
    edits: int = 0
    deleted: bool = False

    @property
    def card(self) -> dict[str, Any] | None:
        return next((a["content"] for a in self.attachments if a.get("contentType") == CARD), None)

    @property
    def buttons(self) -> dict[str, dict[str, Any]]:
        card = self.card or {}
        return {a["title"]: a for a in card.get("actions") or []}

    @property
    def shown(self) -> str:
        card = self.card
        if card is None:
            return self.text
        lines = []
        for block in card.get("body") or []:
            if block.get("type") == "RichTextBlock":
                lines.extend(i.get("text", "") for i in block["inlines"])
            elif block.get("type") == "TextBlock":
                lines.append(block.get("text", ""))
        return "\n".join(lines)


@dataclass
class Fault:
    status: int
    retry_after: int | None = None
    remaining: int = 1
    conversation: str | None = None


@dataclass
class FakeTeams:
    app_id: str = APP_ID
    tenant: str = TENANT
    installed: set[str] = field(default_factory=set)  # conversations the app is in
    calls: list[Call] = field(default_factory=list)
    posted: dict[str, Posted] = field(default_factory=dict)
    port: int = 0
    _faults: list[Fault] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1000))
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None
    _key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    kid: str = "test-key-1"

    async def start(self) -> FakeTeams:
        app = web.Application()
        app.router.add_get("/openid", self._metadata)
        app.router.add_get("/keys", self._keys)
        app.router.add_post("/v3/conversations/{conversation}/activities", self._create)
        app.router.add_put("/v3/conversations/{conversation}/activities/{activity}", self._update)
        app.router.add_delete(
            "/v3/conversations/{conversation}/activities/{activity}", self._delete
        )
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def service_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def metadata_url(self) -> str:
        return f"{self.service_url}/openid"

    def changed(self) -> None:
        self._changed.set()

    async def wait_for(self, predicate: Any, timeout: float = 10.0) -> Any:
        return await wait_until(predicate, self._changed, timeout)

    # ---- the token service -----------------------------------------------------------------

    async def _metadata(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "issuer": ISSUER,
                "authorization_endpoint": "https://invalid.botframework.com",
                "jwks_uri": f"{self.service_url}/keys",
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            }
        )

    async def _keys(self, request: web.Request) -> web.Response:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "endorsements": ["msteams"]})
        return web.json_response({"keys": [jwk]})

    def token(
        self,
        *,
        audience: str | None = None,
        issuer: str = ISSUER,
        expires_in: int = 3600,
        key: rsa.RSAPrivateKey | None = None,
        kid: str | None = None,
        service_url: str | None = None,
        **claims: Any,
    ) -> str:
        now = int(time.time())
        payload = {
            "iss": issuer,
            "aud": audience or self.app_id,
            "nbf": now - 60,
            "iat": now - 60,
            "exp": now + expires_in,
            "serviceurl": service_url or self.service_url,
            **claims,
        }
        return jwt.encode(
            payload, key or self._key, algorithm="RS256", headers={"kid": kid or self.kid}
        )

    # ---- the Bot Connector -------------------------------------------------------------------

    def fail(
        self,
        status: int,
        *,
        retry_after: int | None = None,
        times: int = 1,
        conversation: str | None = None,
    ) -> None:
        """The next `times` sends (into `conversation`, or any) answer `status`."""
        self._faults.append(Fault(status, retry_after, times, conversation))

    def _fault(self, conversation: str) -> Fault | None:
        for fault in self._faults:
            if fault.remaining and fault.conversation in (None, conversation):
                fault.remaining -= 1
                return fault
        return None

    def _refuse(
        self, method: str, conversation: str, activity: str | None, body: dict[str, Any]
    ) -> web.Response | None:
        base = conversation.split(";", 1)[0]
        fault = self._fault(base)
        status = fault.status if fault else (403 if base not in self.installed else 0)
        if not status:
            return None
        self.calls.append(Call(method, conversation, activity, status, body))
        headers = {"Retry-After": str(fault.retry_after)} if fault and fault.retry_after else {}
        code = "BotNotInConversationRoster" if status == 403 else "Throttled"
        self.changed()
        return web.json_response(
            {"error": {"code": code, "message": "refused"}}, status=status, headers=headers
        )

    async def _create(self, request: web.Request) -> web.Response:
        conversation = request.match_info["conversation"]
        body = await request.json()
        refused = self._refuse("create", conversation, None, body)
        if refused is not None:
            return refused
        base, _, rest = conversation.partition(";messageid=")
        activity_id = str(next(self._ids))
        self.calls.append(Call("create", conversation, activity_id, 201, body))
        self.posted[activity_id] = Posted(
            activity_id, base, rest or None, str(body.get("text") or ""),
            list(body.get("attachments") or []),
        )  # fmt: skip
        self.changed()
        return web.json_response({"id": activity_id}, status=201)

    async def _update(self, request: web.Request) -> web.Response:
        conversation = request.match_info["conversation"]
        activity_id = request.match_info["activity"]
        body = await request.json()
        refused = self._refuse("update", conversation, activity_id, body)
        if refused is not None:
            return refused
        posted = self.posted.get(activity_id)
        if posted is None:
            return web.json_response({"error": {"code": "NotFound"}}, status=404)
        self.calls.append(Call("update", conversation, activity_id, 200, body))
        posted.text = str(body.get("text") or "")
        posted.attachments = list(body.get("attachments") or [])
        posted.edits += 1
        self.changed()
        return web.json_response({"id": activity_id})

    async def _delete(self, request: web.Request) -> web.Response:
        conversation = request.match_info["conversation"]
        activity_id = request.match_info["activity"]
        refused = self._refuse("delete", conversation, activity_id, {})
        if refused is not None:
            return refused
        self.calls.append(Call("delete", conversation, activity_id, 200, {}))
        if activity_id in self.posted:
            self.posted[activity_id].deleted = True
        self.changed()
        return web.Response(status=200)

    # ---- reading back -----------------------------------------------------------------------

    def in_conversation(self, conversation: str) -> list[Posted]:
        return [p for p in self.posted.values() if p.conversation == conversation and not p.deleted]

    def sends(self, status: int | None = None) -> list[Call]:
        return [c for c in self.calls if c.method == "create" and status in (None, c.status)]


def personal_id(user: str) -> str:
    return f"a:personal-{user}"


@dataclass
class TeamsUser:
    """Plays Teams' side towards the bot: the activities Teams would send, signed."""

    fake: FakeTeams
    url: str
    session: aiohttp.ClientSession = field(default_factory=aiohttp.ClientSession)

    async def close(self) -> None:
        await self.session.close()

    @staticmethod
    def user(who: str) -> str:
        """The Teams id of a test person (a rig maps staff ids to them)."""
        return who

    async def send(self, activity: dict[str, Any], token: str | None = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token or self.fake.token()}"}
        async with self.session.post(self.url, json=activity, headers=headers) as response:
            text = await response.text()
            return response.status, (json.loads(text) if text else None)

    def activity(
        self,
        kind: str,
        user: str,
        conversation: dict[str, Any],
        channel_data: dict[str, Any],
        **more: Any,
    ) -> dict[str, Any]:
        return {
            "type": kind,
            "id": f"act-{uuid.uuid4().hex[:12]}",
            "timestamp": "2026-10-23T20:10:00.000Z",
            "serviceUrl": self.fake.service_url,
            "channelId": "msteams",
            "from": {
                "id": user,
                "name": user,
                "aadObjectId": str(uuid.uuid5(uuid.NAMESPACE_DNS, user)),
            },
            "conversation": conversation,
            "recipient": {"id": BOT_ID, "name": "Whereabouts"},
            "channelData": {"tenant": {"id": self.fake.tenant}, **channel_data},
            **more,
        }

    def personal(self, user: str) -> tuple[dict[str, Any], dict[str, Any]]:
        return (
            {"id": personal_id(user), "conversationType": "personal", "tenantId": self.fake.tenant},
            {},
        )

    def channel(
        self, channel: str, team: str, thread: str | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        conversation_id = f"{channel};messageid={thread}" if thread else channel
        return (
            {"id": conversation_id, "conversationType": "channel", "isGroup": True,
             "tenantId": self.fake.tenant},
            {"channel": {"id": channel}, "team": {"id": team}},
        )  # fmt: skip

    async def install(self, user: str) -> int:
        """`user` adds the app for themselves (a 1:1 chat with it)."""
        self.fake.installed.add(personal_id(user))
        conversation, data = self.personal(user)
        status, _ = await self.send(
            self.activity("installationUpdate", user, conversation, data, action="add")
        )
        return status

    async def install_team(self, user: str, channel: str, team: str) -> int:
        self.fake.installed.add(channel)
        conversation, data = self.channel(channel, team)
        status, _ = await self.send(
            self.activity(
                "conversationUpdate", user, conversation, data,
                membersAdded=[{"id": BOT_ID}],
            )
        )  # fmt: skip
        return status

    def message(
        self,
        user: str,
        text: str,
        channel: tuple[str, str] | None = None,
        thread: str | None = None,
    ) -> dict[str, Any]:
        if channel is None:
            conversation, data = self.personal(user)
            return self.activity("message", user, conversation, data, text=text, textFormat="plain")
        conversation, data = self.channel(channel[0], channel[1], thread)
        mention = {"type": "mention", "text": "<at>Whereabouts</at>",
                   "mentioned": {"id": BOT_ID, "name": "Whereabouts"}}  # fmt: skip
        return self.activity(
            "message", user, conversation, data,
            text=f"<at>Whereabouts</at> {text}", textFormat="xml", entities=[mention],
        )  # fmt: skip

    async def says(self, user: str, text: str, channel: tuple[str, str] | None = None) -> int:
        status, _ = await self.send(self.message(user, text, channel))
        return status

    def press_activity(
        self, user: str, posted: Posted, label: str, **inputs: Any
    ) -> dict[str, Any]:
        action = posted.buttons[label]
        if posted.conversation.startswith("a:"):
            conversation, data = self.personal(user)
        else:
            conversation, data = self.channel(
                posted.conversation, "team", posted.thread or posted.id
            )
        value = {
            "action": {"type": "Action.Execute", "verb": action["verb"],
                       "data": {**action.get("data", {}), **inputs}},
            "trigger": "manual",
        }  # fmt: skip
        return self.activity(
            "invoke", user, conversation, data,
            name="adaptiveCard/action", value=value, replyToId=posted.id,
        )  # fmt: skip

    async def press(self, user: str, posted: Posted, label: str, **inputs: Any) -> tuple[int, Any]:
        """`user` presses a card's button; Teams shows the card the bot answers with."""
        activity = self.press_activity(self.user(user), posted, label, **inputs)
        status, answer = await self.send(activity)
        if isinstance(answer, dict) and answer.get("type") == CARD:
            posted.attachments = [{"contentType": CARD, "content": answer["value"]}]
            posted.edits += 1
            self.fake.changed()
        return status, answer

    async def reply_to(self, conversation: str, contains: str) -> Posted:
        """Wait for a message in a conversation (a channel, or personal_id(user)) with `contains`."""
        return await self.fake.wait_for(
            lambda: next(
                (p for p in self.fake.in_conversation(conversation) if contains in p.shown), None
            )
        )

    async def dm(self, user: str, contains: str) -> Posted:
        return await self.reply_to(personal_id(self.user(user)), contains)
