"""Pricing keeps its event loop turning from start-up on, so it never drops out of its consumer groups.

The defect this guards: clickhouse-connect imports pandas and numpy on a client's first
insert. Pricing's first insert is the first price override an admin adds, right after
start-up; the import held pricing's event loop for 1.5 s on an idle machine and 7-20 s on a
loaded one, aiokafka's heartbeats with it, and the broker dropped pricing from both of its
groups: nothing was priced until it rejoined. Pricing runs alone here, as a process on the
real Kafka and ClickHouse; the test adds overrides as an admin would, sends recorded events
straight to the raw topic and reads the priced ones back, then asks pricing's loop
watchdog (``/metrics``) for the longest time its loop went without turning.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from libs.common.priced_wire import as_priced_json, decode_priced
from libs.common.topics import USAGE_PRICED, USAGE_RECORDED, topic
from tests.e2e.conftest import Pipeline, new_client_id, pipeline_env, start_pipeline

pytestmark = pytest.mark.integration

#: Well under the 10 s session timeout, and under what the import alone took on an idle machine.
MAX_STALL_SECONDS = 1.0


@pytest.fixture(scope="module")
def pricing(kafka_bootstrap: str, clickhouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    env = pipeline_env(kafka_bootstrap, clickhouse_url)
    running = start_pipeline(env, tmp_path_factory.mktemp("logs"), ("pricing",))
    try:
        yield running
    finally:
        running.close()


def recorded(client: str, model: str) -> dict[str, object]:
    now = datetime.now(UTC).isoformat()
    return {"event_id": uuid.uuid4().hex, "client_id": client, "provider": "openai", "model": model,
            "timestamp": now, "received_at": now, "input_tokens": 1_000_000}


async def price_round_trip(pipeline: Pipeline, events: list[dict[str, object]], timeout: float) -> list[dict]:
    """Produce ``events`` to the raw topic; return their priced forms as pricing publishes them."""
    prefix, servers = pipeline.env["KAFKA_TOPIC_PREFIX"], pipeline.env["KAFKA_BOOTSTRAP_SERVERS"]
    wanted = {e["event_id"] for e in events}
    consumer = AIOKafkaConsumer(topic(USAGE_PRICED, prefix), bootstrap_servers=servers,
                                auto_offset_reset="earliest", group_id=None)
    producer = AIOKafkaProducer(bootstrap_servers=servers, acks="all")
    await consumer.start()
    await producer.start()
    found: list[dict] = []
    try:
        for event in events:
            await producer.send_and_wait(topic(USAGE_RECORDED, prefix), orjson.dumps([event]),
                                         key=str(event["client_id"]).encode())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(found) < len(wanted):
            for records in (await consumer.getmany(timeout_ms=500)).values():
                messages = [decode_priced(r.value) for r in records]
                found += [as_priced_json(m, e) for m in messages for e in m.events if e.event_id in wanted]
    finally:
        await producer.stop()
        await consumer.stop()
    return found


def longest_stall(pipeline: Pipeline) -> float:
    reply = pipeline.http("pricing", key=None).get("/metrics")
    assert reply.status_code == 200
    match = re.search(r"^tokentally_event_loop_stall_max_seconds (\S+)$", reply.text, re.MULTILINE)
    assert match, "pricing's /metrics has no loop watchdog gauge"
    return float(match.group(1))


def test_first_override_and_first_batch_leave_the_loop_turning(pricing: Pipeline) -> None:
    client = new_client_id("startup")
    models = [f"gpt-startup-{n}" for n in range(3)]
    for model in models:  # the first one is pricing's first ClickHouse insert
        pricing.add_price("openai", model, "2.00")

    priced = asyncio.run(price_round_trip(pricing, [recorded(client, m) for m in models], timeout=30))

    assert sorted(e["model"] for e in priced) == models
    assert all(e["price"]["source"] == "override" for e in priced), priced
    stall = longest_stall(pricing)
    log = Path(pricing.services["pricing"].log_path).read_text()
    assert stall < MAX_STALL_SECONDS, f"pricing's event loop stood still for {stall:.1f}s:\n{log[-4000:]}"
    assert "Heartbeat failed" not in log and "Heartbeat session expired" not in log, log[-4000:]
