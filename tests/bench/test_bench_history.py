"""The benchmark's history mode on the session's Kafka and ClickHouse: history is stored the
way the pipeline stores it, and the run's own totals stay exact beside it.

Small sizes (speed is not asserted: BENCHMARKS.md holds the measured figures). What must
hold: history rows are in ``priced_events`` for the active clients, the keys of the events
stored inside the idempotency window are in ``event_keys`` under the day they were stored
(so the aggregator's check finds them), the older ones are not (the TTL dropped them), and
the run's totals equal the recomputed ones with the history's invoice lines left out.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import SecretStr

from bench.bulk import HISTORY_SOURCE
from bench.history import HistorySettings, print_history, run
from bench.pipeline import BenchSettings
from libs.common.clickhouse import connect
from libs.common.schema import EVENT_KEY, IDEMPOTENCY_WINDOW_DAYS
from libs.common.settings import ClickHouseSettings
from services.aggregator.store import PricedEventStore

pytestmark = pytest.mark.integration


def test_history_is_stored_as_the_pipeline_stores_it_and_the_run_stays_exact(
    kafka_bootstrap: str, clickhouse_url: str, tmp_path: Path
) -> None:
    bench = BenchSettings.quick_run(kafka_bootstrap=kafka_bootstrap, clickhouse_url=clickhouse_url,
                                    results_dir=str(tmp_path), mode="kafka")
    history = HistorySettings(levels=[0, 30_000], days=60, fresh_rate=500, lookup_repeats=2,
                              old_lookup_repeats=1, settle_seconds=5)
    report = run(bench, history)
    print_history(report)

    correctness = report["results"]["correctness"]
    assert correctness["ok"], correctness
    assert correctness["duplicates_sent"] > 0
    rounds = report["results"]["history"]
    assert [r["stored"] for r in rounds] == [0, 30_000]
    assert all(r["freshness"]["samples"] > 0 and r["lookup"]["new"]["repeats"] == 2 for r in rounds)
    asyncio.run(_check_database(clickhouse_url, f"bench_{report['run_id']}"))


async def _check_database(clickhouse_url: str, database: str) -> None:
    client = await connect(ClickHouseSettings(url=SecretStr(f"{clickhouse_url}/{database}")))
    try:
        async def scalar(sql: str) -> int:
            return int((await client.query(sql)).result_rows[0][0])

        history = f"price_source = '{HISTORY_SOURCE}'"
        in_window = f"toDate(inserted_at) >= today() - {IDEMPOTENCY_WINDOW_DAYS}"
        assert await scalar(f"SELECT count() FROM priced_events WHERE {history}") == 30_000
        assert await scalar(f"SELECT uniqExact(event_id) FROM priced_events WHERE {history}") == 30_000
        assert await scalar(f"SELECT min(length(event_id)) FROM priced_events WHERE {history}") == 32
        # history belongs to the run's own clients, the biggest with the most
        assert await scalar(f"SELECT countIf(client_id NOT LIKE 'b%-c%') FROM priced_events WHERE {history}") == 0
        recent = await scalar(f"SELECT count() FROM priced_events WHERE {history} AND {in_window}")
        assert 0 < recent < 30_000  # 60 days of history: about 8/60 of it in the window
        # each in-window key filed under the day its event was stored; none of the older ones
        filed = await scalar(
            f"SELECT count() FROM event_keys WHERE (key, received_day) IN (SELECT {EVENT_KEY}, toDate(inserted_at) "
            f"FROM priced_events WHERE {history} AND {in_window})")
        assert filed == recent
        stale = await scalar(f"SELECT count() FROM event_keys WHERE key IN (SELECT {EVENT_KEY} FROM priced_events "
                             f"WHERE {history} AND NOT {in_window})")
        assert stale == 0
        # the totals views counted the history (its own invoice lines)
        assert await scalar(f"SELECT sum(events) FROM usage_totals_monthly WHERE {history}") == 30_000
        # and the aggregator's check sees exactly the in-window ones as stored
        sample = (await client.query(
            f"SELECT client_id, event_id, {in_window} FROM priced_events WHERE {history} "
            "ORDER BY cityHash64(event_id) LIMIT 2000")).result_rows
        found = await PricedEventStore(client).existing_keys([(c, e) for c, e, _ in sample])
        assert found == {(c, e) for c, e, recent_ in sample if recent_}
    finally:
        await client.close()
