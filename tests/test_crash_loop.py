"""Crash loop (issue #9): the bot as a process, SIGKILLed at random moments and restarted.

20 kills here; bench/crash_loop.py runs 1,000. What is checked is in tests/crash_rig.py.
Deselect with `-m "not crash_loop"` (or `-k "not crash_loop"`).
"""

from __future__ import annotations

import warnings

import pytest

from tests.crash_rig import CrashConfig, run_crash_loop

with warnings.catch_warnings():
    # A marker only for deselecting this slow test; pyproject.toml registers no markers.
    warnings.simplefilter("ignore", pytest.PytestUnknownMarkWarning)
    crash_loop = pytest.mark.crash_loop

SEED = 9


@crash_loop
async def test_crash_loop_with_20_kills(tmp_path):
    result = await run_crash_loop(tmp_path, CrashConfig(kills=20, seed=SEED))
    print(result.report())
    assert result.figures["kills"] == 20
    assert result.figures["episodes finished"] >= 3
    assert not result.problems, result.report()
