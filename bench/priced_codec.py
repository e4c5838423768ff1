"""The priced topic's two formats, per event, in one process: what pricing writes and the aggregator reads.

    uv run --frozen python -m bench.priced_codec [--events 20000]

Prices the benchmark workload's events with the bundled catalog (no server), then times, best
of ``--repeats`` with the GC paused as in the consumers: pricing's encoding of the priced
messages, and the aggregator's read of them up to the rows it inserts, once in the earlier
JSON-array format (pydantic ``PricedRecord``) and once in the compact one
(``libs.common.priced_wire``). Prints µs per event and bytes per event on the topic.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from bench.workload import Workload
from libs.common.events import UsagePriced, UsageRecorded
from libs.common.kafka import EVENTS_PER_MESSAGE, decode_batch, group_by_client, pack
from libs.common.priced_wire import decode_priced, encode_priced
from services.aggregator.checks import priced_problem
from services.aggregator.entries import entries_of
from services.aggregator.rows import PricedRecord, priced_row, rows_json
from services.pricing.catalog import CatalogPrices
from services.pricing.price_book import PriceBook
from services.pricing.service import PricingService

MESSAGE_BYTES = 1024 * 1024


def best_of(repeats: int, work: Callable[[], Any]) -> tuple[float, Any]:
    """The shortest of ``repeats`` runs of ``work`` (seconds), GC paused, and its result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        gc.disable()
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
        gc.enable()
    return best, result


def priced_events(count: int, now: datetime | None = None) -> list[UsagePriced]:
    """The workload's events that the bundled catalog prices (its two private models need overrides);
    the same events every time for one ``now``."""
    now = now or datetime.now(UTC)
    raw = [{**event, "received_at": now.isoformat()} for event in Workload(200, now=now).events(count)]
    recorded = decode_batch(UsageRecorded, orjson.dumps(raw))
    return PricingService(PriceBook(CatalogPrices())).price(recorded, now).priced


def encode(events: list[UsagePriced], encoder: Callable[..., bytes] | None) -> list[bytes]:
    options = {} if encoder is None else {"encode": encoder}
    return [body for group in group_by_client(events).values()
            for body, _ in pack(group, MESSAGE_BYTES, EVENTS_PER_MESSAGE, **options).messages]


def read_earlier(bodies: list[bytes]) -> bytes:
    records = [record for body in bodies for record in decode_batch(PricedRecord, body)]
    return rows_json([priced_row(r) for r in records if priced_problem(r) is None])


def read_compact(bodies: list[bytes]) -> bytes:
    entries = [entry for body in bodies for entry in entries_of(decode_priced(body))]
    return rows_json([entry.row for entry in entries if entry.problem is None])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    events = priced_events(args.events)
    count = len(events)
    print(f"{count:,} priced events, {len(group_by_client(events))} clients\n")
    print(f"{'per event':<34}{'earlier (pydantic)':>20}{'compact (msgspec)':>20}")
    rows: dict[str, list[str]] = {}
    for label, encoder, reader in (("earlier", None, read_earlier), ("compact", encode_priced, read_compact)):
        encoding, bodies = best_of(args.repeats, lambda e=encoder: encode(events, e))  # type: ignore[misc]
        reading, block = best_of(args.repeats, lambda b=bodies, r=reader: r(b))  # type: ignore[misc]
        rows.setdefault("bytes on the priced topic", []).append(f"{sum(map(len, bodies)) / count:,.0f}")
        rows.setdefault("pricing: encode", []).append(f"{encoding / count * 1e6:.2f} µs")
        rows.setdefault("aggregator: read, check, rows", []).append(f"{reading / count * 1e6:.2f} µs")
        rows.setdefault("rows for ClickHouse (bytes)", []).append(f"{len(block) / count:,.0f}")
    for name, (earlier, compact) in rows.items():
        print(f"{name:<34}{earlier:>20}{compact:>20}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
