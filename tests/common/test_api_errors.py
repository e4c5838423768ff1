"""Error bodies carry no internal details: what went wrong inside is logged, not answered."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from libs.common.api import install_error_handlers


async def test_an_unexpected_error_is_a_plain_500_and_its_details_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise ConnectionError("Code: 516. DB::Exception: tokentally: Authentication failed: "
                              "password is incorrect (clickhouse.internal:9000)")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        reply = await client.get("/boom")

    assert reply.status_code == 500
    assert reply.json() == {"error": "internal_error", "detail": "unexpected error; it has been logged"}
    for secret in ("clickhouse.internal", "9000", "password", "516", "ConnectionError"):
        assert secret not in reply.text
    assert any("clickhouse.internal:9000" in (record.exc_text or "") or record.exc_info for record in caplog.records)
