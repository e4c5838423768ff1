"""The ingest API's answers to what a client can get wrong, and to Kafka being away."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from libs.common.settings import AuthSettings, KafkaSettings
from services.ingest.app import create_app
from services.ingest.settings import IngestSettings

INGEST_KEY = "ingest-key-for-tests-0001"
CLIENT_KEY = "client-key-for-tests-0001"
EVENT = {"event_id": "e1", "client_id": "acme", "provider": "openai", "model": "gpt-4o", "input_tokens": 10}


@pytest.fixture
async def ingest_without_kafka() -> AsyncIterator[httpx.AsyncClient]:
    """Ingest pointed at a port where no broker listens."""
    keys = [{"key": INGEST_KEY, "scope": "ingest"}, {"key": CLIENT_KEY, "scope": "client:acme"}]
    settings = IngestSettings(
        kafka=KafkaSettings(bootstrap_servers="127.0.0.1:9"),
        auth=AuthSettings(api_keys=SecretStr(json.dumps(keys))),
        publish_timeout_seconds=2,
        max_body_bytes=4096,
    )
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
        yield client


def _auth(key: str = INGEST_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_kafka_down_answers_503_with_retry_after(ingest_without_kafka: httpx.AsyncClient) -> None:
    reply = await ingest_without_kafka.post("/v1/events", json=EVENT, headers=_auth())
    assert reply.status_code == 503
    assert reply.headers["retry-after"].isdigit()
    assert reply.json()["error"] == "unavailable"


async def test_missing_and_unknown_keys_are_401(ingest_without_kafka: httpx.AsyncClient) -> None:
    assert (await ingest_without_kafka.post("/v1/events", json=EVENT)).status_code == 401
    unknown = await ingest_without_kafka.post("/v1/events", json=EVENT, headers=_auth("x" * 24))
    assert unknown.status_code == 401
    assert unknown.headers["www-authenticate"] == "Bearer"


async def test_client_scoped_key_cannot_ingest(ingest_without_kafka: httpx.AsyncClient) -> None:
    reply = await ingest_without_kafka.post("/v1/events", json=EVENT, headers=_auth(CLIENT_KEY))
    assert reply.status_code == 403
    assert "ingest" in reply.json()["detail"]


async def test_oversized_body_is_413(ingest_without_kafka: httpx.AsyncClient) -> None:
    reply = await ingest_without_kafka.post("/v1/events", json=[EVENT] * 100, headers=_auth())
    assert reply.status_code == 413
    assert "limit" in reply.json()["detail"]


async def test_malformed_json_and_wrong_content_type(ingest_without_kafka: httpx.AsyncClient) -> None:
    malformed = await ingest_without_kafka.post(
        "/v1/events", content=b"[{", headers={**_auth(), "content-type": "application/json"})
    assert malformed.status_code == 422
    assert malformed.json()["error"] == "invalid_request"
    wrong = await ingest_without_kafka.post(
        "/v1/events", content=b"<xml/>", headers={**_auth(), "content-type": "application/xml"})
    assert wrong.status_code == 415


async def test_all_invalid_events_are_422_and_never_published(ingest_without_kafka: httpx.AsyncClient) -> None:
    """Kafka is down, so reaching the publisher would be a 503: a 422 proves nothing was sent."""
    reply = await ingest_without_kafka.post("/v1/events", json=[{**EVENT, "input_tokens": -1}], headers=_auth())
    assert reply.status_code == 422
    body = reply.json()
    assert body["accepted"] == 0
    assert [(r["index"], [e["field"] for e in r["errors"]]) for r in body["rejected"]] == [(0, ["input_tokens"])]


async def test_the_api_docs_state_the_idempotency_window(ingest_without_kafka: httpx.AsyncClient) -> None:
    from libs.common.events import IDEMPOTENCY_WINDOW_DAYS

    spec = (await ingest_without_kafka.get("/openapi.json")).json()
    operation = spec["paths"]["/v1/events"]["post"]["description"]
    assert f"safe for {IDEMPOTENCY_WINDOW_DAYS} days" in operation
