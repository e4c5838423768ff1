"""End-to-end pipeline benchmark: events/s, freshness, CPU/RSS per service, invoice latency, correctness.

    uv run python -m bench.pipeline                      # the full run (see BENCHMARKS.md)
    uv run python -m bench.pipeline --quick              # a few thousand events, seconds, no 10M step
    uv run python -m bench.pipeline --events 500000 --mode kafka --rate 20000

What it does, against a real Apache Kafka and ClickHouse it starts itself (in
``.local/bench/<run>/``, or ``--kafka-bootstrap`` / ``--clickhouse-url``) and the real
services as processes (``deploy/pipeline.py``, as the e2e tests do):

1. **throughput**: for each mode, sends ``--events`` realistic events (``bench/workload.py``)
   as fast as the pipeline takes them (or at ``--rate``): ``http`` POSTs batches to the
   ingest API, ``kafka`` produces ingest's message format straight onto
   ``usage.recorded.v1``. It polls the monthly totals until every unique event is counted.
   End-to-end rate = events sent / (last counted − first sent); "sustained" is the
   counting rate between 10% and 90% of the phase's events. Each mode first sends
   ``--warm-up-events`` the same way, not measured (reported under ``warm_up``).
2. **freshness**: load at half the best measured rate while probe clients send one event
   at a time through ingest and poll the invoice API until it shows up (p50/p99/max).
3. **correctness**: totals in ClickHouse (monthly and daily) equal totals recomputed from
   the generated events, exactly and to the cent; each duplicate counted once; no
   duplicate rows; invoices of the biggest clients match the recomputed base cost.
4. **invoice at scale**: inserts ``--invoice-events`` synthetic priced events with one
   ``INSERT … SELECT FROM numbers()`` (``bench/bulk.py``), then times the invoice API.

CPU and peak RSS of every process come from psutil, per phase (``bench/monitor.py``).
Prints one summary table; writes everything as JSON to ``bench/results/<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Coroutine
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

from bench.bulk import HISTORY_SOURCE, SYNTH_PREFIX, bulk_insert
from bench.load import SendStats, http_batches, kafka_ticks, send_http, send_kafka
from bench.monitor import ProcessMonitor
from bench.profiling import Profiler
from bench.report import print_summary
from bench.workload import Workload, model_prices, override_bodies
from deploy.local_clickhouse import PROJECT_ROOT, LocalClickHouse
from deploy.local_kafka import LocalKafka
from deploy.local_postgres import LocalPostgres
from deploy.pipeline import PIPELINE_SERVICES, Pipeline, pipeline_env, start_pipeline
from deploy.stack import DEFAULT_REPLICAS
from libs.common.clickhouse import connect
from libs.common.money import round_cents
from libs.common.settings import ClickHouseSettings
from libs.common.topics import USAGE_RECORDED, topic

RESULTS_DIR = PROJECT_ROOT / "bench" / "results"
#: The issue's throughput target (events/s); freshness is also measured at half of it.
TARGET_RATE = 20_000
#: The rows of this run's own events: not the invoice step's synthetic clients, not the history
#: stored for the active clients (``bench/history.py``), which have their own invoice lines.
BENCH_ROWS = f"client_id NOT LIKE '{SYNTH_PREFIX}%' AND price_source != '{HISTORY_SOURCE}'"
PACKAGES = ("aiokafka", "faststream", "fastapi", "uvicorn", "pydantic", "pydantic-core", "orjson",
            "clickhouse-connect", "chdb-core", "genai-prices", "httpx", "psutil")


@dataclass
class BenchSettings:
    events: int = 600_000
    """Events per throughput mode."""
    warm_up_events: int = 100_000
    """Events sent through each mode before its measured phase, not measured: the first seconds
    of a fresh stack (the JVM compiling Kafka's hot paths, first ClickHouse parts, Python's
    caches) are not what the pipeline sustains."""
    rate: float | None = None
    """Target events/s for the throughput phases; None: as fast as the pipeline takes them."""
    mode: str = "both"
    invoice_events: int = 10_000_000
    clients: int = 400
    http_batch: int = 1_000
    http_concurrency: int = 4
    kafka_tick: int = 10_000
    freshness_seconds: float = 30.0
    probes: int = 6
    probe_poll_seconds: float = 0.05
    invoice_requests: int = 200
    duplicate_share: float = 0.01
    seed: int = 2026
    quick: bool = False
    kafka_bootstrap: str | None = None
    clickhouse_url: str | None = None
    results_dir: str = str(RESULTS_DIR)
    keep: bool = False
    profile: bool = False
    service_env: dict[str, str] = field(default_factory=dict)
    replicas: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_REPLICAS))
    """Instances per consumer service: what ``make run`` starts (``deploy.stack.DEFAULT_REPLICAS``), unless given."""
    drain_timeout: float = 300.0

    @classmethod
    def quick_run(cls, **overrides: Any) -> BenchSettings:
        base = dict(events=3_000, warm_up_events=0, invoice_events=0, clients=25, http_batch=250, kafka_tick=1_000,
                    freshness_seconds=3.0, probes=2, invoice_requests=20, quick=True, drain_timeout=60.0)
        return cls(**{**base, **overrides})

    @property
    def modes(self) -> tuple[str, ...]:
        return ("http", "kafka") if self.mode == "both" else (self.mode,)


# --------------------------------------------------------------------------- servers


class Servers:
    """Kafka, ClickHouse and PostgreSQL: given ones (``DATABASE_URL`` for PostgreSQL), or our own (removed afterwards unless kept)."""

    def __init__(self, settings: BenchSettings, run_dir: Path) -> None:
        self._settings = settings
        self._run_dir = run_dir
        self.kafka: LocalKafka | None = None
        self.clickhouse: LocalClickHouse | None = None
        self.postgres: LocalPostgres | None = None
        self.bootstrap = settings.kafka_bootstrap or ""
        self.clickhouse_url = settings.clickhouse_url or ""
        self.postgres_url = os.environ.get("DATABASE_URL", "")

    def start(self) -> None:
        if not self.bootstrap:
            self.kafka = LocalKafka(self._run_dir / "kafka", heap="1g")
            self.kafka.start()
            self.bootstrap = self.kafka.bootstrap_servers
        if not self.clickhouse_url:
            self.clickhouse = LocalClickHouse(self._run_dir / "clickhouse")
            self.clickhouse.start()
            self.clickhouse_url = self.clickhouse.url
        if not self.postgres_url:
            # Not under the run directory: as root the server's own user must traverse its parents.
            self.postgres = LocalPostgres(Path(tempfile.mkdtemp(prefix="tokentally-bench-postgres-")))
            self.postgres.start()
            self.postgres_url = self.postgres.url

    def pids(self) -> dict[str, int]:
        pids = {}
        if self.kafka and self.kafka.pid:
            pids["kafka"] = self.kafka.pid
        if self.clickhouse and self.clickhouse.pid:
            pids["clickhouse"] = self.clickhouse.pid
        if self.postgres and self.postgres.pid:
            pids["postgres"] = self.postgres.pid
        return pids

    def stop(self) -> None:
        if self.kafka:
            self.kafka.stop()
            if not self._settings.keep:
                shutil.rmtree(self.kafka.data_dir / "logs", ignore_errors=True)
        if self.clickhouse:
            self.clickhouse.stop()
            if not self._settings.keep:
                shutil.rmtree(self.clickhouse.data_dir / "db", ignore_errors=True)
        if self.postgres:
            self.postgres.stop()
            if not self._settings.keep:
                shutil.rmtree(self.postgres.data_dir, ignore_errors=True)


# --------------------------------------------------------------------------- measuring


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (no interpolation): p99 of 200 samples is the 198th smallest."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-share * len(ordered) // 1))))
    return ordered[rank - 1]


def latency_summary(seconds: list[float]) -> dict[str, float]:
    return {
        "samples": len(seconds),
        "p50_ms": round(percentile(seconds, 0.50) * 1000, 1),
        "p99_ms": round(percentile(seconds, 0.99) * 1000, 1),
        "max_ms": round(max(seconds) * 1000, 1) if seconds else float("nan"),
        "mean_ms": round(statistics.fmean(seconds) * 1000, 1) if seconds else float("nan"),
    }


class Counter:
    """Events counted in the monthly totals of this run's database."""

    def __init__(self, clickhouse: Any) -> None:
        self._clickhouse = clickhouse

    async def counted(self) -> int:
        result = await self._clickhouse.query(
            f"SELECT sum(events) FROM usage_totals_monthly WHERE {BENCH_ROWS}")
        return int(result.result_rows[0][0] or 0)


