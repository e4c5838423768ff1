"""1-hour cache writes, audio, cached audio and image tokens (Anthropic, OpenAI, Realtime, Gemini)
through the real pipeline to an invoice, each at its own price.

Usage goes in as the vendors' SDK types dump it; prices come from the genai-prices catalog, or
an override where the catalog has none for the unit (the call waits in the quarantine until
then). Every amount is worked out by hand in the comments.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from anthropic.types import CacheCreation
from anthropic.types import Usage as AnthropicUsage
from openai.types import CompletionUsage
from openai.types.completion_usage import CompletionTokensDetails, PromptTokensDetails
from openai.types.realtime.realtime_response_usage import RealtimeResponseUsage

from tests.e2e.conftest import Pipeline, event, new_client_id, wait_until

pytestmark = pytest.mark.integration

D = Decimal


def _line(invoice: dict, model: str) -> dict:
    (line,) = [line for line in invoice["lines"] if line["model"] == model]
    return line


def test_one_hour_writes_and_audio_are_billed_at_their_own_prices(pipeline: Pipeline) -> None:
    client = new_client_id("units")
    claude = AnthropicUsage(input_tokens=100_000, output_tokens=40_000, cache_read_input_tokens=1_000_000,
                            cache_creation_input_tokens=500_000,
                            cache_creation=CacheCreation(ephemeral_5m_input_tokens=200_000,
                                                         ephemeral_1h_input_tokens=300_000))
    audio = CompletionUsage(prompt_tokens=400_000, completion_tokens=200_000, total_tokens=600_000,
                            prompt_tokens_details=PromptTokensDetails(audio_tokens=250_000),
                            completion_tokens_details=CompletionTokensDetails(audio_tokens=125_000))
    realtime = RealtimeResponseUsage.model_validate({
        "input_tokens": 6_400_000, "output_tokens": 300_000, "total_tokens": 6_700_000,
        "input_token_details": {"text_tokens": 2_000_000, "audio_tokens": 3_400_000, "image_tokens": 1_000_000,
                                "cached_tokens": 5_000_000,
                                "cached_tokens_details": {"text_tokens": 1_500_000, "audio_tokens": 3_000_000,
                                                          "image_tokens": 500_000}},
        "output_token_details": {"text_tokens": 100_000, "audio_tokens": 200_000}})
    gemini = {"promptTokenCount": 4_000_000, "candidatesTokenCount": 400_000, "cachedContentTokenCount": 1_500_000,
              "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 1_500_000},
                                      {"modality": "AUDIO", "tokenCount": 2_000_000},
                                      {"modality": "IMAGE", "tokenCount": 500_000}],
              "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": 500_000},
                                     {"modality": "AUDIO", "tokenCount": 1_000_000}]}
    preview = CompletionUsage(prompt_tokens=50_000, completion_tokens=20_000, total_tokens=70_000,
                              prompt_tokens_details=PromptTokensDetails(audio_tokens=40_000),
                              completion_tokens_details=CompletionTokensDetails(audio_tokens=15_000))
    reply = pipeline.send([
        event(client, "claude", provider="anthropic", model="claude-opus-4-5", usage=claude.model_dump()),
        event(client, "audio", provider="openai", model="gpt-audio", usage=audio.model_dump()),
        event(client, "realtime", provider="openai", model="gpt-realtime-mini", usage=realtime.model_dump()),
        event(client, "gemini", provider="google", model="gemini-2.5-flash", usage=gemini),
        event(client, "preview", provider="openai", model="gpt-4o-audio-preview", usage=preview.model_dump()),
    ])
    assert reply.json() == {"accepted": 5, "rejected": []}, reply.text

    # The catalog lists gpt-4o-audio-preview at its text prices only: its audio is not billed at them.
    pending = wait_until(
        lambda: pipeline.api("pricing").get("/v1/unpriced", params={"client_id": client}).json(),
        60, "the audio-preview call to be quarantined",
    )
    assert [e["event_id"] for e in pending] == ["preview"]
    assert pending[0]["reason"] == (
        "no price for input audio tokens and output audio tokens: catalog openai/gpt-4o-audio-preview does not "
        "price them; add an override with input_audio_per_mtok, output_audio_per_mtok")
    invoice = pipeline.wait_for_events(client, "2026-10", 4)

    opus = _line(invoice, "claude-opus-4-5")
    assert [opus[k] for k in ("input_tokens", "cache_read_tokens", "cache_write_tokens", "cache_write_1h_tokens",
                              "output_tokens")] == [100_000, 1_000_000, 200_000, 300_000, 40_000]
    # genai-prices: $5 input, $0.50 cache read, $6.25 5-minute write, $10 1-hour write, $25 output
    # 0.1M x 5 + 1M x 0.50 + 0.2M x 6.25 + 0.3M x 10 + 0.04M x 25 = 0.50 + 0.50 + 1.25 + 3.00 + 1.00
    assert (D(opus["amount_exact"]), opus["amount"]) == (D("6.25"), "6.25")
    assert opus["unit_prices"]["cache_write_1h_per_mtok"] == "10.00"
    assert opus["description"] == (
        "anthropic claude-opus-4-5: 100,000 input @ $5.00/1M + 40,000 output @ $25.00/1M + 1,000,000 cache read "
        "@ $0.50/1M + 200,000 cache write @ $6.25/1M + 300,000 1h cache write @ $10.00/1M = $6.25")

    gpt_audio = _line(invoice, "gpt-audio")
    assert [gpt_audio[k] for k in ("input_tokens", "input_audio_tokens", "output_tokens", "output_audio_tokens")] \
        == [150_000, 250_000, 75_000, 125_000]
    # genai-prices: text $2.50 in / $10 out, audio $32 in / $64 out
    # 0.15M x 2.50 + 0.25M x 32 + 0.075M x 10 + 0.125M x 64 = 0.375 + 8 + 0.75 + 8 = 17.125 → $17.13 (half-up)
    assert (D(gpt_audio["amount_exact"]), gpt_audio["amount"]) == (D("17.125"), "17.13")

    rt = _line(invoice, "gpt-realtime-mini")
    assert [rt[k] for k in ("input_tokens", "cache_read_tokens", "input_audio_tokens", "cache_audio_read_tokens",
                            "input_image_tokens", "cache_image_read_tokens", "output_tokens",
                            "output_audio_tokens")] == [
        500_000, 1_500_000, 400_000, 3_000_000, 500_000, 500_000, 100_000, 200_000]
    # genai-prices: text $0.60 / cached $0.06 / out $2.40; audio $10 / cached $0.30 / out $20; image $0.80 / $0.08
    # 0.30 + 0.09 + 4 + 0.90 + 0.40 + 0.04 + 0.24 + 4 = 9.97
    assert (D(rt["amount_exact"]), rt["amount"]) == (D("9.97"), "9.97")

    flash = _line(invoice, "gemini-2.5-flash")
    assert [flash[k] for k in ("input_tokens", "cache_read_tokens", "input_audio_tokens", "cache_audio_read_tokens",
                               "input_image_tokens", "output_tokens")] == [
        1_000_000, 500_000, 1_000_000, 1_000_000, 500_000, 400_000]
    # genai-prices: text $0.30 / cached $0.03 / out $2.50, audio $1 / cached $0.10; images unlisted: as text
    # 0.30 + 0.015 + 1 + 0.10 + 0.15 + 1 = 2.565 → $2.57 (half-up)
    assert (D(flash["amount_exact"]), flash["amount"]) == (D("2.565"), "2.57")

    # The agency adds OpenAI's audio rates; the quarantined call is re-driven and billed at them.
    override = pipeline.add_price("openai", "gpt-4o-audio-preview", "2.50", output_per_mtok="10.00",
                                  input_audio_per_mtok="40", output_audio_per_mtok="80")
    invoice = pipeline.wait_for_events(client, "2026-10", 5)
    preview_line = _line(invoice, "gpt-4o-audio-preview")
    assert preview_line["price"]["price_id"] == override["override_id"]
    # text: 10,000 in x $2.50 + 5,000 out x $10; audio: 40,000 x $40 + 15,000 x $80
    # 0.025 + 0.05 + 1.60 + 1.20 = 2.875 → $2.88
    assert (D(preview_line["amount_exact"]), preview_line["amount"]) == (D("2.875"), "2.88")
    assert invoice["base_cost"] == "38.80"  # 6.25 + 17.13 + 9.97 + 2.57 + 2.88
    assert pipeline.api("pricing").get("/v1/unpriced", params={"client_id": client}).json() == []

    csv_reply = pipeline.api("invoicing").get(f"/v1/clients/{client}/invoices/2026-10", params={"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(csv_reply.text)))
    by_model = {row["model"]: row for row in rows if row["type"] == "line"}
    assert (by_model["claude-opus-4-5"]["cache_write_1h_tokens"], by_model["claude-opus-4-5"]["amount"]) == (
        "300000", "6.25")
    assert (by_model["gpt-audio"]["input_audio_per_mtok"], by_model["gpt-audio"]["output_audio_per_mtok"]) == (
        "32.00", "64.00")
