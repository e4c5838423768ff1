"""Aggregator settings (environment prefix ``AGGREGATOR_``)."""

from __future__ import annotations

from functools import cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from libs.common.settings import ClickHouseSettings, KafkaSettings, ServiceHealthSettings


class AggregatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AGGREGATOR_", extra="ignore")

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    clickhouse: ClickHouseSettings = Field(default_factory=ClickHouseSettings)
    health: ServiceHealthSettings = Field(default_factory=ServiceHealthSettings)
    host: str = "127.0.0.1"
    port: int = Field(default=8004, ge=1, le=65535)
    """HTTP port for ``/metrics`` and ``/health`` (the aggregator has no API of its own)."""
    group_id: str = "tokentally-aggregator"
    max_records: int = Field(default=2_000, ge=1)
    """Kafka messages per batch; what a fetch brings (``max_partition_fetch_bytes`` per
    partition, ~50,000 events over four partitions) bounds it too. Each batch is one insert,
    so fewer, bigger batches also mean fewer parts for ClickHouse to merge."""
    max_partition_fetch_bytes: int = Field(default=8 * 1024 * 1024, ge=64 * 1024)
    """How much one fetch may bring per partition. Kafka's 1 MiB default caps a batch at
    ~4 MiB over four partitions (~6,000 priced events), whatever ``max_records`` says."""
    batch_timeout_ms: int = Field(default=100, ge=1)
    min_batch_interval_ms: int = Field(default=300, ge=0)
    """Start a batch at most this often, so that under load events gather into fewer, bigger
    inserts: each insert writes a part to three tables (events and both totals) that
    ClickHouse must later merge, and looks up the batch's keys once. Adds up to this much
    to the freshness of totals when traffic is light."""
    rebalance_drain_seconds: float = Field(default=30.0, gt=0)
    """How long a rebalance waits for the batch in flight (insert and commit) before the
    partitions move; a batch not done by then is abandoned, not committed, and redelivered
    to the next owner. Above the retry cap, so a batch backing off still finishes."""
    insert_retries: int = Field(default=3, ge=0)
    """Same-token retries of an insert whose outcome is unknown (connection lost, response
    lost): ClickHouse drops the retry if the first attempt was stored."""
    consumer_retry_base_seconds: float = Field(default=0.5, gt=0)
    consumer_retry_max_seconds: float = Field(default=15.0, gt=0)
    """Backoff between attempts at a batch that failed for a transient reason (ClickHouse
    away): doubling from the base up to this cap, so an outage is never a hot loop."""


@cache
def get_settings() -> AggregatorSettings:
    return AggregatorSettings()
