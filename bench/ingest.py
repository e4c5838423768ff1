"""Ingest alone: events/s through ``POST /v1/events`` and ingest's CPU per event (ingest + Kafka only).

    flock /work/coord/bench.lock uv run --frozen python -m bench.ingest --events 300000

Starts its own Apache Kafka and one ingest process (``python -m services.ingest``, exactly as
the pipeline runs it), sends warm-up batches, then the measured ones (1,000-event JSON arrays
from the pipeline benchmark's workload, ``--concurrency`` POSTs in flight), and reports the
CPU seconds ingest spent over the measured phase divided by the events it accepted. Nothing
consumes the raw topic, so the figure is ingest's own cost, not the pipeline's throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import psutil

from bench.load import http_batches, send_http
from bench.profiling import Profiler
from bench.workload import Workload
from deploy.local_clickhouse import PROJECT_ROOT
from deploy.local_kafka import LocalKafka, free_port
from deploy.services import ServiceProcess


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system + times.children_user + times.children_system


async def measure(events: int, batch: int, concurrency: int, clients: int, profile: bool) -> dict[str, Any]:
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
        payload = http_batches(workload.events(events), batch)
        processes = {"ingest": psutil.Process(ingest.pid), "kafka": psutil.Process(kafka.pid)}
        before = {name: _cpu_seconds(process) for name, process in processes.items()}
        profiler = Profiler(run_dir / "profiles", {"ingest": ingest.pid}) if profile else None
        if profiler:
            profiler.start("ingest")
        stats = await send_http(ingest.url, key, payload, concurrency=concurrency)
        if profiler:
            profiler.stop()
        cpu = {name: _cpu_seconds(process) - before[name] for name, process in processes.items()}
        latencies = sorted(stats.request_seconds)
        return {
            "events": stats.events,
            "seconds": round(stats.seconds, 2),
            "events_per_s": round(stats.events / stats.seconds),
            "ingest_cpu_us_per_event": round(cpu["ingest"] / stats.events * 1e6, 2),
            "ingest_cpu_cores": round(cpu["ingest"] / stats.seconds, 2),
            "kafka_cpu_cores": round(cpu["kafka"] / stats.seconds, 2),
            "post_p50_ms": round(latencies[len(latencies) // 2] * 1000),
            "post_p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000),
            "profile": profiler.summaries if profiler else None,
        }
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
    parser.add_argument("--profile", action="store_true", help="py-spy ingest during the measured phase")
    args = parser.parse_args(argv)
    started = time.monotonic()
    result = asyncio.run(measure(args.events, args.batch, args.concurrency, args.clients, args.profile))
    result["total_seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
