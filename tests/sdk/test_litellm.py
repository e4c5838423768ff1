"""The LiteLLM callback with LiteLLM itself (``mock_response``: no network)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from tests.sdk.conftest import FakeIngest
from tests.support.offline_litellm import callback, litellm
from tokentally import TokenTally
from tokentally.litellm import TokenTallyLogger, usage_buckets

MESSAGES = [{"role": "user", "content": "Hi"}]


def recorded(tally: TokenTally, count: int, timeout: float = 20) -> bool:
    """LiteLLM runs success callbacks on its own thread (or task) after the call returns."""
    deadline = time.monotonic() + timeout
    while tally.stats().recorded < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return tally.flush(10)


def claude_response(prompt: int = 7021, completion: int = 393, read: int = 6000, write: int = 1000) -> object:
    usage = litellm.Usage(prompt_tokens=prompt, completion_tokens=completion, cache_creation_input_tokens=write,
                          cache_read_input_tokens=read)
    return litellm.ModelResponse(model="claude-sonnet-4-5", usage=usage, choices=[
        {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Hello!"}}])


@pytest.fixture
def logger(tally: TokenTally) -> Iterator[TokenTallyLogger]:
    with callback(TokenTallyLogger(tally)) as installed:
        yield installed


def test_each_success_is_recorded_with_disjoint_buckets(logger: TokenTallyLogger, tally: TokenTally,
                                                        ingest: FakeIngest) -> None:
    litellm.completion(model="anthropic/claude-sonnet-4-5", messages=MESSAGES, mock_response=claude_response(),
                       user="acme", api_key="x", metadata={"project": "triage"})
    assert recorded(tally, 1)
    (event,) = ingest.events
    assert (event["client_id"], event["provider"], event["model"], event["project"]) \
        == ("acme", "anthropic", "claude-sonnet-4-5", "triage")
    assert event["event_id"].startswith("litellm:")
    # prompt 7021 includes 6000 read and 1000 written
    assert [event[k] for k in ("input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens",
                               "reasoning_tokens")] == [21, 6000, 1000, 393, 0]


async def test_async_calls_and_the_client_sources(tally: TokenTally, ingest: FakeIngest) -> None:
    async def call(**options: object) -> None:
        await litellm.acompletion(model="openai/gpt-4o", messages=MESSAGES, mock_response="Hi", api_key="x",
                                  **options)

    with callback(TokenTallyLogger(tally)):  # default: metadata.client_id, then user, then end_user
        await call(user="end-user-7", metadata={"client_id": "beta"})
        assert await asyncio.to_thread(recorded, tally, 1)
    with callback(TokenTallyLogger(tally, client_from="user")):
        await call(user="end-user-7", metadata={"client_id": "beta"})
        assert await asyncio.to_thread(recorded, tally, 2)
    with callback(TokenTallyLogger(tally, client_from="metadata.customer")) as nobody:
        await call()
        deadline = time.monotonic() + 20
        while not nobody.skipped and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
    assert nobody.skipped == 1
    assert [event["client_id"] for event in ingest.events] == ["beta", "end-user-7"]
    assert all((e["input_tokens"], e["output_tokens"]) == (10, 20) for e in ingest.events)  # mock usage


@pytest.mark.parametrize(("usage", "buckets"), [
    ({"prompt_tokens": 2006, "completion_tokens": 300, "prompt_tokens_details": {"cached_tokens": 1920},
      "completion_tokens_details": {"reasoning_tokens": 192}}, [86, 1920, 0, 108, 192]),
    ({"prompt_tokens": 100, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 30,
                                                                              "cache_write_tokens": 50}},
     [20, 30, 50, 5, 0]),
    ({"prompt_tokens": 21, "completion_tokens": 5, "cache_read_input_tokens": 1000,
      "cache_creation_input_tokens": 500}, [21, 1000, 500, 5, 0]),  # a prompt count excluding the cache
    ({"prompt_tokens": 10, "completion_tokens": None, "prompt_tokens_details": None}, [10, 0, 0, 0, 0]),
])
def test_usage_buckets(usage: dict, buckets: list[int]) -> None:
    result = usage_buckets(usage)
    assert [result[k] for k in ("input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens",
                                "reasoning_tokens")] == buckets


def test_usage_buckets_split_one_hour_writes_and_audio_from_litellm_usage() -> None:
    from litellm.types.utils import (
        CacheCreationTokenDetails,
        CompletionTokensDetailsWrapper,
        PromptTokensDetailsWrapper,
        Usage,
    )

    anthropic = Usage(prompt_tokens=1_520, completion_tokens=40,
                      prompt_tokens_details=PromptTokensDetailsWrapper(
                          cached_tokens=1_000, cache_creation_tokens=500,
                          cache_creation_token_details=CacheCreationTokenDetails(ephemeral_5m_input_tokens=200,
                                                                                 ephemeral_1h_input_tokens=300)),
                      cache_creation_input_tokens=500, cache_read_input_tokens=1_000)
    result = usage_buckets(anthropic)
    assert {k: v for k, v in result.items() if v} == {
        "input_tokens": 20, "cache_read_tokens": 1_000, "cache_write_tokens": 200, "cache_write_1h_tokens": 300,
        "output_tokens": 40}
    audio = Usage(prompt_tokens=400, completion_tokens=200,
                  prompt_tokens_details=PromptTokensDetailsWrapper(audio_tokens=250),
                  completion_tokens_details=CompletionTokensDetailsWrapper(audio_tokens=125, reasoning_tokens=5))
    result = usage_buckets(audio, "openai")
    assert {k: v for k, v in result.items() if v} == {
        "input_tokens": 150, "input_audio_tokens": 250, "output_tokens": 70, "reasoning_tokens": 5,
        "output_audio_tokens": 125}
    # Gemini's audio, copied by LiteLLM from its modality details, stays text (as ingest reads Gemini)
    gemini = usage_buckets(audio, "google")
    assert (gemini["input_tokens"], gemini["input_audio_tokens"], gemini["output_tokens"]) == (400, 0, 195)
