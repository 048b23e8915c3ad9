"""/record, /summary, /subscribe, /unsubscribe, /chart: the managers' view on request."""

from __future__ import annotations

from config import rule_ids
from handlers import charts, summaries
from handlers.context import Step
from handlers.episodes import _check, _event, _open_episode
from handlers.messages import Outcome, Refusal
from handlers.summaries import RECORDED, View
from reminders import alerts
from reminders.access import SERVICE_WIDE
from storage import message_keys, outbox_store, report_store
from storage.models import Child, Recipient, Role

# Who may ask for the managers' view: the people NS §5 reports to, and their teams' managers.
READERS = SERVICE_WIDE | {Role.TEAM_MANAGER, Role.SOCIAL_WORKER}


def _reader(step: Step) -> None:
    if step.staff.role not in READERS:
        raise Refusal("Summaries are for social workers, managers and directors.")


async def record(step: Step, child: Child, what: str, text: str) -> Outcome:
    """What the daily summary reports per missing child (NS §5.2), kept on the timeline."""
    if what not in RECORDED:
        raise Refusal(f"Record one of: {', '.join(RECORDED)}. /record {child.ref} parents <text>")
    if not text.strip():
        raise Refusal(f"Say what to record: /record {child.ref} {what} <text>")
    _check(step, "update", child)
    kind, label = RECORDED[what]
    preset = step.svc.preset_for(child)
    async with step.svc.db.write() as tx:
        episode = await _open_episode(tx, child, f"record {label.lower()}")
        await _event(tx, step, episode.id, child, kind, text)
        if what == "context":  # NS §5.4: contextual concerns go to the Assistant Director
            await alerts.tell_assistant_director(
                tx, preset, step.now, child, episode.id, f"contextual concerns: {text}",
                key=message_keys.context_topic(episode.id, step.now),
            )  # fmt: skip
    return Outcome.say(f"Recorded for the daily summary: {label} for {child.label}.").about(
        episode.id
    )


async def summary(step: Step) -> Outcome:
    _reader(step)
    view = View(
        step.svc.db.heavy, step.now, step.svc.display_zone, None, summaries.scope_of(step.staff)
    )
    rules = (rule_ids.DAILY_TEAM_MANAGER, rule_ids.DAILY_SUMMARY)
    return Outcome.say(await summaries.daily(view, f"Missing summary for {step.staff.name}", rules))


async def subscribe(step: Step, kind: str, on: bool) -> Outcome:
    _reader(step)
    if kind not in report_store.SUBSCRIPTION_KINDS:
        raise Refusal("Subscribe to daily (the morning summary) or weekly (the meeting pack).")
    async with step.svc.db.write() as tx:
        if on:
            await report_store.subscribe(tx, step.staff.id, kind)
        else:
            await report_store.unsubscribe(tx, step.staff.id, kind)
    if on:
        return Outcome.say(
            f"You will get the {kind} report by direct message, for the children you work with."
        )
    return Outcome.say(f"You will no longer get the {kind} report.")


async def chart(step: Step) -> Outcome:
    """The episodes chart, sent through the outbox as an image to the asker directly."""
    _reader(step)
    view = View(
        step.svc.db.heavy, step.now, step.svc.display_zone, None, summaries.scope_of(step.staff)
    )
    png = await charts.episodes_chart(view, f"Missing episodes, {step.staff.name}'s view")
    stamp = step.now.strftime("%Y%m%dT%H%M%S")
    async with step.svc.db.write() as tx:
        attachment = await report_store.add_attachment(
            tx, f"episodes-{stamp}.png", "image/png", png, step.now
        )
        await outbox_store.enqueue(
            tx,
            idem_key=message_keys.chart(step.staff.id, stamp),
            recipient=Recipient.staff(step.staff.id),
            text="Episodes per week over 6 months, and the children with the most",
            rules=(rule_ids.WEEKLY_PACK,),
            now=step.now,
            attachment_id=attachment,
        )
    return Outcome.say("The chart is on its way to you by direct message.")
