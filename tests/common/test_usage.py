"""Provider usage objects, as the APIs return them, mapped onto the five disjoint buckets."""

from __future__ import annotations

from typing import Any

import pytest

from libs.common.events import TokenUsage
from libs.common.usage import UsageMappingError, normalize_usage, usage_buckets


def buckets(
    input: int = 0, cache_read: int = 0, cache_write: int = 0, output: int = 0, reasoning: int = 0
) -> TokenUsage:
    return TokenUsage(
        input_tokens=input,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        output_tokens=output,
        reasoning_tokens=reasoning,
    )


def mapping_error(usage: Any, provider: str | None = None) -> UsageMappingError:
    with pytest.raises(UsageMappingError) as caught:
        normalize_usage(usage, provider)
    return caught.value


# --- OpenAI Chat Completions ------------------------------------------------------------

OPENAI_CHAT_O_SERIES = {  # an o-series chat completion with a cached prompt prefix
    "prompt_tokens": 2006,
    "completion_tokens": 300,
    "total_tokens": 2306,
    "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 192,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}


def test_openai_chat_subtracts_cached_and_reasoning_tokens() -> None:
    usage = normalize_usage(OPENAI_CHAT_O_SERIES, "openai")
    assert usage == buckets(input=86, cache_read=1920, output=108, reasoning=192)
    assert usage.total_tokens == OPENAI_CHAT_O_SERIES["total_tokens"]


def test_openai_chat_without_details_or_with_null_details() -> None:
    plain = {"prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29}
    assert normalize_usage(plain) == buckets(input=19, output=10)
    nulls = {**plain, "prompt_tokens_details": None, "completion_tokens_details": None}
    assert normalize_usage(nulls) == buckets(input=19, output=10)
    null_counts = {**plain, "prompt_tokens_details": {"cached_tokens": None}}
    assert normalize_usage(null_counts) == buckets(input=19, output=10)


def test_openai_embeddings_usage_has_no_completion() -> None:
    assert normalize_usage({"prompt_tokens": 8, "total_tokens": 8}, "openai") == buckets(input=8)


def test_openai_chat_cached_over_prompt_names_both_fields() -> None:
    error = mapping_error(
        {"prompt_tokens": 1000, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 1200}}
    )
    assert str(error) == "usage.prompt_tokens_details.cached_tokens (1200) exceeds usage.prompt_tokens (1000)"
    assert [issue.field for issue in error.issues] == ["usage.prompt_tokens_details.cached_tokens"]


def test_openai_chat_reasoning_over_completion_names_both_fields() -> None:
    error = mapping_error(
        {"prompt_tokens": 10, "completion_tokens": 100, "completion_tokens_details": {"reasoning_tokens": 101}}
    )
    assert str(error) == "usage.completion_tokens_details.reasoning_tokens (101) exceeds usage.completion_tokens (100)"


def test_openai_chat_missing_prompt_tokens() -> None:
    error = mapping_error({"completion_tokens": 10})
    assert [issue.field for issue in error.issues] == ["usage.prompt_tokens"]
    assert "field required" in str(error)


# --- OpenAI Responses -------------------------------------------------------------------

OPENAI_RESPONSES = {
    "input_tokens": 5_400,
    "input_tokens_details": {"cached_tokens": 4_096},
    "output_tokens": 1_250,
    "output_tokens_details": {"reasoning_tokens": 1_024},
    "total_tokens": 6_650,
}


def test_openai_responses_subtracts_cached_and_reasoning_tokens() -> None:
    usage = normalize_usage(OPENAI_RESPONSES)
    assert usage == buckets(input=1_304, cache_read=4_096, output=226, reasoning=1_024)
    assert usage.total_tokens == 6_650


def test_openai_responses_with_zero_details() -> None:
    usage = {
        "input_tokens": 328,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 52,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 380,
    }
    assert normalize_usage(usage, "openai") == buckets(input=328, output=52)


def test_openai_responses_cached_over_input_names_the_field() -> None:
    error = mapping_error({**OPENAI_RESPONSES, "input_tokens_details": {"cached_tokens": 6_000}})
    assert str(error) == "usage.input_tokens_details.cached_tokens (6000) exceeds usage.input_tokens (5400)"


# --- Anthropic --------------------------------------------------------------------------

ANTHROPIC_CACHED = {  # a second call reading the cached system prompt and writing more
    "input_tokens": 21,
    "cache_creation_input_tokens": 188_086,
    "cache_read_input_tokens": 1_000,
    "output_tokens": 393,
    "cache_creation": {"ephemeral_5m_input_tokens": 188_086, "ephemeral_1h_input_tokens": 0},
    "server_tool_use": {"web_search_requests": 0},
    "service_tier": "standard",
}


def test_anthropic_counts_are_taken_as_they_are() -> None:
    assert normalize_usage(ANTHROPIC_CACHED, "anthropic") == buckets(
        input=21, cache_write=188_086, cache_read=1_000, output=393
    )


def test_anthropic_with_null_cache_fields() -> None:
    usage = {
        "input_tokens": 2_095,
        "output_tokens": 503,
        "cache_creation_input_tokens": None,
        "cache_read_input_tokens": None,
    }
    assert normalize_usage(usage) == buckets(input=2_095, output=503)


def test_anthropic_detected_from_keys_without_provider() -> None:
    assert normalize_usage(ANTHROPIC_CACHED) == normalize_usage(ANTHROPIC_CACHED, "anthropic")


def test_bare_input_output_maps_the_same_under_either_provider() -> None:
    """Without Anthropic's or OpenAI's own keys both readings agree, so no guess can misbill."""
    bare = {"input_tokens": 100, "output_tokens": 20}
    expected = buckets(input=100, output=20)
    assert normalize_usage(bare) == normalize_usage(bare, "anthropic") == normalize_usage(bare, "openai") == expected


def test_anthropic_requires_output_tokens() -> None:
    error = mapping_error({"input_tokens": 10, "cache_read_input_tokens": 5})
    assert [issue.field for issue in error.issues] == ["usage.output_tokens"]


def test_responses_and_anthropic_keys_together_need_the_provider() -> None:
    mixed = {**OPENAI_RESPONSES, "cache_read_input_tokens": 0}
    assert "ambiguous" in str(mapping_error(mixed))
    assert normalize_usage(mixed, "OpenAI ") == normalize_usage(OPENAI_RESPONSES)
    assert normalize_usage(mixed, "anthropic") == buckets(input=5_400, output=1_250)


# --- Gemini -----------------------------------------------------------------------------

GEMINI_CAMEL = {  # gemini-2.5 with an explicit cache and thinking
    "promptTokenCount": 5_000,
    "candidatesTokenCount": 700,
    "cachedContentTokenCount": 4_000,
    "thoughtsTokenCount": 300,
    "totalTokenCount": 6_000,
    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 5_000}],
    "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": 4_000}],
}
GEMINI_SNAKE = {  # google-genai's usage_metadata.model_dump(): unused counts are None
    "prompt_token_count": 5_000,
    "candidates_token_count": 700,
    "cached_content_token_count": 4_000,
    "thoughts_token_count": 300,
    "tool_use_prompt_token_count": None,
    "total_token_count": 6_000,
    "prompt_tokens_details": [{"modality": "TEXT", "token_count": 5_000}],
    "traffic_type": None,
}


