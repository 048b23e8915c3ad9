"""What a manager's /status adds to each open episode: the duties that are overdue."""

from __future__ import annotations

from datetime import datetime

from handlers.context import Services
from handlers.messages import Chat
from reminders.chat_scope import SENIOR
from reminders.formatting import duration
from storage import duty_store
from storage.models import Episode, EpisodeState, Role, Staff

MANAGERS = frozenset({Role.TEAM_MANAGER, Role.OUT_OF_HOURS_MANAGER, Role.MISSING_COORDINATOR})
MANAGERS |= SENIOR


async def overdue_note(
    svc: Services, staff: Staff, chat: Chat | None, episode: Episode, now: datetime
) -> str:
    """'; overdue: D3 [RHI-72H] by 2 h 05 min' for a manager in a direct chat (duty lines
    never go into a group chat), '' otherwise or when nothing is overdue."""
    if staff.role not in MANAGERS or (chat is not None and chat.is_group):
        return ""
    if episode.state is EpisodeState.FINALISED:
        return ""
    late = [d for d in await duty_store.duties_for_episode(svc.db, episode.id) if d.overdue(now)]
    if not late:
        return ""
    listed = ", ".join(f"{d.label} [{d.rule_id}] by {duration(now - d.due_at)}" for d in late)
    return f"; overdue: {listed} (/duties for what each needs)"
