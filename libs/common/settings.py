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
