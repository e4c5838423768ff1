"""Time the aggregator's duplicate check against the events already stored.

    uv run python -m bench.dedup_lookup --clickhouse-url http://tokentally:tokentally@127.0.0.1:8123 \\
        --stored 10000000 [--stored ...]

For each stored count: a fresh database, that many priced events bulk-inserted
(``bench/bulk.py``: random 128-bit-like ids over 20 clients), then a batch of 5,000 new
random UUID keys over the same 20 clients looked up the way the aggregator does
(median of 5). Two cases per count, since the lookup reads only ``event_keys``:
``in window`` (every stored event was stored today: the worst case, a window of that
much traffic) and ``history`` (the same events stored before the window: the keys
table holds none of them). The old query (every granule of the clients' events in
``priced_events``) is timed alongside, for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

from pydantic import SecretStr

from bench.bulk import bulk_insert
from libs.common.clickhouse import connect, ensure_schema
from libs.common.settings import ClickHouseSettings
from services.aggregator.store import KEYS_TABLE, PricedEventStore, existing_keys_query

CLIENTS = 20
BATCH = 5_000


def _old_query(sql_keys: str) -> str:
    return ("SELECT client_id, event_id FROM priced_events "
            f"WHERE client_id IN (SELECT client_id FROM {sql_keys}) "
            f"AND (client_id, event_id) IN (SELECT client_id, event_id FROM {sql_keys})")


async def _time(run: object, trials: int = 5) -> float:
    times = []
    for _ in range(trials):
        started = time.perf_counter()
        await run()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


async def measure(url: str, stored: int) -> dict[str, float]:
    settings = ClickHouseSettings(url=SecretStr(f"{url}/dedup_bench_{uuid.uuid4().hex[:8]}"))
    await ensure_schema(settings)
    client = await connect(settings)
    try:
        if stored:
            await bulk_insert(client, stored, clients=CLIENTS)
        store = PricedEventStore(client)

        def batch() -> list[tuple[str, str]]:
            return [(f"synth-{i % CLIENTS:04d}", str(uuid.uuid4())) for i in range(BATCH)]

        async def new_lookup() -> None:
            await store.existing_keys(batch())

        async def old_lookup() -> None:
            _, keys_table = existing_keys_query(batch())
            await client.query(_old_query(KEYS_TABLE), external_data=keys_table)

        result = {"new_in_window_ms": await _time(new_lookup), "old_ms": await _time(old_lookup)}
        await client.command("ALTER TABLE event_keys DROP PARTITION tuple(today())")
        result["new_history_ms"] = await _time(new_lookup)
        await client.command(f"DROP DATABASE {settings.database}")
        return result
    finally:
        await client.close()


async def main_async(url: str, counts: list[int]) -> None:
    print(f"{'stored':>12} {'old query':>12} {'new, all in window':>20} {'new, history':>14}")
    for stored in counts:
        r = await measure(url, stored)
        print(f"{stored:>12,} {r['old_ms']:>10.0f}ms {r['new_in_window_ms']:>18.0f}ms {r['new_history_ms']:>12.0f}ms",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clickhouse-url", required=True, help="http://user:password@host:port")
    parser.add_argument("--stored", type=int, action="append", required=True)
    args = parser.parse_args()
    asyncio.run(main_async(args.clickhouse_url, args.stored))


if __name__ == "__main__":
    main()
