"""LiteLLM (``mock_response``, no network) with the TokenTally callback, through the real pipeline
to an invoice whose amount is worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.e2e.conftest import INGEST_KEY, Pipeline, new_client_id
from tests.sdk.test_litellm import recorded
from tests.support.offline_litellm import callback, litellm
from tokentally import TokenTally
from tokentally.litellm import TokenTallyLogger

pytestmark = pytest.mark.integration


def test_litellm_calls_reach_the_invoice(pipeline: Pipeline) -> None:
    client_id = new_client_id("litellm")
    pipeline.add_price("anthropic", "claude-litellm-test", "3.00", output_per_mtok="15.00",
                       cache_read_per_mtok="0.30", cache_write_per_mtok="3.75")
    tally = TokenTally(pipeline.services["ingest"].url or "", api_key=INGEST_KEY)
    with callback(TokenTallyLogger(tally)):
        usage = litellm.Usage(prompt_tokens=2_600_000, completion_tokens=100_000,
                              cache_read_input_tokens=1_000_000, cache_creation_input_tokens=400_000)
        reply = litellm.ModelResponse(model="claude-litellm-test", usage=usage, choices=[
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Hello!"}}])
        litellm.completion(model="anthropic/claude-litellm-test", messages=[{"role": "user", "content": "Hi"}],
                           mock_response=reply, user=client_id, api_key="x")
        assert recorded(tally, 1)
    tally.close()

    invoice = pipeline.wait_for_events(client_id, datetime.now(UTC).strftime("%Y-%m"), 1)

    (line,) = invoice["lines"]
    assert [line[k] for k in ("input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens")] \
        == [1_200_000, 1_000_000, 400_000, 100_000]
    # 1.2M x $3 + 1M x $0.30 + 0.4M x $3.75 + 0.1M x $15 = 3.60 + 0.30 + 1.50 + 1.50
    assert line["amount"] == "6.90"
