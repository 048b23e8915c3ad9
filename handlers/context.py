"""What the conversation logic needs from the running app: storage, a clock, the presets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from config.presets import Preset, load_all_presets
from config.settings import DISPLAY_TIMEZONE
from handlers.messages import Chat
from reminders.clock import Clock, SystemClock
from storage.db import Database
from storage.models import Child, Staff


@dataclass
class Services:
    db: Database
    clock: Clock = field(default_factory=SystemClock)
    presets: dict[str, Preset] = field(default_factory=load_all_presets)
    # Times shown outside any one child's area.
    display_zone: ZoneInfo = field(default_factory=lambda: ZoneInfo(DISPLAY_TIMEZONE))

    def preset_for(self, child: Child) -> Preset:
        return self.presets[child.area]


@dataclass(frozen=True)
class Step:
    """Everything an operation needs about the moment it runs."""

    svc: Services
    staff: Staff
    now: datetime
    chat: Chat | None = None
