"""Two pricing and two aggregator instances (issue 11, part 4): killing one of each mid-stream loses and doubles nothing.

Each pair shares its topic's partitions in one consumer group. A pricing instance killed with
SIGKILL leaves its batch uncommitted: the other instance prices it again, and the aggregators'
duplicate check drops what was already stored. An aggregator killed mid-insert leaves the
batch to its twin, whose insert under the same token ClickHouse drops if the first got in.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import Pipeline, pipeline_env, start_pipeline
from tests.e2e.streams import assert_each_counted_once, send_while, spread_stream
from tests.e2e.test_rebalance import counted, raw_rows

pytestmark = pytest.mark.integration

MODEL = "gpt-scale-out"
PERIOD = "2026-10"


@pytest.fixture(scope="module")
def doubled(kafka_bootstrap: str, clickhouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    env = pipeline_env(kafka_bootstrap, clickhouse_url, AGGREGATOR_MIN_BATCH_INTERVAL_MS="50",
                       AGGREGATOR_MAX_RECORDS="20", PRICING_MAX_RECORDS="20")
    pipeline = start_pipeline(env, tmp_path_factory.mktemp("logs"), ("pricing", "aggregator", "invoicing", "ingest"),
                              replicas={"pricing": 2, "aggregator": 2})
    try:
        pipeline.add_price("openai", MODEL, "1.00")
        yield pipeline
    finally:
        pipeline.close()


def test_one_pricing_and_one_aggregator_killed_mid_stream_count_every_event_once(doubled: Pipeline) -> None:
    pipeline = doubled
    clients, batches = spread_stream("so", MODEL)

    def kill_and_start() -> None:
        for name in ("pricing-2", "aggregator-2"):
            pipeline.services[name].kill()  # SIGKILL: no goodbye to the group, batches in flight uncommitted
        time.sleep(2)
        for name in ("pricing-2", "aggregator-2"):
            pipeline.services[name].start()

    send_while(pipeline, batches, lambda: sum(counted(pipeline, c) for c in clients), kill_and_start)
    assert_each_counted_once(pipeline, PERIOD, clients, batches)
    assert raw_rows(pipeline, clients) == sum(len(b) for b in batches)  # not even a duplicate raw row
