"""A GOV.UK Notify stand-in on 127.0.0.1 for tests: the v2 endpoints the official client calls.

Every request's bearer token is checked as Notify checks it: a JWT signed HS256 with the API
key's secret, `iss` the service id, `iat` within 30 seconds of now (the client library's own
`decode_jwt_token`, which Notify's API uses). A failed check is a 403 in Notify's error
shape. Sends are validated like Notify does the parts we use (a UK mobile, an e-mail address,
a known template and every placeholder given) and recorded; `fail()` makes the next calls
answer 400 with a message, 403, 429 or 500. `receive_text()` adds a text someone sent to the
service's number, listed newest first by /v2/received-text-messages with Notify's paging.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from notifications_python_client.authentication import decode_jwt_token, get_token_issuer
from notifications_python_client.errors import TokenError

SMS_TEMPLATE = "f33517ff-2a88-4f6e-b855-c550268ce08a"
EMAIL_TEMPLATE = "a2b2b2d0-7a3e-4c8c-9a7e-1f6f4d2f9c11"
EMAIL_FILE_TEMPLATE = "0c3e1b9e-5e1d-4f31-8d3b-2a7f5e3c4d22"
TEMPLATES = {
    SMS_TEMPLATE: ("sms", {"body"}),
    EMAIL_TEMPLATE: ("email", {"subject", "body"}),
    EMAIL_FILE_TEMPLATE: ("email", {"subject", "body", "link_to_file"}),
}
UK_MOBILE = re.compile(r"^(?:\+44|0044|0)7\d{9}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NOTIFY_NUMBER = "07700900000"


@dataclass
class Failure:
    status: int
    message: str
    error: str


@dataclass
class NotifyStandIn:
    service_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    secret: str = field(default_factory=lambda: str(uuid.uuid4()))
    page_size: int = 250  # Notify's API_PAGE_SIZE
    sent: list[dict[str, Any]] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)  # oldest first
    calls: list[tuple[str, str]] = field(default_factory=list)  # (method, path) accepted
    refused_tokens: int = 0
    _failures: dict[str, list[Failure]] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    base_url: str = ""

    @property
    def api_key(self) -> str:
        """A key as Notify issues them: '<name>-<service id>-<secret>'."""
        return f"whereabouts_test-{self.service_id}-{self.secret}"

    async def start(self) -> NotifyStandIn:
        app = web.Application(middlewares=[self._auth])
        app.router.add_post("/v2/notifications/sms", self._sms)
        app.router.add_post("/v2/notifications/email", self._email)
        app.router.add_get("/v2/notifications", self._list)
        app.router.add_get("/v2/notifications/{id}", self._one)
        app.router.add_get("/v2/received-text-messages", self._received)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- what a test arranges and reads --------------------------------------------------

    def fail(self, kind: str, status: int, message: str = "", times: int = 1) -> None:
        """The next `times` calls of `kind` ('sms', 'email', 'received', 'list') answer `status`."""
        error = {400: "BadRequestError", 403: "AuthError", 429: "RateLimitError"}.get(
            status, "Exception"
        )
        text = message or {
            403: "Invalid token: API key not found",
            429: "Exceeded rate limit for key type LIVE of 3000 requests per 60 seconds",
            500: "Internal server error",
        }.get(status, "Bad request")
        self._failures.setdefault(kind, []).extend([Failure(status, text, error)] * times)

    def receive_text(self, user_number: str, content: str, at: datetime | None = None) -> str:
        text_id = str(uuid.uuid4())
        self.received.append(
            {
                "id": text_id,
                "user_number": user_number,
                "notify_number": NOTIFY_NUMBER,
                "created_at": (at or datetime.now(UTC))
                .astimezone(UTC)
                .strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "service_id": self.service_id,
                "content": content,
            }
        )
        return text_id

    def texts_to(self, number: str) -> list[str]:
        digits = "0" + number[3:] if number.startswith("+44") else number
        return [s["body"] for s in self.sent if s["type"] == "sms" and s["to"] in (number, digits)]

    def bodies(self) -> list[str]:
        """Everything sent, as its recipient reads it: every SMS, and each e-mail's subject
        and body."""
        return [
            "\n".join(str(v) for k, v in s["personalisation"].items() if k != "link_to_file")
            for s in self.sent
        ]

    # ---- the API ---------------------------------------------------------------------------

    @staticmethod
    def _error(status: int, error: str, message: str) -> web.Response:
        return web.json_response(
            {"status_code": status, "errors": [{"error": error, "message": message}]},
            status=status,
        )

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            self.refused_tokens += 1
            return self._error(
                401, "AuthError", "Unauthorized: authentication token must be provided"
            )
        token = header[len("Bearer ") :]
        try:
            if get_token_issuer(token) != self.service_id:
                raise TokenError("Invalid token: service not found")
            decode_jwt_token(token, self.secret)
        except TokenError as exc:
            self.refused_tokens += 1
            return self._error(403, "AuthError", exc.message)
        except Exception:  # noqa: BLE001 - anything unreadable is refused like Notify does
            self.refused_tokens += 1
            return self._error(403, "AuthError", "Invalid token: signature, api token not found")
        return await handler(request)

    def _failure(self, kind: str) -> web.Response | None:
        queue = self._failures.get(kind)
        if not queue:
            return None
        failure = queue.pop(0)
        return self._error(failure.status, failure.error, failure.message)

    def _template(self, body: dict[str, Any], kind: str) -> web.Response | None:
        template = TEMPLATES.get(str(body.get("template_id")))
        if template is None or template[0] != kind:
            return self._error(400, "BadRequestError", "Template not found")
        given = set((body.get("personalisation") or {}).keys())
        missing = sorted(template[1] - given)
        if missing:
            return self._error(
                400, "BadRequestError", f"Missing personalisation: {', '.join(missing)}"
            )
        return None

    def _record(self, kind: str, to: str, body: dict[str, Any]) -> web.Response:
        notification_id = str(uuid.uuid4())
        personalisation = body.get("personalisation") or {}
        self.sent.append(
            {
                "id": notification_id,
                "type": kind,
                "to": to,
                "template_id": body["template_id"],
                "personalisation": personalisation,
                "reference": body.get("reference"),
                "body": personalisation.get("body", ""),
            }
        )
        content: dict[str, Any] = {"body": personalisation.get("body", "")}
        content.update(
            {"from_number": "GOVUK"}
            if kind == "sms"
            else {"subject": personalisation.get("subject", ""), "from_email": "w@notify.test"}
        )
        return web.json_response(
            {
                "id": notification_id,
                "reference": body.get("reference"),
                "content": content,
                "uri": f"{self.base_url}/v2/notifications/{notification_id}",
                "template": {"id": body["template_id"], "version": 1, "uri": ""},
            },
            status=201,
        )

    async def _sms(self, request: web.Request) -> web.Response:
        body = await request.json()
        failed = self._failure("sms")
        if failed is not None:
            return failed
        number = re.sub(r"[\s()-]", "", str(body.get("phone_number", "")))
        if not UK_MOBILE.fullmatch(number):
            return self._error(400, "ValidationError", "phone_number Not a UK mobile number")
        refused = self._template(body, "sms")
        if refused is not None:
            return refused
        self.calls.append(("POST", "/v2/notifications/sms"))
        return self._record("sms", number, body)

    async def _email(self, request: web.Request) -> web.Response:
        body = await request.json()
        failed = self._failure("email")
        if failed is not None:
            return failed
        address = str(body.get("email_address", ""))
        if not EMAIL.fullmatch(address):
            return self._error(400, "ValidationError", "email_address Not a valid email address")
        refused = self._template(body, "email")
        if refused is not None:
            return refused
        self.calls.append(("POST", "/v2/notifications/email"))
        return self._record("email", address, body)

    def _shown(self, sent: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": sent["id"],
            "reference": sent["reference"],
            "type": sent["type"],
            "status": "delivered",
            "body": sent["body"],
            ("phone_number" if sent["type"] == "sms" else "email_address"): sent["to"],
        }

    async def _list(self, request: web.Request) -> web.Response:
        failed = self._failure("list")
        if failed is not None:
            return failed
        reference = request.query.get("reference")
        found = [self._shown(s) for s in reversed(self.sent) if reference in (None, s["reference"])]
        self.calls.append(("GET", "/v2/notifications"))
        return web.json_response(
            {"notifications": found[: self.page_size], "links": {"current": str(request.url)}}
        )

    async def _one(self, request: web.Request) -> web.Response:
        for sent in self.sent:
            if sent["id"] == request.match_info["id"]:
                return web.json_response(self._shown(sent))
        return self._error(404, "NoResultFound", "No result found")

    async def _received(self, request: web.Request) -> web.Response:
        failed = self._failure("received")
        if failed is not None:
            return failed
        newest_first = list(reversed(self.received))
        older_than = request.query.get("older_than")
        if older_than is not None:
            ids = [t["id"] for t in newest_first]
            newest_first = newest_first[ids.index(older_than) + 1 :] if older_than in ids else []
        page = newest_first[: self.page_size]
        links = {"current": str(request.url)}
        if page:  # Notify links to the next page whenever this one has any
            links["next"] = f"{self.base_url}/v2/received-text-messages?older_than={page[-1]['id']}"
        self.calls.append(("GET", "/v2/received-text-messages"))
        return web.json_response({"received_text_messages": page, "links": links})
