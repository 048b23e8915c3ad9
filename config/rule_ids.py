"""The rule ids the code decides on, named by what they mean.

Rule-specific behaviour is data (config/protocols/): a preset lists the ids it implements,
and _rule_effects.yaml says what particular rules make the code do. Where the code itself
must decide, "does this area implement the daily summary?", "which rule does this message
carry?", it names the rule here and imports it by meaning, so no rule id is typed in
bot/, handlers/, reminders/ or storage/. Each id is in RULES.md (the section is given);
tests/test_rules_catalogue.py checks every one (every upper-case name here) against
config/rules.yaml.
"""

from __future__ import annotations

from typing import Final

RECORD: Final = "ABS-LOG"
"""§2: the dated, timed record of every contact and decision (the "call me" request)."""

POLICE_REFERENCE: Final = "MIS-REF"
"""§3: ask for and record the police reference number."""

POLICE_GRADE: Final = "MIS-GRADE"
"""§3: record the police risk grade, within the area's limits."""

POLICE_DISAGREE: Final = "MIS-DISAGREE"
"""§3: the police delay or disagree; a manager is called in to talk to them."""

SERIOUS_INCIDENT: Final = "MIS-SIN"
"""§3: the Serious Incident Notification, reported in the daily summary."""

TELL_THOSE_TOLD: Final = "RET-TELL"
"""§4: on return, everyone who was told of the absence hears the child is found."""

TELL_POLICE_OF_RETURN: Final = "RET-POLICE"
"""§4: a child reported missing who returns without the police knowing: tell the police."""

RETURN_ALERT: Final = "RET-ALERT"
"""§4: on return, the allocated worker, the missing tray and the IRO are alerted."""

BRINGING_BACK: Final = "RET-HOURS"
"""§4: who brings a child back once their whereabouts are known, by the local clock."""

RETURN_INTERVIEW: Final = "RHI-72H"
"""§4: the independent return home interview, offered within 72 hours of return."""

FINALISE: Final = "RET-FINAL"
"""§4: an episode is finalised only once found and the interview done or declined."""

ONE_OPEN_EPISODE: Final = "RET-ONEOPEN"
"""§4: one open episode per child; a second report adds to it."""

SIBLINGS: Final = "RET-SIBLINGS"
"""§4: siblings missing together get linked episodes."""

DIRECTOR_LETTER: Final = "DIR-LETTER"
"""§5: the host authority's letter to the home authority's Director (NS §4.3)."""

DAILY_TEAM_MANAGER: Final = "SUM-DAILY-TM"
"""§6: team managers check every missing child's record daily (what /record keeps)."""

DAILY_SUMMARY: Final = "SUM-DAILY-HOS"
"""§6: the daily summary per missing child, for the Head of Service."""

ASSISTANT_DIRECTOR: Final = "SUM-AD"
"""§6: the Assistant Director hears of notifications, letters and persistent absence."""

WEEKLY_PACK: Final = "SUM-WEEKLY"
"""§6: the previous 7 days' episodes, for the weekly multi-agency missing meeting."""

QUARTERLY_EXPORT: Final = "SUM-QUARTER"
"""§6: the quarterly analysis of missing data (the CSV export)."""

OUT_OF_HOURS_RETURN: Final = "RHI-EDT"
"""§4: the out-of-hours worker's part in the return interview (the preset's instructions)."""
