"""Read-only answers: /status and /timeline."""

from __future__ import annotations

from datetime import datetime

from handlers.context import Services
from handlers.manager_view import overdue_note
from handlers.messages import Chat
from handlers.timeline_alerts import alert_lines
from reminders import reach
from reminders.access import can_see, caseload
from reminders.chat_scope import SERVICE_TEAMS
from reminders.formatting import duration, local_time
from storage import episode_store, staff_store
from storage.models import Child, Episode, EpisodeState, Staff


def _group_home(chat: Chat | None) -> tuple[str, str] | None:
    """A home's group chat lists only that home's children (as a narrowing a query can use);
    other team chats, and direct messages, list all the person may see."""
    if chat is None or not chat.is_group or chat.team is None or not _is_home_team(chat.team):
        return None
    return ("home", chat.team)


def _group_may_list(chat: Chat | None, child: Child) -> bool:
    home = _group_home(chat)
    return home is None or child.home == home[1]


def shown_in_chat(chat: Chat | None, child: Child) -> bool:
    """A child may be listed here: in a home's group chat only that home's children."""
    return _group_may_list(chat, child)


def _is_home_team(team: str) -> bool:
    return team not in SERVICE_TEAMS


STATUS_LINES = 40  # a phone screen or two; the rest by child or in the summary


def episode_line(
    svc: Services, child: Child, episode: Episode, now: datetime, held: str = ""
) -> str:
    """`held`: who holds an open episode since when, or who has been reached (reach.status_line)."""
    tz = svc.preset_for(child).zone
    if episode.state is EpisodeState.OPEN:
        head = (
            f"{child.label}: {episode.category.value} for "
            f"{duration(now - episode.last_seen_at)} (last seen {local_time(episode.last_seen_at, tz)})"
            f", concern {episode.concern.value}"
        )
        if episode.police_ref:
            grade = episode.police_grade.value if episode.police_grade else "?"
            head += f", police ref {episode.police_ref} grade {grade}"
        if held:
            head += f"; {held}"
        return head
    found = local_time(episode.found_at, tz) if episode.found_at else "?"
    rhi = episode.rhi_status.value if episode.rhi_status else "not recorded"
    return f"{child.label}: found {found}, return interview {rhi}, episode #{episode.id} {episode.state.value}"


async def status(svc: Services, staff: Staff, child: Child | None, chat: Chat | None = None) -> str:
    now = svc.clock.now()
    if child is not None:
        episode = await episode_store.latest_episode_for_child(svc.db, child.id)
        if episode is None:
            return f"{child.label}: no episodes recorded."
        line = episode_line(svc, child, episode, now, await _held(svc, child, episode))
        return line + await overdue_note(svc, staff, chat, episode, now)
    # Narrowed in the query to what this person may see here (a carer's home, a worker's
    # children, a home's group chat), so a duty worker with 10,000 open reads 40, not all.
    narrow = [n for n in (caseload(staff), _group_home(chat)) if n is not None]
    total = await episode_store.count_unfinalised(svc.db, narrow)
    shown = [
        episode_line(svc, who, episode, now, await _held(svc, who, episode))
        + await overdue_note(svc, staff, chat, episode, now)
        for episode, who in await episode_store.unfinalised_episodes_with_children(
            svc.db, narrow, limit=STATUS_LINES
        )
        if can_see(staff, who) and _group_may_list(chat, who)  # and checked again, row by row
    ]
    if not shown:
        return "No open episodes for the children you work with."
    more = (
        f"\n… and {total - len(shown)} more. /status <child> for one; /summary for "
        "the whole picture."
        if total > len(shown)
        else ""
    )
    return f"Episodes in progress ({total}):\n" + "\n".join(f"• {line}" for line in shown) + more


async def _held(svc: Services, child: Child, episode: Episode) -> str:
    if episode.state is not EpisodeState.OPEN:
        return ""
    return await reach.status_line(svc.db, svc.preset_for(child), episode)


async def timeline(svc: Services, child: Child) -> str:
    episode = await episode_store.latest_episode_for_child(svc.db, child.id)
    if episode is None:
        return f"{child.label}: no episodes recorded."
    tz = svc.preset_for(child).zone
    names = {s.id: s.name for s in await staff_store.list_staff(svc.db)}
    lines = [f"Timeline of episode #{episode.id}, {child.label} ({episode.state.value}):"]
    entries: list[tuple[datetime, int, str]] = []
    for event in await episode_store.events_for_episode(svc.db, episode.id):
        who = names.get(event.actor_id or "", "bot")
        rule = f" [{event.rule_id}]" if event.rule_id else ""
        entries.append((event.at, 0, f"{local_time(event.at, tz)} {who}: {event.text}{rule}"))
    # who was alerted, when, and whether it reached them (an event at the same time first)
    for at, line in await alert_lines(svc.db, episode.id, names, tz, svc.clock.now()):
        entries.append((at, 1, line))
    lines += [line for _, _, line in sorted(entries, key=lambda e: (e[0], e[1]))]
    return "\n".join(lines)
