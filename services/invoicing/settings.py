"""Invoicing settings (environment prefix ``INVOICING_``, e.g. ``INVOICING_GRACE_HOURS``).

The shared parts keep their own prefixes (``CLICKHOUSE_URL``, ``KAFKA_BOOTSTRAP_SERVERS``,
``DATABASE_URL``, ``TOKENTALLY_API_KEYS``, ``TOKENTALLY_DEFAULT_MARKUP_PERCENT``), so every
service reads them the same way. No clock lives here: the app takes one as an argument.
"""

from __future__ import annotations

from functools import cache

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from libs.common.settings import AuthSettings, BillingDefaults, ClickHouseSettings, KafkaSettings


class DatabaseSettings(BaseSettings):
    """Where PostgreSQL is: ``DATABASE_URL=postgresql://user:password@host:5432/database``."""

    model_config = SettingsConfigDict(env_prefix="DATABASE_", extra="ignore")

    url: SecretStr = SecretStr("postgresql://postgres@127.0.0.1:5432/tokentally")
    pool_size: int = Field(default=10, ge=1)


class PipelineGroups(BaseSettings):
    """The consumer groups an issue waits for (``INVOICING_PIPELINE_…``): ingest → pricing → aggregator."""

    model_config = SettingsConfigDict(env_prefix="INVOICING_PIPELINE_", extra="ignore")

    pricing_group: str = "tokentally-pricing"
    aggregator_group: str = "tokentally-aggregator"


class InvoicingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="INVOICING_", extra="ignore")

    clickhouse: ClickHouseSettings = Field(default_factory=ClickHouseSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    pipeline: PipelineGroups = Field(default_factory=PipelineGroups)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    billing: BillingDefaults = Field(default_factory=BillingDefaults)
    host: str = "127.0.0.1"
    port: int = Field(default=8002, ge=1, le=65535)

    invoice_prefix: str = Field(default="TT", pattern=r"^[A-Za-z0-9-]{0,16}$")
    invoice_first_number: int = Field(default=1, ge=1)
    """Where a new series starts: an agency coming from another tool continues its own."""
    credit_note_prefix: str = Field(default="CN", pattern=r"^[A-Za-z0-9-]{0,16}$")
    credit_note_first_number: int = Field(default=1, ge=1)
    payment_terms_days: int = Field(default=30, ge=0, le=365)
    agency_name: str = Field(default="TokenTally", min_length=1, max_length=200)
    """Who the invoices are from, on accounting exports."""
    grace_hours: int = Field(default=24, ge=0)
    """How long after a month ends its invoices stay drafts before they are issued automatically."""
    auto_issue_every_seconds: float = Field(default=60.0, gt=0)
    """How often an instance looks for months due to be issued."""
    auto_issue: bool = True
    """False: this instance never issues on its own (issue by hand, or let another instance do it)."""
    catch_up_timeout_seconds: float = Field(default=120.0, gt=0)
    """How long an issue waits for the pipeline to count everything received before its cutoff."""
    webhooks: bool = True
    """False: this instance sends no webhooks (another instance does)."""
    kafka_events: bool = True
    """False: this instance publishes no outbox events to Kafka (another instance does)."""
    webhook_poll_seconds: float = Field(default=1.0, gt=0)
    """How often the webhook dispatcher and the Kafka publisher look for outbox work."""
    webhook_retry_base_seconds: float = Field(default=5.0, gt=0)
    """First wait after a failed delivery; doubled after each further failure ..."""
    webhook_retry_cap_seconds: float = Field(default=600.0, gt=0)
    """... up to this wait, so a receiver back after an outage has everything within this long."""
    webhook_give_up_hours: float = Field(default=72.0, gt=0)
    """A delivery still failing this long after its event was written is marked failed."""
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)


@cache
def get_settings() -> InvoicingSettings:
    """Built on first use, not at import, so tests and tools can set the environment first."""
    return InvoicingSettings()
