"""Names that tell children and staff apart: home and age where two Jays could be confused
(reference and first name only in a group chat), /ack Jay for the one Jay whose alert waits
for you, staff named by name in /handover, and /staff listing whom an alert may go to."""

from __future__ import annotations

import pytest

from handlers.context import Services
from handlers.dispatch import Dispatcher
from handlers.messages import Chat
from reminders.clock import FakeClock
from storage import child_store, episode_store, escalation_store, staff_store
from storage.db import Database
from tests.support.clock import local
from tests.support.team import STAFF, child, seed_team, team_file, weekend_rota

ELM_JAY = child(ref="C-0060", first_name="Jay", dob="2014-03-01", home="elm-lodge")


@pytest.fixture
async def two_jays(tmp_path):
    staff = [*STAFF, {"id": "eve", "name": "Eve", "role": "carer", "home": "oak"},
             {"id": "morgan2", "name": "Morgan Lee", "role": "social_worker"}]  # fmt: skip
    oak_jay = child(home="oak")
    twin = child(ref="C-0061", first_name="Jay", dob="2013-06-01", home="oak")
    team = team_file(staff=staff, children=[oak_jay, ELM_JAY, twin], rota_rows=weekend_rota())
    async with Database(tmp_path / "w.db") as db:
        await seed_team(db, team)
        yield Services(db=db, clock=FakeClock(local("2026-10-23 21:10")))


async def say(svc, staff_id: str, text: str, chat: Chat | None = None):
    staff = await staff_store.get_staff(svc.db, staff_id)
    return await Dispatcher(svc).handle(staff, text, chat)


async def test_which_child_names_home_and_age_in_a_direct_chat(two_jays):
    said = await say(two_jays, "ooh1", "/status Jay")
    assert said.refused
    assert "C-0042 Jay (Oak, 15)" in said.text
    assert "C-0060 Jay (Elm Lodge, 12)" in said.text
    assert "C-0061 Jay (Oak, 13)" in said.text


async def test_which_child_in_a_group_chat_shows_reference_and_first_name_only(two_jays):
    group = Chat("telegram", "-1", is_group=True, team="oak")
    said = await say(two_jays, "sam", "/update Jay rang", group)
    assert said.refused
    assert "C-0042 Jay, C-0061 Jay" in said.text
    assert "Oak" not in said.text and "15" not in said.text


async def test_ack_by_first_name_takes_the_one_jay_whose_alert_waits(two_jays):
    assert not (await say(two_jays, "sam", "/absent C-0042 21:00 out")).refused
    # ooh1 sees three Jays; only C-0042's alert waits for them
    said = await say(two_jays, "ooh1", "/ack Jay")
    assert not said.refused, said.text
    assert "You have C-0042 Jay" in said.text
    jay = await child_store.get_child_by_ref(two_jays.db, "C-0042")
    episode = await episode_store.latest_episode_for_child(two_jays.db, jay.id)
    climbs = await escalation_store.live_escalations(two_jays.db, episode.id)
    assert any(c.acked_by == "ooh1" for c in climbs)
    # with none waiting, the first name is still ambiguous and refused
    again = await say(two_jays, "ooh2", "/ack Jay")
    assert again.refused and "More than one child called Jay" in again.text


async def test_ack_still_refuses_when_two_jays_have_alerts_waiting(two_jays):
    await say(two_jays, "sam", "/absent C-0042 21:00 out")
    await say(two_jays, "sam", "/absent C-0061 21:00 out")
    said = await say(two_jays, "ooh1", "/ack Jay")
    assert said.refused and "More than one child called Jay" in said.text


async def test_handover_by_a_colleagues_first_name_or_whole_name(two_jays):
    await say(two_jays, "sam", "/absent C-0042 21:00 out")
    await say(two_jays, "ooh1", "/ack C-0042")
    said = await say(two_jays, "ooh1", "/handover C-0042 Morgan")
    assert said.refused  # Morgan (oohm) and Morgan Lee (morgan2): which?
    assert "More than one colleague is called Morgan" in said.text
    assert "oohm: Morgan, out-of-hours manager" in said.text
    assert "morgan2: Morgan Lee, social worker" in said.text
    # the whole name picks one; the handover's own checks still apply to them
    lee = await say(two_jays, "ooh1", "/handover C-0042 Morgan Lee")
    assert lee.refused and "Morgan Lee can't take alerts about C-0042 Jay" in lee.text
    taken = await say(two_jays, "ooh1", "/handover C-0042 ola")  # a first name, any case
    assert not taken.refused, taken.text
    assert "Ola has C-0042 Jay" in taken.text
    unknown = await say(two_jays, "ooh2", "/handover C-0042 Nobody")
    assert unknown.refused and "/staff lists them" in unknown.text


async def test_staff_lists_whom_an_alert_may_go_to(two_jays):
    said = await say(two_jays, "ooh1", "/staff")
    assert not said.refused
    assert "oohm: Morgan, out-of-hours manager" in said.text
    assert "priya: Priya, social worker" in said.text
    assert "sam:" not in said.text  # a carer does not take alerts
    assert "ooh1:" not in said.text  # not yourself
    by_role = await say(two_jays, "ooh1", "/staff out of hours")
    assert "ooh2: Ola, out-of-hours duty worker" in by_role.text and "priya" not in by_role.text
    assert (await say(two_jays, "sam", "/staff")).refused  # carers hand nothing over
    none = await say(two_jays, "ooh1", "/staff nowhere")
    assert "Nobody for 'nowhere'" in none.text
