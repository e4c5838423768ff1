"""No duplicate across a rebalance or an ambiguous insert (issue 11, part 2).

Two aggregator instances share the priced topic's partitions; their ClickHouse traffic goes
through a proxy that can lose the response to an insert after ClickHouse stored it. Every
total must stay exact and not even a duplicate raw row may be written.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from decimal import Decimal
from urllib.parse import urlsplit, urlunsplit

import clickhouse_connect
import httpx
import pytest

from deploy.local_clickhouse import free_port
from deploy.services import ServiceProcess
from libs.common.settings import ClickHouseSettings
from tests.e2e.conftest import Pipeline, event, new_client_id, pipeline_env, start_pipeline, wait_until
from tests.e2e.streams import assert_each_counted_once, send_while, spread_stream
from tests.support.proxy import DroppingProxy

pytestmark = pytest.mark.integration

MODEL = "gpt-rebalance"
PERIOD = "2026-10"
INSERT = re.compile(rb"INSERT(\+|%20| )INTO(\+|%20| )priced_events")


@pytest.fixture(scope="module")
def proxied(kafka_bootstrap: str, clickhouse_url: str,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Pipeline, DroppingProxy]]:
    target = urlsplit(clickhouse_url)
    proxy = DroppingProxy((target.hostname or "127.0.0.1", target.port or 8123), INSERT)
    port = proxy.start()
    env = pipeline_env(kafka_bootstrap, clickhouse_url, AGGREGATOR_MIN_BATCH_INTERVAL_MS="50",
                       AGGREGATOR_MAX_RECORDS="20")
    logs = tmp_path_factory.mktemp("logs")
    pipeline = start_pipeline(env, logs, ("pricing", "invoicing", "ingest"))
    via_proxy = urlunsplit(urlsplit(env["CLICKHOUSE_URL"])._replace(
        netloc=f"{target.username}:{target.password}@127.0.0.1:{port}"))
    try:
        for name in ("aggregator", "aggregator-2"):
            service = ServiceProcess("aggregator", {**env, "CLICKHOUSE_URL": via_proxy,
                                                    "AGGREGATOR_PORT": str(free_port())}, logs / f"{name}.log")
            service.start()
            pipeline.services[name] = service
        pipeline.add_price("openai", MODEL, "1.00")
        yield pipeline, proxy
    finally:
        pipeline.close()
        proxy.close()


def raw_rows(pipeline: Pipeline, clients: list[str]) -> int:
    settings = ClickHouseSettings(url=pipeline.env["CLICKHOUSE_URL"])  # type: ignore[arg-type]
    ch = clickhouse_connect.get_client(host=settings.host, port=settings.port, username=settings.username,
                                       password=settings.password, database=settings.database)
    try:
        return int(ch.command("SELECT count() FROM priced_events WHERE has({c:Array(String)}, client_id)",
                              parameters={"c": clients}))
    finally:
        ch.close()


def counted(pipeline: Pipeline, client: str) -> int:
    invoice = pipeline.invoice_if_any(client, PERIOD)
    return sum(line["events"] for line in invoice["lines"]) if invoice else 0


def metric(pipeline: Pipeline, service: str, name: str) -> float:
    text = httpx.get(f"{pipeline.services[service].url}/metrics", timeout=5).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def test_an_insert_whose_response_is_lost_is_counted_once(proxied: tuple[Pipeline, DroppingProxy]) -> None:
    pipeline, proxy = proxied
    client = new_client_id("lost")
    events = [event(client, f"lost-{i}", model=MODEL, input_tokens=1_000 + i) for i in range(300)]
    expected = sum(Decimal(e["input_tokens"]) for e in events) / Decimal(1_000_000)
    # Two lost responses in a row: clickhouse-connect replays an insert once by itself after a
    # remote close; the second loss reaches the aggregator, which retries under the same token.
    proxy.arm(2)
    assert pipeline.send(events).status_code == 202

    invoice = pipeline.wait_for_events(client, PERIOD, len(events), timeout=90)
    wait_until(lambda: proxy.dropped == 2, 30, "the proxy to lose two insert responses")
    time.sleep(2)  # any repeat would land by now
    (line,) = invoice["lines"]
    assert line["events"] == len(events)
    assert Decimal(line["amount_exact"]) == expected
    assert raw_rows(pipeline, [client]) == len(events)  # the stored insert was not written again
    assert counted(pipeline, client) == len(events)
    retried = metric(pipeline, "aggregator", "tokentally_insert_retries_total") + \
        metric(pipeline, "aggregator-2", "tokentally_insert_retries_total")
    assert retried >= 1  # retried under the same token: ClickHouse dropped the repeats


def test_two_aggregators_one_stopped_and_started_mid_stream_count_every_event_once(
        proxied: tuple[Pipeline, DroppingProxy]) -> None:
    pipeline, _ = proxied
    clients, batches = spread_stream("rb", MODEL)
    second = pipeline.services["aggregator-2"]

    def stop_and_start() -> None:
        second.stop()  # SIGTERM mid-stream: its partitions move to the first instance
        time.sleep(3)
        second.start()  # and back: a second rebalance while the first instance is busy

    send_while(pipeline, batches, lambda: sum(counted(pipeline, c) for c in clients), stop_and_start)
    assert_each_counted_once(pipeline, PERIOD, clients, batches)
    assert raw_rows(pipeline, clients) == sum(len(b) for b in batches)  # not even a duplicate raw row
