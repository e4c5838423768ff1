"""Every service's /docs and /redoc come with their scripts and styles: no CDN, so they work offline."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from tests.support.browser import chromium


def _apps() -> dict[str, Callable[[], FastAPI]]:
    from services.aggregator.app import create_app as aggregator
    from services.alerts.app import create_app as alerts
    from services.ingest.app import create_app as ingest
    from services.invoicing.app import create_app as invoicing
    from services.pricing.app import create_app as pricing

    return {"ingest": ingest, "pricing": pricing, "aggregator": aggregator, "invoicing": invoicing,
            "alerts": alerts}


@pytest.mark.parametrize("service", ["ingest", "pricing", "aggregator", "invoicing", "alerts"])
async def test_docs_pages_use_only_the_services_own_assets(service: str) -> None:
    app = _apps()[service]()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
        for page in ("/docs", "/redoc"):
            reply = await client.get(page)
            assert reply.status_code == 200, page
            assert "http://" not in reply.text and "https://" not in reply.text.replace("https://fastapi", "")
        docs = (await client.get("/docs")).text
        assert "/docs-assets/swagger-ui-bundle.js" in docs and "/docs-assets/swagger-ui.css" in docs
        for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
            served = await client.get(f"/docs-assets/{asset}")
            assert served.status_code == 200 and len(served.content) > 10_000, asset


@pytest.fixture
def ingest_url() -> Iterator[str]:
    """The ingest app on a real port (Kafka unreachable: it starts anyway and answers 503)."""
    from pydantic import SecretStr

    from libs.common.settings import AuthSettings, KafkaSettings
    from services.ingest.app import create_app
    from services.ingest.settings import IngestSettings

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(IngestSettings(kafka=KafkaSettings(bootstrap_servers="127.0.0.1:9"),
                                    auth=AuthSettings(api_keys=SecretStr("[]")), publish_timeout_seconds=1))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def test_swagger_ui_renders_offline_in_chromium(ingest_url: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    with chromium(1280, 800) as driver:
        browser: Any = driver
        browser.get(f"{ingest_url}/docs")
        title = WebDriverWait(browser, 60).until(
            expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, ".swagger-ui .info .title")))
        assert "TokenTally ingest" in title.text
        operations = browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
        assert {"/v1/events", "/v1/traces"} <= {op.text.replace("\u200b", "") for op in operations}
        resources = browser.execute_script(
            "return performance.getEntriesByType('resource').map(function (r) { return r.name; })")
        assert resources and all(name.startswith(ingest_url) for name in resources), resources


def test_the_invoicing_api_describes_itself() -> None:
    spec = _apps()["invoicing"]().openapi()
    assert "Bearer" in spec["info"]["description"] and "decimal strings" in spec["info"]["description"]
    described = {tag["name"] for tag in spec["tags"]}
    used = {tag for path in spec["paths"].values() for operation in path.values() for tag in operation.get("tags", [])}
    assert used <= described  # every tag an operation uses is described
