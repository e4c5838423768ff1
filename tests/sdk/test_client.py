"""``TokenTally``: batching by size and time, retries with the same event ids, refusals,
the bounded buffer, a caller that is never blocked, flushing at close and at exit."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from anthropic.types import Usage as AnthropicUsage
from openai.types import CompletionUsage

from tests.sdk.conftest import FakeIngest
from tokentally import Problem, TokenTally


def _tally(ingest: FakeIngest, **options: object) -> TokenTally:
    defaults: dict[str, object] = {"flush_interval": 0.05, "max_backoff": 0.05}
    return TokenTally("http://ingest", "key", transport=httpx.MockTransport(ingest), **{**defaults, **options})


def _sizes(ingest: FakeIngest) -> list[int]:
    return [len(json.loads(body)) for body in ingest.bodies]


def test_a_batch_leaves_when_full(ingest: FakeIngest) -> None:
    with _tally(ingest, batch_size=3, flush_interval=3600) as tally:
        for _ in range(7):
            tally.record("acme", "openai", "gpt-4o", input_tokens=1)
        deadline = time.monotonic() + 5
        while len(ingest.events) < 6 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _sizes(ingest) == [3, 3]  # the 7th waits for the interval (an hour here)
        assert tally.flush(5)
    assert _sizes(ingest) == [3, 3, 1]


def test_a_partial_batch_leaves_after_the_interval(ingest: FakeIngest) -> None:
    with _tally(ingest, batch_size=500, flush_interval=0.2) as tally:
        tally.record("acme", "openai", "gpt-4o", input_tokens=1, output_tokens=2)
        time.sleep(0.05)
        assert ingest.events == []
        deadline = time.monotonic() + 5
        while not ingest.events and time.monotonic() < deadline:
            time.sleep(0.02)
    assert [(e["input_tokens"], e["output_tokens"]) for e in ingest.events] == [(1, 2)]


def test_503_and_timeouts_are_retried_with_the_same_body(ingest: FakeIngest) -> None:
    ingest.answers = [503, httpx.ReadTimeout("slow"), 500, httpx.ConnectError("refused")]
    with _tally(ingest) as tally:
        ids = [tally.record("acme", "openai", "gpt-4o", input_tokens=n) for n in range(3)]
        assert tally.flush(10)
        assert tally.stats().retries == 4
    assert len(set(ingest.bodies)) == 1  # five sends, one body: the same event ids every time
    assert len(ingest.bodies) == 5
    assert [e["event_id"] for e in ingest.events] == ids


def test_refused_events_are_reported_not_retried(ingest: FakeIngest) -> None:
    problems: list[Problem] = []
    ingest.reject = lambda event: "unknown model" if event["model"] == "bad" else None
    with _tally(ingest, on_problem=problems.append) as tally:
        good = tally.record("acme", "openai", "gpt-4o", input_tokens=1)
        bad = tally.record("acme", "openai", "bad", input_tokens=1)
        assert tally.flush(5)
        stats = tally.stats()
    assert [e["event_id"] for e in ingest.events] == [good]
    assert (stats.delivered, stats.rejected, stats.retries) == (1, 1, 0)
    assert problems[0].kind == "rejected"
    assert problems[0].event_ids == (bad,)
    assert "model: unknown model" in problems[0].detail


def test_a_batch_refused_as_a_whole_is_dropped_and_reported(ingest: FakeIngest) -> None:
    problems: list[Problem] = []
    ingest.answers = [401]
    with _tally(ingest, on_problem=problems.append) as tally:
        tally.record("acme", "openai", "gpt-4o", input_tokens=1)
        assert tally.flush(5)
        tally.record("acme", "openai", "gpt-4o", input_tokens=2)
        assert tally.flush(5)
    assert [(p.kind, len(p.event_ids)) for p in problems] == [("rejected", 1)]
    assert "401" in problems[0].detail
    assert [e["input_tokens"] for e in ingest.events] == [2]


@pytest.mark.parametrize(("overflow", "kept"), [("drop_newest", range(0, 10)), ("drop_oldest", range(90, 100))])
def test_the_buffer_is_bounded_while_ingest_is_down(ingest: FakeIngest, overflow: str, kept: range) -> None:
    ingest.answers = [503] * 10_000
    problems: list[Problem] = []
    tally = _tally(ingest, batch_size=5, max_buffer=10, overflow=overflow, flush_interval=3600, max_backoff=0.01,
                   on_problem=problems.append)
    for n in range(100):
        tally.record("acme", "openai", "gpt-4o", event_id=f"e{n}", input_tokens=n)
    stats = tally.stats()
    assert (stats.recorded, stats.delivered) == (100, 0)
    assert stats.buffered <= 10 + 5  # the buffer, plus the one batch being retried
    assert stats.recorded - stats.dropped == stats.buffered
    ingest.answers.clear()  # ingest is back
    assert tally.flush(10)
    tally.close()
    delivered = sorted(int(e["event_id"][1:]) for e in ingest.events)
    dropped = sorted(int(event_id[1:]) for p in problems for event_id in p.event_ids)
    assert sorted(delivered + dropped) == list(range(100))  # every event delivered or reported, none twice
    assert set(kept) <= set(delivered)
    assert tally.stats().dropped == len(dropped)


def test_record_never_waits_for_a_slow_ingest() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        time.sleep(2)
        return httpx.Response(202, json={"accepted": len(json.loads(request.content)), "rejected": []})

    tally = TokenTally("http://ingest", "key", transport=httpx.MockTransport(slow), batch_size=10)
    started = time.perf_counter()
    for _ in range(1000):
        tally.record("acme", "openai", "gpt-4o", input_tokens=1)
    assert time.perf_counter() - started < 1.0  # 100 batches at 2 s each would be 200 s
    tally.close(timeout=0)


def test_close_gives_up_after_its_timeout_and_reports_what_was_lost(ingest: FakeIngest) -> None:
    ingest.answers = [503] * 10_000
    problems: list[Problem] = []
    tally = _tally(ingest, on_problem=problems.append, max_backoff=0.05)
    tally.record("acme", "openai", "gpt-4o", event_id="lost-1", input_tokens=1)
    started = time.monotonic()
    tally.close(timeout=0.5)
    assert time.monotonic() - started < 3
    assert [(p.kind, p.event_ids) for p in problems] == [("dropped", ("lost-1",))]


def test_vendor_usage_objects_are_sent_as_their_model_dump_with_nulls(tally: TokenTally, ingest: FakeIngest) -> None:
    tally.record("acme", "openai", "gpt-4o", usage=CompletionUsage(prompt_tokens=10, completion_tokens=5,
                                                                    total_tokens=15))
    tally.record("acme", "anthropic", "claude", usage=AnthropicUsage(input_tokens=3, output_tokens=4))
    tally.record("acme", "openai", "gpt-4o", usage={"prompt_tokens": 1, "completion_tokens": 1})
    assert tally.flush(5)
    openai_usage, anthropic_usage, plain = (e["usage"] for e in ingest.events)
    assert openai_usage["prompt_tokens_details"] is None
    assert anthropic_usage["cache_read_input_tokens"] is None
    assert plain == {"prompt_tokens": 1, "completion_tokens": 1}
    assert all(e["timestamp"].endswith("+00:00") for e in ingest.events)


def test_bad_arguments_fail_at_the_call(tally: TokenTally) -> None:
    with pytest.raises(TypeError, match="usage must be"):
        tally.record("acme", "openai", "gpt-4o", usage=42)
    with pytest.raises(TypeError, match="unknown token fields: input"):
        tally.record("acme", "openai", "gpt-4o", input=1)
    with pytest.raises(TypeError, match="not both"):
        tally.record("acme", "openai", "gpt-4o", usage={"prompt_tokens": 1}, input_tokens=1)


async def test_asyncio_use(ingest: FakeIngest) -> None:
    async with _tally(ingest) as tally:
        tally.record("acme", "openai", "gpt-4o", input_tokens=1)
        assert await tally.aflush(5)
    assert len(ingest.events) == 1


def test_events_are_flushed_at_interpreter_exit() -> None:
    received: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            received.append(self.rfile.read(int(self.headers["content-length"])))
            body = json.dumps({"accepted": 1, "rejected": []}).encode()
            self.send_response(202)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    script = ("from tokentally import TokenTally\n"
              f"t = TokenTally('http://127.0.0.1:{server.server_address[1]}', 'key', flush_interval=3600)\n"
              "t.record('acme', 'openai', 'gpt-4o', event_id='at-exit', input_tokens=1)\n")
    try:
        subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    finally:
        server.shutdown()
        server.server_close()
    assert [event["event_id"] for body in received for event in json.loads(body)] == ["at-exit"]


def test_a_record_after_close_is_reported_not_buffered(ingest: FakeIngest) -> None:
    problems: list[Problem] = []
    tally = _tally(ingest, on_problem=problems.append)
    tally.close()
    tally.record("acme", "openai", "gpt-4o", event_id="late", input_tokens=1)
    assert [(p.kind, p.event_ids) for p in problems] == [("dropped", ("late",))]
    assert (tally.stats().buffered, tally.stats().dropped) == (0, 1)
