"""Bounds on stored values, the transient/permanent split, backoff, bisection and size-aware packing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from libs.common.events import UsageRecorded
from libs.common.failures import Backoff, permanent_reason, write_isolating
from libs.common.kafka import encode_batch, pack
from libs.common.limits import AMOUNT_INTEGER_DIGITS, decimal_problem, timestamp_problem


@pytest.mark.parametrize(("text", "ok"), [
    ("0.0014825", True), ("1.5E-7", True), ("0E-7", True), ("1E+1", True), ("99999999999999999999.5", True),
    ("100000000000000000000", False), ("1E+20", False), ("0.0000000000000000001", False), ("1.5E-19", False),
    ("abc", False), ("NaN", False), ("Infinity", False), ("0.000000000000000000000", True),
])
def test_amounts_must_fit_decimal_38_18(text: str, ok: bool) -> None:
    assert (decimal_problem(text, scale=18, integer_digits=AMOUNT_INTEGER_DIGITS) is None) is ok


@pytest.mark.parametrize(("value", "ok"), [
    (datetime(1999, 12, 31, 23, 59, tzinfo=UTC), False), (datetime(2000, 1, 1, tzinfo=UTC), True),
    (datetime(2099, 12, 31, tzinfo=UTC), True), (datetime(2100, 1, 1, tzinfo=UTC), False),
    (datetime(1, 1, 1, tzinfo=UTC), False), (datetime(2026, 1, 1), False),
])
def test_timestamps_must_be_in_the_stored_range(value: datetime, ok: bool) -> None:
    assert (timestamp_problem(value) is None) is ok


def test_price_bound_is_enforced_on_prices() -> None:
    from pydantic import TypeAdapter, ValidationError

    from libs.common.money import PricePerMTok

    adapter = TypeAdapter(PricePerMTok)
    assert adapter.validate_python("1000000") == Decimal(1_000_000)
    with pytest.raises(ValidationError):
        adapter.validate_python("1000000.000000000001")


@pytest.mark.parametrize(("error", "expected"), [
    (DatabaseError("Code: 252. DB::Exception: Too many partitions for single INSERT block (more than 100)",
                   code=252), "clickhouse:TOO_MANY_PARTS"),
    (DatabaseError("Code: 252. DB::Exception: Too many parts (300). Merges are processing significantly slower",
                   code=252), None),
    (DatabaseError("Code: 69. DB::Exception: Decimal value is too big", code=69), "clickhouse:ARGUMENT_OUT_OF_BOUND"),
    (DatabaseError("Code: 241. DB::Exception: Memory limit exceeded", code=241), None),
    (DatabaseError("Code: 69 but the connection dropped", code=69, name=None), "clickhouse:ARGUMENT_OUT_OF_BOUND"),
    (OperationalError("Network Error: Cannot connect to host"), None),
    (MessageSizeTooLargeError(), "kafka:message_too_large"),
    (KafkaConnectionError(), None),
    (TimeoutError(), None),
    (ValueError("a bug"), None),
])
def test_only_refusals_of_the_data_itself_are_permanent(error: BaseException, expected: str | None) -> None:
    assert permanent_reason(error) == expected


def test_backoff_doubles_up_to_its_cap_and_resets() -> None:
    backoff = Backoff(base_seconds=1, cap_seconds=8)
    delays = [backoff.next_delay(OperationalError("down")) for _ in range(8)]
    ceilings = [1, 2, 4, 8, 8, 8, 8, 8]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert backoff.failures == 8 and backoff.last_error_type == "OperationalError"
    backoff.reset()
    assert backoff.failures == 0 and backoff.next_delay() <= 1


async def test_bisection_isolates_each_refused_item_and_writes_the_rest() -> None:
    written: list[int] = []
    calls = 0

    async def write(items: Sequence[int]) -> None:
        nonlocal calls
        calls += 1
        if any(i % 37 == 5 for i in items):
            raise DatabaseError("Code: 72. DB::Exception: Cannot parse number", code=72)
        written.extend(items)

    refused = await write_isolating(list(range(200)), write)

    assert sorted(r.item for r in refused) == [5, 42, 79, 116, 153, 190]
    assert {r.error_class for r in refused} == {"clickhouse:CANNOT_PARSE_NUMBER"}
    assert sorted(written) == [i for i in range(200) if i % 37 != 5]
    assert calls < 2 * 6 * 8 + 1  # about 2·k·log2(n) writes


async def test_bisection_stops_at_a_transient_failure() -> None:
    async def write(items: Sequence[int]) -> None:
        raise OperationalError("Network Error")

    with pytest.raises(OperationalError):
        await write_isolating([1, 2, 3], write)


def _recorded(i: int, tag_bytes: int = 0) -> UsageRecorded:
    at = datetime(2026, 11, 1, tzinfo=UTC)
    return UsageRecorded(event_id=f"e{i}", client_id="acme", provider="openai", model="gpt-4o", timestamp=at,
                         received_at=at, tags={f"k{n}": "v" * 256 for n in range(tag_bytes // 256)})


def test_pack_splits_by_bytes_as_well_as_by_count() -> None:
    small = [_recorded(i) for i in range(1_200)]
    by_count = pack(small, max_bytes=10**9)
    assert [len(chunk) for _, chunk in by_count.messages] == [500, 500, 200]

    big = [_recorded(i, tag_bytes=8_000) for i in range(300)]  # ~8.5 KB each, ~2.5 MB in all
    by_size = pack(big, max_bytes=64 * 1024)
    assert all(len(body) <= 64 * 1024 for body, _ in by_size.messages)
    assert [e.event_id for _, chunk in by_size.messages for e in chunk] == [e.event_id for e in big]
    assert all(body == encode_batch(chunk) for body, chunk in by_size.messages)
    assert not by_size.oversized


def test_pack_returns_an_event_too_large_alone() -> None:
    events = [_recorded(0), _recorded(1, tag_bytes=8_000), _recorded(2)]
    packed = pack(events, max_bytes=4_096)
    assert [(e.event_id, size > 4_096) for e, size in packed.oversized] == [("e1", True)]
    assert [e.event_id for _, chunk in packed.messages for e in chunk] == ["e0", "e2"]
