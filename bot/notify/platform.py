"""Sends the outbox's texts and e-mails through GOV.UK Notify, by template.

Notify's official client is synchronous (requests): every call runs in a worker thread
(`asyncio.to_thread`), one at a time (the client's session is not thread-safe), so the
event loop never waits on Notify. Templates: the SMS template's body is `((body))`; the
e-mail template's subject is `((subject))` and its body `((body))`; the e-mail template for
a message with a file adds `((link_to_file))` (Notify sends a file as a download link).

Idempotency: each send carries the reference `wb-<outbox id>`. A send is recorded like a
chat send (chat_store.record_sent, transport "notify"), so a retry skips what went. A crash
between Notify's answer and that record leaves the row to be sent again: before resending,
a retry asks Notify for a notification with the same reference, and records that one
instead of sending a second text.

Received texts (ACK replies) are polled by one instance at a time: the holder of the
`notify-replies` singleton (bot/instances.py) starts the poller on gaining it and stops it on
losing it. Processing is idempotent (each text once, by its id), so a takeover mid-poll at
worst fetches a page twice.

The API key comes from the environment (NOTIFY_API_KEY) and is never logged; no log line
carries a number, an address or a message's text.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from notifications_python_client.errors import APIError
from notifications_python_client.notifications import NotificationsAPIClient
from notifications_python_client.utils import DOCUMENT_UPLOAD_SIZE_LIMIT, prepare_upload

from bot.delivery import PermanentDeliveryError, RetryLater
from bot.router import Unreachable
from config.addresses import AddressError, normalise_email, normalise_phone
from handlers.sms_replies import ReceivedText
from reminders import notify_text
from reminders.clock import Clock
from reminders.notify_text import split_subject
from storage import (
    chat_store,
    child_store,
    contact_store,
    message_keys,
    notify_store,
    report_store,
    staff_store,
)
from storage.contact_store import Method
from storage.db import Database
from storage.models import OutboxMessage, Recipient, RecipientKind

log = logging.getLogger(__name__)

NAME = "notify"
DEFAULT_BASE_URL = "https://api.notifications.service.gov.uk"
TOO_MANY_WAIT = 60.0  # seconds: Notify's 429 carries no Retry-After; its limits are per minute
MAX_PAGES = 20  # received texts fetched in one poll: 20 pages of 250
SMS_LIMIT = 918  # Notify's longest text (6 fragments of 153 characters)


@dataclass(frozen=True)
class Templates:
    sms: str | None = None
    email: str | None = None
    email_with_file: str | None = None


def _received(item: dict[str, Any]) -> ReceivedText:
    number = str(item.get("user_number", ""))
    with contextlib.suppress(AddressError):  # else it matches nobody's verified mobile
        number = normalise_phone(number)
    return ReceivedText(
        id=str(item["id"]),
        from_number=number,
        content=str(item.get("content", "")),
        received_at=datetime.fromisoformat(str(item["created_at"])),
    )


class NotifyServiceFault(Exception):
    """Notify refused our own credentials (403): retried, never blamed on the person."""


def _scrubbed(text: str) -> str:
    """Notify's words without anything that could be a number or an address."""
    text = re.sub(r"\S+@\S+", "<address>", text)
    return re.sub(r"\+?\d[\d ]{5,}\d", "<number>", text)[:300]


def _codes_blanked(text: str) -> str:
    return re.sub(r"\b\d{6}\b", "••••••", text)


def _reason(exc: APIError) -> str:
    message = exc.message
    if isinstance(message, list):
        message = "; ".join(str(item.get("message", item)) for item in message)
    return _scrubbed(str(message))


def refusal(exc: APIError) -> Exception:
    """What delivery does with a Notify error: 400 (a bad number or address, a template that
    does not fit) is the message's own and permanent, so a climb moves on and it is reported;
    429 waits; 5xx and no answer at all are retried with backoff.

    403 means Notify does not accept our API key (revoked, mistyped, or a test key on live):
    a fault of the service's set-up, not of the person, and the same for every message. Failing
    each message as undeliverable would tell supervisors that person after person "could not
    be reached", and move every climb on, for something only an admin can fix; so it is retried
    (backoff, capped) and logged at ERROR until the key is put right. Chat still carries the alert.
    """
    status = exc.status_code
    if status == 400:
        return PermanentDeliveryError(f"Notify refused it: {_reason(exc)}")
    if status == 429:
        return RetryLater(TOO_MANY_WAIT)
    if status in (401, 403):
        log.error("Notify refused the API key (HTTP %s): check NOTIFY_API_KEY", status)
        return NotifyServiceFault(f"Notify refused the API key (HTTP {status})")
    if 400 < status < 500:
        return PermanentDeliveryError(f"Notify refused it (HTTP {status}): {_reason(exc)}")
    return exc  # 5xx, or no answer (the client reports those as 503): retried


