"""Killing services mid-stream (SIGKILL, no clean shutdown) changes no total."""

from __future__ import annotations

import random
import threading
from decimal import Decimal

import clickhouse_connect
import pytest

from libs.common.money import round_cents
from libs.common.settings import ClickHouseSettings
from tests.e2e.conftest import Pipeline, event, new_client_id, wait_until

pytestmark = pytest.mark.integration

BATCHES = 30
BATCH_SIZE = 400


def test_killed_aggregator_and_pricing_count_every_event_exactly_once(pipeline: Pipeline) -> None:
    client = new_client_id("crash")
    pipeline.add_price("openai", "gpt-crash", "2.50", output_per_mtok="10.00")
    rng = random.Random(7)
    batches = [
        [event(client, f"{client}-{b}-{i}", model="gpt-crash", input_tokens=rng.randint(1, 50_000),
               output_tokens=rng.randint(0, 5_000)) for i in range(BATCH_SIZE)]
        for b in range(BATCHES)
    ]
    resent = batches[3][:50]  # a client retrying part of an earlier batch
    expected_events = BATCHES * BATCH_SIZE
    expected_exact = sum(
        (Decimal(e["input_tokens"]) * Decimal("2.50") + Decimal(e["output_tokens"]) * Decimal("10.00"))
        / Decimal(1_000_000)
        for batch in batches for e in batch
    )

    def send_all() -> None:
        for number, batch in enumerate(batches):
            assert pipeline.send(batch).status_code == 202
            if number == 20:
                assert pipeline.send(resent).status_code == 202

    sender = threading.Thread(target=send_all)
    sender.start()
    aggregator, pricing = pipeline.services["aggregator"], pipeline.services["pricing"]
    wait_until(lambda: _counted(pipeline, client) > 0, 60, "the first events to be counted")
    aggregator.kill()
    pricing.kill()
    pricing.start()
    aggregator.start()
    wait_until(lambda: _counted(pipeline, client) > BATCH_SIZE * 5, 60, "more events after the restart")
    aggregator.kill()
    aggregator.start()
    sender.join(timeout=120)
    assert not sender.is_alive()

    invoice = pipeline.wait_for_events(client, "2026-10", expected_events, timeout=120)

    assert sum(line["events"] for line in invoice["lines"]) == expected_events
    (line,) = invoice["lines"]
    assert Decimal(line["amount_exact"]) == expected_exact
    assert line["amount"] == str(round_cents(expected_exact))
    assert _raw_rows(pipeline, client) == expected_events  # not even a duplicate row was written


def _counted(pipeline: Pipeline, client: str) -> int:
    invoice = pipeline.invoice_if_any(client, "2026-10")
    return sum(line["events"] for line in invoice["lines"]) if invoice else 0


def _raw_rows(pipeline: Pipeline, client: str) -> int:
    settings = ClickHouseSettings(url=pipeline.env["CLICKHOUSE_URL"])  # type: ignore[arg-type]
    ch = clickhouse_connect.get_client(host=settings.host, port=settings.port, username=settings.username,
                                       password=settings.password, database=settings.database)
    try:
        return int(ch.command("SELECT count() FROM priced_events WHERE client_id = {c:String}",
                              parameters={"c": client}))
    finally:
        ch.close()
