"""The benchmark's quick mode on the session's Kafka and ClickHouse: the correctness part only.

A few thousand events through the ingest API and straight onto the raw topic, a short
freshness phase, then the check that ClickHouse's totals equal the totals recomputed from
the generated events to the cent, each duplicate counted once. Speed is not asserted:
CI machines vary, and BENCHMARKS.md holds the measured figures.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bench.pipeline import BenchSettings, print_summary, run, write_results

pytestmark = pytest.mark.integration


def test_quick_benchmark_totals_equal_the_recomputed_totals(
    kafka_bootstrap: str, clickhouse_url: str, tmp_path: Path
) -> None:
    settings = BenchSettings.quick_run(kafka_bootstrap=kafka_bootstrap, clickhouse_url=clickhouse_url,
                                       results_dir=str(tmp_path))

    report = run(settings)
    print_summary(report)
    path = write_results(report, tmp_path)

    correctness = report["results"]["correctness"]
    assert correctness["mismatches"] == []
    assert correctness["ok"], correctness
    assert correctness["duplicates_sent"] > 0  # the workload did resend some events
    assert correctness["counted_events"] == correctness["unique_events"] == correctness["priced_event_rows"]
    assert Decimal(correctness["counted_cost_usd"]) == Decimal(correctness["expected_cost_usd"])
    assert correctness["unpriced_events"] == 0
    assert set(report["results"]["throughput"]) == {"http", "kafka"}
    assert report["results"]["freshness"]["samples"] > 0
    assert path.exists()