def test_gemini_camel_case() -> None:
    assert normalize_usage(GEMINI_CAMEL, "google") == buckets(input=1_000, cache_read=4_000, output=700, reasoning=300)


def test_gemini_snake_case_from_the_python_sdk() -> None:
    assert normalize_usage(GEMINI_SNAKE) == normalize_usage(GEMINI_CAMEL)


def test_gemini_tool_use_prompt_is_input() -> None:
    usage = {
        "promptTokenCount": 120,
        "candidatesTokenCount": 30,
        "toolUsePromptTokenCount": 450,
        "totalTokenCount": 600,
    }
    assert normalize_usage(usage) == buckets(input=570, output=30)


def test_gemini_omitted_zero_counts() -> None:
    """Gemini's JSON leaves out zero counts (proto3), e.g. a blocked response has no candidates."""
    assert normalize_usage({"promptTokenCount": 12, "totalTokenCount": 12}) == buckets(input=12)


def test_gemini_cached_over_prompt_is_named_as_spelled() -> None:
    camel = mapping_error({"promptTokenCount": 100, "cachedContentTokenCount": 200})
    assert str(camel) == "usage.cachedContentTokenCount (200) exceeds usage.promptTokenCount (100)"
    snake = mapping_error({"prompt_token_count": 100, "cached_content_token_count": 200})
    assert str(snake) == "usage.cached_content_token_count (200) exceeds usage.prompt_token_count (100)"