async def count_until(counter: Counter, target: int, started: float, timeout: float,
                      samples: list[tuple[float, int]], interval: float = 0.25) -> float:
    """Poll until ``target`` events are counted; returns when (monotonic); records (t, counted)."""
    last_progress, last_value = time.monotonic(), -1
    while True:
        value = await counter.counted()
        now = time.monotonic()
        samples.append((round(now - started, 3), value))
        if value >= target:
            return now
        if value != last_value:
            last_progress, last_value = now, value
        elif now - last_progress > timeout:
            raise RuntimeError(f"stalled: {value} of {target} events counted, no progress for {timeout:.0f}s")
        await asyncio.sleep(interval)


async def counted_while_sending(sender: Coroutine[Any, Any, Any], counting: Coroutine[Any, Any, float]) -> float:
    """Run the load and the count together; a load that fails (ingest refused a batch) ends
    the phase at once instead of leaving the count to wait out its stall timeout."""
    send_task, count_task = asyncio.create_task(sender), asyncio.create_task(counting)
    await asyncio.wait({send_task, count_task}, return_when=asyncio.FIRST_EXCEPTION)
    for failed, other in ((send_task, count_task), (count_task, send_task)):
        if failed.done() and failed.exception() is not None:
            other.cancel()
            await asyncio.gather(other, return_exceptions=True)
            raise failed.exception()  # type: ignore[misc]
    await send_task
    return await count_task


