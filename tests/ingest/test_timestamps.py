"""The timestamp window: recent for ingest keys, back to 2000 for admin backfills, never far ahead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.ingest.timestamps import TimestampWindow
from services.ingest.validation import validate_batch

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _event(event_id: str, timestamp: str) -> dict[str, object]:
    return {"event_id": event_id, "client_id": "acme", "provider": "openai", "model": "gpt-4o",
            "timestamp": timestamp, "input_tokens": 1}


def window(backfill: bool = False) -> TimestampWindow:
    return TimestampWindow.for_request(NOW, max_age_days=35, max_future_seconds=300, backfill=backfill)


def test_the_ingest_window_is_35_days_back_and_5_minutes_ahead() -> None:
    w = window()
    assert w.earliest == NOW - timedelta(days=35)
    assert w.latest == NOW + timedelta(minutes=5)
    assert w.problem(NOW - timedelta(days=34, hours=23)) is None
    assert w.problem(NOW + timedelta(minutes=4)) is None
    message = w.problem(NOW + timedelta(minutes=6))
    assert message is not None
    assert "2026-12-01T12:06:00Z is outside the accepted window 2026-10-27T12:00:00Z .. 2026-12-01T12:05:00Z" in message
    assert "admin key" in message


def test_an_admin_backfill_reaches_back_to_2000_but_not_beyond_or_ahead() -> None:
    w = window(backfill=True)
    assert w.problem(datetime(2000, 1, 1, tzinfo=UTC)) is None
    assert w.problem(datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC)) is not None
    assert w.problem(NOW + timedelta(hours=1)) is not None


def test_events_outside_the_window_are_rejected_on_timestamp_and_the_rest_accepted() -> None:
    items = [_event("ok", "2026-12-01T11:00:00Z"), _event("old", "2026-01-01T00:00:00Z"),
             _event("future", "2027-01-01T00:00:00Z"), _event("year-1", "0001-01-01T00:00:00Z"),
             {k: v for k, v in _event("default", "").items() if k != "timestamp"}]
    accepted, rejected = validate_batch(items, NOW, window())
    assert [e.event_id for e in accepted] == ["ok", "default"]
    assert [(r.index, r.errors[0].field) for r in rejected] == [(1, "timestamp"), (2, "timestamp"), (3, "timestamp")]


def test_without_a_window_only_what_tokentally_stores_is_accepted() -> None:
    accepted, rejected = validate_batch([_event("a", "2001-01-01T00:00:00Z"), _event("b", "2150-01-01T00:00:00Z")],
                                        NOW)
    assert [e.event_id for e in accepted] == ["a"]
    assert rejected[0].index == 1
