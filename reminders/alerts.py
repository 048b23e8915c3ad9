"""SUM-AD (NS §5.4): the Assistant Director hears of these as they arise.

A Serious Incident Notification due or sent, a Director's letter, a looked-after or
protected child persistently missing (which duties, in what words: _rule_effects.yaml),
contextual concerns. Runs in the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime

from config import rule_ids
from config.presets import Preset
from config.rule_effects import rule_effects
from storage import message_keys, outbox_store, staff_store
from storage.db import Tx
from storage.models import Child, Duty, LegalStatus, Recipient, Role

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
    if not preset.implements(rule_ids.ASSISTANT_DIRECTOR):
        return 0
    told = 0
    for person in await staff_store.staff_with_role(tx, Role.ASSISTANT_DIRECTOR):
        told += await outbox_store.enqueue(
            tx,
            idem_key=message_keys.assistant_director(key, person.id),
            recipient=Recipient.staff(person.id),
            text=f"{child.label}: {what}",
            rules=(rule_ids.ASSISTANT_DIRECTOR,),
            now=now,
            episode_id=episode_id,
            child_id=child.id,
        )
    return told


async def on_duty_made(tx: Tx, preset: Preset, now: datetime, duty: Duty, child: Child) -> None:
    told = rule_effects().assistant_director
    if duty.rule_id in told.made:
        template = told.made[duty.rule_id]
    elif duty.rule_id in told.persistently_missing and child.legal_status in WATCHED_STATUS:
        template = told.persistently_missing_text
    else:
        return
    await tell_assistant_director(
        tx,
        preset,
        now,
        child,
        duty.episode_id,
        _words(template, duty),
        key=message_keys.duty_made_topic(duty.id),
    )


async def on_duty_done(tx: Tx, preset: Preset, now: datetime, duty: Duty, child: Child) -> None:
    template = rule_effects().assistant_director.done.get(duty.rule_id)
    if template is not None:
        await tell_assistant_director(
            tx,
            preset,
            now,
            child,
            duty.episode_id,
            _words(template, duty),
            key=message_keys.duty_done_topic(duty.id),
        )


def _words(template: str, duty: Duty) -> str:
    return template.format(
        label=duty.label, rule=duty.rule_id, action=duty.action, note=duty.note or ""
    )
