"""What a text message or an e-mail may say. SMS and e-mail are less private than an enrolled
chat account: they sit on lock screens, in shared inboxes and in the phone company's logs.

Subject lines: an e-mail's text may begin with a line "Subject: …" (`with_subject`); the
Notify platform sends it as the subject and the rest as the body (`split_subject`).
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from config.presets import Preset
from config.rules import catalogue
from reminders.formatting import duration, local_time
from storage.models import Child, Episode

_SUBJECT = re.compile(r"^(?:\[[^\]\n]*\]\s*)?Subject:[ \t]*(?P<subject>[^\n]+)\n+", re.IGNORECASE)
DEFAULT_SUBJECT = "Whereabouts"


def with_subject(subject: str, body: str) -> str:
    """An e-mail's text with its subject line (the first line, taken off when sent)."""
    return f"Subject: {' '.join(subject.split())}\n\n{body}"


def split_subject(text: str) -> tuple[str, str]:
    """(subject, body) of an e-mail's text; a text without a subject line gets ours."""
    found = _SUBJECT.match(text)
    if found is None:
        return DEFAULT_SUBJECT, text
    return found.group("subject").strip(), text[found.end() :]


def alert_kind(urgent: bool) -> str:
    return "urgent alert" if urgent else "alert"


def sms_alert(ref: str, urgent: bool, rule_id: str, since: str, code: str) -> str:
    """An alert by text: the child's reference, the rule, since when, how to take it. Never a
    name, a place or anything from the profile."""
    return (
        f"Whereabouts: {alert_kind(urgent)} for {ref} ({rule_id}) waiting for you since "
        f"{since}. Reply ACK {code} to take it, or open the app."
    )


def _summary_value(field: str, episode: Episode, now: datetime, tz: ZoneInfo) -> str:
    if field == "category":
        return f"Reported as: {episode.category.value}"
    if field == "missing_for":
        return f"Not where they should be for: {duration(now - episode.last_seen_at)}"
    if field == "last_seen_time":
        return f"Last seen: {local_time(episode.last_seen_at, tz)}"
    if field == "police_grade":
        grade = episode.police_grade.value if episode.police_grade else "not given"
        return f"Police grade: {grade}"
    if field == "concern":
        return f"Level of concern: {episode.concern.value}"
    return f"Status: {'open' if episode.found_at is None else 'found'}"


def email_alert(
    preset: Preset,
    child: Child,
    episode: Episode,
    urgent: bool,
    rule_id: str,
    since: str,
    now: datetime,
) -> str:
    """An alert by e-mail: the text's words, the rule in words and a summary of the episode
    limited to what the preset allows for the rule; no link, no name, no place, no profile."""
    rules = preset.notifications
    fields = rules.email_summary_by_rule.get(rule_id, rules.email_summary)
    summary = [_summary_value(f, episode, now, preset.zone) for f in fields]
    words = rule_words(rule_id)
    body = "\n".join(
        [
            f"An {alert_kind(urgent)} for {child.ref} ({rule_id}) has been waiting for you "
            f"since {since}.",
            *([f"The rule: {words}."] if words else []),
            *summary,
            "",
            f"Take it in the Whereabouts app: /ack {child.ref}. The details are there, not "
            "in e-mail.",
        ]
    )
    return with_subject(f"Whereabouts: {alert_kind(urgent)} for {child.ref} ({rule_id})", body)


def rule_words(rule_id: str) -> str:
    found = catalogue().get(rule_id)
    return found.summary if found else ""


def _profile_strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _profile_strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _profile_strings(v)]
    return []


def leaks(text: str, child: Child) -> list[str]:
    """What of the child's identity a text would carry: 'name', 'home' or a profile field's
    name (never the value). Empty: safe to send by SMS or e-mail."""
    found = []
    checks: list[tuple[str, list[str]]] = [
        ("name", [child.first_name, *(child.full_name.split() if child.full_name else [])]),
        ("home", [child.home] if child.home else []),
        *((f"profile {key}", _profile_strings(value)) for key, value in child.profile.items()),
    ]
    lowered = " ".join(text.split()).lower()
    for what, values in checks:
        for value in values:
            value = " ".join(value.split()).lower()
            if len(value) >= 3 and re.search(rf"(?<!\w){re.escape(value)}(?!\w)", lowered):
                found.append(what)
                break
    return found
