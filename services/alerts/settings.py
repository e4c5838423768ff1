"""Alerts settings (environment prefix ``ALERTS_``; Kafka, ClickHouse and keys keep their own)."""

from __future__ import annotations

from functools import cache

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from libs.common.settings import AuthSettings, ClickHouseSettings, KafkaSettings, ServiceHealthSettings
from services.alerts.delivery import RetryPolicy


class AlertsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ALERTS_", extra="ignore")

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    clickhouse: ClickHouseSettings = Field(default_factory=ClickHouseSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    host: str = "127.0.0.1"
    port: int = Field(default=8003, ge=1, le=65535)

    group_id: str = "tokentally-alerts"
    max_records: int = Field(default=500, ge=1)
    batch_timeout_ms: int = Field(default=20, ge=1)
    health: ServiceHealthSettings = Field(default_factory=ServiceHealthSettings)
    consumer_retry_base_seconds: float = Field(default=0.5, gt=0)
    consumer_retry_max_seconds: float = Field(default=15.0, gt=0)
    """Backoff between attempts at a batch that failed for a transient reason (Kafka away)."""

    sweep_seconds: float = Field(default=30.0, gt=0)
    """How often every watched client this instance owns is re-evaluated and due retries run.
    Catches what no spend update announces: budget or threshold edits, new notify targets,
    deliveries waiting for their next round, and anything missed while ClickHouse was away."""
    late_grace_hours: float = Field(default=24.0, ge=0)
    """Usage of last month that arrives this long into the new one still alerts for last month."""
    forecast_min_days: float = Field(default=3.0, ge=0)
    """No month-end projection before this much of the month has passed."""
    top_models: int = Field(default=3, ge=0, le=20)

    attempts_per_round: int = Field(default=3, ge=1)
    max_attempts: int = Field(default=18, ge=1)
    retry_base_seconds: float = Field(default=2.0, gt=0)
    retry_max_seconds: float = Field(default=3600.0, gt=0)
    send_timeout_seconds: float = Field(default=30.0, gt=0)
    """Longest wait for one apprise delivery attempt."""
    sending_lease_seconds: float = Field(default=300.0, gt=0)
    """A ``sending`` row not updated for this long was interrupted (crash) and is retried."""
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            attempts_per_round=self.attempts_per_round,
            max_attempts=self.max_attempts,
            base_seconds=self.retry_base_seconds,
            max_seconds=self.retry_max_seconds,
        )

    @model_validator(mode="after")
    def _lease_outlasts_a_round(self) -> AlertsSettings:
        """Within a round a row is refreshed after every attempt; the lease must outlast the gap."""
        longest_gap = self.send_timeout_seconds + min(
            self.retry_max_seconds, self.retry_base_seconds * 2 ** max(0, self.attempts_per_round - 2)
        )
        if self.sending_lease_seconds <= longest_gap:
            raise ValueError(f"sending_lease_seconds must exceed {longest_gap:g}s (one attempt plus one backoff)")
        return self


@cache
def get_settings() -> AlertsSettings:
    """Built on first use, not at import, so tests and tools can set the environment first."""
    return AlertsSettings()
