"""Ingest alone: events/s through ``POST /v1/events`` and ingest's CPU per event (ingest + Kafka only).

    flock /work/coord/bench.lock uv run --frozen python -m bench.ingest --events 300000

Starts its own Apache Kafka and one ingest process (``python -m services.ingest``, exactly as
the pipeline runs it), sends warm-up batches, then ``--rounds`` measured rounds (1,000-event
JSON arrays from the pipeline benchmark's workload, ``--concurrency`` POSTs in flight), and
reports for each the CPU seconds ingest spent (user and system) divided by the events it
accepted, and the round with the median figure. Nothing consumes the raw topic, so the figure
is ingest's own cost, not the pipeline's throughput. The load generator shares the machine:
on two cores its own CPU limits the events/s, not ingest's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import time
import uuid
from typing import Any

import psutil

from bench.load import HttpBatch, http_batches, send_http
from bench.profiling import Profiler
from bench.workload import Workload
from deploy.local_clickhouse import PROJECT_ROOT
from deploy.local_kafka import LocalKafka, free_port
from deploy.services import ServiceProcess


def _cpu(process: psutil.Process) -> tuple[float, float]:
    """User and system CPU seconds of a process and its children."""
    times = process.cpu_times()
    return times.user + times.children_user, times.system + times.children_system


async def _round(url: str, key: str, payload: list[HttpBatch], concurrency: int,
                 processes: dict[str, psutil.Process], profiler: Profiler | None) -> dict[str, Any]:
    before = {name: _cpu(process) for name, process in processes.items()}
    if profiler:
        profiler.start("ingest")
    stats = await send_http(url, key, payload, concurrency=concurrency)
    if profiler:
        profiler.stop()
    after = {name: _cpu(process) for name, process in processes.items()}
    user, system = (after["ingest"][i] - before["ingest"][i] for i in (0, 1))
    kafka = sum(after["kafka"]) - sum(before["kafka"])
    latencies = sorted(stats.request_seconds)
    return {
        "events": stats.events,
        "seconds": round(stats.seconds, 2),
        "events_per_s": round(stats.events / stats.seconds),
        "ingest_cpu_us_per_event": round((user + system) / stats.events * 1e6, 2),
        "ingest_user_system_us_per_event": [round(user / stats.events * 1e6, 2), round(system / stats.events * 1e6, 2)],
        "ingest_cpu_cores": round((user + system) / stats.seconds, 2),
        "kafka_cpu_cores": round(kafka / stats.seconds, 2),
        "post_p50_ms": round(latencies[len(latencies) // 2] * 1000),
        "post_p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000),
    }


async def measure(events: int, batch: int, concurrency: int, clients: int, rounds: int,
                  profile: int) -> dict[str, Any]:
    """Start Kafka and ingest, warm up, then ``rounds`` measured rounds of ``events`` each."""
    run_dir = PROJECT_ROOT / ".local" / "bench" / f"ingest-{uuid.uuid4().hex[:6]}"
    key = "bench-ingest-" + uuid.uuid4().hex
    kafka = LocalKafka(run_dir / "kafka", heap="1g")
    kafka.start()
    ingest: ServiceProcess | None = None
    try:
        env = {"KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers, "KAFKA_TOPIC_PREFIX": f"{run_dir.name}.",
               "TOKENTALLY_API_KEYS": json.dumps([{"key": key, "scope": "ingest"}]),
               "INGEST_PORT": str(free_port()), "LOG_LEVEL": "INFO"}
        ingest = ServiceProcess("ingest", env, run_dir / "logs" / "ingest.log")
        ingest.start()
        if not (ingest.url and ingest.pid and kafka.pid):
            raise RuntimeError("ingest or Kafka did not start")
        workload = Workload(clients, run_id="bench")
        await send_http(ingest.url, key, http_batches(workload.events(20 * batch), batch), concurrency=concurrency)
        processes = {"ingest": psutil.Process(ingest.pid), "kafka": psutil.Process(kafka.pid)}
        profiler = Profiler(run_dir / "profiles", {"ingest": ingest.pid}, rate=profile) if profile else None
        results = []
        for _ in range(rounds):
            payload = http_batches(workload.events(events), batch)
            results.append(await _round(ingest.url, key, payload, concurrency, processes, profiler))
        median = sorted(results, key=lambda r: r["ingest_cpu_us_per_event"])[len(results) // 2]
        return {"median_round": median, "rounds": results,
                "profile": profiler.summaries if profiler else None}
    finally:
        if ingest:
            ingest.stop()
        kafka.stop()
        shutil.rmtree(run_dir / "kafka", ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--batch", type=int, default=1_000, help="events per POST")
    parser.add_argument("--concurrency", type=int, default=4, help="POSTs in flight")
    parser.add_argument("--clients", type=int, default=400, help="clients in the workload (Kafka messages per POST)")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds (the median is reported first)")
    parser.add_argument("--profile", type=int, nargs="?", const=50, default=0, metavar="RATE",
                        help="py-spy ingest during the measured phase (samples/s, default 50)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    result = asyncio.run(measure(args.events, args.batch, args.concurrency, args.clients, args.rounds,
                                 args.profile))
    result["total_seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