class NotifyPlatform:
    """Texts and e-mails to staff (verified numbers and addresses) and to outside addresses."""

    name = NAME

    def __init__(
        self,
        db: Database,
        clock: Clock,
        api_key: str,
        templates: Templates,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 15.0,
        on_text: Callable[[ReceivedText], Awaitable[object]] | None = None,
        poll_seconds: float = 30.0,
    ) -> None:
        self.db = db
        self.clock = clock
        self.templates = templates
        self.on_text = on_text  # a received text (an ACK reply), processed once
        self.after_text: Callable[[], Awaitable[object]] | None = None  # e.g. deliver now
        self.poll_seconds = poll_seconds
        self._poller: asyncio.Task[None] | None = None
        self.client = NotificationsAPIClient(  # type: ignore[no-untyped-call]
            api_key, base_url=base_url, timeout=timeout
        )
        self._one_call = asyncio.Lock()

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """One Notify API call, off the event loop; its errors mapped for delivery."""
        async with self._one_call:
            try:
                return await asyncio.to_thread(fn, *args, **kwargs)
            except APIError as exc:
                raise refusal(exc) from None

    @property
    def polls(self) -> bool:
        """Whether it polls received texts (replies need an SMS service). With several
        instances only one does: the `notify-replies` singleton's holder (bot/app.py)."""
        return self.on_text is not None and bool(self.templates.sms)

    @property
    def polling(self) -> bool:
        return self._poller is not None

    async def start(self) -> None:
        """Poll Notify's received texts on a timer, from now until `stop`."""
        if self.polls and self._poller is None:
            self._poller = asyncio.create_task(self._poll_forever())

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None

    # ---- received texts -----------------------------------------------------------------

    async def _poll_forever(self) -> None:
        while True:
            try:
                await self.poll_once()
            except Exception as exc:  # noqa: BLE001 - the next poll tries again
                log.warning("fetching received texts failed (%s)", type(exc).__name__)
            await asyncio.sleep(self.poll_seconds)

    async def poll_once(self) -> int:
        """Fetch the texts received since the last one processed (Notify lists them newest
        first, a page at a time) and hand each to `on_text`, oldest first. Returns how many."""
        if self.on_text is None:
            return 0
        fresh: list[dict[str, Any]] = []
        older_than: str | None = None
        for _ in range(MAX_PAGES):
            page = await self.call(self.client.get_received_texts, older_than)
            items = (page or {}).get("received_text_messages") or []
            seen = False
            for item in items:
                if await notify_store.was_received(self.db, str(item["id"])):
                    seen = True  # everything older was processed before
                    break
                fresh.append(item)
            if seen or not items:
                break
            older_than = str(items[-1]["id"])
        for item in reversed(fresh):
            await self.on_text(_received(item))
        if fresh and self.after_text is not None:
            await self.after_text()
        return len(fresh)

    # ---- sending ----------------------------------------------------------------------

    async def deliver(self, message: OutboxMessage, to: Recipient) -> None:
        target = to.stored
        if await chat_store.already_sent(self.db, message.id, NAME, target):
            return
        address = await self._address(message, to)
        if to.kind is not RecipientKind.MAILTO and message.child_id is not None:
            child = await child_store.get_child(self.db, message.child_id)
            leaked = notify_text.leaks(message.text, child) if child else []
            if leaked:  # never by SMS or e-mail to staff: chat carries those (a formal
                # notice to an outside address is the protocol's own and is exempt)
                raise PermanentDeliveryError(
                    f"not sent by {to.kind.value}: it would carry the child's {leaked[0]}"
                )
        reference = f"wb-{message.id}"
        if message.attempts > 1 and await self._sent_before(message, target, reference):
            return
        if to.kind is RecipientKind.SMS:
            sent = await self._send_sms(address, message, reference)
            kind = "sms"
        else:
            sent = await self._send_email(address, message, reference)
            kind = "email"
        await self._record(message, target, str(sent.get("id", "")), kind)
        if message.idem_key.startswith(message_keys.CONTACT_CODE):
            await contact_store.blank_sent_code(self.db, message.id, _codes_blanked(message.text))

    async def _address(self, message: OutboxMessage, to: Recipient) -> str:
        if to.kind is RecipientKind.MAILTO:
            try:
                return normalise_email(to.ident)
            except AddressError:
                raise PermanentDeliveryError("not an e-mail address") from None
        method = Method.SMS if to.kind is RecipientKind.SMS else Method.EMAIL
        if message.idem_key.startswith(message_keys.CONTACT_CODE):  # to the number on trial
            waiting = await contact_store.pending_address(
                self.db, to.ident, method, message.created_at, self.clock.now()
            )
            if waiting is None:
                raise PermanentDeliveryError("the code expired or was replaced before it went")
            return waiting
        found = await contact_store.address(self.db, to.ident, method)
        if found is not None:
            return found
        person = await staff_store.get_staff(self.db, to.ident)
        if person is not None and not person.active:
            raise Unreachable(f"staff {to.ident} has left")
        what = "mobile number" if method is Method.SMS else "e-mail address"
        raise Unreachable(f"staff {to.ident} has no verified {what}")

    async def _sent_before(self, message: OutboxMessage, target: str, reference: str) -> bool:
        """A retry after a crash between Notify's answer and our record: Notify has it already."""
        found = await self.call(self.client.get_all_notifications, reference=reference)
        notifications = (found or {}).get("notifications") or []
        if not notifications:
            return False
        kind = "sms" if message.to.kind is RecipientKind.SMS else "email"
        await self._record(message, target, str(notifications[0].get("id", "")), kind)
        if message.idem_key.startswith(message_keys.CONTACT_CODE):
            await contact_store.blank_sent_code(self.db, message.id, _codes_blanked(message.text))
        return True

    async def _send_sms(self, number: str, message: OutboxMessage, reference: str) -> Any:
        if not self.templates.sms:
            raise Unreachable("no SMS template is set (WHEREABOUTS_NOTIFY_SMS_TEMPLATE)")
        return await self.call(
            self.client.send_sms_notification,
            phone_number=number,
            template_id=self.templates.sms,
            personalisation={"body": message.text[:SMS_LIMIT]},
            reference=reference,
        )

    async def _send_email(self, address: str, message: OutboxMessage, reference: str) -> Any:
        subject, body = split_subject(message.text)
        personalisation: dict[str, Any] = {"subject": subject, "body": body}
        template = self.templates.email
        if message.attachment_id is not None:
            template = self.templates.email_with_file
            if not template:
                raise PermanentDeliveryError(
                    "no e-mail template for files is set (WHEREABOUTS_NOTIFY_EMAIL_FILE_TEMPLATE)"
                )
            attachment = await report_store.get_attachment(self.db, message.attachment_id)
            if attachment is None:
                raise PermanentDeliveryError("the attached file is no longer stored")
            if len(attachment.data) > DOCUMENT_UPLOAD_SIZE_LIMIT:
                raise PermanentDeliveryError("the attached file is over Notify's 2 MB")
            personalisation["link_to_file"] = prepare_upload(  # type: ignore[no-untyped-call]
                io.BytesIO(attachment.data),
                filename=attachment.filename,
                confirm_email_before_download=True,
            )
        if not template:
            raise Unreachable("no e-mail template is set (WHEREABOUTS_NOTIFY_EMAIL_TEMPLATE)")
        return await self.call(
            self.client.send_email_notification,
            email_address=address,
            template_id=template,
            personalisation=personalisation,
            reference=reference,
        )

    async def _record(self, message: OutboxMessage, target: str, notify_id: str, kind: str) -> None:
        await chat_store.record_sent(
            self.db,
            outbox_id=message.id,
            episode_id=message.episode_id,
            transport=NAME,
            chat_id=target,
            message_id=notify_id,
            kind=kind,
            now=self.clock.now(),
        )
