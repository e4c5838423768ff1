"""``Idempotency-Key`` on the invoicing API's POSTs, on the real PostgreSQL."""

from __future__ import annotations

import re
from contextlib import AsyncExitStack

import asyncpg
import pytest

from services.invoicing.settings import InvoicingSettings
from tests.invoicing.test_api import ADMIN, ACME, MARCH, auth, insert_worked_example
from tests.invoicing.test_issuing import Clock, _api, clock, settings  # noqa: F401 - fixtures

pytestmark = pytest.mark.integration


async def test_a_retried_post_gets_the_first_answer_and_a_different_body_is_a_conflict(
    settings: InvoicingSettings, clock: Clock  # noqa: F811
) -> None:
    await insert_worked_example(settings.clickhouse)
    async with AsyncExitStack() as stack:
        api = await _api(stack, settings.model_copy(update={"webhooks": False, "kafka_events": False}), clock)

        def key(value: str, who: str = ADMIN) -> dict[str, str]:
            return {**auth(who), "Idempotency-Key": value}

        first = await api.post("/v1/webhooks/endpoints", json={"url": "https://a.test/"}, headers=key("k-1"))
        again = await api.post("/v1/webhooks/endpoints", json={"url": "https://a.test/"}, headers=key("k-1"))
        assert first.status_code == again.status_code == 201
        assert again.content == first.content and again.headers["idempotent-replayed"] == "true"
        assert len((await api.get("/v1/webhooks/endpoints", headers=auth(ADMIN))).json()) == 1  # created once
        other = await api.post("/v1/webhooks/endpoints", json={"url": "https://b.test/"}, headers=key("k-1"))
        assert other.status_code == 409 and "different request" in other.json()["detail"]
        elsewhere = await api.post(f"/v1/clients/acme/invoices/{MARCH}/issue", headers=key("k-1"))
        assert elsewhere.status_code == 409  # same key, another path

        issued = await api.post(f"/v1/clients/acme/invoices/{MARCH}/issue", headers=key("issue-1"))
        number = issued.json()["number"]
        paid = await api.post(f"/v1/invoices/{number}/pay", headers=key("pay-1"))
        void = await api.post(f"/v1/invoices/{number}/void", json={"reason": "wrong purchase order"}, headers=key("void-1"))
        assert (paid.status_code, void.status_code) == (200, 200)
        replayed = await api.post(f"/v1/invoices/{number}/pay", headers=key("pay-1"))
        assert replayed.content == paid.content and replayed.json()["status"] == "paid"  # the first answer
        fresh = await api.post(f"/v1/invoices/{number}/pay", headers=key("pay-2"))
        assert fresh.status_code == 409  # a new key really runs: a void invoice cannot be paid

        # Answers that say "retry" are not kept; another caller's key of the same name is its own.
        denied = await api.post(f"/v1/invoices/{number}/pay", headers=key("pay-3", ACME))
        assert denied.status_code == 403
        assert (await api.post(f"/v1/invoices/{number}/pay", headers=key("pay-3", ACME))).status_code == 403
        mine = await api.post("/v1/webhooks/endpoints", json={"url": "https://c.test/"}, headers=key("pay-3"))
        assert mine.status_code == 201
        too_long = await api.post("/v1/webhooks/endpoints", json={"url": "https://a.test/"}, headers=key("x" * 256))
        assert too_long.status_code == 422 and too_long.json()["detail"][0]["field"] == "Idempotency-Key"

    connection = await asyncpg.connect(settings.database.url.get_secret_value())
    try:
        kept = await connection.fetch("SELECT key, status_code FROM idempotency_keys ORDER BY key")
    finally:
        await connection.close()
    assert [(r["key"], r["status_code"]) for r in kept] == [
        ("issue-1", 200), ("k-1", 201), ("pay-1", 200), ("pay-2", 409), ("pay-3", 201), ("void-1", 200)]


def test_every_write_documents_the_idempotency_key() -> None:
    from services.invoicing.app import create_app
    from services.invoicing.idempotency import KEY_PATTERN

    spec = create_app(InvoicingSettings()).openapi()
    writes = [(path, method, operation) for path, item in spec["paths"].items()
              for method, operation in item.items() if method in ("post", "put", "patch", "delete")]
    assert len(writes) >= 10
    for path, method, operation in writes:
        header = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
        assert header and header[0]["in"] == "header" and not header[0]["required"], (path, method)
        assert {"409", "422"} <= operation["responses"].keys(), (path, method)
        success = [answer for code, answer in operation["responses"].items() if code.startswith("2")]
        assert all("Idempotent-Replayed" in answer["headers"] for answer in success), (path, method)
    assert spec["paths"]["/v1/clients"]["get"].get("parameters", []) == []  # reads take no key
    assert re.match(KEY_PATTERN, "6f1c2a9e-4f0b-4a53-9d55-0c5bd0a4b8a1")
    assert not re.match(KEY_PATTERN, " padded ") and not re.match(KEY_PATTERN, "caf\u00e9")


async def test_a_method_no_route_serves_is_a_405_whatever_the_key(
    settings: InvoicingSettings, clock: Clock  # noqa: F811
) -> None:
    async with AsyncExitStack() as stack:
        api = await _api(stack, settings.model_copy(update={"webhooks": False, "kafka_events": False}), clock)
        for _ in range(2):  # the second time too: nothing was stored under the key
            reply = await api.put("/v1/webhooks/endpoints", json={}, headers={**auth(ADMIN), "Idempotency-Key": "k"})
            assert reply.status_code == 405 and reply.headers["allow"] == "GET, POST"
