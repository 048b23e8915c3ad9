"""The climb snapshot: a ladder as it stood when a climb began, stored on the climb's row.

A preset changed later does not change a climb already under way, so the climb carries its
own copy: the steps (`steps_json`) and the context (`context_json`: what the trigger said and
the ladder's settings). The JSON keeps the shape earlier versions wrote, so every stored row
still parses; fields that older rows may lack have defaults. Durations are seconds.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class _Frozen(BaseModel):
    # Unknown keys are ignored, not refused: a row must always load, or its climb never fires.
    model_config = ConfigDict(frozen=True, extra="ignore")


class ClimbStep(_Frozen):
    """One rung: who is told, how long to wait for an acknowledgement, extra sends first."""

    notify: tuple[str, ...]
    wait: float  # seconds
    repeat: int = 0

    @property
    def wait_time(self) -> timedelta:
        return timedelta(seconds=self.wait)


class LadderSnapshot(_Frozen):
    """The ladder's settings the climb reads while it runs."""

    rule: str
    rule_out_of_hours: str | None = None
    message: str
    include_profile: bool = False
    keep_on_found: bool = False
    stop_on: tuple[str, ...] = ()
    reset_on: tuple[str, ...] = ()
    interval: float  # seconds: the review interval the climb started with
    review: float  # seconds: after an acknowledgement, when "still on it?" is asked
    # The ladder's urgency (its `urgency.urgent`): the climb's messages go ahead of routine
    # ones. None in rows written before it was copied (written only when set).
    urgent: bool | None = Field(default=None, exclude_if=lambda v: v is None)

    @property
    def interval_time(self) -> timedelta:
        return timedelta(seconds=self.interval)

    @property
    def review_time(self) -> timedelta:
        return timedelta(seconds=self.review)


class ClimbContext(_Frozen):
    """What the trigger said, for the messages, and the ladder's settings."""

    actor: str = ""
    details: str = ""
    cutoff: str = ""
    # People this climb never alerts: the person whose action started it, when they are one
    # who takes alerts (a duty worker reporting, a manager disagreeing with the police).
    # (written only when set: a row without it keeps the JSON it always had)
    never_alert: tuple[str, ...] = Field(default=(), exclude_if=lambda v: not v)
    ladder: LadderSnapshot


# A climb's steps as stored: a JSON list of ClimbStep objects.
STEPS: TypeAdapter[tuple[ClimbStep, ...]] = TypeAdapter(tuple[ClimbStep, ...])
