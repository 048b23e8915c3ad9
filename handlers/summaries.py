"""The managers' view: the daily missing summary and the weekly multi-agency pack.

Both are read-only views over the episode record, scoped to what the reader may see
(reminders.access.can_see): a team manager their teams' children, a Director the service.
Children are named by reference and first name only, so either may go to a managers' chat.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from config import rule_ids
from config.citations import footer
from config.presets import load_all_presets
from config.rule_effects import rule_effects
from handlers import rota_gaps
from reminders.access import can_see
from reminders.formatting import duration, local_time
from storage import child_store, duty_store, episode_store, staff_store
from storage.db import Reader
from storage.models import Category, Child, Duty, DutyState, Episode, Event, Staff

SIX_MONTHS = timedelta(days=183)
DAY = timedelta(hours=24)
WEEK = timedelta(days=7)

# What a manager reads per missing child (NS §5.2): recorded with /record <child> <what> <text>.
RECORDED = {
    "parents": ("parents_engaged", "Parents/carers engaged"),
    "risk": ("risk_assessment", "Exploitation risk assessment"),
    "next": ("next_steps", "Next steps"),
    "context": ("context", "Contextual concerns"),
}

Scope = Callable[[Child], bool]


def scope_of(staff: Staff | None) -> Scope:
    """None: the whole service (a managers' chat)."""
    if staff is None:
        return lambda child: True
    return lambda child: can_see(staff, child)


@dataclass(frozen=True)
class View:
    r: Reader
    now: datetime
    zone: ZoneInfo
    area: str | None  # None: every area
    scope: Scope

    def when(self, at: datetime) -> str:
        return local_time(at, self.zone)


async def children_in_view(view: View) -> dict[int, Child]:
    return {
        c.id: c
        for c in await child_store.list_children(view.r)
        if (view.area is None or c.area == view.area) and view.scope(c)
    }


async def _names(r: Reader) -> dict[str, str]:
    return {s.id: s.name for s in await staff_store.list_staff(r)}


# ---- the daily summary (SUM-DAILY-TM, SUM-DAILY-HOS; NS §5.1-5.4) ---------------------------


async def daily(
    view: View,
    title: str,
    rules: Sequence[str] = (rule_ids.DAILY_SUMMARY,),
    area: str | None = None,
) -> str:
    """The daily missing summary: headline first, its rules (in `area`'s terms) at the end."""
    children = await children_in_view(view)
    missing = [e for e in await episode_store.open_episodes(view.r) if e.child_id in children]
    returned = [
        e
        for e in await episode_store.found_between(view.r, view.now - DAY, view.now)
        if e.child_id in children
    ]
    overdue = [
        d for d in await duty_store.overdue_duties(view.r, view.now) if d.child_id in children
    ]
    names = await _names(view.r)
    police = sum(1 for e in missing if e.ever_missing)
    lines = [
        f"{title}, {view.when(view.now)}",
        f"Not where they should be now: {len(missing)} ({police} reported missing to police). "
        f"Returned in the last 24 h: {len(returned)}. Overdue duties: {len(overdue)}.",
    ]
    if missing:
        lines += ["", "NOW"]
        for episode in missing:
            lines += await _missing_child(view, children[episode.child_id], episode)
    if returned:
        lines += ["", "RETURNED IN THE LAST 24 H"]
        for episode in returned:
            child = children[episode.child_id]
            rhi = episode.rhi_status.value if episode.rhi_status else "not yet offered"
            assert episode.found_at is not None and episode.end_reason is not None
            lines.append(
                f"• {child.label}: back {view.when(episode.found_at)} "
                f"({episode.end_reason.label}); return interview {rhi}"
            )
    if overdue:
        lines += ["", "OVERDUE DUTIES"]
        for duty in overdue:
            lines.append(_overdue_line(view, duty, children[duty.child_id], names))
    lines += await _unowned(view, children)
    lines += await _rota_gaps(view)
    lines.append(footer(rules, area))
    return "\n".join(lines)


async def _unowned(view: View, children: dict[int, Child]) -> list[str]:
    """Duties nobody owns: chased as the manager's until someone takes one (/take D<n>)."""
    unowned = [d for d in await duty_store.unowned_open_duties(view.r) if d.child_id in children]
    if not unowned:
        return []
    lines = ["", "DUTIES NOBODY OWNS (take one with /take D<n>)"]
    for duty in unowned:
        lines.append(
            f"• {duty.label} [{duty.rule_id}] {children[duty.child_id].label}: "
            f"{(duty.owner_role or 'owner').replace('_', ' ')} not found, due {view.when(duty.due_at)}"
        )
    return lines


async def _rota_gaps(view: View) -> list[str]:
    """Where a role the alerts need has nobody on the rota in the next 24 hours."""
    presets = load_all_presets()
    if view.area is not None:
        presets = {view.area: presets[view.area]}
    found = await rota_gaps.gaps(view.r, presets, view.now, view.now + DAY)
    if not found:
        return []
    return ["", "ROTA GAPS IN THE NEXT 24 H", *rota_gaps.gap_lines(found, view.zone)]


async def _missing_child(view: View, child: Child, episode: Episode) -> list[str]:
    recent = await episode_store.count_episodes_since(view.r, child.id, view.now - SIX_MONTHS)
    head = (
        f"• {child.label}: {episode.category.value} {duration(view.now - episode.last_seen_at)} "
        f"(since {view.when(episode.last_seen_at)}); {recent} episode"
        f"{'s' if recent != 1 else ''} in 6 months"
    )
    if episode.police_ref:
        grade = episode.police_grade.value if episode.police_grade else "not graded"
        head += f"; police {grade}, ref {episode.police_ref}"
    details = []
    events = await episode_store.events_for_episode(view.r, episode.id)
    for _, (kind, label) in RECORDED.items():
        latest = _latest(events, kind)
        details.append(f"{label}: {latest.text if latest else 'not recorded'}")
    details.append(f"Serious Incident Notification: {await _sin(view, episode)}")
    return [head, *(f"   {d}" for d in details)]


def _latest(events: list[Event], kind: str) -> Event | None:
    found = [e for e in events if e.kind == kind]
    return found[-1] if found else None


async def _sin(view: View, episode: Episode) -> str:
    sins = [
        d
        for d in await duty_store.duties_for_episode(view.r, episode.id)
        if d.rule_id == rule_ids.SERIOUS_INCIDENT
    ]
    if not sins:
        return "not required"
    duty = sins[-1]
    if duty.state is DutyState.DONE and duty.closed_at:
        return f"sent {view.when(duty.closed_at)}"
    if duty.state is not DutyState.OPEN:
        return f"not applicable ({duty.note})"
    if duty.applies_from and duty.applies_from > view.now:
        return f"needed if still missing at {view.when(duty.applies_from)}"
    state = "OVERDUE" if duty.overdue(view.now) else "due"
    return f"{state} {view.when(duty.due_at)} ({duty.label})"


def _overdue_line(view: View, duty: Duty, child: Child, names: dict[str, str]) -> str:
    owner = names.get(duty.owner_id or "", "nobody")
    return (
        f"• {duty.label} [{duty.rule_id}] {child.label}: {duration(view.now - duty.due_at)} "
        f"overdue, owner {owner}"
    )


# ---- the weekly pack (SUM-WEEKLY; J Appendix 4, NS §4.4) ------------------------------------------


@dataclass(frozen=True)
class WeeklyPack:
    message: str  # short, for the chat
    markdown: str  # the whole pack, as a file


async def weekly(view: View, title: str, area: str | None = None) -> WeeklyPack:
    start = view.now - WEEK
    children = await children_in_view(view)
    episodes = [
        e
        for e in await episode_store.episodes_overlapping(view.r, start, view.now)
        if e.child_id in children
    ]
    names = await _names(view.r)
    counts = Counter(episode_kind(e) for e in episodes)
    repeat = await _repeat_patterns(view, start, children)
    heading = (
        f"{title}: {view.when(start)} to {view.when(view.now)}. "
        f"{len(episodes)} episodes ({counts['missing']} missing, {counts['away']} away, "
        f"{counts['absent']} absent) for {len({e.child_id for e in episodes})} children."
    )
    md = [f"# {title}", "", heading, ""]
    for episode in episodes:
        md += await _episode_section(view, children[episode.child_id], episode, names)
    md += ["## Repeat patterns", ""]
    md += [f"- {line}" for line in repeat] or ["- none this week"]
    message = [heading]
    for episode in episodes:
        child = children[episode.child_id]
        end = view.when(episode.found_at) if episode.found_at else "still away"
        message.append(
            f"• {child.label}: {episode_kind(episode)} {view.when(episode.last_seen_at)} – {end}"
        )
    if repeat:
        message.append("Repeat patterns: " + "; ".join(repeat))
    message.append("The full pack, with the actions taken, is attached.")
    message.append(footer((rule_ids.WEEKLY_PACK,), area))
    return WeeklyPack("\n".join(message), "\n".join(md) + "\n")


def episode_kind(episode: Episode) -> str:
    if episode.ever_missing or episode.category is Category.MISSING:
        return "missing"
    return episode.category.value


async def _episode_section(
    view: View, child: Child, episode: Episode, names: dict[str, str]
) -> list[str]:
    end = view.when(episode.found_at) if episode.found_at else "not yet returned"
    lines = [
        f"## {child.label}: {episode_kind(episode)}, {view.when(episode.last_seen_at)} to {end}",
        "",
        f"- Last seen: {episode.last_seen_place}",
    ]
    if episode.police_ref:
        grade = episode.police_grade.value if episode.police_grade else "not graded"
        lines.append(f"- Police: ref {episode.police_ref}, grade {grade}")
    if episode.end_reason:
        lines.append(
            f"- Returned: {episode.end_reason.label}; {episode.found_where or ''}".rstrip("; ")
        )
    rhi = episode.rhi_status.value if episode.rhi_status else "not recorded"
    lines += [f"- Return interview: {rhi}", "", "Actions taken:", ""]
    for event in await episode_store.events_for_episode(view.r, episode.id):
        if event.kind.startswith("duty") and event.kind != "duty_done":
            continue
        who = names.get(event.actor_id or "", "bot")
        rule = f" [{event.rule_id}]" if event.rule_id else ""
        lines.append(f"- {view.when(event.at)} {who}: {event.text}{rule}")
    lines.append("")
    return lines


async def _repeat_patterns(view: View, start: datetime, children: dict[int, Child]) -> list[str]:
    """Pattern duties (REP-*, DIR-LETTER) made this week, in words."""
    found = []
    patterns = rule_effects().weekly_patterns
    for duty in await duty_store.duties_between(view.r, start, view.now):
        if duty.child_id in children and duty.rule_id in patterns:
            found.append(f"{children[duty.child_id].label} [{duty.rule_id}]")
    return found
