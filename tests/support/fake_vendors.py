"""A local HTTP server that answers like OpenAI, Anthropic and Google's Gemini API.

The vendors' own SDKs are pointed at it (``base_url``), so their real HTTP, SSE and parsing
code runs, with no network. Answers carry the usage shapes the vendors document (cache
reads and writes, reasoning, Anthropic's 5-minute/1-hour cache split); every answer has a
fresh id. ``requests`` keeps each request's path and JSON body.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

OPENAI_MODEL = "gpt-4o-2024-08-06"
ANTHROPIC_MODEL = "claude-sonnet-4-5-20250929"
GEMINI_MODEL = "gemini-2.5-flash"

OPENAI_CHAT_USAGE = {"prompt_tokens": 2006, "completion_tokens": 300, "total_tokens": 2306,
                     "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
                     "completion_tokens_details": {"reasoning_tokens": 192, "audio_tokens": 0,
                                                   "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}
OPENAI_RESPONSES_USAGE = {"input_tokens": 1000, "input_tokens_details": {"cached_tokens": 200},
                          "output_tokens": 500, "output_tokens_details": {"reasoning_tokens": 100},
                          "total_tokens": 1500}
ANTHROPIC_USAGE = {"input_tokens": 21, "output_tokens": 393, "cache_creation_input_tokens": 1000,
                   "cache_read_input_tokens": 5000, "service_tier": "standard",
                   "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 0}}
GEMINI_USAGE = {"promptTokenCount": 5000, "candidatesTokenCount": 700, "cachedContentTokenCount": 4000,
                "thoughtsTokenCount": 300, "totalTokenCount": 6000,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 5000}]}


class FakeVendors:
    def __init__(self, server: ThreadingHTTPServer) -> None:
        self.server = server
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self._ids = itertools.count(1)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):06d}"


def _sse(events: list[tuple[str | None, dict[str, Any] | str]]) -> bytes:
    out = []
    for name, data in events:
        text = data if isinstance(data, str) else json.dumps(data)
        out.append((f"event: {name}\n" if name else "") + f"data: {text}\n\n")
    return "".join(out).encode()


def _openai_chat(fake: FakeVendors, body: dict[str, Any]) -> tuple[str, bytes]:
    cid = fake.next_id("chatcmpl-")
    base = {"id": cid, "created": 1_790_000_000, "model": OPENAI_MODEL, "system_fingerprint": "fp_1"}
    if not body.get("stream"):
        return "application/json", json.dumps({**base, "object": "chat.completion", "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "Hello!", "refusal": None},
             "logprobs": None, "finish_reason": "stop"}], "usage": OPENAI_CHAT_USAGE}).encode()
    chunk = {**base, "object": "chat.completion.chunk"}
    events: list[tuple[str | None, dict[str, Any] | str]] = [
        (None, {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"},
                                      "finish_reason": None}]}),
        (None, {**chunk, "choices": [{"index": 0, "delta": {"content": "lo!"}, "finish_reason": "stop"}]}),
    ]
    if (body.get("stream_options") or {}).get("include_usage"):
        events.append((None, {**chunk, "choices": [], "usage": OPENAI_CHAT_USAGE}))
    events.append((None, "[DONE]"))
    return "text/event-stream", _sse(events)


def _openai_responses(fake: FakeVendors, body: dict[str, Any]) -> tuple[str, bytes]:
    response = {"id": fake.next_id("resp_"), "object": "response", "created_at": 1_790_000_000,
                "model": OPENAI_MODEL, "status": "completed", "parallel_tool_calls": True, "tool_choice": "auto",
                "tools": [], "output": [{"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
                                         "content": [{"type": "output_text", "text": "Hello!", "annotations": []}]}],
                "usage": OPENAI_RESPONSES_USAGE}
    if not body.get("stream"):
        return "application/json", json.dumps(response).encode()
    return "text/event-stream", _sse([
        ("response.created", {"type": "response.created", "sequence_number": 0,
                              "response": {**response, "status": "in_progress", "usage": None}}),
        ("response.completed", {"type": "response.completed", "sequence_number": 1, "response": response}),
    ])


def _anthropic(fake: FakeVendors, body: dict[str, Any]) -> tuple[str, bytes]:
    message = {"id": fake.next_id("msg_"), "type": "message", "role": "assistant", "model": ANTHROPIC_MODEL,
               "content": [{"type": "text", "text": "Hello!"}], "stop_reason": "end_turn", "stop_sequence": None,
               "usage": ANTHROPIC_USAGE}
    if not body.get("stream"):
        return "application/json", json.dumps(message).encode()
    start_usage = {**ANTHROPIC_USAGE, "output_tokens": 1}
    return "text/event-stream", _sse([
        ("message_start", {"type": "message_start",
                           "message": {**message, "content": [], "stop_reason": None, "usage": start_usage}}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "text_delta", "text": "Hello!"}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                           "usage": {"output_tokens": ANTHROPIC_USAGE["output_tokens"]}}),
        ("message_stop", {"type": "message_stop"}),
    ])


def _gemini(fake: FakeVendors, stream: bool) -> tuple[str, bytes]:
    response_id = fake.next_id("gem-")

    def answer(text: str, usage: dict[str, Any]) -> dict[str, Any]:
        return {"candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "finishReason": "STOP",
                                "index": 0}], "usageMetadata": usage, "modelVersion": GEMINI_MODEL,
                "responseId": response_id}

    if not stream:
        return "application/json", json.dumps(answer("Hello!", GEMINI_USAGE)).encode()
    partial = {"promptTokenCount": 5000, "cachedContentTokenCount": 4000, "totalTokenCount": 5000}
    chunks = [answer("Hel", partial), answer("lo!", GEMINI_USAGE)]
    return "text/event-stream", b"".join(f"data: {json.dumps(chunk)}\r\n\r\n".encode() for chunk in chunks)


def _handler(fake: FakeVendors) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("content-length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            path = self.path.split("?")[0]
            fake.requests.append((self.path, body))
            if path.endswith("/chat/completions"):
                content_type, payload = _openai_chat(fake, body)
            elif path.endswith("/responses"):
                content_type, payload = _openai_responses(fake, body)
            elif path.endswith("/v1/messages"):
                content_type, payload = _anthropic(fake, body)
            elif path.endswith(":generateContent"):
                content_type, payload = _gemini(fake, stream=False)
            elif path.endswith(":streamGenerateContent"):
                content_type, payload = _gemini(fake, stream=True)
            else:
                self.send_response(404)
                self.send_header("content-length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


@contextmanager
def fake_vendors() -> Iterator[FakeVendors]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    fake = FakeVendors(server)
    server.RequestHandlerClass = _handler(fake)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def openai_client(fake: FakeVendors, *, asynchronous: bool = False) -> Any:
    import openai

    cls = openai.AsyncOpenAI if asynchronous else openai.OpenAI
    return cls(api_key="sk-test", base_url=f"{fake.url}/v1", max_retries=0)


def anthropic_client(fake: FakeVendors, *, asynchronous: bool = False) -> Any:
    import anthropic

    cls = anthropic.AsyncAnthropic if asynchronous else anthropic.Anthropic
    return cls(api_key="sk-ant-test", base_url=fake.url, max_retries=0)


def google_client(fake: FakeVendors) -> Any:
    from google import genai
    from google.genai import types

    return genai.Client(api_key="test-key", http_options=types.HttpOptions(base_url=fake.url))
