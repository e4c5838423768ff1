"""Ingest input validation: one event, a batch with per-item rejections, and request bodies."""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from libs.common.events import MAX_TAGS
from libs.common.gc_pause import gc_paused
from services.ingest.bodies import BodyError, UnsupportedMediaType, parse_body
from services.ingest.schemas import MAX_BATCH_ITEMS, FieldError, UsageEventIn
from services.ingest.validation import field_errors, to_recorded, validate_batch

RECEIVED_AT = datetime(2025, 2, 1, 9, 30, tzinfo=UTC)


def event(**overrides: Any) -> dict[str, Any]:
    base = {
        "event_id": "evt-0001",
        "client_id": "acme",
        "provider": "openai",
        "model": "gpt-4o",
        "timestamp": "2025-01-31T12:00:00Z",
        "input_tokens": 1_200,
        "output_tokens": 300,
    }
    return {key: value for key, value in {**base, **overrides}.items() if value is not ...}


def errors_of(item: Any) -> list[FieldError]:
    with pytest.raises(ValidationError) as caught:
        UsageEventIn.model_validate(item)
    return field_errors(caught.value)


def fields_of(item: Any) -> list[str]:
    return [error.field for error in errors_of(item)]


# --- one event --------------------------------------------------------------------------


def test_minimal_event_defaults() -> None:
    parsed = UsageEventIn.model_validate(event(timestamp=..., output_tokens=...))
    assert parsed.timestamp is None
    assert (parsed.input_tokens, parsed.output_tokens, parsed.reasoning_tokens) == (1_200, 0, 0)
    assert parsed.tags == {} and parsed.project is None and parsed.usage is None


def test_provider_and_model_are_normalised() -> None:
    parsed = UsageEventIn.model_validate(event(provider="  OpenAI ", model=" gpt-4o "))
    assert (parsed.provider, parsed.model) == ("openai", "gpt-4o")


def test_timestamp_with_offset_is_kept_as_the_same_instant_in_utc() -> None:
    parsed = UsageEventIn.model_validate(event(timestamp="2025-01-31T13:00:00.250+01:00"))
    assert parsed.timestamp == datetime(2025, 1, 31, 12, 0, 0, 250_000, tzinfo=UTC)
    assert parsed.timestamp.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "timestamp",
    ["2025-01-31T12:00:00Z", "2025-01-31t12:00:00z", "2025-01-31 12:00:00+00:00", "2025-01-31T12:00:00.123456789Z"],
)
def test_rfc3339_spellings(timestamp: str) -> None:
    assert UsageEventIn.model_validate(event(timestamp=timestamp)).timestamp == datetime(
        2025, 1, 31, 12, tzinfo=UTC
    ).replace(microsecond=123_456 if "." in timestamp else 0)


def test_naive_timestamp_is_refused_with_a_clear_message() -> None:
    [error] = errors_of(event(timestamp="2025-01-31T12:00:00"))
    assert error.field == "timestamp"
    assert "no timezone" in error.message and "Z" in error.message


@pytest.mark.parametrize(
    ("timestamp", "why"),
    [
        ("yesterday", "not an RFC 3339"),
        ("2025-01-31", "not an RFC 3339"),
        (1_738_324_800, "must be an RFC 3339 string"),
        ("2025-02-30T12:00:00Z", "not a valid date-time"),
        ("9999-12-31T23:59:59-01:00", "out of range"),
    ],
)
def test_bad_timestamps(timestamp: Any, why: str) -> None:
    [error] = errors_of(event(timestamp=timestamp))
    assert error.field == "timestamp" and why in error.message


def test_missing_required_fields_are_named() -> None:
    assert fields_of(event(event_id=...)) == ["event_id"]
    assert errors_of(event(event_id=...))[0].message == "field required"
    assert fields_of({}) == ["event_id", "client_id", "provider", "model"]


@pytest.mark.parametrize(
    "field", ["input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens"]
)
def test_negative_tokens(field: str) -> None:
    [error] = errors_of(event(**{field: -1}))
    assert error.field == field and "greater than or equal to 0" in error.message


@pytest.mark.parametrize("value", ["12", 12.0, True, None])
def test_token_counts_must_be_integers(value: Any) -> None:
    assert fields_of(event(input_tokens=value)) == ["input_tokens"]


