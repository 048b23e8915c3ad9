"""What the conversation logic needs from the running app: storage, a clock, the presets."""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from config.presets import Preset, load_all_presets
from reminders.clock import Clock, SystemClock
from storage.db import Database
from storage.models import Child


@dataclass
class Services:
    db: Database
    clock: Clock = field(default_factory=SystemClock)
    presets: dict[str, Preset] = field(default_factory=load_all_presets)
    # Times shown outside any one child's area (all five areas keep UK clock time).
    display_zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/London"))

    def preset_for(self, child: Child) -> Preset:
        return self.presets[child.area]
