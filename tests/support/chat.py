"""Commands typed as a staff member, straight into the dispatcher (no transport, no sweeper)."""

from __future__ import annotations

from handlers.context import Services
from handlers.dispatch import Dispatcher
from storage import staff_store


class Chat:
    """Types commands as a staff member and returns the bot's reply text."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.dispatcher = Dispatcher(svc)

    async def say(self, staff_id: str | None, text: str) -> str:
        staff = await staff_store.get_staff(self.svc.db, staff_id) if staff_id else None
        outcome = await self.dispatcher.handle(staff, text)
        return "\n".join(r.text for r in outcome.replies)