def test_unknown_field() -> None:
    [error] = errors_of(event(surprise=1))
    assert error == FieldError(field="surprise", message="unknown field")


def test_bad_client_id() -> None:
    assert fields_of(event(client_id="acme corp!")) == ["client_id"]


def test_tags_within_bounds() -> None:
    tags = {f"k{i}": "v" * 256 for i in range(MAX_TAGS)}
    assert UsageEventIn.model_validate(event(tags=tags, project="chatbot")).tags == tags


def test_too_many_tags() -> None:
    [error] = errors_of(event(tags={f"k{i}": "v" for i in range(MAX_TAGS + 1)}))
    assert error.field == "tags" and str(MAX_TAGS) in error.message


def test_tag_key_and_value_too_long() -> None:
    errors = errors_of(event(tags={"k" * 65: "v", "team": "x" * 257}))
    assert [e.field.split(".")[0] for e in errors] == ["tags", "tags"]
    assert "tags.team" in [e.field for e in errors]
    assert all("at most" in e.message for e in errors)


def test_tag_values_must_be_strings() -> None:
    assert fields_of(event(tags={"env": 1})) == ["tags.env"]


# --- the usage object -------------------------------------------------------------------


OPENAI_CHAT = {
    "prompt_tokens": 2006,
    "completion_tokens": 300,
    "total_tokens": 2306,
    "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 192, "audio_tokens": 0},
}


def test_usage_object_fills_the_buckets() -> None:
    parsed = UsageEventIn.model_validate(event(input_tokens=..., output_tokens=..., usage=OPENAI_CHAT))
    buckets = (parsed.input_tokens, parsed.cache_read_tokens, parsed.output_tokens, parsed.reasoning_tokens)
    assert buckets == (86, 1920, 108, 192)
    assert parsed.usage == OPENAI_CHAT
    assert not {"input_tokens", "output_tokens"} & parsed.model_fields_set


def test_provider_breaks_the_responses_anthropic_tie() -> None:
    mixed = {
        "input_tokens": 100,
        "output_tokens": 10,
        "input_tokens_details": {"cached_tokens": 40},
        "cache_read_input_tokens": 0,
    }
    as_openai = UsageEventIn.model_validate(event(input_tokens=..., output_tokens=..., usage=mixed))
    as_anthropic = UsageEventIn.model_validate(
        event(input_tokens=..., output_tokens=..., provider="Anthropic", model="claude-sonnet-4", usage=mixed)
    )
    assert (as_openai.input_tokens, as_openai.cache_read_tokens) == (60, 40)
    assert (as_anthropic.input_tokens, as_anthropic.cache_read_tokens) == (100, 0)


def test_usage_and_token_fields_together_is_an_error_naming_both() -> None:
    [error] = errors_of(event(output_tokens=..., usage=OPENAI_CHAT))
    assert error.field == "usage"
    assert "usage" in error.message and "input_tokens" in error.message


def test_usage_and_a_zero_token_field_is_still_both() -> None:
    [error] = errors_of(event(input_tokens=0, output_tokens=..., usage=OPENAI_CHAT))
    assert "input_tokens" in error.message


def test_inconsistent_usage_names_the_field_inside_usage() -> None:
    usage = {"prompt_tokens": 1000, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 1200}}
    [error] = errors_of(event(input_tokens=..., output_tokens=..., usage=usage))
    assert error.field == "usage.prompt_tokens_details.cached_tokens"
    assert error.message == "usage.prompt_tokens_details.cached_tokens (1200) exceeds usage.prompt_tokens (1000)"


def test_every_problem_in_usage_is_reported() -> None:
    usage = {"input_tokens": -1, "output_tokens": "many", "cache_creation_input_tokens": 0}
    fields = fields_of(event(input_tokens=..., output_tokens=..., usage=usage))
    assert fields == ["usage.input_tokens", "usage.output_tokens"]


def test_unrecognised_and_non_object_usage() -> None:
    assert fields_of(event(input_tokens=..., output_tokens=..., usage={"tokens": 5})) == ["usage"]
    assert fields_of(event(input_tokens=..., output_tokens=..., usage=[5])) == ["usage"]


# --- to_recorded ------------------------------------------------------------------------


