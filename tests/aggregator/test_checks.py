"""The message-wide checks say "everything fits" only when every event's own check would."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest

from libs.common.limits import AMOUNT_INTEGER_DIGITS, AMOUNT_SCALE, decimal_problem, timestamp_problem
from services.aggregator.checks import _PLAIN_AMOUNT, COST_FIELDS, amounts_fit, amounts_problem, timestamps_fit

TRICKY = ["0", "0.0025", "1E-7", "9.123456789E-9", "7.5E-7", "0E-7", "1E+1", "1E-10", "9.1234567891E-9",
          "1" * 20, "1" * 21, "0." + "1" * 18, "0." + "1" * 19, "1.", ".5", "1..5", "1.5.5", "1,5", "-1", "NaN",
          "١", "1e-7", "1E-07", "12E-7", "", " 1", "0.10000000000000000000", "99999999999999999999.999999999999999999"]


def event(*amounts: str, at: datetime | None = None) -> Any:
    return SimpleNamespace(timestamp=at or datetime(2026, 10, 3, tzinfo=UTC), **dict(zip(COST_FIELDS, amounts,
                                                                                       strict=True)))


def plain(count: int = 1) -> list[Any]:
    return [event(*["0.0025"] * len(COST_FIELDS)) for _ in range(count)]


@pytest.mark.parametrize("text", TRICKY)
def test_a_text_passes_the_quick_check_only_if_it_fits(text: str) -> None:
    events = [*plain(2), event(*[text] * len(COST_FIELDS)), *plain()]
    fits = decimal_problem(text, scale=AMOUNT_SCALE, integer_digits=AMOUNT_INTEGER_DIGITS) is None if text else False
    # the message-wide check (Rust regex) takes exactly the texts the per-field pattern (re) takes
    assert amounts_fit(events) == (_PLAIN_AMOUNT.fullmatch(text) is not None)
    if amounts_fit(events):
        assert fits and "," not in text
    if not fits:
        assert not amounts_fit(events)
        assert amounts_problem(events[2]) is not None


def test_random_messages_agree_with_the_per_event_check() -> None:
    rng = random.Random(11)
    alphabet = "0123456789.,E-+ "
    for _ in range(3_000):
        events = []
        for _ in range(rng.randint(1, 4)):
            texts = [rng.choice(TRICKY) if rng.random() < 0.3 else
                     "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8))) if rng.random() < 0.2 else
                     f"{rng.randint(0, 10**6)}.{rng.randint(0, 10**9)}" for _ in COST_FIELDS]
            events.append(event(*texts))
        every_one_fits = all(amounts_problem(e) is None for e in events)
        if amounts_fit(events):
            assert every_one_fits, [vars(e) for e in events]


def test_most_messages_take_the_quick_path() -> None:
    assert amounts_fit(plain(500))
    assert amounts_fit([event("9E-7", "0.1", "0", "0", "0", *["1"] * (len(COST_FIELDS) - 5))])
    assert amounts_fit([])


def test_an_amount_with_the_joining_comma_in_it_is_not_read_as_two() -> None:
    assert not amounts_fit([event("1,5", *["0"] * (len(COST_FIELDS) - 1))])


@pytest.mark.parametrize("at", [
    datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC),
    datetime(2099, 12, 31, 23, tzinfo=timezone(timedelta(hours=-2))), datetime(2026, 10, 3),
])
def test_one_time_out_of_range_or_naive_sends_the_message_to_the_per_event_check(at: datetime) -> None:
    events = [*plain(3), event(*["0"] * len(COST_FIELDS), at=at)]
    assert timestamp_problem(at) is not None
    assert not timestamps_fit(events)
    assert not timestamps_fit(list(reversed(events)))


def test_times_in_range_with_any_offset_fit() -> None:
    events = [event(*["0"] * len(COST_FIELDS), at=at) for at in (
        datetime(2000, 1, 1, tzinfo=UTC), datetime(2099, 12, 31, 23, 59, tzinfo=UTC),
        datetime(2100, 1, 1, 1, tzinfo=timezone(timedelta(hours=5))))]
    assert all(timestamp_problem(e.timestamp) is None for e in events)
    assert timestamps_fit(events)
    assert timestamps_fit([])
