"""The benchmark's throughput phase ends at once when its load fails, instead of waiting
out the count's stall timeout (five minutes) for events that were never accepted."""

from __future__ import annotations

import asyncio
import time

import pytest

from bench.pipeline import counted_while_sending


async def test_a_failed_load_ends_the_phase_at_once() -> None:
    async def refused() -> None:
        await asyncio.sleep(0.05)
        raise RuntimeError("ingest refused a batch: 503")

    async def counting_forever() -> float:
        await asyncio.sleep(60)
        return 0.0

    began = time.monotonic()
    with pytest.raises(RuntimeError, match="503"):
        await counted_while_sending(refused(), counting_forever())
    assert time.monotonic() - began < 5


async def test_the_phase_returns_when_everything_sent_is_counted() -> None:
    async def sent() -> None:
        await asyncio.sleep(0.01)

    async def counted() -> float:
        await asyncio.sleep(0.05)
        return 42.0

    assert await counted_while_sending(sent(), counted()) == 42.0
