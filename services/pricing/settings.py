"""Pricing settings (environment prefix ``PRICING_``)."""

from __future__ import annotations

from functools import cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from libs.common.settings import AuthSettings, ClickHouseSettings, KafkaSettings, ServiceHealthSettings


class PricingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PRICING_", extra="ignore")

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    clickhouse: ClickHouseSettings = Field(default_factory=ClickHouseSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    health: ServiceHealthSettings = Field(default_factory=ServiceHealthSettings)
    host: str = "127.0.0.1"
    port: int = 8001
    group_id: str = "tokentally-pricing"
    max_records: int = Field(default=500, ge=1)
    """Kafka messages per batch (each holds up to 500 events, often a handful: one per client
    and request). Bigger batches mean fewer, fuller messages out, one per client per batch."""
    max_partition_fetch_bytes: int = Field(default=8 * 1024 * 1024, ge=64 * 1024)
    """How much one fetch may bring per partition. Kafka's 1 MiB default caps a batch at
    ~4 MiB over four partitions (~6,000 priced events), whatever ``max_records`` says."""
    batch_timeout_ms: int = Field(default=50, ge=1)
    refresh_seconds: float = Field(default=5.0, gt=0)
    """How often overrides are reloaded and quarantined events re-driven."""
    consumer_retry_base_seconds: float = Field(default=0.5, gt=0)
    consumer_retry_max_seconds: float = Field(default=15.0, gt=0)
    """Backoff between attempts at a batch that failed for a transient reason (Kafka away)."""


@cache
def get_settings() -> PricingSettings:
    return PricingSettings()
