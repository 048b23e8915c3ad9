"""The words presets use for who, when and on what: one list of names per vocabulary.

A preset is validated against these names (config/presets.py). What each name does is a
table in reminders/, keyed by the same names: who an audience is (reminders/routing.py),
whether a condition holds (reminders/conditions.py), when a climb starts
(reminders/escalation.py). Each table is checked against its names when it is built and in
tests/test_vocabulary.py, so a name cannot pass validation and then fail when an alert fires.
Triggers are the events the commands raise (reminders/hub.py hears them all).
"""

from __future__ import annotations

from typing import Literal, get_args

# Who a ladder step tells, or who owns a duty. Resolved through the child, office hours and
# the rota, never by a transport.
Audience = Literal[
    "reporter",  # whoever reported the absence
    "home_team",  # the child's home's team chat
    "social_worker",  # office hours: the allocated worker (else team manager); else the rota
    "manager",  # office hours: the child's team manager; else the rota's out-of-hours manager
    "out_of_hours",  # the rota's out-of-hours duty worker
    "out_of_hours_manager",  # the rota's out-of-hours manager
    "police_liaison",  # the rota's police liaison
    "iro",  # the child's Independent Reviewing Officer
    "cp_chair",  # the child's child protection conference chair, where they have one
    "missing_tray",  # the missing coordinator on the rota, else whoever holds that role
    "missing_coordinator",  # the rota's missing coordinator
    "admins",  # every admin
    "team_manager",  # the child's team manager, at any hour
    "head_of_service",
    "assistant_director",
    "director",  # or an Assistant Director where there is no Director (NS §4.3)
]

# Whether a ladder starts, or a duty is made, for this event.
Condition = Literal[
    "always",
    "whereabouts_unknown",  # still absent: not away (whereabouts known) nor missing
    "ever_missing",  # reported to the police at some point in the episode
    "looked_after",
    "looked_after_elsewhere",  # the host authority's duties (NS §4, B)
    "cin_cp_or_looked_after",  # MIS-SIN's categories
    "out_of_area",  # placed outside the responsible authority (WY §8)
    "out_of_hours",  # the event happened outside office hours
    "not_returned_by_police",  # RET-POLICE: the police may not know
    "next_working_day_16_to_47h",  # RHI-EDT (NS §1.6.1)
    "next_working_day_48h_plus",  # RHI-EDT (NS §1.6.2)
    "next_working_day_16h_plus",  # RHI-EDT: either of the above
    "iro_unknown",  # nobody on record as IRO: a person must tell one
    "family_missing",  # siblings reported together: a family episode (H §10.10)
    "open_to_services",  # the child has an allocated worker (NS §2.14 "working with any team")
    "out_of_hours_interview",  # out of hours, next working day 48 h or more away (NS §1.6.2)
    "graded_high",  # the police grade the child high risk
    "repeat_episodes",  # the child has been missing or absent before
    "found_by_carer",  # found by family or carers (WY §6: no prevention check expected)
    "placed_with_parents",  # looked after, living at home (WY §8 Placement with Parents)
    "parents_may_be_told",  # the care plan does not say the parents are not told
    "under_16",  # under 16 on the day (NS §2.4: parental consent for the interview)
    "in_foster_care",  # placed with foster carers (NS §2.7: the supervising social worker)
]

# The episode events that start, stop and reset ladders and make duties.
Trigger = Literal[
    "absence_reported",  # /absent, /away: a new episode
    "police_concern",  # the level of concern is raised to police intervention
    "concern_lowered",  # ... and lowered again before a police report
    "reported_missing",  # /police: reported missing to the police
    "police_disagree",  # /disagree: the police delay or disagree
    "away",  # whereabouts known, not where they should be (B App 2, WY §8)
    "update",  # /update, /concern: anything recorded on the timeline
    "found",  # /found
    "rhi_offered",  # /rhi offered
    "rhi_held",  # /rhi held
    "rhi_declined",  # /rhi declined: only the child can refuse
    "rhi_independent",  # the child asked for an independent interviewer (NS §2.6)
    "rhi_requested",  # the request went to the provider (NS §2.9): a follow-on (`then:`)
    "abduction",  # abduction suspected (J §7)
    "harm",  # a notification showing risk of harm (NS §4.3)
    "media",  # a media alert is proposed (B, WY §10)
]

# Triggers no command raises: the duties they name are made as another duty's `then:`.
FOLLOW_ON_TRIGGERS: frozenset[Trigger] = frozenset({"rhi_requested"})

# When a ladder's first send is due.
Start = Literal[
    "now",
    "review_interval",  # one review interval after the event (ABS-REVIEW)
    "overnight_cutoff",  # the area's overnight cut-off (ABS-OVERNIGHT)
    "report_by",  # the time the child's trigger plan says to report by
    "next_office_open",  # the next office opening (MIS-NEXTDAY)
]

AUDIENCES: tuple[Audience, ...] = get_args(Audience)
CONDITIONS: tuple[Condition, ...] = get_args(Condition)
TRIGGERS: tuple[Trigger, ...] = get_args(Trigger)
STARTS: tuple[Start, ...] = get_args(Start)


def require_all(vocabulary: str, names: tuple[str, ...], table: object) -> None:
    """A behaviour table must cover its vocabulary exactly: called where the table is built."""
    keys = set(table) if isinstance(table, dict) else set()
    missing, extra = sorted(set(names) - keys), sorted(keys - set(names))
    if missing or extra:
        raise RuntimeError(
            f"{vocabulary}: no behaviour for {missing}; not in the vocabulary {extra}"
        )
