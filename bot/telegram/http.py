"""python-telegram-bot's networking on aiohttp instead of httpx.

PTB makes every Bot API call through a `BaseRequest`; its default, `HTTPXRequest`, costs
about 2 ms of CPU a call with many in flight (httpcore's pool bookkeeping), against about
0.15 ms here (measured by bench/telegram_latency.py's echo variants). At night a backlog of
alerts and a burst of replies share one CPU, so the bot uses this one. aiohttp is already
a dependency (Slack). Timeouts and errors map onto PTB's exceptions as HTTPXRequest's do.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode
from urllib.request import getproxies, proxy_bypass

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TelegramError, TimedOut
from telegram.request import BaseRequest, RequestData

# 4xx statuses PTB turns into an exception of its own (BadRequest, InvalidToken, Forbidden,
# Conflict; 429 carries retry_after): every other 4xx is `Refused` here.
PTB_READS = frozenset({400, 401, 403, 404, 409, 429})


class Refused(TelegramError):
    """Telegram refused the call with a 4xx status PTB has no exception for (413, 422 …):
    sending the same request again will not help."""

    def __init__(self, status: int) -> None:
        super().__init__(f"Telegram refused the request (HTTP {status})")
        self.status = status


# A Bot API URL carries the token: /bot<token>/method (and /file/bot<token>/path).
_URL_TOKEN = re.compile(r"/(?:file/)?bot([^/]+)/")
_ANY_TOKEN = re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{20,}")  # a token's shape, wherever it shows


def scrub(text: str, url: str = "") -> str:
    """Error text with the bot token taken out (it travels in every Bot API URL)."""
    found = _URL_TOKEN.search(url)
    if found:
        text = text.replace(found.group(1), "<token>")
    return _ANY_TOKEN.sub("<token>", text)


def _not_the_api(status: int) -> bytes:
    """What PTB reads for an answer that is not the Bot API's JSON (a proxy's error page, a
    redirect): its status alone, never the page, which PTB would put in the error text."""
    return json.dumps(
        {"ok": False, "error_code": status, "description": f"HTTP {status}, not a Bot API answer"}
    ).encode()


class AiohttpRequest(BaseRequest):
    """One aiohttp session; defaults as PTB's HTTPXRequest (5 s, 1 s to get a connection)."""

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
        before_each: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """`before_each` is awaited before every call (the getUpdates request: until what was
        fetched is stored, see bot/telegram/inbox.py); a TelegramError from it fails the call."""
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._before_each = before_each
        self._proxies: dict[str, str | None] = {}  # origin -> proxy, read from the environment once

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            # Not trust_env: with it aiohttp reads ~/.netrc on a thread before every call (a
            # round trip through a busy loop for each reply). Proxies are honoured below.
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                headers={"User-Agent": self.USER_AGENT},
            )

    def _proxy(self, url: str) -> str | None:
        origin = "/".join(url.split("/", 3)[:3])  # scheme://host[:port]
        if origin not in self._proxies:
            self._proxies[origin] = _proxy_for(origin)
        return self._proxies[origin]

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        if self._before_each is not None:
            await self._before_each()
        files = request_data.multipart_data if request_data else None
        read = self._read_timeout if isinstance(read_timeout, DefaultValue) else read_timeout
        connect = (
            self._connect_timeout if isinstance(connect_timeout, DefaultValue) else connect_timeout
        )
        pool = self._pool_timeout if isinstance(pool_timeout, DefaultValue) else pool_timeout
        write = (
            (self._media_write_timeout if files else self._write_timeout)
            if isinstance(write_timeout, DefaultValue)
            else write_timeout
        )
        # aiohttp's `connect` covers waiting for a pooled connection and opening one; it has no
        # separate write timeout, so sending the body counts against the read timeout's total.
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=_sum(pool, connect),
            sock_connect=connect,
            sock_read=_sum(read, write if files else None),
        )
        try:
            # Never redirected: a 307 would re-post what the message says to another host.
            async with self._session.request(
                method,
                url,
                data=_body(request_data),
                timeout=timeout,
                proxy=self._proxy(url),
                allow_redirects=False,
            ) as response:
                status = response.status
                if 300 <= status < 400:
                    raise NetworkError(
                        f"Telegram answered with a redirect (HTTP {status}), not followed"
                    )
                if 400 <= status < 500 and status not in PTB_READS:
                    raise Refused(status)
                payload = await response.read()
        except TimeoutError as err:
            raise TimedOut from err
        except aiohttp.ClientError as err:
            raise NetworkError(scrub(f"aiohttp.{type(err).__name__}: {err}", url)) from None
        if not 200 <= status < 300:
            try:
                json.loads(payload)
            except ValueError:
                return status, _not_the_api(status)
            return status, scrub(payload.decode("utf-8", "replace"), url).encode()
        return status, payload


def _proxy_for(origin: str) -> str | None:
    """HTTPS_PROXY and friends, and NO_PROXY, as httpx honours them."""
    scheme, _, host = origin.partition("://")
    if proxy_bypass(host.split(":", 1)[0]):
        return None
    return getproxies().get(scheme)


def _body(request_data: RequestData | None) -> Any:
    """Form fields as PTB encodes them; a multipart form when there are files to upload."""
    if request_data is None:
        return None
    fields = request_data.json_parameters
    files = request_data.multipart_data
    if not files:
        # as aiohttp's FormData would encode them, without its per-call bookkeeping
        return _Form(urlencode(fields).encode()) if fields else None
    form = aiohttp.FormData()
    for name, value in fields.items():
        form.add_field(name, value)
    for name, part in files.items():
        filename, content, mime = part
        form.add_field(name, content, filename=filename, content_type=mime)
    return form


class _Form(aiohttp.BytesPayload):
    def __init__(self, body: bytes) -> None:
        super().__init__(body, content_type="application/x-www-form-urlencoded")


def _sum(*parts: float | None) -> float | None:
    given = [p for p in parts if p is not None]
    return sum(given) if given else None
