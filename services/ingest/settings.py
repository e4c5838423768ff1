"""Ingest settings (environment prefix ``INGEST_``)."""

from __future__ import annotations

from functools import cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from libs.common.settings import AuthSettings, KafkaSettings


class IngestSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INGEST_", extra="ignore")

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    publish_timeout_seconds: float = Field(default=10.0, gt=0)
    """How long to wait for Kafka's acks before answering 503."""
    max_age_days: int = Field(default=35, ge=1, le=36_500)
    """Oldest event timestamp an ingest key may send, in days before now (admin keys may
    backfill back to 2000-01-01). 35 days: a whole month plus a few days for late batches."""
    max_future_seconds: int = Field(default=300, ge=0, le=86_400)
    """How far ahead of ingest's clock an event timestamp may be (clients' clock skew)."""
    otlp_client_attribute: str = Field(default="tokentally.client_id", min_length=1)
    """OTLP spans: the attribute naming the client (looked up on the span, then its resource)."""
    otlp_project_attribute: str = Field(default="tokentally.project", min_length=1)
    """OTLP spans: the attribute naming the project (span, then resource); optional on spans."""


@cache
def get_settings() -> IngestSettings:
    return IngestSettings()
