"""A stand-in for Slack on 127.0.0.1, for tests: the Web API, response URLs, Socket Mode.

It speaks enough of the real protocol for slack_sdk's AsyncWebClient and slack-bolt's
AsyncApp: auth.test, chat.postMessage/update/delete, conversations.open, views.open/publish,
the three-step file upload, apps.connections.open and a Socket Mode websocket. Replies have
Slack's shapes: `{"ok": true, ...}`, errors `{"ok": false, "error": "..."}` (HTTP 200), rate
limits HTTP 429 with `Retry-After`. Faults can be injected per method (and channel). Tests
read back every call, every message as it is now, and what each person was told.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.support.waiting import wait_until

TEAM_ID = "T0WHERE"
BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
APP_ID = "A0WHERE"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float  # time.monotonic()
    status: int = 200
    ok: bool = True


@dataclass
class Message:
    """A message the bot posted, as it is now (after any chat.update)."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    broadcast: bool = False
    files: list[dict[str, Any]] = field(default_factory=list)
    edits: int = 0

    @property
    def buttons(self) -> dict[str, dict[str, Any]]:
        """label → the button element."""
        return {
            e["text"]["text"]: e | {"block_id": b.get("block_id", "")}
            for b in self.blocks
            if b.get("type") == "actions"
            for e in b["elements"]
        }

    @property
    def shown(self) -> str:
        """All the text a person sees: sections and context lines."""
        lines = []
        for block in self.blocks:
            if block.get("type") == "section":
                lines.append(block["text"]["text"])
            elif block.get("type") == "context":
                lines.extend(e.get("text", "") for e in block["elements"])
        return "\n".join(lines) or _unescape(self.text)


@dataclass
class Told:
    """Something posted to a response_url: seen only by `user` unless in_channel."""

    user: str
    text: str
    blocks: list[dict[str, Any]]
    response_type: str
    replace_original: bool


@dataclass
class Fault:
    status: int
    error: str
    retry_after: int | None = None
    remaining: int = 1
    channel: str | None = None


