"""Ingest's message bodies: the bytes pydantic writes for ``UsageRecorded``, packed by count and size."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr

from libs.common.auth import Principal
from libs.common.events import MAX_TAGS, UsageRecorded
from libs.common.kafka import decode_batch, encode_batch, pack
from libs.common.settings import AuthSettings, KafkaSettings
from services.ingest.records import pack_rows, record_rows
from services.ingest.schemas import UsageEventIn
from services.ingest.service import IngestService
from services.ingest.settings import IngestSettings
from services.ingest.validation import to_recorded, validate_inputs

RECEIVED_AT = datetime(2025, 2, 1, 9, 30, 0, 250_000, tzinfo=UTC)
ODD_TEXT = "".join(chr(code) for code in range(1, 0x80)) + "é\u2028\u2029\ufeff😀\U0010ffff\"\\/"


def event(number: int, **overrides: Any) -> dict[str, Any]:
    return {"event_id": f"evt-{number}", "client_id": "acme", "provider": "openai", "model": "gpt-4o",
            "timestamp": "2025-01-31T12:00:00Z", "input_tokens": 1_200, "output_tokens": 300, **overrides}


VARIED = [
    event(0),
    event(1, timestamp="2025-01-31T13:00:00.000001+01:00", project="chatbot", tags={"env": "prod", "k": ""}),
    {key: value for key, value in event(2).items() if key != "timestamp"},  # defaults to received_at
    event(3, input_tokens=10**12, cache_write_1h_tokens=8, input_audio_tokens=9, output_audio_tokens=10,
          cache_audio_read_tokens=11, input_image_tokens=12, cache_image_read_tokens=13, output_image_tokens=14),
    {**{k: v for k, v in event(4, provider=" Anthropic ").items() if not k.endswith("_tokens")},
     "usage": {"input_tokens": 21, "output_tokens": 393, "cache_read_input_tokens": 5,
               "cache_creation": {"ephemeral_5m_input_tokens": 2, "ephemeral_1h_input_tokens": 3},
               "cache_creation_input_tokens": 5}},
    event(5, event_id=ODD_TEXT[:128], client_id="client.b:1-x_", model=ODD_TEXT[:128].strip() or "m",
          project=ODD_TEXT[:128], tags={ODD_TEXT[:64]: ODD_TEXT[:256]}),
    event(6, event_id="e" * 128, provider="p" * 128, model="m" * 128, project="x" * 128,
          tags={f"{i:064d}": "v" * 256 for i in range(MAX_TAGS)}, timestamp="2000-01-01T00:00:00Z"),
    event(7, timestamp="2099-12-31T23:59:59.999999Z"),
]


def inputs(items: list[dict[str, Any]]) -> list[tuple[int, UsageEventIn]]:
    events, rejected = validate_inputs(items)
    assert rejected == []
    return events


def test_inputs_carry_every_field_of_usage_recorded_and_only_usage_besides() -> None:
    assert set(UsageEventIn.model_fields) - {"usage"} == set(UsageRecorded.model_fields) - {"received_at"}


def test_bodies_are_the_bytes_pydantic_writes_for_usage_recorded() -> None:
    events = inputs(VARIED)
    packed = pack_rows(record_rows(events, RECEIVED_AT), max_bytes=10**7)
    assert packed.messages == [(encode_batch([to_recorded(e, RECEIVED_AT) for _, e in events]), len(events))]


def test_bodies_decode_as_usage_recorded_at_every_bound() -> None:
    """``UsageRecorded`` is never stricter than the input model: what ingest accepts, pricing reads."""
    events = inputs(VARIED)
    [(body, _)] = pack_rows(record_rows(events, RECEIVED_AT), max_bytes=10**7).messages
    assert decode_batch(UsageRecorded, body) == [to_recorded(e, RECEIVED_AT) for _, e in events]


def test_packing_splits_like_the_common_packer() -> None:
    items = [event(i, tags={"blob": "x" * (i % 257)}) for i in range(1_200)]
    events = inputs(items)
    recorded = [to_recorded(e, RECEIVED_AT) for _, e in events]
    for max_bytes, max_events in [(10**9, 500), (64 * 1024, 500), (4_096, 500), (10**9, 7)]:
        ours = pack_rows(record_rows(events, RECEIVED_AT), max_bytes, max_events)
        common = pack(recorded, max_bytes, max_events)
        assert ours.messages == [(body, len(chunk)) for body, chunk in common.messages]
        assert all(len(body) <= max_bytes for body, _ in ours.messages)
        assert ours.oversized == []


def test_an_event_too_large_alone_is_reported_with_its_size() -> None:
    items = [event(0), event(1, tags={f"t{i}": "y" * 256 for i in range(MAX_TAGS)}), event(2)]
    events = inputs(items)
    rows = record_rows(events, RECEIVED_AT)
    packed = pack_rows(rows, max_bytes=2_000)
    size = len(encode_batch([to_recorded(events[1][1], RECEIVED_AT)]))
    assert packed.oversized == [(rows[1], size)]
    assert [count for _, count in packed.messages] == [1, 1]


class Recorder:
    """A publisher that keeps what it was given."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes, int]] = []

    async def publish(self, messages: list[tuple[str, bytes, int]]) -> None:
        self.messages.extend(messages)


async def test_service_names_the_oversized_event_and_publishes_the_rest() -> None:
    settings = IngestSettings(kafka=KafkaSettings(max_message_bytes=16 * 1024),
                              auth=AuthSettings(api_keys=SecretStr("[]")))
    recorder = Recorder()
    service = IngestService(recorder, settings)  # type: ignore[arg-type]
    now = datetime.now(UTC)
    stamp = (now - timedelta(hours=1)).isoformat()
    escaped = {f"{n:02d}" + "\u0001" * 62: "\u0001" * 256 for n in range(MAX_TAGS)}  # 6 bytes a character
    items = [event(0, timestamp=stamp, client_id="a"), event(1, timestamp=stamp, client_id="b", tags=escaped),
             event(2, timestamp=stamp, client_id="b"), "not an event"]
    result = await service.ingest_items(items, Principal(scope="ingest"), now)
    assert result.accepted == 2
    assert [(r.index, r.errors[0].field) for r in result.rejected] == [(1, "tags"), (3, "")]
    assert [(client, count) for client, _, count in recorder.messages] == [("a", 1), ("b", 1)]
