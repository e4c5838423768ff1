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


@cache
def get_settings() -> IngestSettings:
    return IngestSettings()
