"""The Bot API's HTTP layer: no redirect is followed, and no error text carries the token
(bot/telegram/http.py)."""

from __future__ import annotations

import pytest
from aiohttp import web
from telegram.error import TelegramError
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from bot.telegram.http import AiohttpRequest, scrub

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
CHILD = "Jay Example, 15, last seen at the bus station"


class Servers:
    def __init__(self) -> None:
        self.elsewhere: list[str] = []  # what reached the other host
        self.runners: list[web.AppRunner] = []

    async def serve(self, app: web.Application) -> str:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.runners.append(runner)
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        for runner in self.runners:
            await runner.cleanup()


@pytest.fixture
async def servers():
    s = Servers()
    yield s
    await s.close()


async def call(base: str) -> TelegramError:
    request = AiohttpRequest()
    await request.initialize()
    try:
        await request.post(
            f"{base}/bot{TOKEN}/sendMessage",
            RequestData(
                [RequestParameter("chat_id", 1, None), RequestParameter("text", CHILD, None)]
            ),
        )
    except TelegramError as exc:
        return exc
    finally:
        await request.shutdown()
    raise AssertionError("the call should have failed")


async def test_a_307_is_not_followed_to_another_host(servers):
    """Item 5: a 307 would re-post the child's name to another host: it is not followed."""

    async def other(request: web.Request) -> web.Response:
        servers.elsewhere.append(await request.text())
        return web.json_response({"ok": True, "result": True})

    elsewhere = web.Application()
    elsewhere.router.add_route("*", "/{tail:.*}", other)
    target = await servers.serve(elsewhere)

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(f"{target}{request.path}")

    api = web.Application()
    api.router.add_route("*", "/{tail:.*}", redirect)
    error = await call(await servers.serve(api))
    assert servers.elsewhere == []
    assert "redirect" in str(error) and TOKEN not in str(error)


async def test_a_redirect_loop_never_prints_the_token(servers):
    """Item 5: before, aiohttp's TooManyRedirects named the URL, token and all."""

    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound(str(request.url))

    api = web.Application()
    api.router.add_route("*", "/{tail:.*}", loop)
    error = await call(await servers.serve(api))
    assert TOKEN not in str(error) and TOKEN.split(":")[1] not in repr(error)


async def test_an_error_page_is_not_put_in_the_error_text(servers):
    """Item 5: a proxy's HTML error page (which may echo the URL) is reduced to its status."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(status=502, text=f"<html>bad gateway for {request.path}</html>")

    api = web.Application()
    api.router.add_route("*", "/{tail:.*}", page)
    error = await call(await servers.serve(api))
    assert "502" in str(error) and TOKEN not in str(error) and "<html>" not in str(error)


async def test_a_connection_error_names_no_token():
    """Item 5: nothing listening: the error says so without the URL's token."""
    error = await call("http://127.0.0.1:9")
    assert TOKEN not in str(error)


def test_scrub_takes_the_token_out_of_any_text():
    url = f"https://api.telegram.org/bot{TOKEN}/getMe"
    assert TOKEN not in scrub(f"Too many redirects: {url}", url)
    assert TOKEN not in scrub(f"failed at {TOKEN}")
