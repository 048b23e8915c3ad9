"""A manager's /status adds each episode's overdue duties (in a direct chat only)."""

from __future__ import annotations

import pytest

from handlers.dispatch import Dispatcher
from handlers.messages import Chat
from storage import staff_store
from tests.support.clock import local
from tests.support.harness import Harness
from tests.support.team import STAFF, child, weekend_rota


@pytest.mark.rule("RHI-72H")
async def test_a_managers_status_lists_what_is_overdue_and_a_carers_does_not(tmp_path):
    h = await Harness.open(
        tmp_path / "w.db",
        local("2026-11-09 08:00"),
        area="west-yorkshire",
        children=[child(area="west-yorkshire")],
        staff=STAFF,
        rota_rows=weekend_rota(),
    )
    try:
        await h.until(local("2026-11-09 08:30"))
        assert "Recorded" in await h.say("sam", "/absent Jay 08:30 left after tea")
        assert "Recorded" in await h.say("sam", "/police Jay ref P-1 grade medium")
        await h.until(local("2026-11-09 10:00"))
        assert "Recorded" in await h.say("sam", "/found Jay 10:00 self came home")
        before = await h.say("tom", "/status Jay")
        assert "overdue" not in before
        await h.until(local("2026-11-12 11:00"))  # RHI-72H due Thu 10:00: an hour late
        mine = await h.say("tom", "/status Jay")
        assert "; overdue: " in mine and "[RHI-72H] by 1 h" in mine
        listed = await h.say("tom", "/status")
        assert "[RHI-72H] by 1 h" in listed
        assert "overdue" not in await h.say("sam", "/status Jay")  # not a manager
        # duty lines never go into a group chat
        tom = await staff_store.get_staff(h.db, "tom")
        group = Chat("telegram", "-1", is_group=True, team="managers")
        outcome = await Dispatcher(h.svc).handle(tom, "/status", group)
        assert "overdue" not in outcome.text
    finally:
        await h.close()
