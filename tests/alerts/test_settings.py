"""Alerts settings from the environment."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from services.alerts.settings import AlertsSettings


def test_defaults_and_the_testing_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERTS_NOW", "2026-10-20T12:00:00Z")
    monkeypatch.setenv("ALERTS_PORT", "9123")
    settings = AlertsSettings()
    assert settings.now == datetime(2026, 10, 20, 12, tzinfo=UTC)
    assert settings.port == 9123
    assert settings.sweep_seconds == 30
    assert settings.retry_policy.max_attempts == 18


def test_now_must_carry_a_timezone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERTS_NOW", "2026-10-20T12:00:00")
    with pytest.raises(ValidationError):
        AlertsSettings()


def test_the_sending_lease_must_outlast_an_attempt_and_a_backoff() -> None:
    with pytest.raises(ValidationError, match="sending_lease_seconds"):
        AlertsSettings(sending_lease_seconds=20, send_timeout_seconds=30)
