"""Teams, outgoing: proactive messages, replies, card updates and redaction, through the Bot
Connector (the Teams SDK's ApiClient), within Microsoft's limits.

Everything goes to a stored conversation reference (storage/teams_store.py): a person who has
not installed the app has none, and an alert to them is undeliverable (Unreachable: it moves
on and is reported, as a blocked Telegram user's is). The connector's answers map onto the
outbox's: 429 → RetryLater(Retry-After); 412, 502, 504 and other 5xx → RetryLater(backoff)
(Microsoft asks for these to be retried); 403/404 for a person → the app was removed:
Unreachable; any other 4xx → PermanentDeliveryError, given up at once. The app's own
credentials refused (401) are retried: no message could go.

Pacing: at most 7 messages a second and 60 in 30 seconds into one conversation, and 50
requests a second for the app (Microsoft's per-thread and per-app-per-tenant limits).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from aiolimiter import AsyncLimiter
from microsoft_teams.api import ApiClient
from microsoft_teams.api.activities import MessageActivityInput
from microsoft_teams.api.models import Attachment
from microsoft_teams.common.http import ClientOptions

from bot.button_seal import Seal
from bot.delivery import PermanentDeliveryError, RetryLater, backoff
from bot.router import Unreachable
from bot.slack.interactions import Remembered
from bot.teams.cards import CARD_TYPE, Card, message_card
from handlers.context import Services
from handlers.messages import split_text
from reminders.formatting import PROFILE_HEADING
from storage import chat_store, report_store, staff_store, teams_store
from storage.models import Button, OutboxMessage
from storage.teams_store import Reference

log = logging.getLogger(__name__)

NAME = "teams"
TEXT_LIMIT = 20_000  # characters in one message (Teams takes about 28 KB)
PATIENCE = 5.0  # seconds an interactive reply may wait out a 429 (the outbox waits longer)
RETRIED = frozenset({412, 429, 500, 502, 503, 504})
GONE = frozenset({403, 404})
NOT_INSTALLED = "has not installed the Whereabouts app in Teams"
FILE_NOT_SENT = (
    "(A file, {name}, goes with this message, but Teams bots can't attach files here: "
    "ask for it on another platform or from an admin.)"
)

TokenSource = Callable[[], Awaitable[str]]


def status_of(exc: httpx.HTTPStatusError) -> int:
    return exc.response.status_code


def retry_after(exc: httpx.HTTPStatusError, default: float = 1.0) -> float:
    try:
        return max(float(exc.response.headers.get("Retry-After", default)), 0.0)
    except (TypeError, ValueError):
        return default


def thread(conversation_id: str, root: str | None) -> str:
    """The conversation id that posts into a channel thread (a reply chain)."""
    return f"{conversation_id};messageid={root}" if root else conversation_id


def base_conversation(conversation_id: str) -> str:
    return conversation_id.split(";", 1)[0]


class Pacer:
    """Microsoft's limits: per conversation (7/s, 60/30 s) and for the whole app (50/s)."""

    def __init__(self, per_second: float = 7, per_30s: float = 60, app_per_second: float = 50):
        self._app = AsyncLimiter(app_per_second, 1)
        self._rates = (per_second, per_30s)
        self._conversations: Remembered[str, tuple[AsyncLimiter, AsyncLimiter]] = Remembered(2000)

    async def wait(self, conversation_id: str) -> None:
        key = base_conversation(conversation_id)
        limits = self._conversations.get(key) or self._conversations.put(
            key, (AsyncLimiter(self._rates[0], 1), AsyncLimiter(self._rates[1], 30))
        )
        for limiter in (*limits, self._app):
            await limiter.acquire()


