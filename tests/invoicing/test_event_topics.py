"""Document events reach their Kafka topics (``invoice.issued.v1``, …) from the outbox, once each."""

from __future__ import annotations

import json
from contextlib import AsyncExitStack

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer

from libs.common.topics import INVOICE_ISSUED, INVOICE_PAID, topic
from services.invoicing.settings import InvoicingSettings
from tests.invoicing.test_api import ADMIN, MARCH, auth, insert_worked_example
from tests.invoicing.test_issuing import Clock, _api, clock, issue, settings  # noqa: F401 - fixtures
from tests.invoicing.test_webhooks import wait_for

pytestmark = pytest.mark.integration


async def test_issue_and_pay_are_published_to_their_topics(settings: InvoicingSettings, clock: Clock) -> None:  # noqa: F811
    fast = settings.model_copy(update={"webhook_poll_seconds": 0.1})
    database_url = fast.database.url.get_secret_value()
    await insert_worked_example(fast.clickhouse)
    async with AsyncExitStack() as stack:
        api = await _api(stack, fast, clock)
        number = (await issue(api, "acme", MARCH)).json()["number"]
        assert (await api.post(f"/v1/invoices/{number}/pay", headers=auth(ADMIN))).status_code == 200

        async def published() -> bool:
            connection = await asyncpg.connect(database_url)
            try:
                return bool(await connection.fetchval(
                    "SELECT count(*) = 2 AND bool_and(published_at IS NOT NULL) FROM outbox_events"))
            finally:
                await connection.close()
        await wait_for(published)

    prefix = fast.kafka.topic_prefix
    consumer = AIOKafkaConsumer(topic(INVOICE_ISSUED, prefix), topic(INVOICE_PAID, prefix),
                                bootstrap_servers=fast.kafka.bootstrap_servers, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=10_000)
        messages = [m for batch in batches.values() for m in batch]
        while len(messages) < 2:
            more = await consumer.getmany(timeout_ms=10_000)
            if not more:
                break
            messages += [m for batch in more.values() for m in batch]
    finally:
        await consumer.stop()
    by_topic = {m.topic: m for m in messages}
    assert sorted(by_topic) == sorted([topic(INVOICE_ISSUED, prefix), topic(INVOICE_PAID, prefix)])
    issued = by_topic[topic(INVOICE_ISSUED, prefix)]
    body = json.loads(issued.value)
    assert (body["type"], body["data"]["number"], body["data"]["total"], issued.key) == (
        "invoice.issued", number, "10.60", b"acme")
    assert dict(issued.headers)["event-id"].decode().startswith("msg_")
    assert len(messages) == 2
