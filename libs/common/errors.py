"""Error base classes. Domain errors carry no HTTP codes; each API maps them in one place."""

from __future__ import annotations


class TokenTallyError(Exception):
    """Base for every error the services raise on purpose."""

    def __init__(self, message: str, *, detail: object | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class NotFound(TokenTallyError):
    """The thing asked for does not exist."""


class InvalidInput(TokenTallyError):
    """The caller sent something we cannot accept; ``detail`` names the fields."""


class Conflict(TokenTallyError):
    """The request contradicts the current state (e.g. re-driving a dead letter already re-driven)."""


class Unavailable(TokenTallyError):
    """A dependency (Kafka, ClickHouse) is down; the caller should retry later."""

    def __init__(self, message: str, *, retry_after_seconds: int = 5) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
