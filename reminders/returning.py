"""RET-HOURS: who brings a child back once their whereabouts are known, by the local clock."""

from __future__ import annotations

from datetime import datetime

from config import rule_ids
from config.presets import Preset


def bringing_back_advice(preset: Preset, now: datetime) -> str | None:
    """The area's rule for this hour, or None where the area sets none (H §6.7.1, §6.7.2)."""
    rule = preset.bringing_back
    if rule is None or not preset.implements(rule_ids.BRINGING_BACK):
        return None
    local = now.astimezone(preset.zone).time()
    start, end = rule.local_authority_from, rule.local_authority_to
    day = start <= local < end
    window = f"{start:%H:%M}–{end:%H:%M}"
    if day:
        return (
            f"[{rule_ids.BRINGING_BACK}] Between {window} the local authority brings the child back: "
            "the social worker (or duty team) arranges it."
        )
    return (
        f"[{rule_ids.BRINGING_BACK}] Outside {window} the local authority or the police bring the child back, "
        "depending on the risk and who is available: agree it with the duty team now."
    )
