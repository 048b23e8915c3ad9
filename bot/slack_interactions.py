"""Slack's interactive parts that need the record: the report form's check, button presses.

The form is checked field by field (so Slack can show each error against its field) and
then becomes the same /absent command a person could type. A button press is its typed
command; whether it took effect is read from the record (a press that lost a race writes
nothing), so only a press that did something changes the message.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from bot.slack_blocks import escape, pressed, read_report
from handlers import duty_commands
from handlers.access import may
from handlers.context import Services
from handlers.dispatch import parse_command
from handlers.messages import Refusal
from handlers.timeparse import TimeParseError, parse_when
from storage import child_store, duty_store, episode_store
from storage.models import Concern, DutyState, Staff

REMEMBERED = 500  # pressed messages, locks and event ids kept in memory

K = TypeVar("K")
V = TypeVar("V")


class Remembered(Generic[K, V]):
    """The most recently used few hundred of something (an LRU dict)."""

    def __init__(self, size: int = REMEMBERED) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        if key in self._items:
            self._items.move_to_end(key)
        return self._items.get(key)

    def put(self, key: K, value: V) -> V:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return value

    def __contains__(self, key: object) -> bool:
        return key in self._items


def command_words(command: str, text: str) -> tuple[str, str]:
    """('/missing', 'absent Jay 21:05 …') or ('/absent', 'Jay 21:05 …') → ('absent', 'Jay …')."""
    name = command.strip().lstrip("/").lower().removeprefix("wb-")
    text = text.strip()
    if name == "missing":
        head, _, rest = text.partition(" ")
        name = head.lstrip("/").lower().removeprefix("wb-") or "help"
        text = rest.strip()
    return name, text


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


async def check_report(
    svc: Services, staff: Staff, values: dict[str, Any]
) -> tuple[dict[str, str], str]:
    """(errors by field, '') or ({}, the /absent command the form stands for)."""
    form = read_report(values)
    errors: dict[str, str] = {}
    child = await child_store.get_child_by_ref(svc.db, form.child) if form.child else None
    if child is None or not may(staff, "report", child):
        errors["child"] = "Choose one of the children you can report."
    zone = svc.preset_for(child).zone if child is not None else svc.display_zone
    when = None
    try:
        if not form.seen:
            raise TimeParseError("Say when they were last seen: 21:10, 20 min ago …")
        when = parse_when(form.seen, svc.clock.now(), zone)
    except TimeParseError as error:
        errors["seen"] = str(error)
    if not form.where:
        errors["where"] = "Say where they were last seen and what happened."
    if not form.done:
        errors["done"] = "Say what you have done so far (searched, called, visited …)."
    try:
        level = Concern(form.concern)
    except ValueError:
        errors["concern"] = "Choose your level of concern."
    if errors or child is None or when is None:
        return errors, ""
    # The form becomes the typed command, so both paths are one rule.
    return {}, (
        f"/absent {child.ref} {when.isoformat()} {form.where}; "
        f"done so far: {form.done} concern {level.value}"
    )


@dataclass(frozen=True)
class Mark:
    """What a button's command could change, as it was before the press."""

    episode_id: int | None = None
    last_event: int = 0
    duty_id: int | None = None


class Presses:
    """Button presses: one at a time per message, read back from the record."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self._locks: Remembered[tuple[str, str], asyncio.Lock] = Remembered()
        self._shown: Remembered[tuple[str, str], tuple[str, list[dict[str, Any]]]] = Remembered()

    def lock(self, key: tuple[str, str]) -> asyncio.Lock:
        return self._locks.get(key) or self._locks.put(key, asyncio.Lock())

    async def mark(self, command: str) -> Mark:
        parsed = parse_command(command)
        if parsed is None or not parsed.args:
            return Mark()
        if parsed.name in ("done", "na"):
            try:
                return Mark(duty_id=duty_commands.parse_duty_label(parsed.args[0]))
            except Refusal:
                return Mark()
        child = await child_store.get_child_by_ref(self.svc.db, parsed.args[0])
        episode = (
            await episode_store.latest_episode_for_child(self.svc.db, child.id) if child else None
        )
        if episode is None:
            return Mark()
        events = await episode_store.events_for_episode(self.svc.db, episode.id)
        return Mark(episode.id, max((e.id for e in events), default=0))

    async def took_effect(self, staff: Staff, before: Mark) -> bool:
        """Did the press change the record, as this person? (A lost race writes nothing.)"""
        if before.duty_id is not None:
            duty = await duty_store.get_duty(self.svc.db, before.duty_id)
            return (
                duty is not None and duty.state is not DutyState.OPEN and duty.closed_by == staff.id
            )
        if before.episode_id is None:
            return False
        events = await episode_store.events_for_episode(self.svc.db, before.episode_id)
        return any(e.id > before.last_event and e.actor_id == staff.id for e in events)

    def pressed_message(
        self, key: tuple[str, str], message: dict[str, Any], line: str
    ) -> tuple[str, list[dict[str, Any]]]:
        """The message as it should now read: buttons gone, who took it added (to what this
        process last set, so two presses on one message both show)."""
        text, blocks = self._shown.get(key) or (
            str(message.get("text") or ""),
            list(message.get("blocks") or []),
        )
        return f"{text}\n{escape(line)}", pressed(blocks, line)

    def shown(self, key: tuple[str, str], text: str, blocks: list[dict[str, Any]]) -> None:
        self._shown.put(key, (text, blocks))
