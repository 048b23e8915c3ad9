"""The console: prompt_toolkit's prompt in a terminal (messages above it, Ctrl-C and Ctrl-D
leave at once), plain lines from a pipe, choices as commands to type, and the guided
report one question at a time."""

from __future__ import annotations

import sys

import pytest
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from prompt_toolkit.patch_stdout import StdoutProxy

from bot.console import ConsoleTransport
from storage import child_store, episode_store
from storage.models import Concern
from tests.support.clock import local


@pytest.fixture
def lines() -> list[str]:
    return []


@pytest.fixture
def console(svc, lines) -> ConsoleTransport:
    return ConsoleTransport(svc, out=lines.append)


async def latest_episode(svc, ref: str):
    child = await child_store.get_child_by_ref(svc.db, ref)
    return await episode_store.latest_episode_for_child(svc.db, child.id)


# ---- the terminal and the pipe ------------------------------------------------------------


# A prompt that never ends would wait on its pipe for ever: each terminal test is bounded.
@pytest.mark.timeout(30)
async def test_in_a_terminal_everything_prints_above_the_prompt(svc):
    through_proxy: list[tuple[bool, str]] = []
    console = ConsoleTransport(
        svc, out=lambda text: through_proxy.append((isinstance(sys.stdout, StdoutProxy), text))
    )
    with create_pipe_input() as pipe:
        pipe.send_text("/as sam\r/absent Jay 21:05 left after a row\r\x04")
        await console.repl(terminal=True, input=pipe, output=DummyOutput())
    assert any("Recorded: C-0042 Jay absent" in text for _, text in through_proxy)
    # Printed through patch_stdout's proxy: the prompt is redrawn below each message,
    # so a message the timers send while someone types lands above what they are typing.
    assert all(proxied for proxied, text in through_proxy if "Whereabouts console" not in text)
    assert await latest_episode(svc, "C-0042") is not None


@pytest.mark.timeout(30)
@pytest.mark.parametrize("key", ["\x03", "\x04"], ids=["ctrl-c", "ctrl-d"])
async def test_ctrl_c_or_ctrl_d_leaves_at_once(console, key):
    with create_pipe_input() as pipe:
        pipe.send_text("/as sam\r/sta" + key)  # half a line typed, no Enter
        await console.repl(terminal=True, input=pipe, output=DummyOutput())


@pytest.mark.timeout(30)
async def test_ctrl_c_mid_line_runs_nothing(console, svc):
    with create_pipe_input() as pipe:
        pipe.send_text("/as sam\r/absent Jay 21:05 out\x03")
        await console.repl(terminal=True, input=pipe, output=DummyOutput())
    assert await latest_episode(svc, "C-0042") is None


async def test_piped_lines_are_read_plainly_until_the_end(console, lines, svc, monkeypatch):
    said = iter(["/as sam", "/absent Jay 21:05 out"])

    def fake_input(prompt: str) -> str:
        try:
            return next(said)
        except StopIteration:
            raise EOFError from None

    monkeypatch.setattr("builtins.input", fake_input)
    await console.repl(terminal=False)
    assert "You are now sam." in lines
    assert await latest_episode(svc, "C-0042") is not None


async def test_buttons_are_listed_as_commands_to_type(console, lines):
    await console.say("sam", "/absent Jay 21:05 out")
    lines.clear()
    await console.say("sam", "/found Jay")
    shown = "\n".join(lines)
    assert "How did C-0042 Jay come back?" in shown
    assert "Came back by self: /found C-0042 now self" in shown
    assert "Police / agency: /found C-0042 now police" in shown


# ---- the guided report -----------------------------------------------------------------------


async def test_absent_alone_walks_through_the_report_one_question_at_a_time(
    console, lines, svc, clock
):
    await console.say("sam", "/absent")
    first = "\n".join(lines)
    assert "Report a child absent. Who is it?" in first
    assert "1. C-0042 Jay: type 1 or C-0042" in first
    assert "/cancel" in first
    assert "last seen" not in first  # one question at a time

    lines.clear()
    await console.say("sam", "1")
    seen = "\n".join(lines)
    assert "C-0042 Jay: when were they last seen?" in seen
    assert "1. Just now: type 1 or now" in seen
    assert "or type the time" in seen and "Type a time" not in seen

    lines.clear()
    await console.say("sam", "quarter to nine")
    assert "Where were they last seen, and what happened?" in "\n".join(lines)
    await console.say("sam", "left after a row")
    lines.clear()
    await console.say("sam", "searched the garden")
    concern = "\n".join(lines)
    assert "Your level of concern?" in concern
    assert "2. Carer intervention: type 2 or carer" in concern
    assert await latest_episode(svc, "C-0042") is None  # nothing saved until the last answer

    lines.clear()
    await console.say("sam", "carer")
    assert "Recorded: C-0042 Jay absent, last seen Fri 23 Oct 20:45" in "\n".join(lines)
    episode = await latest_episode(svc, "C-0042")
    assert episode.last_seen_at == local("2026-10-23 20:45")
    assert episode.concern is Concern.CARER
    assert not console.guided.under_way("sam")


async def test_a_bad_time_is_asked_again(console, lines):
    await console.say("sam", "/absent")
    await console.say("sam", "C-0042")
    lines.clear()
    await console.say("sam", "soonish")
    again = "\n".join(lines)
    assert "I couldn't read 'soonish' as a time." in again and "Try again, or /cancel." in again
    lines.clear()
    await console.say("sam", "20 min ago")
    assert "Where were they last seen" in "\n".join(lines)


async def test_a_concern_that_is_not_a_choice_is_asked_again(console, lines, svc):
    for said in ("/absent", "1", "1", "park", "searched"):
        await console.say("sam", said)
    lines.clear()
    await console.say("sam", "very")
    assert "Choose one:" in "\n".join(lines)
    assert await latest_episode(svc, "C-0042") is None
    await console.say("sam", "3")
    assert (await latest_episode(svc, "C-0042")).concern is Concern.POLICE


async def test_cancel_saves_nothing(console, lines, svc):
    await console.say("sam", "/absent")
    await console.say("sam", "1")
    lines.clear()
    await console.say("sam", "/cancel")
    assert "Cancelled. Nothing was saved." in "\n".join(lines)
    assert await latest_episode(svc, "C-0042") is None
    assert not console.guided.under_way("sam")


async def test_another_command_stops_the_report_and_runs(console, lines, svc):
    await console.say("sam", "/absent")
    lines.clear()
    await console.say("sam", "/status")
    shown = "\n".join(lines)
    assert "The guided report was stopped; nothing was saved from it." in shown
    assert not console.guided.under_way("sam")


async def test_absent_typed_in_full_is_not_guided(console, lines, svc):
    await console.say("sam", "/absent Jay 21:05 out")
    assert "Recorded: C-0042 Jay absent" in "\n".join(lines)
    assert not console.guided.under_way("sam")


async def test_someone_who_may_report_nobody_is_told(console, lines):
    await console.say("admin", "/absent")
    assert "There are no children you can report." in "\n".join(lines)
    assert not console.guided.under_way("admin")
