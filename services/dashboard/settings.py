"""Dashboard settings (environment prefix ``DASHBOARD_``).

The services' URLs default to 127.0.0.1 on the ports the other services read
(``INVOICING_PORT``, ``ALERTS_PORT``, ``PRICING_PORT``), so the same environment that
starts the stack starts the dashboard. The key it calls them with defaults to the first
plain ``admin`` key of ``TOKENTALLY_API_KEYS``.
"""

from __future__ import annotations

import json
import os
import secrets
from functools import cache

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from libs.common.settings import AuthSettings


def _local(port_variable: str, default: str) -> str:
    return f"http://127.0.0.1:{os.environ.get(port_variable, default)}"


class DashboardSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DASHBOARD_", extra="ignore")

    auth: AuthSettings = Field(default_factory=AuthSettings)
    host: str = "127.0.0.1"
    port: int = Field(default=8005, ge=1, le=65535)
    invoicing_url: str = Field(default_factory=lambda: _local("INVOICING_PORT", "8002"))
    alerts_url: str = Field(default_factory=lambda: _local("ALERTS_PORT", "8003"))
    pricing_url: str = Field(default_factory=lambda: _local("PRICING_PORT", "8001"))
    api_key: SecretStr = SecretStr("")
    """The key the dashboard calls the services with (admin scope)."""
    secret_key: SecretStr = SecretStr("")
    """Signs session cookies, CSRF tokens and portal links. Empty: a random one per process
    (sessions and portal links then end with the process)."""
    session_hours: int = Field(default=12, ge=1, le=24 * 30)
    portal_days: int = Field(default=45, ge=1, le=366)
    """How long a portal link stays valid."""
    secure_cookies: bool = False
    """Set behind HTTPS so the session cookie is never sent in clear."""
    timeout_seconds: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _defaults(self) -> DashboardSettings:
        if not self.api_key.get_secret_value():
            self.api_key = SecretStr(_first_admin_key(self.auth.api_keys.get_secret_value()))
        if not self.secret_key.get_secret_value():
            self.secret_key = SecretStr(secrets.token_urlsafe(32))
        return self


def _first_admin_key(keys_json: str) -> str:
    try:
        entries = json.loads(keys_json or "[]")
    except ValueError:
        return ""
    return next((e["key"] for e in entries if isinstance(e, dict) and e.get("scope") == "admin" and e.get("key")), "")


@cache
def get_settings() -> DashboardSettings:
    return DashboardSettings()
