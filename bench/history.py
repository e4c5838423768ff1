"""History mode of the pipeline benchmark: does the cost of an event grow with what is already stored?

    make bench-history                                    # = uv run python -m bench.history --history 0,10M,50M
    uv run python -m bench.history --history 0,1M --events 100000 --freshness-seconds 15   # a few minutes
    uv run python -m bench.history --help

One pipeline (``bench/pipeline.py``'s servers, services and workload), and for each history
size in turn (cumulative: 0, then 10 M, then 40 M more for 50 M):

1. **history**: the workload's active clients get that many events already stored, in the
   Zipf mix of the workload, spread evenly over the ``--days`` before now, with random
   128-bit event ids; stored as the pipeline stores them (``bench/bulk.py``,
   ``insert_history``): rows in ``priced_events`` (the totals views fill), and the keys of
   those stored in the idempotency window in ``event_keys`` under the day they were stored.
2. **lookup**: the aggregator's duplicate check (``existing_keys_query``) of a batch of
   5,000 new keys over the 20 biggest clients, timed ``--lookup-repeats`` times with the
   pipeline idle; client time, and ClickHouse's own duration, rows and bytes read
   (``system.query_log``), medians. The old check (every granule of the clients' events
   in ``priced_events``) alongside, fewer times, for comparison.
3. **throughput**: ``--events`` through ``--mode`` as fast as the pipeline takes them.
4. **freshness**: ``--freshness-seconds`` of load at ``--fresh-rate`` (10,000 ev/s) with
   probes through the ingest API (POST → the invoice shows it), p50/p99/max.

Then the exactness check of ``bench/pipeline.py`` over every event the run sent (the history
rows have their own invoice lines, ``price_source = 'bench-history'``, left out of it). The
issue's target: at 50 M stored, freshness p99 within 1.5× and throughput within 10 % of the
empty store. Every figure comes with the machine's load average (``os.getloadavg``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.bulk import insert_history
from bench.pipeline import RESULTS_DIR, BenchSettings, Benchmark, write_results
from bench.report import resource_rows
from libs.common.schema import IDEMPOTENCY_WINDOW_DAYS
from services.aggregator.store import KEYS_TABLE, existing_keys_query


@dataclass
class HistorySettings:
    levels: list[int] = field(default_factory=lambda: [0, 10_000_000, 50_000_000])
    """Events stored for the active clients before each round (cumulative, increasing)."""
    days: float = 365.0
    """History is spread evenly over this many days before now."""
    fresh_rate: float = 10_000.0
    lookup_clients: int = 20
    lookup_keys: int = 5_000
    lookup_repeats: int = 15
    old_lookup_repeats: int = 3
    settle_seconds: float = 120.0
    """After storing history, wait up to this long for ClickHouse's merges to finish."""


