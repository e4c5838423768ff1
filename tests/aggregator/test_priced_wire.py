"""The compact priced message: what pricing writes reads back to the very rows the earlier format gave."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec
import orjson
import pytest
from aiokafka.structs import ConsumerRecord

from libs.common.events import AppliedPrice, CostBreakdown, UsagePriced
from libs.common.kafka import encode_batch, pack
from libs.common.priced_wire import decode_priced, encode_priced, is_compact
from services.aggregator.entries import entries_of, read_priced
from services.aggregator.rows import priced_row, rows_json

AT = datetime(2026, 10, 3, 12, tzinfo=UTC)
CATALOG = AppliedPrice(
    source="catalog", price_id="openai/gpt-4o", effective_from=None, input_per_mtok=Decimal("2.5"),
    output_per_mtok=Decimal("1E+1"), cache_read_per_mtok=Decimal("1.25"), cache_write_per_mtok=Decimal("2.5"),
    reasoning_per_mtok=Decimal("0.0000001"),
)
AUDIO = AppliedPrice(
    source="override", price_id="ov-audio", effective_from=AT - timedelta(days=3), input_per_mtok=Decimal("2.5"),
    output_per_mtok=Decimal("10"), cache_read_per_mtok=Decimal("1.25"), cache_write_per_mtok=Decimal("2.5"),
    reasoning_per_mtok=Decimal("10"), tier="input>200000", input_audio_per_mtok=Decimal("40"),
    output_audio_per_mtok=Decimal("80"),
)


def priced(event_id: str, price: AppliedPrice = CATALOG, **fields: Any) -> UsagePriced:
    cost = {"input_usd": Decimal("0.0025"), "output_usd": Decimal("0E-7"), "cache_read_usd": Decimal("0"),
            "cache_write_usd": Decimal("0.0"), "reasoning_usd": Decimal("0"), "total_usd": Decimal("0.0025")}
    cost.update(fields.pop("cost", {}))
    return UsagePriced(event_id=event_id, client_id="acme-1", provider="openai", model="gpt-4o", timestamp=AT,
                       received_at=AT + timedelta(seconds=1), input_tokens=1000, price=price,
                       cost=CostBreakdown(**cost), priced_at=AT + timedelta(seconds=2), **fields)


def events() -> list[UsagePriced]:
    return [
        priced("plain"),
        priced("project", project="support-bot"),
        priced("tags", tags={"feature": "chat", "team": "ml"}),
        priced("audio", AUDIO, input_audio_tokens=2_000, output_audio_tokens=1_000, project=None,
               cost={"input_audio_usd": Decimal("0.08"), "output_audio_usd": Decimal("0.08"),
                     "total_usd": Decimal("0.1625")}),
        priced("again", AUDIO),
    ]


def as_json(rows: list[list[Any]]) -> Any:
    """The rows as ClickHouse gets them (``rows_json``: comma-separated arrays), read back."""
    return orjson.loads(b"[" + rows_json(rows) + b"]")


def record(body: bytes, offset: int = 7) -> ConsumerRecord:
    return ConsumerRecord("t.usage.priced.v1", 0, offset, 0, 0, b"acme-1", body, None, len(b"acme-1"),
                          len(body), [])


def test_every_event_reads_back_to_the_row_the_earlier_format_gives() -> None:
    originals = events()
    body = encode_priced(originals)
    assert is_compact(body) and not is_compact(encode_batch(originals))
    entries = entries_of(decode_priced(body))
    assert [e.event_id for e in entries] == [e.event_id for e in originals]
    assert all(e.problem is None for e in entries)
    assert as_json([e.row for e in entries]) == as_json([priced_row(e) for e in originals])


def test_price_rows_are_written_once_and_zero_unit_buckets_not_at_all() -> None:
    message = orjson.loads(encode_priced(events()))
    assert len(message["prices"]) == 2
    assert message["prices"][0] == ["catalog", "openai/gpt-4o", None, "2.5", "1E+1", "1.25", "2.5", "1E-7"]
    plain, project, tags, audio, _ = message["events"]
    assert len(plain) == 17 and project[-1] == "support-bot" and tags[-1] == {"feature": "chat", "team": "ml"}
    assert len(audio) == 33 and audio[6] == 1000 and audio[-5] == "0.08"
    assert len(encode_priced(events())) < len(encode_batch(events())) / 2


def test_a_message_holds_one_client_priced_at_one_time() -> None:
    with pytest.raises(ValueError, match="one client"):
        encode_priced([priced("a"), priced("b").model_copy(update={"client_id": "other"})])


def test_pack_splits_compact_messages_by_size_too() -> None:
    many = [priced(f"e{i}") for i in range(200)]
    packed = pack(many, 4_000, encode=encode_priced)
    assert len(packed.messages) > 1 and all(len(body) <= 4_000 for body, _ in packed.messages)
    read = [e.event_id for body, _ in packed.messages for e in entries_of(decode_priced(body))]
    assert read == [e.event_id for e in many]


def test_both_formats_are_read_from_one_batch_and_a_bad_message_is_poison_alone() -> None:
    compact = encode_priced(events()[:2])
    earlier = encode_batch([priced("legacy")])
    dangling = orjson.loads(compact)
    dangling["events"][0][5] = 9  # no price row 9
    negative = orjson.loads(compact)
    negative["events"][1][6] = -1
    bad_client = {**orjson.loads(compact), "client_id": "-acme"}
    batch = read_priced([record(compact, 1), record(earlier, 2), record(orjson.dumps(dangling), 3),
                         record(orjson.dumps(negative), 4), record(orjson.dumps(bad_client), 5)])
    assert [e.event_id for e in batch.events] == ["plain", "project", "legacy"]
    assert batch.sources == ["t.usage.priced.v1/0/1"] * 2 + ["t.usage.priced.v1/0/2"]
    reasons = [letter.reason for letter in batch.poison]
    assert len(reasons) == 3
    assert "price row 9" in reasons[0] and ">= 0" in reasons[1] and "client_id" in reasons[2]


@pytest.mark.parametrize(("field", "bad", "reason"), [
    (16, "1,5", "cost.total_usd"), (11, "NaN", "cost.input_usd"), (11, "1" * 21, "cost.input_usd"),
    (11, "0.0000000000000000001", "cost.input_usd"), (3, "1900-01-01T00:00:00Z", "timestamp"),
])
def test_an_amount_or_time_out_of_range_sets_that_event_aside_with_the_reason(field: int, bad: str,
                                                                              reason: str) -> None:
    message = orjson.loads(encode_priced(events()[:2]))
    message["events"][0][field] = bad
    first, second = entries_of(decode_priced(orjson.dumps(message)))
    assert first.problem is not None and reason in first.problem
    assert second.problem is None


def test_a_price_out_of_range_sets_aside_every_event_at_that_row() -> None:
    message = orjson.loads(encode_priced(events()))
    message["prices"][1][3] = "-2.5"
    entries = entries_of(decode_priced(orjson.dumps(message)))
    assert [e.event_id for e in entries if e.problem] == ["audio", "again"]
    assert "price.input_per_mtok" in (entries[3].problem or "")


def test_a_dead_letter_body_is_the_event_as_usage_priced() -> None:
    (_, _, _, audio, _) = entries_of(decode_priced(encode_priced(events())))
    again = UsagePriced.model_validate_json(audio.dead_letter_body())
    assert again == events()[3]


def test_unknown_fields_or_types_make_the_message_unreadable() -> None:
    message = orjson.loads(encode_priced(events()[:1]))
    message["events"][0][6] = "1000"
    with pytest.raises(msgspec.ValidationError, match=r"events\[0\]"):
        decode_priced(orjson.dumps(message))


def test_the_wire_order_of_unit_buckets_is_the_one_pricing_writes() -> None:
    from libs.common.events import UNIT_BUCKETS
    from libs.common.priced_wire import PricedEvent

    fields = PricedEvent.__struct_fields__
    assert fields[-14:] == (*(u.tokens for u in UNIT_BUCKETS), *(u.cost for u in UNIT_BUCKETS))


def test_a_price_row_on_the_wire_has_the_fields_of_applied_price_in_its_order() -> None:
    """``PriceRow`` mirrors ``AppliedPrice`` (the legacy reader's ``AppliedPriceRecord`` too): one list of fields."""
    from libs.common.priced_wire import PriceRow
    from services.aggregator.rows import AppliedPriceRecord

    assert PriceRow.__struct_fields__ == tuple(AppliedPrice.model_fields) == tuple(AppliedPriceRecord.model_fields)


def test_an_amount_with_the_joining_comma_in_it_is_not_read_as_two() -> None:
    message = orjson.loads(encode_priced(events()[:1]))
    message["events"][0][11:17] = ["1,5", "0", "0", "0", "0", "1"]  # plain text otherwise: the quick path
    (entry,) = entries_of(decode_priced(orjson.dumps(message)))
    assert entry.problem is not None and "cost.input_usd" in entry.problem


def plain_row(client_id: str, priced_at: datetime, event: Any, price: Any, cost: Any) -> list[Any]:
    """The row as the aggregator built it before price columns were pre-encoded: every value on its own."""
    return [
        client_id, event.event_id, event.timestamp, event.received_at, priced_at,
        event.provider, event.model, event.project or "", event.tags,
        event.input_tokens, event.output_tokens, event.cache_read_tokens, event.cache_write_tokens,
        event.reasoning_tokens,
        price.source, price.price_id, price.effective_from, price.tier,
        price.input_per_mtok, price.output_per_mtok, price.cache_read_per_mtok, price.cache_write_per_mtok,
        price.reasoning_per_mtok,
        cost.input_usd, cost.output_usd, cost.cache_read_usd, cost.cache_write_usd, cost.reasoning_usd,
        cost.total_usd,
        event.cache_write_1h_tokens, event.input_audio_tokens, event.output_audio_tokens,
        price.cache_write_1h_per_mtok or "0", price.input_audio_per_mtok or "0", price.output_audio_per_mtok or "0",
        cost.cache_write_1h_usd, cost.input_audio_usd, cost.output_audio_usd,
        event.cache_audio_read_tokens, event.input_image_tokens, event.cache_image_read_tokens,
        price.cache_audio_read_per_mtok or "0", price.input_image_per_mtok or "0", price.cache_image_read_per_mtok or "0",
        cost.cache_audio_read_usd, cost.input_image_usd, cost.cache_image_read_usd,
        event.output_image_tokens, price.output_image_per_mtok or "0", cost.output_image_usd,
    ]


def test_the_insert_body_is_byte_for_byte_that_of_plain_rows() -> None:
    """Price columns and ``priced_at`` go in as pre-encoded fragments: ClickHouse gets the very same bytes."""
    from bench.priced_codec import priced_events

    originals = [*events(), *priced_events(300)]
    for client_events in ([e for e in originals if e.client_id == c] for c in {e.client_id for e in originals}):
        message = decode_priced(encode_priced(client_events))
        plain = [plain_row(message.client_id, message.priced_at, event, message.prices[event.price], event)
                 for event in message.events]
        assert rows_json([e.row for e in entries_of(message)]) == rows_json(plain)
        legacy = [plain_row(e.client_id, e.priced_at, e, e.price, e.cost) for e in client_events]
        assert rows_json([priced_row(e) for e in client_events]) == rows_json(legacy)


def test_a_price_row_is_worked_out_once_per_batch_but_written_as_each_message_states_it() -> None:
    """Messages of one batch share their price rows' checks and columns; an equal time in another offset
    is still written as that message wrote it, and a bad row sets aside its events in every message."""
    first = orjson.loads(encode_priced(events()[3:]))  # the AUDIO row, effective from AT - 3 days
    first["prices"][0][2] = "2026-09-30T12:00:00Z"
    second = orjson.loads(orjson.dumps(first))
    second["prices"][0][2] = "2026-09-30T14:00:00+02:00"
    bad = orjson.loads(orjson.dumps(first))
    bad["prices"][0][4] = "1E+30"
    batch = read_priced([record(orjson.dumps(first), 1), record(orjson.dumps(second), 2), record(orjson.dumps(bad), 3),
                         record(orjson.dumps(first), 4)])
    bodies = [rows_json([e.row for e in batch.events[i:i + 2]]) for i in range(0, 8, 2)]
    assert b'"2026-09-30T12:00:00+00:00"' in bodies[0] and b'"2026-09-30T14:00:00+02:00"' in bodies[1]
    assert bodies[3] == bodies[0]
    assert [e.problem is not None for e in batch.events] == [False, False, False, False, True, True, False, False]
