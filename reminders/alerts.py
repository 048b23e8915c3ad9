"""SUM-AD (NS §5.4): the Assistant Director hears of these as they arise.

A Serious Incident Notification due or sent, a Director's letter, a looked-after or
protected child persistently missing, contextual concerns. Runs in the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime

from config.presets import Preset
from storage import message_keys, outbox_store, staff_store
from storage.db import Tx
from storage.models import Child, Duty, LegalStatus, Recipient, Role

PERSISTENT = ("REP-J", "REP-H", "REP-B", "REP-NS", "REP-WY")
WATCHED_STATUS = (
    LegalStatus.LOOKED_AFTER,
    LegalStatus.LOOKED_AFTER_ELSEWHERE,
    LegalStatus.CHILD_PROTECTION,
)


async def tell_assistant_director(
    tx: Tx,
    preset: Preset,
    now: datetime,
    child: Child,
    episode_id: int | None,
    what: str,
    key: str,
) -> int:
    if not preset.implements("SUM-AD"):
        return 0
    told = 0
    for person in await staff_store.staff_with_role(tx, Role.ASSISTANT_DIRECTOR):
        told += await outbox_store.enqueue(
            tx,
            idem_key=message_keys.assistant_director(key, person.id),
            recipient=Recipient.staff(person.id),
            text=f"{child.label}: {what}",
            rules=("SUM-AD",),
            now=now,
            episode_id=episode_id,
            child_id=child.id,
        )
    return told


async def on_duty_made(tx: Tx, preset: Preset, now: datetime, duty: Duty, child: Child) -> None:
    if duty.rule_id == "MIS-SIN":
        what = f"a Serious Incident Notification is due ({duty.label})"
    elif duty.rule_id == "DIR-LETTER":
        what = f"a letter to the home authority's Director is to be signed today ({duty.label})"
    elif duty.rule_id in PERSISTENT and child.legal_status in WATCHED_STATUS:
        what = f"persistently missing ({duty.rule_id}): {duty.action}"
    else:
        return
    await tell_assistant_director(
        tx, preset, now, child, duty.episode_id, what, key=message_keys.duty_made_topic(duty.id)
    )


async def on_duty_done(tx: Tx, preset: Preset, now: datetime, duty: Duty, child: Child) -> None:
    if duty.rule_id == "MIS-SIN":
        await tell_assistant_director(
            tx, preset, now, child, duty.episode_id,
            f"the Serious Incident Notification was sent ({duty.label}): {duty.note or ''}",
            key=message_keys.duty_done_topic(duty.id),
        )  # fmt: skip
