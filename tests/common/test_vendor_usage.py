"""Usage payloads as the vendors' current SDK types dump them (``model_dump()``, nulls and all),
including OpenAI's cache writes, mapped onto the five buckets."""

from __future__ import annotations

from typing import Any

import pytest
from anthropic.types import CacheCreation
from anthropic.types import Usage as AnthropicUsage
from google.genai.types import GenerateContentResponseUsageMetadata
from openai.types import CompletionUsage
from openai.types.completion_usage import CompletionTokensDetails, PromptTokensDetails
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails, ResponseUsage

from libs.common.usage import UsageMappingError, usage_buckets

ORDER = ("input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens")


def buckets(usage: Any, provider: str | None = None, mode: str = "python") -> list[int]:
    result = usage_buckets(usage.model_dump(mode=mode), provider)
    return [result[name] for name in ORDER]


def test_openai_chat_cache_writes_leave_the_input_bucket() -> None:
    usage = CompletionUsage(prompt_tokens=10_000, completion_tokens=500, total_tokens=10_500,
                            prompt_tokens_details=PromptTokensDetails(cached_tokens=6_000, cache_write_tokens=3_000),
                            completion_tokens_details=CompletionTokensDetails(reasoning_tokens=200))
    assert buckets(usage) == [1_000, 6_000, 3_000, 300, 200]


def test_openai_responses_cache_writes_leave_the_input_bucket() -> None:
    usage = ResponseUsage(input_tokens=10_000, output_tokens=500, total_tokens=10_500,
                          input_tokens_details=InputTokensDetails(cached_tokens=6_000, cache_write_tokens=3_000),
                          output_tokens_details=OutputTokensDetails(reasoning_tokens=200))
    assert buckets(usage, "openai", mode="json") == [1_000, 6_000, 3_000, 300, 200]


def test_openai_cache_counts_over_the_prompt_name_the_details() -> None:
    usage = {"prompt_tokens": 100, "completion_tokens": 1,
             "prompt_tokens_details": {"cached_tokens": 60, "cache_write_tokens": 50}}
    with pytest.raises(UsageMappingError) as caught:
        usage_buckets(usage)
    assert caught.value.issues[0].field == "usage.prompt_tokens_details"
    assert "(60 + 50) exceeds usage.prompt_tokens (100)" in caught.value.issues[0].message


@pytest.mark.parametrize("mode", ["python", "json"])
def test_model_dumps_with_their_nulls_are_read_as_they_are(mode: str) -> None:
    bare_openai = CompletionUsage(prompt_tokens=10, completion_tokens=5, total_tokens=15)
    assert bare_openai.model_dump()["prompt_tokens_details"] is None
    assert buckets(bare_openai, mode=mode) == [10, 0, 0, 5, 0]
    anthropic = AnthropicUsage(input_tokens=21, output_tokens=393, cache_read_input_tokens=None,
                               cache_creation_input_tokens=188_086,
                               cache_creation=CacheCreation(ephemeral_5m_input_tokens=188_086,
                                                            ephemeral_1h_input_tokens=0))
    assert buckets(anthropic, "anthropic", mode) == [21, 0, 188_086, 393, 0]
    gemini = GenerateContentResponseUsageMetadata(prompt_token_count=5_000, candidates_token_count=700,
                                                  cached_content_token_count=4_000, thoughts_token_count=300,
                                                  total_token_count=6_000)
    assert gemini.model_dump()["tool_use_prompt_token_count"] is None
    assert buckets(gemini, "google", mode) == [1_000, 4_000, 0, 700, 300]


ALL = (*ORDER, "cache_write_1h_tokens", "input_audio_tokens", "output_audio_tokens", "cache_audio_read_tokens",
       "input_image_tokens", "cache_image_read_tokens", "output_image_tokens")


def all_buckets(usage: Any, provider: str | None = None, mode: str = "python") -> dict[str, int]:
    result = usage_buckets(usage.model_dump(mode=mode), provider)
    assert set(result) == set(ALL)
    return {name: count for name, count in result.items() if count}


