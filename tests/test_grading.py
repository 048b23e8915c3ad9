"""MIS-GRADE limits that depend on the area (H §6.4.5, B)."""

from __future__ import annotations

import pytest

from handlers.context import Services
from tests.support.chat import Chat
from tests.support.team import seed_team, team_file

TEAM = {
    "staff": [{"id": "sam", "role": "carer", "home": "h1"}],
    "children": [
        {"ref": "C-0001", "first_name": "Ann", "dob": "2011-05-02", "home": "h1", "area": "hipsw"},
        {"ref": "C-0002", "first_name": "Ben", "dob": "2008-01-01", "home": "h1", "area": "hipsw"},
        {
            "ref": "C-0003",
            "first_name": "Cal",
            "dob": "2011-05-02",
            "home": "h1",
            "area": "buckinghamshire",
        },
        {"ref": "C-0004", "first_name": "Dee", "dob": "2011-05-02", "home": "h1", "area": "jersey"},
    ],
}


async def _chat(db, clock) -> Chat:
    await seed_team(db, team_file(staff=TEAM["staff"], children=TEAM["children"]), area=None)
    return Chat(Services(db=db, clock=clock))


@pytest.mark.rule("MIS-GRADE")
async def test_hipsw_under_16_cannot_be_graded_low(db, clock):
    chat = await _chat(db, clock)
    await chat.say("sam", "/absent Ann 21:00 out")
    reply = await chat.say("sam", "/police Ann ref H1 grade low")
    assert "no child under 16 is graded low" in reply and "H §6.4.5" in reply
    assert "medium" in await chat.say("sam", "/police Ann ref H1 grade medium")


@pytest.mark.rule("MIS-GRADE")
async def test_hipsw_over_16_may_be_low(db, clock):
    chat = await _chat(db, clock)
    await chat.say("sam", "/absent Ben 21:00 out")
    assert "grade low" in await chat.say("sam", "/police Ben ref H2 grade low")


@pytest.mark.rule("MIS-GRADE")
async def test_buckinghamshire_never_low(db, clock):
    chat = await _chat(db, clock)
    await chat.say("sam", "/absent Cal 21:00 out")
    assert "medium or high" in await chat.say("sam", "/police Cal ref B1 grade low")


@pytest.mark.rule("MIS-GRADE")
async def test_jersey_allows_low(db, clock):
    chat = await _chat(db, clock)
    await chat.say("sam", "/absent Dee 21:00 out")
    assert "grade low" in await chat.say("sam", "/police Dee ref J1 grade low")
