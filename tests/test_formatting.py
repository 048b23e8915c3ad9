"""How times, spans and a child's profile read in chat (reminders/formatting.py)."""

from __future__ import annotations

from datetime import UTC, date, timedelta

import pytest

from reminders.formatting import PROFILE_HEADING, duration, local_time, profile_text, short_time
from storage.models import Child, LegalStatus
from tests.support.clock import LONDON, local


def jay(**fields) -> Child:
    return Child(id=1, ref="C-0042", first_name="Jay", area="west-yorkshire",
                 legal_status=LegalStatus.LOOKED_AFTER, **fields)  # fmt: skip


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=59), "0 min"),
        (timedelta(minutes=12), "12 min"),
        (timedelta(hours=2, minutes=5), "2 h 05 min"),
        (timedelta(days=1), "1 d 0 h"),
        (timedelta(days=3, hours=4, minutes=59), "3 d 4 h"),  # minutes drop once days show
        (timedelta(minutes=-5), "0 min"),  # a clock a little behind never reads negative
    ],
)
def test_duration_reads_in_the_largest_two_units(delta: timedelta, text: str) -> None:
    assert duration(delta) == text


def test_local_time_is_the_wall_clock_on_both_sides_of_the_autumn_change() -> None:
    before = local("2026-10-25 01:30").astimezone(UTC)  # the first 01:30, BST
    after = before + timedelta(hours=1)  # an elapsed hour later: the second 01:30, GMT
    assert local_time(before, LONDON) == local_time(after, LONDON) == "Sun 25 Oct 01:30"
    assert short_time(local("2026-03-29 03:15"), LONDON) == "03:15"


def test_profile_lists_recorded_fields_in_the_philomena_order() -> None:
    child = jay(
        full_name="Jay Example",
        dob=date(2011, 5, 2),
        profile={"phone": "07700 900123", "description": "slim", "unknown_field": "kept out"},
    )
    assert profile_text(child).splitlines() == [
        PROFILE_HEADING,
        "Name: Jay Example",
        "Date of birth: 02/05/2011",
        "Description: slim",
        "Phone: 07700 900123",
    ]


def test_profile_adds_the_trigger_plan_and_says_when_nothing_is_recorded() -> None:
    planned = jay(profile={"trigger_plan": {"report_to_police_after": "2h"}})
    assert profile_text(planned).splitlines()[-1] == "Trigger plan: report to police after 2h"
    assert profile_text(jay()) == (
        "No profile recorded: ask the social worker for the missing profile."
    )