def sustained_rate(samples: list[tuple[float, int]], base: int, total: int) -> int | None:
    """Counting rate between 10% and 90% of the phase's events (skips ramp-up and tail);
    None when the phase was too short to see that window."""
    low, high = base + 0.1 * total, base + 0.9 * total
    t_low = next((t for t, v in samples if v >= low), None)
    t_high = next((t for t, v in samples if v >= high), None)
    if t_low is None or t_high is None or t_high <= t_low:
        return None
    return round(0.8 * total / (t_high - t_low))


class TotalsWatcher:
    """Polls the monthly totals of the probe clients, all in one query, every ``interval``."""

    def __init__(self, clickhouse: Any, clients: list[str], interval: float) -> None:
        self._clickhouse = clickhouse
        self._clients = clients
        self._interval = interval
        self.counted: dict[str, int] = dict.fromkeys(clients, 0)
        self._changed = asyncio.Condition()

    async def run(self) -> None:
        while True:
            result = await self._clickhouse.query(
                "SELECT client_id, sum(events) FROM usage_totals_monthly "
                "WHERE client_id IN {clients:Array(String)} GROUP BY client_id",
                parameters={"clients": self._clients})
            async with self._changed:
                self.counted.update({client: int(count) for client, count in result.result_rows})
                self._changed.notify_all()
            await asyncio.sleep(self._interval)

    async def wait_for(self, client: str, count: int, timeout: float) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: self.counted.get(client, 0) >= count), timeout)


# --------------------------------------------------------------------------- the run


