"""Two pricing and two aggregator instances (issue 11, part 4): killing one of each mid-stream loses and doubles nothing.

Each pair shares its topic's partitions in one consumer group. A pricing instance killed with
SIGKILL leaves its batch uncommitted: the other instance prices it again, and the aggregators'
duplicate check drops what was already stored. An aggregator killed mid-insert leaves the
batch to its twin, whose insert under the same token ClickHouse drops if the first got in.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest

from tests.e2e.conftest import Pipeline, event, new_client_id, pipeline_env, start_pipeline, wait_until
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
    clients = [new_client_id("so") for _ in range(8)]  # spread over every partition
    batches = [[event(clients[(b + i) % len(clients)], f"{b}-{i}", model=MODEL, input_tokens=1_000 + b * 7 + i)
                for i in range(100)] for b in range(40)]
    expected = {c: [e for batch in batches for e in batch if e["client_id"] == c] for c in clients}
    done = threading.Event()

    def send_all() -> None:
        for batch in batches:
            assert pipeline.send(batch).status_code == 202
            time.sleep(0.15)
        done.set()

    sender = threading.Thread(target=send_all)
    sender.start()
    wait_until(lambda: sum(counted(pipeline, c) for c in clients) > 300, 60, "the first events counted")
    for name in ("pricing-2", "aggregator-2"):
        pipeline.services[name].kill()  # SIGKILL: no goodbye to the group, batches in flight uncommitted
    time.sleep(2)
    for name in ("pricing-2", "aggregator-2"):
        pipeline.services[name].start()
    sender.join(timeout=180)
    assert done.is_set()

    for client in clients:
        invoice = pipeline.wait_for_events(client, PERIOD, len(expected[client]), timeout=120)
        (line,) = invoice["lines"]
        assert line["events"] == len(expected[client]), client
        assert Decimal(line["amount_exact"]) == sum(Decimal(e["input_tokens"]) for e in expected[client]) / 10**6
    assert raw_rows(pipeline, clients) == sum(len(b) for b in batches)  # not even a duplicate raw row
