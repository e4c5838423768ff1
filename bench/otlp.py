"""OTLP trace ingest throughput: protobuf bodies of GenAI spans through ``POST /v1/traces``.

Runs the real ingest app in-process (httpx ``ASGITransport``: routing, auth, gzip, decoding,
the GenAI mapping, validation, packing) with the Kafka publisher replaced by one that
records what it would send, so the figure is ingest's own cost per span, not the broker's.

    uv run --frozen python -m bench.otlp [--spans 20000] [--batch 512]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import time

import httpx
from pydantic import SecretStr

from libs.common.settings import AuthSettings, KafkaSettings
from services.ingest.app import create_app
from services.ingest.settings import IngestSettings
from tests.support.otel import genai_attributes, make_spans, protobuf_body

KEY = "bench-ingest-key-000000001"


class CountingPublisher:
    def __init__(self) -> None:
        self.events = 0

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, messages: list[tuple[str, bytes, int]]) -> None:
        self.events += sum(count for _, _, count in messages)


async def run(total: int, batch: int) -> None:
    settings = IngestSettings(kafka=KafkaSettings(bootstrap_servers="127.0.0.1:9"),
                              auth=AuthSettings(api_keys=SecretStr(json.dumps([{"key": KEY, "scope": "ingest"}]))))
    app = create_app(settings)
    publisher = CountingPublisher()
    app.state.ingest.publisher = publisher
    spans = make_spans([genai_attributes(f"gpt-bench-{i % 7}", input_tokens=1000 + i, output_tokens=i,
                                         **{"gen_ai.usage.cache_read.input_tokens": 500,
                                            "tokentally.client_id": f"client-{i % 50}"})
                        for i in range(batch)], {"service.name": "bench"})
    body = gzip.compress(protobuf_body(spans))
    headers = {"Authorization": f"Bearer {KEY}", "content-type": "application/x-protobuf",
               "content-encoding": "gzip"}
    requests = max(1, total // batch)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
        await client.post("/v1/traces", content=body, headers=headers)  # warm up
        publisher.events = 0
        started = time.perf_counter()
        for _ in range(requests):
            reply = await client.post("/v1/traces", content=body, headers=headers)
            reply.raise_for_status()
        elapsed = time.perf_counter() - started
    sent = requests * batch
    print(f"{sent:,} spans in {requests} requests of {batch} ({len(body):,} gzip bytes each): "
          f"{elapsed:.2f} s, {sent / elapsed:,.0f} spans/s; {publisher.events:,} events published")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spans", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=512, help="spans per request (the SDK's default batch is 512)")
    args = parser.parse_args()
    asyncio.run(run(args.spans, args.batch))


if __name__ == "__main__":
    main()
