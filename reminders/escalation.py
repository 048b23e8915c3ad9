"""Who is told what when an episode changes (first cut: immediate notices, no timers yet)."""

from __future__ import annotations

from datetime import datetime

from config.presets import Preset
from storage import repo
from storage.db import Tx
from storage.models import Child, Episode, Role, Staff


async def _tell(
    tx: Tx, now: datetime, episode: Episode, child: Child, key: str, to: str, rule: str, text: str
) -> None:
    await repo.enqueue(
        tx,
        idem_key=f"ep{episode.id}:{key}:{to}",
        recipient=to,
        text=f"[{rule}] {text}",
        rule_id=rule,
        now=now,
        episode_id=episode.id,
        child_id=child.id,
    )


async def _social_worker_or_duty(
    tx: Tx, preset: Preset, now: datetime, child: Child
) -> tuple[list[str], str]:
    if preset.calendar.in_office_hours(now) and child.social_worker_id:
        return [child.social_worker_id], "ABS-SW"
    duty = await repo.staff_with_role(tx, Role.OUT_OF_HOURS)
    return [s.id for s in duty], "ABS-OOH"


async def trigger(
    tx: Tx,
    preset: Preset,
    now: datetime,
    name: str,
    episode: Episode,
    child: Child,
    actor: Staff,
    details: str,
) -> None:
    if name == "absence_reported":
        targets, rule = await _social_worker_or_duty(tx, preset, now, child)
        for staff_id in targets:
            if staff_id != actor.id:
                await _tell(
                    tx, now, episode, child, "reported", f"staff:{staff_id}", rule,
                    f"{child.label} reported {episode.category.value} by {actor.name}: {details}",
                )  # fmt: skip


async def on_update(
    tx: Tx, preset: Preset, now: datetime, episode: Episode, child: Child, actor: Staff
) -> None:
    return None


async def on_found(
    tx: Tx, preset: Preset, now: datetime, episode: Episode, child: Child, actor: Staff
) -> None:
    return None


async def on_finalised(tx: Tx, episode: Episode) -> None:
    return None
