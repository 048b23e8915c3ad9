"""Whether a preset's condition holds for an event: one test per name of config.vocabulary's
Condition, used by the ladders (`when:`) and the duties (`when: [...]`) alike."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from config.presets import Preset
from config.vocabulary import CONDITIONS, Condition, require_all
from storage.models import Category, Child, EndReason, Episode, LegalStatus, PoliceGrade


@dataclass(frozen=True)
class Situation:
    """What a condition may look at: the area, when the event happened, the episode, the child."""

    preset: Preset
    at: datetime
    episode: Episode
    child: Child
    earlier_episodes: int = 0  # the child's episodes before this one ("repeat concerns")

    def hours_to_next_working_day(self) -> float:
        return self.preset.calendar.hours_until_next_working_day(self.at)


_PROTECTED = (
    LegalStatus.LOOKED_AFTER,
    LegalStatus.LOOKED_AFTER_ELSEWHERE,
    LegalStatus.CHILD_PROTECTION,
    LegalStatus.CHILD_IN_NEED,
)

TESTS: dict[Condition, Callable[[Situation], bool]] = {
    "always": lambda s: True,
    "whereabouts_unknown": lambda s: s.episode.category is Category.ABSENT,
    "ever_missing": lambda s: s.episode.ever_missing or s.episode.category is Category.MISSING,
    "looked_after": lambda s: s.child.legal_status.is_looked_after,
    "looked_after_elsewhere": lambda s: s.child.legal_status is LegalStatus.LOOKED_AFTER_ELSEWHERE,
    "cin_cp_or_looked_after": lambda s: s.child.legal_status in _PROTECTED,
    "out_of_area": lambda s: bool(s.child.profile.get("placed_out_of_area")),
    "out_of_hours": lambda s: not s.preset.calendar.in_office_hours(s.at),
    "not_returned_by_police": lambda s: s.episode.end_reason is not EndReason.POLICE,
    "next_working_day_16_to_47h": lambda s: 16 <= s.hours_to_next_working_day() < 48,
    "next_working_day_48h_plus": lambda s: s.hours_to_next_working_day() >= 48,
    "next_working_day_16h_plus": lambda s: s.hours_to_next_working_day() >= 16,
    "iro_unknown": lambda s: not s.child.iro_id,
    "family_missing": lambda s: s.episode.link_group is not None,
    "open_to_services": lambda s: s.child.social_worker_id is not None,
    "out_of_hours_interview": lambda s: (
        not s.preset.calendar.in_office_hours(s.at) and s.hours_to_next_working_day() >= 48
    ),
    "graded_high": lambda s: s.episode.police_grade is PoliceGrade.HIGH,
    "repeat_episodes": lambda s: s.earlier_episodes > 0,
    "found_by_carer": lambda s: s.episode.end_reason is EndReason.FAMILY,
    "placed_with_parents": lambda s: s.child.placement_type == "with_parents",
    "parents_may_be_told": lambda s: not s.child.no_parent_contact,
    "under_16": lambda s: (
        (age := s.child.age_on(s.preset.calendar.local(s.at).date())) is not None and age < 16
    ),
    "in_foster_care": lambda s: s.child.placement_type == "foster",
}
require_all("conditions", CONDITIONS, TESTS)


def holds(condition: Condition, situation: Situation) -> bool:
    return TESTS[condition](situation)
