"""A child's trigger plan and the overnight prompt, by the local clock (reminders/trigger_plan.py)."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest

from config.presets import load_preset
from reminders.trigger_plan import TriggerPlan, overnight_at
from storage.models import Child, LegalStatus
from tests.support.clock import LONDON, local

WY = load_preset("west-yorkshire")  # overnight cut-off 23:00, morning 07:00


def test_a_plan_shortens_waits_but_never_lengthens_them() -> None:
    plan = TriggerPlan.model_validate({"ladder_wait": "20m"})
    assert plan.shorten(timedelta(minutes=30)) == timedelta(minutes=20)
    assert plan.shorten(timedelta(minutes=10)) == timedelta(minutes=10)
    assert TriggerPlan().shorten(timedelta(minutes=30)) == timedelta(minutes=30)


def test_report_by_takes_the_sooner_of_the_clock_time_and_the_span() -> None:
    plan = TriggerPlan.model_validate(
        {"report_to_police_by": "22:00", "report_to_police_after": "2h"}
    )
    assert plan.report_by_after(local("2026-11-09 21:00"), LONDON) == local("2026-11-09 22:00")
    assert plan.report_by_after(local("2026-11-09 19:00"), LONDON) == local("2026-11-09 21:00")
    # after 22:00 the clock time is the next evening's; the 2 h span is sooner
    assert plan.report_by_after(local("2026-11-09 22:30"), LONDON) == local("2026-11-10 00:30")


def test_report_after_counts_elapsed_hours_across_the_autumn_change() -> None:
    plan = TriggerPlan.model_validate({"report_to_police_after": "3h"})
    # BST; the clocks go back at 02:00. A UTC instant, as the episode's last_seen_at is.
    seen = local("2026-10-25 00:30").astimezone(UTC)
    assert plan.report_by_after(seen, LONDON) == local("2026-10-25 02:30")  # GMT: 3 h, not 4


def test_a_plan_is_read_from_the_profile_and_ignores_what_is_not_one() -> None:
    def child(profile: dict) -> Child:
        return Child(id=1, ref="C-1", first_name="Jo", area="west-yorkshire",
                     legal_status=LegalStatus.LOOKED_AFTER, profile=profile)  # fmt: skip

    assert TriggerPlan.of(child({"trigger_plan": {"review_interval": "30m"}})).review_interval == (
        timedelta(minutes=30)
    )
    assert TriggerPlan.of(child({"trigger_plan": "see file"})) == TriggerPlan()
    assert TriggerPlan.of(child({})) == TriggerPlan()


@pytest.mark.rule("ABS-OVERNIGHT")
@pytest.mark.parametrize(
    ("seen", "now", "due"),
    [
        ("2026-11-09 21:00", "2026-11-09 21:10", "2026-11-09 23:00"),  # the evening's cut-off
        ("2026-11-09 23:20", "2026-11-09 23:30", "2026-11-09 23:30"),  # seen after it: now
        ("2026-11-10 03:00", "2026-11-10 03:10", "2026-11-10 03:10"),  # the small hours: now
        ("2026-11-09 21:00", "2026-11-10 00:15", "2026-11-10 00:15"),  # reported after it
        ("2026-11-09 07:00", "2026-11-09 07:05", "2026-11-09 23:00"),  # morning starts at 07:00
    ],
)
def test_the_overnight_prompt_is_due_at_the_cut_off_or_at_once(
    seen: str, now: str, due: str
) -> None:
    assert overnight_at(WY, local(seen), local(now)) == local(due)
