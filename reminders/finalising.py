"""RET-FINAL beyond the episode's own state: what else an episode waits for before a manager
may finalise it, and whether a return interview is ours to hold at all."""

from __future__ import annotations

from config import rule_ids
from config.presets import DutySpec, Preset
from storage import duty_store
from storage.db import Reader
from storage.models import Child, Duty, DutyState, Episode, LegalStatus


async def open_blockers(r: Reader, episode: Episode) -> list[Duty]:
    """Open duties whose rule says finalising waits for them (NS §2.14: a decline to the
    out-of-hours worker is not final until the allocated practitioner has followed it up)."""
    return [
        d
        for d in await duty_store.duties_for_episode(r, episode.id)
        if d.state is DutyState.OPEN and DutySpec.model_validate(d.spec).blocks_finalise
    ]


def interview_is_ours(preset: Preset, child: Child) -> bool:
    """False for another authority's child where the area leaves the interview to the home
    authority (NS §4.1 "without conducting the RHI"; B: not unless commissioned)."""
    spec = preset.duties.get(rule_ids.RETURN_INTERVIEW)
    if spec is None:
        return True
    elsewhere = child.legal_status is LegalStatus.LOOKED_AFTER_ELSEWHERE
    return not (elsewhere and "looked_after_elsewhere" in spec.unless)
