"""The console transport: a chat in the terminal, on the same handlers as every transport."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bot.delivery import OutboxDelivery
from bot.private_files import private_dir, write_private
from config.settings import DISPLAY_TIMEZONE
from handlers.context import Services
from handlers.dispatch import Dispatcher
from handlers.messages import Chat, Outcome
from storage import report_store, staff_store
from storage.models import OutboxMessage, Recipient, RecipientKind

Printer = Callable[[str], None]


@dataclass(frozen=True)
class Sent:
    """One message that left the bot, as a transcript line."""

    at_utc: str
    to: str
    rule: str | None
    child_id: int | None
    text: str
    reply: bool


class ConsoleTransport:
    def __init__(
        self,
        svc: Services,
        out: Printer = print,
        tz_name: str = DISPLAY_TIMEZONE,
        files_dir: Path | None = None,
    ) -> None:
        self.svc = svc
        self.files_dir = files_dir
        self.out = out
        self.dispatcher = Dispatcher(svc)
        self.delivery = OutboxDelivery(svc.db, svc.clock, self._deliver)
        self.sent: list[Sent] = []
        self._in_command = False
        self.after_command: Callable[[], Awaitable[object]] | None = None
        from zoneinfo import ZoneInfo

        self.tz = ZoneInfo(tz_name)

    def _stamp(self) -> str:
        return self.svc.clock.now().astimezone(self.tz).strftime("%a %H:%M")

    async def say(self, staff_id: str, text: str) -> Outcome:
        """`staff_id` types `text`; prints the command, the replies and every message it causes."""
        staff = await staff_store.get_staff(self.svc.db, staff_id)
        who = staff.name if staff else staff_id
        self.out(f"{self._stamp()}  {who}: {text}")
        outcome = await self.dispatcher.handle(staff, text, Chat("console", staff_id))
        self._in_command = True
        try:
            for reply in outcome.replies:
                self._record(Recipient.staff(staff_id).stored, None, None, reply.text, reply=True)
                self.out(_indent(f"bot → {who}: {reply.text}"))
            await self.deliver()
        finally:
            self._in_command = False
        if self.after_command is not None:
            await self.after_command()
        return outcome

    async def deliver(self) -> int:
        return await self.delivery.deliver_due()

    async def _deliver(self, message: OutboxMessage) -> None:
        label = await self._recipient_label(message.recipient)
        text = message.text
        if message.attachment_id is not None:
            text = await self._file(message.attachment_id)
        # A merged message is one message on screen; the transcript keeps each part's rule.
        for part in message.parts or (message,):
            part_text = text if part is message else part.text
            self._record(part.recipient, part.rule_id, part.child_id, part_text, reply=False)
        line = f"bot → {label}: {text}"
        # Timer-driven messages carry their own time; replies sit under the command.
        self.out(
            _indent(line) if self._in_command else f"{self._stamp()}  {_indent(line).lstrip()}"
        )

    async def _file(self, attachment_id: int) -> str:
        """A file in the console: saved under files_dir if set, else named with its size."""
        attachment = await report_store.get_attachment(self.svc.db, attachment_id)
        if attachment is None:
            return "(a file that is no longer stored)"
        if self.files_dir is None:
            return f"(file {attachment.filename}, {len(attachment.data)} bytes)"
        private_dir(self.files_dir)
        path = self.files_dir / attachment.filename
        write_private(path, attachment.data)
        return f"(file saved: {path})"

    def _record(
        self, to: str, rule: str | None, child_id: int | None, text: str, reply: bool
    ) -> None:
        now = self.svc.clock.now().isoformat()
        self.sent.append(Sent(now, to, rule, child_id, text, reply))

    async def _recipient_label(self, recipient: str) -> str:
        to = Recipient.parse(recipient)
        if to.kind is RecipientKind.STAFF:
            staff = await staff_store.get_staff(self.svc.db, to.ident)
            return staff.name if staff else to.ident
        if to.kind is RecipientKind.REDACT:
            return "every chat copy of the episode"
        return f"#{to.ident} team chat"

    async def repl(self, first_staff: str | None = None) -> None:
        """Interactive: '/as <staff id>' switches who is typing, '/quit' ends."""
        current = first_staff
        self.out("Whereabouts console. '/as <staff id>' to choose who you are, '/quit' to leave.")
        while True:
            prompt = f"[{current or 'nobody'}] > "
            try:
                line = await asyncio.to_thread(input, prompt)
            except EOFError:
                return
            line = line.strip()
            if not line:
                continue
            if line in ("/quit", "/exit"):
                return
            if line.startswith("/as"):
                parts = line.split()
                if len(parts) == 2 and await staff_store.get_staff(self.svc.db, parts[1]):
                    current = parts[1]
                    self.out(f"You are now {current}.")
                else:
                    names = ", ".join(s.id for s in await staff_store.list_staff(self.svc.db))
                    self.out(f"Usage: /as <staff id>. Staff: {names}")
                continue
            if current is None:
                self.out("Choose who you are first: /as <staff id>")
                continue
            await self.say(current, line)


def _indent(text: str) -> str:
    return "\n".join("        " + line for line in text.splitlines())
