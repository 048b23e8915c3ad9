"""Crash loop for texts (issue 21): no SMS lost or sent twice as two messages across kills,
and an ACK reply processed once. What is checked is in tests/support/crash_sms.py."""

from __future__ import annotations

import logging

import pytest

from tests.support.crash_rig import CrashConfig
from tests.support.crash_sms import run_sms_crash_loop


@pytest.mark.crash_loop
@pytest.mark.timeout(300)
async def test_texts_survive_kills_once_each_and_an_ack_reply_counts_once(tmp_path):
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)  # requests cut by a kill
    config = CrashConfig(
        kills=12, seed=21, children=3, command_timeout=60, finish_timeout=90, drain_timeout=60
    )
    result = await run_sms_crash_loop(tmp_path, config)
    print(result.report())
    assert result.figures["kills"] >= 6
    assert not result.problems, result.report()
