"""The child's trigger plan (NS App 3, WY §4) and the overnight cut-off (ABS-OVERNIGHT).

A trigger plan may shorten the area's waits and review interval, and may say by when the
carers must report to the police. It lives in the child's profile as `trigger_plan`.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, field_validator

from config.presets import ClockTime, Duration, Preset, parse_duration
from storage.models import Child


class TriggerPlan(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    review_interval: Duration | None = None
    ladder_wait: Duration | None = None  # no step waits longer than this for this child
    report_to_police_by: ClockTime | None = None  # a local time: "22:00"
    report_to_police_after: Duration | None = None  # or a time after last seen: "2h"

    @field_validator("review_interval", "ladder_wait", "report_to_police_after", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        return None if value in (None, "") else parse_duration(value)

    @classmethod
    def of(cls, child: Child) -> TriggerPlan:
        raw = child.profile.get("trigger_plan") or {}
        return cls.model_validate(raw) if isinstance(raw, dict) else cls()

    def shorten(self, wait: timedelta) -> timedelta:
        return min(wait, self.ladder_wait) if self.ladder_wait else wait

    def report_by_after(self, last_seen: datetime, tz: ZoneInfo) -> datetime | None:
        """When the plan says the police must have been told, for an absence from `last_seen`."""
        candidates = []
        if self.report_to_police_after:
            candidates.append(last_seen + self.report_to_police_after)
        if self.report_to_police_by:
            candidates.append(_next_local(last_seen, self.report_to_police_by, tz))
        return min(candidates) if candidates else None


def _next_local(after: datetime, at: time, tz: ZoneInfo) -> datetime:
    local = after.astimezone(tz)
    candidate = datetime.combine(local.date(), at, tzinfo=tz)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), at, tzinfo=tz)
    return candidate


def overnight_at(preset: Preset, last_seen: datetime, now: datetime) -> datetime:
    """ABS-OVERNIGHT: when the prompt to report is due.

    At the area's cut-off on the evening of the absence; at once if the child was last seen
    after the cut-off or in the small hours, or if the cut-off has passed since.
    """
    rules = preset.absence
    tz = preset.zone
    seen = last_seen.astimezone(tz)
    if seen.time() < rules.morning or seen.time() >= rules.overnight_cutoff:
        return now
    cutoff = datetime.combine(seen.date(), rules.overnight_cutoff, tzinfo=tz)
    return max(cutoff, now)
