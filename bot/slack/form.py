"""The guided report on Slack (/absent with nothing after it, or the Home tab's button): a form.

Its questions and checks are handlers/guided_report.py's; errors show against their field,
including a refusal of the finished report (by its field code), and nothing is saved until
Report. The form then becomes the same /absent command a person could type.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.blocks import read_report, report_modal
from bot.slack.inbox import Jobs
from bot.slack.sender import NAME, SlackSender
from handlers import guided_report
from handlers.context import Services
from handlers.dispatch import Dispatcher
from handlers.guided_report import ReportField
from handlers.messages import NOT_ENROLLED, Chat, Outcome
from storage.models import Staff

SUBMIT_WAIT = 2.0  # seconds a submitted form may take before it closes anyway (Slack allows 3)


class FormHost(Protocol):
    """What the form needs of the listeners that own it (bot/slack/listeners.py)."""

    svc: Services
    client: AsyncWebClient
    sender: SlackSender
    jobs: Jobs
    dispatcher: Dispatcher
    after: Callable[[], Awaitable[None]]

    async def who(self, user_id: str) -> Staff | None: ...

    async def chat(self, channel_id: str, channel_name: str | None, user_id: str) -> Chat: ...

    async def answer(
        self,
        user_id: str,
        staff: Staff | None,
        chat: Chat,
        outcome: Outcome,
        respond: Any,
        name: str,
    ) -> None: ...


class ReportForm:
    def __init__(self, listeners: FormHost, submit_wait: float = SUBMIT_WAIT) -> None:
        self.on = listeners
        self.svc = listeners.svc
        self.submit_wait = submit_wait

    async def open(self, trigger_id: str, staff: Staff, user_id: str, chat: Chat) -> None:
        children = await guided_report.reportable_children(self.svc, staff, chat)
        if not children:
            await self.on.sender.dm(user_id, guided_report.NO_CHILDREN)
            return
        metadata = {"channel": chat.chat_id if chat.is_group else ""}
        await self.on.client.views_open(
            trigger_id=trigger_id, view=report_modal(children, metadata)
        )

    async def on_open_report(self, ack: Any, body: dict[str, Any]) -> None:
        await ack()
        async with self.on.jobs.job("open report"):
            user_id = str((body.get("user") or {}).get("id") or "")
            staff = await self.on.who(user_id)
            if staff is None:
                await self.on.sender.dm(user_id, NOT_ENROLLED)
                return
            await self.open(str(body.get("trigger_id") or ""), staff, user_id, Chat(NAME, user_id))

    async def on_report_submitted(
        self, ack: Any, body: dict[str, Any], view: dict[str, Any]
    ) -> None:
        async with self.on.jobs.job("report"):
            await self._report_submitted(ack, body, view)

    async def _report_submitted(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        """Checked against the form's fields first; then the same /absent command as typed."""
        user_id = str((body.get("user") or {}).get("id") or "")
        staff = await self.on.who(user_id)
        if staff is None:
            await ack(response_action="errors", errors={str(ReportField.CHILD): NOT_ENROLLED})
            return
        values = (view.get("state") or {}).get("values") or {}
        errors, command = await guided_report.check_form(self.svc, staff, read_report(values))
        if errors:
            await ack(response_action="errors", errors={str(f): e for f, e in errors.items()})
            return
        try:
            metadata = json.loads(view.get("private_metadata") or "{}")
        except ValueError:
            metadata = {}
        chat = await self.on.chat(str(metadata.get("channel") or ""), None, user_id)
        if chat.is_group and chat.team is None:
            chat = Chat(NAME, user_id)
        task = asyncio.ensure_future(self.on.dispatcher.handle(staff, command, chat))
        done, _ = await asyncio.wait({task}, timeout=self.submit_wait)
        if done and not task.result().episode_ids:
            refused = task.result()  # nothing was saved: say why, against its field
            field = guided_report.field_refused(refused.field_code)
            await ack(response_action="errors", errors={str(field): refused.text})
            return
        await ack()
        outcome = await task
        if not outcome.episode_ids:
            outcome = Outcome.say(f"{outcome.text}\nYour report was not saved.")
        await self.on.answer(user_id, staff, chat, outcome, None, "absent")
        await self.on.after()
