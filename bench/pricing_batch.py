"""Pricing's batch path in one process, no Kafka: CPU µs per event to read, price and write a batch.

    uv run --frozen python -m bench.pricing_batch [--events 40000] [--source http|kafka|both]

Builds ``usage.recorded.v1`` records from the benchmark workload exactly as they reach pricing:
``--source http`` through ingest's own code (``validate_inputs``, ``record_rows``, ``pack_rows``
per 1,000-event request: every field written, few events per message), ``--source kafka`` as
``bench.pipeline --mode kafka`` writes the raw topic (``bench.load.kafka_ticks``: the fields the
workload sets, ~25 events per message). Then times, best of ``--repeats`` with the GC paused as
in the consumer, pricing's batch work on ``--batch`` records at a time: read the records, price
the events (bundled catalog plus the workload's two overrides), write the priced and unpriced
message bodies (``services.pricing.batch.prepare``). Prints µs per event for each step and the
whole, per source.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka.structs import ConsumerRecord

from bench.load import kafka_ticks
from bench.workload import Workload, override_bodies
from services.ingest.records import pack_rows, record_rows
from services.ingest.validation import validate_inputs
from services.pricing.catalog import CatalogPrices
from services.pricing.overrides import PriceOverride, PriceOverrideCreate
from services.pricing.price_book import PriceBook
from services.pricing.service import PricingService

MESSAGE_BYTES = 1024 * 1024
TOPIC = "bench.usage.recorded.v1"


def http_bodies(events: list[dict[str, Any]], request: int = 1_000) -> list[tuple[bytes, bytes]]:
    """(key, body) of each raw message ingest writes for ``request``-event POSTs of ``events``."""
    received_at = datetime.now(UTC)
    out: list[tuple[bytes, bytes]] = []
    for start in range(0, len(events), request):
        accepted, rejected = validate_inputs(events[start : start + request])
        assert not rejected, rejected[:1]
        by_client: dict[str, list[dict[str, Any]]] = {}
        for row in record_rows(accepted, received_at):
            by_client.setdefault(row["client_id"], []).append(row)
        for client_id, rows in by_client.items():
            out.extend((client_id.encode(), body) for body, _ in pack_rows(rows, MESSAGE_BYTES).messages)
    return out


def kafka_bodies(events: list[dict[str, Any]]) -> list[tuple[bytes, bytes]]:
    """(key, body) of each raw message ``bench.pipeline --mode kafka`` writes."""
    return [message for tick in kafka_ticks(events, 10_000) for message in tick.messages]


def records_of(messages: list[tuple[bytes, bytes]]) -> list[ConsumerRecord]:
    return [ConsumerRecord(TOPIC, offset % 6, offset, 0, 0, key, body, None, len(key), len(body), ())
            for offset, (key, body) in enumerate(messages)]


def book() -> PriceBook:
    created = datetime(2020, 1, 1, tzinfo=UTC)
    overrides = [PriceOverride.from_create(PriceOverrideCreate.model_validate(body), override_id=f"bench-{i}",
                                           created_at=created)
                 for i, body in enumerate(override_bodies())]
    return PriceBook(CatalogPrices(), overrides)


def best_of(repeats: int, work: Callable[[], Any]) -> float:
    """The shortest of ``repeats`` runs of ``work`` (seconds), GC paused as in the consumer."""
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        gc.disable()
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
        gc.enable()
    return best


def measure(records: Sequence[ConsumerRecord], batch: int, repeats: int) -> dict[str, float]:
    """µs per event of each step and of the whole batch path."""
    from services.pricing.batch import decode, encode, prepare

    service = PricingService(book())
    now = datetime.now(UTC)
    batches = [records[i : i + batch] for i in range(0, len(records), batch)]
    decoded = [decode(b) for b in batches]
    events = sum(len(d.events) for d in decoded)
    outcomes = [service.price_calls(d.events, now) for d in decoded]
    assert not any(o.unpriced or o.failed for o in outcomes), "every workload event has a price"
    figures = {
        "read": best_of(repeats, lambda: [decode(b) for b in batches]),
        "price": best_of(repeats, lambda: [service.price_calls(d.events, now) for d in decoded]),
        "write": best_of(repeats, lambda: [encode(o, MESSAGE_BYTES) for o in outcomes]),
        "whole": best_of(repeats, lambda: [prepare(service, b, now, MESSAGE_BYTES) for b in batches]),
    }
    return {name: seconds / events * 1e6 for name, seconds in figures.items()} | {
        "events": events, "events_per_message": events / len(records)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--batch", type=int, default=500, help="records per consumer batch (max_records)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--source", choices=("http", "kafka", "both"), default="both")
    args = parser.parse_args(argv)
    workload = Workload(400)
    events = workload.events(args.events)
    sources = ("http", "kafka") if args.source == "both" else (args.source,)
    print(f"{'µs per event':<14}{'events/msg':>11}{'read':>8}{'price':>8}{'write':>8}{'whole':>8}")
    for source in sources:
        messages = http_bodies(events) if source == "http" else kafka_bodies(events)
        figures = measure(records_of(messages), args.batch, args.repeats)
        print(f"{source:<14}{figures['events_per_message']:>11.1f}{figures['read']:>8.2f}{figures['price']:>8.2f}"
              f"{figures['write']:>8.2f}{figures['whole']:>8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

