"""One place an episode event goes: the escalation ladders and the statutory duties both hear it."""

from __future__ import annotations

from datetime import datetime

from config.presets import Preset
from config.vocabulary import Trigger
from reminders import digest, duties, escalation
from storage.db import Tx
from storage.models import Child, Episode, Staff


async def on_event(
    tx: Tx,
    preset: Preset,
    now: datetime,
    name: Trigger,
    episode: Episode,
    child: Child,
    actor: Staff,
    details: str = "",
) -> list[int]:
    """Start, stop or reset climbs and make duties; returns the ids of duties made."""
    await escalation.trigger(tx, preset, now, name, episode, child, actor, details)
    return await duties.trigger(tx, preset, now, name, episode, child, actor)


async def on_found(
    tx: Tx, preset: Preset, now: datetime, episode: Episode, child: Child, actor: Staff
) -> list[int]:
    await escalation.on_found(tx, preset, now, episode, child, actor)
    await digest.on_found(tx, preset, now, episode, child, actor)  # the child's owners
    return await duties.trigger(tx, preset, now, "found", episode, child, actor)
