"""The benchmark's one summary table, printed from its JSON report."""

from __future__ import annotations

from typing import Any

TARGETS = {
    "e2e": {"http": 40_000, "kafka": 60_000},  # events/s end to end, sustained (issue 11's floor)
    "freshness_p99_ms": 2_000,  # at half that rate
    "invoice_p99_ms": 50,  # at 10M priced events
}


def _mark(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def summary_rows(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(what, measured, target) rows."""
    results = report["results"]
    rows: list[tuple[str, str, str]] = []
    for mode, phase in results.get("throughput", {}).items():
        floor = TARGETS["e2e"][mode]
        rows.append((f"throughput {mode}: end to end (sent / last counted)",
                     f"{phase['e2e_events_per_s']:,} ev/s", f">= {floor:,} {_mark(phase['e2e_events_per_s'] >= floor)}"))
        sustained = phase["sustained_events_per_s"]
        rows.append((f"throughput {mode}: sustained (10%-90% counted)",
                     f"{sustained:,} ev/s" if sustained else "n/a (too short)",
                     f">= {floor:,} {_mark(sustained >= floor)}" if sustained else ""))
        rows.append((f"throughput {mode}: ingest side", f"{phase['ingest_events_per_s']:,} ev/s", ""))
        if "http_request_latency" in phase:
            lat = phase["http_request_latency"]
            rows.append((f"throughput {mode}: POST latency p50/p99", f"{lat['p50_ms']} / {lat['p99_ms']} ms", ""))
    for fresh in (results.get("freshness"), results.get("freshness_at_half_target")):
        if not fresh:
            continue
        rows.append((f"freshness at {fresh['achieved_events_per_s']:,} ev/s ({fresh['load_mode']}) p50/p99/max",
                     f"{fresh['p50_ms']:.0f} / {fresh['p99_ms']:.0f} / {fresh['max_ms']:.0f} ms",
                     f"p99 < {TARGETS['freshness_p99_ms']:,} {_mark(fresh['p99_ms'] < TARGETS['freshness_p99_ms'])}"))
    if scale := results.get("invoice_at_scale"):
        for name in ("synthetic_client", "benchmark_top_client"):
            inv = scale[name]
            rows.append((f"invoice API at {scale['priced_events_in_clickhouse']:,} events, {name} p50/p99",
                         f"{inv['p50_ms']} / {inv['p99_ms']} ms",
                         f"p99 < {TARGETS['invoice_p99_ms']} {_mark(inv['p99_ms'] < TARGETS['invoice_p99_ms'])}"))
        rows.append(("bulk insert into priced_events (+ views)", f"{scale['insert_rows_per_s']:,} rows/s", ""))
    if corr := results.get("correctness"):
        rows.append(("correctness: totals = recomputed, duplicates once",
                     f"{'OK' if corr['ok'] else 'FAILED'} ({corr['unique_events']:,} unique, "
                     f"{corr['duplicates_sent']:,} dups, ${corr['expected_cost_cents']})", "exact"))
    return rows


def resource_rows(report: dict[str, Any]) -> list[list[str]]:
    """CPU (cores, averaged over each phase) and the peak RSS over the whole run, per process."""
    resources = report["results"].get("resources", {})
    phases = [name for name in ("throughput_http", "throughput_kafka", "freshness", "freshness_at_half_target",
                                "bulk_insert", "invoice_latency") if name in resources]
    names: list[str] = []
    for phase in phases:
        names.extend(n for n in resources[phase]["processes"] if n not in names)
    short = {"throughput_http": "http", "throughput_kafka": "kafka", "freshness": "fresh(max/2)",
             "freshness_at_half_target": "fresh(10k)", "bulk_insert": "bulk", "invoice_latency": "invoice"}
    rows = [["process", *[f"cpu {short[p]}" for p in phases], "peak RSS"]]
    for name in names:
        row = [name]
        peak = 0.0
        for phase in phases:
            usage = resources[phase]["processes"].get(name)
            row.append(f"{usage['cpu_cores']:.2f}" if usage else "-")
            peak = max(peak, usage["peak_rss_mb"] if usage else 0.0)
        rows.append([*row, f"{peak:.0f} MB"])
    return rows


def _table(rows: list[list[str]] | list[tuple[str, str, str]]) -> str:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                     for row in rows)


def print_summary(report: dict[str, Any]) -> None:
    machine = report["machine"]
    print(f"\nTokenTally pipeline benchmark {report['started_at'][:19]}  run {report['run_id']}  "
          f"({machine['cpus']} cores, {machine['memory_gb']} GB, {machine['cpu_model']})")
    print(_table([("measure", "result", "target"), *summary_rows(report)]))
    if len(resource_rows(report)) > 1:
        print("\nCPU in cores (1.00 = one core busy for the whole phase; the machine has "
              f"{machine['cpus']}), peak resident memory:")
        print(_table(resource_rows(report)))
