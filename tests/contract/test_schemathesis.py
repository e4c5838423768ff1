"""Every service's OpenAPI document against the service itself, with schemathesis (all checks).

The services run as real processes on a real Kafka, ClickHouse and PostgreSQL, in a topic
namespace, database and consumer groups of this module's own. Schemathesis reads each
``/openapi.json`` and sends what the document allows and what it does not (with an admin
key, and without one): an answer the document does not declare (a status, a header, a body
that is not the declared one), a 500, valid input refused or invalid input accepted fails
the test, with schemathesis' report.

False positives it cannot tell from bugs are handled in ``hooks.py``, each with its reason.
``SCHEMATHESIS_SEED`` and ``SCHEMATHESIS_MAX_EXAMPLES`` override the fixed seed and the size
of the run (CI uses the defaults: the same cases every run, about a minute on 2 shared cores).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.pipeline import Pipeline, pipeline_env, start_pipeline, wait_until

pytestmark = pytest.mark.integration

ADMIN_KEY = "admin-" + uuid.uuid4().hex
INGEST_KEY = "ingest-" + uuid.uuid4().hex
SERVICES = ("pricing", "aggregator", "invoicing", "alerts", "ingest")
HOOKS = "tests.contract.hooks"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
SEED = os.environ.get("SCHEMATHESIS_SEED", "20261202")
MAX_EXAMPLES = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "10")
CLIENT, PERIOD = "contract-acme", "2026-10"


@pytest.fixture(scope="module")
def letters(stack: Pipeline) -> list[str]:
    """Three dead letters in pricing (messages no consumer can read), so its dead-letter routes are
    tested on real letters, not only on unknown ids."""
    import asyncio

    from aiokafka import AIOKafkaProducer

    async def publish() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=stack.env["KAFKA_BOOTSTRAP_SERVERS"])
        await producer.start()
        try:
            for number in range(3):
                await producer.send_and_wait(f"{stack.env['KAFKA_TOPIC_PREFIX']}usage.recorded.v1",
                                             b"not an event %d" % number, key=b"contract")
        finally:
            await producer.stop()

    asyncio.run(publish())
    def listed() -> list[str] | None:
        found = [letter["letter_id"] for letter in stack.api("pricing").get("/v1/dead-letters").json()
                 if letter["client_id"] == "contract"]
        return found if len(found) == 3 else None

    return wait_until(listed, 60, "three dead letters")


@pytest.fixture(scope="module")
def billed_client(stack: Pipeline) -> str:
    """A client with usage in ``PERIOD`` (priced from the catalog, stored), so the invoice, usage and
    document routes are tested on a real month with lines, not only on empty or unknown ones."""
    stack.put_client(CLIENT, markup_percent="25")
    events = [{"event_id": f"contract-{number}", "client_id": CLIENT, "provider": provider, "model": model,
               "timestamp": f"{PERIOD}-0{number + 1}T10:00:00Z", "input_tokens": 1000 * (number + 1),
               "output_tokens": 300}
              for number, (provider, model) in enumerate([("openai", "gpt-4o"), ("anthropic", "claude-3-5-sonnet"),
                                                          ("openai", "gpt-4o-mini")])]
    sent = stack.send(events, key=ADMIN_KEY)  # an admin key may send a month long closed
    assert sent.status_code == 202, sent.text
    stack.wait_for_events(CLIENT, PERIOD, len(events))
    return CLIENT


@pytest.fixture(scope="module")
def stack(kafka_bootstrap: str, clickhouse_url: str, postgres_url: str,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    keys = [{"key": ADMIN_KEY, "scope": "admin"}, {"key": INGEST_KEY, "scope": "ingest"}]
    env = pipeline_env(kafka_bootstrap, clickhouse_url, keys, namespace=f"contract_{uuid.uuid4().hex[:8]}",
                       postgres_url=postgres_url)
    running = start_pipeline(env, tmp_path_factory.mktemp("contract-logs"), SERVICES,
                             admin_key=ADMIN_KEY, ingest_key=INGEST_KEY)
    try:
        yield running
    finally:
        running.close()


@pytest.mark.timeout(600)
@pytest.mark.parametrize("service", ["ingest", "pricing", "invoicing", "alerts", "aggregator"])
def test_openapi_document_matches_the_service(stack: Pipeline, letters: list[str], billed_client: str,
                                              service: str, tmp_path: Path) -> None:
    url = stack.services[service].url
    # Half the ids schemathesis sends are real (letters, the billed client and month), the others
    # generated from the document.
    config = tmp_path / "schemathesis.toml"
    known = {"letters": letters, "clients": [billed_client], "periods": [PERIOD]}
    config.write_text("".join(f"[dictionaries.{name}]\nvalues = {json.dumps(values)}\n\n"
                              for name, values in known.items()) + "[parameters]\n" + "".join(
        f'"{parameter}" = {{ dictionary = "{name}", probability = 0.5 }}\n'
        for parameter, name in (("path.letter_id", "letters"), ("path.client_id", "clients"),
                                ("path.period", "periods"), ("query.period", "periods"))))
    command = [
        str(Path(sys.executable).parent / "schemathesis"), "--no-color", "--config-file", str(config),
        "run", f"{url}/openapi.json",
        "--checks", "all", "-H", f"Authorization: Bearer {ADMIN_KEY}",
        "--max-examples", MAX_EXAMPLES, "--seed", SEED, "--workers", "1",
        "--generation-database", "none", "--request-timeout", "30",
    ]
    started = time.monotonic()
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=540,
                          env={**os.environ, "SCHEMATHESIS_HOOKS": HOOKS, "PYTHONPATH": str(PROJECT_ROOT)})
    print(f"schemathesis on {service}: exit {done.returncode} in {time.monotonic() - started:.1f}s")
    assert done.returncode == 0, f"schemathesis found problems in {service}'s API:\n{done.stdout}\n{done.stderr}"
