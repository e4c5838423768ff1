"""Invoicing settings (environment prefix ``INVOICING_`` for host and port).

The shared parts keep their own prefixes (``CLICKHOUSE_URL``, ``TOKENTALLY_API_KEYS``,
``TOKENTALLY_DEFAULT_MARKUP_PERCENT``), so every service reads them the same way.
"""

from __future__ import annotations

from functools import cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from libs.common.settings import AuthSettings, BillingDefaults, ClickHouseSettings


class InvoicingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INVOICING_", extra="ignore")

    clickhouse: ClickHouseSettings = Field(default_factory=ClickHouseSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    billing: BillingDefaults = Field(default_factory=BillingDefaults)
    host: str = "127.0.0.1"
    port: int = Field(default=8002, ge=1, le=65535)


@cache
def get_settings() -> InvoicingSettings:
    """Built on first use, not at import, so tests and tools can set the environment first."""
    return InvoicingSettings()
