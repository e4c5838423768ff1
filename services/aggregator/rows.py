"""Kafka message → ClickHouse row mapping for the aggregator's tables."""

from __future__ import annotations

from typing import Any

from libs.common.events import UsagePriced, UsageUnpriced

PRICED_COLUMNS = (
    "client_id", "event_id", "timestamp", "received_at", "priced_at", "provider", "model", "project", "tags",
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens",
    "price_source", "price_id", "price_effective_from", "price_tier",
    "input_per_mtok", "output_per_mtok", "cache_read_per_mtok", "cache_write_per_mtok", "reasoning_per_mtok",
    "input_usd", "output_usd", "cache_read_usd", "cache_write_usd", "reasoning_usd", "cost_usd",
)

UNPRICED_COLUMNS = (
    "client_id", "event_id", "provider", "model", "timestamp", "reason", "detected_at", "payload", "status", "version",
)


def priced_row(event: UsagePriced) -> list[Any]:
    price, cost = event.price, event.cost
    return [
        event.client_id, event.event_id, event.timestamp, event.received_at, event.priced_at,
        event.provider, event.model, event.project or "", event.tags,
        event.input_tokens, event.output_tokens, event.cache_read_tokens, event.cache_write_tokens,
        event.reasoning_tokens,
        price.source, price.price_id, price.effective_from, price.tier,
        price.input_per_mtok, price.output_per_mtok, price.cache_read_per_mtok, price.cache_write_per_mtok,
        price.reasoning_per_mtok,
        cost.input_usd, cost.output_usd, cost.cache_read_usd, cost.cache_write_usd, cost.reasoning_usd,
        cost.total_usd,
    ]


def unpriced_row(event: UsageUnpriced, *, status: str, version: int) -> list[Any]:
    payload = event.model_dump_json(exclude={"reason", "detected_at"})
    return [
        event.client_id, event.event_id, event.provider, event.model, event.timestamp, event.reason,
        event.detected_at, payload, status, version,
    ]
