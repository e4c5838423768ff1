"""The aggregator's lean read of priced events keeps UsagePriced's contract."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import orjson
import pytest
from pydantic import ValidationError

from libs.common.events import AppliedPrice, CostBreakdown, UsagePriced
from libs.common.kafka import decode_batch, encode_batch
from services.aggregator.rows import (
    AppliedPriceRecord,
    CostRecord,
    PricedRecord,
    priced_row,
    rows_json,
)

AT = datetime(2026, 10, 3, 12, tzinfo=UTC)
PRICE = AppliedPrice(
    source="catalog", price_id="openai/gpt-4o", effective_from=None, input_per_mtok=Decimal("2.5"),
    output_per_mtok=Decimal("1E+1"), cache_read_per_mtok=Decimal("1.25"), cache_write_per_mtok=Decimal("2.5"),
    reasoning_per_mtok=Decimal("0.0000001"),
)
COST = CostBreakdown(input_usd=Decimal("0.0025"), output_usd=Decimal("0E-7"), cache_read_usd=Decimal("0"),
                     cache_write_usd=Decimal("0.0"), reasoning_usd=Decimal("0"), total_usd=Decimal("0.0025"))


def priced() -> UsagePriced:
    return UsagePriced(event_id="e1", client_id="acme", provider="openai", model="gpt-4o", timestamp=AT,
                       received_at=AT, input_tokens=1000, tags={"k": "v"}, price=PRICE, cost=COST, priced_at=AT)


def test_fields_are_those_of_usage_priced() -> None:
    assert set(PricedRecord.model_fields) == set(UsagePriced.model_fields)
    assert set(AppliedPriceRecord.model_fields) == set(AppliedPrice.model_fields)
    assert set(CostRecord.model_fields) == set(CostBreakdown.model_fields)


def test_a_usage_priced_message_reads_to_the_same_row_with_exact_decimal_text() -> None:
    event = priced()
    (record,) = decode_batch(PricedRecord, encode_batch([event]))
    from_record, from_model = priced_row(record), priced_row(event)
    assert rows_json([from_record]) == rows_json([from_model])
    assert record.price.output_per_mtok == "1E+1" and record.price.reasoning_per_mtok == "1E-7"


@pytest.mark.parametrize("bad", ["1,5", "NaN", "Infinity", "", "0x10", "1e5", "--1", "1." ])
def test_an_amount_that_is_not_decimal_text_makes_the_message_poison(bad: str) -> None:
    body = orjson.loads(encode_batch([priced()]))
    body[0]["cost"]["total_usd"] = bad
    with pytest.raises(ValidationError):
        decode_batch(PricedRecord, orjson.dumps(body))


def test_a_negative_price_makes_the_message_poison() -> None:
    body = orjson.loads(encode_batch([priced()]))
    body[0]["price"]["input_per_mtok"] = "-2.5"
    with pytest.raises(ValidationError):
        decode_batch(PricedRecord, orjson.dumps(body))
