"""Outbound webhooks on the real servers: events written in the state change's transaction,
delivered signed (Standard Webhooks) to a local receiver across its outage and an invoicing restart."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from services.invoicing.settings import InvoicingSettings
from services.invoicing.webhooks.dispatcher import RetryPolicy, backoff_seconds
from tests.invoicing.test_api import ADMIN, ACME, MARCH, auth, insert_worked_example
from tests.invoicing.test_issuing import Clock, _api, clock, issue, settings  # noqa: F401 - fixtures

pytestmark = pytest.mark.integration


@pytest.fixture
def fast(settings: InvoicingSettings) -> InvoicingSettings:  # noqa: F811
    return settings.model_copy(update={"webhook_poll_seconds": 0.1, "webhook_retry_base_seconds": 0.2,
                                       "webhook_retry_cap_seconds": 1.0})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Receiver:
    """A webhook receiver that checks every signature with the ``standardwebhooks`` library."""

    port: int
    secret: str = ""
    accepted: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            payload = Webhook(self.secret).verify(body, dict(request.headers))
        except WebhookVerificationError as exc:
            self.rejected.append(str(exc))
            return web.Response(status=400, text="bad signature")
        self.accepted.append({"id": request.headers["webhook-id"], "type": payload["type"], "data": payload["data"]})
        return web.Response(status=204)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver(free_port())
    yield receiver
    await receiver.stop()


async def wait_for(check: Any, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.1)


async def outbox(database_url: str) -> list[tuple[str, str]]:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch("SELECT event_id, type FROM outbox_events ORDER BY id")
    finally:
        await connection.close()
    return [(row["event_id"], row["type"]) for row in rows]


def test_backoff_doubles_up_to_the_cap() -> None:
    policy = RetryPolicy(base_seconds=5, cap_seconds=600)
    assert [backoff_seconds(n, policy) for n in (1, 2, 3, 7, 8, 50)] == [5, 10, 20, 320, 600, 600]


async def test_endpoints_api(fast: InvoicingSettings, clock: Clock) -> None:  # noqa: F811
    async with AsyncExitStack() as stack:
        api = await _api(stack, fast, clock)
        created = await api.post("/v1/webhooks/endpoints", headers=auth(ADMIN),
                                 json={"url": "https://example.test/hooks", "event_types": ["invoice.paid"]})
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["secret"].startswith("whsec_") and body["event_types"] == ["invoice.paid"]
        listed = (await api.get("/v1/webhooks/endpoints", headers=auth(ADMIN))).json()
        assert [e["id"] for e in listed] == [body["id"]] and "secret" not in listed[0]
        bad = await api.post("/v1/webhooks/endpoints", headers=auth(ADMIN),
                             json={"url": "ftp://x", "event_types": ["invoice.exploded"]})
        assert bad.status_code == 422
        assert {d["field"] for d in bad.json()["detail"]} == {"url", "event_types.0"}, bad.json()
        assert (await api.post("/v1/webhooks/endpoints", headers=auth(ACME),
                               json={"url": "https://example.test/"})).status_code == 403
        assert (await api.delete(f"/v1/webhooks/endpoints/{body['id']}", headers=auth(ADMIN))).status_code == 204
        assert (await api.delete(f"/v1/webhooks/endpoints/{body['id']}", headers=auth(ADMIN))).status_code == 404
        assert (await api.get("/v1/webhooks/endpoints", headers=auth(ADMIN))).json() == []
        assert (await api.get("/v1/webhooks/endpoints/nope/attempts", headers=auth(ADMIN))).status_code == 404


async def test_every_event_arrives_signed_once_per_webhook_id_across_an_outage_and_a_restart(
    fast: InvoicingSettings, clock: Clock, receiver: Receiver  # noqa: F811
) -> None:
    database_url = fast.database.url.get_secret_value()
    await insert_worked_example(fast.clickhouse)
    async with AsyncExitStack() as first:
        api = await _api(first, fast, clock)
        created = (await api.post("/v1/webhooks/endpoints", headers=auth(ADMIN), json={"url": receiver.url})).json()
        receiver.secret = created["secret"]
        await receiver.start()

        number = (await issue(api, "acme", MARCH)).json()["number"]
        await wait_for(lambda: _has(receiver, 1))
        assert receiver.accepted[0]["type"] == "invoice.issued"
        assert receiver.accepted[0]["data"]["number"] == number and receiver.accepted[0]["data"]["total"] == "10.60"

        await receiver.stop()  # the receiver goes down: every event from now on fails until it is back
        assert (await api.post(f"/v1/invoices/{number}/void", json={"reason": "wrong PO"},
                               headers=auth(ADMIN))).status_code == 200
        replacement = (await issue(api, "acme", MARCH)).json()["number"]
        assert (await api.post(f"/v1/invoices/{replacement}/pay", headers=auth(ADMIN))).status_code == 200

        async def failed_twice() -> bool:
            attempts = (await api.get(f"/v1/webhooks/endpoints/{created['id']}/attempts",
                                      headers=auth(ADMIN))).json()
            return len([a for a in attempts if a["status_code"] is None]) >= 6
        await wait_for(failed_twice)
    # invoicing is stopped (a restart); the receiver comes back; two instances now share the work.
    await receiver.start()
    async with AsyncExitStack() as second:
        api = await _api(second, fast, clock)
        await _api(second, fast, clock)
        await wait_for(lambda: _has(receiver, 4))
        await asyncio.sleep(1.5)  # time for any duplicate to show up
        events = await outbox(database_url)
        assert [t for _, t in events] == ["invoice.issued", "invoice.voided", "invoice.issued", "invoice.paid"]
        assert receiver.rejected == []
        assert Counter(a["id"] for a in receiver.accepted) == Counter({event_id: 1 for event_id, _ in events})
        issued = [a["data"]["number"] for a in receiver.accepted if a["type"] == "invoice.issued"]
        assert sorted(issued) == [number, replacement]

        deliveries = (await api.get(f"/v1/webhooks/endpoints/{created['id']}/deliveries",
                                    headers=auth(ADMIN))).json()
        assert {d["status"] for d in deliveries} == {"delivered"} and len(deliveries) == 4
        voided_id = next(event_id for event_id, t in events if t == "invoice.voided")
        attempts = (await api.get(f"/v1/webhooks/endpoints/{created['id']}/attempts",
                                  params={"event_id": voided_id}, headers=auth(ADMIN))).json()
        assert attempts[0]["status_code"] == 204 and len(attempts) >= 3
        assert all(a["status_code"] is None and "Connect" in a["error"] for a in attempts[1:])
        assert [a["attempt"] for a in attempts] == list(range(len(attempts), 0, -1))


async def _has(receiver: Receiver, count: int) -> bool:
    return len(receiver.accepted) >= count