def test_to_recorded_copies_everything() -> None:
    parsed = UsageEventIn.model_validate(event(project="chatbot", tags={"env": "prod"}, cache_write_tokens=7,
                                               cache_write_1h_tokens=8, input_audio_tokens=9, output_audio_tokens=10,
                                               cache_audio_read_tokens=11, input_image_tokens=12,
                                               cache_image_read_tokens=13, output_image_tokens=14))
    recorded = to_recorded(parsed, RECEIVED_AT)
    assert recorded.model_dump() == {
        "event_id": "evt-0001",
        "client_id": "acme",
        "provider": "openai",
        "model": "gpt-4o",
        "timestamp": datetime(2025, 1, 31, 12, tzinfo=UTC),
        "received_at": RECEIVED_AT,
        "input_tokens": 1_200,
        "output_tokens": 300,
        "cache_read_tokens": 0,
        "cache_write_tokens": 7,
        "reasoning_tokens": 0,
        "cache_write_1h_tokens": 8,
        "input_audio_tokens": 9,
        "output_audio_tokens": 10,
        "cache_audio_read_tokens": 11,
        "input_image_tokens": 12,
        "cache_image_read_tokens": 13,
        "output_image_tokens": 14,
        "project": "chatbot",
        "tags": {"env": "prod"},
    }


def test_to_recorded_defaults_timestamp_to_receipt() -> None:
    parsed = UsageEventIn.model_validate(event(timestamp=...))
    assert to_recorded(parsed, RECEIVED_AT).timestamp == RECEIVED_AT


# --- validate_batch ---------------------------------------------------------------------


def test_batch_of_mixed_items_gives_the_right_indices() -> None:
    items = [
        event(event_id="ok-0"),
        event(event_id="bad-1", timestamp="2025-01-31T12:00:00"),
        event(event_id="ok-2", usage=OPENAI_CHAT, input_tokens=..., output_tokens=...),
        "not an event",
        event(event_id=..., input_tokens=-5),
        event(
            event_id="ok-5",
            provider="Anthropic",
            input_tokens=...,
            output_tokens=...,
            usage={"input_tokens": 21, "output_tokens": 393, "cache_creation_input_tokens": None},
        ),
        event(
            event_id="bad-6",
            usage={"promptTokenCount": 10, "cachedContentTokenCount": 11},
            input_tokens=...,
            output_tokens=...,
        ),
    ]
    accepted, rejected = validate_batch(items, RECEIVED_AT)
    assert [e.event_id for e in accepted] == ["ok-0", "ok-2", "ok-5"]
    assert accepted[1].input_tokens == 86 and accepted[2].provider == "anthropic"
    assert all(e.received_at == RECEIVED_AT for e in accepted)
    assert [(r.index, [e.field for e in r.errors]) for r in rejected] == [
        (1, ["timestamp"]),
        (3, [""]),
        (4, ["event_id", "input_tokens"]),
        (6, ["usage.cachedContentTokenCount"]),
    ]
    assert rejected[1].errors[0].message == "event must be a JSON object"


def test_batch_all_valid_and_empty() -> None:
    accepted, rejected = validate_batch([event(event_id=f"e{i}") for i in range(500)], RECEIVED_AT)
    assert len(accepted) == 500 and rejected == []
    assert validate_batch([], RECEIVED_AT) == ([], [])


def test_batch_never_raises_for_odd_items() -> None:
    odd: list[Any] = [None, 1, [], [event()], {"usage": None}, {"event_id": {"$gt": ""}}, event(tags=[["a", "b"]])]
    accepted, rejected = validate_batch(odd, RECEIVED_AT)
    assert accepted == [] and [r.index for r in rejected] == list(range(len(odd)))
    assert all(r.errors for r in rejected)


def test_rejections_serialise_as_the_api_sends_them() -> None:
    _, [rejection] = validate_batch([event(input_tokens=-1)], RECEIVED_AT)
    assert rejection.model_dump(mode="json") == {
        "index": 0,
        "errors": [{"field": "input_tokens", "message": "Input should be greater than or equal to 0"}],
    }


def test_batch_needs_an_aware_received_at() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        validate_batch([event()], datetime(2025, 2, 1, 9, 30))


def test_batch_keeps_a_non_utc_received_at_instant() -> None:
    received = datetime(2025, 2, 1, 10, 30, tzinfo=timezone(timedelta(hours=1)))
    [recorded], _ = validate_batch([event(timestamp=...)], received)
    assert recorded.timestamp == recorded.received_at == RECEIVED_AT