@dataclass
class FakeSlack:
    token: str = "xoxb-test-token"
    app_token: str = "xapp-test-token"
    channels: set[str] = field(default_factory=set)  # public/private channels that exist
    disabled_users: set[str] = field(default_factory=set)  # deactivated accounts
    calls: list[Call] = field(default_factory=list)
    messages: dict[tuple[str, str], Message] = field(default_factory=dict)
    deleted: list[tuple[str, str]] = field(default_factory=list)
    views: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → opened modal
    home: dict[str, dict[str, Any]] = field(default_factory=dict)  # user → published view
    told: list[Told] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    socket_acks: dict[str, dict[str, Any]] = field(default_factory=dict)
    port: int = 0
    _faults: dict[str, list[Fault]] = field(default_factory=dict)
    _counter: itertools.count = field(default_factory=lambda: itertools.count(1))
    _responders: dict[str, str] = field(default_factory=dict)  # response key → user
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None

    # ---- server -------------------------------------------------------------------

    async def start(self) -> FakeSlack:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_post("/respond/{key}", self._respond)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/link", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/api/"  # AsyncWebClient joins with urljoin: it must end in "/"

    def _changed_now(self) -> None:
        self._changed.set()

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        token = token or str(params.get("token") or "")
        wanted = self.app_token if method == "apps.connections.open" else self.token
        call = Call(method, params, time.monotonic())
        self.calls.append(call)
        self._changed_now()
        if token != wanted:
            return self._fail(call, 200, "invalid_auth")
        fault = self._take_fault(method, params)
        if fault is not None:
            headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
            return self._fail(call, fault.status, fault.error, headers)
        handler: Callable[[dict[str, Any]], Any] | None = getattr(
            self, "_m_" + method.replace(".", "_"), None
        )
        if handler is None:
            return self._fail(call, 200, "unknown_method")
        result = handler(params)
        if isinstance(result, str):  # an error code
            return self._fail(call, 200, result)
        return web.json_response({"ok": True, **result})

    def _fail(
        self, call: Call, status: int, error: str, headers: dict[str, str] | None = None
    ) -> web.Response:
        call.status, call.ok = status, False
        return web.json_response({"ok": False, "error": error}, status=status, headers=headers)

    def _take_fault(self, method: str, params: dict[str, Any]) -> Fault | None:
        queue = self._faults.get(method, [])
        targets = {params.get("channel"), params.get("channel_id"), params.get("users")}
        for fault in queue:
            if fault.channel is None or fault.channel in targets:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    queue.remove(fault)
                return fault
        return None

    def _ts(self) -> str:
        n = next(self._counter)
        return f"{1_790_000_000 + n}.{n:06d}"

    def _channel(self, channel: str) -> str | None:
        """A channel id the bot may post to (a user id means their direct chat with the app)."""
        if channel.startswith("U"):
            channel = dm_of(channel)
        if channel.startswith("D"):
            return None if "U" + channel[1:] in self.disabled_users else channel
        return channel if channel in self.channels else None

    # ---- Web API methods ------------------------------------------------------------

    def _m_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": "https://whereabouts-test.slack.com/", "team": "Test", "user": "whereabouts",
                "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": BOT_ID}  # fmt: skip

    def _m_apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": f"ws://127.0.0.1:{self.port}/link"}

    def _m_conversations_open(self, params: dict[str, Any]) -> dict[str, Any] | str:
        user = str(params.get("users") or "")
        if not user.startswith("U"):
            return "user_not_found"
        if user in self.disabled_users:
            return "user_disabled"
        return {"channel": {"id": dm_of(user)}}

    def _m_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any] | str:
        channel = self._channel(str(params.get("channel") or ""))
        if channel is None:
            return "channel_not_found"
        if not params.get("text") and not params.get("blocks"):
            return "no_text"
        ts = self._ts()
        self.messages[(channel, ts)] = Message(
            channel,
            ts,
            str(params.get("text") or ""),
            _json(params.get("blocks")) or [],
            params.get("thread_ts"),
            bool(params.get("reply_broadcast")),
        )
        return {"channel": channel, "ts": ts, "message": {"text": params.get("text")}}

    def _m_chat_update(self, params: dict[str, Any]) -> dict[str, Any] | str:
        message = self.messages.get((str(params.get("channel")), str(params.get("ts"))))
        if message is None:
            return "message_not_found"
        message.text = str(params.get("text") or "")
        message.blocks = _json(params.get("blocks")) or []
        message.edits += 1
        return {"channel": message.channel, "ts": message.ts, "text": message.text}

    def _m_chat_delete(self, params: dict[str, Any]) -> dict[str, Any] | str:
        key = (str(params.get("channel")), str(params.get("ts")))
        if self.messages.pop(key, None) is None:
            return "message_not_found"
        self.deleted.append(key)
        return {"channel": key[0], "ts": key[1]}

    def _m_views_open(self, params: dict[str, Any]) -> dict[str, Any] | str:
        if not params.get("trigger_id"):
            return "invalid_trigger_id"
        view = _json(params.get("view"))
        view_id = f"V{next(self._counter):05d}"
        self.views[view_id] = view | {"id": view_id}
        return {"view": self.views[view_id]}

    def _m_views_publish(self, params: dict[str, Any]) -> dict[str, Any] | str:
        user = str(params.get("user_id") or "")
        self.home[user] = _json(params.get("view"))
        return {"view": self.home[user]}

    def _m_files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = f"F{next(self._counter):05d}"
        return {"upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def _m_files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any] | str:
        channel = self._channel(str(params.get("channel_id") or ""))
        if channel is None:
            return "channel_not_found"
        files = _json(params.get("files")) or []
        for f in files:
            if f["id"] not in self.files:
                return "file_not_found"
        ts = self._ts()
        self.messages[(channel, ts)] = Message(
            channel, ts, str(params.get("initial_comment") or ""), [],
            params.get("thread_ts"), files=files,
        )  # fmt: skip
        return {"files": [{"id": f["id"], "title": f.get("title")} for f in files]}

    async def _upload(self, request: web.Request) -> web.Response:
        self.files[request.match_info["file_id"]] = await request.read()
        return web.Response(text="OK - uploaded", content_type="text/plain")

    # ---- response_url and Socket Mode -------------------------------------------------

    def response_url(self, user: str) -> str:
        key = f"R{next(self._counter):05d}"
        self._responders[key] = user
        return f"{self.url}/respond/{key}"

    async def _respond(self, request: web.Request) -> web.Response:
        body = await request.json()
        user = self._responders.get(request.match_info["key"])
        if user is None:
            return web.Response(status=404, text="no_such_response_url")
        self.told.append(
            Told(
                user,
                str(body.get("text") or ""),
                body.get("blocks") or [],
                str(body.get("response_type") or "ephemeral"),
                bool(body.get("replace_original")),
            )
        )
        self._changed_now()
        return web.Response(text="ok")

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        self._changed_now()
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1}))
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                ack = json.loads(message.data)
                self.socket_acks[ack.get("envelope_id", "")] = ack.get("payload") or {}
                self._changed_now()
        self._sockets.remove(ws)
        return ws

    async def socket_send(self, kind: str, payload: dict[str, Any]) -> str:
        """Deliver a Socket Mode envelope to the connected app; returns its envelope id."""
        await self.wait_for(lambda: self._sockets)
        envelope_id = f"env-{next(self._counter)}"
        envelope = {"envelope_id": envelope_id, "type": kind, "payload": payload,
                    "accepts_response_payload": kind != "events_api"}  # fmt: skip
        await self._sockets[-1].send_str(json.dumps(envelope))
        return envelope_id

    # ---- what tests do ----------------------------------------------------------------

    def fail(
        self,
        method: str,
        status: int,
        error: str = "internal_error",
        *,
        retry_after: int | None = None,
        times: int = 1,
        channel: str | None = None,
    ) -> None:
        """The next `times` calls of `method` (into `channel`, if given) fail this way."""
        if status == 429:
            error = "ratelimited"
        self._faults.setdefault(method, []).append(
            Fault(status, error, retry_after, times, channel)
        )

    def sent(self, method: str = "chat.postMessage", channel: str | None = None) -> list[Call]:
        return [
            c for c in self.calls
            if c.method == method and (channel is None or c.params.get("channel") == channel)
        ]  # fmt: skip

    def in_channel(self, channel: str) -> list[Message]:
        """Messages now in a channel (or a direct chat), oldest first."""
        return [m for (c, _), m in sorted(self.messages.items()) if c == channel]

    def told_to(self, user: str) -> list[Told]:
        return [t for t in self.told if t.user == user]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Wait until `predicate()` is truthy (bounded: the bot works after it acknowledges)."""
        return await wait_until(predicate, self._changed, timeout)


def dm_of(user: str) -> str:
    """The app's direct-message channel with a user."""
    return "D" + user[1:]


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def _params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        params.update(await request.json())
    elif request.can_read_body:
        form = await request.post()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params
