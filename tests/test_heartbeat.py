"""The APScheduler wiring: the next-due job sits at the database's next due time."""

from __future__ import annotations

from bot.delivery import OutboxDelivery
from bot.heartbeat import NEXT_DUE_JOB, SAFETY_NET_JOB, Heartbeat
from reminders.sweeper import Sweeper
from tests.support.clock import local
from tests.support.harness import Harness
from tests.support.team import weekend_rota


async def test_wake_schedules_the_next_climb_and_the_safety_net(tmp_path):
    h = await Harness.open(tmp_path / "w.db", local("2026-10-23 21:10"), rota_rows=weekend_rota())
    await h.say("sam", "/absent Jay 21:05 out")
    beat = Heartbeat(
        Sweeper(h.db, h.clock, h.svc.presets), OutboxDelivery(h.db, h.clock, h._record), h.clock
    )
    try:
        await beat.start()
        job = beat.scheduler.get_job(NEXT_DUE_JOB)
        assert job.next_run_time == local("2026-10-23 21:40")  # the ABS-OOH reminder
        interval = beat.scheduler.get_job(SAFETY_NET_JOB)
        assert interval.misfire_grace_time is None and interval.coalesce
        await h.say("ooh1", "/ack Jay")
        await beat.wake()
        assert beat.scheduler.get_job(NEXT_DUE_JOB).next_run_time == local("2026-10-23 22:10")
    finally:
        beat.shutdown()
        await h.close()
