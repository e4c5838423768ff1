"""The waivers in hooks.py drop only the refusals they name, never a failure next to them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tests.contract.hooks import filter_failure, map_headers


@dataclass
class _Failure:
    code: str


@dataclass
class _Operation:
    path: str


@dataclass
class _Case:
    method: str
    path: str
    body: Any = None
    operation: _Operation = field(init=False)

    def __post_init__(self) -> None:
        self.operation = _Operation(self.path)


@dataclass
class _Response:
    status_code: int
    content: Any

    def json(self) -> Any:
        return json.loads(json.dumps(self.content))


def _kept(code: str, method: str, path: str, status: int, body: Any, sent: Any = None) -> bool:
    return filter_failure(None, _Failure(code), _Case(method, path, sent), _Response(status, body))


def _problems(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {"error": "invalid_request", "detail": [{"field": f, "message": m} for f, m in pairs]}


def test_a_waived_rule_alone_is_dropped_and_anything_beside_it_is_kept() -> None:
    apprise = ("notify.0", "Value error, not a notification URL apprise understands (see the apprise wiki)")
    assert not _kept("ST202", "PUT", "/v1/clients/{client_id}", 422, _problems(apprise))
    assert _kept("ST202", "PUT", "/v1/clients/{client_id}", 422, _problems(apprise, ("name", "Field required")))
    assert _kept("ST202", "PUT", "/v1/clients/{client_id}", 500, _problems(apprise))
    assert _kept("ST108", "PUT", "/v1/clients/{client_id}", 422, _problems(apprise))  # another check
    assert _kept("ST202", "PUT", "/v1/agency", 422, _problems(apprise))  # another route


def test_a_rule_may_bring_the_fields_it_lists() -> None:
    whole = ("fix", "the dead-lettered message could not be read as an event: give the whole event")
    path = "/v1/dead-letters/{letter_id}/redrive"
    assert not _kept("ST202", "POST", path, 422, _problems(whole, ("fix.event_id", "Field required")))
    assert _kept("ST202", "POST", path, 422, _problems(("fix.event_id", "Field required")))


def test_ingest_refusals_are_waived_only_for_clock_vendor_and_integral_float_counts() -> None:
    def result(*errors: tuple[str, str]) -> dict[str, Any]:
        return {"accepted": 0, "rejected": [{"index": 0, "errors": [{"field": f, "message": m} for f, m in errors]}]}

    sent = [{"event_id": "a", "output_tokens": 5.0, "input_tokens": "5"}]
    assert not _kept("ST202", "POST", "/v1/events", 422, result(("timestamp", "timestamp is more than 35 days old")),
                     sent)
    assert not _kept("ST202", "POST", "/v1/events", 422,
                     result(("output_tokens", "Input should be a valid integer")), sent)
    assert _kept("ST202", "POST", "/v1/events", 422, result(("input_tokens", "Input should be a valid integer")), sent)
    assert _kept("ST202", "POST", "/v1/events", 422, result(("model", "String should have at most 200 characters")),
                 sent)


def test_deleted_webhook_history_stays_readable_by_design() -> None:
    assert not _kept("ST301", "GET", "/v1/webhooks/endpoints/{endpoint_id}/attempts", 200, [])
    assert _kept("ST301", "GET", "/v1/prices", 200, [])


def test_valid_idempotency_keys_are_made_unique_and_invalid_ones_left_alone() -> None:
    first = map_headers(None, {"Idempotency-Key": "6f1c2a9e"})
    second = map_headers(None, {"Idempotency-Key": "6f1c2a9e"})
    assert first and second and first["Idempotency-Key"] != second["Idempotency-Key"]
    assert map_headers(None, {"Idempotency-Key": " "}) == {"Idempotency-Key": " "}
    assert map_headers(None, None) is None