@pytest.mark.parametrize("mode", ["python", "json"])
def test_anthropic_one_hour_writes_get_their_own_bucket(mode: str) -> None:
    usage = AnthropicUsage(input_tokens=50, output_tokens=700, cache_read_input_tokens=9_000,
                           cache_creation_input_tokens=5_000,
                           cache_creation=CacheCreation(ephemeral_5m_input_tokens=1_200,
                                                        ephemeral_1h_input_tokens=3_800))
    assert all_buckets(usage, "anthropic", mode) == {
        "input_tokens": 50, "output_tokens": 700, "cache_read_tokens": 9_000,
        "cache_write_tokens": 1_200, "cache_write_1h_tokens": 3_800,
    }


def test_anthropic_split_without_the_total_is_summed() -> None:
    usage = {"input_tokens": 1, "output_tokens": 2, "cache_creation_input_tokens": None,
             "cache_creation": {"ephemeral_5m_input_tokens": 30, "ephemeral_1h_input_tokens": 400}}
    assert usage_buckets(usage, "anthropic")["cache_write_tokens"] == 30
    assert usage_buckets(usage, "anthropic")["cache_write_1h_tokens"] == 400


def test_anthropic_one_hour_writes_over_the_total_name_the_field() -> None:
    usage = {"input_tokens": 1, "output_tokens": 2, "cache_creation_input_tokens": 100,
             "cache_creation": {"ephemeral_1h_input_tokens": 101}}
    with pytest.raises(UsageMappingError) as caught:
        usage_buckets(usage, "anthropic")
    assert caught.value.issues[0].field == "usage.cache_creation.ephemeral_1h_input_tokens"
    assert "(101) exceeds usage.cache_creation_input_tokens (100)" in caught.value.issues[0].message


@pytest.mark.parametrize("mode", ["python", "json"])
def test_openai_audio_tokens_leave_the_text_buckets(mode: str) -> None:
    usage = CompletionUsage(prompt_tokens=10_000, completion_tokens=6_000, total_tokens=16_000,
                            prompt_tokens_details=PromptTokensDetails(cached_tokens=1_000, audio_tokens=7_000),
                            completion_tokens_details=CompletionTokensDetails(audio_tokens=5_000,
                                                                              reasoning_tokens=200))
    assert all_buckets(usage, "openai", mode) == {
        "input_tokens": 2_000, "cache_read_tokens": 1_000, "input_audio_tokens": 7_000,
        "output_tokens": 800, "reasoning_tokens": 200, "output_audio_tokens": 5_000,
    }


def test_openai_audio_over_the_count_names_the_details() -> None:
    usage = {"prompt_tokens": 100, "completion_tokens": 10,
             "completion_tokens_details": {"audio_tokens": 8, "reasoning_tokens": 3}}
    with pytest.raises(UsageMappingError) as caught:
        usage_buckets(usage)
    assert caught.value.issues[0].field == "usage.completion_tokens_details"
    message = caught.value.issues[0].message
    assert "reasoning_tokens + audio_tokens (3 + 8) exceeds usage.completion_tokens (10)" in message


@pytest.mark.parametrize("provider", ["google", "vertex_ai", "gemini"])
def test_gemini_openai_compatible_audio_stays_text_like_geminis_own_usage(provider: str) -> None:
    usage = {"prompt_tokens": 1_000, "completion_tokens": 500, "prompt_tokens_details": {"audio_tokens": 300},
             "completion_tokens_details": {"audio_tokens": 200}}
    result = usage_buckets(usage, provider)
    assert (result["input_tokens"], result["input_audio_tokens"], result["output_tokens"]) == (1_000, 0, 500)
    assert usage_buckets(usage, "openai")["input_audio_tokens"] == 300


@pytest.mark.parametrize("mode", ["python", "json"])
def test_openai_realtime_usage_is_split_by_modality_and_cache(mode: str) -> None:
    from openai.types.realtime.realtime_response_usage import RealtimeResponseUsage

    usage = RealtimeResponseUsage.model_validate({
        "input_tokens": 10_000, "output_tokens": 3_000, "total_tokens": 13_000,
        "input_token_details": {"text_tokens": 2_000, "audio_tokens": 7_000, "image_tokens": 1_000,
                                "cached_tokens": 5_000,
                                "cached_tokens_details": {"text_tokens": 1_500, "audio_tokens": 3_000,
                                                          "image_tokens": 500}},
        "output_token_details": {"text_tokens": 1_000, "audio_tokens": 2_000}})
    assert all_buckets(usage, "openai", mode) == {
        "input_tokens": 500, "cache_read_tokens": 1_500,  # text: 2,000 of which 1,500 cached
        "input_audio_tokens": 4_000, "cache_audio_read_tokens": 3_000,
        "input_image_tokens": 500, "cache_image_read_tokens": 500,
        "output_tokens": 1_000, "output_audio_tokens": 2_000,
    }


