"""Instrumented vendor clients (the real openai, anthropic and google-genai SDKs against a local
fake of their APIs) record each call, streaming included, without changing what the caller sees."""

from __future__ import annotations

import pytest

from tests.sdk.conftest import FakeIngest
from tests.support.fake_vendors import (
    ANTHROPIC_MODEL,
    ANTHROPIC_USAGE,
    GEMINI_MODEL,
    OPENAI_CHAT_USAGE,
    OPENAI_MODEL,
    OPENAI_RESPONSES_USAGE,
    FakeVendors,
    anthropic_client,
    fake_vendors,
    google_client,
    openai_client,
)
from tokentally import TokenTally

MESSAGES = [{"role": "user", "content": "Hi"}]


@pytest.fixture
def vendors() -> FakeVendors:
    with fake_vendors() as fake:
        yield fake


def _only(ingest: FakeIngest, tally: TokenTally) -> dict:
    assert tally.flush(10)
    (event,) = ingest.events
    return event


def _subset(usage: dict, expected: dict) -> bool:
    return all(usage.get(key) == value for key, value in expected.items() if not isinstance(value, dict))


def test_openai_chat_completion(vendors: FakeVendors, tally: TokenTally, ingest: FakeIngest) -> None:
    client = tally.instrument(openai_client(vendors), client_id="acme", project="support", tags={"env": "prod"})
    reply = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert reply.choices[0].message.content == "Hello!"
    event = _only(ingest, tally)
    assert (event["client_id"], event["provider"], event["model"]) == ("acme", "openai", OPENAI_MODEL)
    assert event["event_id"] == f"openai:{reply.id}"
    assert (event["project"], event["tags"]) == ("support", {"env": "prod"})
    assert event["usage"]["prompt_tokens_details"]["cached_tokens"] == 1920
    assert _subset(event["usage"], OPENAI_CHAT_USAGE)


def test_openai_stream_asks_for_usage_and_records_the_last_chunk(vendors: FakeVendors, tally: TokenTally,
                                                                  ingest: FakeIngest) -> None:
    client = tally.instrument(openai_client(vendors), client_id="acme")
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello!"
    assert vendors.requests[-1][1]["stream_options"] == {"include_usage": True}
    event = _only(ingest, tally)
    assert event["usage"]["completion_tokens_details"]["reasoning_tokens"] == 192
    assert event["event_id"] == f"openai:{chunks[0].id}"


def test_openai_stream_with_the_callers_options_is_left_alone(vendors: FakeVendors, tally: TokenTally,
                                                               ingest: FakeIngest) -> None:
    client = tally.instrument(openai_client(vendors), client_id="acme")
    with client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True,
                                        stream_options={"include_usage": False}) as stream:
        assert all(chunk.usage is None for chunk in stream)
    assert tally.flush(5)
    assert ingest.events == []  # no usage reported: nothing to bill, nothing invented


def test_openai_responses_api(vendors: FakeVendors, tally: TokenTally, ingest: FakeIngest) -> None:
    client = tally.instrument(openai_client(vendors), client_id="acme")
    response = client.responses.create(model="gpt-4o", input="Hi")
    event = _only(ingest, tally)
    assert event["event_id"] == f"openai:{response.id}"
    assert event["usage"]["input_tokens_details"]["cached_tokens"] == 200
    assert _subset(event["usage"], OPENAI_RESPONSES_USAGE)
    list(client.responses.create(model="gpt-4o", input="Hi", stream=True))
    assert tally.flush(5)
    assert len(ingest.events) == 2
    assert ingest.events[1]["usage"]["output_tokens"] == 500


async def test_async_openai_stream(vendors: FakeVendors, tally: TokenTally, ingest: FakeIngest) -> None:
    client = tally.instrument(openai_client(vendors, asynchronous=True), client_id="acme")
    stream = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    texts = [chunk.choices[0].delta.content async for chunk in stream if chunk.choices]
    assert "".join(t or "" for t in texts) == "Hello!"
    reply = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert await tally.aflush(10)
    assert [e["event_id"] for e in ingest.events][1] == f"openai:{reply.id}"
    assert all(e["usage"]["prompt_tokens"] == 2006 for e in ingest.events)


def test_anthropic_message_and_stream(vendors: FakeVendors, tally: TokenTally, ingest: FakeIngest) -> None:
    client = tally.instrument(anthropic_client(vendors), client_id="acme")
    message = client.messages.create(model="claude-sonnet-4-5", max_tokens=100, messages=MESSAGES)
    events = list(client.messages.create(model="claude-sonnet-4-5", max_tokens=100, messages=MESSAGES, stream=True))
    assert [e.type for e in events][0] == "message_start"
    assert tally.flush(10)
    plain, streamed = ingest.events
    assert plain["event_id"] == f"anthropic:{message.id}"
    assert (plain["provider"], plain["model"]) == ("anthropic", ANTHROPIC_MODEL)
    for event in (plain, streamed):
        usage = event["usage"]
        assert [usage[k] for k in ("input_tokens", "output_tokens", "cache_creation_input_tokens",
                                   "cache_read_input_tokens")] == [21, 393, 1000, 5000]
        assert usage["cache_creation"] == ANTHROPIC_USAGE["cache_creation"]


async def test_async_anthropic(vendors: FakeVendors, tally: TokenTally, ingest: FakeIngest) -> None:
    client = tally.instrument(anthropic_client(vendors, asynchronous=True), client_id="acme")
    stream = await client.messages.create(model="claude-sonnet-4-5", max_tokens=100, messages=MESSAGES, stream=True)
    async with stream:
        async for _ in stream:
            pass
    assert await tally.aflush(10)
    (event,) = ingest.events
    assert event["usage"]["output_tokens"] == 393


def test_google_generate_content_and_stream(vendors: FakeVendors, tally: TokenTally, ingest: FakeIngest) -> None:
    client = tally.instrument(google_client(vendors), client_id="acme")
    response = client.models.generate_content(model="gemini-2.5-flash", contents="Hi")
    assert response.text == "Hello!"
    text = "".join(chunk.text or "" for chunk in
                   client.models.generate_content_stream(model="gemini-2.5-flash", contents="Hi"))
    assert text == "Hello!"
    assert tally.flush(10)
    plain, streamed = ingest.events
    assert (plain["provider"], plain["model"], plain["event_id"]) == ("google", GEMINI_MODEL,
                                                                      f"google:{response.response_id}")
    for event in (plain, streamed):
        usage = event["usage"]
        assert [usage[k] for k in ("prompt_token_count", "candidates_token_count", "cached_content_token_count",
                                   "thoughts_token_count")] == [5000, 700, 4000, 300]


async def test_google_aio(vendors: FakeVendors, tally: TokenTally, ingest: FakeIngest) -> None:
    client = tally.instrument(google_client(vendors), client_id="acme")
    await client.aio.models.generate_content(model="gemini-2.5-flash", contents="Hi")
    async for _ in await client.aio.models.generate_content_stream(model="gemini-2.5-flash", contents="Hi"):
        pass
    assert await tally.aflush(10)
    assert [e["usage"]["candidates_token_count"] for e in ingest.events] == [700, 700]


def test_instrumenting_twice_records_once(vendors: FakeVendors, tally: TokenTally, ingest: FakeIngest) -> None:
    client = tally.instrument(tally.instrument(openai_client(vendors), client_id="acme"), client_id="acme")
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert len([_only(ingest, tally)]) == 1


def test_an_unknown_client_is_refused(tally: TokenTally) -> None:
    with pytest.raises(TypeError, match="cannot instrument"):
        tally.instrument(object(), client_id="acme")
