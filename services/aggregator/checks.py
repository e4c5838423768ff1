"""Checking a priced event against what its ClickHouse columns hold, before writing it.

Ingest and pricing keep every value in bounds (``libs.common.limits``); this is the
aggregator's own check for messages that did not come through them (an older version,
another producer, a replay by hand). An event that fails is dead-lettered with the
reason instead of making ClickHouse refuse, or silently wrap, the whole batch.
"""

from __future__ import annotations

from libs.common.events import UsagePriced
from libs.common.limits import (
    AMOUNT_INTEGER_DIGITS,
    AMOUNT_SCALE,
    PRICE_INTEGER_DIGITS,
    PRICE_SCALE,
    decimal_problem,
    timestamp_problem,
)
from libs.common.schema import COST_COLUMNS, PRICE_COLUMNS
from services.aggregator.rows import PricedRecord

_COST_FIELDS = tuple(name if name != "cost_usd" else "total_usd" for name in COST_COLUMNS)


def _fits(text: object, scale: int, integer_digits: int, fast_length: int) -> str | None:
    """Short plain decimal text cannot overflow; parse only the rest (exponents, long text)."""
    if isinstance(text, str) and len(text) <= fast_length and "E" not in text:
        return None
    return decimal_problem(text, scale=scale, integer_digits=integer_digits)  # type: ignore[arg-type]


def priced_problem(event: PricedRecord | UsagePriced) -> str | None:
    """Why this event cannot be stored as it is, or ``None``."""
    if problem := timestamp_problem(event.timestamp):
        return problem
    price, cost = event.price, event.cost
    if price.effective_from is not None and (problem := timestamp_problem(price.effective_from)):
        return f"price.effective_from: {problem}"
    for name in PRICE_COLUMNS:
        value = getattr(price, name)
        if value is None:  # a unit the row does not price (stored as 0)
            continue
        if problem := _fits(value, PRICE_SCALE, PRICE_INTEGER_DIGITS, PRICE_SCALE + 1):
            return f"price.{name}: {problem}"
    for name in _COST_FIELDS:
        if problem := _fits(getattr(cost, name), AMOUNT_SCALE, AMOUNT_INTEGER_DIGITS, AMOUNT_SCALE + 1):
            return f"cost.{name}: {problem}"
    return None
