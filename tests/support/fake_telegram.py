"""A stand-in for the Telegram Bot API on 127.0.0.1, for tests and benchmarks.

It speaks enough of the real protocol for python-telegram-bot's Application: getMe,
deleteWebhook/setWebhook, long-polling getUpdates that honours offset and timeout, and the
send/edit/answer/delete methods the bot uses, with Telegram's JSON shapes. Tests queue
updates (messages from users, button presses) and read back every call. Faults (429 with
retry_after, 5xx) can be injected on chosen methods. Several bot processes can share one
stand-in, each with a base URL of its own (`base_url_for`): each call notes which one made it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.waiting import wait_until

BOT_USER = {
    "id": 999_000,
    "is_bot": True,
    "first_name": "Whereabouts",
    "username": "WhereaboutsBot",
}
# Who is asking, in a method handler: the path prefix of the base URL it was given (or "").
CALLER: ContextVar[str] = ContextVar("caller", default="")


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float  # time.monotonic()
    message_id: int | None = None  # of the message a send created
    via: str = ""  # the base URL's prefix the caller was given (`base_url_for`)


@dataclass
class Fault:
    status: int
    retry_after: int | None = None
    remaining: int = 1
    description: str | None = None
    chat_id: int | None = None  # only sends into this chat


@dataclass
class FakeTelegram:
    token: str = "123456:TEST-TOKEN"
    calls: list[Call] = field(default_factory=list)
    blocked_users: set[int] = field(default_factory=set)
    fault_rate: float = 0.0  # share of send calls answered with a fault, deterministic
    fault_status: int = 500
    fault_retry_after: int = 1
    # A mix at fault_rate instead of fault_status: "429", "500", "502", or "timeout" (no
    # answer for hang_seconds, and the message is not taken), chosen by a seeded generator.
    fault_kinds: tuple[str, ...] = ()
    fault_seed: int = 0
    hang_seconds: float = 2.0
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _next_update_id: int = 1
    _next_message_id: int = 1000
    _messages: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    _faults: dict[str, list[Fault]] = field(default_factory=dict)
    _fault_counter: float = 0.0
    _new_update: asyncio.Event = field(default_factory=asyncio.Event)
    _new_call: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None
    _rng: random.Random = field(default_factory=random.Random)
    port: int = 0

    # ---- server -------------------------------------------------------------------

    async def start(self) -> FakeTelegram:
        self._rng.seed(self.fault_seed)
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_post("/{via}/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        self._new_update.set()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    def base_url_for(self, via: str) -> str:
        """A base URL of its own for one of several processes (a path segment, no slash):
        its calls are noted `via` it."""
        return f"http://127.0.0.1:{self.port}/{via}/bot"

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        via = request.match_info.get("via", "")
        CALLER.set(via)  # this request's own task: its method handler reads it
        params = await _params(request)
        if method != "getUpdates":
            self.calls.append(Call(method, params, time.monotonic(), via=via))
            self._new_call.set()
        fault = self._take_fault(method, params)
        if fault is not None and fault.status == 0:
            self.calls[-1].params["timed out"] = True
            await asyncio.sleep(self.hang_seconds)  # the bot has given up waiting by now
            return _error(504, "Gateway Timeout")
        if fault is not None:
            return _error(
                fault.status,
                fault.description
                or ("Too Many Requests" if fault.status == 429 else "Bad Gateway"),
                fault.retry_after,
            )
        handler: Callable[[dict[str, Any]], Any] | None = getattr(self, f"_m_{method}", None)
        if handler is None:
            return _ok(True)
        result = handler(params)
        if asyncio.iscoroutine(result):
            result = await result
        if isinstance(result, web.Response):
            return result
        if isinstance(result, dict) and "message_id" in result and self.calls:
            self.calls[-1].message_id = result["message_id"]
        return _ok(result)

    def _take_fault(self, method: str, params: dict[str, Any]) -> Fault | None:
        queue = self._faults.get(method)
        chat = params.get("chat_id")
        mine = [f for f in queue or [] if f.chat_id is None or str(f.chat_id) == str(chat)]
        if mine:
            fault = mine[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.remove(fault)  # type: ignore[union-attr]
            return fault
        if self.fault_rate and method.startswith(("send", "edit")):
            self._fault_counter += self.fault_rate
            if self._fault_counter >= 1:
                self._fault_counter -= 1
                if self.fault_kinds:
                    kind = self._rng.choice(self.fault_kinds)
                    status = 0 if kind == "timeout" else int(kind)
                    return Fault(status, self.fault_retry_after if status == 429 else None)
                retry = self.fault_retry_after if self.fault_status == 429 else None
                return Fault(self.fault_status, retry)
        return None

    # ---- Bot API methods ------------------------------------------------------------

    def _m_getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return BOT_USER | {"can_join_groups": True, "can_read_all_group_messages": False,
                           "supports_inline_queries": False}  # fmt: skip

    async def _m_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and timeout > 0:
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), timeout)
        limit = int(params.get("limit") or 100)
        return [u for u in self._updates if u["update_id"] >= offset][:limit]

    def _m_sendMessage(self, params: dict[str, Any]) -> dict[str, Any] | web.Response:
        chat_id = int(params["chat_id"])
        if chat_id in self.blocked_users:
            return _error(403, "Forbidden: bot was blocked by the user")
        return self._store_message(chat_id, params)

    def _m_sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._store_message(int(params["chat_id"]), params)

    _m_sendDocument = _m_sendPhoto

    def _store_message(self, chat_id: int, params: dict[str, Any]) -> dict[str, Any]:
        self._next_message_id += 1
        message = {
            "message_id": self._next_message_id,
            "date": int(time.time()),
            "chat": _chat(chat_id),
            "from": BOT_USER,
            "text": params.get("text", params.get("caption", "")),
        }
        if params.get("reply_markup"):
            message["reply_markup"] = _json(params["reply_markup"])
        self._messages[(chat_id, self._next_message_id)] = message
        return message

    def _m_editMessageText(self, params: dict[str, Any]) -> dict[str, Any] | web.Response:
        key = (int(params["chat_id"]), int(params["message_id"]))
        if key not in self._messages:
            return _error(400, "Bad Request: message to edit not found")
        message = self._messages[key]
        message["text"] = params["text"]
        message.pop("reply_markup", None)
        if params.get("reply_markup"):
            message["reply_markup"] = _json(params["reply_markup"])
        return message

    def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> dict[str, Any] | web.Response:
        key = (int(params["chat_id"]), int(params["message_id"]))
        if key not in self._messages:
            return _error(400, "Bad Request: message to edit not found")
        message = self._messages[key]
        message.pop("reply_markup", None)
        if params.get("reply_markup"):
            message["reply_markup"] = _json(params["reply_markup"])
        return message

    def _m_deleteMessage(self, params: dict[str, Any]) -> bool | web.Response:
        key = (int(params["chat_id"]), int(params["message_id"]))
        if self._messages.pop(key, None) is None:
            return _error(400, "Bad Request: message to delete not found")
        return True

    # ---- what tests do ----------------------------------------------------------------

    def fail(
        self,
        method: str,
        status: int,
        retry_after: int | None = None,
        times: int = 1,
        *,
        description: str | None = None,
        chat_id: int | None = None,
    ) -> None:
        self._faults.setdefault(method, []).append(
            Fault(status, retry_after, times, description, chat_id)
        )

    def _push(self, update: dict[str, Any]) -> dict[str, Any]:
        update["update_id"] = self._next_update_id
        self._next_update_id += 1
        self._updates.append(update)
        self._new_update.set()
        return update

    def resend(self, update: dict[str, Any]) -> None:
        """Offer an update again, as Telegram does when the bot never confirmed it."""
        self._updates = sorted([*self._updates, update], key=lambda u: u["update_id"])
        self._new_update.set()

    def user_says(
        self,
        user_id: int,
        text: str,
        chat_id: int | None = None,
        name: str = "User",
        reply_to: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A text message from a user, in a direct chat unless `chat_id` names a group (< 0);
        an @mention of the bot is marked as Telegram marks it; `reply_to`: the message (as
        stored) it answers."""
        chat_id = user_id if chat_id is None else chat_id
        self._next_message_id += 1
        message: dict[str, Any] = {
            "message_id": self._next_message_id,
            "date": int(time.time()),
            "chat": _chat(chat_id),
            "from": {"id": user_id, "is_bot": False, "first_name": name},
            "text": text,
        }
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        handle = f"@{BOT_USER['username']}"
        if handle in text:
            mention = {"type": "mention", "offset": text.index(handle), "length": len(handle)}
            message["entities"] = [*message.get("entities", []), mention]
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        self._messages[(chat_id, self._next_message_id)] = message
        return self._push({"message": message})

    def user_edits(self, user_id: int, message: dict[str, Any], new_text: str) -> dict[str, Any]:
        edited = dict(message["message"]) | {"text": new_text, "edit_date": int(time.time())}
        return self._push({"edited_message": edited})

    def user_presses(
        self, user_id: int, sent: Call, data: str, name: str = "User"
    ) -> dict[str, Any]:
        """A button press on a message the bot sent (the Call that sent it)."""
        chat_id = int(sent.params["chat_id"])
        message = self.message_for(sent)
        return self._push(
            {
                "callback_query": {
                    "id": f"cb{self._next_update_id}",
                    "from": {"id": user_id, "is_bot": False, "first_name": name},
                    "chat_instance": f"ci{chat_id}",
                    "message": message,
                    "data": data,
                }
            }
        )

    def message_for(self, sent: Call) -> dict[str, Any]:
        """The message a send created, as it is now (after any edits)."""
        message = self._messages.get((int(sent.params["chat_id"]), sent.message_id or 0))
        if message is None:
            raise KeyError("that message is gone")
        return message

    def text_now(self, sent: Call) -> str:
        message = self._messages.get((int(sent.params["chat_id"]), sent.message_id or 0))
        return message["text"] if message else ""

    def delivered(self, chat_id: int) -> list[dict[str, Any]]:
        """Messages the bot successfully put in a chat (faulted calls never arrive)."""
        return [
            m for (chat, _), m in sorted(self._messages.items())
            if chat == chat_id and m.get("from") == BOT_USER
        ]  # fmt: skip

    def message(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        return self._messages.get((chat_id, message_id))

    def sent(self, method: str = "sendMessage", chat_id: int | None = None) -> list[Call]:
        return [
            c for c in self.calls
            if c.method == method and (chat_id is None or int(c.params.get("chat_id", 0)) == chat_id)
        ]  # fmt: skip

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Wait until `predicate()` is truthy (bounded: the bot works in the background)."""
        return await wait_until(predicate, self._new_call, timeout)


def _chat(chat_id: int) -> dict[str, Any]:
    if chat_id < 0:
        return {"id": chat_id, "type": "supergroup", "title": f"Team {chat_id}"}
    return {"id": chat_id, "type": "private", "first_name": "User"}


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        return dict(await request.json())
    form = await request.post()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(status: int, description: str, retry_after: int | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status)