class Benchmark:
    def __init__(self, settings: BenchSettings) -> None:
        self.s = settings
        self.run_id = "b" + uuid.uuid4().hex[:6]
        self.started_at = datetime.now(UTC)
        self.run_dir = PROJECT_ROOT / ".local" / "bench" / f"{self.started_at:%Y%m%dT%H%M%S}-{self.run_id}"
        self.admin_key = "bench-admin-" + uuid.uuid4().hex
        self.ingest_key = "bench-ingest-" + uuid.uuid4().hex
        self.workload = Workload(settings.clients, seed=settings.seed, run_id=self.run_id)
        self.results: dict[str, Any] = {}
        self.pipeline: Pipeline | None = None

    # ---------------------------------------------------------------- orchestration

    async def run(self) -> dict[str, Any]:
        servers = Servers(self.s, self.run_dir)
        began = time.monotonic()
        try:
            servers.start()
            env = pipeline_env(
                servers.bootstrap, servers.clickhouse_url,
                [{"key": self.admin_key, "scope": "admin"}, {"key": self.ingest_key, "scope": "ingest"}],
                namespace=f"bench_{self.run_id}", postgres_url=servers.postgres_url, LOG_LEVEL="INFO", PRICING_REFRESH_SECONDS="5",
                **self.s.service_env)
            self.pipeline = start_pipeline(env, self.run_dir / "logs", PIPELINE_SERVICES,
                                           admin_key=self.admin_key, ingest_key=self.ingest_key,
                                           replicas=self.s.replicas)
            self.results["startup_seconds"] = round(time.monotonic() - began, 1)
            pids = {name: service.pid for name, service in self.pipeline.services.items() if service.pid}
            pids |= servers.pids()
            pids["bench"] = os.getpid()
            self.monitor = ProcessMonitor(pids)
            self.profiler = Profiler(self.run_dir / "profiles", {n: p for n, p in pids.items()
                                                                  if n.split("-")[0] in PIPELINE_SERVICES}) \
                if self.s.profile else None
            await self._add_prices()
            self.prices = model_prices()
            ch_settings = ClickHouseSettings(url=env["CLICKHOUSE_URL"])  # type: ignore[arg-type]
            self.clickhouse = await connect(ch_settings)
            self.counter = Counter(self.clickhouse)
            try:
                await self._phases(env)
            finally:
                await self.clickhouse.close()
        finally:
            if self.pipeline:
                self.pipeline.close()
            servers.stop()
        self.results["total_seconds"] = round(time.monotonic() - began, 1)
        return self.report()

    async def _add_prices(self) -> None:
        """The agency's overrides, in force in every pricing instance before any traffic."""
        assert self.pipeline is not None
        bodies = override_bodies()
        for body in bodies:
            self.pipeline.api("pricing").post("/v1/prices", json=body).raise_for_status()
        headers = {"Authorization": f"Bearer {self.admin_key}"}
        for name, service in self.pipeline.services.items():
            if name.split("-")[0] != "pricing":
                continue
            deadline = time.monotonic() + 30
            while len(httpx.get(f"{service.url}/v1/prices", headers=headers).json()) < len(bodies):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not load the price overrides within 30 s")
                await asyncio.sleep(0.2)

    async def _phases(self, env: dict[str, str]) -> None:
        throughput: dict[str, Any] = {}
        self.results["throughput"] = throughput
        for mode in self.s.modes:
            if self.s.warm_up_events:
                self.results.setdefault("warm_up", {})[mode] = await self._throughput(
                    mode, env, phase=f"warm_up_{mode}", count=self.s.warm_up_events)
            throughput[mode] = await self._throughput(mode, env)
        best_mode = max(throughput, key=lambda m: throughput[m]["e2e_events_per_s"])
        half_max = throughput[best_mode]["e2e_events_per_s"] / 2
        self.results["freshness"] = await self._freshness(best_mode, half_max, env)
        if not self.s.quick and abs(half_max - TARGET_RATE / 2) > 1_000:
            self.results["freshness_at_half_target"] = await self._freshness(
                best_mode, TARGET_RATE / 2, env, phase="freshness_at_half_target")
        self.results["correctness"] = await self._correctness()
        if self.s.invoice_events:
            self.results["invoice_at_scale"] = await self._invoice_at_scale()
        self.results["resources"] = {name: usage.as_dict() for name, usage in self.monitor.phases.items()}

    # ---------------------------------------------------------------- phases

    async def _throughput(self, mode: str, env: dict[str, str], phase: str = "", count: int | None = None) -> dict[str, Any]:
        phase = phase or f"throughput_{mode}"
        before = self.workload.expected.unique
        events = self.workload.events(count or self.s.events, self.s.duplicate_share)
        new_unique = self.workload.expected.unique - before
        base = await self.counter.counted()
        print(f"[{phase}] sending {len(events):,} events ({new_unique:,} unique)...", flush=True)
        samples: list[tuple[float, int]] = []
        with self.monitor.phase(phase):
            if self.profiler:
                self.profiler.start(phase)
            stats = SendStats()
            if mode == "http":
                payload = http_batches(events, self.s.http_batch)
                stats.started = time.monotonic()
                sender = send_http(self._ingest_url, self.ingest_key, payload,
                                   concurrency=self.s.http_concurrency, rate=self.s.rate, stats=stats)
            else:
                payload = kafka_ticks(events, self.s.kafka_tick)
                stats.started = time.monotonic()
                sender = send_kafka(env["KAFKA_BOOTSTRAP_SERVERS"], topic(USAGE_RECORDED, env["KAFKA_TOPIC_PREFIX"]),
                                    payload, rate=self.s.rate, stats=stats)
            counted_at = await counted_while_sending(
                sender, count_until(self.counter, base + new_unique, stats.started, self.s.drain_timeout, samples))
            if self.profiler:
                self.profiler.stop()
        seconds = counted_at - stats.started
        result = {
            "events_sent": len(events),
            "unique_events": new_unique,
            "send_seconds": round(stats.seconds, 2),
            "ingest_events_per_s": round(len(events) / stats.seconds),
            "e2e_seconds": round(seconds, 2),
            "e2e_events_per_s": round(len(events) / seconds),
            "sustained_events_per_s": sustained_rate(samples, base, new_unique),
            "drain_seconds_after_send": round(counted_at - stats.finished, 2),
            "messages_or_requests": stats.requests,
            "counted_samples": samples[:: max(1, len(samples) // 60)],
        }
        if stats.request_seconds:
            result["http_request_latency"] = latency_summary(stats.request_seconds)
        print(f"[{phase}] {result['e2e_events_per_s']:,} events/s end to end "
              f"(sustained {result['sustained_events_per_s'] or 'n/a'}/s, ingest side {result['ingest_events_per_s']:,}/s)",
              flush=True)
        return result

    async def _freshness(self, mode: str, rate: float, env: dict[str, str],
                         phase: str = "freshness") -> dict[str, Any]:
        count = int(rate * self.s.freshness_seconds)
        before = self.workload.expected.unique
        events = self.workload.events(count, self.s.duplicate_share)
        new_unique = self.workload.expected.unique - before
        base = await self.counter.counted()
        print(f"[{phase}] {len(events):,} events over {self.s.freshness_seconds:.0f}s at {rate:,.0f}/s via {mode}, "
              f"{self.s.probes} probes...", flush=True)
        latencies: list[float] = []
        probe_events: list[int] = [0]
        with self.monitor.phase(phase):
            if mode == "http":
                sender = send_http(self._ingest_url, self.ingest_key, http_batches(events, self.s.http_batch),
                                   concurrency=self.s.http_concurrency, rate=rate)
            else:
                sender = send_kafka(env["KAFKA_BOOTSTRAP_SERVERS"], topic(USAGE_RECORDED, env["KAFKA_TOPIC_PREFIX"]),
                                    kafka_ticks(events, max(100, int(rate / 20))), rate=rate)
            load = asyncio.create_task(sender)
            stop_at = time.monotonic() + self.s.freshness_seconds
            clients = [f"{self.run_id}-{phase.replace('_', '-')}-p{i}" for i in range(self.s.probes)]
            watcher = TotalsWatcher(self.clickhouse, clients, self.s.probe_poll_seconds)
            watching = asyncio.create_task(watcher.run())
            async with httpx.AsyncClient(timeout=30, headers={"Authorization": f"Bearer {self.admin_key}"}) as http:
                await asyncio.gather(*(self._probe(http, client, i, stop_at, latencies, probe_events, watcher)
                                       for i, client in enumerate(clients)))
            watching.cancel()
            stats = await load
            await count_until(self.counter, base + new_unique + probe_events[0], time.monotonic(),
                              self.s.drain_timeout, [])
        stages = await self._stage_latencies(clients)
        result = {
            "load_mode": mode,
            "stages_ms": stages,
            "target_events_per_s": round(rate),
            "achieved_events_per_s": round(stats.events / stats.seconds),
            "probe_events": probe_events[0],
            **latency_summary(latencies),
        }
        print(f"[{phase}] p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, max {result['max_ms']} ms "
              f"over {result['samples']} probes; stages {stages}", flush=True)
        return result

    async def _stage_latencies(self, clients: list[str]) -> dict[str, list[float]]:
        """Where a probe event's time went, from the times stored with it: ingest accepted it
        (``received_at``), pricing priced it (``priced_at``), the aggregator's insert began
        (``inserted_at``); p50 and p99 in ms."""
        result = await self.clickhouse.query(
            "SELECT quantilesExact(0.5, 0.99)(dateDiff('millisecond', received_at, priced_at)), "
            "quantilesExact(0.5, 0.99)(dateDiff('millisecond', priced_at, inserted_at)) "
            "FROM priced_events WHERE client_id IN {clients:Array(String)}",
            parameters={"clients": clients})
        to_pricing, to_insert = result.result_rows[0]
        return {"ingest_to_priced_p50_p99": list(to_pricing), "priced_to_insert_p50_p99": list(to_insert)}

    async def _probe(self, http: httpx.AsyncClient, client_id: str, number: int, stop_at: float,
                     latencies: list[float], sent: list[int], watcher: TotalsWatcher) -> None:
        """Send one event through ingest; wait until the totals count it, then until the invoice
        API shows it; repeat until ``stop_at``. The latency ends when the invoice shows it.

        ``client_id`` is the probe's own, new in every phase: its invoice counts exactly the
        events this probe sent. Watching the totals (one small query for every probe, see
        ``TotalsWatcher``) before asking the invoice API keeps the measurement light: polling
        the invoice API itself at this rate cost ClickHouse more than half a core and slowed
        the very inserts being timed."""
        ingest = {"Authorization": f"Bearer {self.ingest_key}"}
        seen = 0
        while time.monotonic() < stop_at:
            event = self.workload.probe_event(client_id)
            period = event["timestamp"][:7]
            began = time.monotonic()
            reply = await http.post(f"{self._ingest_url}/v1/events", json=event, headers=ingest)
            if reply.status_code != 202:
                raise RuntimeError(f"probe refused: {reply.status_code} {reply.text[:300]}")
            seen += 1
            sent[0] += 1
            await watcher.wait_for(client_id, seen, timeout=60)
            while True:
                invoice = await http.get(f"{self._invoicing_url}/v1/clients/{client_id}/invoices/{period}")
                if invoice.status_code == 200 and sum(line["events"] for line in invoice.json()["lines"]) >= seen:
                    latencies.append(time.monotonic() - began)
                    break
                if time.monotonic() - began > 60:
                    raise RuntimeError(f"probe event of {client_id} not visible after 60 s")
                await asyncio.sleep(self.s.probe_poll_seconds)
            await asyncio.sleep(0.05 + 0.1 * (number / max(1, self.s.probes)))

    async def _correctness(self) -> dict[str, Any]:
        """ClickHouse totals against the totals recomputed from every generated event."""
        expected = self.workload.expected
        expected_cost = expected.cost(self.prices)
        mismatches: list[str] = []
        for table, period in (("usage_totals_monthly", "month"), ("usage_totals_daily", "day")):
            result = await self.clickhouse.query(
                f"SELECT client_id, formatDateTime({period}, '%Y-%m') AS ym, provider, model, sum(events), "
                "sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens), "
                f"sum(reasoning_tokens), sum(cost_usd) FROM {table} WHERE {BENCH_ROWS} "
                "GROUP BY client_id, ym, provider, model")
            found = {tuple(row[:4]): ([int(v) for v in row[4:10]], Decimal(row[10])) for row in result.result_rows}
            for key in sorted(expected.lines.keys() | found.keys()):
                want = (expected.lines.get(key), expected_cost.get(key))
                got = found.get(key, (None, None))
                if want[0] != got[0] or want[1] != got[1]:
                    mismatches.append(f"{table} {key}: expected {want}, found {got}")
        rows = await self.clickhouse.query(
            f"SELECT count(), uniqExact(client_id, event_id) FROM priced_events WHERE {BENCH_ROWS}")
        raw_rows, raw_unique = (int(v) for v in rows.result_rows[0])
        unpriced = int((await self.clickhouse.query(
            "SELECT count() FROM unpriced_events FINAL WHERE status = 'pending'")).result_rows[0][0])
        invoices_checked = await self._check_invoices(expected_cost, mismatches)
        total_cost = sum(expected_cost.values(), Decimal(0))
        counted_cost = (await self.clickhouse.query(
            f"SELECT sum(cost_usd) FROM usage_totals_monthly WHERE {BENCH_ROWS}"
        )).result_rows[0][0]
        ok = not mismatches and raw_rows == raw_unique == expected.unique and unpriced == 0
        result = {
            "ok": ok,
            "events_sent": expected.sent,
            "duplicates_sent": expected.duplicates,
            "unique_events": expected.unique,
            "counted_events": await self.counter.counted(),
            "priced_event_rows": raw_rows,
            "unpriced_events": unpriced,  # still pending in quarantine (every model here has a price)
            "lines_checked": len(expected.lines),
            "invoices_checked": invoices_checked,
            "expected_cost_usd": str(total_cost),
            "counted_cost_usd": str(counted_cost),
            "expected_cost_cents": str(round_cents(total_cost)),
            "mismatches": mismatches[:20],
            "mismatch_count": len(mismatches),
        }
        print(f"[correctness] {'OK' if ok else 'FAILED'}: {expected.unique:,} unique of {expected.sent:,} sent "
              f"({expected.duplicates:,} duplicates), {len(expected.lines):,} lines, "
              f"${round_cents(total_cost)} exact to 18 places", flush=True)
        return result

    async def _check_invoices(self, expected_cost: dict[tuple[str, str, str, str], Decimal],
                              mismatches: list[str]) -> int:
        """The biggest clients' invoices: base cost = Σ lines rounded half-up to cents (plus
        the lines of any history stored for them, ``bench/history.py``, as the invoice bills them)."""
        by_client: dict[tuple[str, str], Decimal] = {}
        for (client, month, _, _), cost in expected_cost.items():
            by_client[(client, month)] = by_client.get((client, month), Decimal(0)) + round_cents(cost)
        biggest = sorted(by_client, key=lambda k: by_client[k], reverse=True)[:5]
        assert self.pipeline is not None
        for client, month in biggest:
            invoice = self.pipeline.invoice(client, month)
            history = sum((Decimal(line["amount"]) for line in invoice["lines"]
                           if line["price"]["source"] == HISTORY_SOURCE), Decimal(0))
            if Decimal(invoice["base_cost"]) - history != by_client[(client, month)]:
                mismatches.append(f"invoice {client} {month}: base_cost {invoice['base_cost']}, "
                                  f"expected {by_client[(client, month)]}")
        return len(biggest)

    async def _invoice_at_scale(self) -> dict[str, Any]:
        print(f"[invoice] inserting {self.s.invoice_events:,} priced events into ClickHouse...", flush=True)
        with self.monitor.phase("bulk_insert"):
            began = time.monotonic()
            await bulk_insert(self.clickhouse, self.s.invoice_events)
            insert_seconds = time.monotonic() - began
        total = int((await self.clickhouse.query("SELECT count() FROM priced_events")).result_rows[0][0])
        parts = int((await self.clickhouse.query(
            "SELECT count() FROM system.parts WHERE database = currentDatabase() "
            "AND table = 'usage_totals_monthly' AND active")).result_rows[0][0])
        month = datetime.now(UTC).strftime("%Y-%m")
        targets = {"synthetic_client": ("synth-0000", month),
                   "benchmark_top_client": (self.workload.clients[0], month)}
        result: dict[str, Any] = {"priced_events_in_clickhouse": total, "insert_seconds": round(insert_seconds, 1),
                                  "insert_rows_per_s": round(self.s.invoice_events / insert_seconds),
                                  "monthly_totals_parts": parts}
        with self.monitor.phase("invoice_latency"):
            async with httpx.AsyncClient(base_url=self._invoicing_url, timeout=30,
                                         headers={"Authorization": f"Bearer {self.admin_key}"}) as http:
                for name, (client_id, period) in targets.items():
                    url = f"/v1/clients/{client_id}/invoices/{period}"
                    for _ in range(10):  # warm-up
                        (await http.get(url)).raise_for_status()
                    seconds = []
                    for _ in range(self.s.invoice_requests):
                        began = time.monotonic()
                        reply = await http.get(url)
                        seconds.append(time.monotonic() - began)
                        reply.raise_for_status()
                    lines = len(reply.json()["lines"])
                    result[name] = {"client_id": client_id, "period": period, "lines": lines,
                                    **latency_summary(seconds)}
        syn = result["synthetic_client"]
        print(f"[invoice] {total:,} priced events: p50 {syn['p50_ms']} ms, p99 {syn['p99_ms']} ms "
              f"(insert {insert_seconds:.0f}s)", flush=True)
        return result

    # ---------------------------------------------------------------- reporting

    @property
    def _ingest_url(self) -> str:
        assert self.pipeline is not None
        return self.pipeline.services["ingest"].url or ""

    @property
    def _invoicing_url(self) -> str:
        assert self.pipeline is not None
        return self.pipeline.services["invoicing"].url or ""

    def report(self) -> dict[str, Any]:
        settings = asdict(self.s)
        return {
            "run_id": self.run_id,
            "started_at": self.started_at.isoformat(),
            "command": " ".join(["python -m bench.pipeline", *sys.argv[1:]]),
            "machine": machine_info(),
            "versions": versions(),
            "settings": settings,
            "results": self.results,
            "profiles": self.profiler.summaries if self.profiler else None,
        }


# --------------------------------------------------------------------------- environment facts


def machine_info() -> dict[str, Any]:
    import psutil

    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "cpu_model": cpu_model,
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 1024**3, 1),
        "python": platform.python_version(),
    }


def versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "absent"
    pom = PROJECT_ROOT / "deploy" / "kafka" / "pom.xml"
    text = pom.read_text() if pom.exists() else ""
    start = text.find("<kafka.version>")
    found["apache-kafka"] = text[start + 15 : text.find("</kafka.version>")] if start >= 0 else "?"
    try:
        found["git_commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT,
                                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_ROOT,
                               capture_output=True, text=True).stdout.strip()
        if dirty:
            found["git_commit"] += "+dirty"
    except (OSError, subprocess.CalledProcessError):
        found["git_commit"] = "?"
    return found


# --------------------------------------------------------------------------- CLI


def parse_args(argv: list[str] | None) -> BenchSettings:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, help="events per throughput mode (default 600,000; quick 3,000)")
    parser.add_argument("--warm-up-events", type=int,
                        help="events sent through each mode before it is measured (default 100,000; quick 0)")
    parser.add_argument("--rate", type=float, help="target events/s for the throughput phases (default: max)")
    parser.add_argument("--mode", choices=["http", "kafka", "both"], default="both")
    parser.add_argument("--invoice-events", type=int, help="synthetic priced events for the invoice step "
                        "(default 10,000,000; quick 0 = skipped)")
    parser.add_argument("--quick", action="store_true", help="a few thousand events, a few seconds, no 10M step")
    parser.add_argument("--clients", type=int)
    parser.add_argument("--http-batch", type=int, help="events per POST (default 1,000)")
    parser.add_argument("--http-concurrency", type=int, help="POSTs in flight (default 4)")
    parser.add_argument("--freshness-seconds", type=float)
    parser.add_argument("--kafka-bootstrap", help="use this Kafka instead of starting one")
    parser.add_argument("--clickhouse-url", help="use this ClickHouse (http://user:pw@host:port) instead")
    parser.add_argument("--results-dir", default=str(RESULTS_DIR))
    parser.add_argument("--keep", action="store_true", help="keep the Kafka and ClickHouse data of the run")
    parser.add_argument("--profile", action="store_true",
                        help="py-spy every service during the throughput phases (needs `uvx py-spy`)")
    parser.add_argument("--replicas", action="append", default=[], metavar="SERVICE=N",
                        help=f"run N instances of a consumer (default {DEFAULT_REPLICAS}, as make run), "
                             "e.g. --replicas aggregator=1")
    parser.add_argument("--set", action="append", default=[], metavar="VAR=VALUE",
                        help="extra service environment, e.g. --set AGGREGATOR_MAX_RECORDS=500")
    args = parser.parse_args(argv)
    chosen = {key: value for key, value in {
        "events": args.events, "warm_up_events": args.warm_up_events, "rate": args.rate, "mode": args.mode, "invoice_events": args.invoice_events,
        "clients": args.clients, "http_batch": args.http_batch, "http_concurrency": args.http_concurrency,
        "freshness_seconds": args.freshness_seconds, "kafka_bootstrap": args.kafka_bootstrap,
        "clickhouse_url": args.clickhouse_url, "results_dir": args.results_dir, "keep": args.keep,
        "profile": args.profile,
        "service_env": dict(item.split("=", 1) for item in args.set),
        "replicas": {**DEFAULT_REPLICAS,
                     **{name: int(count) for name, count in (item.split("=", 1) for item in args.replicas)}},
    }.items() if value is not None}
    return BenchSettings.quick_run(**chosen) if args.quick else BenchSettings(**chosen)


def write_results(report: dict[str, Any], results_dir: Path) -> Path:
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=2, default=str) + "\n")
    tmp.rename(path)
    return path


def run(settings: BenchSettings) -> dict[str, Any]:
    return asyncio.run(Benchmark(settings).run())


def main(argv: list[str] | None = None) -> int:
    settings = parse_args(argv)
    report = run(settings)
    print_summary(report)
    path = write_results(report, Path(settings.results_dir))
    print(f"\nresults: {path}")
    return 0 if report["results"]["correctness"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
