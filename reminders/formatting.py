"""How times and people read in chat."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from storage.models import Child


def local_time(when: datetime, tz: ZoneInfo) -> str:
    """'Fri 23 Oct 21:05' in the area's time zone."""
    return when.astimezone(tz).strftime("%a %d %b %H:%M")


def short_time(when: datetime, tz: ZoneInfo) -> str:
    return when.astimezone(tz).strftime("%H:%M")


def duration(delta: timedelta) -> str:
    """'2 h 05 min', '3 d 4 h', '12 min'."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {mins:02d} min"
    return f"{mins} min"


# The Philomena Protocol fields (J App 3; B App 2 "Missing Profile").
PROFILE_FIELDS = (
    ("full_name", "Name"),
    ("dob", "Date of birth"),
    ("description", "Description"),
    ("clothing", "Clothing"),
    ("places", "Places"),
    ("associates", "Associates"),
    ("medication", "Medication"),
    ("phone", "Phone"),
    ("social_media", "Social media"),
    ("risks", "Risks"),
)
# Area-neutral: a West Yorkshire profile does not cite Jersey's appendix. The senders know a
# profile message by this heading (it is deleted when the episode is finalised).
PROFILE_HEADING = "Missing profile:"


def profile_text(child: Child) -> str:
    """A child's full profile: for direct messages to entitled staff only, never a group."""
    profile = {
        "full_name": child.full_name,
        "dob": child.dob.strftime("%d/%m/%Y") if child.dob else None,
        **child.profile,
    }
    lines = [f"{label}: {profile[key]}" for key, label in PROFILE_FIELDS if profile.get(key)]
    plan = child.profile.get("trigger_plan")
    if isinstance(plan, dict) and plan:
        words = "; ".join(f"{k.replace('_', ' ')} {v}" for k, v in plan.items())
        lines.append(f"Trigger plan: {words}")
    if not lines:
        return "No profile recorded: ask the social worker for the missing profile."
    return "\n".join([PROFILE_HEADING, *lines])
