"""The Python SDK's cost on the caller's path, and its memory while ingest is down.

1. ``record()`` with an OpenAI ``CompletionUsage`` object while batches are being delivered
   to a local HTTP server in another process answering 202 (so the sender thread's work
   competes for the GIL, as in a real app): mean, p50, p99 per call, paced at ``--rate``
   calls/s and back to back (faster than the sender drains: the buffer backs up and
   ``record()`` encodes the event itself, the slower path).
2. Ingest down (a port nobody listens on) for "10 minutes at 1,000 calls/s": 600,000
   ``record()`` calls. Memory depends on how many events are held, not on the clock, so the
   calls are made back to back; the sender keeps retrying. Reported: events held, dropped,
   and the process's RSS growth.

    uv run --frozen python -m bench.sdk [--calls 20000] [--rate 1000] [--outage-calls 600000]
"""

from __future__ import annotations

import argparse
import gc
import socket
import subprocess
import sys
import time

import psutil
from openai.types import CompletionUsage
from openai.types.completion_usage import CompletionTokensDetails, PromptTokensDetails

from tokentally import TokenTally

SERVER = """
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_POST(self):
        self.rfile.read(int(self.headers["content-length"]))
        body = b'{"accepted": 0, "rejected": []}'
        self.send_response(202); self.send_header("content-length", str(len(body))); self.end_headers()
        self.wfile.write(body)
server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
server.serve_forever()
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def usage() -> CompletionUsage:
    return CompletionUsage(prompt_tokens=2006, completion_tokens=300, total_tokens=2306,
                           prompt_tokens_details=PromptTokensDetails(cached_tokens=1920, audio_tokens=0),
                           completion_tokens_details=CompletionTokensDetails(reasoning_tokens=192))


def overhead(calls: int, rate: float | None) -> None:
    """Per-call time of ``record()``; ``rate`` paces the calls (None: back to back)."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)])
    try:
        time.sleep(1.0)
        tally = TokenTally(f"http://127.0.0.1:{port}", "bench-key")
        pool = [usage() for _ in range(2000)]
        for n in range(2000):  # warm up
            tally.record("acme", "openai", "gpt-4o", usage=pool[n])
        tally.flush(30)
        timings = []
        clock = time.perf_counter_ns
        interval = int(1e9 / rate) if rate else 0
        started = clock()
        for n in range(calls):
            before = clock()
            tally.record("acme", "openai", "gpt-4o", usage=pool[n % 2000], project="support")
            after = clock()
            timings.append(after - before)
            if interval:
                pause = started + (n + 1) * interval - after
                if pause > 0:
                    time.sleep(pause / 1e9)
        elapsed = (clock() - started) / 1e9
        delivered = tally.flush(120)
        stats = tally.stats()
        tally.close()
    finally:
        server.terminate()
        server.wait()
    timings.sort()
    pace = f"at {rate:,.0f} calls/s" if rate else f"back to back ({calls / elapsed:,.0f} calls/s)"
    print(f"record() {pace}: {calls:,} calls, mean {sum(timings) / calls / 1000:.1f} µs, "
          f"p50 {timings[calls // 2] / 1000:.1f} µs, p99 {timings[int(calls * 0.99)] / 1000:.1f} µs, "
          f"max {timings[-1] / 1000:.0f} µs; all delivered: {delivered} ({stats.delivered:,} events)")


def outage(calls: int) -> None:
    """Distinct usage objects (a pool of 2,000), as in an app; RSS of this fresh process."""
    process = psutil.Process()
    pool = [usage() for _ in range(2000)]
    gc.collect()
    before = process.memory_info().rss
    tally = TokenTally(f"http://127.0.0.1:{free_port()}", "bench-key", max_backoff=1.0)
    peak_rss = before
    started = time.perf_counter()
    for n in range(calls):
        tally.record("acme", "openai", "gpt-4o", usage=pool[n % 2000], project="support")
        if n % 20_000 == 0:
            peak_rss = max(peak_rss, process.memory_info().rss)
    elapsed = time.perf_counter() - started
    peak_rss = max(peak_rss, process.memory_info().rss)
    stats = tally.stats()
    print(f"ingest down, {calls:,} calls in {elapsed:.1f} s: {stats.buffered:,} events held (max_buffer 100,000 "
          f"+ one batch), {stats.dropped:,} dropped (reported); RSS {before / 2**20:.0f} MB → peak "
          f"{peak_rss / 2**20:.0f} MB (+{(peak_rss - before) / 2**20:.0f} MB)")
    tally.close(timeout=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=1000.0, help="calls/s for the paced run")
    parser.add_argument("--outage-calls", type=int, default=600_000)
    args = parser.parse_args()
    outage(args.outage_calls)  # first, so the RSS figure is not hidden by memory the other run freed
    overhead(args.calls, args.rate)
    overhead(args.calls, None)


if __name__ == "__main__":
    main()
