"""Aggregator settings (environment prefix ``AGGREGATOR_``)."""

from __future__ import annotations

from functools import cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from libs.common.settings import ClickHouseSettings, KafkaSettings


class AggregatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AGGREGATOR_", extra="ignore")

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    clickhouse: ClickHouseSettings = Field(default_factory=ClickHouseSettings)
    group_id: str = "tokentally-aggregator"
    max_records: int = Field(default=300, ge=1)
    """Kafka messages per batch (each holds up to 500 events, so at most 150,000 events and a
    few hundred MB). Each batch is one insert, so fewer, bigger batches also mean fewer parts
    for ClickHouse to merge."""
    batch_timeout_ms: int = Field(default=100, ge=1)


@cache
def get_settings() -> AggregatorSettings:
    return AggregatorSettings()