class TeamsSender:
    def __init__(self, svc: Services, token: TokenSource, seal: Seal, pacer: Pacer) -> None:
        self.svc = svc
        self.token = token
        self.seal = seal
        self.pacer = pacer
        self.patience: tuple[float, ...] = (0.5, 2.0)  # waits before a patient call's retries
        self._apis: dict[str, ApiClient] = {}
        self.cards: Remembered[str, Card] = Remembered()  # activity id -> the card it shows

    def api(self, service_url: str) -> ApiClient:
        url = service_url.rstrip("/")
        api = self._apis.get(url)
        if api is None:
            with warnings.catch_warnings():  # the SDK warns of its own deprecated bot client
                warnings.simplefilter("ignore", DeprecationWarning)
                api = ApiClient(url, ClientOptions(token=self.token, timeout=30.0))
            self._apis[url] = api
        return api

    async def close(self) -> None:
        for api in self._apis.values():
            with contextlib.suppress(Exception):
                await api.http.http.aclose()
        self._apis.clear()

    # ---- calls ---------------------------------------------------------------------------

    async def _call(
        self, conversation_id: str, patient: bool, call: Callable[[], Awaitable[Any]]
    ) -> Any:
        """One call, paced. A patient call (an answer to someone waiting, not the outbox, which
        keeps its own retries) waits out a short 429, a 412 or a 5xx."""
        for delay in (*self.patience, None):
            await self.pacer.wait(conversation_id)
            try:
                return await call()
            except httpx.HTTPStatusError as exc:
                status = status_of(exc)
                wait = retry_after(exc) if status == 429 else delay
                if not patient or delay is None or wait is None or wait > PATIENCE:
                    raise
                if status not in RETRIED:
                    raise
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")

    def activity(
        self, text: str, buttons: tuple[Button, ...] = (), footer: str | None = None
    ) -> tuple[MessageActivityInput, Card | None]:
        if not buttons and not footer:
            return MessageActivityInput(text=text, text_format="plain"), None
        card = message_card(text, buttons, self.seal, footer)
        return self.card_activity(card), card

    @staticmethod
    def card_activity(card: Card) -> MessageActivityInput:
        return MessageActivityInput(attachments=[Attachment(content_type=CARD_TYPE, content=card)])

    async def post(
        self,
        ref: Reference,
        conversation_id: str,
        text: str,
        buttons: tuple[Button, ...] = (),
        *,
        footer: str | None = None,
        patient: bool = False,
    ) -> list[str]:
        """Post `text` (over several messages if long; buttons on the last); the activity ids."""
        sent = []
        *head, last = split_text(text, TEXT_LIMIT)
        parts = [(part, (), None) for part in head] + [(last, buttons, footer)]
        conversations = self.api(ref.service_url).conversations
        for part, part_buttons, part_footer in parts:
            activity, card = self.activity(part, part_buttons, part_footer)

            def create(a: MessageActivityInput = activity) -> Awaitable[Any]:
                return conversations.create_activity(conversation_id, a)

            result = await self._call(conversation_id, patient, create)
            sent.append(str(result.id))
            if card is not None:
                self.cards.put(str(result.id), card)
        return sent

    async def send_card(self, ref: Reference, card: Card) -> str:
        """A card of its own (the report form) into a conversation; its activity id."""
        conversations = self.api(ref.service_url).conversations
        activity = self.card_activity(card)
        result = await self._call(
            ref.conversation_id,
            True,
            lambda: conversations.create_activity(ref.conversation_id, activity),
        )
        return str(result.id)

    async def dm(self, user_id: str, text: str, buttons: tuple[Button, ...] = ()) -> list[str]:
        """To the person's 1:1 chat with the app; nothing if they have not installed it."""
        ref = await teams_store.personal(self.svc.db, user_id)
        if ref is None:
            log.warning("teams: a private answer could not be sent (app not installed)")
            return []
        return await self.post(ref, ref.conversation_id, text, buttons, patient=True)

    # ---- the outbox ------------------------------------------------------------------------

    async def send_direct(self, user_id: str, message: OutboxMessage) -> None:
        ref = await teams_store.personal(self.svc.db, user_id)
        if ref is None:
            raise Unreachable(f"{NOT_INSTALLED} (no 1:1 chat with it)")
        kind = "profile" if PROFILE_HEADING in message.text else "direct"
        try:
            sent = await self._deliver(ref, ref.conversation_id, message)
        except httpx.HTTPStatusError as exc:
            await self._fail(exc, message, ref, person=user_id)
            raise
        await self._record(message, ref.conversation_id, sent, kind)

    async def send_team(self, channel: str, message: OutboxMessage) -> None:
        """Into the team's channel, in the episode's thread once there is one."""
        ref = await teams_store.conversation(self.svc.db, channel)
        if ref is None:
            raise Unreachable("the Whereabouts app is not installed in that Teams channel")
        root = None
        if message.episode_id is not None:
            root = await chat_store.thread_root(self.svc.db, message.episode_id, NAME, channel)
        try:
            sent = await self._deliver(ref, thread(channel, root), message)
        except httpx.HTTPStatusError as exc:
            await self._fail(exc, message, ref)
            raise
        await self._record(message, channel, sent, "group")

    async def _deliver(
        self, ref: Reference, conversation_id: str, message: OutboxMessage
    ) -> list[str]:
        if message.attachment_id is None:
            return await self.post(ref, conversation_id, message.text, message.buttons)
        attachment = await report_store.get_attachment(self.svc.db, message.attachment_id)
        if attachment is None:
            raise PermanentDeliveryError("the attached file is no longer stored")
        if not attachment.mime.startswith("image/"):
            note = FILE_NOT_SENT.format(name=attachment.filename)
            return await self.post(ref, conversation_id, f"{message.text}\n{note}")
        sent = await self.post(ref, conversation_id, message.text) if message.text else []
        image = MessageActivityInput(
            attachments=[
                Attachment(
                    content_type=attachment.mime,
                    content_url=f"data:{attachment.mime};base64,"
                    + base64.b64encode(attachment.data).decode(),
                    name=attachment.filename,
                )
            ]
        )
        conversations = self.api(ref.service_url).conversations
        result = await self._call(
            conversation_id, False, lambda: conversations.create_activity(conversation_id, image)
        )
        return [*sent, str(result.id)]

    async def _fail(
        self,
        exc: httpx.HTTPStatusError,
        message: OutboxMessage,
        ref: Reference,
        person: str | None = None,
    ) -> None:
        """Tell the outbox what to do about the connector's refusal."""
        status = status_of(exc)
        if status == 429:
            raise RetryLater(retry_after(exc)) from exc
        if status in RETRIED or status >= 500 or status == 401:
            raise RetryLater(backoff(message.attempts).total_seconds()) from exc
        if status in GONE:
            async with self.svc.db.write() as tx:
                await teams_store.forget(tx, ref.conversation_id, self.svc.clock.now())
                if person is not None:
                    await staff_store.mark_blocked(tx, NAME, person, self.svc.clock.now())
            who = NOT_INSTALLED if person is not None else "the app was removed from that channel"
            raise Unreachable(f"can't be reached on Teams: {who} (HTTP {status})") from exc
        raise PermanentDeliveryError(f"Teams refused the message (HTTP {status})") from exc

    async def _record(
        self, message: OutboxMessage, chat_id: str, sent: list[str], kind: str
    ) -> None:
        await self._record_ids(message.id, message.episode_id, chat_id, sent, kind)

    async def record_reply(self, episode_id: int, channel: str, sent: list[str]) -> None:
        """A reply posted into a team channel belongs to the episode's thread and is redacted."""
        await self._record_ids(None, episode_id, channel, sent, "group")

    async def _record_ids(
        self, outbox_id: int | None, episode_id: int | None, chat_id: str, ids: list[str], kind: str
    ) -> None:
        async with self.svc.db.write() as tx:
            for activity_id in ids:
                await chat_store.record_sent(
                    tx, outbox_id=outbox_id, episode_id=episode_id, transport=NAME,
                    chat_id=chat_id, message_id=activity_id, kind=kind, now=self.svc.clock.now(),
                )  # fmt: skip

    async def redact(self, message: OutboxMessage) -> None:
        """Finalised: delete profile messages, replace channel messages with one closing line."""
        if message.episode_id is None:
            return
        refused: list[str] = []
        for copy in await chat_store.unredacted(self.svc.db, message.episode_id, NAME):
            if copy.kind not in ("profile", "group"):
                continue  # direct alerts name the child by reference only: they stay
            ref = await teams_store.conversation(self.svc.db, copy.chat_id)
            try:
                if ref is not None:
                    await self._clear(ref, copy.kind, copy.message_id, message.text)
            except httpx.HTTPStatusError as exc:
                if status_of(exc) not in GONE:
                    try:
                        await self._fail(exc, message, ref)  # type: ignore[arg-type]
                    except PermanentDeliveryError as refusal:
                        refused.append(str(refusal))
                        continue
            async with self.svc.db.write() as tx:
                await chat_store.mark_redacted(tx, copy.id, self.svc.clock.now())
        if refused:
            raise PermanentDeliveryError(f"{len(refused)} copies not cleared: {refused[0]}")

    async def _clear(self, ref: Reference, kind: str, activity_id: str, closing: str) -> None:
        conversations = self.api(ref.service_url).conversations
        conversation = ref.conversation_id
        if kind == "profile":
            await self._call(
                conversation,
                False,
                lambda: conversations.delete_activity(conversation, activity_id),
            )
        else:
            closed = MessageActivityInput(text=closing, text_format="plain")
            await self._call(
                conversation,
                False,
                lambda: conversations.update_activity(conversation, activity_id, closed),
            )
