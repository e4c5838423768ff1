"""Pipelines that share one broker (e2e tests, benchmarks) never share a consumer group."""

from __future__ import annotations

import pytest

from deploy.pipeline import pipeline_env


def _env(namespace: str) -> dict[str, str]:
    return pipeline_env("127.0.0.1:9092", "http://u:p@127.0.0.1:8123", [], namespace=namespace)


def test_each_pipeline_has_its_own_consumer_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.aggregator.settings import AggregatorSettings
    from services.alerts.settings import AlertsSettings
    from services.invoicing.settings import PipelineGroups
    from services.pricing.settings import PricingSettings

    def groups(env: dict[str, str]) -> dict[str, str]:
        """The group ids each service reads from this environment (its own settings classes)."""
        with monkeypatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            waited = PipelineGroups()
            return {"pricing": PricingSettings().group_id, "aggregator": AggregatorSettings().group_id,
                    "alerts": AlertsSettings().group_id, "invoicing waits on pricing": waited.pricing_group,
                    "invoicing waits on aggregator": waited.aggregator_group}

    first, second = groups(_env("e2e_aaaa1111")), groups(_env("e2e_bbbb2222"))
    assert first["pricing"] == "e2e_aaaa1111.tokentally-pricing"
    assert first["aggregator"] == "e2e_aaaa1111.tokentally-aggregator"
    assert first["alerts"] == "e2e_aaaa1111.tokentally-alerts"
    # invoicing's caught-up rule waits on the very groups its pipeline's consumers commit in
    assert first["invoicing waits on pricing"] == first["pricing"]
    assert first["invoicing waits on aggregator"] == first["aggregator"]
    assert not set(first.values()) & set(second.values())
