"""The billing pipeline end to end, on the real broker and ClickHouse."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.e2e.conftest import (
    ACME_KEY,
    INGEST_KEY,
    Pipeline,
    event,
    new_client_id,
    wait_until,
)

pytestmark = pytest.mark.integration


def line_for(invoice: dict, model: str) -> dict:
    (line,) = [line for line in invoice["lines"] if line["model"] == model]
    return line


def test_worked_invoice_from_the_product_brief(pipeline: Pipeline) -> None:
    client = new_client_id("brief")
    pipeline.put_client(client, markup_percent="25")
    pipeline.add_price("openai", "gpt-4o-brief", "2.50")
    pipeline.add_price("anthropic", "claude-3-5-sonnet-brief", "3.00")
    pipeline.add_price("google", "gemini-1.5-pro-brief", "1.25")
    reply = pipeline.send([
        event(client, provider="openai", model="gpt-4o-brief", input_tokens=2_100_000),
        event(client, provider="anthropic", model="claude-3-5-sonnet-brief", input_tokens=890_000),
        event(client, provider="google", model="gemini-1.5-pro-brief", input_tokens=450_000),
    ])
    assert reply.status_code == 202, reply.text
    assert reply.json() == {"accepted": 3, "rejected": []}

    invoice = pipeline.wait_for_events(client, "2026-10", 3)

    assert line_for(invoice, "gpt-4o-brief")["amount"] == "5.25"
    assert line_for(invoice, "claude-3-5-sonnet-brief")["amount"] == "2.67"
    assert line_for(invoice, "gemini-1.5-pro-brief")["amount"] == "0.56"
    assert line_for(invoice, "gpt-4o-brief")["input_tokens"] == 2_100_000
    assert (invoice["base_cost"], invoice["markup"], invoice["total"]) == ("8.48", "2.12", "10.60")
    assert Decimal(invoice["markup_percent"]) == Decimal(25)


def test_provider_usage_objects_are_billed_by_their_buckets(pipeline: Pipeline) -> None:
    client = new_client_id("usage")
    pipeline.add_price("openai", "gpt-usage-test", "1.00", cache_read_per_mtok="0.10", reasoning_per_mtok="1.00")
    pipeline.add_price("anthropic", "claude-usage-test", "1.00", cache_read_per_mtok="0.10",
                       cache_write_per_mtok="1.25")
    pipeline.add_price("google", "gemini-usage-test", "1.00", cache_read_per_mtok="0.25")
    openai_chat = {"prompt_tokens": 2006, "completion_tokens": 300, "total_tokens": 2306,
                   "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
                   "completion_tokens_details": {"reasoning_tokens": 192, "audio_tokens": 0}}
    anthropic = {"input_tokens": 21, "output_tokens": 393, "cache_creation_input_tokens": 188086,
                 "cache_read_input_tokens": 1000, "service_tier": "standard"}
    gemini = {"promptTokenCount": 5000, "candidatesTokenCount": 700, "cachedContentTokenCount": 4000,
              "thoughtsTokenCount": 300, "totalTokenCount": 6000}
    reply = pipeline.send([
        event(client, provider="openai", model="gpt-usage-test", usage=openai_chat),
        event(client, provider="anthropic", model="claude-usage-test", usage=anthropic),
        event(client, provider="google", model="gemini-usage-test", usage=gemini),
    ])
    assert reply.json()["accepted"] == 3, reply.text

    invoice = pipeline.wait_for_events(client, "2026-10", 3)

    openai_line = line_for(invoice, "gpt-usage-test")
    assert [openai_line[k] for k in ("input_tokens", "cache_read_tokens", "output_tokens", "reasoning_tokens")] \
        == [86, 1920, 108, 192]
    anthropic_line = line_for(invoice, "claude-usage-test")
    assert [anthropic_line[k] for k in ("input_tokens", "cache_read_tokens", "cache_write_tokens",
                                        "output_tokens")] == [21, 1000, 188086, 393]
    gemini_line = line_for(invoice, "gemini-usage-test")
    assert [gemini_line[k] for k in ("input_tokens", "cache_read_tokens", "output_tokens", "reasoning_tokens")] \
        == [1000, 4000, 700, 300]
    # 86 + 192 + 108 tokens at $1/M and 1920 at $0.10/M: 0.000386 + 0.000192 = 0.000578 exactly
    assert Decimal(openai_line["amount_exact"]) == Decimal("0.000578")
    # 21 + 393 at $1, 1000 at $0.10, 188086 at $1.25: 0.000414 + 0.0001 + 0.2351075
    assert Decimal(anthropic_line["amount_exact"]) == Decimal("0.2356215")
    assert anthropic_line["amount"] == "0.24"


def test_price_change_mid_month_bills_each_event_at_its_own_price(pipeline: Pipeline) -> None:
    client = new_client_id("change")
    old = pipeline.add_price("openai", "gpt-change", "2.00", effective_from="2026-09-01T00:00:00Z",
                             effective_to="2026-09-15T00:00:00Z")
    new = pipeline.add_price("openai", "gpt-change", "3.00", effective_from="2026-09-15T00:00:00Z")
    pipeline.send([
        event(client, model="gpt-change", timestamp="2026-09-14T23:59:59Z", input_tokens=1_000_000),
        event(client, model="gpt-change", timestamp="2026-09-15T00:00:00Z", input_tokens=1_000_000),
        event(client, model="gpt-change", timestamp="2026-09-20T12:00:00Z", input_tokens=1_000_000),
    ])

    invoice = pipeline.wait_for_events(client, "2026-09", 3)

    by_price = {line["price"]["price_id"]: line for line in invoice["lines"]}
    assert by_price[old["override_id"]]["events"] == 1
    assert by_price[old["override_id"]]["amount"] == "2.00"
    assert by_price[new["override_id"]]["events"] == 2
    assert by_price[new["override_id"]]["amount"] == "6.00"
    assert invoice["base_cost"] == "8.00"


def test_duplicates_and_resends_are_counted_once(pipeline: Pipeline) -> None:
    client = new_client_id("dup")
    pipeline.add_price("openai", "gpt-dup", "1.00")
    first = event(client, "call-1", model="gpt-dup", input_tokens=1_000_000)
    second = event(client, "call-2", model="gpt-dup", input_tokens=2_000_000)
    assert pipeline.send([first, first, second]).json()["accepted"] == 3
    assert pipeline.send([second]).status_code == 202  # a client retry after a timeout

    invoice = pipeline.wait_for_events(client, "2026-10", 2)

    assert sum(line["events"] for line in invoice["lines"]) == 2
    assert invoice["base_cost"] == "3.00"


def test_unpriced_model_is_quarantined_then_priced_when_an_override_arrives(pipeline: Pipeline) -> None:
    client = new_client_id("unpriced")
    model = f"private-finetune-{client}"
    reply = pipeline.send([event(client, "secret-1", model=model, input_tokens=4_000_000)])
    assert reply.json()["accepted"] == 1

    pending = wait_until(
        lambda: [e for e in pipeline.api("pricing").get("/v1/unpriced", params={"client_id": client}).json()],
        30, "the event to be quarantined",
    )
    assert pending[0]["event_id"] == "secret-1"
    assert "no price" in pending[0]["reason"]
    assert pipeline.invoice_if_any(client, "2026-10") is None

    pipeline.add_price("openai", model, "0.50")
    invoice = pipeline.wait_for_events(client, "2026-10", 1)

    assert invoice["base_cost"] == "2.00"
    assert pipeline.api("pricing").get("/v1/unpriced", params={"client_id": client}).json() == []


def test_bad_input_gets_field_errors_and_nothing_is_stored(pipeline: Pipeline) -> None:
    client = new_client_id("bad")
    pipeline.add_price("openai", "gpt-bad", "1.00")
    with pipeline.http("ingest", INGEST_KEY) as ingest:
        malformed = ingest.post("/v1/events", content=b'{"event_id": ', headers={"content-type": "application/json"})
        wrong_type = ingest.post("/v1/events", content=b"event_id=1", headers={"content-type": "text/plain"})
    assert malformed.status_code == 422 and malformed.json()["error"] == "invalid_request"
    assert wrong_type.status_code == 415

    all_bad = pipeline.send([
        event(client, model="gpt-bad", input_tokens=-5),
        event(client, model="gpt-bad", timestamp="2026-10-03T10:00:00"),
        {**event(client, model="gpt-bad"), "surprise": 1},
    ])
    assert all_bad.status_code == 422
    fields = {e["field"] for r in all_bad.json()["rejected"] for e in r["errors"]}
    assert {"input_tokens", "timestamp", "surprise"} <= fields

    mixed = pipeline.send([event(client, "ok-1", model="gpt-bad", input_tokens=1_000_000),
                           event(client, "bad-1", model="gpt-bad", output_tokens="lots")])
    assert mixed.status_code == 202
    assert mixed.json()["accepted"] == 1
    assert mixed.json()["rejected"][0]["index"] == 1
    assert mixed.json()["rejected"][0]["errors"][0]["field"] == "output_tokens"

    invoice = pipeline.wait_for_events(client, "2026-10", 1)
    assert sum(line["events"] for line in invoice["lines"]) == 1
    assert invoice["base_cost"] == "1.00"


def test_auth_scopes_are_enforced(pipeline: Pipeline) -> None:
    pipeline.put_client("acme")
    pipeline.put_client("globex")
    with pipeline.http("invoicing", ACME_KEY) as acme:
        assert acme.get("/v1/clients/acme/invoices/2026-10").status_code == 200
        assert acme.get("/v1/clients/globex/invoices/2026-10").status_code == 403
        assert acme.get("/v1/invoices/2026-10").status_code == 403
        assert acme.put("/v1/clients/acme", json={"name": "Acme", "markup_percent": "0"}).status_code == 403
    with pipeline.http("invoicing", None) as anonymous:
        assert anonymous.get("/v1/clients/acme/invoices/2026-10").status_code == 401
    with pipeline.http("invoicing", "not-a-real-key-at-all") as stranger:
        assert stranger.get("/v1/clients/acme/invoices/2026-10").status_code == 401
    with pipeline.http("ingest", ACME_KEY) as client_key:
        assert client_key.post("/v1/events", json=event("acme")).status_code == 403
    with pipeline.http("invoicing", INGEST_KEY) as ingest_key:
        assert ingest_key.get("/v1/clients/acme/invoices/2026-10").status_code == 403


def test_the_agencys_prices_are_for_admin_keys_only(pipeline: Pipeline) -> None:
    """Override prices are confidential (negotiated rates): a client's key reads none of them."""
    override = pipeline.add_price("openai", "gpt-secret", "0.75", note="negotiated with the vendor")
    paths = ("/v1/prices", "/v1/prices/openai/gpt-secret", "/v1/prices/openai/gpt-4o", "/v1/unpriced")
    for key in (ACME_KEY, INGEST_KEY):
        with pipeline.http("pricing", key) as caller:
            for path in paths:
                reply = caller.get(path)
                assert reply.status_code == 403, (path, reply.text)
                assert "0.75" not in reply.text and "negotiated" not in reply.text
    with pipeline.http("pricing", None) as anonymous:
        assert anonymous.get("/v1/prices/openai/gpt-secret").status_code == 401
    explained = pipeline.api("pricing").get("/v1/prices/openai/gpt-secret").json()
    assert explained["price"]["price_id"] == override["override_id"]


