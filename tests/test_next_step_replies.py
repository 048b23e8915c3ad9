"""Replies that say what to do next (issue #20): a missing piece is asked for by name, the
levels of concern are explained where they are asked, and a found reason in plain words keeps
what was typed. Nothing is saved until the command is whole."""

from __future__ import annotations

from storage import child_store, episode_store
from tests.support.clock import local
from tests.support.harness import Harness


async def test_police_without_a_grade_asks_for_the_grade(tmp_path):
    h = await Harness.open(tmp_path / "w.db", local("2026-10-23 21:30"))
    await h.say("sam", "/absent Jay 21:05 not back from town")
    reply = await h.say("sam", "/police Jay ref WY-123")
    assert "What grade did the police give: low, medium or high?" in reply
    assert "/police C-0042 ref WY-123 grade <low|medium|high>" in reply
    assert "Nothing was saved" in reply
    reply = await h.say("sam", "/police Jay grade medium")
    assert "What reference did the police give?" in reply
    await h.close()


async def test_an_unknown_level_of_concern_explains_the_three(tmp_path):
    h = await Harness.open(tmp_path / "w.db", local("2026-10-23 21:30"))
    await h.say("sam", "/absent Jay 21:05 not back from town")
    reply = await h.say("sam", "/concern Jay high")
    assert reply.startswith("'high' is not a level of concern. Nothing was changed.")
    for level in ("none", "carer", "police"):
        assert f"/concern C-0042 {level} <why>" in reply
    await h.close()


async def test_found_in_plain_words_asks_how_and_keeps_the_time_and_words(tmp_path):
    h = await Harness.open(tmp_path / "w.db", local("2026-10-23 21:30"))
    await h.say("sam", "/absent Jay 21:05 not back from town")
    reply = await h.say("sam", "/found Jay 21:20 walked back in")
    assert "How did C-0042 Jay come back? Nothing is saved yet." in reply
    assert "/found C-0042 21:20 self walked back in" in reply
    child = await child_store.get_child_by_ref(h.db, "C-0042")
    assert child is not None
    episode = await episode_store.open_episode_for_child(h.db, child.id)
    assert episode is not None and episode.found_at is None, "nothing recorded yet"
    done = await h.say("sam", "/found C-0042 21:20 self walked back in")
    assert done.startswith("Recorded: C-0042 Jay found")
    await h.close()
