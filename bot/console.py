"""The console transport: a chat in the terminal, on the same handlers as every transport.

In a terminal the prompt is prompt_toolkit's: messages that arrive while you type (the
timers' escalations) print above the prompt, and Ctrl-C or Ctrl-D leaves at once. Piped
(tests, `demo`-style scripts) it reads plain lines. Where another platform shows buttons,
the console lists each choice with the command to type; `/absent` on its own walks
through the guided report one question at a time (bot/console_guided.py).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.console_guided import ConsoleGuided
from bot.delivery import OutboxDelivery
from bot.private_files import private_dir, write_private
from config.settings import DISPLAY_TIMEZONE
from handlers import guided_report
from handlers.context import Services
from handlers.dispatch import Dispatcher, parse_command
from handlers.intake import Route, route
from handlers.messages import Chat, Outcome, Reply
from storage import report_store, staff_store
from storage.models import Button, OutboxMessage, Recipient, RecipientKind, Staff

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
        self.guided = ConsoleGuided(svc)
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
        outcome = await self._answer(staff, staff_id, text)
        self._in_command = True
        try:
            for reply in outcome.replies:
                shown = _with_choices(reply)
                self._record(Recipient.staff(staff_id).stored, None, None, shown, reply=True)
                self.out(_indent(f"bot → {who}: {shown}"))
            await self.deliver()
        finally:
            self._in_command = False
        if self.after_command is not None:
            await self.after_command()
        return outcome

    async def _answer(self, staff: Staff | None, staff_id: str, text: str) -> Outcome:
        """The guided report's next question, or the dispatcher's reply."""
        chat = Chat("console", staff_id)
        parsed = parse_command(text)
        if staff is not None and self.guided.under_way(staff_id):
            if parsed is None:
                step = await self.guided.answer(staff, text)
                if not step.command:
                    return Outcome.say(step.text)
                return await self.dispatcher.handle(staff, step.command, chat)
            self.guided.drop(staff_id)
            if parsed.name == "cancel":
                return Outcome.say(guided_report.CANCELLED)
            stopped = await self._answer(staff, staff_id, text)
            return Outcome([Reply(guided_report.STOPPED), *stopped.replies], stopped.refused)
        if parsed is not None and staff is not None and staff.active:
            way = route(parsed.name, " ".join(parsed.args), staff, chat)
            if way is Route.GUIDED_REPORT:
                return Outcome.say((await self.guided.begin(staff)).text)
        return await self.dispatcher.handle(staff, text, chat)

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
        if to.kind in (RecipientKind.SMS, RecipientKind.EMAIL):
            staff = await staff_store.get_staff(self.svc.db, to.ident)
            how = "SMS" if to.kind is RecipientKind.SMS else "e-mail"
            return f"{staff.name if staff else to.ident} by {how}"
        if to.kind is RecipientKind.MAILTO:
            return f"{to.ident} by e-mail"
        return f"#{to.ident} team chat"

    async def repl(
        self, first_staff: str | None = None, *, terminal: bool | None = None, **session: Any
    ) -> None:
        """Interactive: '/as <staff id>' switches who is typing, '/quit' ends.

        `terminal` (default: stdin and stdout are one) uses prompt_toolkit: what the timers
        send prints above the prompt, Ctrl-C and Ctrl-D leave at once. `session` goes to
        its PromptSession (tests pass a pipe input and a dummy output). Otherwise lines are
        read plainly, as from a pipe.
        """
        if terminal is None:
            terminal = sys.stdin.isatty() and sys.stdout.isatty()
        self.out("Whereabouts console. '/as <staff id>' to choose who you are, '/quit' to leave.")
        if not terminal:
            await self._loop(first_staff, _plain_line)
            return
        from prompt_toolkit import PromptSession
        from prompt_toolkit.patch_stdout import patch_stdout

        prompts: PromptSession[str] = PromptSession(key_bindings=_leave_keys(), **session)
        with patch_stdout(raw=True):
            await self._loop(first_staff, prompts.prompt_async)

    async def _loop(self, current: str | None, read: Callable[[str], Awaitable[str]]) -> None:
        while True:
            prompt = f"[{current or 'nobody'}] > "
            try:
                line = await read(prompt)
            except (EOFError, KeyboardInterrupt):
                return
            line = line.strip()
            if not line:
                continue
            if line in ("/quit", "/exit"):
                return
            if line.startswith("/as"):
                parts = line.split()
                if len(parts) == 2 and await staff_store.get_staff(self.svc.db, parts[1]):
                    if current is not None:
                        self.guided.drop(current)
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


def _leave_keys() -> Any:
    """Ctrl-D leaves at once, even with something typed (Ctrl-C does already)."""
    from prompt_toolkit.key_binding import KeyBindings

    keys = KeyBindings()

    @keys.add("c-d", eager=True)
    def _leave(event: Any) -> None:
        event.app.exit(exception=EOFError())

    return keys


async def _plain_line(prompt: str) -> str:
    """A line from a pipe (EOFError at its end), as input() reads it."""
    return await asyncio.to_thread(input, prompt)


def _with_choices(reply: Reply) -> str:
    """A reply as the console shows it: each button's command, unless the text has it."""
    extra = [_choice_line(b) for b in reply.buttons if b.command not in reply.text]
    return "\n".join([reply.text, *extra])


def _choice_line(button: Button) -> str:
    return f"   {button.label}: {button.command}"


def _indent(text: str) -> str:
    return "\n".join("        " + line for line in text.splitlines())