async def test_poison_message_goes_to_dead_letter_and_the_stream_goes_on(pipeline: Pipeline) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    from libs.common.topics import DEAD_LETTER, USAGE_RECORDED, topic

    client = new_client_id("poison")
    pipeline.add_price("openai", "gpt-poison", "1.00")
    prefix = pipeline.env["KAFKA_TOPIC_PREFIX"]
    producer = AIOKafkaProducer(bootstrap_servers=pipeline.env["KAFKA_BOOTSTRAP_SERVERS"], acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic(USAGE_RECORDED, prefix), b'[{"event_id": "x"}]', key=client.encode())
    finally:
        await producer.stop()
    assert pipeline.send([event(client, model="gpt-poison", input_tokens=1_000_000)]).status_code == 202

    invoice = pipeline.wait_for_events(client, "2026-10", 1)
    assert invoice["base_cost"] == "1.00"

    consumer = AIOKafkaConsumer(topic(DEAD_LETTER, prefix), bootstrap_servers=pipeline.env["KAFKA_BOOTSTRAP_SERVERS"],
                                auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=5000)
    finally:
        await consumer.stop()
    records = [r for rs in batches.values() for r in rs if r.key == client.encode()]
    assert len(records) == 1
    headers = dict(records[0].headers)
    assert b"UsageRecorded" in headers["x-reason"]
    assert headers["x-source"].startswith(topic(USAGE_RECORDED, prefix).encode())
