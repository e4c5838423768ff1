"""The Python SDK on the real pipeline: instrumented OpenAI, Anthropic and Gemini clients (the
vendors' own SDKs against a local fake of their APIs) → TokenTally → an invoice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.e2e.conftest import INGEST_KEY, Pipeline, new_client_id
from tests.support.fake_vendors import (
    ANTHROPIC_MODEL,
    GEMINI_MODEL,
    OPENAI_MODEL,
    FakeVendors,
    anthropic_client,
    fake_vendors,
    google_client,
    openai_client,
)
from tokentally import TokenTally

pytestmark = pytest.mark.integration

MESSAGES = [{"role": "user", "content": "Hi"}]


@pytest.fixture
def vendors() -> Iterator[FakeVendors]:
    with fake_vendors() as fake:
        yield fake


def _line(invoice: dict, model: str) -> dict:
    (line,) = [line for line in invoice["lines"] if line["model"] == model]
    return line


def _buckets(line: dict) -> list[int]:
    return [line[k] for k in ("input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens",
                              "reasoning_tokens")]


def test_the_readme_script_bills_openai_anthropic_and_gemini_calls(pipeline: Pipeline, vendors: FakeVendors) -> None:
    client_id = new_client_id("sdk")
    # The README's few lines:
    tally = TokenTally(pipeline.services["ingest"].url or "", api_key=INGEST_KEY)
    openai = tally.instrument(openai_client(vendors), client_id=client_id)
    claude = tally.instrument(anthropic_client(vendors), client_id=client_id)
    gemini = tally.instrument(google_client(vendors), client_id=client_id)
    openai.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    for _ in openai.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True):
        pass
    claude.messages.create(model="claude-sonnet-4-5", max_tokens=100, messages=MESSAGES)
    gemini.models.generate_content(model="gemini-2.5-flash", contents="Hi")
    reply = openai.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    tally.record(client_id, "openai", reply.model, usage=reply.usage, event_id="resent-by-hand")
    tally.record(client_id, "openai", reply.model, usage=reply.usage, event_id="resent-by-hand")
    assert tally.flush(30)
    tally.close()
    assert tally.stats().rejected == 0, tally.stats()

    invoice = pipeline.wait_for_events(client_id, datetime.now(UTC).strftime("%Y-%m"), 6)

    openai_line = _line(invoice, OPENAI_MODEL)
    assert openai_line["events"] == 4  # two calls, one stream, one recorded by hand (its resend not counted)
    # prompt 2006 of which 1920 cached; completion 300 of which 192 reasoning
    assert _buckets(openai_line) == [4 * 86, 4 * 1920, 0, 4 * 108, 4 * 192]
    # Anthropic's counts are disjoint already
    assert _buckets(_line(invoice, ANTHROPIC_MODEL)) == [21, 5000, 1000, 393, 0]
    # Gemini: prompt 5000 of which 4000 cached; thoughts on top of candidates
    assert _buckets(_line(invoice, GEMINI_MODEL)) == [1000, 4000, 0, 700, 300]
    assert sum(line["events"] for line in invoice["lines"]) == 6


def test_openai_cache_writes_are_billed_at_the_cache_write_price(pipeline: Pipeline) -> None:
    from openai.types import CompletionUsage
    from openai.types.completion_usage import CompletionTokensDetails, PromptTokensDetails

    client_id = new_client_id("cachewrite")
    pipeline.add_price("openai", "gpt-cache-write-test", "2.00", output_per_mtok="8.00", cache_read_per_mtok="0.20",
                       cache_write_per_mtok="2.50", reasoning_per_mtok="8.00")
    usage = CompletionUsage(prompt_tokens=3_000_000, completion_tokens=500_000, total_tokens=3_500_000,
                            prompt_tokens_details=PromptTokensDetails(cached_tokens=1_000_000,
                                                                      cache_write_tokens=1_200_000),
                            completion_tokens_details=CompletionTokensDetails(reasoning_tokens=100_000))
    with TokenTally(pipeline.services["ingest"].url or "", api_key=INGEST_KEY) as tally:
        tally.record(client_id, "openai", "gpt-cache-write-test", usage=usage)  # sent as model_dump(), nulls too
        assert tally.flush(30)
        assert tally.stats().delivered == 1

    invoice = pipeline.wait_for_events(client_id, datetime.now(UTC).strftime("%Y-%m"), 1)

    (line,) = invoice["lines"]
    assert _buckets(line) == [800_000, 1_000_000, 1_200_000, 400_000, 100_000]
    # 0.8M x $2 + 1M x $0.20 + 1.2M x $2.50 + 0.4M x $8 + 0.1M x $8 = 1.60 + 0.20 + 3.00 + 3.20 + 0.80
    assert line["amount"] == "8.80"
