"""The loop watchdog sees a blocked event loop, names where it is blocked, and keeps the longest stall."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from libs.common.loop_watchdog import LoopWatchdog


def hold_the_loop(seconds: float) -> None:
    time.sleep(seconds)  # what a synchronous import or query does to every task


async def test_a_blocked_loop_is_reported_with_its_stack(caplog: pytest.LogCaptureFixture) -> None:
    watchdog = LoopWatchdog(threshold=0.3, tick=0.05)
    caplog.set_level(logging.WARNING, logger="libs.common.loop_watchdog")
    await watchdog.start()
    try:
        await asyncio.sleep(0.2)
        assert watchdog.longest < 0.3
        hold_the_loop(0.8)
        await asyncio.sleep(0.2)
    finally:
        await watchdog.stop()
    assert 0.6 < watchdog.longest < 2.0
    text = caplog.text
    assert "hold_the_loop" in text  # the stack names the blocking call, taken while it blocked
    assert "event loop was blocked for" in text


async def test_a_turning_loop_reports_nothing(caplog: pytest.LogCaptureFixture) -> None:
    watchdog = LoopWatchdog(threshold=0.5, tick=0.05)
    caplog.set_level(logging.WARNING, logger="libs.common.loop_watchdog")
    await watchdog.start()
    try:
        for _ in range(10):
            await asyncio.sleep(0.03)
    finally:
        await watchdog.stop()
    assert watchdog.longest < 0.5
    assert "blocked" not in caplog.text