def parse_count(text: str) -> int:
    """``0``, ``500k``, ``10M``, ``1.5M``, ``2000000`` → an event count."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kKmM]?)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a count: {text!r} (e.g. 0, 500k, 10M)")
    factor = {"": 1, "k": 1_000, "m": 1_000_000}[match.group(2).lower()]
    return round(float(match.group(1)) * factor)


def label(count: int) -> str:
    if count >= 1_000_000 and count % 100_000 == 0:
        return f"{count / 1_000_000:g}M"
    if count >= 1_000 and count % 100 == 0:
        return f"{count / 1_000:g}k"
    return str(count)


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def old_lookup_sql(keys_table: str) -> str:
    """The duplicate check before ``event_keys`` (issue 11's measurement): every granule of the
    batch's clients in ``priced_events``, whatever their age."""
    return ("SELECT client_id, event_id FROM priced_events "
            f"WHERE client_id IN (SELECT client_id FROM {keys_table}) "
            f"AND (client_id, event_id) IN (SELECT client_id, event_id FROM {keys_table})")


class HistoryBenchmark(Benchmark):
    def __init__(self, settings: BenchSettings, history: HistorySettings) -> None:
        super().__init__(settings)
        self.h = history
        self.history_now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        self._rng = random.Random()

    async def _phases(self, env: dict[str, str]) -> None:
        mode = self.s.modes[0]
        rounds: list[dict[str, Any]] = []
        self.results["history"] = rounds
        stored = 0
        for target in self.h.levels:
            name = label(target)
            round_: dict[str, Any] = {"stored": target, "label": name}
            if target > stored:
                round_["insert"] = await self._store(target - stored, stored)
                stored = target
            round_["settle"] = await self._settle()
            round_["keys_in_window"] = await self._scalar(
                f"SELECT count() FROM event_keys WHERE received_day >= today() - {IDEMPOTENCY_WINDOW_DAYS}")
            round_["priced_event_rows"] = await self._scalar("SELECT count() FROM priced_events")
            round_["lookup"] = await self._lookups(name)
            round_["load_before"] = load_average()
            round_["throughput"] = await self._throughput(mode, env, phase=f"throughput_{name}")
            round_["load_after_throughput"] = load_average()
            round_["freshness"] = await self._freshness(mode, self.h.fresh_rate, env, phase=f"freshness_{name}")
            round_["load_after_freshness"] = load_average()
            rounds.append(round_)
            print(f"[history {name}] " + "  ".join(round_line(round_)), flush=True)
        self.results["correctness"] = await self._correctness()
        self.results["resources"] = {name: usage.as_dict() for name, usage in self.monitor.phases.items()}

    async def _scalar(self, sql: str) -> int:
        return int((await self.clickhouse.query(sql)).result_rows[0][0])

    async def _store(self, rows: int, offset: int) -> dict[str, Any]:
        clients = self.workload.clients
        weights = [1 / (rank + 1) ** 1.1 for rank in range(len(clients))]  # the workload's own mix
        print(f"[history] storing {rows:,} events for {len(clients)} clients over {self.h.days:g} days...",
              flush=True)
        load = load_average()
        began = time.monotonic()
        with self.monitor.phase(f"history_insert_{label(offset + rows)}"):
            await insert_history(self.clickhouse, rows, offset, clients, weights, self.h.days, self.history_now,
                                 chunk=5_000_000)
        seconds = time.monotonic() - began
        print(f"[history] stored in {seconds:.0f} s ({rows / seconds:,.0f} rows/s)", flush=True)
        return {"rows": rows, "seconds": round(seconds, 1), "rows_per_s": round(rows / seconds),
                "load_before": load, "load_after": load_average()}

    async def _settle(self) -> dict[str, Any]:
        """Wait (bounded) until no merge runs in this database, so the next round starts level."""
        began = time.monotonic()
        running = 0
        while time.monotonic() - began < self.h.settle_seconds:
            running = await self._scalar("SELECT count() FROM system.merges WHERE database = currentDatabase()")
            if not running:
                break
            await asyncio.sleep(2)
        parts = await self._scalar("SELECT count() FROM system.parts WHERE database = currentDatabase() "
                                   "AND table = 'priced_events' AND active")
        return {"seconds": round(time.monotonic() - began, 1), "merges_still_running": running,
                "priced_events_parts": parts}

    def _batch(self, clients: list[str]) -> list[tuple[str, str]]:
        """New keys (random 128-bit ids, as the workload sends) spread over ``clients``."""
        return [(clients[i % len(clients)], f"{self._rng.getrandbits(128):032x}") for i in range(self.h.lookup_keys)]

    async def _lookups(self, name: str) -> dict[str, Any]:
        """The duplicate check alone, the pipeline idle: the new one and the old one.

        Besides the client's time, ClickHouse's own summary of each query (the
        ``X-ClickHouse-Summary`` header: rows and bytes read, server time), which the
        machine's load does not change: rows read is the figure to compare across sizes."""
        clients = self.workload.clients[: self.h.lookup_clients]  # the biggest (Zipf rank order)
        load = load_average()
        new: list[tuple[float, dict[str, Any]]] = []
        for attempt in range(self.h.lookup_repeats + 1):  # the first one warms up, not counted
            sql, keys_table = existing_keys_query(self._batch(clients))
            began = time.perf_counter()
            result = await self.clickhouse.query(sql, external_data=keys_table)
            if attempt:
                new.append(((time.perf_counter() - began) * 1000, dict(result.summary)))
            if result.result_rows:
                raise RuntimeError(f"new random keys reported as stored: {result.result_rows[:3]}")
        old: list[tuple[float, dict[str, Any]]] = []
        for _ in range(self.h.old_lookup_repeats):
            _, keys_table = existing_keys_query(self._batch(clients))
            began = time.perf_counter()
            result = await self.clickhouse.query(old_lookup_sql(KEYS_TABLE), external_data=keys_table)
            old.append(((time.perf_counter() - began) * 1000, dict(result.summary)))
        found = {"keys": self.h.lookup_keys, "clients": len(clients), "load": load, "new": _timings(new)}
        if old:
            found["old"] = _timings(old)
        return found

    def report(self) -> dict[str, Any]:
        report = super().report()
        report["kind"] = "history"
        report["command"] = " ".join(["python -m bench.history", *sys.argv[1:]])
        report["history_settings"] = asdict(self.h)
        report["verdict"] = verdict(self.results.get("history", []))
        return report


def _timings(samples: list[tuple[float, dict[str, Any]]]) -> dict[str, Any]:
    """Medians of the client's times and of ClickHouse's summaries (rows, bytes, server time)."""
    client_ms = [ms for ms, _ in samples]
    found: dict[str, Any] = {"repeats": len(samples), "client_ms_median": round(statistics.median(client_ms), 1),
                             "client_ms_min": round(min(client_ms), 1), "client_ms_max": round(max(client_ms), 1),
                             "client_ms": [round(ms, 1) for ms in client_ms]}
    for key, out, scale in (("read_rows", "read_rows_median", 1), ("read_bytes", "read_bytes_median", 1),
                            ("elapsed_ns", "server_ms_median", 1e-6)):
        values = [float(summary[key]) * scale for _, summary in samples if key in summary]
        if values:
            found[out] = round(statistics.median(values), 1)
    return found


def verdict(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The issue's target: at the most history, freshness p99 ≤ 1.5× and throughput ≥ 90 % of the empty store's."""
    empty = next((r for r in rounds if r["stored"] == 0), None)
    if empty is None or len(rounds) < 2:
        return {}
    most = max(rounds, key=lambda r: r["stored"])
    p99_ratio = most["freshness"]["p99_ms"] / empty["freshness"]["p99_ms"]
    rate = _rate(most) / _rate(empty)
    return {"stored": most["stored"], "freshness_p99_ratio": round(p99_ratio, 2), "freshness_ok": p99_ratio <= 1.5,
            "throughput_ratio": round(rate, 3), "throughput_ok": rate >= 0.9}


def _rate(round_: dict[str, Any]) -> int:
    phase = round_["throughput"]
    return int(phase["sustained_events_per_s"] or phase["e2e_events_per_s"])


def round_line(r: dict[str, Any]) -> list[str]:
    new = r["lookup"]["new"]
    old = r["lookup"].get("old", {})
    fresh = r["freshness"]
    return [
        f"stored {r['priced_event_rows']:,} rows, {r['keys_in_window']:,} keys in the window",
        f"lookup {new['client_ms_median']:.0f} ms (server {new.get('server_ms_median', '?')} ms, "
        f"{new.get('read_rows_median', 0):,.0f} rows read)" if "read_rows_median" in new
        else f"lookup {new['client_ms_median']:.0f} ms",
        f"old lookup {old['client_ms_median']:.0f} ms" if old else "",
        f"throughput {_rate(r):,} ev/s",
        f"freshness at {fresh['achieved_events_per_s']:,} ev/s p50/p99 {fresh['p50_ms']:.0f}/{fresh['p99_ms']:.0f} ms",
        f"load {r['load_before']}",
    ]


def print_history(report: dict[str, Any]) -> None:
    rounds = report["results"].get("history", [])
    rows = [["stored", "keys in window", "lookup median (server) ms", "rows read", "old lookup ms",
             "throughput ev/s", "freshness p50 / p99 ms", "load 1/5/15"]]
    for r in rounds:
        new, old, fresh = r["lookup"]["new"], r["lookup"].get("old", {}), r["freshness"]
        rows.append([
            r["label"], f"{r['keys_in_window']:,}",
            f"{new['client_ms_median']:.0f} ({new.get('server_ms_median', '?')})",
            f"{new['read_rows_median']:,.0f}" if "read_rows_median" in new else "?",
            f"{old['client_ms_median']:,.0f}" if old else "-",
            f"{_rate(r):,}", f"{fresh['p50_ms']:.0f} / {fresh['p99_ms']:.0f}",
            " ".join(f"{v:.1f}" for v in r["load_before"]),
        ])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    print(f"\nTokenTally history benchmark {report['started_at'][:19]}  run {report['run_id']}  "
          f"(history over {report['history_settings']['days']:g} days; "
          f"{IDEMPOTENCY_WINDOW_DAYS}-day idempotency window)")
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    if verdict_ := report.get("verdict"):
        print(f"\nat {label(verdict_['stored'])} stored vs empty: freshness p99 ×{verdict_['freshness_p99_ratio']} "
              f"(target ≤ 1.5: {'ok' if verdict_['freshness_ok'] else 'MISSED'}), throughput ×"
              f"{verdict_['throughput_ratio']} (target ≥ 0.9: {'ok' if verdict_['throughput_ok'] else 'MISSED'})")
    correctness = report["results"].get("correctness", {})
    print(f"correctness: {'OK' if correctness.get('ok') else 'FAILED'} "
          f"({correctness.get('unique_events', 0):,} unique events of the run, history rows left out)")
    if len(resource_rows(report)) > 1:
        print("\nCPU in cores per phase, peak RSS:")
        for row in resource_rows(report):
            print("  ".join(row))


def parse_args(argv: list[str] | None) -> tuple[BenchSettings, HistorySettings]:
    parser = argparse.ArgumentParser(prog="python -m bench.history", description=__doc__.splitlines()[0])
    parser.add_argument("--history", default="0,10M,50M",
                        help="stored events before each round, cumulative (default 0,10M,50M)")
    parser.add_argument("--days", type=float, default=365.0, help="history spread over this many days (365)")
    parser.add_argument("--events", type=int, default=300_000, help="events per throughput round (300,000)")
    parser.add_argument("--mode", choices=["http", "kafka"], default="kafka",
                        help="the path of the throughput rounds and the freshness load (default kafka)")
    parser.add_argument("--fresh-rate", type=float, default=10_000.0, help="freshness load, events/s (10,000)")
    parser.add_argument("--freshness-seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=400)
    parser.add_argument("--lookup-repeats", type=int, default=15)
    parser.add_argument("--old-lookup-repeats", type=int, default=3, help="0 skips the old query")
    parser.add_argument("--settle-seconds", type=float, default=120.0)
    parser.add_argument("--kafka-bootstrap", help="use this Kafka instead of starting one")
    parser.add_argument("--clickhouse-url", help="use this ClickHouse (http://user:pw@host:port) instead")
    parser.add_argument("--results-dir", default=str(RESULTS_DIR))
    parser.add_argument("--keep", action="store_true", help="keep the Kafka and ClickHouse data of the run")
    parser.add_argument("--set", action="append", default=[], metavar="VAR=VALUE",
                        help="extra service environment, e.g. --set AGGREGATOR_MAX_RECORDS=500")
    args = parser.parse_args(argv)
    levels = [parse_count(item) for item in args.history.split(",")]
    if levels != sorted(levels) or len(set(levels)) != len(levels):
        parser.error("--history must increase (stored events are cumulative)")
    bench = BenchSettings(
        events=args.events, mode=args.mode, invoice_events=0, clients=args.clients,
        freshness_seconds=args.freshness_seconds, kafka_bootstrap=args.kafka_bootstrap,
        clickhouse_url=args.clickhouse_url, results_dir=args.results_dir, keep=args.keep,
        service_env=dict(item.split("=", 1) for item in args.set))
    history = HistorySettings(levels=levels, days=args.days, fresh_rate=args.fresh_rate,
                              lookup_repeats=args.lookup_repeats, old_lookup_repeats=args.old_lookup_repeats,
                              settle_seconds=args.settle_seconds)
    return bench, history


def run(bench: BenchSettings, history: HistorySettings) -> dict[str, Any]:
    return asyncio.run(HistoryBenchmark(bench, history).run())


def main(argv: list[str] | None = None) -> int:
    bench, history = parse_args(argv)
    report = run(bench, history)
    print_history(report)
    path = write_results(report, Path(bench.results_dir))
    print(f"\nresults: {path}")
    return 0 if report["results"]["correctness"]["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
