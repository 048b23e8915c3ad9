"""Routes an outbox message to the chat platforms that can reach its recipient.

'staff:<id>' goes by direct message on every running platform where that person is
enrolled; 'team:<name>' to the team's registered chats; 'chat:<transport>:<id>' to that one
chat (a team's old chat, told it no longer is one); 'redact' tells every platform to
clear its chat copies of a finalised episode. 'sms:<staff id>', 'email:<staff id>' and
'mailto:<address>' go through GOV.UK Notify (bot/notify/) where it is configured.
"""

from __future__ import annotations

from typing import Protocol

from bot.delivery import PermanentDeliveryError
from storage import chat_store, staff_store
from storage.db import Database
from storage.models import OutboxMessage, Recipient, RecipientKind


class Unreachable(PermanentDeliveryError):
    """Nobody can be reached this way (no enrolment, blocked the bot, no registered chat)."""


class Platform(Protocol):
    name: str

    async def send_direct(self, external_id: str, message: OutboxMessage) -> None: ...

    async def send_team(self, chat_id: str, message: OutboxMessage) -> None: ...

    async def redact(self, message: OutboxMessage) -> None: ...


class Messenger(Protocol):
    """Texts and e-mails (bot/notify/): to a person's verified number or address, or outside."""

    async def deliver(self, message: OutboxMessage, to: Recipient) -> None: ...


class Router:
    def __init__(
        self, db: Database, platforms: list[Platform], messenger: Messenger | None = None
    ) -> None:
        self.db = db
        self.platforms = platforms
        self.messenger = messenger

    async def send(self, message: OutboxMessage) -> None:
        try:
            to = message.to
        except ValueError as exc:
            raise PermanentDeliveryError(str(exc)) from None
        if to.kind is RecipientKind.STAFF:
            # Someone who has left has no reachable identity: a climb moves on from them.
            identities = await staff_store.reachable_identities(self.db, to.ident)
            targets = [(p, identities[p.name]) for p in self.platforms if p.name in identities]
            if not targets:
                person = await staff_store.get_staff(self.db, to.ident)
                if person is not None and not person.active:
                    raise Unreachable(f"staff {to.ident} has left")
                raise Unreachable(f"staff {to.ident} is not reachable on any running chat platform")
            for platform, external_id in targets:
                if not await chat_store.already_sent(
                    self.db, message.id, platform.name, external_id
                ):
                    await platform.send_direct(external_id, message)
        elif to.kind is RecipientKind.TEAM:
            registered = await chat_store.chats_of_team(self.db, to.ident)
            targets_team = [
                (p, chat_id) for p in self.platforms for chat_id in registered.get(p.name, [])
            ]
            if not targets_team:
                raise Unreachable(f"no chat is registered for team {to.ident}")
            for platform, chat_id in targets_team:
                if not await chat_store.already_sent(self.db, message.id, platform.name, chat_id):
                    await platform.send_team(chat_id, message)
        elif to.kind is RecipientKind.CHAT:
            transport, chat_id = to.chat_target
            chat_targets = [p for p in self.platforms if p.name == transport]
            if not chat_targets:
                raise Unreachable(f"{transport} is not running")
            if not await chat_store.already_sent(self.db, message.id, transport, chat_id):
                await chat_targets[0].send_team(chat_id, message)
        elif to.kind is RecipientKind.REDACT:
            for platform in self.platforms:
                await platform.redact(message)
        else:  # SMS, e-mail: delivered through GOV.UK Notify where it is configured
            if self.messenger is None:
                raise Unreachable(f"no {to.kind.value} service is running")
            await self.messenger.deliver(message, to)