def test_openai_realtime_cached_tokens_without_their_split_are_refused_next_to_audio() -> None:
    usage = {"input_tokens": 100, "output_tokens": 1,
             "input_token_details": {"audio_tokens": 60, "cached_tokens": 30}}
    with pytest.raises(UsageMappingError) as caught:
        usage_buckets(usage, "openai")
    assert caught.value.issues[0].field == "usage.input_token_details.cached_tokens_details"
    text_only = {"input_tokens": 100, "output_tokens": 1, "input_token_details": {"cached_tokens": 30}}
    assert usage_buckets(text_only, "openai")["cache_read_tokens"] == 30  # all text: nothing to tell apart


def test_openai_realtime_parts_over_the_whole_name_the_field() -> None:
    usage = {"input_tokens": 100, "output_tokens": 1,
             "input_token_details": {"audio_tokens": 60, "image_tokens": 50}}
    with pytest.raises(UsageMappingError) as caught:
        usage_buckets(usage, "openai")
    assert caught.value.issues[0].field == "usage.input_token_details"
    assert "(60 + 50 + 0) exceeds usage.input_tokens (100)" in caught.value.issues[0].message
    cached_audio = {"input_tokens": 100, "output_tokens": 1,
                    "input_token_details": {"audio_tokens": 10, "cached_tokens": 20,
                                            "cached_tokens_details": {"audio_tokens": 15}}}
    with pytest.raises(UsageMappingError) as caught:
        usage_buckets(cached_audio, "openai")
    assert caught.value.issues[0].field == "usage.input_token_details.cached_tokens_details.audio_tokens"


@pytest.mark.parametrize(("mode", "by_alias"), [("python", False), ("json", False), ("json", True)])
def test_gemini_modalities_split_audio_and_images_from_text(mode: str, by_alias: bool) -> None:
    from google.genai.types import MediaModality, ModalityTokenCount

    def counts(**tokens: int) -> list[ModalityTokenCount]:
        return [ModalityTokenCount(modality=MediaModality(kind), token_count=n) for kind, n in tokens.items()]

    usage = GenerateContentResponseUsageMetadata(
        prompt_token_count=5_600, candidates_token_count=1_700, cached_content_token_count=1_500,
        thoughts_token_count=300, total_token_count=7_600,
        prompt_tokens_details=counts(TEXT=1_500, AUDIO=3_000, IMAGE=500, DOCUMENT=100, VIDEO=500),
        cache_tokens_details=counts(AUDIO=1_000, TEXT=500),
        candidates_tokens_details=counts(IMAGE=1_290, TEXT=410))
    result = usage_buckets(usage.model_dump(mode=mode, by_alias=by_alias), "google")
    assert {k: v for k, v in result.items() if v} == {
        "input_tokens": 1_500,  # text 1,500 - 500 cached, and video 500: billed as text
        "cache_read_tokens": 500, "input_audio_tokens": 2_000, "cache_audio_read_tokens": 1_000,
        "input_image_tokens": 600,  # image and document, as genai-prices reads them
        "output_tokens": 410, "output_image_tokens": 1_290, "reasoning_tokens": 300,
    }


def test_gemini_details_over_their_counts_name_the_field() -> None:
    over = {"promptTokenCount": 100, "cachedContentTokenCount": 50,
            "cacheTokensDetails": [{"modality": "AUDIO", "tokenCount": 60}]}
    with pytest.raises(UsageMappingError) as caught:
        usage_buckets(over, "google")
    assert caught.value.issues[0].field == "usage.cacheTokensDetails.AUDIO"
    prompt = {"prompt_token_count": 100, "cached_content_token_count": 50,
              "prompt_tokens_details": [{"modality": "AUDIO", "token_count": 80}]}
    with pytest.raises(UsageMappingError) as caught:
        usage_buckets(prompt, "google")
    assert caught.value.issues[0].field == "usage.prompt_tokens_details"