# --- what is refused --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("usage", "field"),
    [
        ({"prompt_tokens": -1, "completion_tokens": 3}, "usage.prompt_tokens"),
        ({"prompt_tokens": "12", "completion_tokens": 3}, "usage.prompt_tokens"),
        ({"prompt_tokens": 12.5, "completion_tokens": 3}, "usage.prompt_tokens"),
        ({"prompt_tokens": True, "completion_tokens": 3}, "usage.prompt_tokens"),
        (
            {"prompt_tokens": 12, "prompt_tokens_details": {"cached_tokens": -3}},
            "usage.prompt_tokens_details.cached_tokens",
        ),
        ({"prompt_tokens": 12, "prompt_tokens_details": 5}, "usage.prompt_tokens_details"),
        ({"input_tokens": 1, "output_tokens": 1, "cache_read_input_tokens": -1}, "usage.cache_read_input_tokens"),
        ({"promptTokenCount": 10, "thoughtsTokenCount": -2}, "usage.thoughtsTokenCount"),
        ({"prompt_token_count": 10**13}, "usage.prompt_token_count"),
    ],
)
def test_bad_counts_name_the_field(usage: dict[str, Any], field: str) -> None:
    assert [issue.field for issue in mapping_error(usage).issues] == [field]


def test_every_bad_count_is_reported() -> None:
    error = mapping_error({"input_tokens": -1, "output_tokens": "many", "cache_read_input_tokens": 0})
    assert [issue.field for issue in error.issues] == ["usage.input_tokens", "usage.output_tokens"]


@pytest.mark.parametrize("usage", [{}, {"total_tokens": 30}, {"totalTokenCount": 30}, {"tokens": 30}])
def test_unrecognised_objects(usage: dict[str, Any]) -> None:
    error = mapping_error(usage)
    assert str(error).startswith("usage: unrecognised usage object; expected OpenAI, Anthropic or Gemini fields")
    assert [issue.field for issue in error.issues] == ["usage"]


def test_objects_mixing_providers_are_refused() -> None:
    assert "ambiguous" in str(mapping_error({"prompt_tokens": 10, "input_tokens": 10, "output_tokens": 1}))
    assert "ambiguous" in str(mapping_error({"prompt_tokens": 10, "promptTokenCount": 10}))
    assert "ambiguous" in str(mapping_error({"promptTokenCount": 10, "prompt_token_count": 10}))


def test_not_an_object() -> None:
    assert str(mapping_error([1, 2])) == "usage: expected an object"  # type: ignore[arg-type]


def test_gemini_input_sum_over_the_bound() -> None:
    error = mapping_error({"promptTokenCount": 10**12, "toolUsePromptTokenCount": 1})
    assert "over the" in str(error)


def test_error_is_a_value_error_with_field_detail() -> None:
    error = mapping_error({"prompt_tokens": 1, "prompt_tokens_details": {"cached_tokens": 2}})
    assert isinstance(error, ValueError)
    assert error.detail == [{"field": "usage.prompt_tokens_details.cached_tokens", "message": str(error)}]


def test_usage_buckets_is_the_same_mapping_as_a_dict() -> None:
    assert usage_buckets(OPENAI_CHAT_O_SERIES) == normalize_usage(OPENAI_CHAT_O_SERIES).model_dump()
