"""How many instances of each service `make run` and docker compose start (issue 11, part 4)."""

from __future__ import annotations

import pytest

from deploy.stack import DEFAULT_REPLICAS, instances, replicas
from tests.platform.test_compose import compose


def test_two_of_each_consumer_by_default_and_the_environment_changes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOKENTALLY_REPLICAS", raising=False)
    assert replicas() == DEFAULT_REPLICAS == {"pricing": 2, "aggregator": 2}
    monkeypatch.setenv("TOKENTALLY_REPLICAS", "pricing=1, aggregator=3")
    assert replicas() == {"pricing": 1, "aggregator": 3}


def test_each_instance_has_its_own_log_name_and_http_port() -> None:
    env = {"AGGREGATOR_PORT": "8004", "PRICING_PORT": "8001", "OTHER": "x"}
    found = instances("pricing", env, {"pricing": 2})
    assert [(key, e["PRICING_PORT"], e["OTHER"]) for key, e in found] == [("pricing", "8001", "x"),
                                                                           ("pricing-2", "8101", "x")]
    assert [key for key, _ in instances("invoicing", env, {"pricing": 2})] == ["invoicing"]


def test_compose_runs_two_of_each_consumer_with_one_api_port_each() -> None:
    services = compose()["services"]
    assert services["aggregator"]["deploy"]["replicas"] == 2 and "ports" not in services["aggregator"]
    assert services["pricing-2"]["command"] == services["pricing"]["command"] and "ports" not in services["pricing-2"]
