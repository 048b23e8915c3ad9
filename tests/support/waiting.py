"""Waiting for a bot that works in the background, with a bound (never a bare sleep)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any


async def wait_until(predicate: Callable[[], Any], changed: asyncio.Event, timeout: float) -> Any:
    """`predicate()`'s first truthy value, checked whenever `changed` is set (and every
    0.2 s); AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("timed out waiting for the bot")
        changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), min(remaining, 0.2))
