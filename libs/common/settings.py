"""Settings shared by every service, read from the environment.

Each service composes these into its own ``Settings`` class and builds it through a
cached ``get_settings()``; nothing is read at import time.
"""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, computed_field
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore")

    bootstrap_servers: str = "127.0.0.1:9092"
    topic_prefix: str = ""
    """Namespace for every topic (tests use one per test)."""
    topic_partitions: int = Field(default=4, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    max_message_bytes: int = Field(default=1024 * 1024, ge=16 * 1024)
    """Largest message body a producer here sends: batches of events are split to fit
    (by bytes as well as by count). Topics are created with ``max.message.bytes`` this
    plus ``MESSAGE_HEADROOM_BYTES`` (record headers, batch framing, dead-letter headers)."""
    request_timeout_ms: int = Field(default=10_000, ge=1_000)
    """How long a producer waits for the broker's answer to one produce request before it
    counts as failed (transient: ingest answers 503, consumers retry)."""


class ServiceHealthSettings(BaseSettings):
    """When a consumer's ``/health`` says "degraded" (environment prefix ``TOKENTALLY_HEALTH_``)."""

    model_config = SettingsConfigDict(env_prefix="TOKENTALLY_HEALTH_", extra="ignore")

    poll_seconds: float = Field(default=5.0, gt=0)
    """How often committed offsets, end offsets and the dead-letter topic are read."""
    stall_seconds: float = Field(default=60.0, gt=0)
    """Degraded when a consumer group has lag and has not committed progress for this long."""
    dead_letter_window_seconds: float = Field(default=900.0, gt=0)
    """Degraded while the dead-letter topic grew within this window."""


class ClickHouseSettings(BaseSettings):
    """Where ClickHouse is: ``CLICKHOUSE_URL=http://user:password@host:8123/database``."""

    model_config = SettingsConfigDict(env_prefix="CLICKHOUSE_", extra="ignore")

    url: SecretStr = SecretStr("http://tokentally:tokentally@127.0.0.1:8123/tokentally")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def host(self) -> str:
        return urlsplit(self.url.get_secret_value()).hostname or "127.0.0.1"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def port(self) -> int:
        parts = urlsplit(self.url.get_secret_value())
        return parts.port or (8443 if parts.scheme == "https" else 8123)

    @property
    def secure(self) -> bool:
        return urlsplit(self.url.get_secret_value()).scheme == "https"

    @property
    def username(self) -> str:
        return unquote(urlsplit(self.url.get_secret_value()).username or "default")

    @property
    def password(self) -> str:
        return unquote(urlsplit(self.url.get_secret_value()).password or "")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def database(self) -> str:
        return urlsplit(self.url.get_secret_value()).path.strip("/") or "default"


class AuthSettings(BaseSettings):
    """API keys, as JSON: ``[{"key": "...", "scope": "ingest"}, {"key_sha256": "...", "scope": "client:acme"}]``."""

    model_config = SettingsConfigDict(env_prefix="TOKENTALLY_", extra="ignore")

    api_keys: SecretStr = SecretStr("[]")


class BillingDefaults(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOKENTALLY_", extra="ignore")

    default_markup_percent: Decimal = Decimal("25")
    currency: str = "USD"
