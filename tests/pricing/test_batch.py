"""Pricing's batch path (``services.pricing.batch.prepare``) writes exactly what it wrote before.

The consumer reads raw messages with msgspec and prices straight into the compact priced rows;
these tests hold it to the bodies of the model path (pydantic's read, ``PricingService.price``,
``encode_priced``) for the same records and the same ``priced_at``, byte for byte, and to the
digest of the bodies pricing wrote before the fast path existed (main at 7c9023f).
"""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
from aiokafka.structs import ConsumerRecord

from bench.workload import Workload, override_bodies
from libs.common.consuming import decode_records
from libs.common.events import UsageRecorded
from services.ingest.records import pack_rows, record_rows
from services.ingest.validation import validate_inputs
from libs.common.failures import Refused
from services.pricing.batch import prepare
from services.pricing.catalog import CatalogPrices
from services.pricing.overrides import PriceOverride, PriceOverrideCreate
from services.pricing.price_book import PriceBook
from services.pricing.publishing import pack_by_client
from services.pricing.service import PricingService

NOW = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)
RECEIVED_AT = datetime(2026, 11, 20, 11, 59, 59, 120_000, tzinfo=UTC)
MAX_BYTES = 64 * 1024  # small enough that the biggest clients' groups split by size too
BATCH = 60
"""Records per consumer batch: several batches, each with its own messages per client."""
BEFORE = "9ee03a717758a56c30921bad075d56dbd1e0faae37631409125abfe2c8413f34"


def _units_override() -> PriceOverride:
    create = PriceOverrideCreate(provider="openai", model="gpt-4o-audio-preview", effective_from=NOW - timedelta(days=30),
                                 input_per_mtok=Decimal("2.5"), output_per_mtok=Decimal("10"),
                                 input_audio_per_mtok=Decimal("40"), output_audio_per_mtok=Decimal("80.000"),
                                 cache_write_1h_per_mtok=Decimal("0.000000000001"))
    return PriceOverride.from_create(create, override_id="units", created_at=NOW - timedelta(days=30))


def book() -> PriceBook:
    overrides = [PriceOverride.from_create(PriceOverrideCreate.model_validate(body), override_id=f"ov-{i}",
                                           created_at=NOW - timedelta(days=365))
                 for i, body in enumerate(override_bodies())]
    return PriceBook(CatalogPrices(), [*overrides, _units_override()])