def test_gc_paused_restores_the_collector() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError
    assert gc.isenabled()


# --- parse_body -------------------------------------------------------------------------

JSON = "application/json"
NDJSON = "application/x-ndjson"


def test_single_object_becomes_a_one_item_list() -> None:
    assert parse_body(orjson.dumps(event()), JSON) == [event()]


def test_array_and_content_type_parameters() -> None:
    items = [event(event_id="a"), event(event_id="b")]
    assert parse_body(orjson.dumps(items), "Application/JSON; charset=UTF-8") == items
    assert parse_body(b"[]", JSON) == []


def test_array_items_are_not_checked_here() -> None:
    assert parse_body(b'[{"a": 1}, 2, null]', JSON) == [{"a": 1}, 2, None]


def test_array_of_exactly_the_limit_is_accepted() -> None:
    assert len(parse_body(orjson.dumps([{}] * MAX_BATCH_ITEMS), JSON)) == MAX_BATCH_ITEMS


def test_array_over_the_limit() -> None:
    with pytest.raises(BodyError, match="at most 10,000"):
        parse_body(orjson.dumps([{}] * (MAX_BATCH_ITEMS + 1)), JSON)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"event_id": ', "malformed JSON at line 1 column 14"),
        (b'[{"event_id": "a"},\n {"event_id": "b",}]', "malformed JSON at line 2"),
        (b"{'event_id': 'a'}", "malformed JSON at line 1 column 2"),
        (b"\xff\xfe{}", "malformed JSON"),
        (b"", "empty"),
        (b"  \n", "empty"),
    ],
)
def test_malformed_json_names_the_position(raw: bytes, message: str) -> None:
    with pytest.raises(BodyError, match=message):
        parse_body(raw, JSON)


@pytest.mark.parametrize(
    ("raw", "kind"), [(b'"hello"', "a string"), (b"42", "a number"), (b"null", "null"), (b"true", "a boolean")]
)
def test_wrong_top_level_type(raw: bytes, kind: str) -> None:
    with pytest.raises(BodyError, match=f"not {kind}"):
        parse_body(raw, JSON)


def test_ndjson_skips_blank_lines_and_accepts_crlf() -> None:
    raw = orjson.dumps(event(event_id="a")) + b"\r\n\r\n   \n" + orjson.dumps(event(event_id="b")) + b"\n"
    assert [item["event_id"] for item in parse_body(raw, NDJSON)] == ["a", "b"]


def test_ndjson_bad_line_is_named() -> None:
    raw = b"\n".join([orjson.dumps(event()), b"", b'{"event_id": "x",', orjson.dumps(event())])
    with pytest.raises(BodyError, match="line 3"):
        parse_body(raw, NDJSON)


def test_ndjson_non_object_lines_are_items_rejected_later() -> None:
    items = parse_body(b'{"a": 1}\n[1, 2]\n', NDJSON)
    assert items == [{"a": 1}, [1, 2]]
    _, rejected = validate_batch(items, RECEIVED_AT)
    assert [r.index for r in rejected] == [0, 1]


def test_ndjson_over_the_limit_and_empty() -> None:
    with pytest.raises(BodyError, match="at most 10,000"):
        parse_body(b"{}\n" * (MAX_BATCH_ITEMS + 1), NDJSON)
    with pytest.raises(BodyError, match="no events"):
        parse_body(b"\n\n", NDJSON)


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "", "application/json; charset=latin-1"])
def test_unsupported_media_types(content_type: str) -> None:
    with pytest.raises(UnsupportedMediaType):
        parse_body(b"{}", content_type)


def test_body_errors_are_distinct_from_media_type_errors() -> None:
    assert not issubclass(UnsupportedMediaType, BodyError) and not issubclass(BodyError, UnsupportedMediaType)


def test_parse_then_validate_end_to_end() -> None:
    raw = b"\n".join(orjson.dumps(event(event_id=f"e{i}", input_tokens=i - 1)) for i in range(4))
    accepted, rejected = validate_batch(parse_body(raw, NDJSON), RECEIVED_AT)
    assert [e.event_id for e in accepted] == ["e1", "e2", "e3"]
    assert [(r.index, r.errors[0].field) for r in rejected] == [(0, "input_tokens")]
