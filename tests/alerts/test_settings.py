"""Alerts settings from the environment."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.alerts.settings import AlertsSettings


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERTS_PORT", "9123")
    settings = AlertsSettings()
    assert settings.port == 9123
    assert settings.sweep_seconds == 30
    assert settings.retry_policy.max_attempts == 18


def test_the_sending_lease_must_outlast_an_attempt_and_a_backoff() -> None:
    with pytest.raises(ValidationError, match="sending_lease_seconds"):
        AlertsSettings(sending_lease_seconds=20, send_timeout_seconds=30)