def edge_events() -> list[dict[str, Any]]:
    """Calls the workload does not make: unit buckets, tiers, odd text, offsets, unpriced ones."""
    at = (NOW - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    rng = random.Random(11)

    def call(number: int, provider: str, model: str, **fields: Any) -> dict[str, Any]:
        return {"event_id": f"edge-{number}", "client_id": f"edge-{number % 3}", "provider": provider,
                "model": model, "timestamp": at, **fields}

    calls = [
        call(0, "anthropic", "claude-sonnet-4-5", input_tokens=20_000, cache_read_tokens=100_000,
             cache_write_tokens=40_000, cache_write_1h_tokens=30_000, output_tokens=5_000, project="p", tags={"a": "b"}),
        call(1, "openai", "gpt-4o-audio-preview", input_tokens=12_000, input_audio_tokens=300_000, output_tokens=7,
             output_audio_tokens=150_001),
        call(2, "openai", "gpt-4o-audio-preview", input_tokens=1, cache_write_1h_tokens=3, cache_image_read_tokens=1),
        call(3, "google", "gemini-2.5-pro", input_tokens=250_000, output_tokens=1, input_image_tokens=17,
             output_image_tokens=3, cache_audio_read_tokens=9),
        call(4, "google", "gemini-2.5-pro", input_tokens=1, output_tokens=10**12),
        call(5, " Anthropic ", "claude-3-5-haiku", input_tokens=1, project="\u2028é😀\"\\"),
        call(6, "openai", "no-such-model", input_tokens=5),
        call(7, "nobody", "gpt-4o", output_tokens=5),
        call(8, "openai", "gpt-4o", timestamp="2026-11-20T12:30:00.5+01:00", input_tokens=0),
        call(9, "openai", "gpt-4o-audio-preview", input_audio_tokens=1),
        call(10, "openai", "gpt-4o", input_tokens=1, tags={"k": ""}, project=""),
    ]
    calls += [call(20 + i, "openai", "gpt-4o-mini", input_tokens=rng.randrange(10**rng.randrange(1, 13)),
                   output_tokens=rng.randrange(10**rng.randrange(1, 7)), reasoning_tokens=rng.randrange(3))
              for i in range(200)]
    return calls


def http_records(items: list[dict[str, Any]], request: int = 1_000) -> list[ConsumerRecord]:
    """The raw messages ingest writes for these items, ``request`` items a POST."""
    messages: list[tuple[bytes, bytes]] = []
    for start in range(0, len(items), request):
        accepted, rejected = validate_inputs(items[start : start + request])
        assert not rejected, rejected[:1]
        by_client: dict[str, list[dict[str, Any]]] = {}
        for row in record_rows(accepted, RECEIVED_AT):
            by_client.setdefault(row["client_id"], []).append(row)
        messages += [(c.encode(), body) for c, rows in by_client.items() for body, _ in pack_rows(rows, 10**6).messages]
    return _records(messages)


def raw_records(items: list[dict[str, Any]]) -> list[ConsumerRecord]:
    """Messages as another producer of the raw topic writes them: only the fields set, 50 a message."""
    received = RECEIVED_AT.isoformat()
    by_client: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        by_client.setdefault(item["client_id"], []).append({**item, "received_at": received})
    return _records([(c.encode(), orjson.dumps(group[i : i + 50]))
                     for c, group in by_client.items() for i in range(0, len(group), 50)])


def _records(messages: list[tuple[bytes, bytes]]) -> list[ConsumerRecord]:
    return [ConsumerRecord("t.usage.recorded.v1", 0, offset, 0, 0, key, body, None, len(key), len(body), ())
            for offset, (key, body) in enumerate(messages)]


def workload_records() -> list[ConsumerRecord]:
    items = [*Workload(60, seed=7, now=NOW).events(3_000), *edge_events()]
    return http_records(items) + raw_records(items[:1_000])


def model_path(service: PricingService, records: list[ConsumerRecord]) -> list[tuple[str, str, bytes]]:
    """What pricing wrote before the fast path: pydantic's read, ``price``, ``pack_by_client``."""
    out: list[tuple[str, str, bytes]] = []
    for start in range(0, len(records), BATCH):  # the consumer's batches
        decoded = decode_records(UsageRecorded, records[start : start + BATCH])
        outcome = service.price(decoded.events, NOW)
        assert not outcome.failed and not decoded.poison
        out += [(topic, client, body)
                for topic, events in (("priced", outcome.priced), ("unpriced", outcome.unpriced))
                for client, body, _, _ in pack_by_client(f"usage.{topic}.v1", events, MAX_BYTES).messages]
    return out


def batch_path(service: PricingService, records: list[ConsumerRecord]) -> list[tuple[str, str, bytes]]:
    out: list[tuple[str, str, bytes]] = []
    for start in range(0, len(records), BATCH):  # the consumer's batches
        batch = prepare(service, records[start : start + BATCH], NOW, MAX_BYTES)
        assert not batch.outcome.failed and not batch.decoded.poison and not batch.priced.refused
        out += [("priced", client, body) for client, body, _, _ in batch.priced.messages]
        out += [("unpriced", client, body) for client, body, _, _ in batch.unpriced.messages]
    return out


def _digest(bodies: list[tuple[str, str, bytes]]) -> str:
    digest = hashlib.sha256()
    for topic, client, body in bodies:
        digest.update(f"{topic}\x00{client}\x00{len(body)}\x00".encode() + body)
    return digest.hexdigest()


def test_the_batch_path_writes_the_model_paths_bytes() -> None:
    service = PricingService(book())
    records = workload_records()
    found = batch_path(service, records)
    assert sorted(found) == sorted(model_path(service, records))
    assert sum(topic == "unpriced" for topic, _, _ in found) >= 3


def test_bodies_are_the_bytes_pricing_wrote_before() -> None:
    """The digest of the bodies main wrote at 7c9023f (pydantic read, ``Decimal`` per event, models)."""
    service = PricingService(book())
    found = sorted(batch_path(service, workload_records()))
    assert _digest(found) == BEFORE


def test_a_message_that_does_not_read_is_poison_with_pydantics_reason() -> None:
    bad = _records([(b"acme", b'[{"event_id": "x"}]'), (b"acme", b"not json"),
                    (b"acme", b'[{"event_id": "e", "client_id": "acme", "provider": "p", "model": "m", '
                              b'"timestamp": "2026-01-01T00:00:00", "received_at": "2026-01-01T00:00:00Z"}]')])
    batch = prepare(PricingService(book()), bad, NOW, MAX_BYTES)
    assert batch.decoded.poison == decode_records(UsageRecorded, bad).poison
    assert len(batch.decoded.poison) == 3 and not batch.decoded.events


def test_an_event_too_large_to_travel_is_dead_lettered_as_the_usage_priced_it_always_was() -> None:
    from libs.common.deadletter import of_event
    from services.pricing.handlers import letters_for

    service = PricingService(book())
    records = http_records([*edge_events()[:2], *Workload(5, seed=1, now=NOW).events(20)])
    batch = prepare(service, records, NOW, max_bytes=300)  # one event's priced message is larger
    decoded = decode_records(UsageRecorded, records)
    models = {e.event_id: e for e in service.price(decoded.events, NOW).priced}
    sources = {e.event_id: s for e, s in zip(decoded.events, decoded.sources, strict=True)}
    refused = batch.priced.refused
    assert len(refused) == len(batch.outcome.priced) and not batch.priced.messages
    letters = letters_for([*refused, *[Refused(c, "x", "processing_error") for c in batch.decoded.events[:3]]],
                          batch.decoded, NOW)
    expected = [of_event(models[r.item[0].event_id], sources[r.item[0].event_id], r.reason, r.error_class)
                for r in refused]
    expected += [of_event(e, s, "x", "processing_error") for e, s in list(zip(decoded.events, decoded.sources))[:3]]
    assert letters == expected
    assert all(letter.source for letter in letters)
