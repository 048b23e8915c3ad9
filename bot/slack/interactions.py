"""Slack's interactive parts that need the record: button presses, and slash command words.

A button press is its typed command; whether it took effect is read from the record (a
press that lost a race writes nothing), so only a press that did something changes the
message.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from bot.slack.blocks import escape, pressed
from bot.slack.manifest import CARRIER, command_name
from handlers import duty_commands
from handlers.context import Services
from handlers.dispatch import parse_command
from handlers.messages import Refusal
from storage import child_store, duty_store, episode_store
from storage.models import DutyState, Staff

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
    name = command_name(command.strip())
    text = text.strip()
    if name == CARRIER:
        head, _, rest = text.partition(" ")
        name = command_name(head) or "help"
        text = rest.strip()
    return name, text


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


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
