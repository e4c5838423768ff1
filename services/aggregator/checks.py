"""Checking a priced event against what its ClickHouse columns hold, before writing it.

Ingest and pricing keep every value in bounds (``libs.common.limits``); this is the
aggregator's own check for messages that did not come through them (an older version,
another producer, a replay by hand). An event that fails is dead-lettered with the
reason instead of making ClickHouse refuse, or silently wrap, the whole batch.

A price row is checked once per message (``price_problem``), not once per event: a
message's thousands of events share a handful of rows.
"""

from __future__ import annotations

import re
from datetime import datetime
from operator import attrgetter
from typing import Any

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

COST_FIELDS = tuple(name if name != "cost_usd" else "total_usd" for name in COST_COLUMNS)
"""The amount attributes of an event's cost (``CostBreakdown``, or a compact event itself)."""


def _fits(text: object, scale: int, integer_digits: int, fast_length: int) -> str | None:
    """Short plain decimal text (digits and at most one point) cannot overflow; parse only the rest."""
    if (isinstance(text, str) and len(text) <= fast_length
            and (text.isdigit() or (text.count(".") == 1 and text.replace(".", "", 1).isdigit()))):
        return None
    return decimal_problem(text, scale=scale, integer_digits=integer_digits)  # type: ignore[arg-type]


def price_problem(price: Any) -> str | None:
    """Why a price row (``AppliedPrice``, ``AppliedPriceRecord`` or a compact ``PriceRow``) cannot be stored."""
    if price.effective_from is not None and (problem := timestamp_problem(price.effective_from)):
        return f"price.effective_from: {problem}"
    for name in PRICE_COLUMNS:
        value = getattr(price, name)
        if value is None:  # a unit the row does not price (stored as 0)
            continue
        if str(value).startswith("-"):
            return f"price.{name}: {value} is negative"
        if problem := _fits(value, PRICE_SCALE, PRICE_INTEGER_DIGITS, PRICE_SCALE + 1):
            return f"price.{name}: {problem}"
    return None


_amounts = attrgetter(*COST_FIELDS)
_PLAIN_AMOUNTS = re.compile(
    rf"(?:[0-9]{{1,{AMOUNT_INTEGER_DIGITS}}}(?:\.[0-9]{{1,{AMOUNT_SCALE}}})?,){{{len(COST_FIELDS)}}}")
"""Exactly ``COST_FIELDS``' amounts, each plain decimal text within the column's digits followed by a comma
(exactly: an amount with a comma in it, ``"1,5"``, would otherwise read as two good ones)."""


def amounts_problem(cost: Any) -> str | None:
    """Why an event's amounts (``cost``: anything with the ``COST_FIELDS`` attributes) cannot be stored.

    The common case, all of them plain text that fits, is one pattern match over the joined
    text; only a message that fails it is looked at field by field, for the reason.
    """
    try:
        joined = ",".join(_amounts(cost))
    except TypeError:  # amounts as Decimal (an event built in Python, not read from a message)
        joined = ""
    if joined and _PLAIN_AMOUNTS.fullmatch(joined + ","):
        return None
    for name in COST_FIELDS:
        if problem := _fits(getattr(cost, name), AMOUNT_SCALE, AMOUNT_INTEGER_DIGITS, AMOUNT_SCALE + 1):
            return f"cost.{name}: {problem}"
    return None


def event_problem(timestamp: datetime, price_problem_text: str | None, cost: Any) -> str | None:
    """Why an event cannot be stored, given its price row's own problem (checked once per row)."""
    return timestamp_problem(timestamp) or price_problem_text or amounts_problem(cost)


def priced_problem(event: PricedRecord | UsagePriced) -> str | None:
    """Why this event cannot be stored as it is, or ``None``."""
    return event_problem(event.timestamp, price_problem(event.price), event.cost)
