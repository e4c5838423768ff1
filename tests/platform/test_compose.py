"""docker-compose.yml ships no usable secret and publishes only the HTTP APIs (issue 8, security)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"
API_SERVICES = {"ingest", "pricing", "invoicing", "alerts"}


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())  # type: ignore[no-any-return]


def environments() -> list[tuple[str, str, str]]:
    return [(name, variable, str(value)) for name, service in compose()["services"].items()
            for variable, value in (service.get("environment") or {}).items()]


def test_only_the_http_apis_are_published_on_the_host() -> None:
    published = {name for name, service in compose()["services"].items() if service.get("ports")}
    assert published == API_SERVICES  # never Kafka or ClickHouse


def test_api_keys_and_passwords_must_be_given_there_is_no_default() -> None:
    secrets = [(name, variable, value) for name, variable, value in environments()
               if variable in ("TOKENTALLY_API_KEYS", "CLICKHOUSE_PASSWORD", "CLICKHOUSE_URL")]
    assert {variable for _, variable, _ in secrets} == {"TOKENTALLY_API_KEYS", "CLICKHOUSE_PASSWORD", "CLICKHOUSE_URL"}
    for name, variable, value in secrets:
        # ${VAR:?message} makes compose refuse to start without it; ${VAR:-default} would ship a secret.
        assert re.search(r"\$\{(TOKENTALLY_API_KEYS|CLICKHOUSE_PASSWORD):\?", value), (name, variable, value)
        assert ":-" not in value and '"key"' not in value, (name, variable, value)
